package main

// End-to-end tests: built binaries, real GStreamer on clips generated here,
// real plugin processes over shared memory, the API over real HTTP. Lossless
// mode (realtime = false) makes every count exact, so the assertions are
// invariants, never timings.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
)

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lsie-e2e-bin")
	if err != nil {
		panic(err)
	}
	binDir = dir
	code := func() int {
		defer os.RemoveAll(dir)
		for _, b := range [][2]string{{"lsie-host", "."}, {"plugins/visual", "../../plugins/visual"}, {"plugins/slowplugin", "./testdata/slowplugin"}, {"plugins/acoustic", "../../plugins/acoustic"}, {"plugins/faultplugin", "./testdata/faultplugin"},
			{"plugins/transcription", "../../plugins/transcription"}, {"plugins/semantic", "../../plugins/semantic"}, {"plugins/au", "../../plugins/au"}, {"plugins/detect", "../../plugins/detect"}, {"plugins/ocr", "../../plugins/ocr"},
			// One binary, four plugins: graphplugin's role is its file name.
			{"plugins/talker", "./testdata/graphplugin"}, {"plugins/listener", "./testdata/graphplugin"},
			{"plugins/loopa", "./testdata/graphplugin"}, {"plugins/loopb", "./testdata/graphplugin"},
			// One binary, several plugins (isolation tests): the name is the file's.
			{"plugins/iso", "./testdata/isoplugin"}, {"plugins/isobase", "./testdata/isoplugin"}, {"plugins/isostop", "./testdata/isoplugin"},
			// The host under the race detector, for the isolation tests.
			{"lsie-host-race", "-race ."}} {
			args := append([]string{"build", "-o", filepath.Join(dir, b[0])}, strings.Fields(b[1])...)
			out, err := exec.Command("go", args...).CombinedOutput()
			if err != nil {
				fmt.Fprintf(os.Stderr, "build %s: %v\n%s", b[0], err, out)
				return 1
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

func hostBin() string   { return filepath.Join(binDir, "lsie-host") }
func pluginDir() string { return filepath.Join(binDir, "plugins") }
func gst(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("gst-launch-1.0", append([]string{"-q"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("gst-launch-1.0 %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// clip writes a 3 s, 30 fps H.264 MP4 of a videotestsrc pattern.
func clip(t *testing.T, dir, name string, src ...string) string {
	t.Helper()
	p := filepath.Join(dir, name+".mp4")
	args := append([]string{"videotestsrc", "num-buffers=90"}, src...)
	args = append(args, "!", "video/x-raw,width=320,height=240,framerate=30/1", "!", "x264enc", "speed-preset=ultrafast",
		"!", "mp4mux", "!", "filesink", "location="+p)
	gst(t, args...)
	return p
}

type runningHost struct {
	cmd    *exec.Cmd
	stdout *bytes.Buffer
	stderr *syncBuffer
	base   string
	// token, when set, is sent with every get.
	token string
}

type syncBuffer struct {
	bytes.Buffer
	lines chan string
	// trouble keeps the host's last warnings and errors, printed when
	// the test fails: a CI failure then says what the host saw.
	mu      sync.Mutex
	trouble []string
}

func (b *syncBuffer) keepTrouble(line string, level any) {
	if level != "warn" && level != "error" {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.trouble) == 40 {
		b.trouble = b.trouble[1:]
	}
	b.trouble = append(b.trouble, line)
}

func (b *syncBuffer) troubleLines() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.trouble, "\n")
}

func startHost(t testing.TB, configPath string, extra ...string) *runningHost {
	t.Helper()
	return startHostBin(t, hostBin(), configPath, extra...)
}

// startHostBin is startHost with another build of the host (the race
// detector's).
func startHostBin(t testing.TB, bin, configPath string, extra ...string) *runningHost {
	t.Helper()
	args := append([]string{"--plugins", pluginDir(), "--config", configPath, "--log-format", "json", "--log-level", "debug"}, extra...)
	cmd := exec.Command(bin, args...)
	h := &runningHost{cmd: cmd, stdout: &bytes.Buffer{}, stderr: &syncBuffer{lines: make(chan string, 4096)}}
	cmd.Stdout = h.stdout
	pr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	t.Cleanup(func() {
		if tr := h.stderr.troubleLines(); t.Failed() && tr != "" {
			t.Logf("the host's last warnings and errors:\n%s", tr)
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["@message"] == "api listening" {
				addr <- fmt.Sprint(m["addr"])
			}
			h.stderr.keepTrouble(line, m["@level"])
			select {
			case h.stderr.lines <- line:
			default:
			}
		}
		close(h.stderr.lines)
	}()
	select {
	case a := <-addr:
		h.base = "http://" + a
	case <-time.After(60 * time.Second):
		t.Fatalf("host did not start its API; log:\n%s", drain(h.stderr.lines))
	}
	return h
}

func drain(c chan string) string {
	var b strings.Builder
	for {
		select {
		case l, ok := <-c:
			if !ok {
				return b.String()
			}
			b.WriteString(l + "\n")
		default:
			return b.String()
		}
	}
}

func (h *runningHost) get(t testing.TB, path string, v any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, h.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: decoding: %v", path, err)
	}
	return resp.StatusCode
}

// waitStreams polls the health route until no stream is still running.
func (h *runningHost) waitStreams(t *testing.T) model.HostHealth {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		var hh model.HostHealth
		h.get(t, "/api/v1/health", &hh)
		running := 0
		for _, c := range hh.Components {
			// Degraded (a plugin in error, say) and recovering streams run.
			if c.Kind == "stream" && c.Health != model.HealthEnded && c.Health != model.HealthError {
				running++
			}
		}
		if running == 0 {
			return hh
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("streams did not finish; log:\n%s", drain(h.stderr.lines))
	return model.HostHealth{}
}

// stop sends SIGINT and requires a clean exit.
func (h *runningHost) stop(t testing.TB) {
	t.Helper()
	_ = h.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- h.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("host exited with %v; log:\n%s", err, drain(h.stderr.lines))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("host did not stop within 30 s of SIGINT")
	}
}

func writeConfig(t testing.TB, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "lsie.hcl")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

type segmentList struct {
	Segments []model.Segment `json:"segments"`
}

func TestEndToEndLossless(t *testing.T) {
	dir := t.TempDir()
	clips := map[string]string{
		"white":  clip(t, dir, "white", "pattern=white"),
		"black":  clip(t, dir, "black", "pattern=black"),
		"still":  clip(t, dir, "still", "pattern=colors"),
		"moving": clip(t, dir, "moving", "pattern=smpte", "horizontal-speed=20"),
	}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "segment { duration = \"1s\" }\nstore { sqlite = %q }\napi { listen = \"127.0.0.1:0\" }\n", filepath.Join(dir, "lsie.db"))
	for _, name := range []string{"white", "black", "still", "moving"} {
		fmt.Fprintf(&cfg, "stream %q {\n  source = \"file://%s\"\n  realtime = false\n  video {\n    fps = 5\n    max_width = 640\n  }\n  plugin \"visual\" {}\n}\n", name, clips[name])
	}
	// A test source with an exact duration runs beside the files.
	cfg.WriteString("stream \"pattern\" {\n  source = \"test://ball?width=640&height=480&fps=30&duration=2s\"\n  realtime = false\n  plugin \"visual\" {}\n}\n")
	h := startHost(t, writeConfig(t, dir, cfg.String()))
	hh := h.waitStreams(t)
	for _, c := range hh.Components {
		if c.Kind == "stream" && (c.Health != model.HealthEnded || c.Counters["dropped"] != 0 || c.Counters["pool_exhausted"] != 0) {
			t.Errorf("stream %s: health %s, counters %v", c.Name, c.Health, c.Counters)
		}
	}

	var streams struct {
		Streams []model.Stream `json:"streams"`
	}
	if h.get(t, "/api/v1/streams", &streams); len(streams.Streams) != 5 {
		t.Fatalf("API lists %d streams, want 5", len(streams.Streams))
	}

	means := map[string]map[string]float64{}
	wantSegments := map[string]int{"white": 3, "black": 3, "still": 3, "moving": 3, "pattern": 2}
	for name, want := range wantSegments {
		var sl segmentList
		if code := h.get(t, "/api/v1/streams/"+name+"/segments?since=0", &sl); code != 200 {
			t.Fatalf("%s: segments status %d", name, code)
		}
		if len(sl.Segments) != want {
			t.Fatalf("%s: %d segments, want %d: %+v", name, len(sl.Segments), want, sl.Segments)
		}
		sum := map[string]float64{}
		for i, seg := range sl.Segments {
			v := seg.Plugins["visual"]
			if seg.Index != int64(i) || seg.Status != model.SegmentComplete || seg.FramesSeen != 5 || seg.FramesDropped != 0 ||
				v.FramesAnalysed != 5 || v.FramesSkipped != 0 || v.Errors != 0 {
				t.Errorf("%s segment %d: index %d status %s reasons %v seen %d dropped %d visual %+v",
					name, i, seg.Index, seg.Status, seg.Reasons, seg.FramesSeen, seg.FramesDropped, v)
			}
			if seg.MediaStart != time.Duration(i)*time.Second || seg.MediaEnd != time.Duration(i+1)*time.Second {
				t.Errorf("%s segment %d covers %v–%v", name, i, seg.MediaStart, seg.MediaEnd)
			}
			for k, a := range v.Aggregates {
				sum[k] += a.Mean / float64(len(sl.Segments))
			}
		}
		means[name] = sum
	}
	t.Logf("segment means: %v", means)
	if means["white"]["brightness"] < 230 || means["black"]["brightness"] > 25 {
		t.Errorf("brightness: white %.1f, black %.1f", means["white"]["brightness"], means["black"]["brightness"])
	}
	if means["still"]["motion"] > 1 || means["moving"]["motion"] < 10 || means["moving"]["motion"] < 20*means["still"]["motion"] {
		t.Errorf("motion: still %.2f, moving %.2f", means["still"]["motion"], means["moving"]["motion"])
	}

	// One segment in full: items per frame, joined by time.
	var seg model.Segment
	if code := h.get(t, "/api/v1/segments/white/1", &seg); code != 200 {
		t.Fatalf("segment status %d", code)
	}
	items := seg.Plugins["visual"].Items
	if len(items) != 5 {
		t.Fatalf("white/1 has %d items, want 5", len(items))
	}
	for i, it := range items {
		if want := time.Second + time.Duration(i)*200*time.Millisecond; it.PTS != want {
			t.Errorf("item %d at %v, want %v", i, it.PTS, want)
		}
	}
	// Bad requests are the user's mistake: JSON 4xx, never a 500.
	var e map[string]any
	if code := h.get(t, "/api/v1/streams/white/segments?since=abc", &e); code != 400 {
		t.Errorf("bad since: status %d", code)
	}
	if code := h.get(t, "/api/v1/segments/nope/0", &e); code != 404 {
		t.Errorf("unknown stream: status %d", code)
	}
	h.stop(t)
	if lines := strings.Count(h.stdout.String(), "\n"); lines != 1+3*4+2 {
		t.Errorf("printed %d lines, want a header and one per segment:\n%s", lines, h.stdout)
	}
}

// A source failing at run time puts its stream in error with GStreamer's
// message; the other streams run on.
func TestSourceFailureIsolated(t *testing.T) {
	dir := t.TempDir()
	good := clip(t, dir, "good", "pattern=white")
	bad := filepath.Join(dir, "bad.mp4")
	if err := os.WriteFile(bad, bytes.Repeat([]byte("not a video "), 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`segment { duration = "1s" }
store { sqlite = %q }
api { listen = "127.0.0.1:0" }
stream "good" {
  source = "file://%s"
  realtime = false
  plugin "visual" {}
}
stream "bad" {
  source = "file://%s"
  realtime = false
  plugin "visual" {}
}
`, filepath.Join(dir, "lsie.db"), good, bad)
	h := startHost(t, writeConfig(t, dir, cfg))
	hh := h.waitStreams(t)
	health := map[string]model.ComponentHealth{}
	for _, c := range hh.Components {
		health[c.Name] = c
	}
	if b := health["bad"]; b.Health != model.HealthError || b.Hint == "" {
		t.Errorf("bad stream: %+v", b)
	}
	if g := health["good"]; g.Health != model.HealthEnded || g.Counters["frames"] != 15 {
		t.Errorf("good stream: %+v", g)
	}
	if hh.Status != model.HealthDegraded {
		t.Errorf("host status %s, want degraded", hh.Status)
	}
	var sl segmentList
	if h.get(t, "/api/v1/streams/good/segments", &sl); len(sl.Segments) != 3 {
		t.Errorf("good stream has %d segments", len(sl.Segments))
	}
	h.stop(t)
}

func runHost(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(hostBin(), args...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

func TestBadInputOneClearLine(t *testing.T) {
	dir := t.TempDir()
	good := clip(t, dir, "good", "pattern=white")
	cases := []struct {
		name, config string
		want         *regexp.Regexp
	}{
		{"unknown field", "stream \"a\" {\n  source = \"test://smpte\"\n  fsp = 5\n}\n",
			regexp.MustCompile(`lsie\.hcl:3:3: stream "a": unknown attribute "fsp"`)},
		{"bad duration", "segment { duration = \"ten\" }\nstream \"a\" { source = \"test://smpte\" }\n",
			regexp.MustCompile(`lsie\.hcl:1:\d+: segment\.duration: .*not a duration`)},
		{"missing plugin", fmt.Sprintf("stream \"a\" {\n  source = \"file://%s\"\n  plugin \"nosuch\" {}\n}\n", good),
			regexp.MustCompile(`plugin not found: "nosuch"`)},
		{"cuda frames in a CPU build", "stream \"a\" {\n  source = \"test://smpte\"\n  video { memory = \"cuda\" }\n}\n",
			regexp.MustCompile(`stream "a": video\.memory = "cuda": stream cannot run: built without CUDA`)},
		{"missing file", "stream \"a\" { source = \"file:///no/such/clip.mp4\" }\n",
			regexp.MustCompile(`lsie\.hcl:1:\d+: stream "a": source: .*/no/such/clip\.mp4`)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := writeConfig(t, t.TempDir(), tc.config)
			out, code := runHost(t, "--plugins", pluginDir(), "--config", cfg)
			if code == 0 || !tc.want.MatchString(out) {
				t.Fatalf("exit %d, output:\n%s", code, out)
			}
			if n := strings.Count(strings.TrimSpace(out), "\n"); n > 2 {
				t.Errorf("want one clear line, got %d:\n%s", n+1, out)
			}
		})
	}
}

func TestPluginsLsSkipsNonPlugins(t *testing.T) {
	dir := t.TempDir()
	visual, err := os.ReadFile(filepath.Join(pluginDir(), "visual"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"visual":    string(visual),
		"sleeper":   "#!/bin/sh\nsleep 60\n",
		"chatty":    "#!/bin/sh\necho hello\n",
		"notes.txt": "not executable",
	}
	for name, body := range files {
		mode := os.FileMode(0o755)
		if name == "notes.txt" {
			mode = 0o644
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	out, code := runHost(t, "plugins", "ls", "--plugins", dir, "--log-level", "error")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if time.Since(start) > 20*time.Second {
		t.Errorf("plugins ls took %v", time.Since(start))
	}
	for _, want := range []string{`visual\s+0\.1\.0\s+1\s+video\.rgb24\s`, `sleeper\s.*\sfailed: not an lsie plugin`, `chatty\s.*\sfailed: not an lsie plugin`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "notes.txt") {
		t.Errorf("non-executable file listed:\n%s", out)
	}
	out, code = runHost(t, "plugins", "inspect", "--plugins", dir, "--log-level", "error", "visual")
	for _, want := range []string{`name:\s+visual`, `sha256:\s+[0-9a-f]{64}`, `health:\s+ok`, `inputs:\s+video.rgb24`, `brightness\s+float64`} {
		if code != 0 || !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("plugins inspect lacks %q (exit %d):\n%s", want, code, out)
		}
	}
	if out, code := runHost(t, "plugins", "inspect", "--plugins", dir, "nosuch"); code == 0 || !strings.Contains(out, "plugin not found") {
		t.Errorf("inspecting a missing plugin: exit %d\n%s", code, out)
	}
	// A plugin taking a model input on the GPU shows it (started here: the
	// manifest is all inspect needs, no GPU).
	if b, err := exec.Command("go", "build", "-o", filepath.Join(dir, "tensor64"), "../../host/testdata/tensorplugin").CombinedOutput(); err != nil {
		t.Fatalf("build tensorplugin: %v\n%s", err, b)
	}
	out, code = runHost(t, "plugins", "inspect", "--plugins", dir, "--log-level", "error", "tensor64")
	if want := "model input: 64x64 planar RGB float32 on the GPU, mean [0.485 0.456 0.406], std [0.229 0.224 0.225]"; code != 0 || !strings.Contains(out, want) {
		t.Errorf("plugins inspect lacks %q (exit %d):\n%s", want, code, out)
	}
}

func TestConfigCheckShippedConfigs(t *testing.T) {
	files, _ := filepath.Glob("../../configs/*.hcl")
	if len(files) == 0 {
		t.Fatal("no configs")
	}
	for _, f := range files {
		out, code := runHost(t, "config", "check", f)
		if code != 0 || !strings.Contains(out, ": ok:") {
			t.Errorf("%s: exit %d\n%s", f, code, out)
		}
		if strings.HasSuffix(f, "example.hcl") && (!strings.Contains(out, `telemetry source "polar": clock offset -250ms`) ||
			!strings.Contains(out, `experiment "greeting": arms [warm, neutral, playful], assignment thompson`) ||
			strings.Contains(out, "change-me")) {
			t.Errorf("%s: telemetry and experiments not summarised (or the secret shown):\n%s", f, out)
		}
		if strings.HasSuffix(f, "cuda.hcl") && !strings.Contains(out, `memory cuda (this binary cannot run it: built without CUDA`) {
			t.Errorf("%s: a CUDA stream checked by a build without CUDA is not flagged:\n%s", f, out)
		}
	}
}

// Live sources never block: a plugin slower than the analysis rate gets the
// latest frame, older waiting ones are skipped and counted, and every frame
// capture produced is accounted for in its segment.
func TestLiveLatestWins(t *testing.T) {
	dir := t.TempDir()
	cfg := fmt.Sprintf(`segment {
  duration = "1s"
  max_close_delay = "3s"
}
store { sqlite = %q }
api { listen = "127.0.0.1:0" }
stream "live" {
  source = "test://ball?width=320&height=240&fps=30&audio=300"
  realtime = true
  video { fps = 10 }
  plugin "visual" {}
  plugin "acoustic" {}
  plugin "slowplugin" {
    window   = 1
    delay_ms = "250"
  }
}
`, filepath.Join(dir, "lsie.db"))
	h := startHost(t, writeConfig(t, dir, cfg))
	var sl segmentList
	deadline := time.Now().Add(60 * time.Second)
	for len(sl.Segments) < 4 && time.Now().Before(deadline) {
		time.Sleep(250 * time.Millisecond)
		h.get(t, "/api/v1/streams/live/segments", &sl)
	}
	var hh model.HostHealth
	h.get(t, "/api/v1/health", &hh)
	h.stop(t)
	if len(sl.Segments) < 4 {
		t.Fatalf("only %d segments in 60 s", len(sl.Segments))
	}
	for _, c := range hh.Components {
		if c.Kind != "stream" {
			continue
		}
		if c.Counters["pool_exhausted"] != 0 || c.Counters["dropped"] != 0 {
			t.Errorf("a pool sized per Contract 1 ran out: %v", c.Counters)
		}
		// Latency counters must be real measurements: positive, under a second.
		for _, k := range []string{"plugin.visual.handoff_p50_ns", "plugin.visual.handoff_p99_ns",
			"plugin.acoustic.audio_latency_p50_ns", "plugin.acoustic.audio_latency_p99_ns"} {
			if v := c.Counters[k]; v <= 0 || v >= int64(time.Second) {
				t.Errorf("%s = %d ns", k, v)
			}
		}
		if c.Counters["plugin.acoustic.audio_dropped"] != 0 {
			t.Errorf("audio dropped: %v", c.Counters)
		}
	}
	skipped := 0
	for i, seg := range sl.Segments {
		if i > 0 && seg.Index != sl.Segments[i-1].Index+1 {
			t.Errorf("segment %d follows %d", seg.Index, sl.Segments[i-1].Index)
		}
		for name, p := range seg.Plugins {
			if name == "acoustic" {
				continue // audio plugins see no frames
			}
			if got := p.FramesAnalysed + p.FramesSkipped + p.Errors; got != seg.FramesSeen-seg.FramesDropped {
				t.Errorf("segment %d %s: analysed %d + skipped %d + errors %d != seen %d - dropped %d",
					seg.Index, name, p.FramesAnalysed, p.FramesSkipped, p.Errors, seg.FramesSeen, seg.FramesDropped)
			}
		}
		if v := seg.Plugins["visual"]; v.FramesSkipped != 0 {
			t.Errorf("segment %d: the fast plugin skipped %d frames", seg.Index, v.FramesSkipped)
		}
		skipped += seg.Plugins["slowplugin"].FramesSkipped
		// Live audio on a loaded machine may lose a few ms: then only as a
		// recorded gap (checked against the window below).
		if i > 0 && slices.ContainsFunc(seg.Reasons, func(r string) bool { return r != model.ReasonAudioGap }) {
			t.Errorf("segment %d: %s %v", seg.Index, seg.Status, seg.Reasons)
		}
		if ac := seg.Plugins["acoustic"]; i > 0 && (math.Abs(seg.AudioSeconds+seg.AudioGapSeconds-1) > 1e-9 || ac.AudioSeconds != seg.AudioSeconds) {
			t.Errorf("segment %d: audio %v + gaps %v, acoustic analysed %v", seg.Index, seg.AudioSeconds, seg.AudioGapSeconds, ac.AudioSeconds)
		}
	}
	if skipped == 0 {
		t.Error("a plugin 2.5× slower than the frame rate skipped nothing")
	}
}

// avClip writes a 3 s clip with video and a raw PCM track in QuickTime, so
// the sample count is exact: AAC adds encoder priming, and Matroska's
// millisecond timestamps stretch the file to 3.000333 s.
func avClip(t *testing.T, dir, name string, audio ...string) string {
	t.Helper()
	p := filepath.Join(dir, name+".mov")
	args := []string{"videotestsrc", "num-buffers=90", "pattern=smpte", "!", "video/x-raw,width=320,height=240,framerate=30/1",
		"!", "x264enc", "speed-preset=ultrafast", "!", "mux."}
	args = append(args, "audiotestsrc", "num-buffers=30", "samplesperbuffer=1600")
	args = append(args, audio...)
	args = append(args, "!", "audio/x-raw,format=S16LE,rate=16000,channels=1", "!", "mux.",
		"qtmux", "name=mux", "!", "filesink", "location="+p)
	gst(t, args...)
	return p
}

func TestEndToEndAudio(t *testing.T) {
	dir := t.TempDir()
	clips := map[string]string{
		"tone220": avClip(t, dir, "tone220", "wave=sine", "freq=220", "volume=0.5"),
		"tone440": avClip(t, dir, "tone440", "wave=sine", "freq=440", "volume=0.5"),
		"silence": avClip(t, dir, "silence", "wave=silence"),
		"noaudio": clip(t, dir, "noaudio", "pattern=white"),
	}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "segment { duration = \"1s\" }\nstore { sqlite = %q }\napi { listen = \"127.0.0.1:0\" }\n", filepath.Join(dir, "lsie.db"))
	for _, name := range []string{"tone220", "tone440", "silence", "noaudio"} {
		fmt.Fprintf(&cfg, "stream %q {\n  source = \"file://%s\"\n  realtime = false\n  plugin \"visual\" {}\n  plugin \"acoustic\" {}\n}\n", name, clips[name])
	}
	cfg.WriteString("stream \"test330\" {\n  source = \"test://ball?width=320&height=240&fps=30&duration=3s&audio=330\"\n  realtime = false\n  plugin \"visual\" {}\n  plugin \"acoustic\" {}\n}\n")
	h := startHost(t, writeConfig(t, dir, cfg.String()))
	hh := h.waitStreams(t)
	for _, c := range hh.Components {
		if c.Kind == "stream" && c.Health != model.HealthEnded {
			t.Errorf("stream %s: %s %s", c.Name, c.Health, c.Hint)
		}
	}
	wantF0 := map[string]float64{"tone220": 220, "tone440": 440, "test330": 330}
	for _, name := range []string{"tone220", "tone440", "silence", "noaudio", "test330"} {
		var sl segmentList
		h.get(t, "/api/v1/streams/"+name+"/segments", &sl)
		if len(sl.Segments) != 3 {
			t.Fatalf("%s: %d segments, want 3", name, len(sl.Segments))
		}
		for i := range sl.Segments {
			var seg model.Segment
			h.get(t, fmt.Sprintf("/api/v1/segments/%s/%d", name, i), &seg)
			ac, vis := seg.Plugins["acoustic"], seg.Plugins["visual"]
			if vis.FramesAnalysed != 5 || seg.Status != model.SegmentComplete {
				t.Errorf("%s/%d: status %s %v, visual analysed %d", name, i, seg.Status, seg.Reasons, vis.FramesAnalysed)
			}
			// Audio and video results of the same second land in the same segment.
			for _, p := range []model.PluginSegment{ac, vis} {
				for _, it := range p.Items {
					if it.PTS < seg.MediaStart || it.PTS >= seg.MediaEnd {
						t.Errorf("%s/%d: %s item at %v outside %v–%v", name, i, p.Plugin, it.PTS, seg.MediaStart, seg.MediaEnd)
					}
				}
			}
			if name == "noaudio" {
				if ac.Status != model.PluginNoAudio || len(ac.Items) != 0 || seg.AudioSeconds != 0 {
					t.Errorf("noaudio/%d: acoustic %+v", i, ac)
				}
				continue
			}
			// Sample counts exact across chunk boundaries: 1 s of audio, 100 hops.
			if seg.AudioSeconds != 1 || seg.AudioGapSeconds != 0 || ac.AudioSeconds != 1 || len(ac.Items) != 100 {
				t.Errorf("%s/%d: audio %v s (gaps %v), acoustic analysed %v s in %d hops", name, i, seg.AudioSeconds, seg.AudioGapSeconds, ac.AudioSeconds, len(ac.Items))
			}
			voiced := ac.Aggregates["voiced"].Mean
			if f, ok := wantF0[name]; ok {
				f0 := ac.Aggregates["f0_hz"]
				if math.Abs(f0.P50-f)/f > 0.01 || voiced < 0.95 {
					t.Errorf("%s/%d: F0 p50 %.2f Hz (want %v ±1%%), voiced %.2f", name, i, f0.P50, f, voiced)
				}
			}
			if name == "silence" {
				if _, ok := ac.Aggregates["f0_hz"]; ok || voiced != 0 || ac.Aggregates["loudness_dbfs"].Max > -100 {
					t.Errorf("silence/%d: %+v", i, ac.Aggregates)
				}
			}
		}
	}
	h.stop(t)
}

// Looping a clip keeps one time line for audio and video: segment after
// segment holds exactly one second of audio (or explicit gaps).
func TestLoopedAudioSampleExact(t *testing.T) {
	dir := t.TempDir()
	c := avClip(t, dir, "loop", "wave=sine", "freq=220", "volume=0.5")
	cfg := fmt.Sprintf(`segment { duration = "1s" }
store { sqlite = %q }
api { listen = "127.0.0.1:0" }
stream "loop" {
  source = "file://%s"
  realtime = false
  loop = true
  plugin "acoustic" {}
}
`, filepath.Join(dir, "lsie.db"), c)
	h := startHost(t, writeConfig(t, dir, cfg))
	var sl segmentList
	deadline := time.Now().Add(90 * time.Second)
	for len(sl.Segments) < 8 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		h.get(t, "/api/v1/streams/loop/segments", &sl)
	}
	h.stop(t)
	if len(sl.Segments) < 8 {
		t.Fatalf("%d segments", len(sl.Segments))
	}
	for i, seg := range sl.Segments[:8] {
		if seg.Index != int64(i) || math.Abs(seg.AudioSeconds+seg.AudioGapSeconds-1) > 1e-9 || seg.Plugins["acoustic"].AudioSeconds != seg.AudioSeconds {
			t.Errorf("segment %d: index %d audio %v gap %v analysed %v", i, seg.Index, seg.AudioSeconds, seg.AudioGapSeconds, seg.Plugins["acoustic"].AudioSeconds)
		}
	}
}
