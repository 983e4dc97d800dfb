// Package shm moves video frames from the host to plugin processes without
// copying them: frames live in slots of sealed memfd regions that plugins map
// read-only, and small fixed-size descriptors travel over a SOCK_SEQPACKET
// socketpair that also carries the region fds (SCM_RIGHTS).
//
// Safety comes from leases (Pool): a slot is rewritten only after every
// consumer that was handed it has released it, or has been killed. The
// per-slot generation counter (a seqlock) only detects corruption.
//
// This package is shared by the host and the plugin SDK, so it must never
// import anything under host/.
package shm
