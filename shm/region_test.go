package shm

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func newTestRegion(t testing.TB, id uint32, spec RegionSpec) *Region {
	t.Helper()
	r, err := CreateRegion(id, "lsie-test-"+strconv.Itoa(int(id)), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func newTestMapping(t testing.TB, r *Region) *Mapping {
	t.Helper()
	m, err := MapRegion(r.Fd(), r.ID(), r.Spec())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// writeFrame fills slot with a w*h gray frame of bytes fill and returns its
// descriptor, as the host's capture path would.
func writeFrame(r *Region, slot int, w, h uint32, fill byte, seq uint64) Descriptor {
	data := r.BeginWrite(slot)
	n := int(w * h)
	for i := range data[:n] {
		data[i] = fill
	}
	gen := r.EndWrite(slot, 1, seq, int64(seq)*1000, n)
	return Descriptor{
		Stream: 1, Region: r.ID(), Slot: uint32(slot), Memory: MemoryHost, Format: FormatGray8,
		Width: w, Height: h, Stride: w, Generation: gen, Seq: seq, PTS: int64(seq) * 1000,
	}
}

func TestRegionSpec(t *testing.T) {
	page := os.Getpagesize()
	s := RegionSpec{Slots: 3, FrameBytes: 100}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	// 64-byte header + 100 bytes rounds up to 192 per slot.
	if got := s.slotStride(); got != 192 {
		t.Fatalf("slot stride %d, want 192", got)
	}
	if got := s.Size(); got != page {
		t.Fatalf("Size %d, want one page (%d)", got, page)
	}
	big := RegionSpec{Slots: 4, FrameBytes: 1920 * 1080 * 3}
	if got, min := big.Size(), 4*(64+1920*1080*3); got < min || got%page != 0 {
		t.Fatalf("Size %d: want a multiple of %d, at least %d", got, page, min)
	}

	cases := []struct {
		name string
		spec RegionSpec
		want string
	}{
		{"zero slots", RegionSpec{0, 10}, "shm: geometry mismatch: slots 0, want 1..65536"},
		{"too many slots", RegionSpec{MaxSlots + 1, 10}, "shm: geometry mismatch: slots 65537, want 1..65536"},
		{"zero frame", RegionSpec{1, 0}, "shm: geometry mismatch: frame bytes 0, want 1..1073741824"},
		{"negative frame", RegionSpec{1, -5}, "shm: geometry mismatch: frame bytes -5, want 1..1073741824"},
		{"huge frame", RegionSpec{1, MaxFrameBytes + 1}, "shm: geometry mismatch: frame bytes 1073741825, want 1..1073741824"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.spec.Validate()
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Validate: got %v, want %q", err, tc.want)
			}
			if !errors.Is(err, ErrGeometry) {
				t.Fatalf("%v does not wrap ErrGeometry", err)
			}
			if tc.spec.Size() != 0 {
				t.Fatalf("Size of invalid spec = %d, want 0", tc.spec.Size())
			}
			if _, err := CreateRegion(1, "bad", tc.spec); !errors.Is(err, ErrGeometry) {
				t.Fatalf("CreateRegion: %v, want ErrGeometry", err)
			}
		})
	}
}

func devShm(t *testing.T) []string {
	t.Helper()
	ents, err := os.ReadDir("/dev/shm")
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestCreateRegionIsSealedMemfd(t *testing.T) {
	before := devShm(t)
	r := newTestRegion(t, 9, RegionSpec{Slots: 2, FrameBytes: 4096})
	if after := devShm(t); !slices.Equal(before, after) {
		t.Fatalf("/dev/shm changed: before %v, after %v", before, after)
	}
	link, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(r.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(link, "/memfd:lsie-test-9") {
		t.Fatalf("region fd links to %q, want a memfd", link)
	}
	seals, err := unix.FcntlInt(uintptr(r.Fd()), unix.F_GET_SEALS, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_FUTURE_WRITE | unix.F_SEAL_SEAL
	if seals != want {
		t.Fatalf("seals %#x, want %#x", seals, want)
	}
	flags, err := unix.FcntlInt(uintptr(r.Fd()), unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Fatalf("region fd is not close-on-exec (flags %#x, %v)", flags, err)
	}
	// Sealing leaves the host's own writable mapping working, but nothing else
	// can write: not the host through the fd either.
	d := writeFrame(r, 1, 64, 64, 0xab, 1)
	if d.Generation != 2 || r.Generation(1) != 2 {
		t.Fatalf("generation after one write: %d", r.Generation(1))
	}
	if _, err := unix.Pwrite(r.Fd(), []byte{1}, 0); err != unix.EPERM {
		t.Fatalf("pwrite on sealed region: %v, want EPERM", err)
	}
}

func TestReaderSeesGenerationChange(t *testing.T) {
	r := newTestRegion(t, 1, RegionSpec{Slots: 2, FrameBytes: 16 * 16})
	m := newTestMapping(t, r)

	d := writeFrame(r, 0, 16, 16, 0x11, 1)
	frame, err := m.Frame(&d)
	if err != nil {
		t.Fatal(err)
	}
	if len(frame) != 256 || cap(frame) != 256 || !bytes.Equal(frame, bytes.Repeat([]byte{0x11}, 256)) {
		t.Fatalf("frame len %d cap %d, first bytes %x", len(frame), cap(frame), frame[:8])
	}
	if err := m.Check(&d); err != nil {
		t.Fatalf("Check before rewrite: %v", err)
	}

	// The writer rewrites the slot while the reader holds the old descriptor.
	d2 := writeFrame(r, 0, 16, 16, 0x22, 2)
	if frame[0] != 0x22 {
		t.Fatalf("mapping does not alias the region: %x", frame[0])
	}
	if err := m.Check(&d); err != ErrStale {
		t.Fatalf("Check after rewrite: %v, want ErrStale", err)
	}
	if _, err := m.Frame(&d); err != ErrStale {
		t.Fatalf("Frame with old descriptor: %v, want ErrStale", err)
	}

	// A write in progress is torn for every reader.
	r.BeginWrite(0)
	if _, err := m.Frame(&d2); err != ErrTorn {
		t.Fatalf("Frame during write: %v, want ErrTorn", err)
	}
	if err := m.Check(&d2); err != ErrStale {
		t.Fatalf("Check during write: %v, want ErrStale", err)
	}
	// A second BeginWrite (after an abandoned write) keeps the slot torn.
	r.BeginWrite(0)
	if g := r.Generation(0); g != d2.Generation+1 {
		t.Fatalf("generation %d after two BeginWrite, want %d", g, d2.Generation+1)
	}
	if g := r.EndWrite(0, 1, 3, 0, 0); g != d2.Generation+2 {
		t.Fatalf("EndWrite returned %d, want %d", g, d2.Generation+2)
	}
}

func TestFrameGeometry(t *testing.T) {
	r := newTestRegion(t, 4, RegionSpec{Slots: 2, FrameBytes: 100})
	m := newTestMapping(t, r)
	good := writeFrame(r, 1, 10, 10, 1, 1)
	if _, err := m.Frame(&good); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		edit func(d *Descriptor)
		want string
	}{
		{"region", func(d *Descriptor) { d.Region = 5 }, "shm: geometry mismatch: descriptor region 5, mapping region 4"},
		{"slot", func(d *Descriptor) { d.Slot = 2 }, "shm: geometry mismatch: slot 2, region has 2"},
		{"huge slot", func(d *Descriptor) { d.Slot = ^uint32(0) }, "shm: geometry mismatch: slot 4294967295, region has 2"},
		{"memory", func(d *Descriptor) { d.Memory = MemoryCUDA }, "shm: geometry mismatch: memory cuda, region is host memory"},
		{"too big", func(d *Descriptor) { d.Stride = 11 }, "shm: geometry mismatch: frame 11*10 bytes exceeds slot size 100"},
		{"overflow", func(d *Descriptor) { d.Stride, d.Height = ^uint32(0), ^uint32(0) },
			"shm: geometry mismatch: frame 4294967295*4294967295 bytes exceeds slot size 100"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := good
			tc.edit(&d)
			for op, err := range map[string]error{"Frame": second(m.Frame(&d)), "Check": m.Check(&d)} {
				if err == nil || err.Error() != tc.want || !errors.Is(err, ErrGeometry) {
					t.Fatalf("%s: got %v, want %q", op, err, tc.want)
				}
			}
		})
	}
	t.Run("never written", func(t *testing.T) {
		d := good
		d.Slot, d.Generation = 0, 0
		if _, err := m.Frame(&d); err != ErrStale {
			t.Fatalf("Frame of unwritten slot: %v, want ErrStale", err)
		}
	})
}

func second[T any](_ T, err error) error { return err }

func TestMapRegionRejects(t *testing.T) {
	spec := RegionSpec{Slots: 2, FrameBytes: 8192}
	r := newTestRegion(t, 1, spec)

	_, err := MapRegion(r.Fd(), 1, RegionSpec{Slots: 3, FrameBytes: 8192})
	if !errors.Is(err, ErrGeometry) || !strings.Contains(err.Error(), "fd size 20480, spec size 28672") {
		t.Fatalf("wrong size: %v", err)
	}
	if _, err := MapRegion(r.Fd(), 1, RegionSpec{}); !errors.Is(err, ErrGeometry) {
		t.Fatalf("invalid spec: %v", err)
	}
	if _, err := MapRegion(-1, 1, spec); !errors.Is(err, unix.EBADF) {
		t.Fatalf("bad fd: %v", err)
	}

	// An unsealed memfd of the right size could be truncated under the
	// reader (SIGBUS), so it is refused.
	fd, err := unix.MemfdCreate("unsealed", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Ftruncate(fd, int64(spec.Size())); err != nil {
		t.Fatal(err)
	}
	_, err = MapRegion(fd, 1, spec)
	if !errors.Is(err, ErrGeometry) || !strings.Contains(err.Error(), "not sealed against shrinking") {
		t.Fatalf("unsealed memfd: %v", err)
	}
}

func TestMappingOutlivesFdAndRegion(t *testing.T) {
	r := newTestRegion(t, 2, RegionSpec{Slots: 1, FrameBytes: 64})
	d := writeFrame(r, 0, 8, 8, 0x5a, 1)
	fd, err := unix.Dup(r.Fd())
	if err != nil {
		t.Fatal(err)
	}
	m, err := MapRegion(fd, 2, r.Spec())
	unix.Close(fd)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Region.Close: %v", err)
	}
	frame, err := m.Frame(&d)
	if err != nil || frame[63] != 0x5a {
		t.Fatalf("Frame after host closed: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Mapping.Close: %v", err)
	}
	if _, err := m.Frame(&d); err != ErrClosed {
		t.Fatalf("Frame after Close: %v, want ErrClosed", err)
	}
}

func TestRegionMisusePanics(t *testing.T) {
	r := newTestRegion(t, 1, RegionSpec{Slots: 2, FrameBytes: 64})
	cases := []struct {
		name string
		fn   func()
	}{
		{"EndWrite without BeginWrite", func() { r.EndWrite(0, 1, 1, 0, 64) }},
		{"EndWrite size too big", func() { r.BeginWrite(1); r.EndWrite(1, 1, 1, 0, 65) }},
		{"BeginWrite out of range", func() { r.BeginWrite(2) }},
		{"Generation negative slot", func() { r.Generation(-1) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("did not panic")
				}
			}()
			tc.fn()
		})
	}
}
