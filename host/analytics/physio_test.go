package analytics

import (
	"math"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func physio(subject string, at time.Time, hr *float64, rr ...float64) model.TelemetryEvent {
	return model.TelemetryEvent{Kind: model.TelemetryPhysiology, Subject: subject, Time: at, HeartRate: hr, RR: rr}
}

func TestPhysiologyRMSSDHandComputed(t *testing.T) {
	at := t0
	evs := []model.TelemetryEvent{
		// Outside the window: ends 70 s before at.
		physio("streamer", at.Add(-70*time.Second), nil, 1000),
		physio("streamer", at.Add(-5*time.Second), nil, 800, 810, 790, 800, 820, 815),
		physio("streamer", at.Add(-time.Second), nil, 805, 800, 810, 795, 800),
		// Other subjects, other kinds and the future do not count.
		physio("guest", at.Add(-time.Second), nil, 500, 900, 500, 900),
		{Kind: model.TelemetryStimulus, Subject: "streamer", Time: at, RR: []float64{400, 900}},
		physio("streamer", at.Add(time.Second), nil, 500, 900, 500),
	}
	p := Physiology("streamer", evs, at, PhysioConfig{})
	// Differences 10 -20 10 20 -5 -10 -5 10 -15 5: squares sum to 1500 over 10.
	if p.State != model.PhysioFresh || p.Intervals != 11 || p.Subject != "streamer" {
		t.Fatalf("p = %+v", p)
	}
	eqPtr(t, "rmssd", p.RMSSD, math.Sqrt(150))
	eqPtr(t, "hr", p.HeartRate, 660000.0/8845)
	if p.LastAt == nil || !p.LastAt.Equal(at.Add(-time.Second)) {
		t.Errorf("last_at = %v", p.LastAt)
	}
	eqPtr(t, "age", p.AgeSeconds, 1.0)
}

func TestPhysiologyWindowReconstructsIntervalTimes(t *testing.T) {
	at := t0
	// The event at -59.5 s carries two 700 ms intervals: the first ended at
	// -60.2 s, outside the 60 s window; the second inside it.
	evs := []model.TelemetryEvent{
		physio("s", at.Add(-59500*time.Millisecond), nil, 700, 700),
		physio("s", at.Add(-2*time.Second), nil, 700, 710),
	}
	p := Physiology("s", evs, at, PhysioConfig{MinIntervals: 2})
	if p.Intervals != 3 || p.State != model.PhysioFresh {
		t.Fatalf("p = %+v", p)
	}
	// Differences 0 and 10.
	eqPtr(t, "rmssd", p.RMSSD, math.Sqrt(50))
}

func TestPhysiologyArtefacts(t *testing.T) {
	at := t0
	evs := []model.TelemetryEvent{physio("s", at, nil,
		800, 810, 250, 800, 1000, 990, 2100, 1000, 1010, 1005, 1000, 995)}
	p := Physiology("s", evs, at, PhysioConfig{})
	// 250 and 2100 are out of range (10 usable of 12); 800→1000 jumps 25 %.
	// Accepted differences: 10, -10, 10, -5, -5, -5: squares 375 over 6.
	if p.State != model.PhysioFresh || p.Intervals != 12 {
		t.Fatalf("p = %+v", p)
	}
	eqPtr(t, "rmssd", p.RMSSD, math.Sqrt(62.5))
	eqPtr(t, "hr", p.HeartRate, 60000.0/941)

	// One more artefact leaves 9 usable intervals: too few.
	evs = []model.TelemetryEvent{physio("s", at, nil,
		800, 810, 250, 800, 1000, 990, 2100, 1000, 1010, 1005, 1000, 100)}
	p = Physiology("s", evs, at, PhysioConfig{})
	if p.State != model.PhysioNoRMSSD || p.RMSSD != nil || p.Intervals != 12 {
		t.Errorf("p = %+v", p)
	}
}

func TestPhysiologyStates(t *testing.T) {
	at := t0
	hr := 72.0
	rr := []float64{800, 810, 790, 800, 820, 815, 805, 800, 810, 795}
	cases := []struct {
		name  string
		evs   []model.TelemetryEvent
		state model.PhysiologyState
		rmssd bool
		hr    any
		last  bool
	}{
		{"none", nil, model.PhysioAbsent, false, nil, false},
		{"other subject", []model.TelemetryEvent{physio("x", at, &hr)}, model.PhysioAbsent, false, nil, false},
		{"absent", []model.TelemetryEvent{physio("s", at.Add(-61*time.Second), &hr, rr...)}, model.PhysioAbsent, false, nil, true},
		{"stale", []model.TelemetryEvent{physio("s", at.Add(-11*time.Second), &hr, rr...)}, model.PhysioStale, false, 72.0, true},
		{"stale boundary is fresh", []model.TelemetryEvent{physio("s", at.Add(-10*time.Second), nil, rr...)}, model.PhysioFresh, true, 60000 * 10 / 8045.0, true},
		{"hr only", []model.TelemetryEvent{physio("s", at.Add(-time.Second), &hr)}, model.PhysioNoRMSSD, false, 72.0, true},
		{"fresh", []model.TelemetryEvent{physio("s", at, &hr, rr...)}, model.PhysioFresh, true, 72.0, true},
	}
	for _, c := range cases {
		p := Physiology("s", c.evs, at, PhysioConfig{})
		if p.State != c.state || (p.RMSSD != nil) != c.rmssd || (p.LastAt != nil) != c.last || (p.AgeSeconds != nil) != c.last {
			t.Errorf("%s: p = %+v", c.name, p)
		}
		eqPtr(t, c.name+" hr", p.HeartRate, c.hr)
	}
}

func TestPhysiologyConfigDefaults(t *testing.T) {
	got := PhysioConfig{}.WithDefaults()
	want := PhysioConfig{Window: time.Minute, StaleAfter: 10 * time.Second, AbsentAfter: time.Minute, MinIntervals: 10}
	if got != want {
		t.Errorf("defaults = %+v", got)
	}
}
