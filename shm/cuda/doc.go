// Package cuda keeps video frames on the GPU from host to plugin: a pool of
// device buffers whose CUDA IPC handles travel with the region, one
// interprocess event per slot that orders the plugin's reads after the host's
// upload, and the slot headers (seqlock generation, pts, size) in a small
// host-memory shm.Region, so leases and acks stay the CPU protocol.
//
// Everything that touches the driver is behind the build tag cuda. The
// default build has the wire format, the CPU reference of the preprocessing
// kernel and Available, which says CUDA was not built in; a cuda-tagged
// binary needs libcuda.so.1 to load at all. See docs/CUDA.md.
//
// Like shm, this package is shared by the host and the plugin SDK, so it
// must never import anything under host/.
package cuda
