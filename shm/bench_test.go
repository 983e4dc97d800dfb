package shm

import (
	"slices"
	"testing"
	"time"
)

// BenchmarkSeqpacketRoundTrip is the data plane's raw floor: a 64-byte
// descriptor out and a 16-byte ack back over a socketpair, between two
// goroutines. It reports p50 and p99 round-trip latency as well as the mean.
func BenchmarkSeqpacketRoundTrip(b *testing.B) {
	host, plugin := testPair(b)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, DescriptorSize)
		ack := make([]byte, 16)
		for {
			if _, _, err := RecvFDs(plugin, buf); err != nil {
				return // io.EOF once the benchmark closes the host end
			}
			if err := SendFDs(plugin, ack); err != nil {
				return
			}
		}
	}()
	msg := make([]byte, DescriptorSize)
	buf := make([]byte, 16)
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if err := SendFDs(host, msg); err != nil {
			b.Fatal(err)
		}
		if n, _, err := RecvFDs(host, buf); err != nil || n != 16 {
			b.Fatalf("ack: %d bytes, %v", n, err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	host.Close()
	<-done
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkRegionWrite1080p is the host's cost to put one 1080p RGB frame
// into a slot.
func BenchmarkRegionWrite1080p(b *testing.B) {
	const size = 1920 * 1080 * 3
	r := newTestRegion(b, 1, RegionSpec{Slots: 2, FrameBytes: size})
	src := make([]byte, size)
	for i := range src {
		src[i] = byte(i)
	}
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		slot := i & 1
		copy(r.BeginWrite(slot), src)
		r.EndWrite(slot, 1, uint64(i), 0, size)
	}
}

// BenchmarkFrameCheck is the plugin's per-frame overhead for validating a
// descriptor and re-checking the generation.
func BenchmarkFrameCheck(b *testing.B) {
	r := newTestRegion(b, 1, RegionSpec{Slots: 1, FrameBytes: 1920 * 1080 * 3})
	m := newTestMapping(b, r)
	r.BeginWrite(0)
	gen := r.EndWrite(0, 1, 1, 0, 0)
	d := Descriptor{Region: 1, Format: FormatRGB24, Width: 1920, Height: 1080, Stride: 1920 * 3, Generation: gen}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Frame(&d); err != nil {
			b.Fatal(err)
		}
		if err := m.Check(&d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPoolCycle is the bookkeeping for one frame to two consumers:
// acquire, publish, two releases.
func BenchmarkPoolCycle(b *testing.B) {
	r := newTestRegion(b, 1, RegionSpec{Slots: PoolSlots([]int{1, 1}), FrameBytes: 64})
	p := NewPool(r)
	consumers := []ConsumerID{1, 2}
	deadline := time.Now().Add(time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		s, ok := p.TryAcquire()
		if !ok {
			b.Fatal("exhausted")
		}
		r.BeginWrite(s)
		gen := r.EndWrite(s, 1, 0, 0, 0)
		p.Publish(s, gen, consumers, deadline)
		for _, c := range consumers {
			if err := p.Release(s, gen, c); err != nil {
				b.Fatal(err)
			}
		}
	}
}
