package host

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/config"
	"github.com/lsie-mlf/lsie/host/events"
	"github.com/lsie-mlf/lsie/host/insight"
	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/segment"
	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
	"github.com/lsie-mlf/lsie/sdk/transcript"
)

// publishRig is a stream runner with what published messages reach: the
// segment assembler (closed segments collected) and the event bus.
type publishRig struct {
	s    *streamRunner
	sub  *events.Subscription
	segs []model.Segment
}

func newPublishRig(t *testing.T) *publishRig {
	t.Helper()
	r := &publishRig{}
	h := &Host{obs: observers{bus: events.New(), live: insight.NewLive()}}
	t.Cleanup(h.obs.bus.Close)
	r.s = &streamRunner{h: h, cfg: config.Stream{ID: "talk"}}
	r.s.asm = segment.New(segment.Config{StreamID: "talk", Duration: time.Second, MaxCloseDelay: time.Second,
		Plugins: []segment.PluginInfo{{Name: "transcription"}}}, func(seg model.Segment) { r.segs = append(r.segs, seg) })
	r.s.asm.Start(time.Now())
	r.sub = h.obs.bus.Subscribe(64)
	return r
}

// wsItem returns the next event's data as the WebSocket sends it.
func (r *publishRig) wsItem(t *testing.T) map[string]any {
	t.Helper()
	select {
	case e := <-r.sub.C():
		if e.Type != events.Result || e.Stream != "talk" || e.Plugin != "transcription" {
			t.Fatalf("event %+v", e)
		}
		b, err := json.Marshal(e.Data)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	default:
		t.Fatal("no event published")
		return nil
	}
}

func transcriptMsg(topic string, pts time.Duration, text string, utt float64) *pluginv1.Message {
	p := transcript.Payload{Utterance: int64(utt), Final: topic == transcript.TopicFinal, Text: text, Start: pts, End: pts + time.Second}
	return &pluginv1.Message{Topic: topic, PtsNs: int64(pts), DurationNs: int64(time.Second), Text: text,
		Fields: map[string]float64{"utterance": utt, "words": 2}, Payload: p.Marshal(), Producer: "transcription"}
}

// TestPublishedFinalOnWebSocketAsStored: a published final (and a partial)
// reaches live clients with its fields, text and payload, exactly as the
// segment stores it (issue #15: finals went out with "fields": null).
func TestPublishedFinalOnWebSocketAsStored(t *testing.T) {
	r := newPublishRig(t)
	r.s.published("transcription", transcriptMsg(transcript.TopicPartial, 100*time.Millisecond, "hello", 1))
	partial := r.wsItem(t)
	r.s.published("transcription", transcriptMsg(transcript.TopicFinal, 100*time.Millisecond, "hello world", 1))
	final := r.wsItem(t)
	for name, m := range map[string]map[string]any{"partial": partial, "final": final} {
		f, _ := m["fields"].(map[string]any)
		if f["utterance"] != 1.0 || f["words"] != 2.0 || m["payload"] == nil || m["text"] == "" {
			t.Errorf("%s on the WebSocket: %v", name, m)
		}
	}
	r.s.asm.Finish(time.Second, model.ReasonEndOfStream)
	if len(r.segs) != 1 {
		t.Fatalf("%d segments", len(r.segs))
	}
	stored := r.segs[0].Plugins["transcription"].Items
	if len(stored) != 1 {
		t.Fatalf("stored items %+v, want the final only", stored)
	}
	b, _ := json.Marshal(stored[0])
	var want map[string]any
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(final)
	exp, _ := json.Marshal(want)
	if string(got) != string(exp) {
		t.Errorf("final on the WebSocket %s, stored %s", got, exp)
	}
}

// TestPublishedUnfinishedPartialStored: of an utterance without a final the
// latest partial is stored, on its partial topic; finished ones leave none.
func TestPublishedUnfinishedPartialStored(t *testing.T) {
	r := newPublishRig(t)
	r.s.published("transcription", transcriptMsg(transcript.TopicPartial, 100*time.Millisecond, "one", 1))
	r.s.published("transcription", transcriptMsg(transcript.TopicFinal, 100*time.Millisecond, "one done", 1))
	r.s.published("transcription", transcriptMsg(transcript.TopicPartial, 600*time.Millisecond, "two", 2))
	r.s.published("transcription", transcriptMsg(transcript.TopicPartial, 600*time.Millisecond, "two so far", 2))
	r.s.asm.Finish(time.Second, model.ReasonEndOfStream)
	stored := r.segs[0].Plugins["transcription"].Items
	if len(stored) != 2 || stored[0].Topic != transcript.TopicFinal || stored[1].Topic != transcript.TopicPartial ||
		stored[1].Text != "two so far" || stored[1].PTS != 600*time.Millisecond || stored[1].Fields["utterance"] != 2 {
		t.Fatalf("stored %+v", stored)
	}
	p, err := transcript.Parse(stored[1].Payload)
	if err != nil || p.Final || p.Utterance != 2 {
		t.Errorf("stored partial's payload %+v %v", p, err)
	}
}
