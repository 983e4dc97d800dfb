package blazeface

import (
	"math"
	"sort"

	"github.com/lsie-mlf/lsie/plugins/au/internal/img"
)

// InputSize is the model's square input side in pixels.
const InputSize = 128

// NumAnchors is the front model's anchor count: a 16×16 grid (stride 8) with
// 2 anchors per cell, then an 8×8 grid (stride 16) with 6 per cell.
const NumAnchors = 16*16*2 + 8*8*6

// NumKeypoints is the model's keypoint count. From the subject's view:
// right eye, left eye, nose tip, mouth centre, right ear tragion, left ear
// tragion. The subject's right eye is on the image's left.
const NumKeypoints = 6

// Keypoint indices into Face.Keypoints.
const (
	RightEye = iota
	LeftEye
	NoseTip
	Mouth
	RightEar
	LeftEar
)

// regWidth is the regressor row: box (cx, cy, w, h) then 6 (x, y) keypoints.
const regWidth = 4 + 2*NumKeypoints

// nmsIoU is MediaPipe's min_suppression_threshold for this model: boxes of
// one face from neighbouring anchors overlap well above it, boxes of two
// adjacent faces rarely reach it.
const nmsIoU = 0.3

// scoreClip bounds the raw logit as MediaPipe does (score_clipping_thresh),
// so exp never overflows.
const scoreClip = 100

// maxOffset bounds a regressor value (128-px units) accepted as a detection:
// a trained model's offsets stay within a few input sizes; larger (or
// non-finite) values are garbage and, multiplied up to frame pixels, could
// overflow float32 into Inf and NaN.
const maxOffset = 4 * InputSize

// anchor is a centre in the model input, normalised to [0, 1].
type anchor struct{ x, y float32 }

// anchors are in the model's output order: cell-major (row, then column)
// within each layer, the layer's anchors of a cell consecutive. MediaPipe's
// SSD anchor generation for this model (fixed_anchor_size, aspect ratio 1,
// interpolated scale) gives each of a cell's anchors the same centre and a
// unit size, so only centres matter.
var anchors = makeAnchors()

func makeAnchors() []anchor {
	a := make([]anchor, 0, NumAnchors)
	for _, l := range []struct{ cells, per int }{{16, 2}, {8, 6}} {
		for y := 0; y < l.cells; y++ {
			for x := 0; x < l.cells; x++ {
				for k := 0; k < l.per; k++ {
					a = append(a, anchor{(float32(x) + 0.5) / float32(l.cells), (float32(y) + 0.5) / float32(l.cells)})
				}
			}
		}
	}
	return a
}

// Face is one detected face in frame pixels.
type Face struct {
	Box   img.Rect
	Score float32 // [0, 1]
	// Keypoints are indexed by RightEye … LeftEar.
	Keypoints [NumKeypoints]img.Point
	// TooSmall marks a face narrower than the minimum size: found, but with
	// too few pixels for the models that read a face crop to be trusted.
	TooSmall bool
}

// crop maps the model input onto the frame: input pixel (u, v) ∈ [0, 128)²
// covers frame point (X0 + u·Side/128, Y0 + v·Side/128).
type crop struct {
	X0, Y0, Side float32
}

func sigmoid(x float32) float32 {
	if x != x { // NaN: no evidence of a face
		return 0
	}
	x = max(-scoreClip, min(scoreClip, x))
	return float32(1 / (1 + math.Exp(-float64(x))))
}

// decode turns the model's outputs (scores: NumAnchors logits; regs:
// NumAnchors×16) into faces in frame pixels for the crop c, keeping those
// scoring at least threshold. The result is unsuppressed.
func decode(scores, regs []float32, c crop, threshold float32, out []Face) []Face {
	n := min(len(scores), len(regs)/regWidth, NumAnchors)
	k := c.Side / InputSize
	for i := 0; i < n; i++ {
		s := sigmoid(scores[i])
		if !(s >= threshold) || s <= 0 {
			continue
		}
		r := regs[i*regWidth : (i+1)*regWidth]
		if !sane(r) {
			continue
		}
		a := anchors[i]
		cx := c.X0 + (a.x*InputSize+r[0])*k
		cy := c.Y0 + (a.y*InputSize+r[1])*k
		w, h := r[2]*k, r[3]*k
		if !(w > 0 && h > 0) {
			continue
		}
		f := Face{Box: img.Rect{X0: cx - w/2, Y0: cy - h/2, X1: cx + w/2, Y1: cy + h/2}, Score: s}
		for j := range f.Keypoints {
			f.Keypoints[j] = img.Point{
				X: c.X0 + (a.x*InputSize+r[4+2*j])*k,
				Y: c.Y0 + (a.y*InputSize+r[5+2*j])*k,
			}
		}
		// Tiny sizes vanish when added to a far coordinate: keep only
		// boxes that still have an extent.
		if !finite(f) || !(f.Box.X1 > f.Box.X0 && f.Box.Y1 > f.Box.Y0) {
			continue
		}
		out = append(out, f)
	}
	return out
}

func sane(r []float32) bool {
	for _, v := range r {
		if !(v >= -maxOffset && v <= maxOffset) { // also false for NaN
			return false
		}
	}
	return true
}

func finite(f Face) bool {
	ok := func(v float32) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }
	if !ok(f.Box.X0) || !ok(f.Box.Y0) || !ok(f.Box.X1) || !ok(f.Box.Y1) || !ok(f.Score) {
		return false
	}
	for _, p := range f.Keypoints {
		if !ok(p.X) || !ok(p.Y) {
			return false
		}
	}
	return true
}

// weightedNMS is MediaPipe's WEIGHTED non-max suppression: the best-scoring
// face absorbs every remaining face overlapping it by IoU ≥ iou, its box and
// keypoints becoming their score-weighted mean (steadier than the single
// best anchor's), its score the best's. Faces is reordered.
func weightedNMS(faces []Face, iou float32) []Face {
	sort.SliceStable(faces, func(i, j int) bool { return faces[i].Score > faces[j].Score })
	used := make([]bool, len(faces))
	var out []Face
	for i := range faces {
		if used[i] {
			continue
		}
		best := faces[i]
		var wsum float64
		var box [4]float64
		var kp [NumKeypoints][2]float64
		for j := i; j < len(faces); j++ {
			if used[j] || (j != i && img.IoU(best.Box, faces[j].Box) < iou) {
				continue
			}
			used[j] = true
			f := faces[j]
			w := float64(f.Score)
			wsum += w
			box[0] += w * float64(f.Box.X0)
			box[1] += w * float64(f.Box.Y0)
			box[2] += w * float64(f.Box.X1)
			box[3] += w * float64(f.Box.Y1)
			for k, p := range f.Keypoints {
				kp[k][0] += w * float64(p.X)
				kp[k][1] += w * float64(p.Y)
			}
		}
		if wsum > 0 {
			m := best
			m.Box = img.Rect{X0: float32(box[0] / wsum), Y0: float32(box[1] / wsum), X1: float32(box[2] / wsum), Y1: float32(box[3] / wsum)}
			for k := range m.Keypoints {
				m.Keypoints[k] = img.Point{X: float32(kp[k][0] / wsum), Y: float32(kp[k][1] / wsum)}
			}
			best = m
		}
		out = append(out, best)
	}
	return out
}

// containMin is the share of the smaller box's area that, covered by a
// better face, makes mergePasses drop it.
const containMin = 0.5

// mergePasses joins the faces of several passes (each already through
// weightedNMS), best score first: a face overlapping a better one by IoU ≥
// iou, or lying mostly inside it (or around it), is the same face seen at
// another scale and is dropped, not averaged: near the bottom of its range
// the model draws a face's box up to 1.5× too large (seen on the test
// photos: the whole-frame pass's box around a face a tile boxed tightly),
// and blending that in would bias the good box.
func mergePasses(faces []Face, iou float32) []Face {
	sort.SliceStable(faces, func(i, j int) bool { return faces[i].Score > faces[j].Score })
	var out []Face
next:
	for _, f := range faces {
		for _, k := range out {
			if img.IoU(f.Box, k.Box) >= iou || overMin(f.Box, k.Box) >= containMin {
				continue next
			}
		}
		out = append(out, f)
	}
	return out
}

// overMin is the intersection of a and b over the smaller's area.
func overMin(a, b img.Rect) float32 {
	ix := min(a.X1, b.X1) - max(a.X0, b.X0)
	iy := min(a.Y1, b.Y1) - max(a.Y0, b.Y0)
	s := min(a.W()*a.H(), b.W()*b.H())
	if ix <= 0 || iy <= 0 || !(s > 0) {
		return 0
	}
	return ix * iy / s
}
