package paddle

import "math"

// DB post-processing: the detector's output is a per-pixel probability of
// text; regions above Thresh are text lines shrunk by the model, each grown
// back by unclip into a box (Liao et al., "Real-time Scene Text Detection
// with Differentiable Binarization"; PaddleOCR's DBPostProcess defaults).

// DBParams are the post-processing settings, PaddleOCR's det_db_* names.
type DBParams struct {
	Thresh        float32 // binarisation of the probability map (det_db_thresh)
	BoxThresh     float32 // least mean probability inside a region's box (det_db_box_thresh)
	UnclipRatio   float64 // how far boxes grow back (det_db_unclip_ratio)
	MaxCandidates int     // regions looked at, at most (max_candidates)
}

// DefaultDB are PaddleOCR's defaults for these models.
var DefaultDB = DBParams{Thresh: 0.3, BoxThresh: 0.6, UnclipRatio: 1.5, MaxCandidates: 1000}

// minSize is PaddleOCR's least short side of a region's box, in map
// pixels, before unclip (and minSize+2 after).
const minSize = 3

// detBox is one text region's grown box in map coordinates.
type detBox struct {
	r     rect
	score float32 // mean probability inside the region's box before unclip
}

// span is a horizontal stretch of above-threshold pixels in one row.
type span struct {
	y, x0, x1 int
	parent    int // union-find over runs
}

func find(runs []span, i int) int {
	for runs[i].parent != i {
		runs[i].parent = runs[runs[i].parent].parent
		i = runs[i].parent
	}
	return i
}

// dbBoxes finds the text boxes in prob, a w×h map in row order.
// Components are 8-connected (as OpenCV's contours of a binary map);
// holes in a region are part of it.
func dbBoxes(prob []float32, w, h int, p DBParams) []detBox {
	// Label by runs: each run joins the runs of the row above that it
	// touches, diagonals included.
	var runs []span
	prevStart, prevEnd := 0, 0
	for y := 0; y < h; y++ {
		row := prob[y*w : (y+1)*w]
		start := len(runs)
		for x := 0; x < w; {
			if row[x] <= p.Thresh {
				x++
				continue
			}
			x0 := x
			for x < w && row[x] > p.Thresh {
				x++
			}
			id := len(runs)
			runs = append(runs, span{y: y, x0: x0, x1: x - 1, parent: id})
			for j := prevStart; j < prevEnd; j++ {
				if runs[j].x1 >= x0-1 && runs[j].x0 <= x {
					a, b := find(runs, j), find(runs, id)
					if a != b {
						runs[max(a, b)].parent = min(a, b)
					}
				}
			}
		}
		prevStart, prevEnd = start, len(runs)
	}
	// Each component's run ends are enough for its convex hull.
	index := map[int]int{}
	var comps [][]Point
	for i := range runs {
		root := find(runs, i)
		k, ok := index[root]
		if !ok {
			if len(comps) == p.MaxCandidates {
				continue
			}
			k = len(comps)
			index[root] = k
			comps = append(comps, nil)
		}
		r := runs[i]
		comps[k] = append(comps[k], Point{float64(r.x0), float64(r.y)}, Point{float64(r.x1), float64(r.y)})
	}
	var out []detBox
	for _, pts := range comps {
		r := minAreaRect(convexHull(pts))
		if r.side() < minSize {
			continue
		}
		score := boxScore(prob, w, h, r)
		if score < p.BoxThresh {
			continue
		}
		g := r.unclip(p.UnclipRatio)
		if g.side() < minSize+2 {
			continue
		}
		out = append(out, detBox{r: g, score: score})
	}
	return out
}

// boxScore is the mean probability over the map pixels inside r
// (PaddleOCR's "fast" box score).
func boxScore(prob []float32, w, h int, r rect) float32 {
	lo, hi := r.quad().Bounds()
	x0, y0 := max(int(math.Floor(lo.X)), 0), max(int(math.Floor(lo.Y)), 0)
	x1, y1 := min(int(math.Ceil(hi.X)), w-1), min(int(math.Ceil(hi.Y)), h-1)
	var sum float64
	n := 0
	for y := y0; y <= y1; y++ {
		for x := x0; x <= x1; x++ {
			if r.contains(Point{float64(x), float64(y)}) {
				sum += float64(prob[y*w+x])
				n++
			}
		}
	}
	if n == 0 {
		return 0
	}
	return float32(sum / float64(n))
}
