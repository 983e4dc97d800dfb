package blazeface

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/lsie-mlf/lsie/plugins/au/internal/img"
)

// photoTruth is the ground truth of the test photos, counted by looking at
// them: every face visible in the photo (all frontal or three-quarter,
// sample2's leftmost woman near-profile), given by an approximate centre in
// a 960-px-wide copy (×2 for the 1920-px originals). A detection counts as
// finding a face when its box contains the face's centre.
var photoTruth = []struct {
	name    string
	centres [][2]float32
}{
	{"sample1.jpg", [][2]float32{{245, 235}, {465, 265}, {785, 155}}},                         // 3 women, one in the middle bending
	{"sample2.jpg", [][2]float32{{215, 140}, {490, 185}, {775, 130}}},                         // 3 women on a sofa
	{"sample3.jpg", [][2]float32{{335, 245}, {585, 180}, {800, 205}}},                         // 3 women at a bar
	{"sample4.jpg", [][2]float32{{170, 165}, {375, 95}, {540, 140}, {690, 120}}},              // 4 women posing
	{"sample5.jpg", [][2]float32{{235, 505}, {340, 280}, {425, 100}, {590, 165}, {745, 250}}}, // 5 on stairs
	{"sample6.jpg", [][2]float32{{175, 320}, {370, 240}, {635, 240}, {795, 215}}},             // 4 standing
}

func contains(r img.Rect, x, y float32) bool { return x >= r.X0 && x < r.X1 && y >= r.Y0 && y < r.Y1 }

func TestPhotos(t *testing.T) {
	d := openTest(t)
	var table strings.Builder
	fmt.Fprintf(&table, "\n%-12s %5s %4s %7s %5s %5s  %s\n", "photo", "width", "runs", "present", "found", "extra", "scores (found faces, box width px)")
	for _, width := range []int{1920, 640} {
		for _, p := range photoTruth {
			im := loadPhoto(t, p.name)
			if im.W != width {
				im = scale(im, width, im.H*width/im.W)
			}
			k := float32(width) / 960
			faces, err := d.Detect(im)
			if err != nil {
				t.Fatal(err)
			}
			found, extra := 0, 0
			var scores []string
			used := make([]bool, len(faces))
			for _, c := range p.centres {
				hit := -1
				for i, f := range faces {
					if !used[i] && contains(f.Box, c[0]*k, c[1]*k) {
						hit = i
						break
					}
				}
				if hit < 0 {
					t.Errorf("%s@%d: face at %v (960-px copy) not found", p.name, width, c)
					continue
				}
				used[hit] = true
				found++
				f := faces[hit]
				scores = append(scores, fmt.Sprintf("%.2f/%.0f", f.Score, f.Box.W()))
				checkPlausible(t, fmt.Sprintf("%s@%d face %v", p.name, width, c), f, im)
			}
			for i, f := range faces {
				if !used[i] {
					extra++
					t.Errorf("%s@%d: extra face %+v", p.name, width, f)
				}
			}
			fmt.Fprintf(&table, "%-12s %5d %4d %7d %5d %5d  %s\n", p.name, width, len(d.Tiles(im.W, im.H)), len(p.centres), found, extra, strings.Join(scores, " "))
		}
	}
	t.Log(table.String())
}

// checkPlausible: a face-shaped box of a sensible size, the eyes inside
// it, the subject's right eye on the image's left, eyes above the mouth.
func checkPlausible(t *testing.T, what string, f Face, im img.RGB) {
	t.Helper()
	w, h := f.Box.W(), f.Box.H()
	if w < 0.03*float32(im.W) || w > 0.3*float32(im.W) || h < 0.8*w || h > 1.25*w {
		t.Errorf("%s: implausible box %+v", what, f.Box)
	}
	re, le, m := f.Keypoints[RightEye], f.Keypoints[LeftEye], f.Keypoints[Mouth]
	for _, e := range []img.Point{re, le, m} {
		if !contains(f.Box, e.X, e.Y) {
			t.Errorf("%s: keypoint %v outside box %+v", what, e, f.Box)
		}
	}
	if !(re.X < le.X) {
		t.Errorf("%s: right eye %v not left of left eye %v", what, re, le)
	}
	if !(m.Y > re.Y && m.Y > le.Y) {
		t.Errorf("%s: mouth %v not below the eyes %v %v", what, m, re, le)
	}
	if f.TooSmall {
		t.Errorf("%s: %.0f-px face marked TooSmall", what, w)
	}
}

func TestBadInput(t *testing.T) {
	d := openTest(t)
	black := func(w, h int) img.RGB { return img.RGB{W: w, H: h, Stride: 3 * w, Pix: make([]byte, 3*w*h)} }
	for _, c := range []struct {
		name string
		im   img.RGB
		err  string // "" for no error and no face
	}{
		{"0x0", img.RGB{}, "empty"},
		{"negative", img.RGB{W: -4, H: 3, Stride: 12, Pix: make([]byte, 64)}, "empty"},
		{"stride<3W", img.RGB{W: 10, H: 10, Stride: 20, Pix: make([]byte, 300)}, "stride"},
		{"short Pix", img.RGB{W: 10, H: 10, Stride: 30, Pix: make([]byte, 299)}, "bytes"},
		{"nil Pix", img.RGB{W: 10, H: 10, Stride: 30}, "bytes"},
		{"1x1", black(1, 1), ""},
		{"1 px wide", black(1, 720), ""},
		{"1 px high", black(1280, 1), ""},
		{"black 640x480", black(640, 480), ""},
		{"black 1920x1080", black(1920, 1080), ""},
		{"white 640x480", img.RGB{W: 640, H: 480, Stride: 1920, Pix: []byte(strings.Repeat("\xff", 1920*480))}, ""},
		{"padded stride", img.RGB{W: 5, H: 5, Stride: 64, Pix: make([]byte, 4*64+15)}, ""},
	} {
		faces, err := d.Detect(c.im)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: err %v, want %q", c.name, err, c.err)
		case len(faces) != 0:
			t.Errorf("%s: %d faces: %+v", c.name, len(faces), faces)
		}
	}
	if _, err := d.Detect(img.RGB{}); !errors.Is(err, ErrEmpty) {
		t.Errorf("0×0: %v, want ErrEmpty", err)
	}
	d.Close()
	if _, err := d.Detect(black(8, 8)); err == nil {
		t.Error("closed detector ran")
	}
}

// faceCrop is a square of sample6.jpg around its rightmost face (box
// ~1474,323 233 px at 1920), twice the face's width, so the face is half
// of it.
func faceCrop(t testing.TB) img.RGB {
	ph := loadPhoto(t, "sample6.jpg")
	const cx, cy, side = 1590, 440, 466
	x0, y0 := cx-side/2, cy-side/2
	return img.RGB{W: side, H: side, Stride: ph.Stride, Pix: ph.Pix[y0*ph.Stride+3*x0:]}
}

// paste draws src into a black w×h frame at (x, y).
func paste(src img.RGB, w, h, x, y int) img.RGB {
	im := img.RGB{W: w, H: h, Stride: 3 * w, Pix: make([]byte, 3*w*h)}
	for r := 0; r < src.H; r++ {
		copy(im.Pix[(y+r)*im.Stride+3*x:], src.Pix[r*src.Stride:r*src.Stride+3*src.W])
	}
	return im
}

// TestMinVisibleFraction measures the smallest face the model finds in a
// whole-frame pass (tiles off), as a fraction of its input; minVisibleFraction
// and the tiling's design rest on it.
func TestMinVisibleFraction(t *testing.T) {
	d := openTest(t, "detect_tiles", "false", "detect_threshold", "0.05", "detect_min_face_px", "0")
	fc := faceCrop(t)
	const frame = 512
	var log strings.Builder
	best := map[float32]float32{}
	for _, frac := range []float32{0.06, 0.08, 0.10, 0.12, 0.14, 0.16, 0.20, 0.30, 0.45} {
		fw := int(frac * frame)
		im := paste(scale(fc, 2*fw, 2*fw), frame, frame, frame/2-fw, frame/2-fw)
		faces, err := d.Detect(im)
		if err != nil {
			t.Fatal(err)
		}
		var s float32
		var bw float32
		for _, f := range faces {
			if contains(f.Box, frame/2, frame/2) && f.Score > s {
				s, bw = f.Score, f.Box.W()
			}
		}
		best[frac] = s
		fmt.Fprintf(&log, "face %.2f of input (%3d px): score %.2f box %3.0f px\n", frac, fw, s, bw)
	}
	t.Log("\n" + log.String())
	if best[0.08] >= DefaultThreshold {
		t.Errorf("8%% face found (%.2f): minVisibleFraction is too high", best[0.08])
	}
	for _, frac := range []float32{0.14, 0.16, 0.20, 0.30, 0.45} {
		if best[frac] < DefaultThreshold {
			t.Errorf("%.0f%% face scored %.2f: minVisibleFraction (%.2f) is too low", 100*frac, best[frac], minVisibleFraction)
		}
	}
}

func TestSmallFaceNeedsTiles(t *testing.T) {
	fc := faceCrop(t)
	// A 60-px face (crop 120 px) in a black 640×480 analysis frame: 9 % of
	// the frame, below what the whole-frame pass sees (12 %).
	im := paste(scale(fc, 120, 120), 640, 480, 420, 250)
	cx, cy := float32(480), float32(310)

	off := openTest(t, "detect_tiles", "false")
	if faces, err := off.Detect(im); err != nil || len(faces) != 0 {
		t.Errorf("tiles off: %+v %v (expected the face to be invisible)", faces, err)
	}
	if mv := off.MinVisible(640, 480); mv <= 60 {
		t.Errorf("tiles off: MinVisible %.0f px, want > 60 (the blind spot must be stated)", mv)
	}

	on := openTest(t) // auto: tiles on at 640
	faces, err := on.Detect(im)
	if err != nil || len(faces) != 1 || !contains(faces[0].Box, cx, cy) || faces[0].TooSmall {
		t.Fatalf("tiles on: %+v %v", faces, err)
	}
	t.Logf("60-px face via %d runs: score %.2f box %.0f px, MinVisible %.0f px", len(on.Tiles(640, 480)), faces[0].Score, faces[0].Box.W(), on.MinVisible(640, 480))

	// A 20-px face: found by zoom-5 tiles (128 px, the smallest that add
	// resolution), and flagged TooSmall instead of dropped.
	tiny := paste(scale(fc, 40, 40), 640, 480, 200, 100)
	z := openTest(t, "detect_tile_zoom", "2,5")
	faces, err = z.Detect(tiny)
	if err != nil || len(faces) != 1 || !contains(faces[0].Box, 220, 120) || !faces[0].TooSmall {
		t.Fatalf("20-px face, zoom 2,5: %+v %v", faces, err)
	}
	t.Logf("20-px face via %d runs: score %.2f box %.0f px TooSmall", len(z.Tiles(640, 480)), faces[0].Score, faces[0].Box.W())
}

// BenchmarkDetect640 runs a 640×480 frame holding one face (sample6's
// rightmost woman, cropped and scaled), tiles on (the default at 640) and
// off; ms/frame is reported beside ns/op.
func BenchmarkDetect640(b *testing.B) {
	ph := loadPhoto(b, "sample6.jpg")
	// 560×420 around the face (4:3), scaled up to 640×480.
	const x0, y0 = 1360, 150
	src := img.RGB{W: 560, H: 420, Stride: ph.Stride, Pix: ph.Pix[y0*ph.Stride+3*x0:]}
	im := scaleUp(src, 640, 480)
	for _, tiles := range []string{"true", "false"} {
		b.Run("tiles="+tiles, func(b *testing.B) {
			d := openTest(b, "detect_tiles", tiles)
			faces, err := d.Detect(im)
			if err != nil || len(faces) != 1 {
				b.Fatalf("%d faces %v: %+v", len(faces), err, faces)
			}
			b.ResetTimer()
			for b.Loop() {
				if _, err := d.Detect(im); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/frame")
			b.ReportMetric(float64(len(d.Tiles(im.W, im.H))), "runs/frame")
		})
	}
}

// scaleUp resizes by nearest neighbour (enlarging: area averaging would
// not apply).
func scaleUp(im img.RGB, w, h int) img.RGB {
	out := img.RGB{W: w, H: h, Stride: 3 * w, Pix: make([]byte, 3*w*h)}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			copy(out.Pix[y*out.Stride+3*x:][:3], im.Pix[(y*im.H/h)*im.Stride+3*(x*im.W/w):])
		}
	}
	return out
}
