package paddle

import (
	"math"
	"slices"
)

// Point is a position in pixel-centre coordinates: pixel (i, j) has its
// centre at (i, j), as OpenCV's contour points do.
type Point struct{ X, Y float64 }

func (p Point) add(q Point) Point     { return Point{p.X + q.X, p.Y + q.Y} }
func (p Point) sub(q Point) Point     { return Point{p.X - q.X, p.Y - q.Y} }
func (p Point) scale(s float64) Point { return Point{p.X * s, p.Y * s} }
func (p Point) dot(q Point) float64   { return p.X*q.X + p.Y*q.Y }
func (p Point) cross(q Point) float64 { return p.X*q.Y - p.Y*q.X }
func (p Point) norm() float64         { return math.Hypot(p.X, p.Y) }
func dist(p, q Point) float64         { return q.sub(p).norm() }

// Quad is a text line's box as its corners in reading order: top-left,
// top-right, bottom-right, bottom-left. Boxes from the detector are
// rectangles (possibly rotated); scaled to a frame of another aspect they
// are parallelograms, which is all the crop needs.
type Quad [4]Point

// Width is the length of the top edge (along the text).
func (q Quad) Width() float64 { return dist(q[0], q[1]) }

// Height is the length of the left edge (across the text).
func (q Quad) Height() float64 { return dist(q[0], q[3]) }

// Bounds is the axis-aligned rectangle around q: min and max corners.
func (q Quad) Bounds() (lo, hi Point) {
	lo, hi = q[0], q[0]
	for _, p := range q[1:] {
		lo.X, lo.Y = min(lo.X, p.X), min(lo.Y, p.Y)
		hi.X, hi.Y = max(hi.X, p.X), max(hi.Y, p.Y)
	}
	return lo, hi
}

// turned90 is q read after turning its content 90° anticlockwise: the old
// right edge becomes the top (PaddleOCR's reading of tall boxes).
func (q Quad) turned90() Quad { return Quad{q[1], q[2], q[3], q[0]} }

// turned180 is q upside down.
func (q Quad) turned180() Quad { return Quad{q[2], q[3], q[0], q[1]} }

// rect is a rotated rectangle: centre, unit axes u (along the text,
// pointing right) and v (across it, pointing down), half extents.
type rect struct {
	c      Point
	u, v   Point
	hw, hh float64
}

func (r rect) quad() Quad {
	du, dv := r.u.scale(r.hw), r.v.scale(r.hh)
	return Quad{r.c.sub(du).sub(dv), r.c.add(du).sub(dv), r.c.add(du).add(dv), r.c.sub(du).add(dv)}
}

// side is the rectangle's shorter side.
func (r rect) side() float64 { return 2 * min(r.hw, r.hh) }

// convexHull returns the hull of pts without collinear points (Andrew's
// monotone chain). It sorts pts in place.
func convexHull(pts []Point) []Point {
	slices.SortFunc(pts, func(a, b Point) int {
		if a.X != b.X {
			return cmpF(a.X, b.X)
		}
		return cmpF(a.Y, b.Y)
	})
	pts = slices.CompactFunc(pts, func(a, b Point) bool { return a == b })
	if len(pts) < 3 {
		return slices.Clone(pts)
	}
	hull := make([]Point, 0, 2*len(pts))
	for pass := 0; pass < 2; pass++ {
		start := len(hull)
		for i := range pts {
			p := pts[i]
			if pass == 1 {
				p = pts[len(pts)-1-i]
			}
			for len(hull) >= start+2 && hull[len(hull)-1].sub(hull[len(hull)-2]).cross(p.sub(hull[len(hull)-2])) <= 0 {
				hull = hull[:len(hull)-1]
			}
			hull = append(hull, p)
		}
		hull = hull[:len(hull)-1] // the last point starts the other chain
	}
	return hull
}

func cmpF(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// minAreaRect is the smallest rectangle holding hull (rotating calipers:
// one side of the optimum lies on a hull edge), with u the axis nearer to
// horizontal. A hull of one or two points gives a rectangle of zero
// height.
func minAreaRect(hull []Point) rect {
	switch len(hull) {
	case 0:
		return rect{u: Point{1, 0}, v: Point{0, 1}}
	case 1:
		return rect{c: hull[0], u: Point{1, 0}, v: Point{0, 1}}
	}
	best, bestArea := rect{}, math.Inf(1)
	for i := range hull {
		e := hull[(i+1)%len(hull)].sub(hull[i])
		n := e.norm()
		if n == 0 {
			continue
		}
		u := e.scale(1 / n)
		v := Point{-u.Y, u.X}
		u0, u1, v0, v1 := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
		for _, p := range hull {
			a, b := p.dot(u), p.dot(v)
			u0, u1, v0, v1 = min(u0, a), max(u1, a), min(v0, b), max(v1, b)
		}
		if area := (u1 - u0) * (v1 - v0); area < bestArea-1e-9 {
			bestArea = area
			best = rect{c: u.scale((u0 + u1) / 2).add(v.scale((v0 + v1) / 2)), u: u, v: v, hw: (u1 - u0) / 2, hh: (v1 - v0) / 2}
		}
	}
	return best.upright()
}

// upright relabels r's axes so that u is the one nearer to horizontal,
// pointing right, and v = u turned 90° clockwise on screen (pointing down).
func (r rect) upright() rect {
	if math.Abs(r.u.X) < math.Abs(r.u.Y) {
		r.u, r.v, r.hw, r.hh = r.v, r.u, r.hh, r.hw
	}
	if r.u.X < 0 {
		r.u = r.u.scale(-1)
	}
	r.v = Point{-r.u.Y, r.u.X}
	return r
}

// unclip grows r by PaddleOCR's offset distance area·ratio/perimeter on
// every side (DB's detections are shrunk text regions). For a rectangle,
// the rounded offset polygon's own minimum rectangle is r grown by that
// distance, so no polygon clipping is needed.
func (r rect) unclip(ratio float64) rect {
	w, h := 2*r.hw, 2*r.hh
	if w+h == 0 {
		return r
	}
	d := w * h * ratio / (2 * (w + h))
	r.hw += d
	r.hh += d
	return r
}

// contains reports whether p lies in r (its boundary included).
func (r rect) contains(p Point) bool {
	d := p.sub(r.c)
	const eps = 1e-6
	return math.Abs(d.dot(r.u)) <= r.hw+eps && math.Abs(d.dot(r.v)) <= r.hh+eps
}
