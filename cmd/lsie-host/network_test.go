package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/internal/rtsptest"
)

// waitHealth polls until stream id's health satisfies ok, or fails.
func (h *runningHost) waitHealth(t *testing.T, id string, what string, ok func(model.ComponentHealth) bool) model.ComponentHealth {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var hh model.HostHealth
		h.get(t, "/api/v1/health", &hh)
		if c := health(hh, id); ok(c) {
			return c
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("stream %s never became %s", id, what)
	return model.ComponentHealth{}
}

// An RTSP camera that goes away and comes back: the stream degrades,
// reconnects, and its segments record the outage without a hole in the
// index sequence; the segments after recovery are complete again.
func TestRTSPServerRestartThroughHost(t *testing.T) {
	srv := rtsptest.New(rtsptest.Options{Audio: true})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf(`segment {
  duration = "1s"
  max_close_delay = "2s"
}
store { sqlite = %q }
api { listen = "127.0.0.1:0" }
stream "cam" {
  source = "%s?transport=tcp"
  plugin "visual" {}
  plugin "acoustic" {}
}
`, filepath.Join(dir, "lsie.db"), srv.URL()))
	h := startHost(t, cfg)
	h.waitHealth(t, "cam", "ok", func(c model.ComponentHealth) bool { return c.Health == model.HealthOK })
	before := len(h.waitSegments(t, "cam", 3))

	srv.Stop()
	down := h.waitHealth(t, "cam", "degraded", func(c model.ComponentHealth) bool {
		return c.Health == model.HealthDegraded || c.Health == model.HealthRecovering
	})
	t.Logf("while down: %s (%s)", down.Health, down.Hint)
	time.Sleep(3 * time.Second)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	up := h.waitHealth(t, "cam", "ok again", func(c model.ComponentHealth) bool { return c.Health == model.HealthOK })
	upAt := time.Now()
	var segs []model.Segment
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		segs = h.waitSegments(t, "cam", before+1)
		if segs[len(segs)-1].WallStart.After(upAt.Add(3 * time.Second)) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	h.stop(t)

	if up.Counters["reconnects"] < 1 {
		t.Errorf("reconnects counter %d", up.Counters["reconnects"])
	}
	var outage []string
	for _, s := range segs {
		t.Logf("segment %d: %s %v frames %d audio %.2f s, wall %s", s.Index, s.Status, s.Reasons, s.FramesSeen, s.AudioSeconds,
			s.WallStart.Format("15:04:05.000"))
	}
	for i, s := range segs {
		if i > 0 && s.Index != segs[i-1].Index+1 {
			t.Errorf("segment %d follows %d: a hole in the sequence", s.Index, segs[i-1].Index)
		}
		if i > before && s.Status == model.SegmentPartial {
			outage = append(outage, s.Reasons...)
		}
	}
	if !slices.Contains(outage, model.ReasonSourceStall) && !slices.Contains(outage, model.ReasonAudioGap) {
		t.Errorf("the outage left no trace in the segments: reasons %v", outage)
	}
	// The hole is recorded whole: a window the stalled source never
	// reached has its missing audio as a gap.
	for _, s := range segs {
		if covered := s.AudioSeconds + s.AudioGapSeconds; slices.Contains(s.Reasons, model.ReasonSourceStall) && (covered < 0.999 || covered > 1.001) {
			t.Errorf("segment %d (%v): audio %.3f s + gaps %.3f s, want the whole second", s.Index, s.Reasons, s.AudioSeconds, s.AudioGapSeconds)
		}
	}
	// Windows that began a second or more after the recovery: a healthy
	// camera again. Live RTP audio on a loaded machine may still lose a few
	// milliseconds; those must be recorded gaps, covering the window exactly.
	recovered := 0
	for _, s := range segs {
		if !s.WallStart.After(upAt.Add(time.Second)) {
			continue
		}
		recovered++
		onlyGaps := !slices.ContainsFunc(s.Reasons, func(r string) bool { return r != model.ReasonAudioGap })
		covered := s.AudioSeconds + s.AudioGapSeconds
		if !onlyGaps || s.Plugins["visual"].FramesAnalysed < 4 || s.AudioSeconds < 0.9 || covered < 0.999 || covered > 1.001 {
			t.Errorf("segment %d after recovery: %s %v, visual %d frames, audio %.3f s + gaps %.3f s", s.Index, s.Status, s.Reasons,
				s.Plugins["visual"].FramesAnalysed, s.AudioSeconds, s.AudioGapSeconds)
		}
	}
	if recovered < 2 {
		t.Errorf("only %d segments after the recovery", recovered)
	}
}
