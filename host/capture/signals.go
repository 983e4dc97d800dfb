package capture

/*
#include <stdint.h>
#include <gst/gst.h>
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"

	"github.com/go-gst/go-gst/gst"
)

// lsieGoPadAdded is pad-added of a source or decodebin, connected in C with
// a cgo.Handle on the graph's router (see connectPadSignals).
//
//export lsieGoPadAdded
func lsieGoPadAdded(h C.uintptr_t, el *C.GstElement, pad *C.GstPad) {
	r, ok := cgo.Handle(h).Value().(*router)
	if !ok {
		return
	}
	c := r.c.Load()
	if c == nil {
		return
	}
	c.onPadAdded(r.g, unsafe.Pointer(el), gst.FromGstPadUnsafeNone(unsafe.Pointer(pad)))
}

// lsieGoNoMorePads is no-more-pads of a source or decodebin.
//
//export lsieGoNoMorePads
func lsieGoNoMorePads(h C.uintptr_t, el *C.GstElement) {
	r, ok := cgo.Handle(h).Value().(*router)
	if !ok {
		return
	}
	if c := r.c.Load(); c != nil {
		c.onNoMorePads(r.g, unsafe.Pointer(el))
	}
}
