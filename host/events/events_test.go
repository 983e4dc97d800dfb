package events

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// collect reads s until its channel closes.
func collect(s *Subscription) []Event {
	var got []Event
	for e := range s.C() {
		got = append(got, e)
	}
	return got
}

func TestFanOutOrder(t *testing.T) {
	b := New()
	const n = 500
	subs := []*Subscription{b.Subscribe(n), b.Subscribe(n), b.Subscribe(n)}
	results := make([][]Event, len(subs))
	var wg sync.WaitGroup
	for i, s := range subs {
		wg.Go(func() { results[i] = collect(s) })
	}
	for i := range n {
		b.Publish(Event{Type: Result, Stream: "cam1", Plugin: "face", Data: i})
	}
	b.Close()
	wg.Wait()
	for i, got := range results {
		if len(got) != n {
			t.Fatalf("subscriber %d got %d events, want %d", i, len(got), n)
		}
		for j, e := range got {
			if e.Data != j || e.Type != Result || e.Stream != "cam1" || e.Plugin != "face" {
				t.Fatalf("subscriber %d event %d = %+v", i, j, e)
			}
			if e.At.IsZero() {
				t.Fatalf("subscriber %d event %d: At not set", i, j)
			}
		}
		if err := subs[i].Err(); !errors.Is(err, ErrClosed) {
			t.Errorf("subscriber %d: Err = %v, want ErrClosed", i, err)
		}
	}
	st := b.Stats()
	if st.Published != n || st.Delivered != 3*n || st.Subscribers != 0 || st.Dropped != 0 {
		t.Errorf("stats = %+v", st)
	}
}

// TestConcurrentPublishersSameOrder: with several publishers at once, every
// subscriber sees the same interleaving, and each publisher's events in its
// order.
func TestConcurrentPublishersSameOrder(t *testing.T) {
	b := New()
	const pubs, each = 4, 200
	a, c := b.Subscribe(pubs*each), b.Subscribe(pubs*each)
	var wg sync.WaitGroup
	for p := range pubs {
		wg.Go(func() {
			for i := range each {
				b.Publish(Event{Type: Telemetry, Stream: fmt.Sprint(p), Data: i})
			}
		})
	}
	wg.Wait()
	b.Close()
	ga, gc := collect(a), collect(c)
	if len(ga) != pubs*each || len(gc) != pubs*each {
		t.Fatalf("got %d and %d events, want %d", len(ga), len(gc), pubs*each)
	}
	next := map[string]int{}
	for i := range ga {
		if ga[i].Stream != gc[i].Stream || ga[i].Data != gc[i].Data {
			t.Fatalf("event %d differs between subscribers: %+v vs %+v", i, ga[i], gc[i])
		}
		if ga[i].Data != next[ga[i].Stream] {
			t.Fatalf("publisher %s: event %v out of order, want %d", ga[i].Stream, ga[i].Data, next[ga[i].Stream])
		}
		next[ga[i].Stream]++
	}
}

// TestSlowSubscriberDropped: a subscriber that does not read is dropped when
// its buffer overflows, its pending events discarded, while a subscriber
// that keeps up gets everything and the publisher never blocks (the test
// would deadlock if it did: nobody reads the slow one).
func TestSlowSubscriberDropped(t *testing.T) {
	b := New()
	slow := b.Subscribe(4)
	fast := b.Subscribe(1)
	const n = 100
	for i := range n {
		b.Publish(Event{Type: SegmentClosed, Stream: "cam1", Data: i})
		// The fast subscriber keeps up: it reads each event before the next.
		if e := <-fast.C(); e.Data != i {
			t.Fatalf("fast got %v, want %d", e.Data, i)
		}
	}
	select {
	case <-slow.Done():
	default:
		t.Fatal("slow subscriber not ended")
	}
	if !errors.Is(slow.Err(), ErrSlow) {
		t.Errorf("slow Err = %v, want ErrSlow", slow.Err())
	}
	if got := collect(slow); len(got) != 0 {
		t.Errorf("slow subscriber still got %d events after being dropped", len(got))
	}
	if fast.Err() != nil {
		t.Errorf("fast Err = %v", fast.Err())
	}
	st := b.Stats()
	// The slow one took 4 before the 5th overflowed it.
	if st.Published != n || st.Delivered != n+4 || st.Subscribers != 1 || st.Dropped != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestCloseIdempotent(t *testing.T) {
	b := New()
	s := b.Subscribe(2)
	b.Publish(Event{Type: Result})
	s.Close()
	s.Close()
	if !errors.Is(s.Err(), ErrClosed) {
		t.Errorf("Err = %v, want ErrClosed", s.Err())
	}
	// Closing the subscription keeps what was buffered: it was not slow.
	if got := collect(s); len(got) != 1 {
		t.Errorf("got %d buffered events, want 1", len(got))
	}
	other := b.Subscribe(2)
	b.Close()
	b.Close()
	other.Close()
	if !errors.Is(other.Err(), ErrClosed) {
		t.Errorf("Err = %v, want ErrClosed", other.Err())
	}
	if st := b.Stats(); st.Subscribers != 0 {
		t.Errorf("subscribers = %d after Close", st.Subscribers)
	}
}

func TestPublishAfterClose(t *testing.T) {
	b := New()
	s := b.Subscribe(4)
	b.Close()
	b.Publish(Event{Type: Result})
	if got := collect(s); len(got) != 0 {
		t.Errorf("got %d events published after Close", len(got))
	}
	late := b.Subscribe(4)
	select {
	case <-late.Done():
	default:
		t.Fatal("subscription on a closed bus is active")
	}
	if !errors.Is(late.Err(), ErrClosed) {
		t.Errorf("Err = %v, want ErrClosed", late.Err())
	}
	if _, ok := <-late.C(); ok {
		t.Error("channel of a subscription on a closed bus delivers")
	}
	if st := b.Stats(); st.Published != 0 || st.Delivered != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestSubscribeMinimumBuffer(t *testing.T) {
	b := New()
	s := b.Subscribe(0)
	b.Publish(Event{Type: HealthChanged})
	if s.Err() != nil {
		t.Fatalf("a zero buffer is not raised to one: %v", s.Err())
	}
	if e := <-s.C(); e.Type != HealthChanged {
		t.Errorf("got %+v", e)
	}
}

func TestPublishKeepsAt(t *testing.T) {
	b := New()
	s := b.Subscribe(1)
	at := time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)
	b.Publish(Event{Type: Telemetry, At: at})
	if e := <-s.C(); !e.At.Equal(at) {
		t.Errorf("At = %v, want %v", e.At, at)
	}
}

// TestConcurrentUse runs every method at once for the race detector.
func TestConcurrentUse(t *testing.T) {
	b := New()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range 200 {
				b.Publish(Event{Type: Result, Data: i})
			}
		})
		wg.Go(func() {
			for range 50 {
				s := b.Subscribe(8)
				_ = s.Err()
				_ = b.Stats()
				s.Close()
				<-s.Done()
			}
		})
	}
	wg.Wait()
	b.Close()
	if st := b.Stats(); st.Published != 800 || st.Subscribers != 0 {
		t.Errorf("stats = %+v", st)
	}
}

// TestListening follows subscriptions as they start and end, whether by
// Close, by being too slow or by the bus closing.
func TestListening(t *testing.T) {
	b := New()
	if b.Listening() {
		t.Fatal("a new bus has listeners")
	}
	a, slow := b.Subscribe(4), b.Subscribe(1)
	if !b.Listening() {
		t.Fatal("two subscribers, not listening")
	}
	a.Close()
	if !b.Listening() {
		t.Fatal("one subscriber left, not listening")
	}
	b.Publish(Event{Type: Result})
	b.Publish(Event{Type: Result}) // slow's buffer of 1 overflows: dropped
	if b.Listening() || slow.Err() != ErrSlow {
		t.Fatalf("after the slow one was dropped: listening %v, err %v", b.Listening(), slow.Err())
	}
	b.Subscribe(1)
	b.Close()
	if b.Listening() {
		t.Fatal("listening after Close")
	}
}
