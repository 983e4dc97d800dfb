package segment

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
)

func newAudioAsm(t *testing.T) (*Assembler, *sink) {
	t.Helper()
	s := &sink{}
	a := New(Config{StreamID: "s", Duration: time.Second, MaxCloseDelay: time.Second, AudioRate: 16000,
		Plugins: []PluginInfo{{Name: "ac", Version: "1"}}, Now: func() time.Time { return t0 }}, s.emit)
	a.Start(t0)
	return a, s
}

func TestAudioSplitsExactlyAtBoundaries(t *testing.T) {
	a, s := newAudioAsm(t)
	// Chunks of 1600 samples; the 10th starts at 14400 and the 10th..11th
	// straddle nothing, but a chunk starting at 15000 straddles 16000.
	for first := int64(0); first < 15000; first += 1000 {
		a.AudioCaptured(first, 1000, 16000)
	}
	a.AudioCaptured(15000, 1600, 16000) // 1000 in segment 0, 600 in segment 1
	a.AudioGap(16600, 1400, 16000)      // all in segment 1
	a.AudioCaptured(18000, 14000, 16000)
	a.Progress(2 * time.Second)
	if len(s.segs) != 2 {
		t.Fatalf("%d segments", len(s.segs))
	}
	if s.segs[0].AudioSeconds != 1 || s.segs[0].AudioGapSeconds != 0 || s.segs[0].Status != model.SegmentComplete {
		t.Errorf("segment 0: %+v", s.segs[0])
	}
	if s.segs[1].AudioSeconds != (600+14000)/16000.0 || s.segs[1].AudioGapSeconds != 1400/16000.0 ||
		!slices.Equal(s.segs[1].Reasons, []string{model.ReasonAudioGap}) {
		t.Errorf("segment 1: audio %v gap %v reasons %v", s.segs[1].AudioSeconds, s.segs[1].AudioGapSeconds, s.segs[1].Reasons)
	}
	if sum := s.segs[0].AudioSeconds + s.segs[1].AudioSeconds + s.segs[1].AudioGapSeconds; sum != 2 {
		t.Errorf("audio + gaps cover %v s of 2 s", sum)
	}
}

func TestAudioResultHoldsSegmentAndPlacesItems(t *testing.T) {
	a, s := newAudioAsm(t)
	// A chunk [0.95 s, 1.05 s) is in flight when capture passes 1 s.
	a.AudioCaptured(15200, 1600, 16000)
	a.Assigned("ac", sampleTime(15200, 16000))
	a.Progress(1100 * time.Millisecond)
	if len(s.segs) != 0 {
		t.Fatal("closed while the audio plugin owed a chunk")
	}
	var items []model.Item
	for i := int64(0); i < 10; i++ {
		items = append(items, model.Item{PTS: 950*time.Millisecond + time.Duration(i)*10*time.Millisecond, Duration: 10 * time.Millisecond,
			Fields: map[string]float64{"loudness_dbfs": -20}})
	}
	a.AudioResult("ac", 15200, 1600, 16000, items, "", math.MaxInt64)
	if len(s.segs) != 1 {
		t.Fatalf("%d segments after the result", len(s.segs))
	}
	p := s.segs[0].Plugins["ac"]
	if len(p.Items) != 5 || p.AudioSeconds != 0.05 {
		t.Fatalf("segment 0 holds %d items, %v s", len(p.Items), p.AudioSeconds)
	}
	a.Progress(2 * time.Second)
	if p := s.segs[1].Plugins["ac"]; len(p.Items) != 5 || p.AudioSeconds != 0.05 {
		t.Fatalf("segment 1 holds %d items, %v s", len(p.Items), p.AudioSeconds)
	}
}

func TestAudioDroppedAndNoAudio(t *testing.T) {
	a, s := newAudioAsm(t)
	a.Assigned("ac", 0)
	a.AudioDropped("ac", 0, 1600, 16000)
	a.Progress(time.Second)
	if len(s.segs) != 1 || s.segs[0].Plugins["ac"].AudioDroppedSeconds != 0.1 || !slices.Contains(s.segs[0].Reasons, model.ReasonAudioGap) {
		t.Fatalf("dropped: %+v", s.segs)
	}
	a.NoAudio("ac")
	a.Progress(3 * time.Second)
	for _, seg := range s.segs[1:] {
		if seg.Plugins["ac"].Status != model.PluginNoAudio {
			t.Fatalf("segment %d plugin status %q", seg.Index, seg.Plugins["ac"].Status)
		}
	}
}

// A live source that stalls: the windows closed as source_stall record the
// audio they never got as a gap, so audio + gap cover each window, and the
// gap capture reports after reconnecting adds nothing to closed windows.
func TestStalledWindowsRecordTheirGap(t *testing.T) {
	now := t0
	s := &sink{}
	a := New(Config{StreamID: "s", Duration: time.Second, MaxCloseDelay: time.Second, AudioRate: 16000, Live: true,
		Plugins: []PluginInfo{{Name: "ac", Version: "1"}}, Now: func() time.Time { return now }}, s.emit)
	a.Start(t0)
	a.AudioCaptured(0, 24000, 16000) // 1.5 s, then the source stalls
	a.Progress(1500 * time.Millisecond)
	now = t0.Add(5 * time.Second)
	a.Tick() // windows 1, 2 and 3 are 1 s past their end: source_stall
	if len(s.segs) != 4 {
		t.Fatalf("%d segments closed, want 4", len(s.segs))
	}
	for _, seg := range s.segs {
		if got := seg.AudioSeconds + seg.AudioGapSeconds; got != 1 {
			t.Errorf("segment %d: audio %v + gap %v = %v s, want 1 (%v)", seg.Index, seg.AudioSeconds, seg.AudioGapSeconds, got, seg.Reasons)
		}
	}
	if r := s.segs[2].Reasons; !slices.Contains(r, model.ReasonSourceStall) || !slices.Contains(r, model.ReasonAudioGap) {
		t.Errorf("segment 2 reasons %v", r)
	}
	// Reconnected at 4 s: capture reports the hole 1.5–4 s as a gap.
	a.AudioGap(24000, 40000, 16000)
	a.AudioCaptured(64000, 16000, 16000)
	a.Progress(5 * time.Second)
	if len(s.segs) != 5 || s.segs[4].AudioSeconds != 1 || s.segs[4].AudioGapSeconds != 0 {
		t.Errorf("after reconnecting: %d segments, last %+v", len(s.segs), s.segs[len(s.segs)-1])
	}
}

// An audio-only stream: segments close on capture's audio progress and the
// audio plugin's, the video plugin holds none open and says no_video in
// every one, open or future.
func TestNoVideoClosesOnAudio(t *testing.T) {
	s := &sink{}
	a := New(Config{StreamID: "radio", Duration: time.Second, MaxCloseDelay: time.Second, AudioRate: 16000,
		Plugins: []PluginInfo{{Name: "ac", Version: "1", Audio: true}, {Name: "vis", Version: "1"}}, Now: func() time.Time { return t0 }}, s.emit)
	a.Start(t0)
	a.AudioCaptured(0, 8000, 16000) // segment 0 opens before capture knows
	a.NoVideo("vis")
	a.AudioCaptured(8000, 40000, 16000)
	a.Progress(3 * time.Second)
	if len(s.segs) != 0 {
		t.Fatalf("%d segments closed before the audio plugin's progress", len(s.segs))
	}
	a.AudioResult("ac", 0, 48000, 16000, nil, "", 2500*time.Millisecond)
	if len(s.segs) != 2 {
		t.Fatalf("%d segments closed at audio progress 2.5 s, want 2", len(s.segs))
	}
	a.AudioProgress("ac", 3*time.Second)
	if len(s.segs) != 3 {
		t.Fatalf("%d segments closed at audio progress 3 s, want 3", len(s.segs))
	}
	for _, seg := range s.segs {
		vis, ac := seg.Plugins["vis"], seg.Plugins["ac"]
		if seg.Status != model.SegmentComplete || seg.AudioSeconds != 1 || vis.Status != model.PluginNoVideo || vis.FramesAnalysed != 0 ||
			ac.Status != "" || ac.AudioSeconds != 1 {
			t.Errorf("segment %d: %s %v audio %v, vis %q, ac %q %v s", seg.Index, seg.Status, seg.Reasons, seg.AudioSeconds, vis.Status, ac.Status, ac.AudioSeconds)
		}
	}
}
