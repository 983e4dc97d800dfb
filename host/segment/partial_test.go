package segment

import (
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
)

const (
	tPartial = "transcript.partial@1"
	tFinal   = "transcript.final@1"
)

func msg(topic string, pts time.Duration, text string) model.Item {
	return model.Item{PTS: pts, Duration: 100 * time.Millisecond, Topic: topic, Text: text,
		Fields: map[string]float64{"words": float64(len(text))}, Payload: []byte(`{"text":"` + text + `"}`)}
}

// items lists a plugin's stored items of a segment as topic:text.
func items(seg model.Segment, plugin string) []string {
	var out []string
	for _, it := range seg.Plugins[plugin].Items {
		out = append(out, it.Topic+":"+it.Text)
	}
	return out
}

func wantItems(t *testing.T, seg model.Segment, plugin string, want ...string) {
	t.Helper()
	got := items(seg, plugin)
	if len(got) != len(want) {
		t.Errorf("segment %d %s items %q, want %q", seg.Index, plugin, got, want)
		return
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("segment %d %s items %q, want %q", seg.Index, plugin, got, want)
			return
		}
	}
}

// TestPublishedPartialsKeepOnlyTheUnfinished: of an utterance's partials
// only the latest is held, and only until its final arrives; the latest
// partial of an utterance that never got a final is stored, as published
// (its .partial topic tells readers it is unfinished), and stays out of the
// aggregates.
func TestPublishedPartialsKeepOnlyTheUnfinished(t *testing.T) {
	a, s, _ := newAsm(t, false, false)
	a.Start(t0)
	a.Published("p", msg(tPartial, 200*time.Millisecond, "a"))
	a.Published("p", msg(tPartial, 200*time.Millisecond, "a b"))
	a.Published("p", msg(tFinal, 200*time.Millisecond, "a b c"))
	a.Published("p", msg(tPartial, 600*time.Millisecond, "d"))
	a.Published("p", msg(tPartial, 600*time.Millisecond, "d e"))
	a.Finish(time.Second, model.ReasonEndOfStream)
	if len(s.segs) != 1 {
		t.Fatalf("%d segments", len(s.segs))
	}
	seg := s.segs[0]
	wantItems(t, seg, "p", tFinal+":a b c", tPartial+":d e")
	kept := seg.Plugins["p"].Items[1]
	if kept.PTS != 600*time.Millisecond || kept.Fields["words"] != 3 || string(kept.Payload) != `{"text":"d e"}` {
		t.Errorf("kept partial %+v", kept)
	}
	if ag := seg.Plugins["p"].Aggregates["words"]; ag.N != 1 || ag.Mean != 5 {
		t.Errorf("aggregate over finals only: %+v", ag)
	}
	// The producer's count says what it published, partial updates included.
	if n := seg.Plugins["p"].Published; n != 5 {
		t.Errorf("published %d, want 5", n)
	}
}

// TestPartialStoredWhenItsSegmentCloses: a segment that closes with an
// utterance still unfinished keeps its latest partial; the final arriving
// after the close is late and changes nothing, and a partial whose segment
// already closed is late too.
func TestPartialStoredWhenItsSegmentCloses(t *testing.T) {
	a, s, _ := newAsm(t, false, false)
	a.Start(t0)
	a.Published("p", msg(tPartial, 800*time.Millisecond, "x"))
	a.Published("p", msg(tPartial, 800*time.Millisecond, "x y"))
	a.Progress(1200 * time.Millisecond)
	if len(s.segs) != 1 {
		t.Fatalf("%d segments closed", len(s.segs))
	}
	wantItems(t, s.segs[0], "p", tPartial+":x y")
	a.Published("p", msg(tFinal, 800*time.Millisecond, "x y z"))
	a.Published("p", msg(tPartial, 900*time.Millisecond, "late"))
	if n := a.Counters().LateResults; n != 2 {
		t.Errorf("late results %d, want 2", n)
	}
	a.Published("p", msg(tPartial, 1100*time.Millisecond, "next"))
	a.Finish(2*time.Second, model.ReasonEndOfStream)
	if len(s.segs) != 2 {
		t.Fatalf("%d segments", len(s.segs))
	}
	wantItems(t, s.segs[0], "p", tPartial+":x y")
	wantItems(t, s.segs[1], "p", tPartial+":next")
}

// TestPartialEndedOnlyByItsOwnFinal: a final ends the partials of its
// producer, topic family and media time only.
func TestPartialEndedOnlyByItsOwnFinal(t *testing.T) {
	s := &sink{}
	a := New(Config{StreamID: "s", Duration: time.Second, MaxCloseDelay: 2 * time.Second,
		Plugins: []PluginInfo{{Name: "p"}, {Name: "q"}}, Now: (&clock{t: t0}).Now}, s.emit)
	a.Start(t0)
	a.Published("p", msg(tPartial, 100*time.Millisecond, "p1"))
	a.Published("q", msg(tPartial, 100*time.Millisecond, "q1"))
	a.Published("p", msg("caption.partial@1", 100*time.Millisecond, "c1"))
	a.Published("p", msg("caption.partial@2", 100*time.Millisecond, "c2"))
	a.Published("p", msg(tPartial, 300*time.Millisecond, "p3"))
	a.Published("q", msg(tFinal, 100*time.Millisecond, "q1 done")) // q's, not p's
	a.Published("p", msg("other.final@1", 100*time.Millisecond, "o"))
	a.Published("p", msg("transcript.final@2", 100*time.Millisecond, "v2")) // another major
	a.Published("p", msg(tFinal, 100*time.Millisecond, "p1 done"))
	a.Published("p", msg("caption.final@2", 100*time.Millisecond, "c2 done"))
	a.Finish(time.Second, model.ReasonEndOfStream)
	seg := s.segs[0]
	wantItems(t, seg, "p", "caption.partial@1:c1", "other.final@1:o", "transcript.final@2:v2", tFinal+":p1 done",
		"caption.final@2:c2 done", tPartial+":p3")
	wantItems(t, seg, "q", tFinal+":q1 done")
}

// TestPartialOfADeadProducerIsStored: a producer that dies mid-utterance
// never sends that utterance's final; its restarted process starts new
// utterances. The dead one's latest partial is stored beside them.
func TestPartialOfADeadProducerIsStored(t *testing.T) {
	a, s, _ := newAsm(t, false, false)
	a.Start(t0)
	a.Assigned("p", 0)
	a.Published("p", msg(tPartial, 100*time.Millisecond, "before"))
	a.Published("p", msg(tPartial, 100*time.Millisecond, "before the crash"))
	a.Lost("p", 0)
	a.Published("p", msg(tPartial, 500*time.Millisecond, "after"))
	a.Published("p", msg(tFinal, 500*time.Millisecond, "after restart"))
	a.Finish(time.Second, model.ReasonEndOfStream)
	wantItems(t, s.segs[0], "p", tPartial+":before the crash", tFinal+":after restart")
}
