//go:build cuda

package cudaframe

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/lsie-mlf/lsie/shm"
	"github.com/lsie-mlf/lsie/shm/cuda"
	"golang.org/x/sys/unix"
	"gorgonia.org/cu"
)

// Available reports whether a CUDA device is usable.
func Available() error { return cuda.Available() }

// Frame is one CUDA frame, ready for kernels queued on Stream.
type Frame struct {
	Desc   shm.Descriptor
	Ptr    cu.DevicePtr // first row of the luma plane; NV12 chroma follows at Ptr + Pitch*Height
	Pitch  int          // bytes per row
	Width  int
	Height int
	Format shm.PixelFormat
	// Stream waits for the host's upload before anything queued on it runs.
	Stream cu.Stream

	o    *Opener
	r    *region
	done bool
	err  error
}

// Done waits for the plugin's stream (so every read of the buffer is over)
// and re-checks the slot's generation; the frame may be acked only after it
// returns, and results are only good if it returns nil. Safe to call twice.
func (f *Frame) Done() error {
	if f.done {
		return f.err
	}
	f.done = true
	if err := f.o.dev.Do(f.Stream.Synchronize); err != nil {
		f.err = fmt.Errorf("cuda frame seq %d: synchronize: %w", f.Desc.Seq, err)
		return f.err
	}
	h := cuda.HeaderDescriptor(&f.Desc)
	f.err = f.r.hdr.Check(&h)
	return f.err
}

type region struct {
	info   cuda.RegionInfo
	hdr    *shm.Mapping
	ptrs   []cu.DevicePtr
	events []cu.Event
}

// Opener holds a plugin's opened CUDA regions on one device and the stream
// its frames are handed on. Its methods are safe for concurrent use, but
// frames share the one stream, so one goroutine should process them.
type Opener struct {
	dev    *cuda.Device
	stream cu.Stream

	mu      sync.RWMutex
	regions map[uint32]*region
}

// NewOpener opens device ordinal and creates the plugin's stream.
func NewOpener(ordinal int) (*Opener, error) {
	dev, err := cuda.OpenDevice(ordinal)
	if err != nil {
		return nil, err
	}
	o := &Opener{dev: dev, regions: map[uint32]*region{}}
	err = dev.Do(func() error {
		var err error
		o.stream, err = cu.MakeStream(cu.NonBlocking)
		return err
	})
	if err != nil {
		_ = dev.Close()
		return nil, fmt.Errorf("cudaframe: create stream: %w", err)
	}
	return o, nil
}

// Device returns the opener's device; run kernel launches inside its Do.
func (o *Opener) Device() *cuda.Device { return o.dev }

// AddRegion opens the buffers and events of a cuda.MsgRegion packet, whose
// one fd is the header region (closed here either way). A region with the
// same id replaces the old one.
func (o *Opener) AddRegion(msg []byte, fds []int) error {
	defer func() {
		for _, fd := range fds {
			_ = unix.Close(fd)
		}
	}()
	info, err := cuda.ParseRegion(msg)
	if err != nil {
		return err
	}
	if len(fds) != 1 {
		return fmt.Errorf("cuda region %d: %d fds, want 1 (the header region)", info.ID, len(fds))
	}
	if int(info.Device) != o.dev.Ordinal() {
		return fmt.Errorf("cuda region %d: on device %d, this plugin uses device %d", info.ID, info.Device, o.dev.Ordinal())
	}
	hdr, err := shm.MapRegion(fds[0], info.ID, cuda.HeaderSpec(info.Slots()))
	if err != nil {
		return fmt.Errorf("cuda region %d: %w", info.ID, err)
	}
	r := &region{info: info, hdr: hdr}
	err = o.dev.Do(func() error {
		for i := range info.Mem {
			p, err := cuda.OpenMem(info.Mem[i])
			if err != nil {
				return fmt.Errorf("slot %d: %w", i, err)
			}
			r.ptrs = append(r.ptrs, p)
			e, err := cuda.OpenEvent(info.Events[i])
			if err != nil {
				return fmt.Errorf("slot %d: %w", i, err)
			}
			r.events = append(r.events, e)
		}
		return nil
	})
	if err != nil {
		_ = o.closeRegion(r)
		return fmt.Errorf("cuda region %d: %w", info.ID, err)
	}
	o.mu.Lock()
	old := o.regions[info.ID]
	o.regions[info.ID] = r
	o.mu.Unlock()
	if old != nil {
		return o.closeRegion(old)
	}
	return nil
}

// DropRegion closes a region's buffers; frames of it must be Done.
func (o *Opener) DropRegion(id uint32) error {
	o.mu.Lock()
	r := o.regions[id]
	delete(o.regions, id)
	o.mu.Unlock()
	if r == nil {
		return nil
	}
	return o.closeRegion(r)
}

func (o *Opener) closeRegion(r *region) error {
	errs := []error{o.dev.Do(func() error {
		var errs []error
		for _, p := range r.ptrs {
			errs = append(errs, cuda.CloseMem(p))
		}
		for i := range r.events {
			errs = append(errs, cu.DestroyEvent(&r.events[i]))
		}
		return errors.Join(errs...)
	})}
	errs = append(errs, r.hdr.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close cuda region %d: %w", r.info.ID, err)
	}
	return nil
}

// Frame checks d against its region (geometry and seqlock), makes the
// plugin's stream wait on the slot's event and returns the frame. Queue the
// kernels that read it on f.Stream, then call f.Done before acking.
func (o *Opener) Frame(d *shm.Descriptor) (*Frame, error) { return o.FrameOn(d, o.stream) }

// FrameOn is Frame with the wait, and the caller's kernels, on stream s (from
// NewStream): frames of different video streams processed concurrently then
// neither share nor synchronise each other's work.
func (o *Opener) FrameOn(d *shm.Descriptor, s cu.Stream) (*Frame, error) {
	o.mu.RLock()
	r := o.regions[d.Region]
	o.mu.RUnlock()
	if r == nil {
		return nil, fmt.Errorf("cuda region %d is not open", d.Region)
	}
	if err := r.info.Check(d); err != nil {
		return nil, err
	}
	h := cuda.HeaderDescriptor(d)
	if _, err := r.hdr.Frame(&h); err != nil {
		return nil, err
	}
	// The host recorded the event before it sent d, so this waits for that
	// upload (cuStreamWaitEvent uses the most recent record).
	if err := o.dev.Do(func() error { return s.Wait(r.events[d.Slot], 0) }); err != nil {
		return nil, fmt.Errorf("cuda frame seq %d: wait for upload: %w", d.Seq, err)
	}
	return &Frame{Desc: *d, Ptr: r.ptrs[d.Slot], Pitch: int(r.info.Pitch), Width: int(r.info.Width),
		Height: int(r.info.Height), Format: r.info.Format, Stream: s, o: o, r: r}, nil
}

// NewStream creates a non-blocking stream on the opener's device for
// FrameOn; destroy it with DestroyStream once its frames are Done.
func (o *Opener) NewStream() (cu.Stream, error) {
	var s cu.Stream
	err := o.dev.Do(func() error {
		var err error
		s, err = cu.MakeStream(cu.NonBlocking)
		return err
	})
	if err != nil {
		return cu.Stream{}, fmt.Errorf("cudaframe: create stream: %w", err)
	}
	return s, nil
}

// DestroyStream destroys a stream from NewStream.
func (o *Opener) DestroyStream(s cu.Stream) error {
	if err := o.dev.Do(s.Destroy); err != nil {
		return fmt.Errorf("cudaframe: destroy stream: %w", err)
	}
	return nil
}

// cu.Stream wraps one CUstream; these fail to compile if that changes.
var (
	_ [unsafe.Sizeof(cu.Stream{}) - unsafe.Sizeof(uintptr(0))]struct{}
	_ [unsafe.Sizeof(uintptr(0)) - unsafe.Sizeof(cu.Stream{})]struct{}
)

// RawStream returns s's CUstream handle, for code that launches kernels
// through another binding (sdk.DeviceFrame carries it as a plain number).
func RawStream(s cu.Stream) uintptr { return *(*uintptr)(unsafe.Pointer(&s)) }

// WrapStream is the inverse of RawStream.
func WrapStream(h uintptr) cu.Stream { return *(*cu.Stream)(unsafe.Pointer(&h)) }

// Close closes every region, the stream and the device.
func (o *Opener) Close() error {
	o.mu.Lock()
	regions := o.regions
	o.regions = map[uint32]*region{}
	o.mu.Unlock()
	var errs []error
	for _, r := range regions {
		errs = append(errs, o.closeRegion(r))
	}
	errs = append(errs, o.dev.Do(o.stream.Destroy), o.dev.Close())
	return errors.Join(errs...)
}

// Device returns the device the frame is on; launch kernels inside its Do.
func (f *Frame) Device() *cuda.Device { return f.o.dev }
