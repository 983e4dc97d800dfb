// Package cudaframe is what a GPU plugin uses to read frames that stay on
// the GPU (descriptors with Memory == shm.MemoryCUDA): it opens each CUDA
// region's IPC handles once, turns a descriptor into a device pointer and
// layout ordered after the host's upload, and synchronises before the ack.
//
// It needs the build tag cuda; without it, Available says why not. sdk.Serve
// uses it for every plugin built with the tag (sdk.DeviceStream);
// ServeDataPlane runs a plugin's bare data plane without go-plugin, which is
// what cmd/cuda-bench drives. See docs/CUDA.md.
package cudaframe

// RawEnv, set to 1 in a plugin's environment, asks it to serve its data
// plane with ServeDataPlane instead of sdk.Serve (no go-plugin handshake).
const RawEnv = "LSIE_CUDAFRAME_RAW"
