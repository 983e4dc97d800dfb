//go:build !cuda

package capture

import (
	"errors"
	"unsafe"
)

// setCUDAContext: a build without CUDA has no context to give GStreamer.
func setCUDAContext(unsafe.Pointer, *GPU) error {
	return errors.New("the GPU analysis branch needs a build with -tags cuda")
}
