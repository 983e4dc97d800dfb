package shm

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestPoolSlots(t *testing.T) {
	cases := []struct {
		name    string
		windows []int
		want    int
	}{
		{"no consumers", nil, 1},
		{"one consumer window 1", []int{1}, 3},
		{"two consumers", []int{2, 4}, 9},
		{"zero window", []int{0}, 2},
		{"negative window", []int{-3}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := PoolSlots(tc.windows); got != tc.want {
				t.Fatalf("PoolSlots(%v) = %d, want %d", tc.windows, got, tc.want)
			}
		})
	}
}

func newTestPool(t testing.TB, slots int) (*Region, *Pool) {
	t.Helper()
	r := newTestRegion(t, 1, RegionSpec{Slots: slots, FrameBytes: 64})
	p := NewPool(r)
	t.Cleanup(func() { p.Close() })
	return r, p
}

// produce acquires, writes and returns a slot ready to publish.
func produce(t testing.TB, r *Region, p *Pool) (int, uint64) {
	s, ok := p.TryAcquire()
	if !ok {
		t.Fatal("TryAcquire: no free slot")
	}
	r.BeginWrite(s)[0] = byte(s)
	return s, r.EndWrite(s, 1, 0, 0, 1)
}

func wantStats(t *testing.T, p *Pool, want PoolStats) {
	t.Helper()
	if got := p.Stats(); got != want {
		t.Fatalf("Stats = %+v, want %+v", got, want)
	}
}

func TestPoolLeases(t *testing.T) {
	r, p := newTestPool(t, 3)
	wantStats(t, p, PoolStats{Slots: 3, Free: 3})
	s, gen := produce(t, r, p)
	wantStats(t, p, PoolStats{Slots: 3, Free: 2, Writing: 1})
	p.Publish(s, gen, []ConsumerID{10, 20}, time.Now().Add(time.Minute))
	wantStats(t, p, PoolStats{Slots: 3, Free: 2, Leased: 1})

	if err := p.Release(s, gen, 10); err != nil {
		t.Fatal(err)
	}
	wantStats(t, p, PoolStats{Slots: 3, Free: 2, Leased: 1})

	cases := []struct {
		name string
		slot int
		gen  uint64
		c    ConsumerID
		want string
	}{
		{"double ack", s, gen, 10, "shm: no such lease: consumer 10 on slot 0 generation 2"},
		{"stale ack", s, gen - 2, 20, "shm: no such lease: consumer 20 on slot 0 generation 0"},
		{"unknown consumer", s, gen, 30, "shm: no such lease: consumer 30 on slot 0 generation 2"},
		{"free slot", 1, gen, 20, "shm: no such lease: consumer 20 on slot 1 generation 2"},
		{"out of range", 3, gen, 20, "shm: no such lease: slot 3 out of range [0,3)"},
		{"negative", -1, gen, 20, "shm: no such lease: slot -1 out of range [0,3)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := p.Release(tc.slot, tc.gen, tc.c)
			if err == nil || err.Error() != tc.want || !errors.Is(err, ErrNoLease) {
				t.Fatalf("Release: got %v, want %q", err, tc.want)
			}
		})
	}
	wantStats(t, p, PoolStats{Slots: 3, Free: 2, Leased: 1})

	if err := p.Release(s, gen, 20); err != nil {
		t.Fatal(err)
	}
	wantStats(t, p, PoolStats{Slots: 3, Free: 3})
	if err := p.Release(s, gen, 20); !errors.Is(err, ErrNoLease) {
		t.Fatalf("release after free: %v", err)
	}

	// An ack for an earlier generation must not end a lease on the slot's
	// next frame, even from the same consumer.
	s2, gen2 := produce(t, r, p)
	for s2 != s {
		p.Publish(s2, gen2, nil, time.Time{})
		s2, gen2 = produce(t, r, p)
	}
	p.Publish(s2, gen2, []ConsumerID{20}, time.Now().Add(time.Minute))
	if err := p.Release(s, gen, 20); !errors.Is(err, ErrNoLease) {
		t.Fatalf("stale ack on reused slot: %v", err)
	}
	if err := p.Release(s2, gen2, 20); err != nil {
		t.Fatal(err)
	}
}

func TestPoolPublishNoConsumers(t *testing.T) {
	r, p := newTestPool(t, 1)
	s, gen := produce(t, r, p)
	p.Publish(s, gen, nil, time.Time{})
	wantStats(t, p, PoolStats{Slots: 1, Free: 1})
}

func TestPoolExhaustedAndAbandon(t *testing.T) {
	r, p := newTestPool(t, 2)
	a, _ := produce(t, r, p)
	b, _ := produce(t, r, p)
	if _, ok := p.TryAcquire(); ok {
		t.Fatal("TryAcquire succeeded on a full pool")
	}
	p.TryAcquire()
	wantStats(t, p, PoolStats{Slots: 2, Writing: 2, Exhausted: 2})
	p.Abandon(a)
	p.Abandon(b)
	wantStats(t, p, PoolStats{Slots: 2, Free: 2, Exhausted: 2})
}

func TestPoolExpiredAndReclaim(t *testing.T) {
	r, p := newTestPool(t, 4)
	now := time.Now()
	s0, g0 := produce(t, r, p)
	p.Publish(s0, g0, []ConsumerID{1, 2}, now.Add(-time.Second))
	s1, g1 := produce(t, r, p)
	p.Publish(s1, g1, []ConsumerID{1, 2}, now.Add(time.Second))
	s2, g2 := produce(t, r, p)
	p.Publish(s2, g2, []ConsumerID{2}, now.Add(-time.Millisecond))
	// Consumer 2 acks slot 0 in time; consumer 1 does not.
	if err := p.Release(s0, g0, 2); err != nil {
		t.Fatal(err)
	}

	got := p.Expired(now)
	want := []Lease{
		{Slot: s0, Generation: g0, Consumer: 1, Deadline: now.Add(-time.Second)},
		{Slot: s2, Generation: g2, Consumer: 2, Deadline: now.Add(-time.Millisecond)},
	}
	if len(got) != len(want) {
		t.Fatalf("Expired = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Slot != want[i].Slot || got[i].Generation != want[i].Generation ||
			got[i].Consumer != want[i].Consumer || !got[i].Deadline.Equal(want[i].Deadline) {
			t.Fatalf("Expired[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	if e := p.Expired(now.Add(-time.Hour)); e != nil {
		t.Fatalf("Expired an hour ago = %+v, want none", e)
	}

	// The host kills consumer 1, then reclaims: slot 0 frees, slot 1 still
	// waits for consumer 2.
	if n := p.Reclaim(1); n != 2 {
		t.Fatalf("Reclaim(1) = %d, want 2", n)
	}
	wantStats(t, p, PoolStats{Slots: 4, Free: 2, Leased: 2})
	if n := p.Reclaim(2); n != 2 {
		t.Fatalf("Reclaim(2) = %d, want 2", n)
	}
	wantStats(t, p, PoolStats{Slots: 4, Free: 4})
	if n := p.Reclaim(2); n != 0 {
		t.Fatalf("second Reclaim(2) = %d, want 0", n)
	}
	if err := p.Release(s1, g1, 2); !errors.Is(err, ErrNoLease) {
		t.Fatalf("Release after Reclaim: %v", err)
	}
}

func TestPoolAcquireBlocks(t *testing.T) {
	r, p := newTestPool(t, 1)
	s, gen := produce(t, r, p)
	p.Publish(s, gen, []ConsumerID{1}, time.Now().Add(time.Minute))

	got := make(chan int, 1)
	go func() {
		s, err := p.Acquire(context.Background())
		if err != nil {
			s = -1
		}
		got <- s
	}()
	select {
	case s := <-got:
		t.Fatalf("Acquire returned %d on a full pool", s)
	case <-time.After(20 * time.Millisecond):
	}
	if err := p.Release(s, gen, 1); err != nil {
		t.Fatal(err)
	}
	select {
	case s2 := <-got:
		if s2 != s {
			t.Fatalf("Acquire = %d, want %d", s2, s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Acquire did not wake after Release")
	}

	// Full again: a cancelled context and Close both end the wait.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := p.Acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire with expired context: %v", err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := p.Acquire(context.Background())
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if err != ErrClosed {
			t.Fatalf("Acquire after Close: %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake Acquire")
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	p.Abandon(s)
	if _, ok := p.TryAcquire(); ok {
		t.Fatal("TryAcquire succeeded after Close")
	}
}

func TestPoolMisusePanics(t *testing.T) {
	r, p := newTestPool(t, 2)
	s, gen := produce(t, r, p)
	cases := []struct {
		name string
		fn   func()
	}{
		{"wrong generation", func() { p.Publish(s, gen+2, nil, time.Time{}) }},
		{"duplicate consumer", func() { p.Publish(s, gen, []ConsumerID{1, 2, 1}, time.Time{}) }},
		{"not acquired", func() { p.Publish(1, 0, nil, time.Time{}) }},
		{"abandon free slot", func() { p.Abandon(1) }},
		{"publish during write", func() { r.BeginWrite(s); defer r.EndWrite(s, 0, 0, 0, 0); p.Publish(s, gen+1, nil, time.Time{}) }},
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

func TestPoolNoLeak(t *testing.T) {
	const frames = 100_000
	r, p := newTestPool(t, PoolSlots([]int{1, 1}))
	deadline := time.Now().Add(time.Hour)
	consumers := []ConsumerID{1, 2}
	for i := range frames {
		s, ok := p.TryAcquire()
		if !ok {
			t.Fatalf("frame %d: pool exhausted: %+v", i, p.Stats())
		}
		r.BeginWrite(s)[0] = byte(i)
		gen := r.EndWrite(s, 1, uint64(i), 0, 1)
		p.Publish(s, gen, consumers, deadline)
		for _, c := range consumers {
			if err := p.Release(s, gen, c); err != nil {
				t.Fatalf("frame %d: %v", i, err)
			}
		}
	}
	wantStats(t, p, PoolStats{Slots: 5, Free: 5})
}

// TestPoolNoLeakConcurrent runs a lossless writer against two consumers that
// ack from their own goroutines, with windows, as the host's dispatch does.
func TestPoolNoLeakConcurrent(t *testing.T) {
	frames := 100_000
	if testing.Short() {
		frames = 10_000
	}
	const window = 2
	r, p := newTestPool(t, PoolSlots([]int{window, window}))
	m := newTestMapping(t, r)
	consumers := []ConsumerID{1, 2}

	type frame struct {
		d Descriptor
	}
	queues := make([]chan frame, len(consumers))
	errs := make(chan error, len(consumers)+1)
	var wg sync.WaitGroup
	for i, c := range consumers {
		queues[i] = make(chan frame, window)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range queues[i] {
				b, err := m.Frame(&f.d)
				if err == nil && b[0] != byte(f.d.Seq) {
					err = errors.New("frame bytes do not match its seq")
				}
				if err == nil {
					err = m.Check(&f.d)
				}
				if err == nil {
					err = p.Release(int(f.d.Slot), f.d.Generation, c)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	deadline := time.Now().Add(time.Hour)
	for i := range frames {
		s, err := p.Acquire(ctx)
		if err != nil {
			t.Fatalf("frame %d: %v (%+v)", i, err, p.Stats())
		}
		r.BeginWrite(s)[0] = byte(i)
		gen := r.EndWrite(s, 1, uint64(i), 0, 1)
		d := Descriptor{Region: r.ID(), Slot: uint32(s), Format: FormatGray8, Width: 1, Height: 1, Stride: 1, Generation: gen, Seq: uint64(i)}
		p.Publish(s, gen, consumers, deadline)
		stop := false
		for _, q := range queues {
			select {
			case q <- frame{d}:
			case err := <-errs:
				t.Error(err)
				stop = true
			}
		}
		if stop {
			break
		}
	}
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	wantStats(t, p, PoolStats{Slots: PoolSlots([]int{window, window}), Free: PoolSlots([]int{window, window})})
}

// TestPoolConcurrentWriters drops frames under contention (TryAcquire) and
// abandons some, while consumers ack late; no slot may leak.
func TestPoolConcurrentWriters(t *testing.T) {
	r, p := newTestPool(t, 4)
	type ack struct {
		slot int
		gen  uint64
	}
	acks := make(chan ack, 64)
	var consumers sync.WaitGroup
	consumers.Add(1)
	go func() {
		defer consumers.Done()
		for a := range acks {
			if err := p.Release(a.slot, a.gen, 7); err != nil {
				t.Error(err)
			}
		}
	}()
	var writers sync.WaitGroup
	for w := range 3 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := range 5_000 {
				s, ok := p.TryAcquire()
				if !ok {
					continue
				}
				r.BeginWrite(s)
				if (i+w)%5 == 0 {
					p.Abandon(s)
					continue
				}
				gen := r.EndWrite(s, uint32(w), uint64(i), 0, 0)
				p.Publish(s, gen, []ConsumerID{7}, time.Now().Add(time.Hour))
				acks <- ack{s, gen}
			}
		}()
	}
	writers.Wait()
	close(acks)
	consumers.Wait()
	st := p.Stats()
	if st.Free != 4 || st.Leased != 0 || st.Writing != 0 {
		t.Fatalf("Stats after run: %+v", st)
	}
}
