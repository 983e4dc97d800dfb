//go:build !cuda

package host

import (
	"errors"
	"strings"
	"testing"

	"github.com/lsie-mlf/lsie/host/api"
	"github.com/lsie-mlf/lsie/host/config"
	"github.com/lsie-mlf/lsie/shm/cuda"
)

// TestCUDAMemoryRefusedClearly: in a build without CUDA a stream asking
// for CUDA frames is refused as unrunnable (the API's 422), saying so;
// host memory passes.
func TestCUDAMemoryRefusedClearly(t *testing.T) {
	st := config.Stream{ID: "cam1", Video: config.Video{Memory: config.MemoryHost}}
	h := &Host{}
	if err := h.checkMemory(st); err != nil {
		t.Fatal(err)
	}
	st.Video.Memory = config.MemoryCUDA
	err := h.checkMemory(st)
	if !errors.Is(err, api.ErrUnrunnable) || !errors.Is(err, cuda.ErrNotBuilt) ||
		!strings.Contains(err.Error(), `stream "cam1": video.memory = "cuda": stream cannot run: built without CUDA`) {
		t.Errorf("error %v", err)
	}
}
