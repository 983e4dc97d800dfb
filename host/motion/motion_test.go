package motion

import (
	"math"
	"testing"
)

// frame is a w×h RGB24 image of one gray level with an optional bright
// square at (sx, sy) of side n.
func frame(w, h int, gray byte, sx, sy, n int) []byte {
	pix := make([]byte, 3*w*h)
	for i := range pix {
		pix[i] = gray
	}
	for y := sy; y < sy+n && y < h; y++ {
		for x := sx; x < sx+n && x < w; x++ {
			copy(pix[3*(y*w+x):], []byte{255, 255, 255})
		}
	}
	return pix
}

func TestScores(t *testing.T) {
	const w, h = 320, 240
	m := New([]Zone{
		{Name: "left", Polygon: [][2]float64{{0, 0}, {0.5, 0}, {0.5, 1}, {0, 1}}},
		{Name: "right", Polygon: [][2]float64{{0.5, 0}, {1, 0}, {1, 1}, {0.5, 1}}},
		{Name: "speck", Polygon: [][2]float64{{0.9, 0.9}, {0.901, 0.9}, {0.9, 0.901}}},
	})
	if m.Index("right") != 1 || m.Index("nope") != -1 {
		t.Fatal("Index")
	}
	if s := m.RGB(frame(w, h, 0, 0, 0, 0), w, h, 3*w); s.Valid {
		t.Fatalf("first frame: %+v, want not valid", s)
	}
	if s := m.RGB(frame(w, h, 0, 0, 0, 0), w, h, 3*w); !s.Valid || s.Frame != 0 || s.Zones[0] != 0 || s.Zones[1] != 0 {
		t.Fatalf("still frame: %+v", s)
	}
	// A square appears on the left: the left zone moves, the right does not.
	s := m.RGB(frame(w, h, 0, 40, 40, 60), w, h, 3*w)
	if !s.Valid || s.Frame <= 0 || s.Zones[0] <= s.Frame || s.Zones[1] != 0 {
		t.Fatalf("square on the left: %+v", s)
	}
	// 60×60 of 320×240 white on black: the frame's mean change is the
	// square's share of the area times 255, whatever the cells it spans.
	if want := 255 * 60.0 * 60 / (w * h); math.Abs(s.Frame-want) > 1e-9 {
		t.Errorf("frame score %v, want %v", s.Frame, want)
	}
	if s := m.RGB(frame(w, h, 255, 0, 0, 0), w, h, 3*w); math.Abs(s.Zones[2]-(255-0)) > 1e-9 || math.Abs(s.Frame-(255-255*60.0*60/(w*h))) > 1e-9 {
		t.Errorf("to white: %+v (a zone too small for a cell centre is measured at its centroid)", s)
	}
	// A new size starts over.
	if s := m.RGB(frame(160, 120, 255, 0, 0, 0), 160, 120, 480); s.Valid {
		t.Errorf("new size: %+v, want not valid", s)
	}
}

// The luma plane of a gray frame scores as the RGB frame does.
func TestLumaMatchesRGB(t *testing.T) {
	const w, h = 200, 100
	rgb, lum := New(nil), New(nil)
	for i, f := range []struct {
		gray   byte
		sx, sy int
	}{{10, 0, 0}, {10, 50, 20}, {200, 120, 40}} {
		pix := frame(w, h, f.gray, f.sx, f.sy, 30)
		y := make([]byte, w*h)
		for p := range y {
			y[p] = pix[3*p] // gray: R = G = B = luma
		}
		a, b := rgb.RGB(pix, w, h, 3*w), lum.Luma(y, w, h, w)
		if a.Valid != b.Valid || math.Abs(a.Frame-b.Frame) > 1e-9 {
			t.Errorf("frame %d: rgb %+v, luma %+v", i, a, b)
		}
	}
}

func TestInside(t *testing.T) {
	tri := [][2]float64{{0.1, 0.1}, {0.9, 0.1}, {0.1, 0.9}}
	for _, c := range []struct {
		x, y float64
		in   bool
	}{{0.2, 0.2, true}, {0.8, 0.8, false}, {0.05, 0.5, false}, {0.4, 0.4, true}} {
		if Inside(tri, c.x, c.y) != c.in {
			t.Errorf("inside(%v, %v) = %v", c.x, c.y, !c.in)
		}
	}
}

// BenchmarkRGB640 measures one 640×360 frame, the default analysis size.
func BenchmarkRGB640(b *testing.B) {
	m := New([]Zone{{Name: "door", Polygon: [][2]float64{{0.1, 0.1}, {0.4, 0.1}, {0.4, 0.9}, {0.1, 0.9}}}})
	pix := frame(640, 360, 30, 100, 100, 50)
	b.SetBytes(int64(len(pix)))
	for b.Loop() {
		m.RGB(pix, 640, 360, 3*640)
	}
}
