package plugintest

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestVisual(t *testing.T) {
	h := Start(t, Build(t, "../../plugins/visual"))
	if got := h.Manifest().Name; got != "visual" {
		t.Fatalf("manifest name %q, want visual", got)
	}
	s := h.Open("cam1", nil)
	for _, c := range []struct {
		name  string
		f     Frame
		want  float64
		width int
	}{
		{"white", SolidFrame(64, 48, 255, 255, 255), 255, 64},
		{"black", SolidFrame(64, 48, 0, 0, 0), 0, 64},
		{"larger white", SolidFrame(320, 240, 255, 255, 255), 255, 320}, // a new region
	} {
		res := s.Frame(c.f)
		if res.ErrCode != "" {
			t.Fatalf("%s: error %s: %s", c.name, res.ErrCode, res.ErrMsg)
		}
		if got := res.Fields["brightness"]; math.Abs(got-c.want) > 0.5 {
			t.Errorf("%s: brightness %v, want %v", c.name, got, c.want)
		}
	}
	s.Close()
}

func TestAcousticTone(t *testing.T) {
	h := Start(t, Build(t, "../../plugins/acoustic"))
	s := h.Open("mic", nil)
	tone := Tone(220, 1, 0.5)
	var items []Item
	for i := range 10 {
		res := s.Audio(tone[i*1600:(i+1)*1600], int64(i*1600))
		if res.ErrCode != "" {
			t.Fatalf("chunk %d: error %s: %s", i, res.ErrCode, res.ErrMsg)
		}
		items = append(items, res.Items...)
	}
	end := s.EndAudio()
	if end.ErrCode != "" || end.Progress != math.MaxInt64 {
		t.Fatalf("end: error %q, progress %v", end.ErrCode, end.Progress)
	}
	items = append(items, end.Items...)
	if len(items) != 100 {
		t.Errorf("%d items, want 100 (10 ms hops over 1 s)", len(items))
	}
	voiced := 0
	for _, it := range items {
		if it.Fields["voiced"] != 1 {
			continue
		}
		voiced++
		if f0 := it.Fields["f0_hz"]; math.Abs(f0-220)/220 > 0.01 {
			t.Errorf("item at %v: f0 %.2f Hz, want 220 ± 1 %%", it.PTS, f0)
		}
	}
	if voiced < 80 {
		t.Errorf("%d of %d items voiced, want most", voiced, len(items))
	}
}

func TestStreamNotOpen(t *testing.T) {
	h := Start(t, Build(t, "../../plugins/visual"))
	s := h.newStream("never-opened")
	res := s.Frame(SolidFrame(8, 8, 1, 2, 3))
	if res.ErrCode != "unknown_stream" {
		t.Errorf("error code %q (%s), want unknown_stream", res.ErrCode, res.ErrMsg)
	}
}

func TestStartNotAPlugin(t *testing.T) {
	script := filepath.Join(t.TempDir(), "fake")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho hello from a script\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, bin := range []string{script, filepath.Join(t.TempDir(), "missing")} {
		h, err := startErr(t, bin)
		if err == nil {
			t.Fatalf("startErr(%s) succeeded; manifest %v", bin, h.Manifest())
		}
		if !strings.Contains(err.Error(), "not a working lsie plugin") {
			t.Errorf("error %q does not say it is not a plugin", err)
		}
		t.Log(err)
	}
}

// installAs builds the graph test plugin under a role's name (its role is
// its file name).
func installAs(t *testing.T, bin, role string) string {
	t.Helper()
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), role)
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPublishedAndDeliveredMessages(t *testing.T) {
	bin := Build(t, "../../cmd/lsie-host/testdata/graphplugin")
	talker := Start(t, installAs(t, bin, "talker")).Open("mic", map[string]string{"utter_ms": "100"})
	res := talker.Audio(Tone(220, 0.35, 0.5), 0)
	if res.ErrCode != "" || res.Progress != 300*time.Millisecond {
		t.Fatalf("audio: %+v; want progress held at the open utterance (300ms)", res)
	}
	msgs := talker.Published()
	var got []string
	for _, m := range msgs {
		got = append(got, m.Topic+" "+m.Text)
	}
	want := []string{"transcript.final@1 utt 0", "transcript.final@1 utt 1", "transcript.final@1 utt 2", "transcript.partial@1 utt 3 part 1"}
	if !slices.Equal(got, want) {
		t.Fatalf("published %q, want %q", got, want)
	}
	if msgs[1].PTS != 100*time.Millisecond || msgs[1].Fields["utt"] != 1 || !strings.Contains(string(msgs[1].Payload), `"words"`) {
		t.Errorf("final 1: %+v", msgs[1])
	}
	talker.EndAudio()
	if end := talker.Published(); len(end) != 1 || end[0].Text != "utt 3" {
		t.Errorf("end of audio published %+v, want the open utterance's final", end)
	}

	listener := Start(t, installAs(t, bin, "listener")).Open("mic", nil)
	msgs[1].Producer = "talker"
	if r := listener.Message(msgs[1]); r.ErrCode != "" || r.Fields["utt"] != 1 || r.Fields["words"] != 2 || r.Text != "heard utt 1" || string(r.Payload) != `{"words":2}` {
		t.Errorf("listener on a final: %+v", r)
	}
	if r := listener.Message(msgs[3]); r.Fields["partial"] != 1 {
		t.Errorf("listener on a partial: %+v", r)
	}
	bad := msgs[2]
	bad.Producer, bad.Payload = "talker", []byte("{")
	if r := listener.Message(bad); r.ErrCode != "bad_input" {
		t.Errorf("listener on a bad payload: %+v, want bad_input", r)
	}
}
