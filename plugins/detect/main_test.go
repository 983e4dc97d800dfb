package main

import (
	"image"
	"image/draw"
	_ "image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lsie-mlf/lsie/internal/testenv"
	"github.com/lsie-mlf/lsie/plugins/detect/centernet"
	plugattrs "github.com/lsie-mlf/lsie/plugins/internal/attrs"
	"github.com/lsie-mlf/lsie/sdk"
	"github.com/lsie-mlf/lsie/sdk/plugintest"
)

const skimageDir = "/usr/lib/python3/dist-packages/skimage/data"

// modelAttrs skips (locally) or fails (CI) without the model.
func modelAttrs(tb testing.TB) map[string]string {
	tb.Helper()
	dir, err := filepath.Abs("../../var/models")
	if err != nil {
		tb.Fatal(err)
	}
	for _, f := range []string{filepath.Join(dir, centernet.ModelFile), filepath.Join(dir, "onnxruntime/libonnxruntime.so.1")} {
		if _, err := os.Stat(f); err != nil {
			testenv.Missing(tb, "%s (scripts/fetch-models.sh)", f)
		}
	}
	return map[string]string{"model_dir": dir}
}

// photo loads a python3-skimage data image as RGBA.
func photo(tb testing.TB, name string) *image.RGBA {
	tb.Helper()
	f, err := os.Open(filepath.Join(skimageDir, name))
	if err != nil {
		testenv.Missing(tb, "%s (apt-get install python3-skimage)", filepath.Join(skimageDir, name))
	}
	defer f.Close()
	src, _, err := image.Decode(f)
	if err != nil {
		tb.Fatal(err)
	}
	out := image.NewRGBA(src.Bounds())
	draw.Draw(out, out.Bounds(), src, src.Bounds().Min, draw.Src)
	return out
}

// scene is a w×h grey frame with src scaled by 1/k (nearest) at (x, y).
func scene(src *image.RGBA, w, h, k, x, y int) plugintest.Frame {
	px := make([]byte, 3*w*h)
	for i := range px {
		px[i] = 110
	}
	b := src.Bounds()
	for sy := 0; sy < b.Dy()/k; sy++ {
		for sx := 0; sx < b.Dx()/k; sx++ {
			tx, ty := x+sx, y+sy
			if tx < 0 || ty < 0 || tx >= w || ty >= h {
				continue
			}
			c := src.RGBAAt(b.Min.X+sx*k, b.Min.Y+sy*k)
			i := 3 * (ty*w + tx)
			px[i], px[i+1], px[i+2] = c.R, c.G, c.B
		}
	}
	return plugintest.Frame{Width: w, Height: h, Pixels: px}
}

func TestManifest(t *testing.T) {
	m := plugin{}.Manifest()
	if !slices.Equal(m.Labels, centernet.Labels[:]) {
		t.Errorf("labels %v, want COCO's 80", m.Labels)
	}
	var names []string
	for _, f := range m.Fields {
		names = append(names, f.Name)
	}
	for _, want := range []string{"objects", "count_person", "count_traffic_light", "count_toothbrush", "detect_ms"} {
		if !slices.Contains(names, want) {
			t.Errorf("fields %v lack %s", names, want)
		}
	}
	if len(names) != 2+len(centernet.Labels) {
		t.Errorf("%d fields, want objects, detect_ms and one count per label", len(names))
	}
}

// TestPluginOnPhotos runs the built plugin over the real protocol: the
// astronaut photo moving across a frame (one person, one track id, count
// fields for the labels asked for only), then the cat, then an empty frame.
func TestPluginOnPhotos(t *testing.T) {
	attrs := modelAttrs(t)
	attrs["labels"] = `["person", "cat"]`
	h := plugintest.Start(t, plugintest.Build(t, "."))
	s := h.Open("cam", attrs)
	astro := photo(t, "astronaut.png")
	var id int64
	for f := range 6 {
		x := 40 + 60*f
		res := s.Frame(scene(astro, 640, 360, 2, x, 60))
		if res.ErrCode != "" {
			t.Fatalf("frame %d: %s: %s", f, res.ErrCode, res.ErrMsg)
		}
		if len(res.Objects) != 1 || res.Objects[0].Label != "person" {
			t.Fatalf("frame %d: objects %+v, want one person", f, res.Objects)
		}
		o := res.Objects[0]
		if id == 0 {
			id = o.TrackID
		}
		if o.TrackID != id || id <= 0 {
			t.Fatalf("frame %d: track id %d, want %d", f, o.TrackID, id)
		}
		// The photo (256 px) sits at x..x+256 of 640: the box's centre
		// follows it.
		if cx := (o.Box.X + o.Box.W/2) * 640; cx < float64(x)+60 || cx > float64(x)+200 {
			t.Errorf("frame %d: box %+v centred at %.0f px, photo at %d..%d", f, o.Box, cx, x, x+256)
		}
		if res.Fields["count_person"] != 1 || res.Fields["count_cat"] != 0 || res.Fields["objects"] != 1 {
			t.Errorf("frame %d: fields %v", f, res.Fields)
		}
		for k := range res.Fields {
			if strings.HasPrefix(k, "count_") && k != "count_person" && k != "count_cat" {
				t.Errorf("frame %d: field %s, not asked for", f, k)
			}
		}
	}
	cat := photo(t, "chelsea.png")
	res := s.Frame(scene(cat, 640, 360, 1, 100, 30))
	if len(res.Objects) != 1 || res.Objects[0].Label != "cat" || res.Objects[0].TrackID == id || res.Fields["count_cat"] != 1 {
		t.Errorf("the cat: %+v %v", res.Objects, res.Fields)
	}
	res = s.Frame(plugintest.SolidFrame(320, 240, 90, 90, 90))
	if len(res.Objects) != 0 || res.Fields["objects"] != 0 || res.Fields["count_person"] != 0 {
		t.Errorf("an empty frame: %+v %v", res.Objects, res.Fields)
	}

	// All labels by default; other pixel layouts read the same frame.
	all := h.Open("all", modelAttrs(t))
	f := scene(astro, 640, 360, 2, 200, 60)
	rgb := all.Frame(f)
	n := 0
	for k := range rgb.Fields {
		if strings.HasPrefix(k, "count_") {
			n++
		}
	}
	if n != len(centernet.Labels) || rgb.Fields["count_person"] < 1 {
		t.Errorf("no labels asked: %d count fields, count_person %v", n, rgb.Fields["count_person"])
	}
	rgba := make([]byte, 4*640*360)
	for i := range 640 * 360 {
		copy(rgba[4*i:], f.Pixels[3*i:3*i+3])
	}
	res = all.Frame(plugintest.Frame{Width: 640, Height: 360, Format: sdk.FormatRGBA, Pixels: rgba})
	if res.ErrCode != "" || len(res.Objects) != len(rgb.Objects) || res.Objects[0].Box != rgb.Objects[0].Box {
		t.Errorf("RGBA: %+v, RGB: %+v", res.Objects, rgb.Objects)
	}
	res = all.Frame(plugintest.Frame{Width: 64, Height: 64, Format: sdk.FormatNV12, Pixels: make([]byte, 64*96)})
	if res.ErrCode != "bad_input" || !strings.Contains(res.ErrMsg, "nv12") {
		t.Errorf("NV12: %s %s, want bad_input naming the format", res.ErrCode, res.ErrMsg)
	}
}

func TestBadAttributes(t *testing.T) {
	attrs := modelAttrs(t)
	h := plugintest.Start(t, plugintest.Build(t, "."))
	for _, c := range []struct{ k, v, want string }{
		{"threshold", "1.5", `bad_attribute: attribute "threshold": want a number in 0..1, got "1.5"`},
		{"max_objects", "0", `bad_attribute: attribute "max_objects": want an integer in 1..100, got "0"`},
		{"input_size", "640", `bad_attribute: attribute "input_size": want an integer in 512..512, got "640"`},
		{"labels", `["persn"]`, `bad_input: labels: "persn" is not a COCO label (did you mean "person"?)`},
		{"labels", `["unicorn"]`, `bad_input: labels: "unicorn" is not a COCO label (one of person, bicycle,`},
		{"treshold", "0.5", `unknown attribute "treshold" (did you mean "threshold"?)`},
	} {
		a := map[string]string{"model_dir": attrs["model_dir"], c.k: c.v}
		if _, err := h.TryOpen("x", a); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s = %q: %v, want %s", c.k, c.v, err, c.want)
		}
	}
	if _, err := h.TryOpen("y", map[string]string{"model_dir": t.TempDir()}); err == nil || !strings.Contains(err.Error(), "centernet.onnx") {
		t.Errorf("missing model: %v", err)
	}
	// Defaults, and labels written as their field names.
	info, err := plugattrs.StreamInfo(h.Manifest(), "z", map[string]string{"labels": `["traffic_light", "person"]`})
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseConfig(info.Attrs)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.labels, []string{"person", "traffic light"}) || !slices.Equal(c.opts.Classes, []int{0, 9}) ||
		c.opts.Threshold != centernet.DefaultThreshold || c.opts.NMSIoU != centernet.DefaultNMSIoU ||
		c.opts.Max != defaultMaxObjects || c.maxMissed != defaultMaxMissed {
		t.Errorf("config %+v", c)
	}
}
