package img

import "testing"

func TestConversions(t *testing.T) {
	// A 3×3 RGB frame with a padded stride: white, mid gray, red...
	rgb := RGB{W: 3, H: 3, Stride: 10, Pix: make([]byte, 30)}
	set := func(x, y int, r, g, b byte) { copy(rgb.Pix[y*10+3*x:], []byte{r, g, b}) }
	set(0, 0, 255, 255, 255)
	set(1, 0, 128, 128, 128)
	set(2, 0, 255, 0, 0)
	gray, _ := GrayFromRGB(rgb, nil)
	if gray.Pix[0] != 255 || gray.Pix[1] != 128 || gray.Pix[2] != 76 || gray.Pix[3] != 0 {
		t.Fatalf("gray %v", gray.Pix)
	}
	back, _ := RGBFromGray(gray, nil)
	if back.Pix[3] != 128 || back.Pix[4] != 128 || back.Pix[5] != 128 || back.Stride != 9 {
		t.Fatalf("rgb from gray %v", back.Pix[:9])
	}
	rgba := []byte{1, 2, 3, 255, 4, 5, 6, 0}
	r, _ := RGBFromRGBA(2, 1, 8, rgba, nil)
	if string(r.Pix) != string([]byte{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("rgba → rgb %v", r.Pix)
	}
}

// NV12 of limited-range white, black and a saturated colour converts to
// the expected RGB; the luma view aliases the frame.
func TestNV12(t *testing.T) {
	// 2×2 frame, stride 2: Y plane then one U, V pair.
	for _, tc := range []struct {
		y, u, v byte
		r, g, b byte
	}{
		{235, 128, 128, 255, 255, 255},
		{16, 128, 128, 0, 0, 0},
		{81, 90, 240, 255, 0, 0}, // BT.601 red
	} {
		pix := []byte{tc.y, tc.y, tc.y, tc.y, tc.u, tc.v}
		f := NV12{W: 2, H: 2, Stride: 2, Pix: pix}
		rgb, _ := f.RGB(nil)
		for i := 0; i < 4; i++ {
			p := rgb.Pix[3*i : 3*i+3]
			if d := absDiff(p[0], tc.r) + absDiff(p[1], tc.g) + absDiff(p[2], tc.b); d > 6 {
				t.Errorf("YUV %d,%d,%d → %v, want %d,%d,%d", tc.y, tc.u, tc.v, p, tc.r, tc.g, tc.b)
			}
		}
		if l := f.Luma(); &l.Pix[0] != &pix[0] || len(l.Pix) != 4 {
			t.Errorf("luma view is a copy or the wrong size")
		}
	}
	// Odd sizes: 3×3 with stride 4 has 2 chroma rows.
	f := NV12{W: 3, H: 3, Stride: 4, Pix: make([]byte, 4*5)}
	if rgb, _ := f.RGB(nil); len(rgb.Pix) != 27 {
		t.Fatalf("odd NV12: %d bytes", len(rgb.Pix))
	}
	// Odd width with an unpadded stride must not read past the chroma row.
	f = NV12{W: 3, H: 3, Stride: 3, Pix: make([]byte, 3*5)}
	if rgb, _ := f.RGB(nil); len(rgb.Pix) != 27 {
		t.Fatalf("odd unpadded NV12: %d bytes", len(rgb.Pix))
	}
}

func absDiff(a, b byte) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}
