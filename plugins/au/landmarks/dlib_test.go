package landmarks

import (
	"bufio"
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/lsie-mlf/lsie/internal/testenv"
	"github.com/lsie-mlf/lsie/plugins/au/internal/img"
)

// The tests in this file compare the Go predictor with dlib's own, built
// from testdata/dlibref.cpp against Debian's libdlib-dev, on the same
// grayscale pixels and the same boxes.

const photoDir = "../../../var/media/faces"

var (
	modelOnce sync.Once
	model     *Predictor
	modelErr  error
)

// realModel loads DefaultPath once for the whole test binary.
func realModel(tb testing.TB) *Predictor {
	tb.Helper()
	if _, err := os.Stat(DefaultPath); err != nil {
		testenv.Missing(tb, "dlib model %s (Debian libdlib-data): %v", DefaultPath, err)
	}
	modelOnce.Do(func() { model, modelErr = Load(DefaultPath) })
	if modelErr != nil {
		tb.Fatal(modelErr)
	}
	return model
}

var (
	refOnce sync.Once
	refDir  string
	refBin  string
	refErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if refDir != "" {
		os.RemoveAll(refDir)
	}
	os.Exit(code)
}

// dlibRef builds the reference tool once per test binary. Debian's
// dlib-1.pc names libblas.so/liblapack.so, which only the -dev packages
// provide, so the link falls back to the runtime sonames the header-only
// matrix code needs.
func dlibRef(tb testing.TB) string {
	tb.Helper()
	if _, err := exec.LookPath("g++"); err != nil {
		testenv.Missing(tb, "g++ to build the dlib reference tool")
	}
	if _, err := os.Stat("/usr/include/dlib/image_processing/shape_predictor.h"); err != nil {
		testenv.Missing(tb, "dlib headers (Debian libdlib-dev): %v", err)
	}
	refOnce.Do(func() {
		refDir, refErr = os.MkdirTemp("", "dlibref")
		if refErr != nil {
			return
		}
		src, err := filepath.Abs("testdata/dlibref.cpp")
		if err != nil {
			refErr = err
			return
		}
		bin := filepath.Join(refDir, "dlibref")
		var msgs []string
		for _, libs := range [][]string{
			{"-ldlib", "-lpthread", "-l:libblas.so.3", "-l:liblapack.so.3"},
			{"-ldlib", "-lpthread", "-lblas", "-llapack"},
		} {
			args := append([]string{"-O2", "-o", bin, src}, libs...)
			out, err := exec.Command("g++", args...).CombinedOutput()
			if err == nil {
				refBin = bin
				return
			}
			msgs = append(msgs, fmt.Sprintf("g++ %s: %v\n%s", strings.Join(args, " "), err, out))
		}
		refErr = fmt.Errorf("building dlibref:\n%s", strings.Join(msgs, "\n"))
	})
	if refErr != nil {
		tb.Fatal(refErr)
	}
	return refBin
}

// refFace is one face of dlibref's output.
type refFace struct {
	img       int
	box       [4]int // dlib rectangle l t r b, inclusive
	pts       [NumParts][2]float64
	predictUS float64
}

func (f refFace) rect() img.Rect {
	return RectFromDlib(f.box[0], f.box[1], f.box[2], f.box[3])
}

// runRef runs dlibref and parses its records.
func runRef(tb testing.TB, args ...string) (faces []refFace, loadMS float64) {
	tb.Helper()
	cmd := exec.Command(dlibRef(tb), append([]string{DefaultPath}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("dlibref %v: %v\n%s", args, err, stderr.Bytes())
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	num := func(s string) float64 {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			tb.Fatalf("dlibref output: %v", err)
		}
		return v
	}
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "load_ms":
			loadMS = num(f[1])
		case len(f) == 6 && f[0] == "face":
			var r refFace
			r.img = int(num(f[1]))
			for i := range r.box {
				r.box[i] = int(num(f[2+i]))
			}
			faces = append(faces, r)
		case len(f) == 1+2*NumParts && f[0] == "pts" && len(faces) > 0:
			for i := range NumParts {
				faces[len(faces)-1].pts[i] = [2]float64{num(f[1+2*i]), num(f[2+2*i])}
			}
		case len(f) == 2 && f[0] == "predict_us" && len(faces) > 0:
			faces[len(faces)-1].predictUS = num(f[1])
		default:
			tb.Fatalf("dlibref: unexpected line %q", sc.Text())
		}
	}
	return faces, loadMS
}

// photo decodes a sample photo to 8-bit luma. For the JPEG's YCbCr that is
// its Y plane as stored, so both predictors see exactly these bytes.
func photo(tb testing.TB, n int) img.Gray {
	tb.Helper()
	path := filepath.Join(photoDir, fmt.Sprintf("sample%d.jpg", n))
	f, err := os.Open(path)
	if err != nil {
		testenv.Missing(tb, "sample photo: %v", err)
	}
	defer f.Close()
	m, err := jpeg.Decode(f)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	b := m.Bounds()
	g := img.Gray{W: b.Dx(), H: b.Dy(), Stride: b.Dx(), Pix: make([]byte, b.Dx()*b.Dy())}
	if y, ok := m.(*image.YCbCr); ok {
		for r := range g.H {
			o := y.YOffset(b.Min.X, b.Min.Y+r)
			copy(g.Pix[r*g.Stride:][:g.W], y.Y[o:o+g.W])
		}
		return g
	}
	for r := range g.H {
		for c := range g.W {
			g.Pix[r*g.Stride+c] = color.GrayModel.Convert(m.At(b.Min.X+c, b.Min.Y+r)).(color.Gray).Y
		}
	}
	return g
}

// writePGM stores g as a binary PGM for dlibref.
func writePGM(tb testing.TB, path string, g img.Gray) {
	tb.Helper()
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "P5\n%d %d\n255\n", g.W, g.H)
	for r := range g.H {
		buf.Write(g.Pix[r*g.Stride:][:g.W])
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// agreement compares Go's points with dlib's (whole pixels): the mean
// distance in inter-ocular units (outer eye corners 36 and 45, from dlib's
// points), raw and after rounding Go's points as dlib does, and how many
// rounded points differ.
func agreement(got [NumParts]img.Point, want [NumParts][2]float64) (raw, rounded float64, differ int) {
	iod := math.Hypot(want[45][0]-want[36][0], want[45][1]-want[36][1])
	for i, p := range got {
		x, y := float64(p.X), float64(p.Y)
		raw += math.Hypot(x-want[i][0], y-want[i][1])
		rx, ry := math.Floor(x+0.5), math.Floor(y+0.5)
		if d := math.Hypot(rx-want[i][0], ry-want[i][1]); d != 0 {
			rounded += d
			differ++
		}
	}
	return raw / NumParts / iod, rounded / NumParts / iod, differ
}

// TestAgreeWithDlib runs dlib's face detector and predictor on the six
// sample photos and the Go predictor on dlib's boxes.
func TestAgreeWithDlib(t *testing.T) {
	p := realModel(t)
	dir := t.TempDir()
	var args []string
	photos := make([]img.Gray, 6)
	for i := range photos {
		photos[i] = photo(t, i+1)
		path := filepath.Join(dir, fmt.Sprintf("sample%d.pgm", i+1))
		writePGM(t, path, photos[i])
		args = append(args, path)
	}
	faces, loadMS := runRef(t, append([]string{"-detect"}, args...)...)
	t.Logf("dlib: load %.0f ms", loadMS)
	type sum struct {
		faces, differ int
		raw, rounded  float64
	}
	per := make([]sum, len(photos))
	for _, f := range faces {
		g := photos[f.img]
		got := p.Predict(g, f.rect())
		raw, rounded, differ := agreement(got, f.pts)
		s := &per[f.img]
		s.faces++
		s.differ += differ
		s.raw += raw
		s.rounded += rounded
		// Speed is BenchmarkPredict's; dlib's own time per face is logged for it.
		t.Logf("sample%d.jpg box l=%d t=%d r=%d b=%d: mean error %.5f IOD (rounded %.5f IOD, %d/68 points differ); dlib predict %.0f µs",
			f.img+1, f.box[0], f.box[1], f.box[2], f.box[3], raw, rounded, differ, f.predictUS)
		checkAgreement(t, fmt.Sprintf("sample%d.jpg box %v", f.img+1, f.box), got, f.pts)
	}
	for i, s := range per {
		if s.faces == 0 {
			t.Errorf("dlib found no face in sample%d.jpg", i+1)
			continue
		}
		n := float64(s.faces)
		t.Logf("sample%d.jpg: %d faces, mean error %.5f IOD, rounded like dlib %.5f IOD (%d points differ)",
			i+1, s.faces, s.raw/n, s.rounded/n, s.differ)
	}
}

// checkAgreement fails t unless Go's points, rounded as dlib rounds its
// own, are dlib's (one point in a face may sit on a rounding boundary
// that double arithmetic in a different order resolves the other way),
// and unless the unrounded points lie within dlib's rounding (√½ px).
func checkAgreement(t *testing.T, what string, got [NumParts]img.Point, want [NumParts][2]float64) {
	t.Helper()
	var px float64
	for i, p := range got {
		px += math.Hypot(float64(p.X)-want[i][0], float64(p.Y)-want[i][1])
	}
	px /= NumParts
	if _, rounded, differ := agreement(got, want); differ > 1 || rounded > 0.001 || px > math.Sqrt2/2 {
		t.Errorf("%s: Go and dlib disagree: %d points differ after rounding (%.5f IOD); mean distance %.3f px", what, differ, rounded, px)
	}
}

// crop is a view of g from (x0, y0), w×h, sharing its pixels (so its
// Stride exceeds its width).
func crop(g img.Gray, x0, y0, w, h int) img.Gray {
	return img.Gray{W: w, H: h, Stride: g.Stride, Pix: g.Pix[y0*g.Stride+x0:]}
}

// TestEdgesAgainstDlib compares Go and dlib where pixel reads leave the
// image: boxes hanging off each side of the frame, a 1×1 image, an
// all-black one. dlib reads 0 outside the image; so must we.
func TestEdgesAgainstDlib(t *testing.T) {
	p := realModel(t)
	// sample3.jpg has a face that dlib's detector boxes as (567, 376)–(782, 591).
	g := photo(t, 3)
	black := img.Gray{W: 64, H: 64, Stride: 64, Pix: make([]byte, 64*64)}
	for _, c := range []struct {
		name string
		g    img.Gray
		box  [4]int
	}{
		{"off top-left", crop(g, 650, 450, 600, 500), [4]int{567 - 650, 376 - 450, 782 - 650, 591 - 450}},
		{"off bottom-right", crop(g, 0, 0, 700, 520), [4]int{567, 376, 782, 591}},
		{"box larger than frame", crop(g, 600, 420, 150, 140), [4]int{567 - 600, 376 - 420, 782 - 600, 591 - 420}},
		{"1x1 image", img.Gray{W: 1, H: 1, Stride: 1, Pix: []byte{200}}, [4]int{-50, -50, 49, 49}},
		{"all black", black, [4]int{5, 5, 58, 58}},
	} {
		path := filepath.Join(t.TempDir(), "im.pgm")
		writePGM(t, path, c.g)
		args := []string{path}
		for _, v := range c.box {
			args = append(args, strconv.Itoa(v))
		}
		t.Setenv("DLIBREF_REPS", "1")
		faces, _ := runRef(t, args...)
		if len(faces) != 1 {
			t.Fatalf("%s: dlibref returned %d faces", c.name, len(faces))
		}
		got := p.Predict(c.g, faces[0].rect())
		raw, rounded, differ := agreement(got, faces[0].pts)
		t.Logf("%s: %dx%d image, box %v: mean error %.5f IOD (rounded %.5f IOD, %d/68 points differ)", c.name, c.g.W, c.g.H, c.box, raw, rounded, differ)
		checkAgreement(t, c.name, got, faces[0].pts)
	}
}

// benchBox is dlib's detection in sample3.jpg.
var benchBox = RectFromDlib(567, 376, 782, 591)

// BenchmarkPredict measures one face's 68 points with the real model.
func BenchmarkPredict(b *testing.B) {
	p := realModel(b)
	g := photo(b, 3)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		p.Predict(g, benchBox)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/face")
}

// BenchmarkLoad measures parsing the ~100 MB model file.
func BenchmarkLoad(b *testing.B) {
	if _, err := os.Stat(DefaultPath); err != nil {
		testenv.Missing(b, "dlib model %s: %v", DefaultPath, err)
	}
	b.ReportAllocs()
	var p *Predictor
	for b.Loop() {
		var err error
		if p, err = Load(DefaultPath); err != nil {
			b.Fatal(err)
		}
	}
	// What a loaded model keeps: the heap with it minus the heap without.
	var with, without runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&with)
	runtime.KeepAlive(p)
	p = nil
	runtime.GC()
	runtime.ReadMemStats(&without)
	b.ReportMetric(float64(with.HeapAlloc-without.HeapAlloc)/(1<<20), "MiB-retained")
}
