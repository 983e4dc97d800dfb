package host

import (
	"encoding/json"
	"sync"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/segment"
)

// lateBuffer gathers a stream run's late items (results that arrived for
// a segment already closed: segment.Config.OnLate) and hands them to the
// store writer as late records, one per segment and plugin per tick, so a
// lagging plugin costs a spool write per tick, not per item. The segment's
// own record was put before its first late item reached the buffer, so
// the writer stores each batch behind its segment.
type lateBuffer struct {
	mu sync.Mutex
	// closed is set once the run's end is recorded: a late item after that
	// has no record to follow and is counted as lost.
	closed  bool
	pending []*lateBatch // by first arrival
	byKey   map[lateKey]*lateBatch
}

type lateKey struct {
	index  int64
	plugin string
}

// onLate is the assembler's OnLate callback.
func (s *streamRunner) onLate(plugin string, index int64, it model.Item) {
	it.Late = true
	if _, err := json.Marshal(it); err != nil {
		// No store could hold it either (a number JSON cannot hold).
		s.log.Error("late result cannot be encoded; not attached", "plugin", plugin, "segment", index, "error", err)
		s.h.losses.add(s.cfg.ID, func(l *StreamLoss) { l.LateNotAttached++ })
		return
	}
	b := &s.late
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		s.log.Warn("late result after the run's end was recorded; not attached", "plugin", plugin, "segment", index, "pts", it.PTS)
		s.h.losses.add(s.cfg.ID, func(l *StreamLoss) { l.LateNotAttached++ })
		return
	}
	if b.byKey == nil {
		b.byKey = map[lateKey]*lateBatch{}
	}
	k := lateKey{index, plugin}
	lb := b.byKey[k]
	if lb == nil {
		lb = &lateBatch{Index: index, Plugin: plugin}
		b.byKey[k] = lb
		b.pending = append(b.pending, lb)
	}
	lb.Items = segment.MergeLate(lb.Items, it)
}

// flushLate hands the waiting batches to the store writer, oldest first.
// Without wait it stops at the first the writer cannot take at once (it
// is stalled on a store that is down), keeping the rest for the next tick.
func (s *streamRunner) flushLate(wait bool) {
	b := &s.late
	b.mu.Lock()
	defer b.mu.Unlock()
	s.flushLateLocked(wait)
}

func (s *streamRunner) flushLateLocked(wait bool) {
	b := &s.late
	for len(b.pending) > 0 {
		lb := b.pending[0]
		rec := &record{Kind: recLate, RunID: s.runID, StreamID: s.cfg.ID, Late: lb}
		if wait {
			s.h.w.put(rec)
		} else if !s.h.w.tryPut(rec) {
			return
		}
		n := int64(len(lb.Items))
		s.h.losses.add(s.cfg.ID, func(l *StreamLoss) { l.LateAttached += n })
		delete(b.byKey, lateKey{lb.Index, lb.Plugin})
		b.pending = b.pending[1:]
	}
	b.pending = nil
}

// closeLate hands every waiting batch to the writer, ahead of the run's
// end; late items after it are counted as lost (LateNotAttached).
func (s *streamRunner) closeLate() {
	b := &s.late
	b.mu.Lock()
	defer b.mu.Unlock()
	s.flushLateLocked(true)
	b.closed = true
}
