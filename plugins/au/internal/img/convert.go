package img

// Conversions from the host's frame formats into the two views the models
// read. Each writes into the caller's buffer (grown when short) so a
// stream reuses one buffer per view across frames.

// grow returns buf resized to n bytes, reallocating only when it is short.
func grow(buf []byte, n int) []byte {
	if cap(buf) < n {
		return make([]byte, n)
	}
	return buf[:n]
}

// luma is BT.601's Y from 8-bit R, G, B in fixed point (weights 0.299,
// 0.587, 0.114 scaled by 2^16), as decoders and dlib's rgb→gray use.
func luma(r, g, b byte) byte {
	return byte((19595*uint32(r) + 38470*uint32(g) + 7471*uint32(b) + 1<<15) >> 16)
}

// GrayFromRGB converts src into buf.
func GrayFromRGB(src RGB, buf []byte) (Gray, []byte) {
	buf = grow(buf, src.W*src.H)
	for y := 0; y < src.H; y++ {
		row := src.Pix[y*src.Stride : y*src.Stride+3*src.W]
		out := buf[y*src.W : (y+1)*src.W]
		for x := range out {
			out[x] = luma(row[3*x], row[3*x+1], row[3*x+2])
		}
	}
	return Gray{W: src.W, H: src.H, Stride: src.W, Pix: buf}, buf
}

// RGBFromRGBA drops the alpha of packed RGBA rows into buf.
func RGBFromRGBA(w, h, stride int, pix []byte, buf []byte) (RGB, []byte) {
	buf = grow(buf, 3*w*h)
	for y := 0; y < h; y++ {
		row := pix[y*stride : y*stride+4*w]
		out := buf[3*w*y : 3*w*(y+1)]
		for x := 0; x < w; x++ {
			out[3*x], out[3*x+1], out[3*x+2] = row[4*x], row[4*x+1], row[4*x+2]
		}
	}
	return RGB{W: w, H: h, Stride: 3 * w, Pix: buf}, buf
}

// RGBFromGray replicates luma into R, G and B.
func RGBFromGray(src Gray, buf []byte) (RGB, []byte) {
	buf = grow(buf, 3*src.W*src.H)
	for y := 0; y < src.H; y++ {
		row := src.Pix[y*src.Stride : y*src.Stride+src.W]
		out := buf[3*src.W*y : 3*src.W*(y+1)]
		for x, v := range row {
			out[3*x], out[3*x+1], out[3*x+2] = v, v, v
		}
	}
	return RGB{W: src.W, H: src.H, Stride: 3 * src.W, Pix: buf}, buf
}

// NV12 is a view of an NV12 frame: h luma rows, then (h+1)/2 rows of
// interleaved U, V, both stride bytes apart.
type NV12 struct {
	W, H, Stride int
	Pix          []byte
}

// Luma is the Y plane as a Gray view: no copy.
func (f NV12) Luma() Gray { return Gray{W: f.W, H: f.H, Stride: f.Stride, Pix: f.Pix[:f.Stride*f.H]} }

// RGB converts to packed RGB (BT.601 limited range, as H.264 decoders
// output), into buf.
func (f NV12) RGB(buf []byte) (RGB, []byte) {
	buf = grow(buf, 3*f.W*f.H)
	uv := f.Pix[f.Stride*f.H:]
	for y := 0; y < f.H; y++ {
		yrow := f.Pix[y*f.Stride:]
		crow := uv[(y/2)*f.Stride:]
		out := buf[3*f.W*y : 3*f.W*(y+1)]
		for x := 0; x < f.W; x++ {
			u, v := x&^1, x|1
			if v >= f.Stride { // odd width with an unpadded stride: no V byte
				v = u
			}
			c := int32(yrow[x]) - 16
			d := int32(crow[u]) - 128
			e := int32(crow[v]) - 128
			out[3*x] = clamp8((298*c + 409*e + 128) >> 8)
			out[3*x+1] = clamp8((298*c - 100*d - 208*e + 128) >> 8)
			out[3*x+2] = clamp8((298*c + 516*d + 128) >> 8)
		}
	}
	return RGB{W: f.W, H: f.H, Stride: 3 * f.W, Pix: buf}, buf
}

func clamp8(v int32) byte {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return byte(v)
}
