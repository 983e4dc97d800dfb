//go:build !cuda

package cudaframe

import (
	"errors"
	"testing"

	"github.com/lsie-mlf/lsie/shm/cuda"
)

func TestUnavailableWithoutCUDA(t *testing.T) {
	if err := Available(); !errors.Is(err, cuda.ErrNotBuilt) {
		t.Fatalf("Available() = %v, want cuda.ErrNotBuilt", err)
	}
}
