// Package memtrim hands memory that C libraries freed back to the
// operating system. A plugin that frees a per-stream model (a PocketSphinx
// decoder, an ONNX Runtime session) when a stream ends otherwise keeps it
// in glibc's per-thread arenas: streams opened on other threads then grow
// the process by a model's size each, up to the arena limit (issue #15
// item 7, docs/DURABILITY.md).
package memtrim

/*
#include <malloc.h>
*/
import "C"

// Trim returns free memory of every malloc arena to the system.
func Trim() { C.malloc_trim(0) }
