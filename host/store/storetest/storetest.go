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
		{"SegmentReplacedByLaterRun", testSegmentReplacedByLaterRun},
		{"SegmentsSinceLimit", testSegmentsSinceLimit},
		{"SaveSegmentInvalid", testSaveSegmentInvalid},
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
		{"Segment unknown stream", func() error { _, err := d.Segment(ctx, "nope", 0); return err }, `segment nope/0: not found`},
		{"Segment unknown index", func() error { _, err := d.Segment(ctx, "cam1", 1); return err }, `segment cam1/1: not found`},
		{"InsertTelemetry", func() error {
			_, err := d.InsertTelemetry(ctx, []model.TelemetryEvent{Event("nope", "hr", "1", 0)})
			return err
		}, `insert telemetry: stream "nope": not found`},
		{"SaveEnrichment unknown stream", func() error {
			return d.SaveEnrichment(ctx, "nope", 0, model.Enrichment{Kind: "stats", Status: "ok"})
		}, `save enrichment nope/0 "stats": segment nope/0: not found`},
		{"SaveEnrichment unknown index", func() error {
			return d.SaveEnrichment(ctx, "cam1", 1, model.Enrichment{Kind: "stats", Status: "ok"})
		}, `save enrichment cam1/1 "stats": segment cam1/1: not found`},
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

	for _, want := range []model.Segment{full, bare, noAggs} {
		got, err := d.Segment(ctx, "cam1", want.Index)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("Segment(%d) =\n%#v\nwant\n%#v", want.Index, *got, want)
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

func testSegmentReplacedByLaterRun(t *testing.T, be Backend) {
	d := be.open(t)
	ctx := context.Background()
	MustUpsert(t, d, "cam1")
	MustSave(t, d, "run1", Segment("cam1", 0, 10, 0))
	MustSave(t, d, "run1", Segment("cam1", 1, 10, 0))

	// A file source replayed by run2 starts again at index 0.
	again := Segment("cam1", 0, 4, 1)
	delete(again.Plugins, "speech")
	again.Status, again.Reasons = model.SegmentComplete, nil
	MustSave(t, d, "run2", again)

	got, err := d.Segment(ctx, "cam1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*got, again) {
		t.Fatalf("replaced segment =\n%#v\nwant\n%#v", *got, again)
	}
	// Nothing of the earlier row is left behind.
	for table, want := range map[string]int{
		"segments": 2, "segment_plugins": 1 + 2, "segment_items": 4 + 20,
	} {
		var n int
		if err := be.QueryRow(ctx, d, "SELECT count(*) FROM "+table, &n); err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Errorf("%s has %d rows, want %d", table, n, want)
		}
	}
	var run string
	if err := be.QueryRow(ctx, d, `SELECT run_id FROM segments WHERE idx = 0`, &run); err != nil || run != "run2" {
		t.Errorf("run_id of segment 0 = %q, %v; want run2", run, err)
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
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := d.SaveSegment(ctx, tc.run, tc.seg)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	// The stored segment is untouched.
	got, err := d.Segment(ctx, "cam1", 0)
	if err != nil || !reflect.DeepEqual(*got, good) {
		t.Fatalf("after failed saves: %v, %v", got, err)
	}
}

func testSaveSegmentCanceled(t *testing.T, be Backend) {
	d := be.open(t)
	MustUpsert(t, d, "cam1")
	good := Segment("cam1", 0, 2, 0)
	MustSave(t, d, "run1", good)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.SaveSegment(ctx, "run2", Segment("cam1", 0, 5, 1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("SaveSegment with a canceled context = %v", err)
	}
	got, err := d.Segment(context.Background(), "cam1", 0)
	if err != nil || !reflect.DeepEqual(*got, good) {
		t.Fatalf("after canceled save: %v, %v", got, err)
	}
}

func testConcurrentSaveAndRead(t *testing.T, be Backend) {
	d := be.open(t)
	ctx := context.Background()
	MustUpsert(t, d, "cam1", "cam2")

	const writers, perWriter = 4, 15
	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter+64)
	stop := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := []string{"cam1", "cam2"}[w%2]
			for i := range perWriter {
				// Writers on the same stream overlap on indexes: replacements race.
				seg := Segment(stream, int64(i), 5, float64(w))
				if err := d.SaveSegment(ctx, fmt.Sprintf("run%d", w), seg); err != nil {
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
				seg, err := d.Segment(ctx, "cam2", 0)
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
		if len(segs) != perWriter {
			t.Errorf("%s: %d segments, want %d", stream, len(segs), perWriter)
		}
	}
	var items int
	if err := be.QueryRow(ctx, d, `SELECT count(*) FROM segment_items`, &items); err != nil {
		t.Fatal(err)
	}
	if want := 2 * perWriter * 2 * 5; items != want {
		t.Errorf("segment_items has %d rows, want %d (orphans from replacements?)", items, want)
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
			back, err := d.Segment(ctx, h, 0)
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
