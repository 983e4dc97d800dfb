// Package motion measures how much each analysis frame of a stream changed
// from the one before, over the whole frame and inside named zones: the
// host's motion gates (config.Gate) send heavy plugins only the frames
// where something moves.
//
// The measure is the visual plugin's motion: the frame is box-averaged
// into a gray thumbnail 64 cells wide (Rec.601 luma, 0..255), and the score
// is the mean absolute difference of its cells from the previous frame's.
// A zone's score is the same mean over the cells whose centres lie inside
// its polygon. Small enough to ignore sensor noise and compression
// shimmer, large enough to see a person cross a room; about 1 ms per 640 px
// frame here (docs/BENCHMARKS.md).
package motion

import "math"

// GridWidth is the thumbnail's width in cells.
const GridWidth = 64

// Zone is a named polygon in normalised frame coordinates (0..1, x right, y
// down).
type Zone struct {
	Name    string
	Polygon [][2]float64
}

// Scores are one frame's motion. Valid is false on a stream's first frame
// and after the frame size changed: there is nothing to compare with.
type Scores struct {
	Valid bool
	// Frame is the whole frame's score.
	Frame float64
	// Zones are the zones' scores, in the Meter's zone order.
	Zones []float64
}

// Meter measures a stream's frames in order. It is not safe for concurrent
// use: capture calls it from one thread.
type Meter struct {
	zones     []Zone
	masks     [][]int // per zone, the cells inside it
	cur, prev grid
	have      bool
	col       []int // pixel column -> cell column, for the current width
	scores    Scores
}

// New returns a Meter for the given zones.
func New(zones []Zone) *Meter {
	return &Meter{zones: zones, scores: Scores{Zones: make([]float64, len(zones))}}
}

// Index returns the position of the named zone in Scores.Zones, or -1.
func (m *Meter) Index(name string) int {
	for i, z := range m.zones {
		if z.Name == name {
			return i
		}
	}
	return -1
}

// grid is a box-downscaled gray image: per-cell luma sums ×1000, then
// means.
type grid struct {
	w, h int
	sum  []int64
	n    []int64
	mean []float64
}

func (g *grid) reset(w, h int) {
	g.w, g.h = w, h
	if cap(g.sum) < w*h {
		g.sum, g.n, g.mean = make([]int64, w*h), make([]int64, w*h), make([]float64, w*h)
	}
	g.sum, g.n, g.mean = g.sum[:w*h], g.n[:w*h], g.mean[:w*h]
	clear(g.sum)
	clear(g.n)
}

func (g *grid) finish() {
	for i := range g.sum {
		if g.n[i] > 0 {
			g.mean[i] = float64(g.sum[i]) / float64(g.n[i]) / 1000
		} else {
			g.mean[i] = 0
		}
	}
}

// RGB measures an RGB24 frame (3 bytes a pixel, rows stride bytes apart).
// The returned Scores are valid until the next call.
func (m *Meter) RGB(pix []byte, width, height, stride int) Scores {
	g := m.begin(width, height)
	for y := range height {
		row := pix[y*stride : y*stride+3*width]
		base := (y * g.h / height) * g.w
		for x := range width {
			c := base + m.col[x]
			// Rec.601 luma ×1000 in integers, as the visual plugin.
			g.sum[c] += int64(299*int(row[3*x]) + 587*int(row[3*x+1]) + 114*int(row[3*x+2]))
			g.n[c]++
		}
	}
	return m.end()
}

// Luma measures a frame from its luma plane (NV12's Y plane: one byte a
// pixel, rows stride bytes apart).
func (m *Meter) Luma(y8 []byte, width, height, stride int) Scores {
	g := m.begin(width, height)
	for y := range height {
		row := y8[y*stride : y*stride+width]
		base := (y * g.h / height) * g.w
		for x := range width {
			c := base + m.col[x]
			g.sum[c] += 1000 * int64(row[x])
			g.n[c]++
		}
	}
	return m.end()
}

// begin swaps the grids and sizes the new one for a width×height frame; a
// new size starts the comparison over.
func (m *Meter) begin(width, height int) *grid {
	gw := min(GridWidth, max(width, 1))
	gh := max(1, height*gw/max(width, 1))
	m.prev, m.cur = m.cur, m.prev
	if m.prev.w != gw || m.prev.h != gh || len(m.col) != width {
		m.have = false
		m.col = make([]int, width)
		for x := range m.col {
			m.col[x] = x * gw / width
		}
		m.masks = make([][]int, len(m.zones))
		for i, z := range m.zones {
			m.masks[i] = cellsInside(z.Polygon, gw, gh)
		}
	}
	m.cur.reset(gw, gh)
	return &m.cur
}

func (m *Meter) end() Scores {
	m.cur.finish()
	s := &m.scores
	s.Valid = m.have
	m.have = true
	if !s.Valid {
		s.Frame = 0
		clear(s.Zones)
		return *s
	}
	s.Frame = meanAbsDiff(m.cur.mean, m.prev.mean, nil)
	for i, cells := range m.masks {
		s.Zones[i] = meanAbsDiff(m.cur.mean, m.prev.mean, cells)
	}
	return *s
}

// meanAbsDiff is the mean |a-b| over cells (every cell when nil).
func meanAbsDiff(a, b []float64, cells []int) float64 {
	var d float64
	if cells == nil {
		for i := range a {
			d += math.Abs(a[i] - b[i])
		}
		return d / float64(len(a))
	}
	for _, i := range cells {
		d += math.Abs(a[i] - b[i])
	}
	return d / float64(len(cells))
}

// cellsInside returns the cells of a w×h grid whose centres lie inside
// poly; a polygon too small to hold any centre gets the cell under its
// centroid, so every zone is measured.
func cellsInside(poly [][2]float64, w, h int) []int {
	var cells []int
	for cy := range h {
		for cx := range w {
			if Inside(poly, (float64(cx)+0.5)/float64(w), (float64(cy)+0.5)/float64(h)) {
				cells = append(cells, cy*w+cx)
			}
		}
	}
	if len(cells) == 0 && len(poly) > 0 {
		var sx, sy float64
		for _, p := range poly {
			sx += p[0]
			sy += p[1]
		}
		cx := min(w-1, int(sx/float64(len(poly))*float64(w)))
		cy := min(h-1, int(sy/float64(len(poly))*float64(h)))
		cells = []int{max(cy, 0)*w + max(cx, 0)}
	}
	return cells
}

// Inside reports whether (x, y) lies in poly, by the even-odd rule: a ray
// from it to the right crosses the polygon's edges an odd number of times.
func Inside(poly [][2]float64, x, y float64) bool {
	in := false
	for i, j := 0, len(poly)-1; i < len(poly); j, i = i, i+1 {
		xi, yi, xj, yj := poly[i][0], poly[i][1], poly[j][0], poly[j][1]
		if (yi > y) != (yj > y) && x < (xj-xi)*(y-yi)/(yj-yi)+xi {
			in = !in
		}
	}
	return in
}
