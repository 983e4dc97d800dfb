package server

import (
	"errors"

	"github.com/lsie-mlf/lsie/shm"
)

// errNoCUDA answers every CUDA region and frame in a plugin built without
// the cuda tag: the host sent device memory this binary cannot open.
var errNoCUDA = errors.New("plugin built without CUDA (import github.com/lsie-mlf/lsie/sdk/cudaframe and build with -tags cuda)")

// DeviceView is a CUDA frame as a plugin sees it. The handles are plain
// numbers so that this package and the public sdk stay free of cgo.
type DeviceView struct {
	Ordinal int     // CUDA device ordinal
	Ptr     uintptr // CUdeviceptr of the first row; rows are Frame.Stride apart
	Stream  uintptr // CUstream that waits for the upload; the reads go on it
}

// DeviceFrame is one opened CUDA frame.
type DeviceFrame interface {
	View() DeviceView
	// Done synchronises the stream and re-checks the slot's generation; the
	// frame is acked only after it returns, and its result kept only if nil.
	Done() error
}

// CUDAFrames opens the host's CUDA regions and frames. The module
// github.com/lsie-mlf/lsie/sdk/cudaframe provides it (RegisterCUDA, in a
// -tags cuda build), so that this module links no CUDA and a CPU plugin's
// module graph never names gorgonia.org/cu.
type CUDAFrames interface {
	// AddRegion opens a MsgCUDARegion packet; it closes fds either way.
	AddRegion(msg []byte, fds []int) error
	DropRegion(id uint32) error
	// Frame orders the stream handle's CUDA stream after d's upload.
	Frame(handle uint32, d *shm.Descriptor) (DeviceFrame, error)
	// CloseStream releases what Frame created for handle.
	CloseStream(handle uint32) error
}

// newCUDA is set through RegisterCUDA; nil otherwise.
var newCUDA func() CUDAFrames

// RegisterCUDA installs the CUDA implementation; sdk/cudaframe calls it from
// an init function, before Serve runs.
func RegisterCUDA(f func() CUDAFrames) { newCUDA = f }

// CloseFDs closes descriptors received with a packet that is not kept.
func CloseFDs(fds []int) { closeFDs(fds) }
