package centernet

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/draw"
	_ "image/jpeg"
	_ "image/png"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lsie-mlf/lsie/internal/testenv"
	"github.com/lsie-mlf/lsie/plugins/internal/models"
)

var modelDir = filepath.Join("..", "..", "..", "var", "models")

// Where the test images come from: Debian's python3-skimage data folder
// and the face-api demo photos (scripts/fetch-media.sh).
var (
	skimageDir = "/usr/lib/python3/dist-packages/skimage/data"
	facesDir   = filepath.Join("..", "..", "..", "var", "media", "faces")
)

// openModel opens the converted model computing outputs, skipping
// (failing in CI) when fetch-models.sh has not made it or the runtime.
func openModel(tb testing.TB, outputs ...string) *Model {
	tb.Helper()
	dir, err := filepath.Abs(modelDir)
	if err != nil {
		tb.Fatal(err)
	}
	if len(outputs) == 0 {
		outputs = []string{"detections"}
	}
	m, err := openOutputs(map[string]string{"model_dir": dir}, outputs...)
	var miss *models.MissingError
	if errors.As(err, &miss) {
		testenv.Missing(tb, "%v", err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { m.Close() })
	return m
}

// loadImage decodes an image file as packed RGB; a missing file is a
// missing dependency (its package or fetch script named in what).
func loadImage(tb testing.TB, path, what string) Image {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		testenv.Missing(tb, "%s (%s)", path, what)
	}
	defer f.Close()
	src, _, err := image.Decode(f)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	b := src.Bounds()
	rgba := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(rgba, rgba.Bounds(), src, b.Min, draw.Src)
	// Packed RGB, so tests exercise the 3-byte path the host delivers.
	pix := make([]byte, 3*b.Dx()*b.Dy())
	for i := 0; i < b.Dx()*b.Dy(); i++ {
		copy(pix[3*i:3*i+3], rgba.Pix[4*i:4*i+3])
	}
	return Image{W: b.Dx(), H: b.Dy(), Stride: 3 * b.Dx(), Channels: 3, Pix: pix}
}

func writeF32(tb testing.TB, path string, v []float32) {
	tb.Helper()
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		tb.Fatal(err)
	}
}

func readF32(tb testing.TB, path string) []float32 {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

func maxAbsDiff(a, b []float32) float64 {
	var d float64
	for i := range a {
		d = max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// normalise divides coordinates in input pixels by the input side: the
// plugin reports boxes normalised, so that is the scale their error has.
// A float32 near 512 has a resolution of 3e-5 px, and the two runtimes'
// convolutions sum in different orders, so box edges in pixels differ by
// up to a few thousandths of a pixel (relative 1e-5).
func normalise(det []float32) []float32 {
	out := slices.Clone(det)
	for i := range out {
		if i%6 < 4 {
			out[i] /= Size
		}
	}
	return out
}

// compareDetections compares two [100, 6] outputs (normalised) row by row.
// Rows whose scores are within tol of another's may come in either order
// (near-equal peaks can swap ranks between runtimes): a row is matched to
// any unmatched row of the other output within tol in every column. It
// returns the largest difference over matched rows, how many rows matched
// another position, and the rows that found no match.
func compareDetections(a, b []float32, tol float64) (worst float64, swapped int, unmatched []int) {
	row := func(v []float32, i int) []float32 { return v[6*i : 6*i+6] }
	used := make([]bool, MaxDetections)
	var pending []int
	for i := range MaxDetections {
		if d := maxAbsDiff(row(a, i), row(b, i)); d <= tol {
			worst = max(worst, d)
			used[i] = true
		} else {
			pending = append(pending, i)
		}
	}
	for _, i := range pending {
		found := false
		for j := range MaxDetections {
			if d := maxAbsDiff(row(a, i), row(b, j)); !used[j] && d <= tol {
				worst = max(worst, d)
				used[j], found = true, true
				swapped++
				break
			}
		}
		if !found {
			unmatched = append(unmatched, i)
		}
	}
	return worst, swapped, unmatched
}

// TestMatchesTFJS checks the conversion and Prepare against TF.js run by
// node: the TF.js graph and the ONNX graph on the same inputs (constant,
// random, smooth noise, and real photos letterboxed), on all three
// outputs; and the letterbox written with tf ops against Prepare.
func TestMatchesTFJS(t *testing.T) {
	m := openModel(t, "detections", "keypoints", "wh")
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Missing(t, "node (the TF.js reference runs in it)")
	}
	tfjs, _ := filepath.Abs(filepath.Join(modelDir, "tfjs", "tf.min.js"))
	src, _ := filepath.Abs(filepath.Join(modelDir, "centernet"))
	for _, f := range []string{tfjs, filepath.Join(src, "centernet.json"), filepath.Join(src, "centernet.bin")} {
		if _, err := os.Stat(f); err != nil {
			testenv.Missing(t, "%s (scripts/fetch-models.sh)", f)
		}
	}

	const n = Size * Size * 3
	var raw []float32
	var names []string
	for _, c := range []float32{0, 255, 127.5} {
		raw = append(raw, slices.Repeat([]float32{c}, n)...)
		names = append(names, fmt.Sprintf("constant %g", c))
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range n {
		raw = append(raw, rng.Float32()*255)
	}
	names = append(names, "uniform noise")
	{
		var a, b, c [3]float64
		for k := range 3 {
			a[k], b[k], c[k] = rng.Float64()*0.1, rng.Float64()*0.1, rng.Float64()*6
		}
		for i := range n {
			p, k := i/3, i%3
			x, y := float64(p%Size), float64(p/Size)
			raw = append(raw, float32(127.5+127.5*math.Sin(a[k]*x+c[k])*math.Cos(b[k]*y)))
		}
		names = append(names, "smooth noise")
	}

	dir := t.TempDir()
	type img struct {
		RGB  string `json:"rgb"`
		W    int    `json:"w"`
		H    int    `json:"h"`
		name string
		im   Image
	}
	var ims []img
	for _, p := range []struct{ path, what string }{
		{filepath.Join(skimageDir, "astronaut.png"), "apt-get install python3-skimage"},
		{filepath.Join(skimageDir, "chelsea.png"), "apt-get install python3-skimage"},
		{filepath.Join(skimageDir, "coffee.png"), "apt-get install python3-skimage"},
		{filepath.Join(facesDir, "sample2.jpg"), "scripts/fetch-media.sh"},
	} {
		im := loadImage(t, p.path, p.what)
		f := filepath.Join(dir, filepath.Base(p.path)+".rgb")
		if err := os.WriteFile(f, im.Pix, 0o644); err != nil {
			t.Fatal(err)
		}
		ims = append(ims, img{RGB: f, W: im.W, H: im.H, name: filepath.Base(p.path), im: im})
		names = append(names, filepath.Base(p.path))
	}

	job := map[string]any{
		"tfjs": tfjs, "model": src, "images": ims,
		"inputs":  filepath.Join(dir, "inputs.f32"),
		"outPrep": filepath.Join(dir, "prep.f32"), "outDetections": filepath.Join(dir, "det.f32"),
		"outKeypoints": filepath.Join(dir, "kp.f32"), "outWh": filepath.Join(dir, "wh.f32"),
	}
	writeF32(t, job["inputs"].(string), raw)
	jb, _ := json.Marshal(job)
	jobPath := filepath.Join(dir, "job.json")
	if err := os.WriteFile(jobPath, jb, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(node, filepath.Join("testdata", "centernet_ref.js"), jobPath).CombinedOutput()
	if err != nil {
		t.Fatalf("node centernet_ref.js: %v\n%s", err, out)
	}
	prep := readF32(t, job["outPrep"].(string))
	det := readF32(t, job["outDetections"].(string))
	kp := readF32(t, job["outKeypoints"].(string))
	wh := readF32(t, job["outWh"].(string))
	const nDet, nKp, nWh = MaxDetections * 6, (Size / 4) * (Size / 4) * len(Labels), (Size / 4) * (Size / 4) * 4
	if len(prep) != len(ims)*n || len(det) != len(names)*nDet || len(kp) != len(names)*nKp || len(wh) != len(names)*nWh {
		t.Fatalf("node wrote %d prepared values and %d/%d/%d outputs, want %d and %d/%d/%d",
			len(prep), len(det), len(kp), len(wh), len(ims)*n, len(names)*nDet, len(names)*nKp, len(names)*nWh)
	}

	// Preprocessing: Prepare against the letterbox written in tf ops.
	var in [n]float32
	var prepDiff float64
	for i, im := range ims {
		if _, err := Prepare(im.im, in[:]); err != nil {
			t.Fatalf("%s: %v", im.name, err)
		}
		prepDiff = max(prepDiff, maxAbsDiff(in[:], prep[i*n:(i+1)*n]))
	}
	t.Logf("Prepare vs TF.js's letterbox: max abs diff %.3g over %d images (values 0..255)", prepDiff, len(ims))
	if prepDiff > 1e-4 {
		t.Errorf("Prepare differs from the letterbox in tf ops by %.3g, want ≤ 1e-4", prepDiff)
	}

	// The conversion: ONNX against TF.js on the same inputs. Box
	// coordinates and edge distances are compared normalised to the input
	// side (as the plugin reports them); their error in pixels is logged.
	const tol = 1e-4
	inputs := append(raw, prep...)
	var worstDet, worstKp, worstWh, worstPx float64
	for k, name := range names {
		copy(m.input.GetData(), inputs[k*n:(k+1)*n])
		if err := m.session.Run(); err != nil {
			t.Fatal(err)
		}
		d, refDet := m.outputs[0].GetData(), det[k*nDet:(k+1)*nDet]
		refWh := wh[k*nWh : (k+1)*nWh]
		dk := maxAbsDiff(m.outputs[1].GetData(), kp[k*nKp:(k+1)*nKp])
		px := maxAbsDiff(m.outputs[2].GetData(), refWh)
		dw := px / Size
		dd, swapped, unmatched := compareDetections(normalise(d), normalise(refDet), tol)
		worstDet, worstKp, worstWh, worstPx = max(worstDet, dd), max(worstKp, dk), max(worstWh, dw), max(worstPx, px)
		t.Logf("%-16s keypoints %.2g  wh %.2g (%.2g px)  detections %.2g (%d rows swapped)  top %v", name, dk, dw, px, dd, swapped, d[:6])
		if dk > tol || dw > tol || len(unmatched) > 0 {
			var rows []string
			for _, r := range unmatched {
				rows = append(rows, fmt.Sprintf("row %d: ONNX %v, TF.js %v", r, d[6*r:6*r+6], refDet[6*r:6*r+6]))
			}
			t.Errorf("input %d (%s): keypoints differ by %.3g, wh by %.3g (want ≤ %g); detections unmatched:\n%s",
				k, name, dk, dw, tol, strings.Join(rows, "\n"))
		}
	}
	t.Logf("ONNX vs TF.js over %d inputs: max abs diff keypoints %.3g, wh %.3g (%.3g px), detections %.3g (boxes normalised)",
		len(names), worstKp, worstWh, worstPx, worstDet)
}

func TestFit(t *testing.T) {
	for _, c := range []struct {
		w, h int
		want Letterbox
	}{
		{640, 360, Letterbox{W: 640, H: 360, NW: 512, NH: 288, DX: 0, DY: 112}},
		{360, 640, Letterbox{W: 360, H: 640, NW: 288, NH: 512, DX: 112, DY: 0}},
		{512, 512, Letterbox{W: 512, H: 512, NW: 512, NH: 512}},
		{451, 300, Letterbox{W: 451, H: 300, NW: 512, NH: 341, DX: 0, DY: 85}},
		{1, 4000, Letterbox{W: 1, H: 4000, NW: 1, NH: 512, DX: 255, DY: 0}},
	} {
		if got := Fit(c.w, c.h); got != c.want {
			t.Errorf("Fit(%d, %d) = %+v, want %+v", c.w, c.h, got, c.want)
		}
	}
	lb := Fit(640, 360)
	if x, y := lb.ToFrame(256, 256); x != 320 || y != 180 {
		t.Errorf("input centre maps to (%v, %v), want the frame's (320, 180)", x, y)
	}
	if x, y := lb.ToFrame(0, 112); x != 0 || y != 0 {
		t.Errorf("the frame's corner in the input maps to (%v, %v)", x, y)
	}
}

// TestPrepare: the letterbox's margins are black, the inside is the frame,
// and RGBA, gray and padded rows read the same pixels as packed RGB.
func TestPrepare(t *testing.T) {
	const w, h = 64, 36
	rgb := make([]byte, 3*w*h)
	for i := range rgb {
		rgb[i] = byte(i*7 + i/3)
	}
	in := make([]float32, Size*Size*3)
	lb, err := Prepare(Image{W: w, H: h, Stride: 3 * w, Channels: 3, Pix: rgb}, in)
	if err != nil {
		t.Fatal(err)
	}
	if lb != Fit(w, h) {
		t.Fatalf("Prepare placed the frame at %+v, Fit says %+v", lb, Fit(w, h))
	}
	for _, y := range []int{0, lb.DY - 1, lb.DY + lb.NH, Size - 1} {
		for x := range Size {
			if v := in[(y*Size+x)*3]; v != 0 {
				t.Fatalf("margin pixel (%d, %d) = %v, want black", x, y, v)
			}
		}
	}
	// Upscaling by 8 with half-pixel centres: output 8x+4 samples the
	// source at x + 1/16.
	src := func(x, y int) float64 { return float64(rgb[3*(y*w+x)+1]) }
	lerp := func(a, b, f float64) float64 { return a + (b-a)*f }
	want := lerp(lerp(src(10, 5), src(11, 5), 1.0/16), lerp(src(10, 6), src(11, 6), 1.0/16), 1.0/16)
	if got := in[((lb.DY+8*5+4)*Size+lb.DX+8*10+4)*3+1]; math.Abs(float64(got)-want) > 1e-4 {
		t.Errorf("pixel (10, 5) green %v, want %v", got, want)
	}

	// The same pixels as RGBA with padded rows, and as gray.
	rgba := make([]byte, (4*w+12)*h)
	for y := range h {
		for x := range w {
			copy(rgba[y*(4*w+12)+4*x:], rgb[3*(y*w+x):3*(y*w+x)+3])
		}
	}
	in2 := make([]float32, len(in))
	if _, err := Prepare(Image{W: w, H: h, Stride: 4*w + 12, Channels: 4, Pix: rgba}, in2); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(in, in2) {
		t.Error("RGBA with padded rows prepares differently from packed RGB")
	}
	gray := make([]byte, w*h)
	grayRGB := make([]byte, 3*w*h)
	for i := range gray {
		gray[i] = rgb[3*i]
		grayRGB[3*i], grayRGB[3*i+1], grayRGB[3*i+2] = gray[i], gray[i], gray[i]
	}
	if _, err := Prepare(Image{W: w, H: h, Stride: w, Channels: 1, Pix: gray}, in2); err != nil {
		t.Fatal(err)
	}
	if _, err := Prepare(Image{W: w, H: h, Stride: 3 * w, Channels: 3, Pix: grayRGB}, in); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(in, in2) {
		t.Error("gray prepares differently from gray as RGB")
	}

	for _, c := range []struct {
		name string
		im   Image
	}{
		{"empty", Image{}},
		{"2 channels", Image{W: 2, H: 2, Stride: 4, Channels: 2, Pix: make([]byte, 8)}},
		{"stride under width", Image{W: 4, H: 2, Stride: 8, Channels: 3, Pix: make([]byte, 24)}},
		{"pixels short", Image{W: 4, H: 2, Stride: 12, Channels: 3, Pix: make([]byte, 23)}},
	} {
		if _, err := Prepare(c.im, in); !errors.Is(err, ErrBadImage) {
			t.Errorf("%s: Prepare = %v, want ErrBadImage", c.name, err)
		}
	}
	if _, err := Prepare(Image{W: 1, H: 1, Stride: 3, Channels: 3, Pix: make([]byte, 3)}, in[:10]); err == nil {
		t.Error("Prepare into a short buffer: no error")
	}
}

// TestDecode: threshold, classes, the letterbox mapped back and clipped,
// class-agnostic suppression best first, the bound, and rows that are not
// detections.
func TestDecode(t *testing.T) {
	lb := Fit(640, 360) // input = frame × 0.8, 112 px black above and below
	row := func(x0, y0, x1, y1 float32, score float32, class float32) []float32 {
		in := func(x, y float32) (float32, float32) { return x * 0.8, y*0.8 + 112 }
		a, b := in(x0, y0)
		c, d := in(x1, y1)
		return []float32{a, b, c, d, score, class}
	}
	rows := slices.Concat(
		row(100, 50, 200, 300, 0.9, 0),                 // person
		row(105, 55, 205, 305, 0.8, 16),                // a dog on the same spot: suppressed by the person
		row(300, 100, 400, 200, 0.5, 41),               // cup
		row(500, 100, 600, 200, 0.29, 0),               // under the threshold
		row(-50, -20, 80, 100, 0.7, 0),                 // reaches out of the frame: clipped
		row(10, 10, 20, 20, 0.95, float32(math.NaN())), // no class
		row(10, 10, 20, 20, 0.95, 80),                  // no such class
		row(10, 10, 20, 20, 0.95, 2.5),                 // not a class index
		row(30, 30, 30, 60, 0.95, 2),                   // empty box
	)
	got := Decode(rows, lb, DefaultOptions(), nil)
	near := func(b Box, want [4]float32) bool {
		for i, v := range []float32{b.X0, b.Y0, b.X1, b.Y1} {
			if math.Abs(float64(v-want[i])) > 1e-3 {
				return false
			}
		}
		return true
	}
	if len(got) != 3 || got[0].Label() != "person" || got[1].Label() != "person" || got[2].Label() != "cup" {
		t.Fatalf("Decode = %+v, want person 0.9, person 0.7 (clipped), cup", got)
	}
	if !near(got[0].Box, [4]float32{100, 50, 200, 300}) || !near(got[1].Box, [4]float32{0, 0, 80, 100}) || got[1].Score != 0.7 {
		t.Errorf("boxes %+v and %+v, want [100 50 200 300] and [0 0 80 100] (clipped)", got[0].Box, got[1].Box)
	}

	// Only dogs: the person no longer hides it.
	got = Decode(rows, lb, Options{Threshold: DefaultThreshold, NMSIoU: DefaultNMSIoU, Classes: []int{Class("dog")}}, nil)
	if len(got) != 1 || got[0].Label() != "dog" {
		t.Errorf("dogs only: %+v", got)
	}
	// A lower threshold, looser suppression and a bound of 2.
	got = Decode(rows, lb, Options{Threshold: 0.2, NMSIoU: 0.99, Max: 2}, nil)
	if len(got) != 2 || got[0].Score != 0.9 || got[1].Score != 0.8 {
		t.Errorf("threshold 0.2, IoU 0.99, at most 2: %+v", got)
	}
	got = Decode(rows, lb, Options{Threshold: 0.2, NMSIoU: 0.99}, nil)
	if len(got) != 5 {
		t.Errorf("threshold 0.2, IoU 0.99: %d detections, want 5", len(got))
	}
	// Appends to dst.
	dst := []Detection{{Class: 5}}
	if got := Decode(rows, lb, DefaultOptions(), dst); len(got) != 4 || got[0].Class != 5 {
		t.Errorf("Decode onto a list: %+v", got)
	}
}

func TestLabels(t *testing.T) {
	if Class("person") != 0 || Class("toothbrush") != 79 || Class("traffic light") != 9 || Class("nope") != -1 {
		t.Error("Class does not follow COCO's order")
	}
	seen := map[string]bool{}
	for _, l := range Labels {
		if l == "" || seen[l] {
			t.Errorf("label %q empty or twice", l)
		}
		seen[l] = true
	}
}

// TestOpenMissing: without the converted model, Open names the file and
// how to make it.
func TestOpenMissing(t *testing.T) {
	_, err := Open(map[string]string{"model_dir": t.TempDir()})
	var miss *models.MissingError
	if !errors.As(err, &miss) {
		t.Fatalf("Open without the model: %v, want a *models.MissingError", err)
	}
	if !strings.HasSuffix(miss.Path, ModelFile) || !strings.Contains(miss.Hint, "fetch-models.sh") || !strings.Contains(miss.Hint, "convert-centernet.py") {
		t.Errorf("MissingError %q: want the path of %s and the commands that make it", err, ModelFile)
	}
}

// TestDetectPhotos: the model through Detect finds what the photos show,
// whatever the pixel layout.
func TestDetectPhotos(t *testing.T) {
	m := openModel(t)
	for _, c := range []struct{ file, label string }{
		{"astronaut.png", "person"}, {"chelsea.png", "cat"}, {"coffee.png", "cup"}, {"motorcycle_left.png", "motorcycle"},
	} {
		im := loadImage(t, filepath.Join(skimageDir, c.file), "apt-get install python3-skimage")
		dets, err := m.Detect(im, DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		if len(dets) == 0 || dets[0].Label() != c.label {
			t.Errorf("%s: %+v, want a %s first", c.file, dets, c.label)
		}
	}
	if _, err := m.Detect(Image{W: 3, H: 3, Stride: 9, Channels: 3}, DefaultOptions()); !errors.Is(err, ErrBadImage) {
		t.Errorf("Detect of an image without pixels: %v, want ErrBadImage", err)
	}
}
