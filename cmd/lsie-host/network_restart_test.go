package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/store/sqlite"
	"github.com/lsie-mlf/lsie/internal/hlstest"
	"github.com/lsie-mlf/lsie/internal/rtmptest"
)

// An RTMP server (nginx-rtmp) that goes away mid-run and comes back, with
// its publisher reconnecting as an encoder would.
func TestRTMPServerRestartThroughHost(t *testing.T) {
	srv := rtmptest.Start(t)
	pub := srv.Publish(t, "cam")
	serverRestartThroughHost(t, srv.URL("cam"),
		srv.Stop, // the publisher loses its connection too and exits
		func() { srv.Restart(); pub.Restart() })
}

// An HLS origin that goes away mid-run and comes back while the packager
// keeps going: the host resumes at the live edge.
func TestHLSServerRestartThroughHost(t *testing.T) {
	srv := hlstest.Start(t)
	serverRestartThroughHost(t, srv.URL(), srv.Stop, srv.Restart)
}

// serverRestartThroughHost runs the host on a live source with audio and
// the visual and acoustic plugins, takes the source's server down, brings
// it back, and checks invariants, not timings: health goes degraded (or
// recovering) and back to ok; every segment is stored, in order, without a
// hole in the index sequence or the time line; windows without data are
// partial with a reason; results flow again after the restart; the plugin
// processes live through the outage untouched.
func serverRestartThroughHost(t *testing.T, source string, down, up func()) {
	dir := t.TempDir()
	db := filepath.Join(dir, "lsie.db")
	cfg := writeConfig(t, dir, fmt.Sprintf(`segment {
  duration = "1s"
  max_close_delay = "2s"
}
store { sqlite = %q }
api { listen = "127.0.0.1:0" }
stream "cam" {
  source = %q
  plugin "visual" {}
  plugin "acoustic" {}
}
`, db, source))
	h := startHost(t, cfg)
	var seen []model.Health // distinct stream health states, in order
	await := func(what string, ok func(model.ComponentHealth) bool) (model.ComponentHealth, model.HostHealth) {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second) // reconnect backoff doubles; the machine may be loaded
		for time.Now().Before(deadline) {
			var hh model.HostHealth
			h.get(t, "/api/v1/health", &hh)
			c := health(hh, "cam")
			if len(seen) == 0 || seen[len(seen)-1] != c.Health {
				seen = append(seen, c.Health)
			}
			if ok(c) {
				return c, hh
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("stream never became %s; states seen %v; log:\n%s", what, seen, drain(h.stderr.lines))
		return model.ComponentHealth{}, model.HostHealth{}
	}
	isOK := func(c model.ComponentHealth) bool { return c.Health == model.HealthOK }

	await("ok", isOK)
	before := len(h.waitSegments(t, "cam", 3))
	kids := pluginProcesses(h)
	slices.Sort(kids)
	if len(kids) != 2 {
		t.Fatalf("host has %d plugin processes %v, want 2", len(kids), kids)
	}

	downAt := time.Now()
	down()
	dc, _ := await("degraded", func(c model.ComponentHealth) bool {
		return c.Health == model.HealthDegraded || c.Health == model.HealthRecovering
	})
	t.Logf("down: %s (%s) after %v", dc.Health, dc.Hint, time.Since(downAt).Round(time.Millisecond))
	if dc.Hint == "" {
		t.Errorf("%s without a hint", dc.Health)
	}
	time.Sleep(3 * time.Second) // stay down for several windows
	upAt := time.Now()
	up()
	_, hh := await("ok again", isOK)
	okAt := time.Now()
	t.Logf("server down %v; ok %v after it came back; states %v", upAt.Sub(downAt).Round(time.Millisecond),
		okAt.Sub(upAt).Round(time.Millisecond), seen)

	// Three windows that began after the recovery, all closed.
	var listed []model.Segment
	deadline := time.Now().Add(90 * time.Second)
	for {
		listed = h.waitSegments(t, "cam", before+1)
		if n := len(listed); listed[n-1].WallStart.After(okAt.Add(3 * time.Second)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no segment past %s within 90 s of the recovery", okAt.Add(3*time.Second).Format("15:04:05.000"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	var end model.HostHealth
	h.get(t, "/api/v1/health", &end)
	after := pluginProcesses(h)
	slices.Sort(after)
	h.stop(t)

	// Health: the outage was seen and counted, and it is over.
	stream := health(end, "cam")
	if stream.Health != model.HealthOK || stream.Counters["reconnects"] < 1 {
		t.Errorf("stream at the end: %s, reconnects %d", stream.Health, stream.Counters["reconnects"])
	}
	// The plugins do not notice a source outage: same processes, no restart.
	if !slices.Equal(kids, after) {
		t.Errorf("plugin processes %v before the outage, %v after", kids, after)
	}
	for _, p := range []string{"visual", "acoustic"} {
		for _, hs := range []model.HostHealth{hh, end} {
			if c := health(hs, p); c.Health != model.HealthOK || c.Counters["restarts"] != 0 {
				t.Errorf("plugin %s: %s, %d restarts", p, c.Health, c.Counters["restarts"])
			}
		}
		if n := stream.Counters["plugin."+p+".restarts"]; n != 0 {
			t.Errorf("stream counts %d restarts of %s", n, p)
		}
	}

	st, err := sqlite.Open(db, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	segs, err := st.Segments(ctx, "cam", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range segs {
		t.Logf("segment %d: %s %v frames %d visual %d audio %.2f s gaps %.2f s acoustic %.2f s, wall %s", s.Index, s.Status, s.Reasons,
			s.FramesSeen, s.Plugins["visual"].FramesAnalysed, s.AudioSeconds, s.AudioGapSeconds, s.Plugins["acoustic"].AudioSeconds,
			s.WallStart.Format("15:04:05.000"))
	}

	// Every segment the API listed while running is stored as listed, and
	// the stored ones follow each other without a hole, in index, media
	// and wall time.
	if len(segs) < len(listed) {
		t.Fatalf("%d segments stored, %d listed while running", len(segs), len(listed))
	}
	for i, l := range listed {
		if s := segs[i]; s.Index != l.Index || s.Status != l.Status || s.FramesSeen != l.FramesSeen {
			t.Errorf("listed segment %d (%s, %d frames) stored as %d (%s, %d frames)", l.Index, l.Status, l.FramesSeen, s.Index, s.Status, s.FramesSeen)
		}
	}
	for i := 1; i < len(segs); i++ {
		p, s := segs[i-1], segs[i]
		if s.Index != p.Index+1 || s.MediaStart != p.MediaEnd || !s.WallStart.Equal(p.WallEnd) {
			t.Errorf("segment %d [%v, %v) at %s follows %d [%v, %v) to %s", s.Index, s.MediaStart, s.MediaEnd, s.WallStart.Format("15:04:05.000"),
				p.Index, p.MediaStart, p.MediaEnd, p.WallEnd.Format("15:04:05.000"))
		}
	}

	// A window is complete only when nothing is missing; what is missing
	// is a reason. Windows without data (the outage) lie in the outage,
	// say why, and there is at least one: the server was down for seconds.
	gapReason := func(s model.Segment) bool {
		return slices.Contains(s.Reasons, model.ReasonSourceStall) || slices.Contains(s.Reasons, model.ReasonAudioGap)
	}
	var empty []int64
	for i, s := range segs {
		switch {
		case s.Status == model.SegmentComplete && (len(s.Reasons) != 0 || s.FramesSeen == 0 || s.AudioGapSeconds > 0):
			t.Errorf("segment %d complete with reasons %v, %d frames, %.3f s audio gaps", s.Index, s.Reasons, s.FramesSeen, s.AudioGapSeconds)
		case s.Status != model.SegmentComplete && len(s.Reasons) == 0:
			t.Errorf("segment %d %s without a reason", s.Index, s.Status)
		case s.AudioGapSeconds > 0 && !slices.Contains(s.Reasons, model.ReasonAudioGap):
			t.Errorf("segment %d: %.3f s audio gaps, reasons %v", s.Index, s.AudioGapSeconds, s.Reasons)
		}
		// Complete: no plugin owes a result, so every frame is accounted for.
		if v := s.Plugins["visual"]; s.Status == model.SegmentComplete && v.FramesAnalysed+v.FramesSkipped+v.Errors != s.FramesSeen-s.FramesDropped {
			t.Errorf("segment %d visual: analysed %d + skipped %d + errors %d != %d frames", s.Index, v.FramesAnalysed, v.FramesSkipped, v.Errors, s.FramesSeen-s.FramesDropped)
		}
		if i == 0 || i == len(segs)-1 || s.FramesSeen > 0 {
			continue // the first and last windows are cut by start and shutdown
		}
		empty = append(empty, s.Index)
		if s.Status != model.SegmentPartial || !gapReason(s) {
			t.Errorf("segment %d without frames: %s %v", s.Index, s.Status, s.Reasons)
		}
		// Slack for the source's latency (HLS plays out what it fetched).
		if s.WallStart.Before(downAt.Add(-2*time.Second)) || s.WallEnd.After(okAt.Add(2*time.Second)) {
			t.Errorf("segment %d without frames at %s, outside the outage %s–%s", s.Index, s.WallStart.Format("15:04:05.000"),
				downAt.Format("15:04:05.000"), okAt.Format("15:04:05.000"))
		}
	}
	if len(empty) == 0 {
		t.Errorf("the outage left no window without frames")
	}
	t.Logf("windows without frames: %v", empty)

	// After the recovery: results again, from both plugins, on the time
	// line where they belong.
	recovered := 0
	for _, s := range segs[:len(segs)-1] {
		if !s.WallStart.After(okAt.Add(time.Second)) {
			continue
		}
		recovered++
		// Live audio on a loaded machine may still lose a few milliseconds
		// (recorded gaps), and a busy plugin may skip frames (latest wins);
		// all of it accounted for.
		v, a := s.Plugins["visual"], s.Plugins["acoustic"]
		onlyGaps := !slices.ContainsFunc(s.Reasons, func(r string) bool { return r != model.ReasonAudioGap })
		covered := s.AudioSeconds + s.AudioGapSeconds
		heard := a.AudioSeconds + a.AudioDroppedSeconds
		if !onlyGaps || s.FramesSeen < 3 || v.FramesAnalysed < 1 || v.FramesAnalysed+v.FramesSkipped+v.Errors != s.FramesSeen-s.FramesDropped ||
			s.AudioSeconds < 0.5 || covered < 0.999 || covered > 1.001 || heard < s.AudioSeconds-0.001 || heard > s.AudioSeconds+0.001 {
			t.Errorf("segment %d after recovery: %s %v, %d frames (%d dropped), visual %d analysed %d skipped %d errors, "+
				"audio %.3f s + gaps %.3f s, acoustic %.3f s + dropped %.3f s", s.Index, s.Status, s.Reasons, s.FramesSeen, s.FramesDropped,
				v.FramesAnalysed, v.FramesSkipped, v.Errors, s.AudioSeconds, s.AudioGapSeconds, a.AudioSeconds, a.AudioDroppedSeconds)
		}
		if recovered > 1 {
			continue
		}
		full, err := st.Segment(ctx, "cam", s.Index, s.RunID)
		if err != nil {
			t.Fatal(err)
		}
		checkItems(t, *full)
	}
	if recovered < 2 {
		t.Errorf("only %d segments after the recovery", recovered)
	}
}

// checkItems checks one segment's stored items: every visual item is a
// frame inside the window with a brightness; the acoustic plugin hears the
// source's 440 Hz tone.
func checkItems(t *testing.T, s model.Segment) {
	t.Helper()
	v := s.Plugins["visual"].Items
	if len(v) != s.Plugins["visual"].FramesAnalysed {
		t.Errorf("segment %d: %d visual items, %d frames analysed", s.Index, len(v), s.Plugins["visual"].FramesAnalysed)
	}
	for _, it := range v {
		if _, ok := it.Fields["brightness"]; !ok || it.PTS < s.MediaStart || it.PTS >= s.MediaEnd {
			t.Errorf("segment %d [%v, %v): visual item at %v, fields %v", s.Index, s.MediaStart, s.MediaEnd, it.PTS, it.Fields)
		}
	}
	var f0 []float64
	for _, it := range s.Plugins["acoustic"].Items {
		if f, ok := it.Fields["f0_hz"]; ok {
			f0 = append(f0, f)
		}
	}
	if len(f0) < 10 {
		t.Errorf("segment %d: %d voiced acoustic items", s.Index, len(f0))
		return
	}
	slices.Sort(f0)
	if med := f0[len(f0)/2]; med < 430 || med > 450 {
		t.Errorf("segment %d: median F0 %.1f Hz, want 440", s.Index, med)
	}
}
