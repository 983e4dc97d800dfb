package aus

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/lsie-mlf/lsie/plugins/au/internal/img"
)

// meanFace is dlib's mean shape scaled into a 400-pixel box at (100, 80).
func meanFace(t testing.TB) [68]img.Point {
	t.Helper()
	raw, err := os.ReadFile("testdata/mean_face.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Points [][2]float64 }
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Points) != 68 {
		t.Fatalf("mean face has %d points", len(f.Points))
	}
	var p [68]img.Point
	for i, v := range f.Points {
		p[i] = img.Point{X: float32(100 + 400*v[0]), Y: float32(80 + 400*v[1])}
	}
	return p
}

// neutralFace is the canonical neutral: the mean face (whose lips are
// parted, being a mean over expressive training faces) with the mouth closed
// by raising the lower lip and chin by the inner-lip gap.
func neutralFace(t testing.TB) [68]img.Point {
	p := meanFace(t)
	var gap float32
	for _, pr := range [][2]int{{61, 67}, {62, 66}, {63, 65}} {
		d := p[pr[1]].Y - p[pr[0]].Y
		gap += d / 3
		p[pr[1]].Y = p[pr[0]].Y
	}
	for _, i := range []int{55, 56, 57, 58, 59, 7, 8, 9} {
		p[i].Y -= gap
	}
	for _, i := range []int{6, 10} {
		p[i].Y -= gap / 2
	}
	return p
}

// faceUnit is the unit (IOD) scale of a shape: eye-corner midpoint distance.
func faceUnit(p *[68]img.Point) float32 {
	r := img.Point{X: (p[36].X + p[39].X) / 2, Y: (p[36].Y + p[39].Y) / 2}
	l := img.Point{X: (p[42].X + p[45].X) / 2, Y: (p[42].Y + p[45].Y) / 2}
	return float32(math.Hypot(float64(l.X-r.X), float64(l.Y-r.Y)))
}

// move shifts points idx by (dx, dy) IOD units (y down).
func move(p [68]img.Point, dx, dy float32, idx ...int) [68]img.Point {
	u := faceUnit(&p)
	for _, i := range idx {
		p[i].X += dx * u
		p[i].Y += dy * u
	}
	return p
}

// similarity rotates by deg about c, scales by s, then translates by (tx, ty).
func similarity(p [68]img.Point, c img.Point, deg, s, tx, ty float64) [68]img.Point {
	sn, cs := math.Sincos(deg * math.Pi / 180)
	for i, v := range p {
		x, y := float64(v.X-c.X), float64(v.Y-c.Y)
		p[i] = img.Point{
			X: float32(s*(cs*x-sn*y)) + c.X + float32(tx),
			Y: float32(s*(sn*x+cs*y)) + c.Y + float32(ty),
		}
	}
	return p
}

func rng(a, b int) []int {
	var r []int
	for i := a; i <= b; i++ {
		r = append(r, i)
	}
	return r
}
