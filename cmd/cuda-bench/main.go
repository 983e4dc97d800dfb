//go:build !cuda

// Command cuda-bench measures the CUDA frame path; this build has no CUDA.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "cuda-bench: built without CUDA (rebuild with -tags cuda; see docs/CUDA.md)")
	os.Exit(2)
}
