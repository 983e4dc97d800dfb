//go:build cuda

// Command gpustat is an example GPU plugin: it reports each frame's mean
// luma computed by a CUDA kernel on the frame in device memory
// (mean_luma_gpu), and every LSIE_GPUSTAT_CPU_EVERY-th frame (by seq; 1 by
// default, 0 never) the same statistic on the CPU from a copy of the plane
// (mean_luma_cpu). Host-memory frames get the CPU value only.
package main

import (
	_ "embed"
	"fmt"
	"os"
	"strconv"
	"unsafe"

	"github.com/lsie-mlf/lsie/sdk/cudaframe"
	"github.com/lsie-mlf/lsie/shm"
	"github.com/lsie-mlf/lsie/shm/cuda"
	"gorgonia.org/cu"
)

//go:embed kernels/luma_sum.cu
var lumaSource string

func main() {
	if os.Getenv(cudaframe.RawEnv) != "1" {
		fmt.Fprintln(os.Stderr, "gpustat: start me with", cudaframe.RawEnv+"=1 (cmd/cuda-bench does); sdk.Serve does not route CUDA frames yet")
		os.Exit(2)
	}
	every := uint64(1)
	if v := os.Getenv("LSIE_GPUSTAT_CPU_EVERY"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gpustat: LSIE_GPUSTAT_CPU_EVERY:", err)
			os.Exit(2)
		}
		every = n
	}
	s := &stat{every: every}
	if err := cudaframe.ServeRaw(s); err != nil {
		fmt.Fprintln(os.Stderr, "gpustat:", err)
		os.Exit(1)
	}
}

type stat struct {
	every uint64
	fn    cu.Function
	sum   cu.DevicePtr
	out   []byte // pinned 8 bytes the sum is copied into
	plane []byte // host copy of the luma plane for the CPU comparison
}

func (s *stat) HostFrame(d *shm.Descriptor, pix []byte) (map[string]float64, error) {
	return map[string]float64{"mean_luma_cpu": cuda.MeanLuma(pix, int(d.Stride), int(d.Width), int(d.Height))}, nil
}

// setup compiles the kernel on first use, on the opener's device.
func (s *stat) setup(dev *cuda.Device) error {
	if s.out != nil {
		return nil
	}
	mod, err := cuda.Compile(dev, "luma_sum.cu", lumaSource)
	if err != nil {
		return err
	}
	return dev.Do(func() error {
		var err error
		if s.fn, err = mod.Function("gpustat_luma_sum"); err != nil {
			return err
		}
		if s.sum, err = cu.MemAlloc(8); err != nil {
			return err
		}
		s.out, err = cuda.HostAlloc(8)
		return err
	})
}

func (s *stat) DeviceFrame(f *cudaframe.Frame) (map[string]float64, error) {
	dev := f.Device()
	if err := s.setup(dev); err != nil {
		return nil, err
	}
	err := dev.Do(func() error {
		if err := cu.MemsetD8Async(s.sum, 0, 8, f.Stream); err != nil {
			return err
		}
		// 8-byte slots: cu's Launch copies 8 bytes per parameter.
		vals := [...]uint64{uint64(f.Ptr), uint64(uint32(f.Pitch)), uint64(uint32(f.Width)), uint64(uint32(f.Height)), uint64(s.sum)}
		args := make([]unsafe.Pointer, len(vals))
		for i := range vals {
			args[i] = unsafe.Pointer(&vals[i])
		}
		if err := s.fn.Launch(4, min(f.Height, 1024), 1, 256, 1, 1, 0, f.Stream, args); err != nil {
			return err
		}
		return cu.MemcpyDtoHAsync(unsafe.Pointer(&s.out[0]), s.sum, 8, f.Stream)
	})
	if err != nil {
		return nil, err
	}
	if err := f.Done(); err != nil {
		return nil, err
	}
	sum := *(*uint64)(unsafe.Pointer(&s.out[0]))
	fields := map[string]float64{"mean_luma_gpu": float64(sum) / float64(f.Width*f.Height)}
	if s.every > 0 && f.Desc.Seq%s.every == 0 {
		n := f.Pitch * f.Height
		if len(s.plane) < n {
			s.plane = make([]byte, n)
		}
		err := dev.Do(func() error { return cu.MemcpyDtoH(unsafe.Pointer(&s.plane[0]), f.Ptr, int64(n)) })
		if err != nil {
			return nil, fmt.Errorf("copy luma plane: %w", err)
		}
		fields["mean_luma_cpu"] = cuda.MeanLuma(s.plane, f.Pitch, f.Width, f.Height)
	}
	return fields, nil
}
