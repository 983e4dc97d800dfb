package segment

import (
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type sink struct {
	mu   sync.Mutex
	segs []model.Segment
}

func (s *sink) emit(seg model.Segment) { s.mu.Lock(); s.segs = append(s.segs, seg); s.mu.Unlock() }

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func newAsm(t *testing.T, utc, live bool) (*Assembler, *sink, *clock) {
	t.Helper()
	c := &clock{t: t0}
	s := &sink{}
	a := New(Config{StreamID: "s", Duration: time.Second, MaxCloseDelay: 2 * time.Second,
		Plugins: []PluginInfo{{Name: "p", Version: "1.0.0"}}, UTCGrid: utc, Live: live, Now: c.Now}, s.emit)
	return a, s, c
}

const period = 200 * time.Millisecond

func feed(a *Assembler, from, to time.Duration, ack bool) {
	for pts := from; pts < to; pts += period {
		a.Frame(pts)
		a.Assigned("p", pts)
		if ack {
			a.Result("p", model.Item{PTS: pts, Fields: map[string]float64{"v": float64(pts / period)}})
		}
		a.Progress(pts + period)
	}
}

func TestCompleteSegmentsInOrder(t *testing.T) {
	a, s, _ := newAsm(t, false, false)
	a.Start(t0)
	feed(a, 0, 3*time.Second, true)
	a.Finish(3*time.Second, model.ReasonEndOfStream)
	if len(s.segs) != 3 {
		t.Fatalf("got %d segments, want 3", len(s.segs))
	}
	for i, seg := range s.segs {
		if seg.Index != int64(i) || seg.Status != model.SegmentComplete || seg.FramesSeen != 5 {
			t.Errorf("segment %d: index %d status %s frames %d reasons %v", i, seg.Index, seg.Status, seg.FramesSeen, seg.Reasons)
		}
		p := seg.Plugins["p"]
		if p.FramesAnalysed != 5 || len(p.Items) != 5 || p.Aggregates["v"].N != 5 {
			t.Errorf("segment %d plugin: %+v", i, p)
		}
		if want := float64(5*i + 2); p.Aggregates["v"].Mean != want {
			t.Errorf("segment %d mean %v, want %v", i, p.Aggregates["v"].Mean, want)
		}
		if seg.MediaStart != time.Duration(i)*time.Second || !seg.WallStart.Equal(t0.Add(seg.MediaStart)) {
			t.Errorf("segment %d bounds %v %v", i, seg.MediaStart, seg.WallStart)
		}
	}
}

func TestWaitsForPluginProgress(t *testing.T) {
	a, s, _ := newAsm(t, false, false)
	a.Start(t0)
	feed(a, 0, time.Second, false) // assigned, no results yet
	a.Progress(1200 * time.Millisecond)
	if len(s.segs) != 0 {
		t.Fatalf("segment closed while the plugin still owed 5 results")
	}
	for pts := time.Duration(0); pts < time.Second; pts += period {
		a.Result("p", model.Item{PTS: pts, Fields: map[string]float64{"v": 1}})
	}
	if len(s.segs) != 1 || s.segs[0].Status != model.SegmentComplete {
		t.Fatalf("got %+v", s.segs)
	}
}

func TestSkippedFramesSettle(t *testing.T) {
	a, s, _ := newAsm(t, false, false)
	a.Start(t0)
	a.Frame(0)
	a.Assigned("p", 0)
	a.Skipped("p", 0)
	a.Progress(time.Second)
	if len(s.segs) != 1 || s.segs[0].Plugins["p"].FramesSkipped != 1 {
		t.Fatalf("got %+v", s.segs)
	}
}

// A live stream closes a segment max_close_delay after capture passed its
// end, as plugin_lag, whatever its plugins still owe.
func TestMaxCloseDelayPluginLag(t *testing.T) {
	a, s, c := newAsm(t, false, true)
	a.Start(t0)
	feed(a, 0, time.Second, false)
	c.Advance(1999 * time.Millisecond)
	a.Tick()
	if len(s.segs) != 0 {
		t.Fatal("closed before max_close_delay")
	}
	c.Advance(time.Millisecond)
	a.Tick()
	if len(s.segs) != 1 || s.segs[0].Status != model.SegmentPartial || !slices.Equal(s.segs[0].Reasons, []string{model.ReasonPluginLag}) {
		t.Fatalf("got %+v", s.segs)
	}
	if s.segs[0].CloseLatency != 2*time.Second {
		t.Errorf("close latency %v", s.segs[0].CloseLatency)
	}
	// The late result is counted, not lost silently.
	a.Result("p", model.Item{PTS: 0})
	if a.Counters().LateResults != 1 {
		t.Fatalf("late results %d", a.Counters().LateResults)
	}
}

func TestFinishMidWindow(t *testing.T) {
	a, s, _ := newAsm(t, false, false)
	a.Start(t0)
	feed(a, 0, 2400*time.Millisecond, true)
	a.Finish(2400*time.Millisecond, model.ReasonEndOfStream)
	if len(s.segs) != 3 {
		t.Fatalf("got %d segments", len(s.segs))
	}
	last := s.segs[2]
	if last.Status != model.SegmentPartial || !slices.Equal(last.Reasons, []string{model.ReasonEndOfStream}) || last.FramesSeen != 2 {
		t.Fatalf("last segment %+v", last)
	}
	a.Finish(5*time.Second, model.ReasonEndOfStream) // idempotent
	if len(s.segs) != 3 {
		t.Fatal("second Finish emitted more")
	}
}

func TestEmptyStream(t *testing.T) {
	a, s, _ := newAsm(t, false, false)
	a.Start(t0)
	a.Finish(0, model.ReasonEndOfStream)
	if len(s.segs) != 0 {
		t.Fatalf("got %d segments for an empty stream", len(s.segs))
	}
}

func TestUTCGridAndSourceStall(t *testing.T) {
	a, s, c := newAsm(t, true, true)
	anchor := t0.Add(500 * time.Millisecond)
	a.Start(anchor)
	first := t0.Unix()
	start, end := a.Bounds(first)
	if start != -500*time.Millisecond || end != 500*time.Millisecond {
		t.Fatalf("bounds %v %v", start, end)
	}
	feed(a, 0, 500*time.Millisecond, true)
	if len(s.segs) != 1 || s.segs[0].Index != first || !slices.Equal(s.segs[0].Reasons, []string{ReasonStartOfStream}) {
		t.Fatalf("first segment %+v", s.segs)
	}
	if !s.segs[0].WallStart.Equal(t0) {
		t.Errorf("wall start %v, want %v", s.segs[0].WallStart, t0)
	}
	// The source stops: nothing arrives for window first+1 (wall 12:00:01–02).
	c.t = t0.Add(2*time.Second + 2*time.Second)
	a.Tick()
	if len(s.segs) != 2 || !slices.Equal(s.segs[1].Reasons, []string{model.ReasonSourceStall}) {
		t.Fatalf("stall: %+v", s.segs)
	}
}

func TestPercentile(t *testing.T) {
	v := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tc := range []struct{ p, want float64 }{{0, 1}, {0.5, 5.5}, {0.9, 9.1}, {1, 10}} {
		if got := Percentile(v, tc.p); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("p%v = %v, want %v", tc.p, got, tc.want)
		}
	}
	agg := Aggregate([]model.Item{{Fields: map[string]float64{"x": 2}}, {Fields: map[string]float64{"x": 4}}, {Error: "bad", Fields: map[string]float64{"x": 100}}})
	if a := agg["x"]; a.N != 2 || a.Mean != 3 || a.Std != 1 || a.Min != 2 || a.Max != 4 {
		t.Fatalf("aggregate %+v", a)
	}
}

// Concurrent results from plugin readers and progress from capture must
// never lose a frame or close a segment out of order.
func TestConcurrentProgress(t *testing.T) {
	a, s, _ := newAsm(t, false, false)
	a.Start(t0)
	const frames = 2000
	results := make(chan time.Duration, frames)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for pts := range results {
				a.Result("p", model.Item{PTS: pts, Fields: map[string]float64{"v": 1}})
			}
		}()
	}
	for i := 0; i < frames; i++ {
		pts := time.Duration(i) * period
		a.Frame(pts)
		a.Assigned("p", pts)
		results <- pts
		a.Progress(pts + period)
	}
	close(results)
	wg.Wait()
	a.Finish(frames*period, model.ReasonEndOfStream)
	total := 0
	for i, seg := range s.segs {
		if seg.Index != int64(i) || seg.Status != model.SegmentComplete {
			t.Fatalf("segment %d: %+v", i, seg)
		}
		total += seg.Plugins["p"].FramesAnalysed
	}
	if total != frames || len(s.segs) != frames/5 {
		t.Fatalf("analysed %d frames in %d segments", total, len(s.segs))
	}
}

// A live file that ends while its plugins drain: the window it ended in
// says end_of_stream, never source_stall, however long the drain takes
// (issue #15: "the closing segment of a file sometimes lacks
// end_of_stream").
func TestEndingIsNotAStall(t *testing.T) {
	now := t0
	s := &sink{}
	a := New(Config{StreamID: "s", Duration: time.Second, MaxCloseDelay: time.Second, Live: true,
		Plugins: []PluginInfo{{Name: "p", Version: "1"}}, Now: func() time.Time { return now }}, s.emit)
	a.Start(t0)
	a.Frame(1200 * time.Millisecond)
	a.Progress(1500 * time.Millisecond) // the file ends at 1.5 s
	a.Ending()
	now = t0.Add(10 * time.Second) // a long drain
	a.Tick()
	a.Finish(1500*time.Millisecond, model.ReasonEndOfStream)
	if len(s.segs) != 2 || !slices.Equal(s.segs[1].Reasons, []string{model.ReasonEndOfStream}) {
		t.Fatalf("segments %+v", s.segs)
	}
}
