package analytics

import (
	"math"
	"sync"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
)

// series puts value v(k) in the middle of bin k (k seconds before at).
func series(at time.Time, n int, v func(k int) float64) []Sample {
	out := make([]Sample, n)
	for k := range n {
		out[k] = Sample{T: at.Add(-time.Duration(k)*time.Second - 500*time.Millisecond), V: v(k)}
	}
	return out
}

func TestCoModulatePerfect(t *testing.T) {
	at := t0
	a := series(at, 20, func(k int) float64 { return float64(k) })
	for name, c := range map[string]struct {
		b    []Sample
		want float64
	}{
		"positive": {series(at, 20, func(k int) float64 { return 2*float64(k) + 3 }), 1},
		"negative": {series(at, 20, func(k int) float64 { return -0.5 * float64(k) }), -1},
	} {
		m := CoModulate("physio:s", "au:face0.au12", a, c.b, false, false, at, CoModConfig{})
		if m.A != "physio:s" || m.B != "au:face0.au12" || m.Samples != 20 || m.NullReason != "" {
			t.Fatalf("%s: m = %+v", name, m)
		}
		eqPtr(t, name, m.Value, c.want)
	}
}

func TestCoModulateKnownValue(t *testing.T) {
	at := t0
	x := []float64{1, 2, 3, 4, 5}
	y := []float64{2, 4, 5, 4, 5}
	a := series(at, 5, func(k int) float64 { return x[k] })
	b := series(at, 5, func(k int) float64 { return y[k] })
	// mean 3 and 4; Sxy = 6, Sxx = 10, Syy = 6: r = 6/sqrt(60).
	m := CoModulate("a", "b", a, b, false, false, at, CoModConfig{MinSamples: 5})
	eqPtr(t, "r", m.Value, 6/math.Sqrt(60))
	if m.Samples != 5 {
		t.Errorf("samples = %d", m.Samples)
	}
}

func TestCoModulateBinning(t *testing.T) {
	at := t0
	// Series a has two samples in bin 0 (averaged to 2) and one in bins 1
	// and 2; b has bins 0, 1 and 3: only bins 0 and 1 pair up.
	a := []Sample{
		{at, 1}, {at.Add(-999 * time.Millisecond), 3}, // bin 0 (at itself included)
		{at.Add(-1500 * time.Millisecond), 5}, // bin 1
		{at.Add(-2500 * time.Millisecond), 9}, // bin 2, unpaired
		{at.Add(-3 * time.Second), 100},       // bin 3 but no b... a's bin 3
		{at.Add(-120 * time.Second), 7},       // at -Window: excluded
		{at.Add(time.Millisecond), 7},         // after at: excluded
		{at.Add(-4500 * time.Millisecond), math.NaN()},
	}
	b := []Sample{
		{at.Add(-100 * time.Millisecond), 10},
		{at.Add(-1100 * time.Millisecond), 20},
		{at.Add(-3999 * time.Millisecond), 40}, // bin 3: pairs with a's 100
		{at.Add(-120 * time.Second), 0},
		{at.Add(-4500 * time.Millisecond), 1}, // a's value is NaN: unpaired
	}
	m := CoModulate("a", "b", a, b, false, false, at, CoModConfig{MinSamples: 3})
	// Pairs (2,10), (5,20), (100,40).
	x, y := []float64{2, 5, 100}, []float64{10, 20, 40}
	want, _ := pearson(x, y)
	if m.Samples != 3 {
		t.Fatalf("m = %+v", m)
	}
	eqPtr(t, "r", m.Value, want)
	// Hand check of the helper: means 35.667 and 23.333.
	mx, my := 107.0/3, 70.0/3
	var sxy, sxx, syy float64
	for i := range x {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
		syy += (y[i] - my) * (y[i] - my)
	}
	eqPtr(t, "r by hand", m.Value, sxy/math.Sqrt(sxx*syy))
}

func TestCoModulateNullReasons(t *testing.T) {
	at := t0
	lin := series(at, 12, func(k int) float64 { return float64(k) })
	flat := series(at, 12, func(int) float64 { return 0.1 })
	cases := []struct {
		name           string
		a, b           []Sample
		staleA, staleB bool
		reason         string
		samples        int
	}{
		{"stale a", lin, lin, true, false, model.NullStaleSource, 12},
		{"stale b", lin, lin, false, true, model.NullStaleSource, 12},
		{"too few", lin[:9], lin, false, false, model.NullTooFewSamples, 9},
		{"empty", nil, lin, false, false, model.NullTooFewSamples, 0},
		{"zero variance a", flat, lin, false, false, model.NullZeroVariance, 12},
		{"zero variance b", lin, flat, false, false, model.NullZeroVariance, 12},
	}
	for _, c := range cases {
		m := CoModulate("a", "b", c.a, c.b, c.staleA, c.staleB, at, CoModConfig{})
		if m.Value != nil || m.NullReason != c.reason || m.Samples != c.samples {
			t.Errorf("%s: m = %+v", c.name, m)
		}
	}
}

func TestCoModConfigDefaults(t *testing.T) {
	if got := (CoModConfig{}).WithDefaults(); got != (CoModConfig{Window: 2 * time.Minute, Bin: time.Second, MinSamples: 10}) {
		t.Errorf("defaults = %+v", got)
	}
	if got := (CoModConfig{MinSamples: 1}).WithDefaults().MinSamples; got != 2 {
		t.Errorf("min samples floor = %d", got)
	}
}

func TestHeartRateSamples(t *testing.T) {
	hr := 70.0
	bad := -1.0
	evs := []model.TelemetryEvent{
		physio("s", t0.Add(time.Second), nil, 1000, 250, 500),
		physio("s", t0, &hr, 1000), // hr_bpm wins over RR
		physio("s", t0.Add(3*time.Second), &bad, 600),
		{Kind: model.TelemetryStreamEvent, Time: t0},
	}
	got := HeartRateSamples(evs)
	want := []Sample{
		{t0, 70},
		{t0.Add(250 * time.Millisecond), 60}, // 1000 ms ended where 250 began
		{t0.Add(time.Second), 120},
		{t0.Add(3 * time.Second), 100},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if !got[i].T.Equal(want[i].T) || !near(got[i].V, want[i].V, 1e-12) {
			t.Errorf("sample %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestHistory(t *testing.T) {
	h := NewHistory(4)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	h.Add("k", Sample{at(2), 2}, Sample{at(1), 1}, Sample{at(3), 3})
	h.Add("k", Sample{at(0), 0})
	h.Add("k", Sample{at(5), 5}) // over the cap: the oldest (0) goes
	h.Add("other", Sample{at(1), 1})
	if got := h.Range("k", at(-10), at(10)); len(got) != 4 || got[0].V != 1 || got[3].V != 5 {
		t.Errorf("range = %+v", got)
	}
	// (from, to]: 1 excluded, 3 included.
	if got := h.Range("k", at(1), at(3)); len(got) != 2 || got[0].V != 2 || got[1].V != 3 {
		t.Errorf("range (1,3] = %+v", got)
	}
	if got := h.Range("missing", at(0), at(10)); got != nil {
		t.Errorf("missing = %+v", got)
	}
	h.Prune(at(3))
	if h.Len("k") != 2 || h.Len("other") != 0 {
		t.Errorf("after prune: %d %d", h.Len("k"), h.Len("other"))
	}
	if keys := h.Keys(); len(keys) != 1 || keys[0] != "k" {
		t.Errorf("keys = %v", keys)
	}
	// The returned slice is a copy.
	r := h.Range("k", at(0), at(10))
	r[0].V = 99
	if h.Range("k", at(0), at(10))[0].V != 3 {
		t.Error("Range aliases the buffer")
	}
}

func TestHistoryZeroValueAndConcurrency(t *testing.T) {
	var h History
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				h.Add("k", Sample{t0.Add(time.Duration(i*4+g) * time.Millisecond), float64(g)})
				h.Range("k", t0, t0.Add(time.Hour))
			}
		}()
	}
	wg.Wait()
	got := h.Range("k", t0.Add(-time.Second), t0.Add(time.Hour))
	if len(got) != 2000 {
		t.Fatalf("len = %d", len(got))
	}
	for i := 1; i < len(got); i++ {
		if got[i].T.Before(got[i-1].T) {
			t.Fatalf("out of order at %d", i)
		}
	}
}
