package host

import (
	"testing"

	"github.com/lsie-mlf/lsie/host/capture"
	"github.com/lsie-mlf/lsie/shm"
	"github.com/lsie-mlf/lsie/shm/cuda"
)

// BenchmarkFrameWrite1080p is the host's CPU work per analysis frame for
// each memory: the RGB24 copy into a memfd slot (memory = "host") against the
// NV12 copy into a pinned staging buffer at the device pitch that precedes
// the asynchronous upload (memory = "cuda"; here into ordinary memory, as
// this machine has no GPU to pin for).
func BenchmarkFrameWrite1080p(b *testing.B) {
	const w, h = 1920, 1080
	b.Run("host-rgb24-memfd", func(b *testing.B) {
		st, err := newMemfdStore(1, "bench", 2, w*3*h)
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		f := &capture.Frame{Format: shm.FormatRGB24, Width: w, Height: h, Stride: w * 3, Data: make([]byte, w*3*h)}
		b.SetBytes(int64(len(f.Data)))
		for b.Loop() {
			slot, _ := st.Leases().TryAcquire()
			if _, err := st.Write(slot, f, 1); err != nil {
				b.Fatal(err)
			}
			st.Leases().Abandon(slot)
		}
	})
	b.Run("cuda-nv12-staging", func(b *testing.B) {
		pitch := cuda.Pitch(shm.FormatNV12, w)
		staging := make([]byte, pitch*shm.FormatNV12.Rows(h))
		f := &capture.Frame{Format: shm.FormatNV12, Width: w, Height: h, Stride: w, Data: make([]byte, w*h), UVStride: w, UV: make([]byte, w*h/2)}
		b.SetBytes(int64(w * h * 3 / 2))
		for b.Loop() {
			if err := copyNV12(staging, pitch, f); err != nil {
				b.Fatal(err)
			}
		}
	})
}
