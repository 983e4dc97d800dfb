package landmarks

import (
	"math"

	"github.com/lsie-mlf/lsie/plugins/au/internal/img"
)

// Predict returns the 68 landmarks of the face in box, in pixels of im.
//
// The box follows dlib's rectangle convention as the model was trained
// with it: dlib's rectangles are inclusive, so the model's normalized
// corners (0,0) and (1,1) are pixels (X0, Y0) and (X1−1, Y1−1). A dlib
// rectangle (l, t, r, b) is therefore img.Rect{l, t, r+1, b+1}.
//
// Feature pixels outside the image read as 0, as in dlib, so boxes partly
// or wholly outside the frame, tiny and empty images all give a defined
// result. Unlike dlib, which rounds its output to whole pixels, the points
// are not rounded.
func (p *Predictor) Predict(im img.Gray, box img.Rect) [NumParts]img.Point {
	var shape [dims]float32
	p.predict(&im, box, &shape)
	var out [NumParts]img.Point
	l, t, w, h := boxFrame(box)
	for i := range out {
		// dlib's unnormalizing transform m·p + b, in double.
		out[i] = img.Point{
			X: float32(float64(w*float64(shape[2*i])) + l),
			Y: float32(float64(h*float64(shape[2*i+1])) + t),
		}
	}
	return out
}

// RectFromDlib converts a dlib rectangle (inclusive corners, as dlib's
// face detector returns them) to the box Predict takes.
func RectFromDlib(l, t, r, b int) img.Rect {
	return img.Rect{X0: float32(l), Y0: float32(t), X1: float32(r + 1), Y1: float32(b + 1)}
}

// boxFrame is the map from box-normalized to pixel coordinates:
// x ↦ l + w·x, y ↦ t + h·y.
func boxFrame(box img.Rect) (l, t, w, h float64) {
	l, t = float64(box.X0), float64(box.Y0)
	return l, t, float64(box.X1) - 1 - l, float64(box.Y1) - 1 - t
}

// predict runs the cascade, leaving the box-normalized shape in shape.
func (p *Predictor) predict(im *img.Gray, box img.Rect, shape *[dims]float32) {
	*shape = p.initial
	sc := p.pool.Get().(*scratch)
	defer p.pool.Put(sc)
	leafIdx := sc.leaf
	for ci := range p.cascades {
		c := &p.cascades[ci]
		feat := sc.feat[:len(c.anchor)]
		p.features(im, box, shape, c, feat)
		// Walk all trees first (they depend on the features alone, not on
		// the shape), then sum the chosen leaves: the leaf reads, ~4 MB a
		// face scattered over the model's 65 MB, dominate, and with all
		// their addresses known addLeaves can overlap them.
		trees := p.trees[c.tree0 : c.tree0+c.nTr]
		leaf := leafIdx[:len(trees)]
		for j, t := range trees {
			sp := p.splits[t.split0 : t.split0+t.nSplit]
			i := 0
			for i < len(sp) {
				s := sp[i]
				// Pixel values are whole numbers, so the float difference is
				// exact, as in dlib.
				if feat[s.idx1]-feat[s.idx2] > s.thresh {
					i = 2*i + 1
				} else {
					i = 2*i + 2
				}
			}
			leaf[j] = t.leaf0 + (i-len(sp))*dims
		}
		addLeaves(shape, p.leaves, leaf)
	}
}

// features reads cascade level c's feature pixels for the current shape:
// each pixel's offset from its anchor, defined on the mean shape, is
// carried to the current shape by the similarity transform from the mean
// shape to it, then mapped into the image by the box.
func (p *Predictor) features(im *img.Gray, box img.Rect, shape *[dims]float32, c *cascade, feat []float32) {
	m00, m01, m10, m11 := similarity(&p.initial, shape)
	l, t, w, h := boxFrame(box)
	readable := im.W > 0 && im.H > 0 && im.Stride >= im.W
	W, H := float64(im.W), float64(im.H)
	for i := range feat {
		a := c.anchor[i]
		dx, dy := c.deltas[2*i], c.deltas[2*i+1]
		// float32 arithmetic as dlib's matrix<float,2,2>·vector<float,2>;
		// the conversions keep Go from fusing into FMA, which would round
		// differently.
		px := float32(m00*dx) + float32(m01*dy) + shape[2*a]
		py := float32(m10*dx) + float32(m11*dy) + shape[2*a+1]
		// dlib converts the double pixel position to integers by
		// floor(v+0.5), then reads 0 outside the image.
		fx := math.Floor(float64(w*float64(px)) + l + 0.5)
		fy := math.Floor(float64(h*float64(py)) + t + 0.5)
		v := float32(0)
		// Written so that NaN positions fail the test too.
		if readable && fx >= 0 && fx < W && fy >= 0 && fy < H {
			if k := int(fy)*im.Stride + int(fx); k < len(im.Pix) {
				v = float32(im.Pix[k])
			}
		}
		feat[i] = v
	}
}

// similarity is the 2×2 part (scale·rotation) of the least-squares
// similarity transform taking shape from onto shape to, as dlib's
// find_similarity_transform computes it (Umeyama's method, in double) and
// then casts to float. For two dimensions Umeyama's SVD has a closed form:
// with cov = Σ (to_i−μ_to)(from_i−μ_from)ᵀ / n and σ² the variance of from,
// the optimal rotation has cos ∝ cov00+cov11 and sin ∝ cov10−cov01, and the
// scale times the rotation is [[a, −b], [b, a]] with a = (cov00+cov11)/σ²,
// b = (cov10−cov01)/σ². dlib's sign fix-up for reflections gives the same
// proper rotation, so the two agree up to rounding.
func similarity(from, to *[dims]float32) (m00, m01, m10, m11 float32) {
	const n = NumParts
	var mfx, mfy, mtx, mty float64
	for i := 0; i < n; i++ {
		mfx += float64(from[2*i])
		mfy += float64(from[2*i+1])
		mtx += float64(to[2*i])
		mty += float64(to[2*i+1])
	}
	mfx, mfy, mtx, mty = mfx/n, mfy/n, mtx/n, mty/n
	var sigma, c00, c01, c10, c11 float64
	for i := 0; i < n; i++ {
		fx, fy := float64(from[2*i])-mfx, float64(from[2*i+1])-mfy
		tx, ty := float64(to[2*i])-mtx, float64(to[2*i+1])-mty
		sigma += float64(fx*fx) + float64(fy*fy)
		c00 += float64(tx * fx)
		c01 += float64(tx * fy)
		c10 += float64(ty * fx)
		c11 += float64(ty * fy)
	}
	sigma /= n
	if sigma == 0 {
		// All points coincide: dlib falls back to scale 1 and, with a zero
		// covariance, no rotation.
		return 1, 0, 0, 1
	}
	c00, c01, c10, c11 = c00/n, c01/n, c10/n, c11/n
	a := (c00 + c11) / sigma
	b := (c10 - c01) / sigma
	return float32(a), float32(-b), float32(b), float32(a)
}

// addLeaves adds the chosen leaves to the shape. It goes eight elements
// of the shape at a time through all leaves, so that the sums stay in
// registers and the leaf loads, whose addresses are all known, overlap;
// each element still receives its increments one float32 add at a time in
// tree order, which is dlib's rounding.
func addLeaves(shape *[dims]float32, leaves []float32, leaf []int) {
	for k := 0; k+8 <= dims; k += 8 {
		s := (*[8]float32)(shape[k:])
		a0, a1, a2, a3, a4, a5, a6, a7 := s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]
		for _, o := range leaf {
			l := (*[8]float32)(leaves[o+k:])
			a0 += l[0]
			a1 += l[1]
			a2 += l[2]
			a3 += l[3]
			a4 += l[4]
			a5 += l[5]
			a6 += l[6]
			a7 += l[7]
		}
		s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7] = a0, a1, a2, a3, a4, a5, a6, a7
	}
}
