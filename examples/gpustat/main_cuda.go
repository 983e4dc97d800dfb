//go:build cuda

// Command gpustat is an example GPU plugin: it reports each frame's mean
// luma computed by a CUDA kernel on the frame in device memory
// (mean_luma_gpu), and every LSIE_GPUSTAT_CPU_EVERY-th frame (by seq; 1 by
// default, 0 never) the same statistic on the CPU from a copy of the plane
// (mean_luma_cpu). cmd/cuda-bench's host-memory frames get the CPU value only.
//
// It is an ordinary sdk.Serve plugin consuming video.nv12.cuda; with LSIE_CUDAFRAME_RAW=1 it serves
// the bare data plane instead, which is what cmd/cuda-bench drives.
package main

import (
	_ "embed"
	"fmt"
	"os"
	"strconv"
	"sync"
	"unsafe"

	"github.com/lsie-mlf/lsie/sdk"
	"github.com/lsie-mlf/lsie/sdk/cudaframe"
	"github.com/lsie-mlf/lsie/shm"
	"github.com/lsie-mlf/lsie/shm/cuda"
	"gorgonia.org/cu"
)

//go:embed kernels/luma_sum.cu
var lumaSource string

func main() {
	every := uint64(1)
	if v := os.Getenv("LSIE_GPUSTAT_CPU_EVERY"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gpustat: LSIE_GPUSTAT_CPU_EVERY:", err)
			os.Exit(2)
		}
		every = n
	}
	k := &kernel{}
	if os.Getenv(cudaframe.RawEnv) == "1" {
		if err := cudaframe.ServeRaw(&raw{lane: lane{k: k, every: every}}); err != nil {
			fmt.Fprintln(os.Stderr, "gpustat:", err)
			os.Exit(1)
		}
		return
	}
	sdk.Serve(plugin{k: k, every: every})
}

// kernel is the compiled luma sum, shared by every stream of the process.
type kernel struct {
	mu  sync.Mutex
	dev *cuda.Device
	fn  cu.Function
}

// get opens device ordinal (its primary context, the one the frames are
// opened in) and compiles the kernel on first use.
func (k *kernel) get(ordinal int) (*cuda.Device, cu.Function, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.dev != nil {
		if k.dev.Ordinal() != ordinal {
			return nil, cu.Function{}, fmt.Errorf("frame on device %d, gpustat runs on device %d", ordinal, k.dev.Ordinal())
		}
		return k.dev, k.fn, nil
	}
	dev, err := cuda.OpenDevice(ordinal)
	if err != nil {
		return nil, cu.Function{}, err
	}
	mod, err := cuda.Compile(dev, "luma_sum.cu", lumaSource)
	if err == nil {
		err = dev.Do(func() error {
			var err error
			k.fn, err = mod.Function("gpustat_luma_sum")
			return err
		})
	}
	if err != nil {
		_ = dev.Close()
		return nil, cu.Function{}, fmt.Errorf("gpustat kernel: %w", err)
	}
	k.dev = dev
	return k.dev, k.fn, nil
}

// lane is one stream's buffers; streams run concurrently, so none are shared.
type lane struct {
	k     *kernel
	every uint64
	sum   cu.DevicePtr
	out   []byte // pinned 8 bytes the sum is copied into
	plane []byte // host copy of the luma plane for the CPU comparison
}

// measure sums the luma plane at ptr on stream (which already waits for the
// upload) and synchronises it, so the fields are read back here; the caller
// still re-checks the frame's generation before trusting them.
func (l *lane) measure(ordinal int, ptr cu.DevicePtr, pitch, width, height int, stream cu.Stream, seq uint64) (map[string]float64, error) {
	dev, fn, err := l.k.get(ordinal)
	if err != nil {
		return nil, err
	}
	err = dev.Do(func() error {
		if l.out == nil {
			var err error
			if l.sum, err = cu.MemAlloc(8); err != nil {
				return err
			}
			if l.out, err = cuda.HostAlloc(8); err != nil {
				return err
			}
		}
		if err := cu.MemsetD8Async(l.sum, 0, 8, stream); err != nil {
			return err
		}
		// 8-byte slots: cu's Launch copies 8 bytes per parameter.
		vals := [...]uint64{uint64(ptr), uint64(uint32(pitch)), uint64(uint32(width)), uint64(uint32(height)), uint64(l.sum)}
		args := make([]unsafe.Pointer, len(vals))
		for i := range vals {
			args[i] = unsafe.Pointer(&vals[i])
		}
		if err := fn.Launch(4, min(height, 1024), 1, 256, 1, 1, 0, stream, args); err != nil {
			return err
		}
		if err := cu.MemcpyDtoHAsync(unsafe.Pointer(&l.out[0]), l.sum, 8, stream); err != nil {
			return err
		}
		return stream.Synchronize()
	})
	if err != nil {
		return nil, fmt.Errorf("gpustat seq %d: %w", seq, err)
	}
	sum := *(*uint64)(unsafe.Pointer(&l.out[0]))
	fields := map[string]float64{"mean_luma_gpu": float64(sum) / float64(width*height)}
	if l.every > 0 && seq%l.every == 0 {
		n := pitch * height
		if len(l.plane) < n {
			l.plane = make([]byte, n)
		}
		err := dev.Do(func() error { return cu.MemcpyDtoH(unsafe.Pointer(&l.plane[0]), ptr, int64(n)) })
		if err != nil {
			return nil, fmt.Errorf("copy luma plane: %w", err)
		}
		fields["mean_luma_cpu"] = cuda.MeanLuma(l.plane, pitch, width, height)
	}
	return fields, nil
}

func (l *lane) close() error {
	if l.out == nil {
		return nil
	}
	return l.k.dev.Do(func() error {
		if err := cu.MemFree(l.sum); err != nil {
			return err
		}
		return cuda.FreeHost(l.out)
	})
}

// plugin is the sdk.Serve form.
type plugin struct {
	k     *kernel
	every uint64
}

func (plugin) Manifest() sdk.Manifest {
	return sdk.Manifest{
		Name:        "gpustat",
		Version:     "0.1.0",
		Description: "mean luma of frames in GPU memory, by a CUDA kernel",
		Inputs:      []string{sdk.TopicVideoNV12CUDA},
		Outputs:     []string{"gpustat.frame@1"},
		Fields: []sdk.Field{
			{Name: "mean_luma_gpu", Unit: "luma 0..255", Description: "mean of the luma plane, summed on the GPU (CUDA frames)"},
			{Name: "mean_luma_cpu", Unit: "luma 0..255", Description: "the same on the CPU, every LSIE_GPUSTAT_CPU_EVERY-th frame"},
		},
		Attributes: []sdk.Attribute{}, // none: its settings are LSIE_PLUGIN_* variables
	}
}

func (p plugin) OpenStream(sdk.StreamInfo) (sdk.Stream, error) {
	return &stream{lane: lane{k: p.k, every: p.every}}, nil
}

type stream struct{ lane }

func (s *stream) ProcessDeviceFrame(f *sdk.Frame) (sdk.Fields, error) {
	d := f.Device
	return s.measure(d.Ordinal, cu.DevicePtr(d.Ptr), f.Stride, f.Width, f.Height, cudaframe.WrapStream(d.Stream), f.Seq)
}

func (s *stream) Close() error { return s.close() }

// raw is the cudaframe.ServeRaw form, for cmd/cuda-bench.
type raw struct{ lane }

func (r *raw) HostFrame(d *shm.Descriptor, pix []byte) (map[string]float64, error) {
	return map[string]float64{"mean_luma_cpu": cuda.MeanLuma(pix, int(d.Stride), int(d.Width), int(d.Height))}, nil
}

func (r *raw) DeviceFrame(f *cudaframe.Frame) (map[string]float64, error) {
	fields, err := r.measure(f.Device().Ordinal(), f.Ptr, f.Pitch, f.Width, f.Height, f.Stream, f.Desc.Seq)
	if err != nil {
		return nil, err
	}
	// The generation check: the host may have rewritten the slot meanwhile.
	if err := f.Done(); err != nil {
		return nil, err
	}
	return fields, nil
}
