package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/internal/testenv"
	plugattrs "github.com/lsie-mlf/lsie/plugins/internal/attrs"
	"github.com/lsie-mlf/lsie/plugins/ocr/paddle"
	"github.com/lsie-mlf/lsie/sdk"
	"github.com/lsie-mlf/lsie/sdk/plugintest"
)

// modelAttrs names the model folder, or skips (locally) / fails (CI)
// without the models.
func modelAttrs(tb testing.TB) map[string]string {
	tb.Helper()
	dir, err := filepath.Abs("../../var/models")
	if err != nil {
		tb.Fatal(err)
	}
	for _, f := range []string{paddle.DetFile, paddle.ClsFile, paddle.RecFile, paddle.DictFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			testenv.Missing(tb, "%s (scripts/fetch-models.sh)", filepath.Join(dir, f))
		}
	}
	return map[string]string{"model_dir": dir}
}

// textFrame renders text with GStreamer's textoverlay at the bottom left of
// a 640×360 SMPTE pattern.
func textFrame(t *testing.T, text string) plugintest.Frame {
	t.Helper()
	if err := exec.Command("gst-inspect-1.0", "textoverlay").Run(); err != nil {
		testenv.Missing(t, "GStreamer's textoverlay (gstreamer1.0-x)")
	}
	path := filepath.Join(t.TempDir(), "frame.rgb")
	out, err := exec.Command("gst-launch-1.0", "-q", "videotestsrc", "pattern=smpte", "num-buffers=1",
		"!", "video/x-raw,format=I420,width=640,height=360", "!", "textoverlay", fmt.Sprintf("text=%q", text),
		`font-desc="DejaVu Sans Bold 28"`, "auto-resize=false", "valignment=bottom", "halignment=left", "shaded-background=true",
		"!", "videoconvert", "!", "video/x-raw,format=RGB", "!", "filesink", "location="+path).CombinedOutput()
	if err != nil {
		t.Fatalf("gst-launch-1.0: %v\n%s", err, out)
	}
	px, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return plugintest.Frame{Width: 640, Height: 360, Pixels: px}
}

func at(f plugintest.Frame, seconds float64) plugintest.Frame {
	f.PTS = time.Duration(seconds * float64(time.Second))
	return f
}

// The plugin over the real protocol: a run reads the lower third; frames
// within `every` are answered from that run (a black frame still "shows"
// the text, ran = 0); the next run reads what is there; a text that stays
// keeps its track id, one that comes back after a run without it gets a
// new one.
func TestPluginEvery(t *testing.T) {
	attrs := modelAttrs(t)
	text := textFrame(t, "BREAKING NEWS")
	black := plugintest.SolidFrame(640, 360, 0, 0, 0)
	h := plugintest.Start(t, plugintest.Build(t, "."))
	if m := h.Manifest(); m.Name != "ocr" || len(m.Labels) != 1 || m.Labels[0] != "text" {
		t.Fatalf("manifest %+v", m)
	}
	attrs["every"] = "1s"
	s := h.Open("cam", attrs)
	defer s.Close()

	type want struct {
		ran   float64
		age   float64
		text  string // "" for no lines
		track int64
	}
	for i, step := range []struct {
		f    plugintest.Frame
		want want
	}{
		{at(text, 0), want{1, 0, "BREAKING NEWS", 1}},
		{at(black, 0.5), want{0, 0.5, "BREAKING NEWS", 1}},
		{at(text, 0.9), want{0, 0.9, "BREAKING NEWS", 1}},
		{at(black, 1.0), want{1, 0, "", 0}},
		{at(text, 1.5), want{0, 0.5, "", 0}},
		{at(text, 2.0), want{1, 0, "BREAKING NEWS", 2}},
		{at(text, 3.5), want{1, 0, "BREAKING NEWS", 2}},
	} {
		r := s.Frame(step.f)
		if r.ErrCode != "" {
			t.Fatalf("frame %d: %s: %s", i, r.ErrCode, r.ErrMsg)
		}
		w := step.want
		f := r.Fields
		if f["ran"] != w.ran || !near(f["age_s"], w.age) {
			t.Errorf("frame %d: ran %v age_s %v, want %v %v", i, f["ran"], f["age_s"], w.ran, w.age)
		}
		_, timed := f["detect_ms"]
		if timed != (w.ran == 1) || f["total_ms"] <= 0 {
			t.Errorf("frame %d: fields %v: model times on runs only, total always", i, f)
		}
		if w.text == "" {
			if len(r.Objects) != 0 || f["lines"] != 0 {
				t.Errorf("frame %d: %d objects, lines %v; want none", i, len(r.Objects), f["lines"])
			}
			if _, ok := f["confidence"]; ok {
				t.Errorf("frame %d: confidence without lines", i)
			}
			continue
		}
		if len(r.Objects) != 1 || f["lines"] != 1 || f["chars"] != float64(len(strings.ReplaceAll(w.text, " ", ""))) {
			t.Fatalf("frame %d: objects %+v, fields %v; want one line %q", i, r.Objects, f, w.text)
		}
		o := r.Objects[0]
		// textoverlay lays it out 25 px from the left and bottom edges
		// (xpad, ypad): its ink (outline and shadow included) spans x 28..379,
		// y 294..326 (the frame rendered without the text, compared).
		if o.Label != "text" || o.Text != w.text || o.TrackID != w.track || o.Score < 0.9 || o.Score != f["confidence"] ||
			!near(o.Box.X, 28.0/640) || !near(o.Box.X+o.Box.W, 379.0/640) || !near(o.Box.Y, 294.0/360) || !near(o.Box.Y+o.Box.H, 326.0/360) || o.Box.H < 28.0/360 || o.Box.H > 44.0/360 ||
			len(o.Keypoints) != 4 || o.Attributes["height_px"] < 30 || o.Attributes["turned"] != 0 {
			t.Errorf("frame %d: object %+v, want %q, track %d, at the bottom left", i, o, w.text, w.track)
		}
	}
}

// near is equality within 0.02 (normalised boxes: ~10 px; seconds).
func near(a, b float64) bool { return a-b < 0.02 && b-a < 0.02 }

// every = "0s" reads every frame.
func TestPluginEveryFrame(t *testing.T) {
	attrs := modelAttrs(t)
	black := plugintest.SolidFrame(320, 240, 0, 0, 0)
	h := plugintest.Start(t, plugintest.Build(t, "."))
	attrs["every"] = "0s"
	s := h.Open("cam", attrs)
	defer s.Close()
	for i := range 3 {
		if r := s.Frame(at(black, 0.1*float64(i))); r.ErrCode != "" || r.Fields["ran"] != 1 || r.Fields["lines"] != 0 {
			t.Errorf("frame %d: %v %s %s", i, r.Fields, r.ErrCode, r.ErrMsg)
		}
	}
}

func TestPluginBadInput(t *testing.T) {
	attrs := modelAttrs(t)
	h := plugintest.Start(t, plugintest.Build(t, "."))
	s := h.Open("cam", attrs)
	defer s.Close()
	for _, tc := range []struct {
		name string
		f    plugintest.Frame
	}{
		{"gray8", plugintest.Frame{Width: 64, Height: 48, Format: sdk.FormatGray8, Pixels: make([]byte, 64*48)}},
		{"one pixel", plugintest.SolidFrame(1, 1, 255, 255, 255)},
	} {
		if r := s.Frame(tc.f); r.ErrCode != "bad_input" {
			t.Errorf("%s: %q %q, want bad_input", tc.name, r.ErrCode, r.ErrMsg)
		}
	}
	for _, tc := range []struct{ attr, value string }{
		{"every", "-1s"},
		{"min_height", "tall"},
		{"threshold", "2"},
		{"max_lines", "0"},
	} {
		a := map[string]string{"model_dir": attrs["model_dir"], tc.attr: tc.value}
		if _, err := h.TryOpen("bad", a); err == nil || !strings.Contains(err.Error(), tc.attr) {
			t.Errorf("%s = %q: %v, want a refusal naming it", tc.attr, tc.value, err)
		}
	}
	a := map[string]string{"model_dir": t.TempDir()}
	if _, err := h.TryOpen("nomodels", a); err == nil || !strings.Contains(err.Error(), "model_error") || !strings.Contains(err.Error(), "ch_PP-OCRv4_det_infer.onnx") {
		t.Errorf("an empty model folder: %v, want model_error naming the file", err)
	}
}

// Track ids: overlap and similar text keep an id, a new text in the same
// place or a text elsewhere gets a new one.
func TestTracker(t *testing.T) {
	obj := func(text string, x, y float64) sdk.Object {
		return sdk.Object{Text: text, Box: sdk.Box{X: x, Y: y, W: 0.3, H: 0.05}}
	}
	var tr tracker
	ids := func(objs ...sdk.Object) []int64 {
		tr.assign(objs)
		var out []int64
		for _, o := range objs {
			out = append(out, o.TrackID)
		}
		return out
	}
	steps := []struct {
		objs []sdk.Object
		want []int64
	}{
		{[]sdk.Object{obj("HOME 3 - 1 AWAY", 0.6, 0.05), obj("BREAKING NEWS", 0.05, 0.85)}, []int64{1, 2}},
		{[]sdk.Object{obj("BREAKING NEWS", 0.05, 0.851), obj("HOME 3 - 2 AWAY", 0.6, 0.05)}, []int64{2, 1}},
		{[]sdk.Object{obj("WEATHER TODAY", 0.05, 0.85), obj("HOME 3 - 2 AWAY", 0.2, 0.5)}, []int64{3, 4}},
		{nil, nil},
		{[]sdk.Object{obj("WEATHER TODAY", 0.05, 0.85)}, []int64{5}},
	}
	for i, st := range steps {
		got := ids(st.objs...)
		if fmt.Sprint(got) != fmt.Sprint(st.want) {
			t.Errorf("step %d: ids %v, want %v", i, got, st.want)
		}
	}
}

// BenchmarkCachedFrame is the cost of a frame between runs (every): the
// last run's lines answered again, in process.
func BenchmarkCachedFrame(b *testing.B) {
	attrs := modelAttrs(b)
	m := plugin{}.Manifest()
	info, err := plugattrs.StreamInfo(m, "cam", attrs)
	if err != nil {
		b.Fatal(err)
	}
	st, err := plugin{}.OpenStream(info)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	s := st.(*stream)
	px := make([]byte, 3*640*360)
	f := &sdk.Frame{Width: 640, Height: 360, Stride: 3 * 640, Format: sdk.FormatRGB24, Pixels: px}
	if _, _, err := s.ProcessFrameObjects(f); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		f.PTS++
		if fields, _, err := s.ProcessFrameObjects(f); err != nil || fields["ran"] != 0 {
			b.Fatalf("%v %v", fields, err)
		}
	}
}
