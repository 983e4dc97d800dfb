package main

import (
	"encoding/json"
	"fmt"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/internal/testenv"
	"github.com/lsie-mlf/lsie/plugins/au/blazeface"
	"github.com/lsie-mlf/lsie/plugins/au/landmarks"
	plugattrs "github.com/lsie-mlf/lsie/plugins/internal/attrs"
	"github.com/lsie-mlf/lsie/sdk"
	"github.com/lsie-mlf/lsie/sdk/plugintest"
)

// modelAttrs skips (locally) or fails (CI) without the models.
func modelAttrs(tb testing.TB) map[string]string {
	tb.Helper()
	dir, err := filepath.Abs("../../var/models")
	if err != nil {
		tb.Fatal(err)
	}
	for _, f := range []string{filepath.Join(dir, "blazeface/face_detection_front_128x128.onnx"), filepath.Join(dir, "emotion/emotion.onnx"), landmarks.DefaultPath} {
		if _, err := os.Stat(f); err != nil {
			testenv.Missing(tb, "%s (scripts/setup.sh)", f)
		}
	}
	return map[string]string{"model_dir": dir}
}

// photo loads a demo photo scaled to width w by area averaging, as packed RGB.
func photo(tb testing.TB, name string, w int) plugintest.Frame {
	tb.Helper()
	f, err := os.Open(filepath.Join("../../var/media/faces", name))
	if err != nil {
		testenv.Missing(tb, "var/media/faces/%s (scripts/fetch-media.sh)", name)
	}
	defer f.Close()
	m, err := jpeg.Decode(f)
	if err != nil {
		tb.Fatal(err)
	}
	b := m.Bounds()
	h := b.Dy() * w / b.Dx()
	px := make([]byte, 3*w*h)
	sx, sy := float64(b.Dx())/float64(w), float64(b.Dy())/float64(h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var r, g, bl, n float64
			for yy := int(float64(y) * sy); yy < int(float64(y+1)*sy); yy++ {
				for xx := int(float64(x) * sx); xx < int(float64(x+1)*sx); xx++ {
					cr, cg, cb, _ := m.At(b.Min.X+xx, b.Min.Y+yy).RGBA()
					r, g, bl, n = r+float64(cr>>8), g+float64(cg>>8), bl+float64(cb>>8), n+1
				}
			}
			i := 3 * (y*w + x)
			px[i], px[i+1], px[i+2] = byte(r/n+0.5), byte(g/n+0.5), byte(bl/n+0.5)
		}
	}
	return plugintest.Frame{Width: w, Height: h, Pixels: px}
}

// toNV12 converts packed RGB to NV12 (BT.601 limited range), even sizes.
func toNV12(f plugintest.Frame) plugintest.Frame {
	w, h := f.Width&^1, f.Height&^1
	out := make([]byte, w*h*3/2)
	at := func(x, y int) (float64, float64, float64) {
		i := 3 * (y*f.Width + x)
		return float64(f.Pixels[i]), float64(f.Pixels[i+1]), float64(f.Pixels[i+2])
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r, g, b := at(x, y)
			out[y*w+x] = byte(16 + 0.257*r + 0.504*g + 0.098*b + 0.5)
		}
	}
	for y := 0; y < h; y += 2 {
		for x := 0; x < w; x += 2 {
			r, g, b := at(x, y)
			out[w*h+(y/2)*w+x] = byte(128 - 0.148*r - 0.291*g + 0.439*b + 0.5)
			out[w*h+(y/2)*w+x+1] = byte(128 + 0.439*r - 0.368*g - 0.071*b + 0.5)
		}
	}
	return plugintest.Frame{Width: w, Height: h, Format: sdk.FormatNV12, Pixels: out}
}

type framePayload struct {
	Width, Height int
	Faces         []struct {
		ID        int          `json:"id"`
		Box       [4]float32   `json:"box"`
		TooSmall  bool         `json:"too_small"`
		Landmarks [][2]float32 `json:"landmarks"`
		Flags     []string     `json:"flags"`
	} `json:"faces"`
	Flags []string `json:"flags"`
}

func lastFrame(t *testing.T, s *plugintest.Stream) framePayload {
	t.Helper()
	msgs := s.Published()
	if len(msgs) != 1 || msgs[0].Topic != TopicFrame {
		t.Fatalf("published %d messages, want one %s", len(msgs), TopicFrame)
	}
	var p framePayload
	if err := json.Unmarshal(msgs[0].Payload, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPluginOnPhotos(t *testing.T) {
	attrs := modelAttrs(t)
	attrs["baseline_seconds"] = "0.4"
	attrs["baseline_min_frames"] = "3"
	h := plugintest.Start(t, plugintest.Build(t, "."))
	s := h.Open("cam", attrs)

	// Three faces in sample3 at the default analysis width; the same frame
	// five times at 5 fps: stable ids, and the baseline completes.
	fr := photo(t, "sample3.jpg", 640)
	var first plugintest.Result
	for i := 0; i < 5; i++ {
		fr.PTS = time.Duration(i) * 200 * time.Millisecond
		r := s.Frame(fr)
		if r.ErrCode != "" {
			t.Fatalf("frame %d: %s %s", i, r.ErrCode, r.ErrMsg)
		}
		p := lastFrame(t, s)
		if r.Fields["faces"] != 3 || len(p.Faces) != 3 {
			t.Fatalf("frame %d: %v faces, payload %d", i, r.Fields["faces"], len(p.Faces))
		}
		for _, fc := range p.Faces {
			if fc.ID < 1 || fc.ID > 3 {
				t.Errorf("frame %d: face id %d, want the first three ids kept", i, fc.ID)
			}
			// Landmarks sit in the detector's box: eye corners and mouth.
			for _, k := range []int{36, 45, 48, 54, 30} {
				x, y := fc.Landmarks[k][0], fc.Landmarks[k][1]
				if x < fc.Box[0] || x > fc.Box[2] || y < fc.Box[1] || y > fc.Box[3] {
					t.Errorf("face %d: landmark %d (%.0f,%.0f) outside box %v", fc.ID, k, x, y, fc.Box)
				}
			}
		}
		if i == 0 {
			first = r
		}
	}
	last := s.Frame(fr)
	lastFrame(t, s)
	// Each analysed face is also an object: label face, its track id, its
	// box normalised, its fields as attributes, five keypoints inside it.
	if len(last.Objects) != 3 {
		t.Fatalf("%d objects, want the 3 faces", len(last.Objects))
	}
	for _, o := range last.Objects {
		p := fmt.Sprintf("face%d.", o.TrackID)
		b := o.Box
		if o.Label != "face" || o.TrackID < 1 || o.TrackID > 3 || b.W <= 0 || b.H <= 0 || b.X < 0 || b.Y < 0 || b.X+b.W > 1 || b.Y+b.H > 1 {
			t.Errorf("object %+v", o)
		}
		if math.Abs(o.Score-last.Fields[p+"score"]) > 1e-6 || o.Attributes["au12"] != last.Fields[p+"au12"] || o.Attributes["happy"] != last.Fields[p+"happy"] {
			t.Errorf("face %d: object score %v attributes au12 %v happy %v; fields %v %v %v", o.TrackID, o.Score,
				o.Attributes["au12"], o.Attributes["happy"], last.Fields[p+"score"], last.Fields[p+"au12"], last.Fields[p+"happy"])
		}
		if len(o.Keypoints) != 5 {
			t.Fatalf("face %d: %d keypoints", o.TrackID, len(o.Keypoints))
		}
		for _, k := range o.Keypoints {
			if k.X < b.X || k.X > b.X+b.W || k.Y < b.Y || k.Y > b.Y+b.H {
				t.Errorf("face %d: keypoint %s (%.3f,%.3f) outside box %+v", o.TrackID, k.Name, k.X, k.Y, b)
			}
		}
	}
	for id := 1; id <= 3; id++ {
		p := fmt.Sprintf("face%d.", id)
		var sum float64
		for _, l := range []string{"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"} {
			sum += last.Fields[p+l]
		}
		if math.Abs(sum-1) > 1e-3 {
			t.Errorf("face %d: expression probabilities sum to %v", id, sum)
		}
		for _, au := range []string{"au1", "au2", "au4", "au5", "au6", "au9", "au12", "au15", "au17", "au20", "au25", "au26", "au45"} {
			v, ok := last.Fields[p+au]
			if !ok || v < 0 || v > 5 {
				t.Errorf("face %d: %s = %v (present %v)", id, au, v, ok)
			}
			if _, ok := first.Fields[p+au+"_c"]; ok {
				t.Errorf("face %d: corrected %s before the baseline completed", id, au)
			}
			// The same frame as the baseline: corrected intensity 0.
			if c, ok := last.Fields[p+au+"_c"]; !ok || c > 1e-9 {
				t.Errorf("face %d: corrected %s = %v (present %v), want 0 against its own baseline", id, au, c, ok)
			}
		}
		if last.Fields[p+"baseline_frames"] < 2 || last.Fields[p+"present"] != 1 {
			t.Errorf("face %d: baseline frames %v present %v", id, last.Fields[p+"baseline_frames"], last.Fields[p+"present"])
		}
	}
	for _, k := range []string{"detect_ms", "landmarks_ms", "expression_ms", "total_ms"} {
		if last.Fields[k] <= 0 {
			t.Errorf("%s = %v", k, last.Fields[k])
		}
	}

	// NV12 of the same photo: the same faces, the same smile within noise.
	nv := toNV12(fr)
	nv.PTS = 2 * time.Second
	r := s.Frame(nv)
	lastFrame(t, s)
	if r.ErrCode != "" || r.Fields["faces"] != 3 {
		t.Fatalf("NV12: %v faces (%s %s)", r.Fields["faces"], r.ErrCode, r.ErrMsg)
	}
	for id := 1; id <= 3; id++ {
		p := fmt.Sprintf("face%d.", id)
		if d := math.Abs(r.Fields[p+"au12"] - last.Fields[p+"au12"]); d > 0.5 {
			t.Errorf("face %d: AU12 %v from NV12 vs %v from RGB", id, r.Fields[p+"au12"], last.Fields[p+"au12"])
		}
	}
}

// Frames without a face, or too small to hold one, give defined output.
func TestPluginBadFrames(t *testing.T) {
	attrs := modelAttrs(t)
	h := plugintest.Start(t, plugintest.Build(t, "."))
	s := h.Open("cam", attrs)
	for _, tc := range []struct {
		name string
		f    plugintest.Frame
	}{
		{"black", plugintest.SolidFrame(640, 360, 0, 0, 0)},
		{"one pixel wide", plugintest.SolidFrame(1, 360, 128, 128, 128)},
		{"one pixel", plugintest.SolidFrame(1, 1, 255, 255, 255)},
		{"gray8", plugintest.Frame{Width: 64, Height: 48, Format: sdk.FormatGray8, Pixels: make([]byte, 64*48)}},
		{"rgba", plugintest.Frame{Width: 64, Height: 48, Format: sdk.FormatRGBA, Pixels: make([]byte, 4*64*48)}},
	} {
		r := s.Frame(tc.f)
		p := lastFrame(t, s)
		if r.ErrCode != "" || r.Fields["faces"] != 0 || p.Faces == nil || len(p.Faces) != 0 {
			t.Errorf("%s: %+v, payload faces %v", tc.name, r, p.Faces)
		}
	}
	// A face at the frame's border: cut through by the edge, no crash,
	// every landmark finite.
	fr := photo(t, "sample2.jpg", 640)
	crop := plugintest.Frame{Width: 200, Height: fr.Height}
	for y := 0; y < fr.Height; y++ { // the right-most 200 columns: a face cut by the left edge
		crop.Pixels = append(crop.Pixels, fr.Pixels[3*(y*fr.Width+fr.Width-200):3*(y*fr.Width+fr.Width)]...)
	}
	r := s.Frame(crop)
	p := lastFrame(t, s)
	if r.ErrCode != "" {
		t.Fatalf("border face: %s %s", r.ErrCode, r.ErrMsg)
	}
	for _, fc := range p.Faces {
		for _, pt := range fc.Landmarks {
			if math.IsNaN(float64(pt[0])) || math.IsNaN(float64(pt[1])) {
				t.Fatalf("border face: NaN landmark")
			}
		}
	}
	t.Logf("border crop: %v faces", r.Fields["faces"])
}

// The manifest's schema refuses bad values before OpenStream runs (the
// host first, the SDK again, as here), naming the attribute, and fills in
// the documented defaults.
func TestBadAttributes(t *testing.T) {
	attrs := modelAttrs(t)
	h := plugintest.Start(t, plugintest.Build(t, "."))
	for _, c := range []struct{ k, v, want string }{
		{"max_faces", "0", `attribute "max_faces": want an integer in 1..16, got "0"`},
		{"baseline_seconds", "-1", `attribute "baseline_seconds": want a number in 0.01..3600, got "-1"`},
		{"baseline_min_frames", "x", `attribute "baseline_min_frames": want an integer in 1..4096, got "x"`},
		{"detect_threshold", "1.5", `attribute "detect_threshold": want a number in 0..1, got "1.5"`},
		{"detect_tiles", "sometimes", `attribute "detect_tiles": want one of "auto", "true", "false", got "sometimes"`},
		{"detect_threads", "65", `attribute "detect_threads": want an integer in 1..64, got "65"`},
		{"detect_min_face_px", "-3", `attribute "detect_min_face_px": want a number in 0..999999, got "-3"`},
		{"execution_provider", "npu", `attribute "execution_provider": want one of "cpu", "cuda", got "npu"`},
		{"max_face", "4", `unknown attribute "max_face" (did you mean "max_faces"?)`},
	} {
		a := map[string]string{"model_dir": attrs["model_dir"], c.k: c.v}
		if _, err := h.TryOpen("x", a); err == nil || !strings.Contains(err.Error(), "bad_attribute: "+c.want) {
			t.Errorf("%s = %q: %v, want bad_attribute: %s", c.k, c.v, err, c.want)
		}
	}
	// What the schema cannot say, the detector still refuses.
	for k, v := range map[string]string{"detect_threshold": "0", "detect_tile_zoom": "1,2"} {
		if _, err := h.TryOpen("x", map[string]string{"model_dir": attrs["model_dir"], k: v}); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s = %q: %v", k, v, err)
		}
	}
	if _, err := h.TryOpen("y", map[string]string{"model_dir": t.TempDir()}); err == nil || !strings.Contains(err.Error(), "face_detection_front_128x128.onnx") {
		t.Errorf("missing model: %v", err)
	}
	info, err := plugattrs.StreamInfo(h.Manifest(), "z", map[string]string{"baseline_seconds": "0.5", "detect_tiles": "false"})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"max_faces": "8", "baseline_seconds": "0.5", "baseline_min_frames": "10", "landmarks_model": landmarks.DefaultPath,
		"detect_threshold": "0.6", "detect_min_face_px": "24", "detect_tiles": "false", "detect_tile_zoom": "2", "detect_threads": "1", "execution_provider": "cpu"} {
		if got := info.Attributes[k]; got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if c := parseConfig(info.Attrs); c.maxFaces != 8 || c.baselineWindow != 500*time.Millisecond || c.baselineMinFrames != 10 {
		t.Errorf("config %+v", c)
	}
	o, err := blazeface.ParseOptions(info.Attributes)
	if err != nil || o.Threshold != blazeface.DefaultThreshold || o.MinFacePx != blazeface.DefaultMinFacePx || o.Tiles != blazeface.TilesOff ||
		len(o.TileZooms) != 1 || o.TileZooms[0] != blazeface.DefaultTileZoom || o.Threads != 1 {
		t.Errorf("detector options %+v, %v", o, err)
	}
}

// BenchmarkPluginFrame640 measures the whole plugin per frame through the
// real protocol at 640 px with one and three faces, reporting the stages
// the plugin times itself and the data-plane bytes per frame (a descriptor:
// the pixels stay in shared memory).
func BenchmarkPluginFrame640(b *testing.B) {
	attrs := modelAttrs(b)
	h := plugintest.Start(b, plugintest.Build(b, "."))
	three := photo(b, "sample3.jpg", 640)
	// One face: sample3's left face pasted into a black 640×480 frame.
	one := plugintest.SolidFrame(640, 480, 0, 0, 0)
	for y := 80; y < 250; y++ {
		copy(one.Pixels[3*(y*640+150):3*(y*640+320)], three.Pixels[3*(y*640+150):3*(y*640+320)])
	}
	for _, tc := range []struct {
		name  string
		frame plugintest.Frame
		faces float64
	}{{"1face", one, 1}, {"3faces", three, 3}} {
		b.Run(tc.name, func(b *testing.B) {
			fr := tc.frame
			s := h.Open("bench-"+tc.name, attrs)
			var det, land, expr, total float64
			before := h.DataPlaneBytes()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r := s.Frame(fr)
				s.Published()
				det += r.Fields["detect_ms"]
				land += r.Fields["landmarks_ms"]
				expr += r.Fields["expression_ms"]
				total += r.Fields["total_ms"]
				if r.Fields["faces"] != tc.faces {
					b.Fatalf("%s: %v faces, want %v", tc.name, r.Fields["faces"], tc.faces)
				}
			}
			n := float64(b.N)
			b.ReportMetric(det/n, "detect-ms")
			b.ReportMetric(land/n, "landmarks-ms")
			b.ReportMetric(expr/n, "expression-ms")
			b.ReportMetric(total/n, "plugin-ms")
			b.ReportMetric(float64(h.DataPlaneBytes()-before)/n, "wire-B/frame")
			b.ReportMetric(float64(len(fr.Pixels)), "frame-B")
		})
	}
}

// The "baseline" command: "now" makes the baseline from the latest frames
// at once (corrected values appear on the next frame, before the window
// would have completed); "restart" drops it; bad arguments are refused by
// name.
func TestBaselineCommand(t *testing.T) {
	attrs := modelAttrs(t)
	attrs["baseline_seconds"] = "60" // the window alone would not complete
	h := plugintest.Start(t, plugintest.Build(t, "."))
	s := h.Open("cam", attrs)
	fr := photo(t, "sample3.jpg", 640)
	for i := 0; i < 3; i++ {
		fr.PTS = time.Duration(i) * 200 * time.Millisecond
		if r := s.Frame(fr); r.Fields["faces"] != 3 {
			t.Fatalf("frame %d: %v faces", i, r.Fields["faces"])
		}
		s.Published()
	}
	if _, ok := s.Frame(fr).Fields["face1.au12_c"]; ok {
		t.Fatal("corrected AU12 before any baseline")
	}
	s.Published()
	res, err := s.Command("baseline", []byte(`{"mode":"now"}`))
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Mode  string
		Faces []struct{ ID, Frames int }
	}
	if err := json.Unmarshal(res, &out); err != nil || out.Mode != "now" || len(out.Faces) != 3 || out.Faces[0].Frames != 4 {
		t.Fatalf("baseline now: %s (%v)", res, err)
	}
	r := s.Frame(fr)
	s.Published()
	if c, ok := r.Fields["face1.au12_c"]; !ok || c > 1e-9 || r.Fields["face1.baseline_frames"] != 4 {
		t.Fatalf("after baseline now: au12_c %v (%v), frames %v", c, ok, r.Fields["face1.baseline_frames"])
	}
	if res, err = s.Command("baseline", []byte(`{"mode":"restart","face":2}`)); err != nil || !strings.Contains(string(res), `"faces":[{"id":2}]`) {
		t.Fatalf("restart face 2: %s %v", res, err)
	}
	r = s.Frame(fr)
	s.Published()
	if _, ok := r.Fields["face2.au12_c"]; ok || r.Fields["face1.baseline_frames"] != 4 {
		t.Fatalf("after restart of face 2: %v", r.Fields)
	}
	for _, tc := range []struct{ name, args, want string }{
		{"dance", ``, `unknown command "dance"`},
		{"baseline", `{"mode":"later"}`, `mode = "later"`},
		{"baseline", `{"face":99}`, `face 99 is not in view`},
		{"baseline", `{"bogus":1}`, `unknown field "bogus"`},
	} {
		if _, err := s.Command(tc.name, []byte(tc.args)); err == nil || !strings.Contains(err.Error(), "bad_input") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s: %v, want bad_input with %q", tc.name, tc.args, err, tc.want)
		}
	}
}
