package cuda

import (
	_ "embed"
	"errors"
	"fmt"
	"math"
)

// PreprocessSource is the CUDA C source of the preprocessing kernel, compiled
// at run time with NVRTC (so no nvcc is needed to build lsie).
//
//go:embed kernels/preprocess.cu
var PreprocessSource string

// PreprocessKernel is the kernel's extern "C" name in PreprocessSource.
const PreprocessKernel = "lsie_nv12_to_planar"

// PreprocessSpec is a model's declared input: planar RGB float32 of
// Width x Height, each channel normalised as (v/255 - Mean) / Std.
type PreprocessSpec struct {
	Width, Height int
	Mean, Std     [3]float32
}

// ErrPreprocess is wrapped by invalid specs and buffers.
var ErrPreprocess = errors.New("cuda: bad preprocessing input")

// Validate checks the spec.
func (s *PreprocessSpec) Validate() error {
	if s.Width < 1 || s.Height < 1 || s.Width > 1<<14 || s.Height > 1<<14 {
		return fmt.Errorf("%w: output size %dx%d, want 1..16384", ErrPreprocess, s.Width, s.Height)
	}
	for c, v := range s.Std {
		if !(v > 0) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("%w: std[%d] = %g, want > 0", ErrPreprocess, c, v)
		}
	}
	return nil
}

// Floats returns the number of float32s in one output tensor (3 planes).
func (s *PreprocessSpec) Floats() int { return 3 * s.Width * s.Height }

// BT.601 limited-range YUV → RGB (what H.264 decoders produce by default),
// in 0..255 units. The kernel uses the same constants.
const (
	kY  = 1.164383
	kRV = 1.596027
	kGU = 0.391762
	kGV = 0.812968
	kBU = 2.017232
)

// nv12RGB converts one pixel; x and y index the luma plane.
func nv12RGB(src []byte, pitch, height, x, y int) (r, g, b float32) {
	yy := float32(src[y*pitch+x]) - 16
	c := height*pitch + (y>>1)*pitch + (x>>1)*2
	u := float32(src[c]) - 128
	v := float32(src[c+1]) - 128
	r = clamp255(kY*yy + kRV*v)
	g = clamp255(kY*yy - kGU*u - kGV*v)
	b = clamp255(kY*yy + kBU*u)
	return r, g, b
}

func clamp255(v float32) float32 { return min(max(v, 0), 255) }

// srcCoord maps an output coordinate to the source with half-pixel centres
// (align_corners=false) and returns the two neighbours and the weight of the
// second.
func srcCoord(d, dstN, srcN int) (i0, i1 int, f float32) {
	s := (float32(d)+0.5)*float32(srcN)/float32(dstN) - 0.5
	s = max(s, 0)
	i0 = min(int(s), srcN-1)
	i1 = min(i0+1, srcN-1)
	return i0, i1, s - float32(i0)
}

// PreprocessNV12 is the CPU reference of the preprocessing kernel: it converts
// an NV12 frame (pitch bytes per row, luma then interleaved chroma) to
// spec's planar normalised RGB in dst, resizing bilinearly. The GPU result is
// compared with this one; they differ only by float rounding.
func PreprocessNV12(dst []float32, src []byte, pitch, width, height int, spec *PreprocessSpec) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	switch {
	case width < 1 || height < 1 || pitch < width:
		return fmt.Errorf("%w: frame %dx%d pitch %d", ErrPreprocess, width, height, pitch)
	case len(src) < pitch*(height+(height+1)/2):
		return fmt.Errorf("%w: %d bytes for an NV12 frame of pitch %d and height %d", ErrPreprocess, len(src), pitch, height)
	case len(dst) < spec.Floats():
		return fmt.Errorf("%w: output of %d floats, want %d", ErrPreprocess, len(dst), spec.Floats())
	}
	ow, oh := spec.Width, spec.Height
	plane := ow * oh
	for oy := 0; oy < oh; oy++ {
		y0, y1, fy := srcCoord(oy, oh, height)
		for ox := 0; ox < ow; ox++ {
			x0, x1, fx := srcCoord(ox, ow, width)
			r00, g00, b00 := nv12RGB(src, pitch, height, x0, y0)
			r01, g01, b01 := nv12RGB(src, pitch, height, x1, y0)
			r10, g10, b10 := nv12RGB(src, pitch, height, x0, y1)
			r11, g11, b11 := nv12RGB(src, pitch, height, x1, y1)
			rgb := [3]float32{
				lerp2(r00, r01, r10, r11, fx, fy),
				lerp2(g00, g01, g10, g11, fx, fy),
				lerp2(b00, b01, b10, b11, fx, fy),
			}
			i := oy*ow + ox
			for c := range 3 {
				dst[c*plane+i] = (rgb[c]/255 - spec.Mean[c]) / spec.Std[c]
			}
		}
	}
	return nil
}

func lerp2(v00, v01, v10, v11, fx, fy float32) float32 {
	top := v00 + (v01-v00)*fx
	bot := v10 + (v11-v10)*fx
	return top + (bot-top)*fy
}

// MeanLuma returns the mean of the luma plane (the first Height rows of width
// bytes) of a frame with the given pitch: the statistic examples/gpustat
// computes on the GPU, summed in integers so both sides agree exactly.
func MeanLuma(src []byte, pitch, width, height int) float64 {
	var sum uint64
	for y := 0; y < height; y++ {
		for _, v := range src[y*pitch : y*pitch+width] {
			sum += uint64(v)
		}
	}
	return float64(sum) / float64(width*height)
}
