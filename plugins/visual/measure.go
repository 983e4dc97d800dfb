package main

import "math"

// gridWidth is the width of the gray thumbnail motion is computed on: small
// enough to ignore sensor noise and compression shimmer, large enough to see
// a moving object.
const gridWidth = 64

// grid is a box-downscaled gray image.
type grid struct {
	w, h int
	sum  []float64 // per-cell luma sums, then means
	n    []int
}

type stats struct{ brightness, contrast, saturation float64 }

// measure computes frame statistics in one pass and fills g with the
// downscaled gray image.
func measure(pix []byte, width, height, stride int, g *grid) stats {
	gw := min(gridWidth, width)
	gh := max(1, height*gw/width)
	g.reset(gw, gh)
	// Luma ×1000 in exact integers: sums stay exact (no overflow below 8K
	// frames), so a flat frame's variance is exactly zero.
	var sumY, sumY2 int64
	var sumS float64
	for y := 0; y < height; y++ {
		row := pix[y*stride : y*stride+3*width]
		cy := y * gh / height
		cells := g.sum[cy*gw : (cy+1)*gw]
		counts := g.n[cy*gw : (cy+1)*gw]
		for x := 0; x < width; x++ {
			r, gr, b := int(row[3*x]), int(row[3*x+1]), int(row[3*x+2])
			// Rec.601 luma in fixed point.
			y1000 := int64(299*r + 587*gr + 114*b)
			sumY += y1000
			sumY2 += y1000 * y1000
			luma := float64(y1000) / 1000
			mx := max(r, gr, b)
			if mx > 0 {
				sumS += float64(mx-min(r, gr, b)) / float64(mx)
			}
			cx := x * gw / width
			cells[cx] += luma
			counts[cx]++
		}
	}
	n := float64(width * height)
	mean := float64(sumY) / n
	variance := math.Max(0, float64(sumY2)/n-mean*mean) / 1e6
	mean /= 1000
	for i := range g.sum {
		if g.n[i] > 0 {
			g.sum[i] /= float64(g.n[i])
		}
	}
	return stats{brightness: mean, contrast: math.Sqrt(variance), saturation: sumS / n}
}

func (g *grid) reset(w, h int) {
	g.w, g.h = w, h
	if cap(g.sum) < w*h {
		g.sum = make([]float64, w*h)
		g.n = make([]int, w*h)
	}
	g.sum = g.sum[:w*h]
	g.n = g.n[:w*h]
	clear(g.sum)
	clear(g.n)
}

func (g *grid) meanAbsDiff(o *grid) float64 {
	var d float64
	for i := range g.sum {
		d += math.Abs(g.sum[i] - o.sum[i])
	}
	return d / float64(len(g.sum))
}
