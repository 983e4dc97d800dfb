package cuda

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/lsie-mlf/lsie/shm"
)

// MsgRegion is the data-plane message type that announces a CUDA region; the
// fd of its header region rides along (SCM_RIGHTS). sdk/proto/dataplane
// lists it as MsgCUDARegion (a test keeps the two equal).
const MsgRegion byte = 0x06

// HandleSize is CU_IPC_HANDLE_SIZE, the size of one memory or event handle.
const HandleSize = 64

// MemHandle is an exported CUipcMemHandle: opening it in another process
// maps the same device buffer.
type MemHandle [HandleSize]byte

// EventHandle is an exported CUipcEventHandle of an interprocess event.
type EventHandle [HandleSize]byte

// MaxSlots bounds a CUDA region so its announcement (two handles per slot)
// fits one 64 KiB data-plane packet with room to spare.
const MaxSlots = 256

// RegionHeaderSize is the fixed part of a MsgRegion packet; each slot adds
// one MemHandle and one EventHandle.
const RegionHeaderSize = 24

// ErrRegion is wrapped by every error from ParseRegion and RegionInfo.Validate.
var ErrRegion = errors.New("cuda: bad region")

// RegionInfo is what a plugin needs to open a CUDA region: the geometry every
// slot's buffer has, and one memory and one event handle per slot.
type RegionInfo struct {
	ID     uint32 // region id; descriptors carry it, as for host regions
	Device uint16 // CUDA device ordinal of the buffers
	Format shm.PixelFormat
	Width  uint32
	Height uint32
	Pitch  uint32 // bytes per row in device memory
	Mem    []MemHandle
	Events []EventHandle
}

// Slots returns the number of slots (buffers) in the region.
func (r *RegionInfo) Slots() int { return len(r.Mem) }

// BufferBytes returns one slot's device buffer size, Pitch times its rows.
func (r *RegionInfo) BufferBytes() int {
	return int(r.Pitch) * r.Format.Rows(int(r.Height))
}

// pitchAlign keeps every row 256-byte aligned, what cuMemAllocPitch picks on
// current GPUs, so kernels read whole cache lines.
const pitchAlign = 256

// Pitch returns the bytes per row of a device buffer of width pixels.
func Pitch(f shm.PixelFormat, width int) int {
	return (width*f.BytesPerPixel() + pitchAlign - 1) &^ (pitchAlign - 1)
}

// HeaderSpec returns the geometry of the host-memory region that holds the
// slot headers: slots carry no payload there, the pixels are on the GPU.
func HeaderSpec(slots int) shm.RegionSpec {
	return shm.RegionSpec{Slots: slots, FrameBytes: 64}
}

// Validate checks the geometry and that there is one event per buffer.
func (r *RegionInfo) Validate() error {
	n := len(r.Mem)
	switch {
	case n < 1 || n > MaxSlots:
		return fmt.Errorf("%w: %d slots, want 1..%d", ErrRegion, n, MaxSlots)
	case len(r.Events) != n:
		return fmt.Errorf("%w: %d event handles for %d buffers", ErrRegion, len(r.Events), n)
	case r.Format.BytesPerPixel() == 0:
		return fmt.Errorf("%w: unknown format %d", ErrRegion, r.Format)
	case r.Width == 0 || r.Height == 0:
		return fmt.Errorf("%w: size %dx%d", ErrRegion, r.Width, r.Height)
	case uint64(r.Pitch) < uint64(r.Width)*uint64(r.Format.BytesPerPixel()):
		return fmt.Errorf("%w: pitch %d < width %d * %d bytes per pixel", ErrRegion, r.Pitch, r.Width, r.Format.BytesPerPixel())
	case uint64(r.Pitch)*uint64(r.Format.Rows(int(r.Height))) > shm.MaxFrameBytes:
		return fmt.Errorf("%w: buffer of pitch %d * %d rows exceeds %d bytes", ErrRegion, r.Pitch, r.Format.Rows(int(r.Height)), shm.MaxFrameBytes)
	}
	return nil
}

// Size returns the encoded size of r's MsgRegion packet.
func (r *RegionInfo) Size() int { return RegionHeaderSize + len(r.Mem)*2*HandleSize }

// Append encodes r as a MsgRegion packet appended to b.
func (r *RegionInfo) Append(b []byte) []byte {
	le := binary.LittleEndian
	b = append(b, MsgRegion, byte(r.Format))
	b = le.AppendUint16(b, r.Device)
	b = le.AppendUint32(b, r.ID)
	b = le.AppendUint32(b, uint32(len(r.Mem)))
	b = le.AppendUint32(b, r.Width)
	b = le.AppendUint32(b, r.Height)
	b = le.AppendUint32(b, r.Pitch)
	for i := range r.Mem {
		b = append(b, r.Mem[i][:]...)
	}
	for i := range r.Events {
		b = append(b, r.Events[i][:]...)
	}
	return b
}

// ParseRegion decodes and validates a MsgRegion packet.
func ParseRegion(b []byte) (RegionInfo, error) {
	if len(b) < RegionHeaderSize || b[0] != MsgRegion {
		return RegionInfo{}, fmt.Errorf("%w: want at least %d bytes of type %#x, got %d bytes", ErrRegion, RegionHeaderSize, MsgRegion, len(b))
	}
	le := binary.LittleEndian
	n := le.Uint32(b[8:])
	if n < 1 || n > MaxSlots {
		return RegionInfo{}, fmt.Errorf("%w: %d slots, want 1..%d", ErrRegion, n, MaxSlots)
	}
	if want := RegionHeaderSize + int(n)*2*HandleSize; len(b) != want {
		return RegionInfo{}, fmt.Errorf("%w: %d bytes for %d slots, want %d", ErrRegion, len(b), n, want)
	}
	r := RegionInfo{
		Format: shm.PixelFormat(b[1]),
		Device: le.Uint16(b[2:]),
		ID:     le.Uint32(b[4:]),
		Width:  le.Uint32(b[12:]),
		Height: le.Uint32(b[16:]),
		Pitch:  le.Uint32(b[20:]),
		Mem:    make([]MemHandle, n),
		Events: make([]EventHandle, n),
	}
	p := b[RegionHeaderSize:]
	for i := range r.Mem {
		copy(r.Mem[i][:], p[i*HandleSize:])
	}
	p = p[int(n)*HandleSize:]
	for i := range r.Events {
		copy(r.Events[i][:], p[i*HandleSize:])
	}
	if err := r.Validate(); err != nil {
		return RegionInfo{}, err
	}
	return r, nil
}

// TensorView returns the region of a view of r's frames that holds spec's
// model inputs: its own id and buffers (mem, one per slot), r's device, and
// r's slot events, which the host records after the preprocessing too. The
// header region is r's: a view's frame is stale exactly when its frame is.
func (r *RegionInfo) TensorView(id uint32, spec PreprocessSpec, mem []MemHandle) RegionInfo {
	return RegionInfo{ID: id, Device: r.Device, Format: shm.FormatRGBF32, Width: uint32(spec.Width), Height: uint32(spec.Height),
		Pitch: uint32(4 * spec.Width), Mem: mem, Events: r.Events}
}

// Descriptor returns the descriptor of a frame written to slot: the
// region's geometry, the device, and the slot header's generation.
func (r *RegionInfo) Descriptor(slot int, stream uint32, gen, seq uint64, pts int64) shm.Descriptor {
	return shm.Descriptor{Stream: stream, Region: r.ID, Slot: uint32(slot), Memory: shm.MemoryCUDA,
		Format: r.Format, Device: r.Device, Width: r.Width, Height: r.Height,
		Stride: r.Pitch, Generation: gen, Seq: seq, PTS: pts}
}

// Check reports whether descriptor d names a slot of this region with its
// geometry; a plugin checks every descriptor before it touches the buffer,
// since the device pointer arithmetic trusts these numbers.
func (r *RegionInfo) Check(d *shm.Descriptor) error {
	switch {
	case d.Memory != shm.MemoryCUDA:
		return fmt.Errorf("%w: memory %s, region is cuda memory", shm.ErrGeometry, d.Memory)
	case d.Region != r.ID:
		return fmt.Errorf("%w: descriptor region %d, cuda region %d", shm.ErrGeometry, d.Region, r.ID)
	case uint64(d.Slot) >= uint64(len(r.Mem)):
		return fmt.Errorf("%w: slot %d, region has %d", shm.ErrGeometry, d.Slot, len(r.Mem))
	case d.Device != r.Device:
		return fmt.Errorf("%w: device %d, region is on device %d", shm.ErrGeometry, d.Device, r.Device)
	case d.Format != r.Format || d.Width != r.Width || d.Height != r.Height || d.Stride != r.Pitch:
		return fmt.Errorf("%w: frame %s %dx%d stride %d, region buffers are %s %dx%d pitch %d", shm.ErrGeometry,
			d.Format, d.Width, d.Height, d.Stride, r.Format, r.Width, r.Height, r.Pitch)
	}
	return nil
}

// HeaderDescriptor returns the descriptor of d's slot in the header region:
// shm.Mapping checks host-memory descriptors only, and the header slot holds
// no pixels, so this one names a 1-byte frame with d's generation. Frame and
// Check on it give the seqlock verdict for the device buffer.
func HeaderDescriptor(d *shm.Descriptor) shm.Descriptor {
	h := *d
	h.Memory, h.Device = shm.MemoryHost, 0
	h.Format, h.Width, h.Height, h.Stride = shm.FormatGray8, 1, 1, 1
	return h
}
