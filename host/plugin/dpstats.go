package plugin

import "sync/atomic"

// DataPlaneStats counts what crossed one plugin process's data-plane
// socket, both ways: records, descriptors, audio and messages, never
// frame pixels, which stay in shared memory. The largest packet in each
// direction is what shows it: a frame's bytes on the wire would make it
// frame-sized.
type DataPlaneStats struct {
	SentPackets, SentBytes, MaxSent             int64 // host → plugin
	ReceivedPackets, ReceivedBytes, MaxReceived int64 // plugin → host
}

// dataPlaneCounters is DataPlaneStats kept with atomics: the writer
// goroutine, direct senders and the reader count without a lock.
type dataPlaneCounters struct {
	sentPackets, sentBytes, maxSent     atomic.Int64
	recvPackets, recvBytes, maxReceived atomic.Int64
}

func (c *dataPlaneCounters) sent(n int) {
	c.sentPackets.Add(1)
	c.sentBytes.Add(int64(n))
	storeMax(&c.maxSent, int64(n))
}

func (c *dataPlaneCounters) received(n int) {
	c.recvPackets.Add(1)
	c.recvBytes.Add(int64(n))
	storeMax(&c.maxReceived, int64(n))
}

func storeMax(m *atomic.Int64, v int64) {
	for {
		old := m.Load()
		if v <= old || m.CompareAndSwap(old, v) {
			return
		}
	}
}

func (c *dataPlaneCounters) snapshot() DataPlaneStats {
	return DataPlaneStats{
		SentPackets: c.sentPackets.Load(), SentBytes: c.sentBytes.Load(), MaxSent: c.maxSent.Load(),
		ReceivedPackets: c.recvPackets.Load(), ReceivedBytes: c.recvBytes.Load(), MaxReceived: c.maxReceived.Load(),
	}
}

// DataPlane returns what crossed this process's data-plane socket so far.
func (p *Process) DataPlane() DataPlaneStats { return p.out.stats.snapshot() }
