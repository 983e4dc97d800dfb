//go:build !cuda

package cudaframe

import "github.com/lsie-mlf/lsie/shm/cuda"

// Available reports whether CUDA frames can be opened: not in this build.
func Available() error { return cuda.Available() }
