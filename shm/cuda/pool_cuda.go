//go:build cuda

package cuda

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/lsie-mlf/lsie/shm"
	"gorgonia.org/cu"
)

// PoolSpec is the geometry of a device pool: every slot holds one frame of
// this format and size.
type PoolSpec struct {
	ID     uint32 // region id; must not collide with the host's memfd regions
	Slots  int
	Format shm.PixelFormat
	Width  int
	Height int
}

// Pool is the host's pool of device frame buffers. Slot ownership (leases)
// and the seqlock live in a host-memory header region, exactly as for memfd
// frames; the pixels go from a pinned staging buffer per slot to the slot's
// device buffer on the pool's upload stream, and the slot's interprocess
// event is recorded after the copy, so a plugin that waits on it reads the
// finished frame.
type Pool struct {
	dev     *Device
	info    RegionInfo
	headers *shm.Region
	leases  *shm.Pool
	stream  cu.Stream
	bufs    []cu.DevicePtr
	events  []cu.Event
	staging [][]byte
	views   []*View
	once    sync.Once
	err     error
}

// View is a model input made from every frame of a pool by the
// preprocessing kernel: one tensor buffer per slot, exported like the
// frames and ordered by the same slot events.
type View struct {
	info RegionInfo
	pre  *Preprocessor
	bufs []cu.DevicePtr
}

// Info returns what a plugin needs to open the view; send it with the
// pool's HeaderFd.
func (v *View) Info() *RegionInfo { return &v.info }

// AddView compiles the kernel for spec and allocates and exports one tensor
// buffer per slot; id is the view's region id. Add views before the first
// frame.
func (p *Pool) AddView(id uint32, spec PreprocessSpec) (*View, error) {
	pre, err := NewPreprocessor(p.dev, spec)
	if err != nil {
		return nil, fmt.Errorf("cuda pool %d: view %d: %w", p.info.ID, id, err)
	}
	v := &View{pre: pre}
	mem := make([]MemHandle, len(p.bufs))
	err = p.dev.Do(func() error {
		for i := range p.bufs {
			buf, err := cu.MemAlloc(int64(pre.OutputBytes()))
			if err != nil {
				return fmt.Errorf("slot %d: allocate %d device bytes: %w", i, pre.OutputBytes(), err)
			}
			v.bufs = append(v.bufs, buf)
			if mem[i], err = ExportMem(buf); err != nil {
				return fmt.Errorf("slot %d: %w", i, err)
			}
		}
		return nil
	})
	v.info = p.info.TensorView(id, spec, mem)
	p.views = append(p.views, v) // Close frees what was allocated, also on error
	if err != nil {
		return nil, fmt.Errorf("cuda pool %d: view %d: %w", p.info.ID, id, err)
	}
	return v, nil
}

// Preprocess queues every view's kernel on slot's frame, after its upload
// on the same stream, then records the slot's event again so a plugin that
// waits on it reads finished tensors. Call it after Upload and before any
// descriptor of the slot is sent.
func (p *Pool) Preprocess(slot int) error {
	if len(p.views) == 0 {
		return nil
	}
	return p.dev.Do(func() error {
		for _, v := range p.views {
			if err := v.pre.Launch(p.stream, p.bufs[slot], int(p.info.Pitch), int(p.info.Width), int(p.info.Height), v.bufs[slot]); err != nil {
				return fmt.Errorf("cuda pool %d: view %d: slot %d: %w", p.info.ID, v.info.ID, slot, err)
			}
		}
		return p.events[slot].Record(p.stream)
	})
}

// NewPool allocates spec.Slots device buffers, their events, pinned staging
// buffers and the header region, and exports one IPC handle per buffer and
// per event.
func NewPool(dev *Device, spec PoolSpec) (*Pool, error) {
	bpp := spec.Format.BytesPerPixel()
	if spec.Slots < 1 || spec.Slots > MaxSlots || bpp == 0 || spec.Width < 1 || spec.Height < 1 {
		return nil, fmt.Errorf("cuda pool %d: %w: %d slots of %s %dx%d", spec.ID, ErrRegion, spec.Slots, spec.Format, spec.Width, spec.Height)
	}
	pitch := Pitch(spec.Format, spec.Width)
	p := &Pool{dev: dev, info: RegionInfo{ID: spec.ID, Device: uint16(dev.Ordinal()), Format: spec.Format,
		Width: uint32(spec.Width), Height: uint32(spec.Height), Pitch: uint32(pitch)}}
	if err := p.info.validateGeometry(); err != nil {
		return nil, fmt.Errorf("cuda pool %d: %w", spec.ID, err)
	}
	hdr, err := shm.CreateRegion(spec.ID, fmt.Sprintf("lsie-cuda-%d", spec.ID), HeaderSpec(spec.Slots))
	if err != nil {
		return nil, fmt.Errorf("cuda pool %d: %w", spec.ID, err)
	}
	p.headers = hdr
	p.leases = shm.NewPool(hdr)
	size := p.info.BufferBytes()
	err = dev.Do(func() error {
		var err error
		if p.stream, err = cu.MakeStream(cu.NonBlocking); err != nil {
			return fmt.Errorf("create upload stream: %w", err)
		}
		for i := range spec.Slots {
			buf, err := cu.MemAlloc(int64(size))
			if err != nil {
				return fmt.Errorf("slot %d: allocate %d device bytes: %w", i, size, err)
			}
			p.bufs = append(p.bufs, buf)
			ev, err := cu.MakeEvent(IPCEventFlags)
			if err != nil {
				return fmt.Errorf("slot %d: create event: %w", i, err)
			}
			p.events = append(p.events, ev)
			st, err := HostAlloc(size)
			if err != nil {
				return fmt.Errorf("slot %d: pinned staging buffer: %w", i, err)
			}
			p.staging = append(p.staging, st)
			mh, err := ExportMem(buf)
			if err != nil {
				return fmt.Errorf("slot %d: %w", i, err)
			}
			eh, err := ExportEvent(ev)
			if err != nil {
				return fmt.Errorf("slot %d: %w", i, err)
			}
			p.info.Mem = append(p.info.Mem, mh)
			p.info.Events = append(p.info.Events, eh)
		}
		return nil
	})
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("cuda pool %d: %w", spec.ID, err)
	}
	return p, nil
}

// validateGeometry is Validate without the handle counts, for a pool that
// has not exported them yet.
func (r *RegionInfo) validateGeometry() error {
	g := *r
	g.Mem, g.Events = make([]MemHandle, 1), make([]EventHandle, 1)
	return g.Validate()
}

// Info returns what a plugin needs to open the region; encode it with Append
// and send it with HeaderFd attached.
func (p *Pool) Info() *RegionInfo { return &p.info }

// HeaderFd returns the header region's memfd, to send with the region.
func (p *Pool) HeaderFd() int { return p.headers.Fd() }

// Leases returns the slot ownership: TryAcquire or Acquire a slot, fill it,
// Upload, Publish to the consumers, Release on their acks.
func (p *Pool) Leases() *shm.Pool { return p.leases }

// Device returns the pool's device.
func (p *Pool) Device() *Device { return p.dev }

// Stream returns the upload stream; host-side work on a frame (such as
// preprocessing) that goes on it before Upload returns is covered by the
// slot's event too.
func (p *Pool) Stream() cu.Stream { return p.stream }

// Buffer returns slot's device buffer (luma plane first for NV12).
func (p *Pool) Buffer(slot int) cu.DevicePtr { return p.bufs[slot] }

// Pitch returns the bytes per row of every buffer and staging buffer.
func (p *Pool) Pitch() int { return int(p.info.Pitch) }

// Staging returns slot's pinned host buffer (Pitch bytes per row) for the
// caller to fill before Upload. It first waits for the slot's previous copy,
// which is still reading the buffer if the slot was published to nobody.
func (p *Pool) Staging(slot int) ([]byte, error) {
	err := p.dev.Do(func() error { return p.events[slot].Synchronize() })
	if err != nil {
		return nil, fmt.Errorf("cuda pool %d: slot %d: wait for the previous upload: %w", p.info.ID, slot, err)
	}
	return p.staging[slot], nil
}

// Upload copies slot's staging buffer to its device buffer asynchronously,
// records the slot's event after the copy, publishes the header (seq, pts,
// generation) and returns the frame's descriptor for Publish and the
// data-plane send. The caller must own the slot.
func (p *Pool) Upload(slot int, stream uint32, seq uint64, pts int64) (shm.Descriptor, error) {
	p.headers.BeginWrite(slot)
	err := p.dev.Do(func() error {
		st := p.staging[slot]
		if err := cu.MemcpyHtoDAsync(p.bufs[slot], unsafe.Pointer(&st[0]), int64(len(st)), p.stream); err != nil {
			return fmt.Errorf("copy to device: %w", err)
		}
		if err := p.events[slot].Record(p.stream); err != nil {
			return fmt.Errorf("record event: %w", err)
		}
		return nil
	})
	if err != nil {
		// The header stays odd: a descriptor for this slot would read as torn.
		return shm.Descriptor{}, fmt.Errorf("cuda pool %d: upload slot %d: %w", p.info.ID, slot, err)
	}
	gen := p.headers.EndWrite(slot, stream, seq, pts, 0)
	return p.info.Descriptor(slot, stream, gen, seq, pts), nil
}

// CopyFrom is Upload for an NV12 frame already in device memory that this
// pool's context can read (GStreamer's nvcodec output in the same context):
// both planes are copied on the upload stream, pitch to pitch, and it waits
// for the copy, since the source goes back to its owner when the caller
// returns.
func (p *Pool) CopyFrom(slot int, y uintptr, yPitch int, uv uintptr, uvPitch int, stream uint32, seq uint64, pts int64) (shm.Descriptor, error) {
	w, h, pitch := int(p.info.Width), int(p.info.Height), int(p.info.Pitch)
	if p.info.Format != shm.FormatNV12 || yPitch < w || uvPitch < w+w&1 || y == 0 || uv == 0 {
		return shm.Descriptor{}, fmt.Errorf("cuda pool %d: copy of a %s %dx%d frame with pitches %d, %d into %s buffers",
			p.info.ID, shm.FormatNV12, w, h, yPitch, uvPitch, p.info.Format)
	}
	p.headers.BeginWrite(slot)
	err := p.dev.Do(func() error {
		buf := p.bufs[slot]
		if err := copyPlane(buf, pitch, y, yPitch, w, h, p.stream); err != nil {
			return err
		}
		if err := copyPlane(buf+cu.DevicePtr(pitch*h), pitch, uv, uvPitch, w+w&1, (h+1)/2, p.stream); err != nil {
			return err
		}
		if err := p.events[slot].Record(p.stream); err != nil {
			return fmt.Errorf("record event: %w", err)
		}
		return p.events[slot].Synchronize()
	})
	if err != nil {
		return shm.Descriptor{}, fmt.Errorf("cuda pool %d: copy into slot %d: %w", p.info.ID, slot, err)
	}
	gen := p.headers.EndWrite(slot, stream, seq, pts, 0)
	return p.info.Descriptor(slot, stream, gen, seq, pts), nil
}

// Record re-records slot's event on the upload stream, after work the host
// queued there following Upload (the descriptor is not sent yet).
func (p *Pool) Record(slot int) error {
	return p.dev.Do(func() error { return p.events[slot].Record(p.stream) })
}

// Close waits for the upload stream, then frees every buffer, event and
// staging buffer and closes the header region. Plugins that opened the
// buffers keep their mappings until they close them. Safe to call twice.
func (p *Pool) Close() error {
	p.once.Do(func() {
		var errs []error
		if p.leases != nil {
			errs = append(errs, p.leases.Close())
		}
		errs = append(errs, p.dev.Do(func() error {
			var errs []error
			if p.stream != (cu.Stream{}) {
				errs = append(errs, p.stream.Synchronize(), p.stream.Destroy())
			}
			for i := range p.events {
				errs = append(errs, cu.DestroyEvent(&p.events[i]))
			}
			for _, b := range p.bufs {
				errs = append(errs, cu.MemFree(b))
			}
			for _, s := range p.staging {
				errs = append(errs, FreeHost(s))
			}
			for _, v := range p.views {
				for _, b := range v.bufs {
					errs = append(errs, cu.MemFree(b))
				}
			}
			return errors.Join(errs...)
		}))
		for _, v := range p.views {
			errs = append(errs, v.pre.Close())
		}
		if p.headers != nil {
			errs = append(errs, p.headers.Close())
		}
		if err := errors.Join(errs...); err != nil {
			p.err = fmt.Errorf("close cuda pool %d: %w", p.info.ID, err)
		}
	})
	return p.err
}
