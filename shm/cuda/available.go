//go:build !cuda

package cuda

import "errors"

// ErrNotBuilt is what Available returns in a build without the cuda tag.
var ErrNotBuilt = errors.New("built without CUDA (rebuild with -tags cuda on a host with the NVIDIA driver)")

// Available reports whether CUDA frames can be used: in this build, never.
func Available() error { return ErrNotBuilt }
