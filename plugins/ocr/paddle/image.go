package paddle

import (
	"errors"
	"math"
)

// Image is an RGB24 picture: 3 bytes a pixel (R, G, B), rows Stride bytes
// apart (a frame in the host's shared memory, read in place).
type Image struct {
	W, H, Stride int
	Pix          []byte
}

// ErrBadImage is returned for an image too small to read or whose pixels
// are shorter than its size says.
var ErrBadImage = errors.New("image under 2×2 or its pixels too short")

func (im Image) check() error {
	if im.W < 2 || im.H < 2 || im.Stride < 3*im.W || len(im.Pix) < im.Stride*(im.H-1)+3*im.W {
		return ErrBadImage
	}
	return nil
}

// bilinear is im's colour at p (pixel-centre coordinates), edges repeated
// beyond the border (OpenCV's BORDER_REPLICATE), as R, G, B in 0..255.
func (im Image) bilinear(x, y float64) (r, g, b float32) {
	x = min(max(x, 0), float64(im.W-1))
	y = min(max(y, 0), float64(im.H-1))
	x0, y0 := int(x), int(y)
	x1, y1 := min(x0+1, im.W-1), min(y0+1, im.H-1)
	fx, fy := float32(x-float64(x0)), float32(y-float64(y0))
	p00 := im.Pix[y0*im.Stride+3*x0:]
	p01 := im.Pix[y0*im.Stride+3*x1:]
	p10 := im.Pix[y1*im.Stride+3*x0:]
	p11 := im.Pix[y1*im.Stride+3*x1:]
	mix := func(c int) float32 {
		top := float32(p00[c]) + (float32(p01[c])-float32(p00[c]))*fx
		bot := float32(p10[c]) + (float32(p11[c])-float32(p10[c]))*fx
		return top + (bot-top)*fy
	}
	return mix(0), mix(1), mix(2)
}

// norm maps 0..255 colours to model inputs per plane: (v/255 − mean)/std.
// Planes are in B, G, R order: PaddleOCR's models were trained on images
// read by OpenCV, which are BGR.
type norm struct{ mean, std [3]float32 }

// detNorm is PaddleOCR's detection NormalizeImage (ImageNet statistics,
// applied to the BGR planes in order); recNorm the recognition and angle
// models' (v/255 − 0.5)/0.5.
var (
	detNorm = norm{mean: [3]float32{0.485, 0.456, 0.406}, std: [3]float32{0.229, 0.224, 0.225}}
	recNorm = norm{mean: [3]float32{0.5, 0.5, 0.5}, std: [3]float32{0.5, 0.5, 0.5}}
)

// planes is a destination in a CHW float32 tensor: three planes of
// stride×rows values, each row stride apart; pixel (x, y) of plane c is
// at c*plane + y*stride + x.
type planes struct {
	data          []float32
	stride, plane int
}

func (p planes) set(x, y int, n *norm, r, g, b float32) {
	i := y*p.stride + x
	p.data[i] = (b/255 - n.mean[0]) / n.std[0]
	p.data[p.plane+i] = (g/255 - n.mean[1]) / n.std[1]
	p.data[2*p.plane+i] = (r/255 - n.mean[2]) / n.std[2]
}

// resizeInto writes im resized to w×h into dst (bilinear, pixel centres
// aligned: OpenCV's INTER_LINEAR).
func resizeInto(im Image, w, h int, dst planes, n *norm) {
	sx, sy := float64(im.W)/float64(w), float64(im.H)/float64(h)
	for y := 0; y < h; y++ {
		fy := (float64(y)+0.5)*sy - 0.5
		for x := 0; x < w; x++ {
			r, g, b := im.bilinear((float64(x)+0.5)*sx-0.5, fy)
			dst.set(x, y, n, r, g, b)
		}
	}
}

// warpInto writes the parallelogram q of im (q[0] top-left, q[1]
// top-right, q[3] bottom-left) resampled to w×h into dst: the line crop
// a reader takes, straightened. Output pixels that cover more than one
// source pixel average n×n bilinear samples, so text shrunk to the
// model's height keeps its strokes instead of aliasing.
func warpInto(im Image, q Quad, w, h int, dst planes, n *norm) {
	ex := q[1].sub(q[0]).scale(1 / float64(w)) // one output pixel along the line
	ey := q[3].sub(q[0]).scale(1 / float64(h))
	ss := min(max(int(math.Ceil(max(ex.norm(), ey.norm()))), 1), 4)
	inv := 1 / float32(ss*ss)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var r, g, b float32
			for j := 0; j < ss; j++ {
				fy := float64(y) + (float64(j)+0.5)/float64(ss)
				for i := 0; i < ss; i++ {
					fx := float64(x) + (float64(i)+0.5)/float64(ss)
					p := q[0].add(ex.scale(fx)).add(ey.scale(fy))
					pr, pg, pb := im.bilinear(p.X, p.Y)
					r, g, b = r+pr, g+pg, b+pb
				}
			}
			dst.set(x, y, n, r*inv, g*inv, b*inv)
		}
	}
}
