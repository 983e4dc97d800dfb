//go:build !cuda

// Command gpustat is an example GPU plugin: it reports each frame's mean
// luma computed by a CUDA kernel on the frame in device memory, next to the
// same statistic on the CPU. This build has no CUDA; see main_cuda.go.
package main

import (
	"fmt"
	"os"

	"github.com/lsie-mlf/lsie/sdk/cudaframe"
)

func main() {
	fmt.Fprintln(os.Stderr, "gpustat:", cudaframe.Available())
	os.Exit(2)
}
