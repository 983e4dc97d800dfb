//go:build cuda

package capture

/*
#cgo pkg-config: gstreamer-1.0
#cgo LDFLAGS: -l:libgstcuda-1.0.so.0 -lcuda
#include <gst/gst.h>
#include <cuda.h>
#include <stdint.h>

// GStreamer's CUDA library (libgstcuda-1.0, public API since 1.22). Debian
// ships its headers only in libgstreamer-plugins-bad1.0-dev, which pulls in
// OpenCV and Qt, so the three calls used here are declared by hand;
// GstCudaContext is a GstObject.
gboolean gst_cuda_load_library(void);
GstObject *gst_cuda_context_new_wrapped(CUcontext handler, CUdevice device);
GstContext *gst_context_new_cuda_context(GstObject *cuda_ctx);

// lsie_set_cuda_context gives pipeline (and every element added to it
// later, decodebin's included) a GstCudaContext wrapping ctx.
static int lsie_set_cuda_context(GstElement *pipeline, uintptr_t ctx, int ordinal) {
	CUdevice dev;
	if (!gst_cuda_load_library()) return 1;
	if (cuDeviceGet(&dev, ordinal) != CUDA_SUCCESS) return 2;
	GstObject *wrapped = gst_cuda_context_new_wrapped((CUcontext) ctx, dev);
	if (wrapped == NULL) return 3;
	GstContext *c = gst_context_new_cuda_context(wrapped);
	gst_object_unref(wrapped);
	if (c == NULL) return 4;
	gst_element_set_context(pipeline, c);
	gst_context_unref(c);
	return 0;
}
*/
import "C"

import (
	"fmt"
	"unsafe"
)

func setCUDAContext(pipeline unsafe.Pointer, g *GPU) error {
	rc := C.lsie_set_cuda_context((*C.GstElement)(pipeline), C.uintptr_t(g.Context), C.int(g.Device))
	switch rc {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("GStreamer's CUDA library could not load the CUDA driver")
	case 2:
		return fmt.Errorf("CUDA device %d not found", g.Device)
	}
	return fmt.Errorf("wrapping the CUDA context of device %d for GStreamer failed (%d)", g.Device, int(rc))
}
