package main

import (
	"fmt"
	"maps"
	"math"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/internal/testenv"
	"github.com/lsie-mlf/lsie/sdk"
	"github.com/lsie-mlf/lsie/sdk/plugintest"
)

// python is the interpreter Debian's python3-grpcio, -numpy and -torch are
// installed for (scripts/setup.sh); the plugin files name it too.
const python = "/usr/bin/python3"

// needPython skips (fails in CI) unless python can run the Python SDK and
// the examples and its stubs can be generated, naming what is missing.
func needPython(t *testing.T, modules ...string) {
	t.Helper()
	imports := "import " + strings.Join(modules, ", ")
	if out, err := exec.Command(python, "-c", imports).CombinedOutput(); err != nil {
		testenv.Missing(t, "%s cannot %q (scripts/setup.sh installs python3-grpcio, -protobuf, -numpy, -cryptography, -torch): %v\n%s",
			python, imports, err, out)
	}
	for _, tool := range []string{"protoc", "grpc_python_plugin"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Missing(t, "%s (scripts/setup.sh installs protobuf-compiler, protobuf-compiler-grpc)", tool)
		}
	}
}

// buildPythonPlugin writes examples/NAME as one executable plugin file,
// DIR/NAME, the way make build does.
func buildPythonPlugin(t *testing.T, dir, name string) {
	t.Helper()
	out, err := exec.Command(python, "../../sdk/python/build.py", "plugin", "../../examples/"+name+"/plugin.py",
		filepath.Join(dir, name)).CombinedOutput()
	if err != nil {
		t.Fatalf("building %s: %v\n%s", name, err, out)
	}
}

// Python plugins run through the real host like any other: executable
// files (zipapps) in the plugins directory, pinned by plugins.lock and so
// run as verified private copies. python-brightness agrees with the Go
// examples/brightness on every frame of the same stream; python-torch's
// fields follow the content; and the data-plane counters show that no
// frame's bytes crossed either plugin's socket.
func TestPythonPluginsThroughHost(t *testing.T) {
	needPython(t, "grpc", "google.protobuf", "numpy", "cryptography", "torch")
	dir := t.TempDir()
	plugins := buildExamplePlugin(t, dir, "brightness")
	for _, name := range []string{"python-brightness", "python-torch"} {
		buildPythonPlugin(t, plugins, name)
	}
	if out, err := exec.Command(hostBin(), "plugins", "lock", "--plugins", plugins).CombinedOutput(); err != nil {
		t.Fatalf("plugins lock: %v\n%s", err, out)
	}
	ball := clip(t, dir, "ball", "pattern=ball")
	white := clip(t, dir, "white", "pattern=white")
	cfg := writeConfig(t, dir, fmt.Sprintf(`segment { duration = "1s" }
store { sqlite = %q }
api { listen = "127.0.0.1:0" }
stream "ball" {
  source = "file://%s"
  realtime = false
  video { fps = 10 }
  plugin "brightness" { threshold = 20 }
  plugin "python-brightness" { threshold = 20 }
  plugin "python-torch" {}
}
stream "white" {
  source = "file://%s"
  realtime = false
  video { fps = 10 }
  plugin "python-torch" {}
}
`, filepath.Join(dir, "lsie.db"), ball, white))
	h := startHost(t, cfg, "--plugins", plugins) // the last --plugins wins
	hh := h.waitStreams(t)

	const frames = 30 // 3 s at 10 fps
	// items are a plugin's answers on a stream: one per frame capture
	// produced (the stream is lossless), none an error. The last window may
	// close partial with end_of_stream alone: a clip's last frame can land
	// a little short of 3 s.
	items := func(stream, plugin string) []model.Item {
		t.Helper()
		var sl segmentList
		if code := h.get(t, "/api/v1/streams/"+stream+"/segments?since=0", &sl); code != 200 || len(sl.Segments) != 3 {
			t.Fatalf("%s: status %d, %d segments, want 3", stream, code, len(sl.Segments))
		}
		var out []model.Item
		seen := 0
		for i, s := range sl.Segments {
			var seg model.Segment
			h.get(t, fmt.Sprintf("/api/v1/segments/%s/%d", stream, s.Index), &seg)
			p := seg.Plugins[plugin]
			ended := i == len(sl.Segments)-1 && slices.Equal(seg.Reasons, []string{model.ReasonEndOfStream})
			if (seg.Status != model.SegmentComplete && !ended) || p.Errors != 0 || p.FramesAnalysed != seg.FramesSeen {
				t.Errorf("%s/%d: status %s %v, %s: %d errors, %d of %d frames analysed", stream, s.Index, seg.Status, seg.Reasons,
					plugin, p.Errors, p.FramesAnalysed, seg.FramesSeen)
			}
			seen += seg.FramesSeen
			out = append(out, p.Items...)
		}
		if len(out) != seen || seen < frames-2 {
			t.Fatalf("%s: %s answered %d frames of %d seen, want all of about %d", stream, plugin, len(out), seen, frames)
		}
		for _, it := range out {
			if it.Error != "" {
				t.Fatalf("%s: %s at %v: %s", stream, plugin, it.PTS, it.Error)
			}
		}
		return out
	}

	// Same frames, same numbers: every frame's centre_luma within 1e-6.
	goItems, pyItems := items("ball", "brightness"), items("ball", "python-brightness")
	if len(goItems) != len(pyItems) {
		t.Fatalf("Go answered %d frames, Python %d", len(goItems), len(pyItems))
	}
	lumas := map[float64]bool{}
	for i := range goItems {
		g, p := goItems[i], pyItems[i]
		if g.PTS != p.PTS {
			t.Fatalf("frame %d: Go at %v, Python at %v", i, g.PTS, p.PTS)
		}
		if d := math.Abs(g.Fields["centre_luma"] - p.Fields["centre_luma"]); d > 1e-6 || g.Fields["dark"] != p.Fields["dark"] {
			t.Errorf("frame %d (%v): Go %v, Python %v (luma differs by %g)", i, g.PTS, g.Fields, p.Fields, d)
		}
		lumas[g.Fields["centre_luma"]] = true
	}
	if len(lumas) < 2 {
		t.Errorf("centre_luma took %d values over the moving ball: the comparison proves little", len(lumas))
	}

	// The edge model: nothing on a white frame, edges around the ball.
	edges := map[float64]bool{}
	for _, it := range items("ball", "python-torch") {
		m, mx, fr := it.Fields["edge_mean"], it.Fields["edge_max"], it.Fields["edge_fraction"]
		if !(m > 0 && m < mx && mx <= 1 && fr > 0 && fr < 0.5) {
			t.Errorf("ball at %v: edges %v", it.PTS, it.Fields)
		}
		edges[m] = true
	}
	if len(edges) < 2 {
		t.Errorf("edge_mean took %d values over the moving ball, want it to follow the content", len(edges))
	}
	for _, it := range items("white", "python-torch") {
		if it.Fields["edge_mean"] != 0 || it.Fields["edge_max"] != 0 || it.Fields["edge_fraction"] != 0 {
			t.Errorf("white at %v: edges %v, want none", it.PTS, it.Fields)
		}
	}

	// Zero copy: each plugin's whole data-plane traffic, both ways, is
	// smaller than one frame (320×240 RGB24), and its largest packet is a
	// record, not pixels.
	const frameBytes = 320 * 240 * 3
	for _, c := range hh.Components {
		if c.Kind != "plugin" {
			continue
		}
		n := c.Counters
		t.Logf("%s: data plane %v", c.Name, n)
		if n["dataplane_sent_packets"] < frames || n["dataplane_received_packets"] < frames {
			t.Errorf("%s: %d packets sent, %d received for at least %d frames", c.Name, n["dataplane_sent_packets"], n["dataplane_received_packets"], frames)
		}
		if n["dataplane_sent_bytes"] >= frameBytes || n["dataplane_received_bytes"] >= frameBytes ||
			n["dataplane_max_sent_packet"] > 1024 || n["dataplane_max_received_packet"] > 1024 {
			t.Errorf("%s: frame-sized traffic on the data plane: %v", c.Name, n)
		}
	}
	h.stop(t)
}

// The Python SDK over sdk/plugintest (the real protocol, without the
// host): frames with objects, errors as data, audio with items, progress
// and published messages, topic messages, commands and a refused stream.
func TestPythonSDKHarness(t *testing.T) {
	needPython(t, "grpc", "google.protobuf", "numpy", "cryptography")
	bin := filepath.Join(t.TempDir(), "pyharness")
	out, err := exec.Command(python, "../../sdk/python/build.py", "plugin", "../../sdk/python/tests/harness_plugin.py", bin).CombinedOutput()
	if err != nil {
		t.Fatalf("building the harness plugin: %v\n%s", err, out)
	}
	h := plugintest.Start(t, bin)
	if m := h.Manifest(); m.Name != "pyharness" || len(m.Labels) != 1 || len(m.Inputs) != 3 {
		t.Fatalf("manifest %+v", m)
	}
	s := h.Open("cam", nil)

	res := s.Frame(plugintest.SolidFrame(64, 48, 10, 20, 30))
	want := map[string]float64{"r": 10, "g": 20, "b": 30, "width": 64, "height": 48, "stride": 192}
	if res.ErrCode != "" || !maps.Equal(res.Fields, want) {
		t.Errorf("frame: %+v, want fields %v", res, want)
	}
	if len(res.Objects) != 1 {
		t.Fatalf("frame: objects %+v, want one", res.Objects)
	}
	o := res.Objects[0]
	if o.Label != "square" || o.Box != (sdk.Box{X: 0.25, Y: 0.25, W: 0.5, H: 0.5}) || math.Abs(o.Score-0.9) > 1e-6 || o.TrackID != 3 ||
		o.Text != "hi" || o.Attributes["area"] != 0.25 || len(o.Keypoints) != 1 || o.Keypoints[0].Name != "centre" {
		t.Errorf("object %+v", o)
	}
	for _, c := range []struct {
		red      byte
		code, in string
	}{{1, "bad_input", "red 1"}, {2, "plugin_error", "ValueError: boom"}} {
		if res := s.Frame(plugintest.SolidFrame(8, 8, c.red, 0, 0)); res.ErrCode != c.code || !strings.Contains(res.ErrMsg, c.in) || len(res.Fields) != 0 {
			t.Errorf("red %d: %+v, want %s (%s)", c.red, res, c.code, c.in)
		}
	}
	if res := s.Frame(plugintest.SolidFrame(8, 8, 5, 0, 0)); res.ErrCode != "" || res.Fields["r"] != 5 {
		t.Errorf("a frame after the errors: %+v", res)
	}

	res = s.Audio(plugintest.Tone(440, 0.1, 0.5), 16000)
	if res.ErrCode != "" || len(res.Items) != 1 || res.Items[0].PTS != time.Second || res.Items[0].Duration != 100*time.Millisecond ||
		res.Items[0].Fields["n"] != 1600 || math.Abs(res.Items[0].Fields["rms"]-0.5/math.Sqrt2) > 1e-3 || res.Progress != 1100*time.Millisecond {
		t.Errorf("audio: %+v", res)
	}
	if pub := s.Published(); len(pub) != 1 || pub[0].Topic != "test.out@1" || pub[0].Text != "chunk 16000" || pub[0].PTS != time.Second ||
		pub[0].Fields["n"] != 1600 || string(pub[0].Payload) != `{"first": 16000}` {
		t.Errorf("published %+v", pub)
	}
	if res := s.EndAudio(); res.ErrCode != "" || res.Progress != math.MaxInt64 || len(res.Items) != 1 || res.Items[0].Fields["end"] != 1 {
		t.Errorf("end of audio: %+v", res)
	}

	res = s.Message(sdk.Message{Topic: "test.in@1", Producer: "talker", PTS: 2 * time.Second, Duration: time.Second, Text: "hello",
		Fields: sdk.Fields{"x": 1.5}})
	if res.ErrCode != "" || res.Fields["len"] != 5 || res.Fields["x2"] != 3 || res.Text != "HELLO" ||
		string(res.Payload) != `{"producer": "talker", "pts": 2000000000}` {
		t.Errorf("message: %+v", res)
	}

	if out, err := s.Command("echo", []byte(`{"a":1}`)); err != nil || string(out) != `{"a":1}` {
		t.Errorf("command echo: %q, %v", out, err)
	}
	if _, err := s.Command("nope", nil); err == nil || !strings.Contains(err.Error(), "bad_input") {
		t.Errorf("command nope: %v, want bad_input", err)
	}
	if _, err := h.TryOpen("other", map[string]string{"refuse": "yes"}); err == nil || !strings.Contains(err.Error(), "refused: other") {
		t.Errorf("refused stream: %v", err)
	}
	if n := h.DataPlaneBytes(); n > 64*48*3 {
		t.Errorf("%d bytes on the data plane for a 64x48 frame and more: pixels crossed it", n)
	}
	s.Close()
}
