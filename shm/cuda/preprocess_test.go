package cuda

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// nv12 builds an NV12 frame of width x height with the given luma (row-major)
// and one (u, v) pair for every 2x2 block, pitch bytes per row.
func nv12(width, height, pitch int, luma []byte, uv [][2]byte) []byte {
	b := make([]byte, pitch*(height+(height+1)/2))
	for y := 0; y < height; y++ {
		copy(b[y*pitch:], luma[y*width:(y+1)*width])
	}
	cw := (width + 1) / 2
	for i, p := range uv {
		off := height*pitch + (i/cw)*pitch + (i%cw)*2
		b[off], b[off+1] = p[0], p[1]
	}
	return b
}

func TestPreprocessNV12HandComputed(t *testing.T) {
	gray := [][2]byte{{128, 128}}
	identity := PreprocessSpec{Std: [3]float32{1, 1, 1}}
	imagenet := PreprocessSpec{Mean: [3]float32{0.485, 0.456, 0.406}, Std: [3]float32{0.229, 0.224, 0.225}}
	with := func(s PreprocessSpec, w, h int) *PreprocessSpec { s.Width, s.Height = w, h; return &s }
	// Y=235 is white: 1.164383*219/255; Y=126 is 1.164383*110/255; Y=81 is 1.164383*65/255.
	const white, mid, dark = 254.999877 / 255, 128.082130 / 255, 75.684895 / 255
	cases := []struct {
		name  string
		w, h  int
		pitch int
		luma  []byte
		uv    [][2]byte
		spec  *PreprocessSpec
		want  []float32 // R plane, G plane, B plane
	}{
		{"gray levels, no resize", 2, 2, 4, []byte{16, 235, 126, 81}, gray, with(identity, 2, 2),
			[]float32{0, white, mid, dark, 0, white, mid, dark, 0, white, mid, dark}},
		// yy=65 u=-38 v=112: R = 75.684895+178.755024, G and B clamp at 0.
		{"saturated red, clamped", 2, 2, 2, []byte{81, 81, 81, 81}, [][2]byte{{90, 240}}, with(identity, 1, 1),
			[]float32{254.439919 / 255, 0, 0}},
		{"2x2 to 1x1 averages", 2, 2, 2, []byte{16, 235, 126, 81}, gray, with(identity, 1, 1),
			[]float32{458.766902 / 4 / 255, 458.766902 / 4 / 255, 458.766902 / 4 / 255}},
		// (0.44977147 - mean) / std per channel.
		{"normalised", 2, 2, 2, []byte{16, 235, 126, 81}, gray, with(imagenet, 1, 1),
			[]float32{-0.15383638, -0.02780594, 0.19453987}},
		// Source x = d/2 - 1/4: clamped, 1/4, 3/4, clamped.
		{"2x1 to 4x1 upscales", 2, 1, 2, []byte{16, 235}, gray, with(identity, 4, 1),
			[]float32{0, white / 4, white * 3 / 4, white, 0, white / 4, white * 3 / 4, white, 0, white / 4, white * 3 / 4, white}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := nv12(tc.w, tc.h, tc.pitch, tc.luma, tc.uv)
			dst := make([]float32, tc.spec.Floats())
			if err := PreprocessNV12(dst, src, tc.pitch, tc.w, tc.h, tc.spec); err != nil {
				t.Fatal(err)
			}
			for i := range tc.want {
				if math.Abs(float64(dst[i]-tc.want[i])) > 2e-6 {
					t.Fatalf("dst = %v, want %v (index %d)", dst, tc.want, i)
				}
			}
		})
	}
}

func TestPreprocessNV12Errors(t *testing.T) {
	spec := PreprocessSpec{Width: 2, Height: 2, Std: [3]float32{1, 1, 1}}
	src := make([]byte, 4*3)
	cases := []struct {
		name string
		dst  []float32
		src  []byte
		spec PreprocessSpec
		want string
	}{
		{"zero std", make([]float32, 12), src, PreprocessSpec{Width: 2, Height: 2, Std: [3]float32{1, 0, 1}}, "std[1] = 0, want > 0"},
		{"no output", make([]float32, 12), src, PreprocessSpec{Std: [3]float32{1, 1, 1}}, "output size 0x0"},
		{"short source", make([]float32, 12), src[:5], spec, "5 bytes for an NV12 frame of pitch 2 and height 2"},
		{"short output", make([]float32, 11), src, spec, "output of 11 floats, want 12"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := PreprocessNV12(tc.dst, tc.src, 2, 2, 2, &tc.spec)
			if !errors.Is(err, ErrPreprocess) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrPreprocess with %q", err, tc.want)
			}
		})
	}
}

func TestMeanLumaIgnoresPaddingAndChroma(t *testing.T) {
	src := nv12(3, 2, 4, []byte{1, 2, 3, 4, 5, 6}, [][2]byte{{200, 200}, {200, 200}})
	src[3], src[7] = 255, 255 // padding bytes
	if got := MeanLuma(src, 4, 3, 2); got != 3.5 {
		t.Fatalf("MeanLuma = %v, want 3.5", got)
	}
}

func TestKernelSourceNamesTheKernel(t *testing.T) {
	if !strings.Contains(PreprocessSource, `extern "C" __global__ void `+PreprocessKernel+"(") {
		t.Fatalf("kernels/preprocess.cu does not define %s", PreprocessKernel)
	}
}
