package plugin

import (
	"context"
	"testing"

	"github.com/lsie-mlf/lsie/sdk/proto/dataplane"
	"github.com/lsie-mlf/lsie/shm"
)

// The data-plane counters count records, never pixels: a region and three
// 1080p frames cost one 16-byte region record and three 72-byte
// descriptors, however large the frames.
func TestDataPlaneCountsRecordsNotPixels(t *testing.T) {
	p := startVisual(t)
	const w, h = 1920, 1080
	r, err := shm.CreateRegion(3, "test", shm.RegionSpec{Slots: 2, FrameBytes: w * 3 * h})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := p.SendRegion(r); err != nil {
		t.Fatal(err)
	}
	results := make(collector, 4)
	if err := p.OpenStream(context.Background(), 1, "cam", nil, results.handle, nil); err != nil {
		t.Fatal(err)
	}
	var got int64
	for i := range 3 {
		buf := r.BeginWrite(i % 2)
		gen := r.EndWrite(i%2, 1, uint64(i), int64(i), len(buf))
		d := shm.Descriptor{Stream: 1, Region: 3, Slot: uint32(i % 2), Format: shm.FormatRGB24, Width: w, Height: h,
			Stride: w * 3, Generation: gen, Seq: uint64(i), PTS: int64(i)}
		if err := p.SendFrame(&d); err != nil {
			t.Fatal(err)
		}
		if res := results.next(t); res.GetError() != nil {
			t.Fatalf("frame %d: %v", i, res)
		}
		got++
	}
	dp := p.DataPlane()
	if dp.SentPackets != 4 || dp.SentBytes != dataplane.RegionSize+3*dataplane.FrameSize || dp.MaxSent != dataplane.FrameSize {
		t.Errorf("sent %+v, want a region record and 3 descriptors", dp)
	}
	if dp.ReceivedPackets != got || dp.MaxReceived > 1024 || dp.ReceivedBytes > 3*1024 {
		t.Errorf("received %+v, want %d small results", dp, got)
	}
}
