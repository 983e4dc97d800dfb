package blazeface

import "math"

// Tiling. The front model was trained on selfie-distance faces: it finds a
// face whose width is ≥ ~12 % of its input side (TestMinVisibleFraction),
// and below ~18 % it draws the box too large. In a whole-frame pass over a
// 640×480 frame that is a ≥ 77-px face, so people a few metres from the
// camera are missed or badly boxed. The tile pass runs the model again on
// square crops of side L/zoom (L the frame's longer side), each resampled
// to the input, which lowers the limit to 12 %·L/zoom: 38 px at 640×480
// with the default zoom 2. Cost: one model run per tile on top of the
// whole-frame run: 6 tiles at 640×480, 640×360 and 1920×1080 (7 runs), 9
// when the shorter side exceeds ¾ of the longer (640×512), 24 at zoom 3
// (640×480); each run costs 3–4.5 ms on one core (BenchmarkDetect640:
// ~31 ms/frame at 640×480 with tiles, ~3.5 ms without). Detector.Tiles
// lists them and Detector.MinVisible states the resulting limit, so faces
// below it are a documented blind spot, not a silent one.

// tileOverlap is the fraction of a tile shared with its neighbour: half, so
// any face up to half a tile wide lies wholly inside some tile, and a face
// cut by a tile's inner edge can be dropped there (see edgeCut).
const tileOverlap = 0.5

// letterbox is the whole-frame crop: the frame centred in a square of its
// longer side, the rest black.
func letterbox(w, h int) crop {
	l := float32(max(w, h))
	return crop{X0: (float32(w) - l) / 2, Y0: (float32(h) - l) / 2, Side: l}
}

// tilePlan lists the tiles at zoom for a w×h frame, row by row. Along an
// axis shorter than a tile, one tile is centred (black beyond the frame);
// otherwise tiles start at the frame's edges and are spread evenly with at
// least tileOverlap shared. A 1920×1080 frame at zoom 2 gets 3×2 = 6 tiles.
func tilePlan(w, h int, zoom float32) []crop {
	side := float32(max(w, h)) / zoom
	xs := axis(float32(w), side)
	ys := axis(float32(h), side)
	out := make([]crop, 0, len(xs)*len(ys))
	for _, y := range ys {
		for _, x := range xs {
			out = append(out, crop{X0: x, Y0: y, Side: side})
		}
	}
	return out
}

func axis(n, side float32) []float32 {
	if n <= side {
		return []float32{(n - side) / 2}
	}
	step := side * (1 - tileOverlap)
	k := int(math.Ceil(float64((n-side)/step))) + 1
	out := make([]float32, k)
	for i := range out {
		out[i] = float32(i) * (n - side) / float32(k-1)
	}
	return out
}

// edgeCut reports whether f, found in tile c of a w×h frame, crosses one of
// the tile's inner edges (an edge inside the frame) by more than a tenth of
// its size: the model saw part of a face, whose box is unreliable, and the
// overlap guarantees a neighbouring tile (or, for a large face, the
// whole-frame pass) saw all of it.
func edgeCut(f Face, c crop, w, h int) bool {
	tx, ty := f.Box.W()/10, f.Box.H()/10
	x1, y1 := c.X0+c.Side, c.Y0+c.Side
	// Half a pixel of slack: the last tile's far edge is the frame's up to
	// rounding.
	return (c.X0 > 0.5 && f.Box.X0 < c.X0-tx) ||
		(c.Y0 > 0.5 && f.Box.Y0 < c.Y0-ty) ||
		(x1 < float32(w)-0.5 && f.Box.X1 > x1+tx) ||
		(y1 < float32(h)-0.5 && f.Box.Y1 > y1+ty)
}
