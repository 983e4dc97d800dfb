// Package events is the host's in-process event bus: the capture, segment
// and plugin code publish what happens (a segment closed, a result, a health
// change, telemetry) and live consumers such as the WebSocket API subscribe.
//
// Publishing never waits for a subscriber: each subscription has a bounded
// buffer, and a subscriber whose buffer is full when an event arrives is
// dropped at once (Err returns ErrSlow) rather than skipped over, so what a
// subscriber receives is always a gap-free prefix of what was published.
package events

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Event types.
const (
	// SegmentClosed: a stream's segment was closed (and handed to storage).
	SegmentClosed = "segment_closed"
	// Result: a plugin produced a result for a stream, or published a
	// message on it, partials included; Data is the model.Item the segment
	// keeps for it (fields, text and payload; a partial is kept only until
	// a newer partial or its final).
	Result = "result"
	// HealthChanged: a component's health changed; Stream is "" for
	// host-wide components.
	HealthChanged = "health_changed"
	// Telemetry: an external telemetry event was accepted.
	Telemetry = "telemetry"
	// Alert: a rule's alert opened (End nil) or ended; Data is the
	// model.Alert.
	Alert = "alert"
)

// Event is one thing that happened in the host. Data is shared by every
// subscriber, so publishers must not modify it after Publish; it should
// encode as JSON, since the WebSocket API sends it as is.
type Event struct {
	Type string
	// Stream is the stream the event concerns, "" for host-wide events.
	Stream string
	// Plugin is the plugin the event concerns, if any.
	Plugin string
	// At is when it happened; Publish sets it to now when zero.
	At   time.Time
	Data any
}

// Why a subscription ended.
var (
	// ErrSlow: the subscriber's buffer was full when an event arrived.
	ErrSlow = errors.New("events: subscriber too slow: dropped")
	// ErrClosed: the subscription or the bus was closed.
	ErrClosed = errors.New("events: closed")
)

// Stats are the bus's counters since New.
type Stats struct {
	// Published counts events published while the bus was open.
	Published uint64
	// Delivered counts events put in a subscriber's buffer.
	Delivered uint64
	// Subscribers is the number of subscriptions now active.
	Subscribers int
	// Dropped counts subscriptions ended with ErrSlow.
	Dropped uint64
}

// Bus fans events out to subscribers. The zero value is not usable; use
// New. It is safe for concurrent use.
type Bus struct {
	// mu serialises Publish with itself, Subscribe and Close: one lock
	// gives every subscriber the same order of events and lets an ended
	// subscription's channel be closed without racing a send. Publish holds
	// it only for non-blocking sends, so it never waits on a subscriber.
	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	closed bool
	stats  Stats
	// listening is len(subs), readable without mu, so hot paths can skip
	// building an event nobody would get.
	listening atomic.Int32
}

// Listening reports whether anyone is subscribed now. A publisher on a hot
// path checks it before building an event; an event published just as the
// first subscriber arrives may be missed, as it would have been a moment
// earlier.
func (b *Bus) Listening() bool { return b.listening.Load() > 0 }

// New returns an open bus with no subscribers.
func New() *Bus {
	return &Bus{subs: map[*Subscription]struct{}{}}
}

// Publish sends e to every subscriber. It never blocks on a subscriber: one
// whose buffer is full is dropped with ErrSlow. After Close it does nothing.
func (b *Bus) Publish(e Event) {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.stats.Published++
	for s := range b.subs {
		select {
		case s.ch <- e:
			b.stats.Delivered++
		default:
			b.stats.Dropped++
			b.endLocked(s, ErrSlow)
		}
	}
}

// Subscribe adds a subscriber whose channel buffers up to buffer events
// (at least 1). On a closed bus the subscription has already ended with
// ErrClosed.
func (b *Bus) Subscribe(buffer int) *Subscription {
	s := &Subscription{bus: b, ch: make(chan Event, max(buffer, 1)), done: make(chan struct{})}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		s.err = ErrClosed
		close(s.ch)
		close(s.done)
		return s
	}
	b.subs[s] = struct{}{}
	b.listening.Store(int32(len(b.subs)))
	return s
}

// Close ends every subscription with ErrClosed; their buffered events can
// still be read. Later Publish calls do nothing. It is safe to call more
// than once.
func (b *Bus) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	for s := range b.subs {
		b.endLocked(s, ErrClosed)
	}
}

// Stats returns the bus's counters.
func (b *Bus) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.stats
	st.Subscribers = len(b.subs)
	return st
}

// endLocked ends s with err. A slow subscriber's buffered events are
// discarded, so its consumer sees the end at once instead of acting on
// stale events first. b.mu must be held.
func (b *Bus) endLocked(s *Subscription, err error) {
	delete(b.subs, s)
	b.listening.Store(int32(len(b.subs)))
	s.err = err
	if err == ErrSlow {
		for len(s.ch) > 0 {
			select {
			case <-s.ch:
			default: // the consumer took it meanwhile
			}
		}
	}
	close(s.ch)
	close(s.done)
}

// Subscription is one subscriber's view of a Bus.
type Subscription struct {
	bus  *Bus
	ch   chan Event
	done chan struct{}
	// err is set, under bus.mu, before done is closed.
	err error
}

// C delivers the events in publish order. It is closed when the
// subscription ends.
func (s *Subscription) C() <-chan Event { return s.ch }

// Done is closed when the subscription ends.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Err returns nil while the subscription is active, then why it ended:
// ErrSlow or ErrClosed.
func (s *Subscription) Err() error {
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	return s.err
}

// Close ends the subscription with ErrClosed, unless it has already ended.
// It is safe to call more than once.
func (s *Subscription) Close() {
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	if _, ok := s.bus.subs[s]; ok {
		s.bus.endLocked(s, ErrClosed)
	}
}
