//go:build cuda

package cuda

/*
#cgo LDFLAGS: -lcuda
#include <cuda.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// gorgonia.org/cu calls cuInit from a Go init and exits with a message that
// names neither lsie nor the fix; probing first, from a constructor that runs
// before the Go runtime starts, says what is wrong in our words.
__attribute__((constructor)) static void lsie_probe_driver(void) {
	CUresult r = cuInit(0);
	if (r != CUDA_SUCCESS) {
		const char *name = NULL;
		cuGetErrorName(r, &name);
		if (r == CUDA_ERROR_STUB_LIBRARY) {
			// The stub answers nothing, its own error's name included.
			name = "CUDA_ERROR_STUB_LIBRARY (libcuda.so.1 is the toolkit's link stub, not the driver's library)";
		}
		fprintf(stderr, "lsie: no CUDA driver: cuInit: %s (%d); this binary was built with -tags cuda and needs an NVIDIA GPU and driver\n",
			name ? name : "unknown error", (int)r);
		exit(1);
	}
}

static const char *lsie_error_name(CUresult r) {
	const char *s = NULL;
	if (cuGetErrorName(r, &s) != CUDA_SUCCESS || s == NULL) return "CUDA_ERROR_UNKNOWN";
	return s;
}

// The IPC calls take and return handle structs by value; these wrappers
// move their bytes through plain buffers, which cgo passes without fuss.
static CUresult lsie_ipc_get_mem(void *out, CUdeviceptr p) {
	CUipcMemHandle h;
	CUresult r = cuIpcGetMemHandle(&h, p);
	if (r == CUDA_SUCCESS) memcpy(out, h.reserved, CU_IPC_HANDLE_SIZE);
	return r;
}

static CUresult lsie_ipc_open_mem(CUdeviceptr *p, const void *in) {
	CUipcMemHandle h;
	memcpy(h.reserved, in, CU_IPC_HANDLE_SIZE);
	return cuIpcOpenMemHandle(p, h, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS);
}

static CUresult lsie_ipc_get_event(void *out, CUevent e) {
	CUipcEventHandle h;
	CUresult r = cuIpcGetEventHandle(&h, e);
	if (r == CUDA_SUCCESS) memcpy(out, h.reserved, CU_IPC_HANDLE_SIZE);
	return r;
}

static CUresult lsie_ipc_open_event(CUevent *e, const void *in) {
	CUipcEventHandle h;
	memcpy(h.reserved, in, CU_IPC_HANDLE_SIZE);
	return cuIpcOpenEventHandle(e, h);
}

// lsie_copy_plane queues a pitched device-to-device copy of rows rows of
// width bytes.
static CUresult lsie_copy_plane(CUdeviceptr dst, size_t dst_pitch, CUdeviceptr src, size_t src_pitch,
		size_t width, size_t rows, CUstream stream) {
	CUDA_MEMCPY2D c;
	memset(&c, 0, sizeof c);
	c.srcMemoryType = CU_MEMORYTYPE_DEVICE;
	c.srcDevice = src;
	c.srcPitch = src_pitch;
	c.dstMemoryType = CU_MEMORYTYPE_DEVICE;
	c.dstDevice = dst;
	c.dstPitch = dst_pitch;
	c.WidthInBytes = width;
	c.Height = rows;
	return cuMemcpy2DAsync(&c, stream);
}

static CUresult lsie_host_alloc(void **p, size_t n) {
	return cuMemHostAlloc(p, n, CU_MEMHOSTALLOC_PORTABLE);
}
*/
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"

	"gorgonia.org/cu"
)

// Error is a CUDA driver error from a call of this package's shim.
type Error struct {
	Op   string // the driver function
	Code int    // CUresult
	Name string // e.g. CUDA_ERROR_INVALID_VALUE
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s (%d)", e.Op, e.Name, e.Code) }

func check(op string, r C.CUresult) error {
	if r == C.CUDA_SUCCESS {
		return nil
	}
	return &Error{Op: op, Code: int(r), Name: C.GoString(C.lsie_error_name(r))}
}

// cu.Event, cu.Stream and cu.CUContext wrap one driver handle each; the shim needs the raw
// handle, which cu does not export in a type other packages can use. These
// arrays fail to compile if cu ever changes that layout.
var (
	_ [unsafe.Sizeof(cu.Event{}) - unsafe.Sizeof(uintptr(0))]struct{}
	_ [unsafe.Sizeof(uintptr(0)) - unsafe.Sizeof(cu.Event{})]struct{}
	_ [unsafe.Sizeof(cu.Stream{}) - unsafe.Sizeof(uintptr(0))]struct{}
	_ [unsafe.Sizeof(uintptr(0)) - unsafe.Sizeof(cu.Stream{})]struct{}
	_ [unsafe.Sizeof(cu.CUContext{}) - unsafe.Sizeof(uintptr(0))]struct{}
	_ [unsafe.Sizeof(uintptr(0)) - unsafe.Sizeof(cu.CUContext{})]struct{}
)

func rawEvent(e cu.Event) C.CUevent { return *(*C.CUevent)(unsafe.Pointer(&e)) }

func wrapEvent(e C.CUevent) cu.Event { return *(*cu.Event)(unsafe.Pointer(&e)) }

// Available reports whether a CUDA device is usable: in this build the driver
// loaded (or the process would not have started), so it checks for a device.
func Available() error {
	n, err := cu.NumDevices()
	if err != nil {
		return fmt.Errorf("cuda: count devices: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("cuda: the NVIDIA driver is loaded but sees no device")
	}
	return nil
}

// Device is one GPU with its retained primary context. Every driver call on
// it runs through Do, because a CUDA context is current per OS thread and Go
// moves goroutines between threads.
type Device struct {
	ordinal int
	dev     cu.Device
	ctx     cu.CUContext
}

// OpenDevice retains the primary context of device ordinal; the primary
// context is the one every process shares with the CUDA runtime, so a plugin
// that also uses cudart or a framework sees the same memory.
func OpenDevice(ordinal int) (*Device, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	n, _ := cu.NumDevices()
	if ordinal < 0 || ordinal >= n {
		return nil, fmt.Errorf("cuda: device %d, have %d", ordinal, n)
	}
	dev, err := cu.GetDevice(ordinal)
	if err != nil {
		return nil, fmt.Errorf("cuda: device %d: %w", ordinal, err)
	}
	ctx, err := dev.RetainPrimaryCtx()
	if err != nil {
		return nil, fmt.Errorf("cuda: device %d: retain primary context: %w", ordinal, err)
	}
	return &Device{ordinal: ordinal, dev: dev, ctx: ctx}, nil
}

// Context returns the primary context's CUcontext handle, for libraries
// that take a context to share (GStreamer's CUDA elements).
func (d *Device) Context() uintptr {
	return uintptr(unsafe.Pointer(*(*C.CUcontext)(unsafe.Pointer(&d.ctx))))
}

// Ordinal returns the device's ordinal, which descriptors carry.
func (d *Device) Ordinal() int { return d.ordinal }

// Name returns the device's name (e.g. "NVIDIA H100 80GB HBM3").
func (d *Device) Name() string {
	n, err := d.dev.Name()
	if err != nil {
		return fmt.Sprintf("device %d", d.ordinal)
	}
	return n
}

// Do runs fn on a locked OS thread with the device's context current.
func (d *Device) Do(fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cu.SetCurrentContext(d.ctx); err != nil {
		return fmt.Errorf("cuda: set context of device %d: %w", d.ordinal, err)
	}
	return fn()
}

// Close releases the primary context; buffers made on it must be freed first.
func (d *Device) Close() error {
	if err := d.dev.ReleasePrimaryCtx(); err != nil {
		return fmt.Errorf("cuda: release primary context of device %d: %w", d.ordinal, err)
	}
	return nil
}

// The IPC shim. Each call needs the device's context current (inside Do).

// ExportMem returns the IPC handle of a buffer from cu.MemAlloc.
func ExportMem(p cu.DevicePtr) (MemHandle, error) {
	var h MemHandle
	err := check("cuIpcGetMemHandle", C.lsie_ipc_get_mem(unsafe.Pointer(&h[0]), C.CUdeviceptr(p)))
	return h, err
}

// OpenMem maps another process's buffer; a process cannot open its own.
func OpenMem(h MemHandle) (cu.DevicePtr, error) {
	var p C.CUdeviceptr
	if err := check("cuIpcOpenMemHandle", C.lsie_ipc_open_mem(&p, unsafe.Pointer(&h[0]))); err != nil {
		return 0, err
	}
	return cu.DevicePtr(p), nil
}

// CloseMem unmaps a buffer opened with OpenMem.
func CloseMem(p cu.DevicePtr) error {
	return check("cuIpcCloseMemHandle", C.cuIpcCloseMemHandle(C.CUdeviceptr(p)))
}

// IPCEventFlags are the flags an event must be created with to be exported.
const IPCEventFlags = cu.InterprocessEvent | cu.DisableTiming

// ExportEvent returns the IPC handle of an event made with IPCEventFlags.
func ExportEvent(e cu.Event) (EventHandle, error) {
	var h EventHandle
	err := check("cuIpcGetEventHandle", C.lsie_ipc_get_event(unsafe.Pointer(&h[0]), rawEvent(e)))
	return h, err
}

// OpenEvent opens another process's event; destroy it with cu.DestroyEvent.
func OpenEvent(h EventHandle) (cu.Event, error) {
	var e C.CUevent
	if err := check("cuIpcOpenEventHandle", C.lsie_ipc_open_event(&e, unsafe.Pointer(&h[0]))); err != nil {
		return cu.Event{}, err
	}
	return wrapEvent(e), nil
}

// HostAlloc returns n bytes of pinned (page-locked) host memory, which
// cuMemcpyHtoDAsync copies from without staging; free it with FreeHost.
func HostAlloc(n int) ([]byte, error) {
	var p unsafe.Pointer
	if err := check("cuMemHostAlloc", C.lsie_host_alloc(&p, C.size_t(n))); err != nil {
		return nil, err
	}
	return unsafe.Slice((*byte)(p), n), nil
}

// FreeHost frees memory from HostAlloc.
func FreeHost(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	if err := cu.MemFreeHost(unsafe.Pointer(&b[0])); err != nil {
		return fmt.Errorf("cuda: free pinned memory: %w", err)
	}
	return nil
}

// copyPlane queues a pitched device-to-device copy on stream; it must run
// inside Device.Do.
func copyPlane(dst cu.DevicePtr, dstPitch int, src uintptr, srcPitch, width, rows int, stream cu.Stream) error {
	s := *(*C.CUstream)(unsafe.Pointer(&stream))
	return check("cuMemcpy2DAsync", C.lsie_copy_plane(C.CUdeviceptr(dst), C.size_t(dstPitch), C.CUdeviceptr(src), C.size_t(srcPitch),
		C.size_t(width), C.size_t(rows), s))
}
