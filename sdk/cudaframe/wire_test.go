package cudaframe

import (
	"testing"

	"github.com/lsie-mlf/lsie/sdk/proto/dataplane"
	"github.com/lsie-mlf/lsie/shm/cuda"
)

// The SDK module names the CUDA region packet without importing shm/cuda.
func TestCUDARegionTypeMatchesWire(t *testing.T) {
	if dataplane.MsgCUDARegion != cuda.MsgRegion {
		t.Fatalf("dataplane.MsgCUDARegion %#x, shm/cuda.MsgRegion %#x", dataplane.MsgCUDARegion, cuda.MsgRegion)
	}
}
