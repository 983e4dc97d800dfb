package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/internal/testenv"
)

// isoStream is a live 10 fps test source with a 440 Hz tone.
const isoStream = `stream %q {
  source = "test://ball?width=160&height=120&fps=10&audio=440"
  plugin %q { %s }
}
`

func isoConfig(t *testing.T, dir string, streams ...string) string {
	head := fmt.Sprintf("segment { duration = \"1s\" }\nstore { sqlite = %q }\napi {\n  listen = \"127.0.0.1:0\"\n  token = \"s3cret\"\n}\n",
		filepath.Join(dir, "lsie.db"))
	return writeConfig(t, dir, head+strings.Join(streams, ""))
}

// counts is what a stream's health says one plugin and capture did.
type counts struct{ frames, analysed, chunks, audioDropped, dropped int64 }

func countsOf(hh model.HostHealth, stream, plugin string) counts {
	k := health(hh, stream).Counters
	p := "plugin." + plugin + "."
	return counts{frames: k["frames"], analysed: k[p+"analysed"], chunks: k[p+"audio_chunks"], audioDropped: k[p+"audio_dropped"], dropped: k["dropped"]}
}

func (h *runningHost) hostHealth(t *testing.T) model.HostHealth {
	t.Helper()
	var hh model.HostHealth
	if code := h.get(t, "/api/v1/health", &hh); code != 200 {
		t.Fatalf("health: %d", code)
	}
	return hh
}

// One plugin process serves six streams. On one it sleeps 10× the frame
// interval per frame, on another 10× real time per audio chunk, on a third
// it panics on every frame. The three others keep their frame rate and
// real-time audio, measured against a same-run baseline stream served by
// another process of the same binary; capture never blocks, even for the
// slow streams; the panicking stream is closed alone, named in health,
// and the process is never restarted.
func TestSlowOrPanickingStreamHoldsNoOtherStream(t *testing.T) {
	dir := t.TempDir()
	h := startHostBin(t, raceHostBin(), isoConfig(t, dir,
		fmt.Sprintf(isoStream, "base", "isobase", ""),
		fmt.Sprintf(isoStream, "slowv", "iso", `frame_sleep_ms = "1000"`),
		fmt.Sprintf(isoStream, "slowa", "iso", `audio_sleep_ms = "1000"`),
		fmt.Sprintf(isoStream, "panicky", "iso", `panic = "frames"`),
		fmt.Sprintf(isoStream, "ok1", "iso", ""),
		fmt.Sprintf(isoStream, "ok2", "iso", ""),
		fmt.Sprintf(isoStream, "ok3", "iso", "")))
	h.token = "s3cret"
	// The window starts once everything runs, and lasts long enough that
	// a plugin's per-stream queue (1024 inputs) would have filled with the
	// slow stream's audio if the host let it (today's bound: 50 unanswered).
	h.waitHostHealth(t, "the baseline to analyse 3 s", func(hh model.HostHealth) bool {
		return countsOf(hh, "base", "isobase").chunks >= 30
	})
	t0 := h.hostHealth(t)
	hh := h.waitHostHealth(t, "the baseline to analyse 40 s more", func(hh model.HostHealth) bool {
		return countsOf(hh, "base", "isobase").chunks >= countsOf(t0, "base", "isobase").chunks+400
	})
	delta := func(stream, plugin string) counts {
		a, b := countsOf(t0, stream, plugin), countsOf(hh, stream, plugin)
		return counts{frames: b.frames - a.frames, analysed: b.analysed - a.analysed, chunks: b.chunks - a.chunks,
			audioDropped: b.audioDropped, dropped: b.dropped}
	}
	base := delta("base", "isobase")
	t.Logf("baseline: %+v", base)
	ratio := func(a, b int64) float64 { return float64(a) / float64(max(b, 1)) }
	for _, id := range []string{"ok1", "ok2", "ok3"} {
		d := delta(id, "iso")
		t.Logf("%s: %+v", id, d)
		if r := ratio(d.analysed, base.analysed); r < 0.9 {
			t.Errorf("%s: iso analysed %d frames, the baseline %d (%.2f×)", id, d.analysed, base.analysed, r)
		}
		if r := ratio(d.chunks, base.chunks); r < 0.9 {
			t.Errorf("%s: iso analysed %d audio chunks, the baseline %d (%.2f×)", id, d.chunks, base.chunks, r)
		}
		if d.dropped != 0 || d.audioDropped != 0 {
			t.Errorf("%s: capture dropped %d frames, %d audio chunks", id, d.dropped, d.audioDropped)
		}
	}
	for _, id := range []string{"slowv", "slowa", "panicky"} {
		d := delta(id, "iso")
		t.Logf("%s: %+v", id, d)
		if r := ratio(d.frames, base.frames); r < 0.9 {
			t.Errorf("%s: capture made %d frames, the baseline's %d (%.2f×): capture blocked", id, d.frames, base.frames, r)
		}
	}
	seconds := base.chunks / 10 // the window's length in media time
	if d := delta("slowv", "iso"); d.analysed > seconds+5 {
		t.Errorf("slowv: iso analysed %d frames at 1 s each in %d s", d.analysed, seconds)
	}
	if d := delta("slowa", "iso"); d.audioDropped == 0 || d.chunks > seconds+5 {
		t.Errorf("slowa: %d chunks analysed, %d dropped: a slow plugin's audio must be bounded and the rest recorded as dropped", d.chunks, d.audioDropped)
	}
	p := health(hh, "panicky")
	if p.Health != model.HealthDegraded || !strings.Contains(p.Hint, `plugin "iso" closed this stream`) || !strings.Contains(p.Hint, "plugin_panic") && !strings.Contains(p.Hint, "panic") {
		t.Errorf("panicky: %s %q", p.Health, p.Hint)
	}
	if iso := health(hh, "iso"); iso.Health != model.HealthOK || iso.Counters["restarts"] != 0 {
		t.Errorf("plugin iso: %s %q restarts %d: a panic on one stream must not cost the process", iso.Health, iso.Hint, iso.Counters["restarts"])
	}
	if t.Failed() {
		for _, l := range strings.Split(drain(h.stderr.lines), "\n") {
			if strings.Contains(l, "\"@level\":\"error\"") {
				t.Log(l[:min(len(l), 600)])
			}
		}
	}
	h.stop(t)
	checkNoRace(t, h)
	panics, failed := 0, 0
	for _, seg := range storedSegments(t, filepath.Join(dir, "lsie.db"), "panicky") {
		for _, it := range seg.Plugins["iso"].Items {
			panics += boolInt(strings.HasPrefix(it.Error, "plugin_panic: panic in ProcessFrame: assignment to entry in nil map"))
		}
		failed += seg.Plugins["iso"].Errors
	}
	if panics != 5 {
		t.Errorf("panicky: %d items say plugin_panic, want the 5 before the stream was closed (%d errors in all)", panics, failed)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func raceHostBin() string { return filepath.Join(binDir, "lsie-host-race") }

// checkNoRace fails the test if the race detector reported in the host's log.
func checkNoRace(t *testing.T, h *runningHost) {
	t.Helper()
	if log := drain(h.stderr.lines); strings.Contains(log, "DATA RACE") {
		i := strings.Index(log, "WARNING: DATA RACE")
		t.Errorf("the race detector reported:\n%s", log[max(i, 0):min(len(log), max(i, 0)+6000)])
	}
}

// A plugin process that stops reading its data plane (SIGSTOP: alive, its
// socket filling) costs its own work only: another plugin on the same
// streams keeps analysing, and capture goes on.
func TestPluginThatStopsReadingBlocksNothing(t *testing.T) {
	dir := t.TempDir()
	two := `stream %q {
  source = "test://ball?width=160&height=120&fps=10&audio=440"
  plugin "isostop" {}
  plugin "iso" {}
}
`
	h := startHostBin(t, raceHostBin(), isoConfig(t, dir, fmt.Sprintf(two, "a"), fmt.Sprintf(two, "b")))
	h.waitHostHealth(t, "both streams analysed", func(hh model.HostHealth) bool {
		return countsOf(hh, "a", "isostop").chunks >= 10 && countsOf(hh, "b", "isostop").chunks >= 10
	})
	pid := pluginPID(t, h, "isostop")
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })
	t0 := h.hostHealth(t)
	hh := h.waitHostHealth(t, "iso to analyse 20 s more on both streams", func(hh model.HostHealth) bool {
		for _, id := range []string{"a", "b"} {
			if countsOf(hh, id, "iso").chunks < countsOf(t0, id, "iso").chunks+200 || countsOf(hh, id, "iso").analysed < countsOf(t0, id, "iso").analysed+200 {
				return false
			}
		}
		return true
	})
	for _, id := range []string{"a", "b"} {
		a, b := countsOf(t0, id, "iso"), countsOf(hh, id, "iso")
		if b.dropped != a.dropped {
			t.Errorf("%s: capture dropped %d frames while isostop was stopped", id, b.dropped-a.dropped)
		}
		t.Logf("%s: frames %d→%d, iso analysed %d→%d, isostop analysed %d→%d", id, a.frames, b.frames, a.analysed, b.analysed,
			countsOf(t0, id, "isostop").analysed, countsOf(hh, id, "isostop").analysed)
	}
	_ = syscall.Kill(pid, syscall.SIGCONT)
	h.stop(t)
	checkNoRace(t, h)
}

// A plugin that refuses one stream's attributes fails that stream alone:
// at start the others run and health names the plugin's message; through
// the API the answer is 422 with that message and nothing is left behind.
func TestRefusedStreamFailsAlone(t *testing.T) {
	dir := t.TempDir()
	h := startHost(t, isoConfig(t, dir,
		fmt.Sprintf(isoStream, "good", "iso", ""),
		fmt.Sprintf(isoStream, "bad", "iso", `refuse = "yes"`)))
	h.token = "s3cret"
	h.waitSegments(t, "good", 2)
	bad := health(h.hostHealth(t), "bad")
	if bad.Health != model.HealthError || !strings.Contains(bad.Hint, "attribute refuse") {
		t.Errorf("bad: %s %q", bad.Health, bad.Hint)
	}
	body, _ := json.Marshal(map[string]any{"id": "bad2", "source": "test://ball?width=160&height=120&fps=10",
		"plugins": []map[string]any{{"name": "iso", "attributes": map[string]string{"refuse": "please"}}}})
	code, resp := h.doBody(t, "POST", "/api/v1/streams", "s3cret", body)
	if code != http.StatusUnprocessableEntity || !bytes.Contains(resp, []byte("attribute refuse")) {
		t.Errorf("POST a refused stream: %d %s", code, resp)
	}
	var list struct {
		Streams []model.Stream `json:"streams"`
	}
	h.get(t, "/api/v1/streams", &list)
	for _, s := range list.Streams {
		if s.ID == "bad2" {
			t.Errorf("a refused API stream is listed: %+v", s)
		}
	}
	if c := health(h.hostHealth(t), "bad2"); c.Name != "" {
		t.Errorf("a refused API stream is in health: %+v", c)
	}
	h.stop(t)
}

// Streams with plugins the host has not started yet are added and removed
// through the API for 30 s while health is polled, under the race
// detector: AddStream starts plugins while Health, the tick and the API
// read them.
func TestAddRemoveStreamsWhileHealthIsRead(t *testing.T) {
	dir := t.TempDir()
	// Info, not debug: thousands of request lines would push out of the
	// captured log whatever explains a failure at the end.
	h := startHostBin(t, raceHostBin(), isoConfig(t, dir, fmt.Sprintf(isoStream, "base", "isobase", "")), "--log-level", "info")
	h.token = "s3cret"
	var stop atomic.Bool
	var wg sync.WaitGroup
	var polls atomic.Int64
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				resp, err := http.Get(h.base + "/api/v1/health")
				if err == nil {
					resp.Body.Close()
					polls.Add(1)
				}
			}
		}()
	}
	plugins := []string{"iso", "isostop", "visual", "slowplugin", "faultplugin", "acoustic"}
	deadline := time.Now().Add(30 * time.Second)
	cycles := 0
	for i := 0; time.Now().Before(deadline); i++ {
		id := fmt.Sprintf("s%d", i)
		name := plugins[i%len(plugins)]
		body, _ := json.Marshal(map[string]any{"id": id, "source": "test://ball?width=160&height=120&fps=10&audio=440",
			"plugins": []map[string]any{{"name": name}}})
		if code, resp := h.doBody(t, "POST", "/api/v1/streams", "s3cret", body); code != http.StatusCreated {
			t.Fatalf("POST %s (%s): %d %s", id, name, code, resp)
		}
		testenv.Eventually(t, time.Minute, id+" to run", func() bool {
			return health(h.hostHealth(t), id).Counters["frames"] > 0
		})
		if code, resp := h.doBody(t, "DELETE", "/api/v1/streams/"+id, "s3cret", nil); code != http.StatusNoContent {
			t.Fatalf("DELETE %s: %d %s", id, code, resp)
		}
		cycles++
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d add/remove cycles, %d health polls", cycles, polls.Load())
	if cycles < len(plugins) {
		t.Errorf("only %d cycles in 30 s: not every plugin was started through the API", cycles)
	}
	h.stop(t)
	checkNoRace(t, h)
}

// A reload that changes a stream into one that cannot run keeps the
// running stream as it was: the replacement is checked before the stream
// stops.
func TestReloadKeepsStreamWhenTheChangeCannotRun(t *testing.T) {
	dir := t.TempDir()
	good := fmt.Sprintf(isoStream, "keep", "visual", "")
	cfg := isoConfig(t, dir, good)
	h := startHost(t, cfg)
	h.token = "s3cret"
	before := h.waitSegments(t, "keep", 1)
	bad := strings.Replace(good, `plugin "visual" {  }`, `plugin "visual" { version = "~> 9.0" }`, 1)
	if bad == good {
		t.Fatal("the test's config edit did not apply")
	}
	isoConfig(t, dir, bad)
	_ = h.cmd.Process.Signal(syscall.SIGHUP)
	h.waitLog(t, "keeps running unchanged")
	after := h.waitSegments(t, "keep", len(before)+3)
	if runs := h.runsOf(t, "keep"); len(runs) != 1 {
		t.Errorf("keep has %d runs: the reload stopped it", len(runs))
	}
	t.Logf("keep: %d segments before the reload, %d after", len(before), len(after))
	h.stop(t)
}

// A plugin block is checked against its plugin's attribute schema when a
// stream is added through the API (422 naming the attribute, nothing
// stored) and on SIGHUP (the running stream keeps running unchanged).
func TestPluginAttributeSchemaThroughHost(t *testing.T) {
	dir := t.TempDir()
	good := fmt.Sprintf(isoStream, "keep", "visual", "")
	cfg := isoConfig(t, dir, good)
	h := startHost(t, cfg)
	h.token = "s3cret"
	before := h.waitSegments(t, "keep", 1)
	for _, tc := range []struct {
		attrs map[string]any
		code  int
		want  string
	}{
		{map[string]any{"delay_ms": "soon"}, http.StatusUnprocessableEntity, `stream \"api\": plugin \"slowplugin\": attribute \"delay_ms\": want an integer of at least 0, got \"soon\"`},
		{map[string]any{"dlay_ms": 5}, http.StatusUnprocessableEntity, `stream \"api\": plugin \"slowplugin\": unknown attribute \"dlay_ms\" (did you mean \"delay_ms\"?)`},
		{map[string]any{"delay_ms": 1}, http.StatusCreated, ""},
	} {
		body, _ := json.Marshal(map[string]any{"id": "api", "source": "test://ball?width=160&height=120&fps=10",
			"plugins": []map[string]any{{"name": "slowplugin", "attributes": tc.attrs}}})
		code, resp := h.doBody(t, "POST", "/api/v1/streams", "s3cret", body)
		if code != tc.code || !bytes.Contains(resp, []byte(tc.want)) {
			t.Errorf("POST %v: %d %s; want %d with %s", tc.attrs, code, resp, tc.code, tc.want)
		}
	}
	h.waitSegments(t, "api", 1)

	bad := strings.Replace(good, `plugin "visual" {  }`, `plugin "visual" { threshold = 1 }`, 1)
	if bad == good {
		t.Fatal("the test's config edit did not apply")
	}
	isoConfig(t, dir, bad)
	_ = h.cmd.Process.Signal(syscall.SIGHUP)
	h.waitLog(t, "keeps running unchanged", `lsie.hcl:9:21: stream \"keep\": plugin \"visual\": unknown attribute \"threshold\" (the plugin takes no attributes)`)
	after := h.waitSegments(t, "keep", len(before)+3)
	if runs := h.runsOf(t, "keep"); len(runs) != 1 {
		t.Errorf("keep has %d runs: the reload stopped it", len(runs))
	}
	t.Logf("keep: %d segments before the reload, %d after", len(before), len(after))
	h.stop(t)
}
