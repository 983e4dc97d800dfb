package shm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"
)

// MemoryKind says where a frame's bytes live.
type MemoryKind uint8

// Memory kinds; the values are on the wire.
const (
	MemoryHost MemoryKind = 0 // a slot of a sealed memfd region
	MemoryCUDA MemoryKind = 1 // a CUDA device buffer (build tag cuda, later)
)

// String returns the kind's lower-case name.
func (k MemoryKind) String() string {
	switch k {
	case MemoryHost:
		return "host"
	case MemoryCUDA:
		return "cuda"
	}
	return "MemoryKind(" + strconv.Itoa(int(k)) + ")"
}

func (k MemoryKind) valid() bool { return k == MemoryHost || k == MemoryCUDA }

// PixelFormat is the layout of one frame's pixels.
type PixelFormat uint8

// Pixel formats; the values are on the wire, and 0 is deliberately invalid so
// a zeroed descriptor never parses.
const (
	FormatRGB24 PixelFormat = 1 // packed R, G, B bytes
	FormatGray8 PixelFormat = 2 // one luma byte
	FormatRGBA  PixelFormat = 3 // packed R, G, B, A bytes
	// FormatNV12 is what decoders produce: a luma plane of Height rows,
	// then one plane of interleaved U, V bytes at half resolution in both
	// directions ((Height+1)/2 rows), both Stride bytes per row.
	FormatNV12 PixelFormat = 4
	// FormatRGBF32 is a model's input tensor: three planes R, G, B of
	// float32 (4 bytes per pixel), Height rows each, Stride bytes per row.
	// The host's GPU preprocessing makes it (video.rgbf32.cuda).
	FormatRGBF32 PixelFormat = 5
)

// String returns the format's name as used in topic names (video.rgb24).
func (f PixelFormat) String() string {
	switch f {
	case FormatRGB24:
		return "rgb24"
	case FormatGray8:
		return "gray8"
	case FormatRGBA:
		return "rgba"
	case FormatNV12:
		return "nv12"
	case FormatRGBF32:
		return "rgbf32"
	}
	return "PixelFormat(" + strconv.Itoa(int(f)) + ")"
}

// BytesPerPixel returns the size of one pixel of the first plane (luma for
// NV12), or 0 for an unknown format.
func (f PixelFormat) BytesPerPixel() int {
	switch f {
	case FormatRGB24:
		return 3
	case FormatGray8, FormatNV12:
		return 1
	case FormatRGBA, FormatRGBF32:
		return 4
	}
	return 0
}

// Rows returns how many Stride-byte rows a frame of height h occupies: h,
// plus the chroma plane's (h+1)/2 for NV12, times three planes for RGBF32.
func (f PixelFormat) Rows(h int) int {
	switch f {
	case FormatNV12:
		return h + (h+1)/2
	case FormatRGBF32:
		return 3 * h
	}
	return h
}

// DescriptorSize is the encoded size of a Descriptor.
const DescriptorSize = 64

// MaxFrameBytes bounds one frame (and one slot's data), so sizes computed from
// untrusted descriptors always fit an int; 1 GiB is far above an 8K RGBA frame.
const MaxFrameBytes = 1 << 30

// ErrDescriptor is wrapped by every error from Descriptor.Parse.
var ErrDescriptor = errors.New("shm: bad descriptor")

// Descriptor is one frame handed to a plugin; it encodes to a fixed 64-byte
// little-endian record. Geometry travels here and is never read from the slot.
type Descriptor struct {
	Stream     uint32 // host's handle for the stream
	Region     uint32 // region id, unique within a host process
	Slot       uint32
	Memory     MemoryKind
	Format     PixelFormat
	Device     uint16 // CUDA device ordinal; 0 for host memory
	Width      uint32
	Height     uint32
	Stride     uint32
	Generation uint64 // the slot's (even) generation when written
	Seq        uint64 // per-stream frame sequence number
	PTS        int64  // media time, ns
	SentNanos  int64  // CLOCK_MONOTONIC ns when the host sent it (one-way latency)
}

// Wire layout. Bytes 28..31 are reserved and must be zero, so a later
// version can use them and Put(Parse(b)) reproduces b exactly.
const (
	offStream     = 0
	offRegion     = 4
	offSlot       = 8
	offMemory     = 12
	offFormat     = 13
	offDevice     = 14
	offWidth      = 16
	offHeight     = 20
	offStride     = 24
	offReserved   = 28
	offGeneration = 32
	offSeq        = 40
	offPTS        = 48
	offSentNanos  = 56
)

// Put encodes d into b[:DescriptorSize]; it panics if b is shorter.
func (d *Descriptor) Put(b []byte) {
	b = b[:DescriptorSize]
	le := binary.LittleEndian
	le.PutUint32(b[offStream:], d.Stream)
	le.PutUint32(b[offRegion:], d.Region)
	le.PutUint32(b[offSlot:], d.Slot)
	b[offMemory] = byte(d.Memory)
	b[offFormat] = byte(d.Format)
	le.PutUint16(b[offDevice:], d.Device)
	le.PutUint32(b[offWidth:], d.Width)
	le.PutUint32(b[offHeight:], d.Height)
	le.PutUint32(b[offStride:], d.Stride)
	le.PutUint32(b[offReserved:], 0)
	le.PutUint64(b[offGeneration:], d.Generation)
	le.PutUint64(b[offSeq:], d.Seq)
	le.PutUint64(b[offPTS:], uint64(d.PTS))
	le.PutUint64(b[offSentNanos:], uint64(d.SentNanos))
}

// Parse decodes and validates one record; on error d is left unchanged and the
// error (wrapping ErrDescriptor) names the offending field.
func (d *Descriptor) Parse(b []byte) error {
	if len(b) != DescriptorSize {
		return fmt.Errorf("%w: length %d, want %d", ErrDescriptor, len(b), DescriptorSize)
	}
	le := binary.LittleEndian
	v := Descriptor{
		Stream:     le.Uint32(b[offStream:]),
		Region:     le.Uint32(b[offRegion:]),
		Slot:       le.Uint32(b[offSlot:]),
		Memory:     MemoryKind(b[offMemory]),
		Format:     PixelFormat(b[offFormat]),
		Device:     le.Uint16(b[offDevice:]),
		Width:      le.Uint32(b[offWidth:]),
		Height:     le.Uint32(b[offHeight:]),
		Stride:     le.Uint32(b[offStride:]),
		Generation: le.Uint64(b[offGeneration:]),
		Seq:        le.Uint64(b[offSeq:]),
		PTS:        int64(le.Uint64(b[offPTS:])),
		SentNanos:  int64(le.Uint64(b[offSentNanos:])),
	}
	if r := le.Uint32(b[offReserved:]); r != 0 {
		return fmt.Errorf("%w: reserved bytes %#x, want 0", ErrDescriptor, r)
	}
	if err := v.validate(); err != nil {
		return err
	}
	*d = v
	return nil
}

func (d *Descriptor) validate() error {
	if !d.Memory.valid() {
		return fmt.Errorf("%w: unknown memory kind %d", ErrDescriptor, d.Memory)
	}
	if d.Memory == MemoryHost && d.Device != 0 {
		return fmt.Errorf("%w: device %d with host memory", ErrDescriptor, d.Device)
	}
	bpp := d.Format.BytesPerPixel()
	if bpp == 0 {
		return fmt.Errorf("%w: unknown format %d", ErrDescriptor, d.Format)
	}
	if d.Width == 0 {
		return fmt.Errorf("%w: width is 0", ErrDescriptor)
	}
	if d.Height == 0 {
		return fmt.Errorf("%w: height is 0", ErrDescriptor)
	}
	// uint64 throughout: every operand is at most 32 bits, so no product wraps.
	if row := uint64(d.Width) * uint64(bpp); uint64(d.Stride) < row {
		return fmt.Errorf("%w: stride %d < width %d * %d bytes per pixel", ErrDescriptor, d.Stride, d.Width, bpp)
	}
	if d.Generation&1 != 0 {
		return fmt.Errorf("%w: odd generation %d", ErrDescriptor, d.Generation)
	}
	if size := d.frameSize(); size > MaxFrameBytes {
		return fmt.Errorf("%w: frame size stride %d * rows %d = %d exceeds %d", ErrDescriptor, d.Stride, d.Format.Rows(int(d.Height)), size, MaxFrameBytes)
	}
	return nil
}

// FrameBytes returns the frame's size in memory, Stride times its rows.
func (d *Descriptor) FrameBytes() int { return int(d.frameSize()) }

// frameSize is FrameBytes without the int conversion, for checks on
// descriptors not yet validated (no product of 32-bit operands wraps).
func (d *Descriptor) frameSize() uint64 {
	return uint64(d.Stride) * uint64(d.Format.Rows(int(d.Height)))
}

// MonotonicNanos returns CLOCK_MONOTONIC in nanoseconds; unlike time.Now's
// monotonic reading it is system-wide, so host and plugin stamps compare.
func MonotonicNanos() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		// CLOCK_MONOTONIC cannot fail on Linux; a broken clock must not pass silently.
		panic("shm: clock_gettime(CLOCK_MONOTONIC): " + err.Error())
	}
	return ts.Nano()
}
