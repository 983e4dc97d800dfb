package aus

import (
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/lsie-mlf/lsie/plugins/au/internal/img"
)

// dlibFace is one face of testdata/dlib_faces.json: dlib's 68-point
// predictor run on var/media/faces/sample*.jpg (frontal face detector).
type dlibFace struct {
	Image  string
	Face   int
	Box    [4]float32
	Points [][2]float32
}

func loadDlibFaces(t testing.TB) []dlibFace {
	raw, err := os.ReadFile("testdata/dlib_faces.json")
	if err != nil {
		t.Fatal(err)
	}
	var fs []dlibFace
	if err := json.Unmarshal(raw, &fs); err != nil {
		t.Fatal(err)
	}
	return fs
}

func (f *dlibFace) points() (p [68]img.Point) {
	for i, v := range f.Points {
		p[i] = img.Point{X: v[0], Y: v[1]}
	}
	return p
}

// smiles holds human judgements of the photo faces (by looking at them):
// 1 a clear smile, 0 a neutral or non-smiling face; faces not listed are
// slight smiles or, for sample1 face 3, a false detection (a shirt badge).
var smiles = map[[2]any]int{
	{"sample1.jpg", 1}: 1, {"sample3.jpg", 1}: 1, {"sample3.jpg", 2}: 1,
	{"sample4.jpg", 1}: 1, {"sample4.jpg", 2}: 1, {"sample6.jpg", 2}: 1,
	{"sample1.jpg", 2}: 0, {"sample3.jpg", 0}: 0, {"sample4.jpg", 0}: 0,
	{"sample5.jpg", 1}: 0, {"sample5.jpg", 4}: 0, {"sample6.jpg", 0}: 0,
}

func TestPhotoFaces(t *testing.T) {
	var smile, plain []float64
	for _, f := range loadDlibFaces(t) {
		p := f.points()
		r := Estimate(&p, nil)
		noNaN(t, &r)
		label, judged := smiles[[2]any{f.Image, f.Face}]
		t.Logf("%s face %d (judged %v/%v): AU12 %.2f AU6 %.2f AU25 %.2f AU45 %.2f yaw %5.1f pitch %5.1f roll %5.1f flags %b",
			f.Image, f.Face, label, judged, r.Intensity[AU12], r.Intensity[AU6], r.Intensity[AU25], r.Intensity[AU45],
			r.Pose.Yaw, r.Pose.Pitch, r.Pose.Roll, r.Flags)
		if !judged {
			continue
		}
		if r.Flags != 0 {
			t.Errorf("%s face %d: flags %b", f.Image, f.Face, r.Flags)
		}
		if label == 1 {
			smile = append(smile, r.Intensity[AU12])
		} else {
			plain = append(plain, r.Intensity[AU12])
		}
	}
	// Every judged smile outranks every judged non-smile on AU12.
	if slices.Min(smile) <= slices.Max(plain) {
		t.Errorf("AU12 ranking: smiles %v, non-smiles %v", smile, plain)
	}
}

func BenchmarkEstimate(b *testing.B) {
	fs := loadDlibFaces(b)
	pts := make([][68]img.Point, len(fs))
	for i := range fs {
		pts[i] = fs[i].points()
	}
	base := &Neutral{Frames: 1}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		r := Estimate(&pts[i%len(pts)], base)
		_ = r
	}
}
