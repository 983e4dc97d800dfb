//go:build cuda

package cuda

import (
	"math"
	"testing"
	"unsafe"

	"github.com/lsie-mlf/lsie/shm"
	"gorgonia.org/cu"
)

// TestViewMatchesCPU: a pool's view holds, after Preprocess and the slot's
// event, the kernel's tensor of the uploaded frame, equal to the CPU
// reference.
func TestViewMatchesCPU(t *testing.T) {
	dev := openDevice(t)
	const w, h = 320, 240
	p := nv12Pool(t, dev, 11, 2, w, h)
	spec := PreprocessSpec{Width: 64, Height: 48, Mean: [3]float32{0.5, 0.4, 0.3}, Std: [3]float32{0.2, 0.25, 0.3}}
	v, err := p.AddView(12, spec)
	if err != nil {
		t.Fatal(err)
	}
	if in := v.Info(); in.ID != 12 || in.Format != shm.FormatRGBF32 || in.Pitch != 4*64 || in.BufferBytes() != 4*spec.Floats() || in.Validate() != nil {
		t.Fatalf("view region %+v", in)
	}
	src, err := p.Staging(1)
	if err != nil {
		t.Fatal(err)
	}
	for i := range src {
		src[i] = byte(i*13 + i/997)
	}
	if _, err := p.Upload(1, 1, 1, 0); err != nil {
		t.Fatal(err)
	}
	if err := p.Preprocess(1); err != nil {
		t.Fatal(err)
	}
	want := make([]float32, spec.Floats())
	if err := PreprocessNV12(want, src, p.Pitch(), w, h, &spec); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, spec.Floats())
	err = dev.Do(func() error {
		if err := p.events[1].Synchronize(); err != nil {
			return err
		}
		return cu.MemcpyDtoH(unsafe.Pointer(&got[0]), v.bufs[1], int64(4*len(got)))
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-4 {
			t.Fatalf("index %d: view %v, CPU %v", i, got[i], want[i])
		}
	}
}

// TestCopyFromDevice: an NV12 frame already on the device, at another pitch
// (as GStreamer's CUDA buffers are), lands row by row in the slot.
func TestCopyFromDevice(t *testing.T) {
	dev := openDevice(t)
	const w, h, srcPitch = 70, 30, 128
	p := nv12Pool(t, dev, 13, 1, w, h)
	src := make([]byte, srcPitch*(h+h/2))
	for i := range src {
		src[i] = byte(i * 29)
	}
	got := make([]byte, p.Info().BufferBytes())
	err := dev.Do(func() error {
		d, err := cu.MemAlloc(int64(len(src)))
		if err != nil {
			return err
		}
		defer cu.MemFree(d)
		if err := cu.MemcpyHtoD(d, unsafe.Pointer(&src[0]), int64(len(src))); err != nil {
			return err
		}
		if _, err := p.CopyFrom(0, uintptr(d), srcPitch, uintptr(d)+srcPitch*h, srcPitch, 1, 1, 0); err != nil {
			return err
		}
		return cu.MemcpyDtoH(unsafe.Pointer(&got[0]), p.Buffer(0), int64(len(got)))
	})
	if err != nil {
		t.Fatal(err)
	}
	pitch := p.Pitch()
	for y := range h + h/2 {
		for x := range w {
			if g, s := got[y*pitch+x], src[y*srcPitch+x]; g != s {
				t.Fatalf("row %d byte %d: %d, want %d", y, x, g, s)
			}
		}
	}
}

// spinSource keeps a stream busy for a number of clock cycles.
const spinSource = `extern "C" __global__ void lsie_spin(long long cycles) {
	long long start = clock64();
	while (clock64() - start < cycles) {}
}`

// TestEventOrdersReader: a reader on its own stream that waits on the slot's
// event sees the new frame even though the upload is still queued behind a
// busy kernel when the reader's copy is enqueued; that is the only ordering
// a plugin has.
func TestEventOrdersReader(t *testing.T) {
	dev := openDevice(t)
	const w, h = 256, 64
	p := nv12Pool(t, dev, 14, 1, w, h)
	mod, err := Compile(dev, "spin.cu", spinSource)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Do(mod.Unload)
	st, _ := p.Staging(0)
	for i := range st {
		st[i] = 0xA5
	}
	got := make([]byte, len(st))
	err = dev.Do(func() error {
		spin, err := mod.Function("lsie_spin")
		if err != nil {
			return err
		}
		cycles := int64(500_000_000) // a few hundred ms on any current GPU
		if err := spin.Launch(1, 1, 1, 1, 1, 1, 0, p.Stream(), []unsafe.Pointer{unsafe.Pointer(&cycles)}); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Upload(0, 1, 1, 0); err != nil {
		t.Fatal(err)
	}
	err = dev.Do(func() error {
		reader, err := cu.MakeStream(cu.NonBlocking)
		if err != nil {
			return err
		}
		defer reader.Destroy()
		if err := reader.Wait(p.events[0], 0); err != nil {
			return err
		}
		if err := cu.MemcpyDtoHAsync(unsafe.Pointer(&got[0]), p.Buffer(0), int64(len(got)), reader); err != nil {
			return err
		}
		return reader.Synchronize()
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range got {
		if b != 0xA5 {
			t.Fatalf("byte %d read %#x before the upload finished", i, b)
		}
	}
}
