package blazeface

import (
	"errors"
	"fmt"
	"math"

	"github.com/lsie-mlf/lsie/plugins/au/internal/img"
)

// ErrEmpty is returned for a frame with no pixels (W or H ≤ 0).
var ErrEmpty = errors.New("blazeface: empty frame")

// check rejects a view that does not describe readable memory, so that
// sampling never indexes out of Pix.
func check(im img.RGB) error {
	if im.W <= 0 || im.H <= 0 {
		return ErrEmpty
	}
	if im.Stride < 3*im.W {
		return fmt.Errorf("blazeface: stride %d < 3×width %d", im.Stride, im.W)
	}
	if need := (im.H-1)*im.Stride + 3*im.W; len(im.Pix) < need {
		return fmt.Errorf("blazeface: %d bytes of pixels, a %d×%d frame at stride %d needs %d", len(im.Pix), im.W, im.H, im.Stride, need)
	}
	return nil
}

// maxTaps bounds the supersampling per axis: at large reductions (1920 →
// 128 is 15×) one bilinear sample per input pixel aliases fine detail into
// noise the model reads as texture; averaging up to 4 bilinear samples per
// axis removes most of it at a bounded cost.
const maxTaps = 4

// sampler resamples crops into the model input. Bilinear sampling with
// supersampling is separable, so it runs as a horizontal pass over the
// frame rows the crop reads (into rows) and a vertical pass over those:
// ~10× fewer operations than sampling each tap in 2-D, which dominated
// Detect's cost before.
type sampler struct {
	xs, ys axisTaps
	rows   []float32 // horizontally filtered frame rows, InputSize×3 each
}

// axisTaps are, for each input index, source indices and weights: the taps'
// bilinear pairs, each weighted 1/taps. Taps outside the frame are left out,
// so they count as black.
type axisTaps struct {
	start []int // input index u's taps are [start[u], start[u+1])
	idx   []int
	w     []float32
}

func (a *axisTaps) build(n int, x0, k float32) {
	taps := max(1, min(maxTaps, int(math.Ceil(float64(k)))))
	step := k / float32(taps)
	wt := 1 / float32(taps)
	a.start, a.idx, a.w = a.start[:0], a.idx[:0], a.w[:0]
	for u := 0; u < InputSize; u++ {
		a.start = append(a.start, len(a.idx))
		for t := 0; t < taps; t++ {
			x := x0 + float32(u)*k + (float32(t)+0.5)*step
			if !(x >= 0 && x < float32(n)) {
				continue
			}
			// Pixel i's centre is at i + 0.5; clamp between the edge centres.
			s := max(0, min(float32(n-1), x-0.5))
			i := int(s)
			f := s - float32(i)
			a.idx = append(a.idx, i, min(i+1, n-1))
			a.w = append(a.w, (1-f)*wt, f*wt)
		}
	}
	a.start = append(a.start, len(a.idx))
}

// fill writes the crop c of im into dst (NHWC, 128×128×3, values in
// [-1, 1]). Input pixels whose samples fall outside the frame are black
// (-1): the letterbox padding, and the part of an edge tile beyond the
// frame.
func (s *sampler) fill(dst []float32, im img.RGB, c crop) {
	k := c.Side / InputSize // frame pixels per input pixel
	s.xs.build(im.W, c.X0, k)
	s.ys.build(im.H, c.Y0, k)
	clear(dst[:InputSize*InputSize*3])
	if len(s.ys.idx) == 0 || len(s.xs.idx) == 0 {
		for i := range dst[:InputSize*InputSize*3] {
			dst[i] = -1
		}
		return
	}
	y0, y1 := s.ys.idx[0], s.ys.idx[len(s.ys.idx)-1]
	const rw = InputSize * 3
	if n := (y1 - y0 + 1) * rw; cap(s.rows) < n {
		s.rows = make([]float32, n)
	}
	rows := s.rows[:(y1-y0+1)*rw]
	for y := y0; y <= y1; y++ {
		src := im.Pix[y*im.Stride : y*im.Stride+3*im.W]
		out := rows[(y-y0)*rw : (y-y0+1)*rw]
		for u := 0; u < InputSize; u++ {
			var r, g, b float32
			for t := s.xs.start[u]; t < s.xs.start[u+1]; t++ {
				p := src[3*s.xs.idx[t]:]
				w := s.xs.w[t]
				r += w * float32(p[0])
				g += w * float32(p[1])
				b += w * float32(p[2])
			}
			out[3*u], out[3*u+1], out[3*u+2] = r, g, b
		}
	}
	for v := 0; v < InputSize; v++ {
		d := dst[v*rw : (v+1)*rw]
		for t := s.ys.start[v]; t < s.ys.start[v+1]; t++ {
			w := s.ys.w[t]
			row := rows[(s.ys.idx[t]-y0)*rw:][:rw]
			for i, x := range row {
				d[i] += w * x
			}
		}
		for i := range d {
			d[i] = d[i]/127.5 - 1 // [0, 255] → [-1, 1]
		}
	}
}
