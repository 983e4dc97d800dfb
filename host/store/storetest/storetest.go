// Package storetest is the contract every store.Store implementation
// must meet: Run drives one backend through it, so SQLite and PostgreSQL
// are held to exactly the same behaviour, error texts included.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/store"
)

// T0 is the start time the test streams and segments are built around; its
// nanoseconds check that times round-trip at full precision.
var T0 = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)

// Backend is one implementation under test.
type Backend struct {
	// Open returns a new, empty store. Run closes it at the test's cleanup
	// (Close must tolerate a second call).
	Open func(t testing.TB) store.Store
	// QueryRow runs a read-only SQL query against s's database and scans
	// its single row into dest: the contract also covers what the interface
	// cannot show, such as rows left behind by a replaced segment. The
	// queries are portable SQL without parameters.
	QueryRow func(ctx context.Context, s store.Store, query string, dest ...any) error
	// Reopen, when set, closes s and opens its database again, as a
	// restarted host would. Run closes what it returns.
	Reopen func(t testing.TB, s store.Store) store.Store
}

func (be Backend) open(t testing.TB) store.Store {
	t.Helper()
	d := be.Open(t)
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// Run runs the whole contract against be, one subtest per behaviour.
func Run(t *testing.T, be Backend) {
	for _, tc := range []struct {
		name string
		test func(*testing.T, Backend)
	}{
		{"CloseTwice", testCloseTwice},
		{"Streams", testStreams},
		{"NotFound", testNotFound},
		{"PluginRuns", testPluginRuns},
		{"SegmentRoundTrip", testSegmentRoundTrip},
		{"Objects", testObjects},
		{"SegmentOfTwoRuns", testSegmentOfTwoRuns},
		{"SegmentOfReplayedRun", testSegmentOfReplayedRun},
		{"SegmentsSinceLimit", testSegmentsSinceLimit},
		{"SaveSegmentIdempotent", testSaveSegmentIdempotent},
		{"SaveSegmentInvalid", testSaveSegmentInvalid},
		{"SaveSegmentRefusedText", testSaveSegmentRefusedText},
		{"SaveSegmentCanceled", testSaveSegmentCanceled},
		{"HostileText", testHostileText},
		{"ConcurrentSaveAndRead", testConcurrentSaveAndRead},
		{"TelemetryPlacement", testTelemetryPlacement},
		{"TelemetryDuplicates", testTelemetryDuplicates},
		{"TelemetryInvalid", testTelemetryInvalid},
		{"TelemetryQuery", testTelemetryQuery},
		{"TelemetryPurge", testTelemetryPurge},
		{"ArmOutcomes", testArmOutcomes},
		{"Sessions", testSessions},
		{"AnalyticsRoundTrip", testAnalyticsRoundTrip},
		{"Enrichment", testEnrichment},
		{"TelemetryHostileText", testTelemetryHostileText},
		{"ConcurrentTelemetryPlacement", testConcurrentTelemetryPlacement},
		{"Runs", testRuns},
		{"RunsUnaffectedBySaves", testRunsUnaffectedBySaves},
		{"MarkRunLost", testMarkRunLost},
		{"ConcurrentMarkRunLost", testConcurrentMarkRunLost},
		{"Gaps", testGaps},
		{"DesiredStreams", testDesiredStreams},
		{"DesiredStreamsReopened", testDesiredStreamsReopened},
		{"HostileRunsText", testHostileRunsText},
		{"AttachLate", testAttachLate},
		{"AttachLateRefused", testAttachLateRefused},
		{"ConcurrentAttachLate", testConcurrentAttachLate},
		{"Alerts", testAlerts},
		{"StoredRules", testStoredRules},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, be) })
	}
}

// Stream is a started stream with two plugins.
func Stream(id string) model.Stream {
	return model.Stream{
		ID:        id,
		Source:    "file:///media/" + id + ".mp4",
		Health:    model.HealthOK,
		Plugins:   []string{"face", "speech"},
		StartedAt: T0,
	}
}

// Segment builds a segment of stream with nItems items for each of the
// plugins "face" and "speech"; seed varies the values.
func Segment(stream string, index int64, nItems int, seed float64) model.Segment {
	start := time.Duration(index) * 10 * time.Second
	seg := model.Segment{
		StreamID:      stream,
		Index:         index,
		MediaStart:    start,
		MediaEnd:      start + 10*time.Second,
		WallStart:     T0.Add(start),
		WallEnd:       T0.Add(start + 10*time.Second),
		Status:        model.SegmentPartial,
		Reasons:       []string{model.ReasonPluginLag, model.ReasonDropped},
		FramesSeen:    100,
		FramesDropped: 3,
		ClosedAt:      T0.Add(start + 10*time.Second + 250*time.Millisecond),
		CloseLatency:  250 * time.Millisecond,
		Plugins:       map[string]model.PluginSegment{},
	}
	for pi, name := range []string{"face", "speech"} {
		p := model.PluginSegment{
			Plugin:         name,
			Version:        fmt.Sprintf("1.%d.0", pi),
			FramesAnalysed: 97,
			FramesSkipped:  pi,
			FramesGated:    2 * pi,
			Errors:         1,
			Aggregates: map[string]model.Aggregate{
				"au12": {N: nItems, Mean: 0.5 + seed, Std: 0.1, Min: 0, Max: 1, P10: 0.1, P50: 0.5, P90: 0.9},
			},
		}
		for i := range nItems {
			it := model.Item{
				PTS:    start + time.Duration(i)*100*time.Millisecond,
				Fields: map[string]float64{"au12": float64(i)/10 + seed, "au06": -1.5},
			}
			if name == "speech" {
				it.Duration = 100 * time.Millisecond
			}
			if i == 3 {
				it.Error = "no face"
				it.Fields = nil
			}
			p.Items = append(p.Items, it)
		}
		seg.Plugins[name] = p
	}
	return seg
}

// InRun is seg as the store reads it back once saved by run.
func InRun(seg model.Segment, run string) model.Segment {
	seg.RunID = run
	return seg
}

// WithoutItems is seg as Segments returns it.
func WithoutItems(seg model.Segment) model.Segment {
	out := seg
	out.Plugins = map[string]model.PluginSegment{}
	for k, p := range seg.Plugins {
		p.Items = nil
		out.Plugins[k] = p
	}
	return out
}

func MustUpsert(t testing.TB, d store.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := d.UpsertStream(context.Background(), Stream(id)); err != nil {
			t.Fatalf("UpsertStream(%s): %v", id, err)
		}
	}
}

func MustSave(t testing.TB, d store.Store, run string, seg model.Segment) {
	t.Helper()
	if err := d.SaveSegment(context.Background(), run, seg); err != nil {
		t.Fatalf("SaveSegment(%s/%d): %v", seg.StreamID, seg.Index, err)
	}
}

func testCloseTwice(t *testing.T, be Backend) {
	d := be.open(t)
	if err := d.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := d.Streams(context.Background()); err == nil {
		t.Errorf("Streams after Close succeeded")
	}
}

func testStreams(t *testing.T, be Backend) {
	d := be.open(t)
	ctx := context.Background()

	got, err := d.Streams(ctx)
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("Streams on an empty store = %#v, %v; want empty non-nil", got, err)
	}

	b := Stream("cam-b")
	a := Stream("cam-a")
	a.StartedAt = time.Time{} // not started yet: zero time round-trips
	a.Plugins = nil
	a.Health = model.HealthStarting
	for _, s := range []model.Stream{b, a} {
		if err := d.UpsertStream(ctx, s); err != nil {
			t.Fatalf("UpsertStream: %v", err)
		}
	}
	got, err = d.Streams(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []model.Stream{a, b}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Streams =\n%#v\nwant\n%#v", got, want)
	}

	// Upsert replaces every field.
	b2 := b
	b2.Source = "test://smpte"
	b2.Plugins = []string{}
	b2.StartedAt = T0.Add(time.Hour)
	b2.Hint = "restarted"
	if err := d.UpsertStream(ctx, b2); err != nil {
		t.Fatal(err)
	}
	one, err := d.Stream(ctx, "cam-b")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*one, b2) {
		t.Fatalf("Stream after upsert = %#v, want %#v", *one, b2)
	}

	if err := d.SetStreamHealth(ctx, "cam-b", model.HealthDegraded, "plugin face lags"); err != nil {
		t.Fatal(err)
	}
	one, err = d.Stream(ctx, "cam-b")
	if err != nil {
		t.Fatal(err)
	}
	if one.Health != model.HealthDegraded || one.Hint != "plugin face lags" || one.Source != b2.Source {
		t.Fatalf("after SetStreamHealth: %#v", *one)
	}

	if err := d.UpsertStream(ctx, model.Stream{}); err == nil || err.Error() != "upsert stream: empty id" {
		t.Errorf("UpsertStream(empty id) = %v", err)
	}
}

func testNotFound(t *testing.T, be Backend) {
	d := be.open(t)
	ctx := context.Background()
	MustUpsert(t, d, "cam1")
	MustSave(t, d, "run1", Segment("cam1", 0, 2, 0))

	for _, tc := range []struct {
		name string
		call func() error
		want string
	}{
		{"Stream", func() error { _, err := d.Stream(ctx, "nope"); return err }, `stream "nope": not found`},
		{"SetStreamHealth", func() error { return d.SetStreamHealth(ctx, "nope", model.HealthOK, "") }, `set health: stream "nope": not found`},
		{"RecordPluginRun", func() error {
			return d.RecordPluginRun(ctx, model.PluginRun{RunID: "r", StreamID: "nope", Plugin: "face"})
		}, `record plugin run: stream "nope": not found`},
		{"PluginRuns", func() error { _, err := d.PluginRuns(ctx, "nope"); return err }, `plugin runs: stream "nope": not found`},
		{"SaveSegment", func() error { return d.SaveSegment(ctx, "r", Segment("nope", 0, 1, 0)) }, `save segment nope/0: stream "nope": not found`},
		{"Segments", func() error { _, err := d.Segments(ctx, "nope", 0, 10); return err }, `segments: stream "nope": not found`},
		{"Segment unknown stream", func() error { _, err := d.Segment(ctx, "nope", 0, ""); return err }, `segment nope/0: not found`},
		{"Segment unknown index", func() error { _, err := d.Segment(ctx, "cam1", 1, ""); return err }, `segment cam1/1: not found`},
		{"Segment unknown run", func() error { _, err := d.Segment(ctx, "cam1", 0, "run9"); return err }, `segment cam1/0 run run9: not found`},
		{"InsertTelemetry", func() error {
			_, err := d.InsertTelemetry(ctx, []model.TelemetryEvent{Event("nope", "hr", "1", 0)})
			return err
		}, `insert telemetry: stream "nope": not found`},
		{"SaveEnrichment unknown stream", func() error {
			return d.SaveEnrichment(ctx, "nope", 0, "", model.Enrichment{Kind: "stats", Status: "ok"})
		}, `save enrichment nope/0 "stats": segment nope/0: not found`},
		{"SaveEnrichment unknown index", func() error {
			return d.SaveEnrichment(ctx, "cam1", 1, "", model.Enrichment{Kind: "stats", Status: "ok"})
		}, `save enrichment cam1/1 "stats": segment cam1/1: not found`},
		{"SaveEnrichment unknown run", func() error {
			return d.SaveEnrichment(ctx, "cam1", 0, "run9", model.Enrichment{Kind: "stats", Status: "ok"})
		}, `save enrichment cam1/0 "stats": segment cam1/0 run run9: not found`},
		{"StartRun", func() error {
			return d.StartRun(ctx, model.StreamRun{RunID: "r", StreamID: "nope", StartedAt: T0})
		}, `start run: stream "nope": not found`},
		{"EndRun", func() error { return d.EndRun(ctx, "nope", T0, model.ReasonShutdown) }, `end run: run "nope": not found`},
		{"Runs", func() error { _, err := d.Runs(ctx, "nope"); return err }, `runs: stream "nope": not found`},
		{"MarkRunLost", func() error {
			return d.MarkRunLost(ctx, model.Gap{RunID: "nope", WallFrom: T0, Reason: model.ReasonHostRestarted})
		}, `mark run lost: run "nope": not found`},
		{"RecordGap", func() error {
			return d.RecordGap(ctx, model.Gap{StreamID: "nope", WallFrom: T0, Reason: "source_error"})
		}, `record gap: stream "nope": not found`},
		{"Gaps", func() error { _, err := d.Gaps(ctx, "nope"); return err }, `gaps: stream "nope": not found`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("err = %v, want ErrNotFound", err)
			}
			if err.Error() != tc.want {
				t.Fatalf("err = %q, want %q", err, tc.want)
			}
		})
	}
}

func testPluginRuns(t *testing.T, be Backend) {
	d := be.open(t)
	ctx := context.Background()
	MustUpsert(t, d, "cam1", "cam2")

	runs, err := d.PluginRuns(ctx, "cam1")
	if err != nil || runs == nil || len(runs) != 0 {
		t.Fatalf("PluginRuns before any = %#v, %v; want empty non-nil", runs, err)
	}

	r1 := model.PluginRun{RunID: "run1", StreamID: "cam1", Plugin: "face", Version: "1.2.0",
		SHA256: strings.Repeat("ab", 32), Path: "/opt/lsie/plugins/face", Started: T0}
	r2 := r1
	r2.Plugin, r2.Version, r2.SHA256, r2.Started = "speech", "0.3.1", strings.Repeat("cd", 32), T0.Add(time.Second)
	r3 := r1 // same run, upgraded binary: its own row
	r3.Version, r3.SHA256, r3.Started = "1.2.1", strings.Repeat("ef", 32), T0.Add(time.Minute)
	other := r1
	other.StreamID = "cam2"
	for _, r := range []model.PluginRun{r1, r2, r3, other} {
		if err := d.RecordPluginRun(ctx, r); err != nil {
			t.Fatalf("RecordPluginRun: %v", err)
		}
	}
	// Recording the same binary again is a no-op that keeps the first start.
	dup := r1
	dup.Started = T0.Add(time.Hour)
	if err := d.RecordPluginRun(ctx, dup); err != nil {
		t.Fatalf("RecordPluginRun duplicate: %v", err)
	}
	runs, err = d.PluginRuns(ctx, "cam1")
	if err != nil {
		t.Fatal(err)
	}
	if want := []model.PluginRun{r1, r2, r3}; !reflect.DeepEqual(runs, want) {
		t.Fatalf("PluginRuns =\n%#v\nwant\n%#v", runs, want)
	}
	if err := d.RecordPluginRun(ctx, model.PluginRun{StreamID: "cam1", Plugin: "face"}); err == nil ||
		err.Error() != `record plugin run: run id "" and plugin "face" must be set` {
		t.Errorf("RecordPluginRun(no run id) = %v", err)
	}
}

func testSegmentRoundTrip(t *testing.T, be Backend) {
	d := be.open(t)
	ctx := context.Background()
	MustUpsert(t, d, "cam1")

	full := Segment("cam1", 7, 10, 0.25)
	bare := model.Segment{ // no plugins, no reasons, zero times
		StreamID: "cam1", Index: 8, Status: model.SegmentComplete,
		Plugins: map[string]model.PluginSegment{},
	}
	noAggs := Segment("cam1", 9, 0, 0)
	p := noAggs.Plugins["face"]
	p.Aggregates = nil
	p.Plugin = "" // the map key names it
	noAggs.Plugins["face"] = p
	for _, seg := range []model.Segment{full, bare, noAggs} {
		MustSave(t, d, "run1", seg)
	}
	p.Plugin = "face"
	noAggs.Plugins["face"] = p

	full, bare, noAggs = InRun(full, "run1"), InRun(bare, "run1"), InRun(noAggs, "run1")
	for _, want := range []model.Segment{full, bare, noAggs} {
		for _, run := range []string{"", "run1"} {
			got, err := d.Segment(ctx, "cam1", want.Index, run)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("Segment(%d, %q) =\n%#v\nwant\n%#v", want.Index, run, *got, want)
			}
		}
	}
	list, err := d.Segments(ctx, "cam1", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []model.Segment{WithoutItems(full), WithoutItems(bare), WithoutItems(noAggs)}
	if !reflect.DeepEqual(list, want) {
		t.Errorf("Segments =\n%#v\nwant\n%#v", list, want)
	}
}

func testSegmentOfTwoRuns(t *testing.T, be Backend) {
	d := be.open(t)
	ctx := context.Background()
	MustUpsert(t, d, "cam1")
	first := InRun(Segment("cam1", 0, 10, 0), "run1")
	MustSave(t, d, "run1", first)
	MustSave(t, d, "run1", Segment("cam1", 1, 10, 0))

	// A window written again by a later run (a quick restart, a reloaded
	// stream) keeps both: nothing is replaced. seg.RunID is not what
	// names the run.
	again := Segment("cam1", 0, 4, 1)
	delete(again.Plugins, "speech")
	again.Status, again.Reasons = model.SegmentComplete, nil
	again.RunID = "ignored"
	MustSave(t, d, "run2", again)
	again = InRun(again, "run2")

	for _, tc := range []struct {
		run  string
		want model.Segment
	}{{"", again}, {"run2", again}, {"run1", first}} {
		got, err := d.Segment(ctx, "cam1", 0, tc.run)
		if err != nil {
			t.Fatalf("Segment(0, %q): %v", tc.run, err)
		}
		if !reflect.DeepEqual(*got, tc.want) {
			t.Fatalf("Segment(0, %q) =\n%#v\nwant\n%#v", tc.run, *got, tc.want)
		}
	}
	if _, err := d.Segment(ctx, "cam1", 1, "run2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Segment(1, run2) = %v, want ErrNotFound", err)
	}
	// Every run's rows, by index, then as stored; limit counts rows.
	list, err := d.Segments(ctx, "cam1", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []model.Segment{WithoutItems(first), WithoutItems(again), WithoutItems(InRun(Segment("cam1", 1, 10, 0), "run1"))}
	if !reflect.DeepEqual(list, want) {
		t.Fatalf("Segments =\n%#v\nwant\n%#v", list, want)
	}
	if list, err := d.Segments(ctx, "cam1", 0, 2); err != nil || !reflect.DeepEqual(list, want[:2]) {
		t.Fatalf("Segments(limit 2) = %#v, %v; want both runs of index 0", list, err)
	}
	// A run stored after another of a higher run id is still the newest.
	MustSave(t, d, "run0", Segment("cam1", 1, 2, 2))
	if got, err := d.Segment(ctx, "cam1", 1, ""); err != nil || got.RunID != "run0" {
		t.Fatalf("Segment(1, \"\") = %+v, %v; want run0's", got, err)
	}
	for table, want := range map[string]int{
		"segments": 4, "segment_plugins": 2 + 2 + 1 + 2, "segment_items": 20 + 20 + 4 + 4,
	} {
		if n := count(t, be, d, "SELECT count(*) FROM "+table); n != want {
			t.Errorf("%s has %d rows, want %d", table, n, want)
		}
	}
}

// testSegmentOfReplayedRun replays a file source: run2's segment 0 covers
// another wall-clock window than run1's, and each lists only the events
// of its own window.
func testSegmentOfReplayedRun(t *testing.T, be Backend) {
	d := be.open(t)
	ctx := context.Background()
	MustUpsert(t, d, "cam1")
	ev1 := Event("cam1", "hr", "1", time.Second)
	MustInsert(t, d, ev1)
	MustSave(t, d, "run1", Segment("cam1", 0, 1, 0))
	replay := at(Segment("cam1", 0, 1, 0), time.Hour)
	MustSave(t, d, "run2", replay)
	ev2 := Event("cam1", "hr", "2", time.Hour+time.Second)
	if got := MustInsert(t, d, ev2); !reflect.DeepEqual(got, []model.TelemetryPlacement{{Segment: I(0), Late: true}}) {
		t.Fatalf("placement in the replayed window = %+v", got)
	}
	for _, tc := range []struct {
		run  string
		want []model.TelemetryEvent
	}{
		{"run1", []model.TelemetryEvent{Placed(ev1, I(0), false)}},
		{"run2", []model.TelemetryEvent{Placed(ev2, I(0), true)}},
		{"", []model.TelemetryEvent{Placed(ev2, I(0), true)}},
	} {
		seg, err := d.Segment(ctx, "cam1", 0, tc.run)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(seg.Telemetry, tc.want) {
			t.Errorf("Segment(0, %q).Telemetry =\n%+v\nwant\n%+v", tc.run, seg.Telemetry, tc.want)
		}
	}
}

func testSegmentsSinceLimit(t *testing.T, be Backend) {
	d := be.open(t)
	ctx := context.Background()
	MustUpsert(t, d, "cam1", "cam2", "empty")
	for _, i := range []int64{0, 1, 2, 5, 6, 9} {
		MustSave(t, d, "run1", Segment("cam1", i, 2, 0))
	}
	MustSave(t, d, "run1", Segment("cam2", 3, 2, 0))

	for _, tc := range []struct {
		name   string
		stream string
		since  int64
		limit  int
		want   []int64
	}{
		{"all", "cam1", 0, 0, []int64{0, 1, 2, 5, 6, 9}},
		{"negative limit is all", "cam1", 0, -1, []int64{0, 1, 2, 5, 6, 9}},
		{"negative since", "cam1", -5, 2, []int64{0, 1}},
		{"limit", "cam1", 0, 3, []int64{0, 1, 2}},
		{"since in a gap", "cam1", 3, 10, []int64{5, 6, 9}},
		{"since exact", "cam1", 6, 1, []int64{6}},
		{"past the end", "cam1", 10, 10, []int64{}},
		{"other stream", "cam2", 0, 10, []int64{3}},
		{"no segments", "empty", 0, 10, []int64{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			segs, err := d.Segments(ctx, tc.stream, tc.since, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			got := []int64{}
			for _, s := range segs {
				got = append(got, s.Index)
				if s.StreamID != tc.stream || len(s.Plugins) != 2 {
					t.Errorf("segment %d: stream %q, %d plugins", s.Index, s.StreamID, len(s.Plugins))
				}
				for name, p := range s.Plugins {
					if p.Items != nil || p.Aggregates == nil {
						t.Errorf("segment %d plugin %s: items %v, aggregates %v", s.Index, name, p.Items, p.Aggregates)
					}
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("indexes = %v, want %v", got, tc.want)
			}
		})
	}
}

func testSaveSegmentIdempotent(t *testing.T, be Backend) {
	d := be.open(t)
	ctx := context.Background()
	MustUpsert(t, d, "cam1")
	ev := Event("cam1", "hr", "1", time.Second)
	MustInsert(t, d, ev)
	seg := Segment("cam1", 0, 3, 0)
	MustSave(t, d, "run1", seg)
	if err := d.SaveEnrichment(ctx, "cam1", 0, "run1", model.Enrichment{Kind: "stats", Status: "ok", Attempts: 1}); err != nil {
		t.Fatal(err)
	}

	// A retry (the first save's outcome unknown) changes nothing, even
	// with other content: one row, its enrichment and events kept.
	for _, retry := range []model.Segment{seg, Segment("cam1", 0, 5, 1)} {
		if err := d.SaveSegment(ctx, "run1", retry); err != nil {
			t.Fatalf("SaveSegment again = %v, want nil", err)
		}
	}
	got, err := d.Segment(ctx, "cam1", 0, "")
	if err != nil {
		t.Fatal(err)
	}
	want := InRun(seg, "run1")
	want.Telemetry = []model.TelemetryEvent{Placed(ev, I(0), false)}
	want.Enrichment = []model.Enrichment{{Kind: "stats", Status: "ok", Attempts: 1}}
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("after retries: Segment =\n%#v\nwant\n%#v", *got, want)
	}
	for table, want := range map[string]int{
		"segments": 1, "segment_plugins": 2, "segment_items": 6, "segment_enrichment": 1, "telemetry": 1,
	} {
		if n := count(t, be, d, "SELECT count(*) FROM "+table); n != want {
			t.Errorf("%s has %d rows, want %d", table, n, want)
		}
	}
}

func testSaveSegmentInvalid(t *testing.T, be Backend) {
	d := be.open(t)
	ctx := context.Background()
	MustUpsert(t, d, "cam1")
	good := Segment("cam1", 0, 2, 0)
	MustSave(t, d, "run1", good)

	nan := Segment("cam1", 0, 2, 0)
	nan.Plugins["face"].Items[1].Fields["au12"] = math.NaN()
	inf := Segment("cam1", 0, 2, 0)
	p := inf.Plugins["speech"]
	p.Aggregates["au12"] = model.Aggregate{Mean: math.Inf(1)}
	mismatch := Segment("cam1", 0, 2, 0)
	p = mismatch.Plugins["face"]
	p.Plugin = "speech"
	mismatch.Plugins["face"] = p
	badPayload := Segment("cam1", 0, 2, 0)
	badPayload.Plugins["face"].Items[0].Payload = []byte(`{"open": `)
	nanReward := Segment("cam1", 0, 2, 0)
	nanReward.Analytics = &model.SegmentAnalytics{Reward: F(math.NaN())}

	for _, tc := range []struct {
		name string
		run  string
		seg  model.Segment
		want string
	}{
		{"no run id", "", good, `save segment cam1/0: stream id "cam1" and run id "" must be set`},
		{"no stream id", "run2", model.Segment{}, `save segment /0: stream id "" and run id "run2" must be set`},
		{"NaN field", "run2", nan, `save segment cam1/0: plugin "face": item 1 (pts 100ms): fields: json: unsupported value: NaN`},
		{"infinite aggregate", "run2", inf, `save segment cam1/0: plugin "speech": aggregates: json: unsupported value: +Inf`},
		{"key mismatch", "run2", mismatch, `save segment cam1/0: plugin "speech" stored under key "face"`},
		{"payload", "run2", badPayload, `save segment cam1/0: plugin "face": item 0 (pts 0s): payload is not valid JSON`},
		{"NaN reward", "run2", nanReward, `save segment cam1/0: analytics: json: unsupported value: NaN`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := d.SaveSegment(ctx, tc.run, tc.seg)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			// The segment is at fault: a retry would fail again.
			if !errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrNotFound) {
				t.Errorf("err = %v: ErrInvalid %v, ErrNotFound %v; want ErrInvalid only", err,
					errors.Is(err, store.ErrInvalid), errors.Is(err, store.ErrNotFound))
			}
		})
	}
	// An unknown stream is not the segment's fault.
	if err := d.SaveSegment(ctx, "run2", Segment("nope", 0, 1, 0)); !errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
		t.Errorf("unknown stream: %v; want ErrNotFound, not ErrInvalid", err)
	}
	// The stored segment is untouched, and nothing was stored for run2.
	got, err := d.Segment(ctx, "cam1", 0, "")
	if err != nil || !reflect.DeepEqual(*got, InRun(good, "run1")) {
		t.Fatalf("after failed saves: %v, %v", got, err)
	}
	if n := count(t, be, d, `SELECT count(*) FROM segments`); n != 1 {
		t.Errorf("segments has %d rows after failed saves, want 1", n)
	}
}

// testSaveSegmentRefusedText saves text a database may refuse (NUL, which
// PostgreSQL's text and jsonb cannot hold): stored, or refused as invalid,
// never a failure a retry could get past.
func testSaveSegmentRefusedText(t *testing.T, be Backend) {
	d := be.open(t)
	ctx := context.Background()
	MustUpsert(t, d, "cam1")
	for i, mutate := range []func(*model.Segment){
		func(s *model.Segment) { s.Plugins["face"].Items[0].Error = "bad\x00byte" },
		func(s *model.Segment) { s.Plugins["face"].Items[0].Fields["nul\x00key"] = 1 },
		func(s *model.Segment) { s.Reasons = []string{"nul\x00reason"} },
	} {
		seg := Segment("cam1", int64(i), 2, 0)
		mutate(&seg)
		switch err := d.SaveSegment(ctx, "run1", seg); {
		case err == nil:
			t.Logf("case %d: stored", i)
		case errors.Is(err, store.ErrInvalid):
			t.Logf("case %d: refused as invalid: %v", i, err)
		default:
			t.Errorf("case %d: SaveSegment = %v; want nil or ErrInvalid", i, err)
		}
	}
	// The store still works.
	MustSave(t, d, "run1", Segment("cam1", 9, 1, 0))
}

func testSaveSegmentCanceled(t *testing.T, be Backend) {
	d := be.open(t)
	MustUpsert(t, d, "cam1")
	good := Segment("cam1", 0, 2, 0)
	MustSave(t, d, "run1", good)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.SaveSegment(ctx, "run2", Segment("cam1", 0, 5, 1)); !errors.Is(err, context.Canceled) || errors.Is(err, store.ErrInvalid) {
		t.Fatalf("SaveSegment with a canceled context = %v", err)
	}
	got, err := d.Segment(context.Background(), "cam1", 0, "")
	if err != nil || !reflect.DeepEqual(*got, InRun(good, "run1")) {
		t.Fatalf("after canceled save: %v, %v", got, err)
	}
}

func testConcurrentSaveAndRead(t *testing.T, be Backend) {
	d := be.open(t)
	ctx := context.Background()
	MustUpsert(t, d, "cam1", "cam2")

	// Writers w and w+4 save the same (stream, index, run): retries racing
	// the first save. Writers of one stream in other runs overlap on
	// indexes: both runs are kept.
	const writers, perWriter = 6, 15
	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter+64)
	stop := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := []string{"cam1", "cam2"}[w%2]
			for i := range perWriter {
				seg := Segment(stream, int64(i), 5, float64(w))
				if err := d.SaveSegment(ctx, fmt.Sprintf("run%d", (w/2)%2), seg); err != nil {
					errs <- err
				}
			}
		}()
	}
	var readers sync.WaitGroup
	for r := range 3 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				segs, err := d.Segments(ctx, "cam1", 0, 5)
				if err != nil {
					errs <- err
					return
				}
				for _, s := range segs {
					if len(s.Plugins) != 2 {
						errs <- fmt.Errorf("reader %d: segment %d has %d plugins", r, s.Index, len(s.Plugins))
						return
					}
				}
				seg, err := d.Segment(ctx, "cam2", 0, "")
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					errs <- err
					return
				}
				if err == nil && len(seg.Plugins["face"].Items) != 5 {
					errs <- fmt.Errorf("reader %d: torn segment: %d items", r, len(seg.Plugins["face"].Items))
					return
				}
				if _, err := d.Streams(ctx); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, stream := range []string{"cam1", "cam2"} {
		segs, err := d.Segments(ctx, stream, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(segs) != 2*perWriter {
			t.Errorf("%s: %d segments, want %d (two runs)", stream, len(segs), 2*perWriter)
		}
	}
	var items int
	if err := be.QueryRow(ctx, d, `SELECT count(*) FROM segment_items`, &items); err != nil {
		t.Fatal(err)
	}
	if want := 2 * 2 * perWriter * 2 * 5; items != want {
		t.Errorf("segment_items has %d rows, want %d (a retry stored twice?)", items, want)
	}
}

// hostile are strings that would change a query built by concatenation:
// quotes, statement separators, comments, placeholders of both backends,
// backslashes and non-ASCII text. Every one must come back verbatim.
var hostile = []string{
	`x'); DROP TABLE streams; --`,
	`' OR '1'='1`,
	`"; DELETE FROM segments WHERE ''='`,
	`$1 ? ?1 :name @p1 %s %%`,
	`\'\\' E'\x00' /* */ -- end`,
	"tab\tnewline\nretour\r",
	"ünïcödé ✓ 中文 🙂",
	`$$; DROP TABLE segment_items; $$`,
}

// testHostileText stores SQL-looking text in every text field, then checks
// it reads back unchanged and that no table was touched: only parameterised
// queries may reach the database.
func testHostileText(t *testing.T, be Backend) {
	d := be.open(t)
	ctx := context.Background()
	for i, h := range hostile {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			s := model.Stream{ID: h, Source: "file:///" + h, Health: model.HealthDegraded, Hint: h,
				Plugins: []string{h, "face"}, StartedAt: T0}
			if err := d.UpsertStream(ctx, s); err != nil {
				t.Fatalf("UpsertStream: %v", err)
			}
			if err := d.SetStreamHealth(ctx, h, model.HealthDegraded, h+" hint"); err != nil {
				t.Fatalf("SetStreamHealth: %v", err)
			}
			s.Hint = h + " hint"
			got, err := d.Stream(ctx, h)
			if err != nil || !reflect.DeepEqual(*got, s) {
				t.Fatalf("Stream = %#v, %v; want %#v", got, err, s)
			}

			r := model.PluginRun{RunID: h, StreamID: h, Plugin: h, Version: h, SHA256: h, Path: h, Started: T0}
			if err := d.RecordPluginRun(ctx, r); err != nil {
				t.Fatalf("RecordPluginRun: %v", err)
			}
			runs, err := d.PluginRuns(ctx, h)
			if err != nil || !reflect.DeepEqual(runs, []model.PluginRun{r}) {
				t.Fatalf("PluginRuns = %#v, %v", runs, err)
			}

			q, err := json.Marshal(h)
			if err != nil {
				t.Fatal(err)
			}
			// Spacing and key order as the plugin wrote them: kept too.
			payload := json.RawMessage(`{ "z": 1,  "q": ` + string(q) + ` }`)
			seg := Segment(h, 0, 1, 0)
			seg.Reasons = []string{h}
			p := seg.Plugins["face"]
			p.Version, p.Status = h, h
			p.Aggregates = map[string]model.Aggregate{h: {N: 1, Mean: 1}}
			p.Items = append(p.Items, model.Item{PTS: time.Second, Error: h, Topic: h, Text: h,
				Payload: payload, Fields: map[string]float64{h: 1}})
			seg.Plugins["face"] = p
			other := seg.Plugins["speech"]
			delete(seg.Plugins, "speech")
			other.Plugin = h
			seg.Plugins[h] = other
			MustSave(t, d, h, seg)
			seg = InRun(seg, h)
			back, err := d.Segment(ctx, h, 0, h)
			if err != nil || !reflect.DeepEqual(*back, seg) {
				t.Fatalf("Segment =\n%#v, %v\nwant\n%#v", back, err, seg)
			}
		})
	}
	// Every stream is there, and nothing else was written or dropped.
	streams, err := d.Streams(ctx)
	if err != nil {
		t.Fatalf("Streams: %v", err)
	}
	if len(streams) != len(hostile) {
		t.Errorf("Streams lists %d, want %d", len(streams), len(hostile))
	}
	for table, want := range map[string]int{
		"streams": len(hostile), "plugin_runs": len(hostile), "segments": len(hostile),
		"segment_plugins": 2 * len(hostile), "segment_items": 3 * len(hostile),
	} {
		var n int
		if err := be.QueryRow(ctx, d, "SELECT count(*) FROM "+table, &n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		if n != want {
			t.Errorf("%s has %d rows, want %d", table, n, want)
		}
	}
}
