//go:build !cuda

package capture

import (
	"strings"
	"testing"

	"github.com/lsie-mlf/lsie/shm"
)

// TestGPUBranchNeedsCUDABuild: without -tags cuda there is no CUDA context to
// give GStreamer, and the capture says so instead of building half a branch.
func TestGPUBranchNeedsCUDABuild(t *testing.T) {
	_, err := New(Config{StreamID: "x", Source: mustParse(t, "test://white"), FPS: 5, Format: shm.FormatNV12, GPU: &GPU{}}, &recorder{})
	if err == nil || !strings.Contains(err.Error(), `stream "x": the GPU analysis branch needs a build with -tags cuda`) {
		t.Errorf("New: %v", err)
	}
}
