//go:build cuda

package host

import (
	"os"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// TestCUDAStreamOnGPU is TestCUDAStreamThroughHost on a real GPU: the
// device pool of shm/cuda, gpustat's kernel reading the NV12 frames through
// IPC handles (its GPU luma must equal its CPU copy's and white's 235) and a
// plugin reading a preprocessed 64x64 view. It needs the plugins built with
// -tags cuda (make cuda-check puts them in bin/cuda/plugins; the GPU machine
// may have no Go) named by LSIE_TEST_CUDA_PLUGINS, and GStreamer.
func TestCUDAStreamOnGPU(t *testing.T) {
	plugins := os.Getenv("LSIE_TEST_CUDA_PLUGINS")
	if plugins == "" {
		t.Fatal("LSIE_TEST_CUDA_PLUGINS is not set: point it at bin/cuda/plugins (built by make cuda-check)")
	}
	if err := builtinDevices.Probe(0); err != nil {
		t.Fatal(err)
	}
	segs, err := runHost(t, cudaStreamConfig(t.TempDir(), "gpustat", "tensor64"), plugins, nil, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	const frames = 20
	var gpu, tensor int
	for _, s := range segs {
		for _, it := range s.Plugins["gpustat"].Items {
			g, c := it.Fields["mean_luma_gpu"], it.Fields["mean_luma_cpu"]
			if it.Error != "" || g != c || g < 234 || g > 236 {
				t.Errorf("gpustat at %v: gpu %v cpu %v error %q; want equal, 235", it.PTS, g, c, it.Error)
			}
			gpu++
		}
		for _, it := range s.Plugins["tensor64"].Items {
			if it.Error != "" || it.Fields["width"] != 64 {
				t.Errorf("tensor64 at %v: %v %q", it.PTS, it.Fields, it.Error)
			}
			tensor++
		}
	}
	if gpu != frames || tensor != frames {
		t.Errorf("%d gpustat and %d tensor64 results, want %d each", gpu, tensor, frames)
	}
}
