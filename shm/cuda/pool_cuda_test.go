//go:build cuda

package cuda

import (
	"bytes"
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"
	"unsafe"

	"github.com/lsie-mlf/lsie/shm"
	"gorgonia.org/cu"
)

// These need an NVIDIA GPU: go test -tags cuda ./shm/cuda/...

func openDevice(t *testing.T) *Device {
	t.Helper()
	dev, err := OpenDevice(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	return dev
}

// nv12Pool makes a pool of NV12 slots, closed when the test ends.
func nv12Pool(t *testing.T, dev *Device, id uint32, slots, width, height int) *Pool {
	t.Helper()
	p, err := NewPool(dev, PoolSpec{ID: id, Slots: slots, Format: shm.FormatNV12, Width: width, Height: height})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestPoolCreateClose(t *testing.T) {
	dev := openDevice(t)
	p, err := NewPool(dev, PoolSpec{ID: 9, Slots: 3, Format: shm.FormatNV12, Width: 1920, Height: 1080})
	if err != nil {
		t.Fatal(err)
	}
	info := p.Info()
	if info.Slots() != 3 || info.Pitch != 2048 || info.BufferBytes() != 2048*1620 {
		t.Fatalf("info %+v", info)
	}
	if _, err := ParseRegion(info.Append(nil)); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// The upload, the event and the device buffer round trip through a second
// process: the test binary re-runs itself (shm/process_test.go's pattern),
// opens the handles, waits on the event and sums the luma plane.
const ipcEnv = "LSIE_CUDA_IPC_HELPER"

func TestIPCRoundTripInChild(t *testing.T) {
	dev := openDevice(t)
	p := nv12Pool(t, dev, 4, 2, 64, 32)
	slot, _ := p.Leases().TryAcquire()
	st, err := p.Staging(slot)
	if err != nil {
		t.Fatal(err)
	}
	for i := range st {
		st[i] = byte(i * 7)
	}
	want := MeanLuma(st, p.Pitch(), 64, 32)
	d, err := p.Upload(slot, 1, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	hdr, err := os.CreateTemp(t.TempDir(), "region")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hdr.Write(p.Info().Append(nil)); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestIPCHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), ipcEnv+"="+hdr.Name())
	cmd.ExtraFiles = []*os.File{os.NewFile(uintptr(p.HeaderFd()), "hdr")}
	descr := make([]byte, shm.DescriptorSize)
	d.Put(descr)
	cmd.Stdin = bytes.NewReader(descr)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	if got := string(out); !strings.Contains(got, formatMean(want)) {
		t.Fatalf("helper said %q, want mean %s", got, formatMean(want))
	}
}

func TestPreprocessKernelMatchesCPU(t *testing.T) {
	dev := openDevice(t)
	const w, h = 1920, 1080
	p := nv12Pool(t, dev, 5, 1, w, h)
	src, _ := p.Staging(0)
	for i := range src {
		src[i] = byte(i*31 + i/4096)
	}
	if _, err := p.Upload(0, 1, 1, 0); err != nil {
		t.Fatal(err)
	}
	for _, size := range [][2]int{{640, 640}, {w, h}, {3, 5}} {
		spec := PreprocessSpec{Width: size[0], Height: size[1], Mean: [3]float32{0.485, 0.456, 0.406}, Std: [3]float32{0.229, 0.224, 0.225}}
		pp, err := NewPreprocessor(dev, spec)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]float32, spec.Floats())
		if err := PreprocessNV12(want, src, p.Pitch(), w, h, &spec); err != nil {
			t.Fatal(err)
		}
		got := make([]float32, spec.Floats())
		err = dev.Do(func() error {
			out, err := cu.MemAlloc(int64(pp.OutputBytes()))
			if err != nil {
				return err
			}
			defer cu.MemFree(out)
			if err := pp.Launch(p.Stream(), p.Buffer(0), p.Pitch(), w, h, out); err != nil {
				return err
			}
			if err := p.Stream().Synchronize(); err != nil {
				return err
			}
			return cu.MemcpyDtoH(unsafe.Pointer(&got[0]), out, int64(pp.OutputBytes()))
		})
		pp.Close()
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if math.Abs(float64(got[i]-want[i])) > 1e-4 {
				t.Fatalf("%dx%d: index %d: GPU %v, CPU %v", size[0], size[1], i, got[i], want[i])
			}
		}
	}
}
