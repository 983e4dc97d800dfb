//go:build !cuda

package cuda

import (
	"errors"
	"testing"
)

func TestAvailableWithoutCUDA(t *testing.T) {
	err := Available()
	if !errors.Is(err, ErrNotBuilt) {
		t.Fatalf("Available() = %v, want ErrNotBuilt", err)
	}
	const want = "built without CUDA (rebuild with -tags cuda on a host with the NVIDIA driver)"
	if err.Error() != want {
		t.Fatalf("Available() = %q, want %q", err, want)
	}
}
