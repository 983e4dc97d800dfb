package main

// Faults on purpose: plugins that crash, hang, lie or flood; hosts that are
// killed or told to stop. Every test asserts what was lost is recorded,
// never timings.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/store/sqlite"
	"github.com/lsie-mlf/lsie/internal/proctest"
	"github.com/lsie-mlf/lsie/internal/testenv"
)

// faultConfig runs two lossless test streams: "faulty" with the fault
// plugin (attrs) beside visual, and "healthy" with visual only.
func faultConfig(t *testing.T, dir, attrs string, seconds int) string {
	t.Helper()
	return writeConfig(t, dir, fmt.Sprintf(`segment {
  duration = "1s"
  max_close_delay = "2s"
}
store { sqlite = %q }
api { listen = "127.0.0.1:0" }
stream "faulty" {
  source = "test://ball?width=320&height=240&fps=30&duration=%ds"
  realtime = false
  plugin "visual" {}
  plugin "faultplugin" {
    %s
  }
}
stream "healthy" {
  source = "test://smpte?width=320&height=240&fps=30&duration=%ds"
  realtime = false
  plugin "visual" {}
}
`, filepath.Join(dir, "lsie.db"), seconds, attrs, seconds))
}

func health(hh model.HostHealth, name string) model.ComponentHealth {
	for _, c := range hh.Components {
		if c.Name == name {
			return c
		}
	}
	return model.ComponentHealth{}
}

// checkAccounted asserts every frame of every segment is accounted for by
// every plugin, and returns the faulty stream's segments.
func checkAccounted(t *testing.T, h *runningHost, want int) []model.Segment {
	t.Helper()
	var out []model.Segment
	for _, name := range []string{"faulty", "healthy"} {
		var sl segmentList
		h.get(t, "/api/v1/streams/"+name+"/segments", &sl)
		if len(sl.Segments) != want {
			t.Fatalf("%s: %d segments, want %d", name, len(sl.Segments), want)
		}
		for _, seg := range sl.Segments {
			if seg.FramesSeen != 5 {
				t.Errorf("%s/%d: %d frames seen", name, seg.Index, seg.FramesSeen)
			}
			for pn, p := range seg.Plugins {
				if p.FramesAnalysed+p.FramesSkipped+p.Errors != seg.FramesSeen-seg.FramesDropped {
					t.Errorf("%s/%d %s: analysed %d + skipped %d + errors %d != %d", name, seg.Index, pn, p.FramesAnalysed, p.FramesSkipped, p.Errors, seg.FramesSeen)
				}
			}
			if v := seg.Plugins["visual"]; v.FramesAnalysed != 5 {
				t.Errorf("%s/%d: visual analysed %d: a healthy plugin was disturbed", name, seg.Index, v.FramesAnalysed)
			}
			if name == "healthy" && seg.Status != model.SegmentComplete {
				t.Errorf("healthy/%d: %s %v", seg.Index, seg.Status, seg.Reasons)
			}
		}
		if name == "faulty" {
			out = sl.Segments
		}
	}
	return out
}

func reasons(segs []model.Segment) []string {
	var all []string
	for _, s := range segs {
		all = append(all, s.Reasons...)
	}
	slices.Sort(all)
	return slices.Compact(all)
}

func TestPluginCrashIsRestarted(t *testing.T) {
	dir := t.TempDir()
	// 30 frames; the plugin dies on its 12th frame each life: two crashes.
	// The stream is lossless, so the frame each process died on (and any
	// other it held) goes to the restarted one: nothing is lost, every
	// segment is complete (a live stream records the loss instead:
	// TestLivePluginCrashRecorded).
	h := startHost(t, faultConfig(t, dir, `crash_every = "12"`, 6))
	hh := h.waitStreams(t)
	segs := checkAccounted(t, h, 6)
	fp := health(hh, "faultplugin")
	if fp.Counters["restarts"] != 2 || fp.Health != model.HealthOK {
		t.Errorf("faultplugin: %+v", fp)
	}
	analysed := 0
	for _, s := range segs {
		p := s.Plugins["faultplugin"]
		analysed += p.FramesAnalysed
		if p.Errors+p.FramesSkipped != 0 || s.Status != model.SegmentComplete {
			t.Errorf("faulty/%d: %s %v, faultplugin %+v", s.Index, s.Status, s.Reasons, p)
		}
	}
	k := health(hh, "faulty").Counters
	if analysed != 30 || k["plugin.faultplugin.lost"] != 0 || k["plugin.faultplugin.restarts"] != 2 || k["plugin.faultplugin.frames_resent"] < 2 {
		t.Errorf("%d of 30 frames analysed across 2 crashes; counters %v", analysed, k)
	}
	h.stop(t)
}

func TestPluginGivenUpAfterRepeatedCrashes(t *testing.T) {
	dir := t.TempDir()
	h := startHost(t, faultConfig(t, dir, `crash_every = "1"`, 4))
	hh := h.waitStreams(t)
	segs := checkAccounted(t, h, 4)
	fp := health(hh, "faultplugin")
	if fp.Health != model.HealthError || !strings.Contains(fp.Hint, "crashed 5 times") || !strings.Contains(fp.Hint, "crashing on purpose") ||
		!strings.Contains(fp.Hint, "exit status 3") {
		t.Errorf("faultplugin health %+v", fp)
	}
	if hh.Status != model.HealthDegraded {
		t.Errorf("host status %s", hh.Status)
	}
	if r := reasons(segs); !slices.Contains(r, "plugin_down") {
		t.Errorf("reasons %v", r)
	}
	h.stop(t)
}

func TestHungPluginIsKilledAndRestarted(t *testing.T) {
	dir := t.TempDir()
	h := startHost(t, faultConfig(t, dir, `hang_at = "7"`, 5), "--lease-timeout", "1s")
	hh := h.waitStreams(t)
	checkAccounted(t, h, 5)
	// Each process hangs on its own 7th frame: 25 frames need 3 lives.
	fp := health(hh, "faultplugin")
	if fp.Counters["restarts"] < 1 || fp.Health == model.HealthError || !strings.Contains(fp.Hint+"restarting after: held a frame", "held a frame") {
		t.Errorf("faultplugin: %+v", fp)
	}
	h.stop(t)
	if !strings.Contains(drain(h.stderr.lines), "lease") {
		t.Error("the log does not say why the plugin was killed")
	}
}

func TestMalformedResultsAndStderrFlood(t *testing.T) {
	dir := t.TempDir()
	h := startHost(t, faultConfig(t, dir, "malformed = true\n    flood_kb = \"64\"", 3))
	h.waitStreams(t)
	for _, seg := range checkAccounted(t, h, 3) {
		p := seg.Plugins["faultplugin"]
		if p.Errors != 5 || p.FramesAnalysed != 0 {
			t.Errorf("segment %d: %+v", seg.Index, p)
		}
		var full model.Segment
		h.get(t, fmt.Sprintf("/api/v1/segments/faulty/%d", seg.Index), &full)
		for _, it := range full.Plugins["faultplugin"].Items {
			if !strings.HasPrefix(it.Error, "malformed_result") {
				t.Errorf("item error %q", it.Error)
			}
		}
	}
	h.stop(t)
}

func TestNoPluginOutlivesAKilledHost(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf(`store { sqlite = %q }
api { listen = "127.0.0.1:0" }
stream "live" {
  source = "test://ball?width=320&height=240&fps=30&audio=220"
  plugin "visual" {}
  plugin "acoustic" {}
}
`, filepath.Join(dir, "lsie.db")))
	h := startHost(t, cfg)
	var kids []int
	testenv.Eventually(t, time.Minute, "2 plugins and the stream's capture process", func() bool {
		kids = proctest.Children(h.cmd.Process.Pid) // a spare capture process too
		return len(pluginProcesses(h)) == 2 && captureWorker(h, "live") != 0
	})
	_ = h.cmd.Process.Signal(syscall.SIGKILL)
	_ = h.cmd.Wait()
	for _, pid := range kids {
		proctest.WaitGone(t, pid)
	}
}

// After SIGTERM the host exits 0 and every segment it announced is stored.
func TestSIGTERMStoresEveryClosedSegment(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "lsie.db")
	cfg := writeConfig(t, dir, fmt.Sprintf(`segment { duration = "1s" }
store { sqlite = %q }
api { listen = "127.0.0.1:0" }
stream "a" {
  source = "test://ball?width=320&height=240&fps=30&audio=220"
  plugin "visual" {}
  plugin "acoustic" {}
}
stream "b" {
  source = "test://smpte?width=320&height=240&fps=30"
  plugin "visual" {}
}
`, db))
	h := startHost(t, cfg)
	time.Sleep(3500 * time.Millisecond)
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	if err := h.cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	printed := 0
	for _, line := range strings.Split(h.stdout.String(), "\n") {
		if strings.HasPrefix(line, "a ") || strings.HasPrefix(line, "b ") {
			printed++
		}
	}
	st, err := sqlite.Open(db, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stored, shutdown := 0, 0
	for _, id := range []string{"a", "b"} {
		segs, err := st.Segments(context.Background(), id, -1<<62, 0)
		if err != nil {
			t.Fatal(err)
		}
		stored += len(segs)
		if last := segs[len(segs)-1]; slices.Contains(last.Reasons, model.ReasonShutdown) {
			shutdown++
		}
	}
	if printed < 4 || stored != printed {
		t.Errorf("printed %d segments, stored %d", printed, stored)
	}
	if shutdown != 2 {
		t.Errorf("%d streams end with a shutdown segment, want 2", shutdown)
	}
}

// rssKB reads a process's resident set size.
func rssKB(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// Memory stays bounded whatever plugins do: a slow plugin (latest-wins
// skips), a flooding one and an audio one on a live stream for ~24 s. The
// host's RSS after warm-up may not keep growing.
func TestHostMemoryBoundedUnderMisbehavingPlugins(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf(`segment { duration = "1s" }
store { sqlite = %q }
api { listen = "127.0.0.1:0" }
stream "live" {
  source = "test://ball?width=640&height=360&fps=30&audio=220"
  video { fps = 15 }
  plugin "slowplugin" {
    window = 1
    delay_ms = "300"
  }
  plugin "faultplugin" { flood_kb = "32" }
  plugin "acoustic" {}
}
`, filepath.Join(dir, "lsie.db")))
	h := startHost(t, cfg)
	pid := h.cmd.Process.Pid
	time.Sleep(6 * time.Second)
	warm := rssKB(t, pid)
	peak := warm
	for range 18 {
		time.Sleep(time.Second)
		peak = max(peak, rssKB(t, pid))
	}
	var hh model.HostHealth
	h.get(t, "/api/v1/health", &hh)
	h.stop(t)
	t.Logf("host RSS %d MB after warm-up, peak %d MB over 18 s", warm/1024, peak/1024)
	if grew := peak - warm; grew > 40*1024 {
		t.Errorf("host RSS grew %d MB over 18 s (from %d MB)", grew/1024, warm/1024)
	}
	if c := health(hh, "live"); c.Counters["plugin.slowplugin.skipped"] == 0 || c.Counters["dropped"] != 0 {
		t.Errorf("expected latest-wins skips and no drops: %v", c.Counters)
	}
}

// Isolation: a plugin crashing over and over on one stream must not slow
// another stream's healthy plugin. Its handoff p50 is compared with a
// baseline run of the same healthy stream alone, in the same test.
func TestHealthyStreamLatencyUnderFaults(t *testing.T) {
	const healthy = `stream "healthy" {
  source = "test://smpte?width=320&height=240&fps=30"
  video { fps = 10 }
  plugin "visual" {}
}
`
	run := func(extra string) model.ComponentHealth {
		dir := t.TempDir()
		h := startHost(t, writeConfig(t, dir, fmt.Sprintf("segment { duration = \"1s\" }\nstore { sqlite = %q }\napi { listen = \"127.0.0.1:0\" }\n%s%s",
			filepath.Join(dir, "lsie.db"), healthy, extra)))
		time.Sleep(8 * time.Second)
		var hh model.HostHealth
		h.get(t, "/api/v1/health", &hh)
		var sl segmentList
		h.get(t, "/api/v1/streams/healthy/segments", &sl)
		h.stop(t)
		for _, seg := range sl.Segments[1:] {
			if seg.Status != model.SegmentComplete {
				t.Errorf("healthy/%d: %s %v", seg.Index, seg.Status, seg.Reasons)
			}
		}
		return health(hh, "healthy")
	}
	base := run("")
	faulty := run(`stream "faulty" {
  source = "test://ball?width=320&height=240&fps=30"
  video { fps = 10 }
  plugin "faultplugin" {
    crash_every = "7"
    flood_kb = "16"
  }
}
`)
	b, f := base.Counters["plugin.visual.handoff_p50_ns"], faulty.Counters["plugin.visual.handoff_p50_ns"]
	t.Logf("healthy stream handoff p50: %d µs alone, %d µs beside a crashing plugin", b/1000, f/1000)
	if b <= 0 || f <= 0 {
		t.Fatalf("no handoff measurements: %v / %v", base.Counters, faulty.Counters)
	}
	// A factor, with a floor for this noisy 2-core machine.
	if limit := max(5*b, int64(2*time.Millisecond)); f > limit {
		t.Errorf("healthy p50 %d µs beside faults, over %d µs (5× the %d µs baseline)", f/1000, limit/1000, b/1000)
	}
	if faulty.Counters["plugin.visual.skipped"] > base.Counters["plugin.visual.skipped"]+5 {
		t.Errorf("the healthy plugin skipped more frames beside the faults: %d vs %d", faulty.Counters["plugin.visual.skipped"], base.Counters["plugin.visual.skipped"])
	}
}
