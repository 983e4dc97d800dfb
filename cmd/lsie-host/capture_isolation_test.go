package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/internal/proctest"
	"github.com/lsie-mlf/lsie/internal/testenv"
)

// crashClip makes a file whose pipeline aborts GStreamer: MJPEG in
// Matroska with a variable frame rate (0/1), on which videorate fails an
// assertion and calls abort() (exit 134 for an in-process capture).
func crashClip(t *testing.T, dir string) string {
	p := filepath.Join(dir, "vfr.mkv")
	gst(t, "videotestsrc", "num-buffers=30", "!", "video/x-raw,width=160,height=120,framerate=0/1", "!", "jpegenc", "!",
		"matroskamux", "!", "filesink", "location="+p)
	return p
}

// captureWorker is the capture process of stream id (its comm is
// "cap:ID"), or 0.
func captureWorker(h *runningHost, id string) int { return childNamed(h, "cap:"+id) }

// pluginProcesses are the host's children that are not capture processes.
func pluginProcesses(h *runningHost) []int {
	var out []int
	for _, pid := range proctest.Children(h.cmd.Process.Pid) {
		cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && !strings.Contains(string(cmd), "capture-worker") {
			out = append(out, pid)
		}
	}
	return out
}

// Media that crashes GStreamer costs its own stream only: a file that
// aborts the pipeline, a truncated MP4 and a still image are added through
// the API while two live streams run; the host and the two streams go on
// untouched, the crashed stream ends in error saying why.
func TestBadMediaCostsOneStream(t *testing.T) {
	dir := t.TempDir()
	crash := crashClip(t, dir)
	whole := clip(t, dir, "whole")
	b, err := os.ReadFile(whole)
	if err != nil {
		t.Fatal(err)
	}
	trunc := filepath.Join(dir, "trunc.mp4")
	if err := os.WriteFile(trunc, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	png := filepath.Join(dir, "still.png")
	gst(t, "videotestsrc", "num-buffers=1", "!", "video/x-raw,width=64,height=48", "!", "pngenc", "!", "filesink", "location="+png)

	live := `stream %q {
  source = "test://ball?width=160&height=120&fps=10&audio=440"
  plugin "visual" {}
}
`
	h := startHost(t, isoConfig(t, dir, fmt.Sprintf(live, "a"), fmt.Sprintf(live, "b")))
	h.token = "s3cret"
	before := map[string]int{"a": len(h.waitSegments(t, "a", 2)), "b": len(h.waitSegments(t, "b", 2))}
	post := func(id, path string) (int, string) {
		body, _ := json.Marshal(map[string]any{"id": id, "source": "file://" + path, "realtime": false,
			"plugins": []map[string]any{{"name": "visual"}}})
		code, resp := h.doBody(t, "POST", "/api/v1/streams", "s3cret", body)
		return code, string(resp)
	}
	if code, resp := post("crash", crash); code != http.StatusCreated {
		t.Fatalf("POST crash: %d %s", code, resp)
	}
	if code, resp := post("trunc", trunc); code != http.StatusCreated {
		t.Fatalf("POST trunc: %d %s", code, resp)
	}
	if code, resp := post("png", png); code != http.StatusUnprocessableEntity && code != http.StatusBadRequest || !strings.Contains(resp, "still image") {
		t.Errorf("POST png: %d %s", code, resp)
	}
	c := h.waitHealth(t, "crash", "error", func(c model.ComponentHealth) bool { return c.Health == model.HealthError })
	if !strings.Contains(c.Hint, "capture process died: signal: aborted") {
		t.Errorf("crash: hint %q", c.Hint)
	}
	h.waitHealth(t, "trunc", "ended or error", func(c model.ComponentHealth) bool {
		return c.Health == model.HealthEnded || c.Health == model.HealthError
	})
	// The live streams went on through all of it, without a hole.
	hh := h.hostHealth(t)
	for _, id := range []string{"a", "b"} {
		segs := h.waitSegments(t, id, before[id]+3)
		checkContiguous(t, segs)
		if s := health(hh, id); s.Health != model.HealthOK {
			t.Errorf("%s: %s %q", id, s.Health, s.Hint)
		}
		for _, seg := range segs[1:] {
			if seg.Status != model.SegmentComplete && seg.Index < segs[len(segs)-1].Index {
				t.Errorf("%s/%d: %s %v", id, seg.Index, seg.Status, seg.Reasons)
			}
		}
	}
	if v := health(hh, "visual"); v.Health != model.HealthOK || v.Counters["restarts"] != 0 {
		t.Errorf("visual: %s restarts %d", v.Health, v.Counters["restarts"])
	}
	h.stop(t)
}

// A live stream's capture process that dies is replaced: the stream goes
// on on the same time line, the hole is recorded, and no other stream
// notices.
func TestCaptureProcessKilledIsReplaced(t *testing.T) {
	dir := t.TempDir()
	live := `stream %q {
  source = "test://ball?width=160&height=120&fps=10&audio=440"
  plugin "visual" {}
  plugin "acoustic" {}
}
`
	h := startHost(t, isoConfig(t, dir, fmt.Sprintf(live, "victim"), fmt.Sprintf(live, "other")))
	h.token = "s3cret"
	h.waitSegments(t, "victim", 2)
	var victim int
	testenv.Eventually(t, time.Minute, "the victim's capture process", func() bool {
		victim = captureWorker(h, "victim")
		return victim != 0
	})
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	hit, spared := "victim", "other"
	testenv.Eventually(t, time.Minute, "the victim to replace its capture process", func() bool {
		return health(h.hostHealth(t), hit).Counters["capture_restarts"] == 1
	})
	k0 := health(h.hostHealth(t), hit).Counters
	hh := h.waitHostHealth(t, "the hit stream to run again", func(hh model.HostHealth) bool {
		k := health(hh, hit).Counters
		return health(hh, hit).Health == model.HealthOK && k["frames"] >= k0["frames"]+20
	})
	k := health(hh, hit).Counters
	if k["audio_gaps"] < 2 {
		t.Errorf("%s: %d audio gaps: the hole was not recorded", hit, k["audio_gaps"])
	}
	segs := h.waitSegments(t, hit, 8)
	checkContiguous(t, segs)
	holes := 0
	for _, s := range segs {
		if s.AudioGapSeconds > 0.2 {
			holes++
		}
	}
	if holes == 0 {
		t.Errorf("%s: no segment records the hole", hit)
	}
	if s := health(hh, spared); s.Health != model.HealthOK || s.Counters["capture_restarts"] != 0 {
		t.Errorf("%s: %s %q restarts %d", spared, s.Health, s.Hint, s.Counters["capture_restarts"])
	}
	if pid := captureWorker(h, hit); pid == 0 || pid == victim {
		t.Errorf("the victim's capture process after the restart: %d (killed: %d)", pid, victim)
	}
	h.stop(t)
}
