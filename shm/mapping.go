package shm

import (
	"fmt"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Mapping is a plugin's read-only view of a region received over SCM_RIGHTS.
// Frame and Check may be called concurrently; Close must not race with them.
type Mapping struct {
	id   uint32
	spec RegionSpec
	mem  []byte
	once sync.Once
	err  error
}

// MapRegion maps the region fd read-only after checking that its size matches
// spec and that it is sealed against shrinking (so reading it cannot SIGBUS).
// It does not take ownership of fd: the caller may close it right after, and
// the mapping stays valid.
func MapRegion(fd int, id uint32, spec RegionSpec) (*Mapping, error) {
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("map region %d: %w", id, err)
	}
	size := spec.Size()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("map region %d: fstat: %w", id, err)
	}
	if st.Size != int64(size) {
		return nil, fmt.Errorf("map region %d: %w: fd size %d, spec size %d", id, ErrGeometry, st.Size, size)
	}
	seals, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	if err != nil {
		return nil, fmt.Errorf("map region %d: get seals: %w", id, err)
	}
	if seals&unix.F_SEAL_SHRINK == 0 {
		return nil, fmt.Errorf("map region %d: %w: fd is not sealed against shrinking", id, ErrGeometry)
	}
	mem, err := unix.Mmap(fd, 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("map region %d: mmap: %w", id, err)
	}
	return &Mapping{id: id, spec: spec, mem: mem}, nil
}

// ID returns the region id this mapping accepts in descriptors.
func (m *Mapping) ID() uint32 { return m.id }

// Spec returns the region's geometry.
func (m *Mapping) Spec() RegionSpec { return m.spec }

// slot validates d against the region geometry and returns the slot's offset.
func (m *Mapping) slot(d *Descriptor) (int, error) {
	switch {
	case m.mem == nil:
		return 0, ErrClosed
	case d.Region != m.id:
		return 0, fmt.Errorf("%w: descriptor region %d, mapping region %d", ErrGeometry, d.Region, m.id)
	case uint64(d.Slot) >= uint64(m.spec.Slots):
		return 0, fmt.Errorf("%w: slot %d, region has %d", ErrGeometry, d.Slot, m.spec.Slots)
	case d.Memory != MemoryHost:
		return 0, fmt.Errorf("%w: memory %s, region is host memory", ErrGeometry, d.Memory)
	case d.frameSize() > uint64(m.spec.FrameBytes):
		return 0, fmt.Errorf("%w: frame %d*%d bytes exceeds slot size %d", ErrGeometry, d.Stride, d.Format.Rows(int(d.Height)), m.spec.FrameBytes)
	}
	return int(d.Slot) * m.spec.slotStride(), nil
}

// Frame returns the bytes of the frame d describes, aliasing the mapping. The
// caller reads them, then calls Check: the bytes are only known good if Check
// still finds the generation unchanged (seqlock). A slot never written
// (generation 0) counts as stale.
func (m *Mapping) Frame(d *Descriptor) ([]byte, error) {
	off, err := m.slot(d)
	if err != nil {
		return nil, err
	}
	g := atomic.LoadUint64(genPtr(m.mem, off))
	switch {
	case g&1 != 0:
		return nil, ErrTorn
	case g != d.Generation || g == 0:
		return nil, ErrStale
	}
	data := off + SlotHeaderSize
	end := data + d.FrameBytes()
	return m.mem[data:end:end], nil
}

// Check re-reads the slot's generation after the caller used the frame bytes;
// ErrStale means the slot moved on and what was read may be torn.
func (m *Mapping) Check(d *Descriptor) error {
	off, err := m.slot(d)
	if err != nil {
		return err
	}
	if atomic.LoadUint64(genPtr(m.mem, off)) != d.Generation {
		return ErrStale
	}
	return nil
}

// Close unmaps the region; frame slices from it must not be used afterwards.
// It is safe to call twice.
func (m *Mapping) Close() error {
	m.once.Do(func() {
		if err := unix.Munmap(m.mem); err != nil {
			m.err = fmt.Errorf("close mapping %d: %w", m.id, err)
		}
		m.mem = nil
	})
	return m.err
}
