package segment

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
)

// recorder sees segments and late items in the order the assembler hands
// them on.
type recorder struct {
	mu     sync.Mutex
	events []string
	segs   []model.Segment
	late   []lateItem
}

func (r *recorder) emit(seg model.Segment) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.segs = append(r.segs, seg)
	r.events = append(r.events, fmt.Sprintf("segment %d", seg.Index))
}

func (r *recorder) onLate(plugin string, index int64, it model.Item) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.late = append(r.late, lateItem{plugin: plugin, index: index, item: it})
	r.events = append(r.events, fmt.Sprintf("late %s %d %s", plugin, index, it.PTS))
}

func newRecorded(t *testing.T, live bool) (*Assembler, *recorder, *clock) {
	t.Helper()
	c := &clock{t: t0}
	r := &recorder{}
	a := New(Config{StreamID: "s", Duration: time.Second, MaxCloseDelay: 2 * time.Second, AudioRate: 16000,
		Plugins: []PluginInfo{{Name: "p", Version: "1"}, {Name: "ac", Version: "1", Audio: true}},
		Live:    live, Now: c.Now, OnLate: r.onLate}, r.emit)
	a.Start(t0)
	return a, r, c
}

// A lossless stream never closes a segment as plugin_lag while a plugin
// owes a result, however long past max_close_delay: it closes, complete,
// when the result arrives.
func TestLosslessWaitsForEveryPlugin(t *testing.T) {
	a, s, c := newAsm(t, false, false)
	a.Start(t0)
	feed(a, 0, 2*time.Second, false) // 10 frames owed, capture at 2 s
	for range 10 {
		c.Advance(time.Minute)
		a.Tick()
	}
	if len(s.segs) != 0 {
		t.Fatalf("lossless segment closed while the plugin owed results: %+v", s.segs[0])
	}
	for pts := time.Duration(0); pts < 2*time.Second; pts += period {
		a.Result("p", model.Item{PTS: pts, Fields: map[string]float64{"v": 1}})
	}
	if len(s.segs) != 2 {
		t.Fatalf("%d segments after the results, want 2", len(s.segs))
	}
	for _, seg := range s.segs {
		if seg.Status != model.SegmentComplete || seg.Plugins["p"].FramesAnalysed != 5 {
			t.Errorf("segment %d: %s %v, analysed %d", seg.Index, seg.Status, seg.Reasons, seg.Plugins["p"].FramesAnalysed)
		}
	}
	if n := a.Counters().LateResults; n != 0 {
		t.Errorf("late results %d in a lossless stream", n)
	}
}

// A lossless stream also waits for an audio plugin's progress.
func TestLosslessWaitsForAudioProgress(t *testing.T) {
	a, r, c := newRecorded(t, false)
	a.Progress(3 * time.Second)
	a.AudioProgress("ac", 1500*time.Millisecond)
	c.Advance(time.Hour)
	a.Tick()
	if len(r.segs) != 1 {
		t.Fatalf("%d segments closed with audio progress at 1.5 s, want 1", len(r.segs))
	}
	a.AudioProgress("ac", 3*time.Second)
	if len(r.segs) != 3 || r.segs[2].Status != model.SegmentComplete {
		t.Fatalf("segments %+v", r.segs)
	}
}

// A plugin that is gone for good does not hold a lossless stream: what it
// held is settled as lost when it dies (Lost), the events it will never
// answer when it gives up (TextDropped), and the segments close with those
// reasons, never plugin_lag.
func TestLosslessDeadPluginClosesWithReason(t *testing.T) {
	a, s, c := newAsm(t, false, false)
	a.Start(t0)
	feed(a, 0, time.Second, false)
	a.Assigned("p", 1200*time.Millisecond) // a topic event, in segment 1
	a.Progress(2 * time.Second)
	c.Advance(time.Hour)
	a.Tick()
	if len(s.segs) != 0 {
		t.Fatal("closed while the plugin held frames")
	}
	for pts := time.Duration(0); pts < time.Second; pts += period {
		a.Lost("p", pts) // the process died holding them
	}
	a.TextDropped("p", 1200*time.Millisecond) // and gave up
	if len(s.segs) != 2 {
		t.Fatalf("%d segments, want 2", len(s.segs))
	}
	if !slices.Equal(s.segs[0].Reasons, []string{ReasonPluginLost}) || s.segs[0].Plugins["p"].Errors != 5 {
		t.Errorf("segment 0: %v, %+v", s.segs[0].Reasons, s.segs[0].Plugins["p"])
	}
	if !slices.Equal(s.segs[1].Reasons, []string{model.ReasonTextDropped}) || s.segs[1].Plugins["p"].TextDropped != 1 {
		t.Errorf("segment 1: %v, %+v", s.segs[1].Reasons, s.segs[1].Plugins["p"])
	}
	if got := a.Counters(); got.Lost != 5 || got.TextDropped != 1 || got.LateResults != 0 {
		t.Errorf("counters %+v", got)
	}
}

// In a live stream, every kind of result that arrives for a closed segment
// reaches OnLate with that segment's index, after the segment itself.
func TestLiveLateItemsReachOnLate(t *testing.T) {
	a, r, c := newRecorded(t, true)
	a.NoAudio("ac") // the audio plugin is fed by hand below
	for pts := time.Duration(0); pts < 2*time.Second; pts += period {
		a.Frame(pts)
		a.Assigned("p", pts)
	}
	a.Assigned("p", 1500*time.Millisecond) // a topic event
	a.Progress(2 * time.Second)
	c.Advance(2 * time.Second)
	a.Tick()
	if len(r.segs) != 2 || !slices.Contains(r.segs[0].Reasons, model.ReasonPluginLag) {
		t.Fatalf("segments %+v", r.segs)
	}
	a.Result("p", model.Item{PTS: 400 * time.Millisecond, Fields: map[string]float64{"v": 4}})
	a.MessageResult("p", model.Item{PTS: 1500 * time.Millisecond, Topic: "answer@1", Text: "event"}, true)
	a.MessageResult("p", model.Item{PTS: 1600 * time.Millisecond, Topic: "answer@1", Text: "partial"}, false)
	a.Published("p", model.Item{PTS: 800 * time.Millisecond, Topic: "transcript.final@1", Text: "late final"})
	a.AudioResult("ac", 0, 1600, 16000, []model.Item{{PTS: 1900 * time.Millisecond, Duration: 10 * time.Millisecond,
		Fields: map[string]float64{"f0": 120}}}, "", 0)
	a.Skipped("p", 600*time.Millisecond) // settles, carries no item
	want := []string{"segment 0", "segment 1",
		"late p 0 400ms", "late p 1 1.5s", "late p 1 1.6s", "late p 0 800ms", "late ac 1 1.9s"}
	if !slices.Equal(r.events, want) {
		t.Fatalf("events\n%v\nwant\n%v", r.events, want)
	}
	if r.late[0].item.Fields["v"] != 4 || r.late[3].item.Text != "late final" {
		t.Errorf("late items %+v", r.late)
	}
	if n := a.Counters().LateResults; n != 5 {
		t.Errorf("late results %d, want 5", n)
	}
	// After Finish every segment is closed: a result is late, for the index
	// its time falls in.
	a.Finish(3*time.Second, model.ReasonEndOfStream)
	a.Result("p", model.Item{PTS: 2200 * time.Millisecond})
	if l := r.late[len(r.late)-1]; l.index != 2 || l.item.PTS != 2200*time.Millisecond {
		t.Errorf("late after Finish: %+v", l)
	}
}

// Late items keep their order with the segments closed by other
// goroutines: one never reaches OnLate before its segment reached emit.
func TestLateAfterItsSegmentConcurrently(t *testing.T) {
	a, r, _ := newRecorded(t, true)
	a.NoAudio("ac")
	const frames = 500
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range frames {
			// Results of frames whose segment may have closed already:
			// live, capture does not wait for them.
			a.Result("p", model.Item{PTS: time.Duration(i) * period})
		}
	}()
	for i := range frames {
		pts := time.Duration(i) * period
		a.Frame(pts)
		a.Progress(pts + period)
	}
	wg.Wait()
	a.Finish(frames*period, model.ReasonEndOfStream)
	emitted := map[int64]bool{}
	for _, e := range r.events {
		var k int64
		var plugin, pts string
		if _, err := fmt.Sscanf(e, "segment %d", &k); err == nil {
			emitted[k] = true
			continue
		}
		if _, err := fmt.Sscanf(e, "late %s %d %s", &plugin, &k, &pts); err != nil {
			t.Fatalf("event %q", e)
		}
		if !emitted[k] {
			t.Fatalf("late item for segment %d before the segment: %v", k, r.events)
		}
	}
	total := 0
	for _, seg := range r.segs {
		total += len(seg.Plugins["p"].Items)
	}
	if total+len(r.late) != frames || int64(len(r.late)) != a.Counters().LateResults {
		t.Fatalf("%d items in segments + %d late, want %d", total, len(r.late), frames)
	}
}

// Losses are counted whether or not their segment is still open.
func TestLossCounters(t *testing.T) {
	a, _, _ := newRecorded(t, true)
	a.Dropped(0)
	a.Missed("p", 200*time.Millisecond)
	a.AudioDropped("ac", 0, 1600, 16000)
	a.AudioMissed("ac", 1600, 3200, 16000)
	a.Progress(2 * time.Second)
	a.Finish(2*time.Second, model.ReasonEndOfStream)
	a.Lost("p", 400*time.Millisecond) // its segment closed: still a loss
	got := a.Counters()
	if got.Dropped != 1 || got.Missed != 1 || got.Lost != 1 || got.AudioDropped != 300*time.Millisecond {
		t.Fatalf("counters %+v", got)
	}
}

func TestMergeLate(t *testing.T) {
	var items []model.Item
	for _, it := range []model.Item{
		msg(tPartial, time.Second, "a"),
		msg(tPartial, time.Second, "a b"), // replaces its utterance's partial
		{PTS: 1100 * time.Millisecond, Fields: map[string]float64{"v": 1}},
		msg(tPartial, 2*time.Second, "c"),
		msg(tFinal, time.Second, "a b c"), // ends the partial at 1 s only
	} {
		items = MergeLate(items, it)
	}
	var got []string
	for _, it := range items {
		got = append(got, it.Topic+":"+it.Text)
	}
	want := []string{":", tPartial + ":c", tFinal + ":a b c"}
	if !slices.Equal(got, want) {
		t.Fatalf("merged %v, want %v", got, want)
	}
}
