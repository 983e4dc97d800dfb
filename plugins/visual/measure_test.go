package main

import (
	"math"
	"testing"

	"github.com/lsie-mlf/lsie/sdk"
)

func solid(w, h, stride int, r, g, b byte) []byte {
	pix := make([]byte, stride*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			copy(pix[y*stride+3*x:], []byte{r, g, b})
		}
	}
	return pix
}

func TestMeasure(t *testing.T) {
	const w, h, stride = 80, 60, 240 + 4 // padded rows must be ignored
	tests := []struct {
		name                 string
		r, g, b              byte
		bright, contr, satur float64
	}{
		{"white", 255, 255, 255, 255, 0, 0},
		{"black", 0, 0, 0, 0, 0, 0},
		{"red", 255, 0, 0, 0.299 * 255, 0, 1},
		{"gray", 128, 128, 128, 128, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pix := solid(w, h, stride, tc.r, tc.g, tc.b)
			// Poison the padding: it must not leak into the statistics.
			for y := 0; y < h; y++ {
				copy(pix[y*stride+3*w:], []byte{7, 7, 7, 7})
			}
			var g grid
			st := measure(pix, w, h, stride, &g)
			if math.Abs(st.brightness-tc.bright) > 1e-9 || math.Abs(st.contrast-tc.contr) > 1e-6 || math.Abs(st.saturation-tc.satur) > 1e-9 {
				t.Fatalf("got %+v, want brightness %v contrast %v saturation %v", st, tc.bright, tc.contr, tc.satur)
			}
		})
	}
}

func TestContrastOfHalves(t *testing.T) {
	// Half black, half white: luma std is exactly 127.5.
	const w, h = 64, 32
	pix := solid(w, h, 3*w, 0, 0, 0)
	for y := 0; y < h; y++ {
		for x := w / 2; x < w; x++ {
			copy(pix[y*3*w+3*x:], []byte{255, 255, 255})
		}
	}
	var g grid
	st := measure(pix, w, h, 3*w, &g)
	if math.Abs(st.contrast-127.5) > 1e-6 || math.Abs(st.brightness-127.5) > 1e-6 {
		t.Fatalf("got %+v", st)
	}
}

func TestMotion(t *testing.T) {
	const w, h = 128, 72
	s := &stream{}
	frame := func(pix []byte) sdk.Fields {
		t.Helper()
		out, err := s.ProcessFrame(&sdk.Frame{Width: w, Height: h, Stride: 3 * w, Format: sdk.FormatRGB24, Pixels: pix})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	black := solid(w, h, 3*w, 0, 0, 0)
	if _, ok := frame(black)["motion"]; ok {
		t.Fatal("first frame must not report motion")
	}
	if m := frame(black)["motion"]; m != 0 {
		t.Fatalf("still frame motion = %v, want 0", m)
	}
	if m := frame(solid(w, h, 3*w, 255, 255, 255))["motion"]; math.Abs(m-255) > 1e-9 {
		t.Fatalf("black→white motion = %v, want 255", m)
	}
}

func TestRejectsBadFrames(t *testing.T) {
	s := &stream{}
	_, err := s.ProcessFrame(&sdk.Frame{Width: 10, Height: 10, Stride: 20, Format: sdk.FormatRGB24, Pixels: make([]byte, 200)})
	if err == nil {
		t.Fatal("stride smaller than width*3 accepted")
	}
	_, err = s.ProcessFrame(&sdk.Frame{Width: 10, Height: 10, Stride: 30, Format: sdk.FormatGray8, Pixels: make([]byte, 300)})
	if err == nil {
		t.Fatal("gray frame accepted")
	}
}

func BenchmarkMeasure640x360(b *testing.B) {
	pix := solid(640, 360, 1920, 90, 120, 200)
	var g grid
	b.SetBytes(int64(len(pix)))
	for b.Loop() {
		measure(pix, 640, 360, 1920, &g)
	}
}
