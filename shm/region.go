package shm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// SlotHeaderSize is the size of the header at the start of every slot.
const SlotHeaderSize = 64

// MaxSlots bounds RegionSpec.Slots; descriptors carry the slot as uint32, and
// no pool needs more than a few dozen.
const MaxSlots = 1 << 16

// Slot header layout. The generation is read and written atomically in native
// byte order (host and plugin share one machine); the rest is little-endian.
const (
	hdrGeneration = 0
	hdrSeq        = 8
	hdrPTS        = 16
	hdrStream     = 24
	hdrSize       = 28
)

// Sentinel errors that callers test with errors.Is.
var (
	// ErrStale means the slot was rewritten since the descriptor was made.
	ErrStale = errors.New("shm: stale frame")
	// ErrTorn means the slot is being written right now.
	ErrTorn = errors.New("shm: torn frame")
	// ErrGeometry means a descriptor or fd does not fit the region.
	ErrGeometry = errors.New("shm: geometry mismatch")
	// ErrClosed means the region, mapping or pool was closed.
	ErrClosed = errors.New("shm: closed")
)

// RegionSpec is the geometry of a region, agreed by host and plugin.
type RegionSpec struct {
	Slots      int // number of frame slots
	FrameBytes int // data capacity of one slot
}

// slotStride keeps every slot header 64-byte aligned, which keeps the atomic
// generation aligned and gives each header its own cache line.
func (s RegionSpec) slotStride() int {
	return (SlotHeaderSize + s.FrameBytes + 63) &^ 63
}

// Size returns the region's size in bytes (page-aligned), or 0 if the spec is
// invalid.
func (s RegionSpec) Size() int {
	if s.Validate() != nil {
		return 0
	}
	page := unix.Getpagesize()
	n := s.Slots * s.slotStride()
	return (n + page - 1) / page * page
}

// Validate checks that the spec describes a region this package can map.
func (s RegionSpec) Validate() error {
	if s.Slots < 1 || s.Slots > MaxSlots {
		return fmt.Errorf("%w: slots %d, want 1..%d", ErrGeometry, s.Slots, MaxSlots)
	}
	if s.FrameBytes < 1 || s.FrameBytes > MaxFrameBytes {
		return fmt.Errorf("%w: frame bytes %d, want 1..%d", ErrGeometry, s.FrameBytes, MaxFrameBytes)
	}
	return nil
}

// Region is the host's writable view of a sealed memfd holding frame slots.
type Region struct {
	id   uint32
	spec RegionSpec
	fd   int
	mem  []byte
	once sync.Once
	err  error
}

// CreateRegion makes a sealed memfd region (never a file in /dev/shm): only
// this mapping can write it, and nobody can resize it, so a plugin can neither
// corrupt other streams nor SIGBUS the host by truncating it.
func CreateRegion(id uint32, name string, spec RegionSpec) (*Region, error) {
	r, err := CreateRegionUnsealed(id, name, spec)
	if err != nil {
		return nil, err
	}
	if err := r.Seal(); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// CreateRegionUnsealed is CreateRegion for a region another process must map
// writable first (a capture worker writes frames into the host's region):
// Seal it once that process has mapped it, before any plugin gets it.
func CreateRegionUnsealed(id uint32, name string, spec RegionSpec) (*Region, error) {
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("create region %q: %w", name, err)
	}
	size := spec.Size()
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("create region %q: memfd_create: %w", name, err)
	}
	fail := func(op string, err error) (*Region, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("create region %q: %s: %w", name, op, err)
	}
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		return fail("ftruncate", err)
	}
	mem, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fail("mmap", err)
	}
	return &Region{id: id, spec: spec, fd: fd, mem: mem}, nil
}

// Seal fixes the region's size and refuses any new writable mapping.
// FUTURE_WRITE must come after the writers' mmaps: it refuses new writable
// mappings (and write(2)) but leaves existing ones working.
func (r *Region) Seal() error {
	const seals = unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_FUTURE_WRITE | unix.F_SEAL_SEAL
	if _, err := unix.FcntlInt(uintptr(r.fd), unix.F_ADD_SEALS, seals); err != nil {
		return fmt.Errorf("region %d: add seals: %w", r.id, err)
	}
	return nil
}

// OpenRegion maps, writable, a region another process created and has not
// sealed yet (a capture worker's view of the host's region); Close unmaps
// it and closes fd, which it takes over.
func OpenRegion(fd int, id uint32, spec RegionSpec) (*Region, error) {
	if err := spec.Validate(); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("open region %d: %w", id, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Size != int64(spec.Size()) {
		unix.Close(fd)
		return nil, fmt.Errorf("open region %d: size %d, want %d (%v)", id, st.Size, spec.Size(), err)
	}
	mem, err := unix.Mmap(fd, 0, spec.Size(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("open region %d: mmap: %w", id, err)
	}
	return &Region{id: id, spec: spec, fd: fd, mem: mem}, nil
}

// ID returns the region id that descriptors carry.
func (r *Region) ID() uint32 { return r.id }

// Fd returns the memfd to send to plugins; it stays owned by the region.
func (r *Region) Fd() int { return r.fd }

// Spec returns the region's geometry.
func (r *Region) Spec() RegionSpec { return r.spec }

func (r *Region) slotOffset(slot int) int {
	if slot < 0 || slot >= r.spec.Slots {
		panic(fmt.Sprintf("shm: slot %d out of range [0,%d)", slot, r.spec.Slots))
	}
	return slot * r.spec.slotStride()
}

// BeginWrite marks the slot as being written (odd generation) and returns its
// data bytes, len FrameBytes. The caller must own the slot (Pool).
func (r *Region) BeginWrite(slot int) []byte {
	off := r.slotOffset(slot)
	g := genPtr(r.mem, off)
	// Already odd means an earlier write was abandoned; it stays torn.
	if v := atomic.LoadUint64(g); v&1 == 0 {
		atomic.StoreUint64(g, v+1)
	}
	data := off + SlotHeaderSize
	return r.mem[data : data+r.spec.FrameBytes : data+r.spec.FrameBytes]
}

// EndWrite records the frame's stream handle, seq, pts and payload size in the
// slot header, publishes the slot (even generation) and returns that generation.
func (r *Region) EndWrite(slot int, stream uint32, seq uint64, pts int64, size int) uint64 {
	off := r.slotOffset(slot)
	if size < 0 || size > r.spec.FrameBytes {
		panic(fmt.Sprintf("shm: EndWrite size %d out of range [0,%d]", size, r.spec.FrameBytes))
	}
	g := genPtr(r.mem, off)
	v := atomic.LoadUint64(g)
	if v&1 == 0 {
		panic(fmt.Sprintf("shm: EndWrite on slot %d without BeginWrite", slot))
	}
	h := r.mem[off : off+SlotHeaderSize]
	le := binary.LittleEndian
	le.PutUint64(h[hdrSeq:], seq)
	le.PutUint64(h[hdrPTS:], uint64(pts))
	le.PutUint32(h[hdrStream:], stream)
	le.PutUint32(h[hdrSize:], uint32(size))
	v++
	atomic.StoreUint64(g, v)
	return v
}

// Bytes returns the slot's data bytes, len FrameBytes, for the region's
// owner to read a frame no writer is at work on (one it holds leased, or
// one a capture process has written and given back).
func (r *Region) Bytes(slot int) []byte {
	data := r.slotOffset(slot) + SlotHeaderSize
	return r.mem[data : data+r.spec.FrameBytes : data+r.spec.FrameBytes]
}

// Generation returns the slot's current generation (odd while being written).
func (r *Region) Generation(slot int) uint64 {
	return atomic.LoadUint64(genPtr(r.mem, r.slotOffset(slot)))
}

// Close unmaps the region and closes the memfd; plugins that mapped it keep
// their mappings. It is safe to call twice.
func (r *Region) Close() error {
	r.once.Do(func() {
		err1 := unix.Munmap(r.mem)
		err2 := unix.Close(r.fd)
		r.mem, r.fd = nil, -1
		if err := errors.Join(err1, err2); err != nil {
			r.err = fmt.Errorf("close region %d: %w", r.id, err)
		}
	})
	return r.err
}

// genPtr points at a slot's generation; slots are 64-byte aligned within a
// page-aligned mapping, so the word is aligned for atomics.
func genPtr(mem []byte, off int) *uint64 {
	return (*uint64)(unsafe.Pointer(&mem[off+hdrGeneration]))
}
