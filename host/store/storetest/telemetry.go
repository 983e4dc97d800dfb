package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/store"
)

// F returns a pointer to v, for the optional numbers of the model.
func F(v float64) *float64 { return &v }

// I returns a pointer to v, for a placement's segment index.
func I(v int64) *int64 { return &v }

// Event builds a physiology event of stream at T0+at: its source clock two
// seconds behind, received a second after it, with a payload.
func Event(stream, source, id string, at time.Duration) model.TelemetryEvent {
	return model.TelemetryEvent{
		Source: source, ID: id, Kind: model.TelemetryPhysiology, StreamID: stream,
		Time: T0.Add(at), SourceTime: T0.Add(at - 2*time.Second), ReceivedAt: T0.Add(at + time.Second),
		Subject: "streamer", HeartRate: F(72.5), RR: []float64{812, 830.25},
		Payload: json.RawMessage(`{"battery": 88,  "strap":"h10"}`),
	}
}

// Marker builds a stimulus marker of experiment at T0+at.
func Marker(stream, id, experiment, arm string, at time.Duration) model.TelemetryEvent {
	return model.TelemetryEvent{
		Source: "obs", ID: id, Kind: model.TelemetryStimulus, StreamID: stream,
		Time: T0.Add(at), SourceTime: T0.Add(at), ReceivedAt: T0.Add(at),
		Experiment: experiment, Arm: arm,
	}
}

// Placed is ev as stored once placed in segment index (nil: unplaced).
func Placed(ev model.TelemetryEvent, index *int64, late bool) model.TelemetryEvent {
	ev.Segment, ev.Late = index, late
	return ev
}

// MustInsert inserts evs and returns their placements.
func MustInsert(t testing.TB, d store.Store, evs ...model.TelemetryEvent) []model.TelemetryPlacement {
	t.Helper()
	p, err := d.InsertTelemetry(context.Background(), evs)
	if err != nil {
		t.Fatalf("InsertTelemetry: %v", err)
	}
	return p
}

func count(t testing.TB, be Backend, d store.Store, query string) int {
	t.Helper()
	var n int
	if err := be.QueryRow(context.Background(), d, query, &n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func segmentTelemetry(t testing.TB, d store.Store, stream string, index int64) []model.TelemetryEvent {
	t.Helper()
	seg, err := d.Segment(context.Background(), stream, index, "")
	if err != nil {
		t.Fatalf("Segment(%s/%d): %v", stream, index, err)
	}
	return seg.Telemetry
}

func testTelemetryPlacement(t *testing.T, be Backend) {
	d := be.open(t)
	ctx := context.Background()
	MustUpsert(t, d, "cam1", "cam2")
	MustSave(t, d, "run1", Segment("cam1", 1, 1, 0)) // [T0+10s, T0+20s)

	before := Event("cam1", "hr", "1", 5*time.Second) // segment 0: not closed yet
	in := Event("cam1", "hr", "2", 15*time.Second)
	atStart := Event("cam1", "hr", "3", 10*time.Second) // WallStart is inside
	atEnd := Event("cam1", "hr", "4", 20*time.Second)   // WallEnd is not
	other := Event("cam2", "hr", "5", 15*time.Second)   // cam2 has no segment 1
	got := MustInsert(t, d, before, in, atStart, atEnd, other)
	want := []model.TelemetryPlacement{
		{}, {Segment: I(1), Late: true}, {Segment: I(1), Late: true}, {}, {},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("placements = %+v, want %+v", got, want)
	}

	// Closing segments 0 and 2 attaches what waited for them, not late.
	MustSave(t, d, "run1", Segment("cam1", 0, 1, 0))
	MustSave(t, d, "run1", Segment("cam1", 2, 1, 0))
	for _, tc := range []struct {
		index int64
		want  []model.TelemetryEvent
	}{
		{0, []model.TelemetryEvent{Placed(before, I(0), false)}},
		{1, []model.TelemetryEvent{Placed(atStart, I(1), true), Placed(in, I(1), true)}},
		{2, []model.TelemetryEvent{Placed(atEnd, I(2), false)}},
	} {
		if got := segmentTelemetry(t, d, "cam1", tc.index); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Segment(cam1/%d).Telemetry =\n%+v\nwant\n%+v", tc.index, got, tc.want)
		}
	}
	all, err := d.Telemetry(ctx, model.TelemetryQuery{StreamID: "cam2"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []model.TelemetryEvent{other}; !reflect.DeepEqual(all, want) {
		t.Errorf("cam2 telemetry = %+v, want %+v (unplaced)", all, want)
	}

	// A later run's segment 1 of the same window lists the same events,
	// late as they were; run1's still does.
	again := Segment("cam1", 1, 2, 1)
	MustSave(t, d, "run2", again)
	wantLate := []model.TelemetryEvent{Placed(atStart, I(1), true), Placed(in, I(1), true)}
	if got := segmentTelemetry(t, d, "cam1", 1); !reflect.DeepEqual(got, wantLate) {
		t.Errorf("run2's segment's telemetry =\n%+v\nwant\n%+v", got, wantLate)
	}
	if seg, err := d.Segment(ctx, "cam1", 1, "run1"); err != nil || !reflect.DeepEqual(seg.Telemetry, wantLate) {
		t.Errorf("run1's segment's telemetry = %+v, %v\nwant\n%+v", seg, err, wantLate)
	}
	if n := count(t, be, d, `SELECT count(*) FROM telemetry`); n != 5 {
		t.Errorf("telemetry has %d rows, want 5", n)
	}
	segs, err := d.Segments(ctx, "cam1", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range segs {
		if s.Telemetry != nil || s.Enrichment != nil {
			t.Errorf("Segments lists segment %d with telemetry %v, enrichment %v", s.Index, s.Telemetry, s.Enrichment)
		}
	}
}

func testTelemetryDuplicates(t *testing.T, be Backend) {
	d := be.open(t)
	ctx := context.Background()
	MustUpsert(t, d, "cam1")
	MustSave(t, d, "run1", Segment("cam1", 0, 1, 0))

	a := Event("cam1", "hr", "a", time.Second) // late, in segment 0
	b := Event("cam1", "hr", "b", time.Minute) // unplaced
	if got, want := MustInsert(t, d, a, b), []model.TelemetryPlacement{{Segment: I(0), Late: true}, {}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("first batch = %+v, want %+v", got, want)
	}

	// The same (source, id) with other values changes nothing, in a later
	// batch or twice in one; a duplicate reports the stored placement.
	a2 := a
	a2.Time, a2.Payload, a2.Subject = T0.Add(time.Hour), json.RawMessage(`{"other": true}`), "guest"
	c := Event("cam1", "hr", "c", 2*time.Second)
	c2 := c
	c2.Time = T0.Add(time.Minute)
	b2 := b
	b2.Time = T0.Add(3 * time.Second) // would be in segment 0
	otherSource := Event("cam1", "strap", "a", 3*time.Second)
	got := MustInsert(t, d, a2, c, c2, b2, otherSource)
	want := []model.TelemetryPlacement{
		{Duplicate: true, Segment: I(0), Late: true},
		{Segment: I(0), Late: true},
		{Duplicate: true, Segment: I(0), Late: true},
		{Duplicate: true},
		{Segment: I(0), Late: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("second batch = %+v, want %+v", got, want)
	}
	all, err := d.Telemetry(ctx, model.TelemetryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	wantAll := []model.TelemetryEvent{
		Placed(a, I(0), true), Placed(c, I(0), true), Placed(otherSource, I(0), true), b,
	}
	if !reflect.DeepEqual(all, wantAll) {
		t.Fatalf("Telemetry =\n%+v\nwant\n%+v", all, wantAll)
	}

	if got, err := d.InsertTelemetry(ctx, nil); err != nil || got == nil || len(got) != 0 {
		t.Errorf("InsertTelemetry(nil) = %#v, %v; want empty non-nil", got, err)
	}
}

func testTelemetryInvalid(t *testing.T, be Backend) {
	d := be.open(t)
	ctx := context.Background()
	MustUpsert(t, d, "cam1")
	good := Event("cam1", "hr", "1", time.Second)
	noID := good
	noID.ID = ""
	badPayload := Event("cam1", "hr", "2", time.Second)
	badPayload.Payload = json.RawMessage(`{"open": `)
	nanHR := Event("cam1", "hr", "3", time.Second)
	nanHR.HeartRate = F(math.NaN())
	for _, tc := range []struct {
		name string
		evs  []model.TelemetryEvent
		want string
	}{
		{"unknown stream", []model.TelemetryEvent{good, Event("zzz", "hr", "9", 0), Event("aaa", "hr", "8", 0)},
			`insert telemetry: stream "aaa": not found`},
		{"no id", []model.TelemetryEvent{good, noID}, `insert telemetry: event 1: source "hr", id "" and stream id "cam1" must be set`},
		{"payload", []model.TelemetryEvent{good, badPayload}, `insert telemetry: event hr/2: payload is not valid JSON`},
		{"heart rate", []model.TelemetryEvent{good, nanHR}, `insert telemetry: event hr/3: heart rate NaN is not a finite number`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := d.InsertTelemetry(ctx, tc.evs)
			if err == nil || err.Error() != tc.want || got != nil {
				t.Fatalf("InsertTelemetry = %v, %v; want nil, %q", got, err, tc.want)
			}
			if tc.name == "unknown stream" && !errors.Is(err, store.ErrNotFound) {
				t.Errorf("err = %v, want ErrNotFound", err)
			}
		})
	}
	// Nothing of any failed batch is stored, its valid events included.
	if n := count(t, be, d, `SELECT count(*) FROM telemetry`); n != 0 {
		t.Errorf("telemetry has %d rows after failed batches, want 0", n)
	}
}

func testTelemetryPurge(t *testing.T, be Backend) {
	d := be.open(t)
	ctx := context.Background()
	MustUpsert(t, d, "cam1")
	MustSave(t, d, "run1", Segment("cam1", 0, 1, 0))

	old1 := Event("cam1", "hr", "1", time.Second) // received T0+2s
	old2 := Event("cam1", "hr", "2", 2*time.Second)
	bare := Event("cam1", "hr", "3", 3*time.Second) // no payload: nothing to purge
	bare.Payload = nil
	fresh := Event("cam1", "hr", "4", 10*time.Second) // received T0+11s
	MustInsert(t, d, old1, old2, bare, fresh)

	cutoff := T0.Add(11 * time.Second) // received_at < cutoff: fresh is kept
	n, err := d.PurgeTelemetryPayloads(ctx, cutoff)
	if err != nil || n != 2 {
		t.Fatalf("PurgeTelemetryPayloads = %d, %v; want 2", n, err)
	}
	purged := func(ev model.TelemetryEvent) model.TelemetryEvent {
		ev.Payload, ev.PayloadPurged = nil, true
		return ev
	}
	want := []model.TelemetryEvent{
		Placed(purged(old1), I(0), true), Placed(purged(old2), I(0), true), Placed(bare, I(0), true), fresh,
	}
	got, err := d.Telemetry(ctx, model.TelemetryQuery{})
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("after purge: %v\n%+v\nwant\n%+v", err, got, want)
	}
	if n, err := d.PurgeTelemetryPayloads(ctx, cutoff); err != nil || n != 0 {
		t.Errorf("second purge = %d, %v; want 0", n, err)
	}
	// The segment still lists its events, payloads gone.
	if got := segmentTelemetry(t, d, "cam1", 0); !reflect.DeepEqual(got, want[:3]) {
		t.Errorf("segment telemetry after purge =\n%+v\nwant\n%+v", got, want[:3])
	}
}
