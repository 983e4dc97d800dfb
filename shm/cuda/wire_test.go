package cuda

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/lsie-mlf/lsie/shm"
)

func testRegion(slots int) RegionInfo {
	r := RegionInfo{ID: 7, Device: 1, Format: shm.FormatNV12, Width: 1920, Height: 1080, Pitch: 2048,
		Mem: make([]MemHandle, slots), Events: make([]EventHandle, slots)}
	for i := range slots {
		for j := range HandleSize {
			r.Mem[i][j] = byte(i + j)
			r.Events[i][j] = byte(i*3 + j + 1)
		}
	}
	return r
}

func TestRegionRoundTrip(t *testing.T) {
	r := testRegion(4)
	b := r.Append(nil)
	if len(b) != r.Size() || len(b) != RegionHeaderSize+4*128 {
		t.Fatalf("encoded %d bytes, Size() %d", len(b), r.Size())
	}
	got, err := ParseRegion(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Append(nil), b) || got.ID != 7 || got.Device != 1 || got.Slots() != 4 {
		t.Fatalf("round trip: %+v", got)
	}
	if n := got.BufferBytes(); n != 2048*1620 {
		t.Fatalf("BufferBytes = %d, want %d", n, 2048*1620)
	}
	// A maximal region still fits one data-plane packet (64 KiB).
	if big := testRegion(MaxSlots); big.Size() > 64<<10 {
		t.Fatalf("MaxSlots region is %d bytes", big.Size())
	}
}

func TestParseRegionErrors(t *testing.T) {
	good := testRegion(2)
	mutate := func(f func(r *RegionInfo)) []byte {
		r := testRegion(2)
		f(&r)
		return r.Append(nil)
	}
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"short", []byte{MsgRegion, 4}, "want at least 24 bytes of type 0x6, got 2 bytes"},
		{"wrong type", append([]byte{0x01}, good.Append(nil)[1:]...), "of type 0x6"},
		{"truncated handles", good.Append(nil)[:good.Size()-1], "279 bytes for 2 slots, want 280"},
		{"no slots", mutate(func(r *RegionInfo) { r.Mem, r.Events = nil, nil }), "0 slots, want 1..256"},
		{"bad format", mutate(func(r *RegionInfo) { r.Format = 9 }), "unknown format 9"},
		{"small pitch", mutate(func(r *RegionInfo) { r.Pitch = 1000 }), "pitch 1000 < width 1920"},
		{"zero height", mutate(func(r *RegionInfo) { r.Height = 0 }), "size 1920x0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRegion(tc.b)
			if !errors.Is(err, ErrRegion) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrRegion with %q", err, tc.want)
			}
		})
	}
	r := testRegion(2)
	r.Events = r.Events[:1]
	if err := r.Validate(); err == nil || !strings.Contains(err.Error(), "1 event handles for 2 buffers") {
		t.Fatalf("Validate = %v", err)
	}
}

func TestRegionCheck(t *testing.T) {
	r := testRegion(2)
	ok := shm.Descriptor{Stream: 1, Region: 7, Slot: 1, Memory: shm.MemoryCUDA, Format: shm.FormatNV12, Device: 1,
		Width: 1920, Height: 1080, Stride: 2048, Generation: 2}
	if err := r.Check(&ok); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		f    func(d *shm.Descriptor)
		want string
	}{
		{"host memory", func(d *shm.Descriptor) { d.Memory = shm.MemoryHost }, "memory host, region is cuda memory"},
		{"other region", func(d *shm.Descriptor) { d.Region = 8 }, "descriptor region 8, cuda region 7"},
		{"slot out of range", func(d *shm.Descriptor) { d.Slot = 2 }, "slot 2, region has 2"},
		{"other device", func(d *shm.Descriptor) { d.Device = 0 }, "device 0, region is on device 1"},
		{"other stride", func(d *shm.Descriptor) { d.Stride = 1920 }, "frame nv12 1920x1080 stride 1920, region buffers are nv12 1920x1080 pitch 2048"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := ok
			tc.f(&d)
			err := r.Check(&d)
			if !errors.Is(err, shm.ErrGeometry) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrGeometry with %q", err, tc.want)
			}
		})
	}
}

// The header descriptor must pass shm's own validation and checks, so the
// seqlock of a CUDA slot is read by the same code as a host slot's.
func TestHeaderDescriptorUsesTheSeqlock(t *testing.T) {
	spec := HeaderSpec(2)
	reg, err := shm.CreateRegion(3, "cuda-headers", spec)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	reg.BeginWrite(1)
	gen := reg.EndWrite(1, 5, 9, 100, 0)
	d := shm.Descriptor{Stream: 5, Region: 3, Slot: 1, Memory: shm.MemoryCUDA, Format: shm.FormatNV12, Device: 2,
		Width: 1920, Height: 1080, Stride: 1920, Generation: gen, Seq: 9, PTS: 100}
	h := HeaderDescriptor(&d)
	b := make([]byte, shm.DescriptorSize)
	h.Put(b)
	var back shm.Descriptor
	if err := back.Parse(b); err != nil {
		t.Fatalf("header descriptor does not parse: %v", err)
	}
	m, err := shm.MapRegion(reg.Fd(), 3, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.Frame(&h); err != nil {
		t.Fatalf("Frame: %v", err)
	}
	reg.BeginWrite(1)
	if err := m.Check(&h); !errors.Is(err, shm.ErrStale) {
		t.Fatalf("Check after rewrite = %v, want ErrStale", err)
	}
}
