package shm

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ConsumerID identifies one consumer (a plugin process, or a stream on it) in
// a Pool's leases.
type ConsumerID uint32

// ErrNoLease is wrapped by Release errors: unknown lease, double or stale ack.
var ErrNoLease = errors.New("shm: no such lease")

// PoolSlots returns how many slots a pool needs for consumers with the given
// in-flight windows: each window, plus one waiting "latest" frame per
// consumer, plus one slot being written. A negative window counts as 0.
func PoolSlots(windows []int) int {
	n := 1
	for _, w := range windows {
		n += max(w, 0) + 1
	}
	return n
}

// Lease is one consumer's claim on a published slot.
type Lease struct {
	Slot       int
	Generation uint64
	Consumer   ConsumerID
	Deadline   time.Time
}

// PoolStats is a snapshot of a pool; Slots = Free + Writing + Leased.
type PoolStats struct {
	Slots     int
	Free      int    // slots ready to acquire
	Leased    int    // published slots with at least one lease
	Writing   int    // slots acquired by the writer, not yet published
	Exhausted uint64 // TryAcquire calls that found no free slot (frames dropped)
}

type slotState uint8

const (
	slotFree slotState = iota
	slotWriting
	slotLeased
)

type lease struct {
	consumer ConsumerID
	deadline time.Time
}

type poolSlot struct {
	state  slotState
	gen    uint64
	leases []lease
}

// Pool tracks who owns each slot of a region, so a slot is rewritten only
// after every consumer handed it has released it (or was killed and
// reclaimed). It is safe for concurrent use.
type Pool struct {
	region *Region

	mu        sync.Mutex
	slots     []poolSlot
	free      []int         // stack of free slot indexes
	wake      chan struct{} // closed when a slot frees; nil while nobody waits
	exhausted uint64
	closed    bool
}

// NewPool returns a pool with every slot of r free. The pool does not own r.
func NewPool(r *Region) *Pool {
	n := r.Spec().Slots
	p := &Pool{region: r, slots: make([]poolSlot, n), free: make([]int, n)}
	for i := range p.free {
		// Reversed so slot 0 is handed out first; only tests care.
		p.free[i] = n - 1 - i
	}
	return p
}

func (p *Pool) pop() int {
	s := p.free[len(p.free)-1]
	p.free = p.free[:len(p.free)-1]
	p.slots[s].state = slotWriting
	return s
}

// push frees slot s and wakes blocked Acquire calls; p.mu must be held.
func (p *Pool) push(s int) {
	ps := &p.slots[s]
	ps.state = slotFree
	ps.gen = 0
	ps.leases = ps.leases[:0]
	p.free = append(p.free, s)
	if p.wake != nil {
		close(p.wake)
		p.wake = nil
	}
}

// TryAcquire takes a free slot for writing without blocking. When none is
// free it counts the miss in Exhausted: a live source drops that frame.
func (p *Pool) TryAcquire() (slot int, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return -1, false
	}
	if len(p.free) == 0 {
		p.exhausted++
		return -1, false
	}
	return p.pop(), true
}

// Acquire takes a free slot for writing, waiting for one (lossless mode). It
// fails when ctx ends or the pool is closed.
func (p *Pool) Acquire(ctx context.Context) (int, error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return -1, ErrClosed
		}
		if len(p.free) > 0 {
			s := p.pop()
			p.mu.Unlock()
			return s, nil
		}
		if p.wake == nil {
			p.wake = make(chan struct{})
		}
		wake := p.wake
		p.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return -1, ctx.Err()
		}
	}
}

// Publish hands a written slot (gen as returned by EndWrite) to consumers,
// each lease expiring at deadline. With no consumers the slot is free again.
// Misuse (slot not acquired, gen not the slot's, duplicate consumer) panics:
// it is a host bug that would otherwise let a slot be overwritten while read.
func (p *Pool) Publish(slot int, gen uint64, consumers []ConsumerID, deadline time.Time) {
	if cur := p.region.Generation(slot); gen != cur || gen&1 != 0 {
		panic(fmt.Sprintf("shm: Publish slot %d generation %d, slot is at %d", slot, gen, cur))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ps := &p.slots[slot]
	if ps.state != slotWriting {
		panic(fmt.Sprintf("shm: Publish slot %d that was not acquired", slot))
	}
	if len(consumers) == 0 {
		p.push(slot)
		return
	}
	for i, c := range consumers {
		for _, prev := range consumers[:i] {
			if prev == c {
				panic(fmt.Sprintf("shm: Publish slot %d to consumer %d twice", slot, c))
			}
		}
	}
	for _, c := range consumers {
		ps.leases = append(ps.leases, lease{consumer: c, deadline: deadline})
	}
	ps.state = slotLeased
	ps.gen = gen
}

// Release ends consumer c's lease on slot at generation gen; the slot is free
// once its last lease ends. A double or stale ack is an error (ErrNoLease).
func (p *Pool) Release(slot int, gen uint64, c ConsumerID) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if slot < 0 || slot >= len(p.slots) {
		return fmt.Errorf("%w: slot %d out of range [0,%d)", ErrNoLease, slot, len(p.slots))
	}
	ps := &p.slots[slot]
	if ps.state != slotLeased || ps.gen != gen {
		return fmt.Errorf("%w: consumer %d on slot %d generation %d", ErrNoLease, c, slot, gen)
	}
	for i, l := range ps.leases {
		if l.consumer == c {
			ps.leases = append(ps.leases[:i], ps.leases[i+1:]...)
			if len(ps.leases) == 0 {
				p.push(slot)
			}
			return nil
		}
	}
	return fmt.Errorf("%w: consumer %d on slot %d generation %d", ErrNoLease, c, slot, gen)
}

// Renew moves consumer c's lease on slot at generation gen to deadline: a
// frame kept for a restarted consumer is handed to it again (lossless mode)
// with a fresh lease. A lease that is not there is an error (ErrNoLease).
func (p *Pool) Renew(slot int, gen uint64, c ConsumerID, deadline time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if slot < 0 || slot >= len(p.slots) {
		return fmt.Errorf("%w: slot %d out of range [0,%d)", ErrNoLease, slot, len(p.slots))
	}
	ps := &p.slots[slot]
	if ps.state == slotLeased && ps.gen == gen {
		for i := range ps.leases {
			if ps.leases[i].consumer == c {
				ps.leases[i].deadline = deadline
				return nil
			}
		}
	}
	return fmt.Errorf("%w: consumer %d on slot %d generation %d", ErrNoLease, c, slot, gen)
}

// Abandon gives back a slot the writer acquired but did not publish.
func (p *Pool) Abandon(slot int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.slots[slot].state != slotWriting {
		panic(fmt.Sprintf("shm: Abandon slot %d that was not acquired", slot))
	}
	p.push(slot)
}

// Expired returns the leases whose deadline is before now, ordered by slot;
// the host kills their consumers, then calls Reclaim.
func (p *Pool) Expired(now time.Time) []Lease {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Lease
	for s := range p.slots {
		ps := &p.slots[s]
		for _, l := range ps.leases {
			if l.deadline.Before(now) {
				out = append(out, Lease{Slot: s, Generation: ps.gen, Consumer: l.consumer, Deadline: l.deadline})
			}
		}
	}
	return out
}

// Reclaim ends every lease held by c and returns how many there were. Call it
// only once c's process is dead: a live plugin may still be reading.
func (p *Pool) Reclaim(c ConsumerID) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for s := range p.slots {
		ps := &p.slots[s]
		for i, l := range ps.leases {
			if l.consumer == c {
				ps.leases = append(ps.leases[:i], ps.leases[i+1:]...)
				n++
				if len(ps.leases) == 0 {
					p.push(s)
				}
				break // Publish refuses duplicate consumers, so one per slot
			}
		}
	}
	return n
}

// Stats returns a snapshot of the pool.
func (p *Pool) Stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := PoolStats{Slots: len(p.slots), Free: len(p.free), Exhausted: p.exhausted}
	for i := range p.slots {
		switch p.slots[i].state {
		case slotLeased:
			st.Leased++
		case slotWriting:
			st.Writing++
		}
	}
	return st
}

// Close makes Acquire and TryAcquire fail from now on and wakes blocked
// Acquire calls with ErrClosed. Leases stay as they are. Safe to call twice.
func (p *Pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.wake != nil {
		close(p.wake)
		p.wake = nil
	}
	return nil
}
