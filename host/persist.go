package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/spool"
	"github.com/lsie-mlf/lsie/host/store"
)

// What the store writer keeps, in order, until the store has it
// (docs/DURABILITY.md): closed segments, the clean end of a stream run, and
// runs a killed host left open (their hole is recorded when everything
// spooled before them is stored), and results that arrived after their
// segment closed (attached to it, behind it).
const (
	recSegment = "segment"
	recRunEnd  = "run_end"
	recLostRun = "lost_run"
	recGap     = "gap"
	recLate    = "late"
	recAlert   = "alert"
)

// reasonInvalidSegment is the gap reason of a segment that could be
// neither spooled nor stored (a number JSON cannot hold).
const reasonInvalidSegment = "invalid_segment"

type record struct {
	Kind     string         `json:"kind"`
	RunID    string         `json:"run_id"`
	StreamID string         `json:"stream_id,omitempty"`
	Segment  *model.Segment `json:"segment,omitempty"`
	// At and Reason end a run (run_end); At is when a lost run was found.
	At     time.Time `json:"at"`
	Reason string    `json:"reason,omitempty"`
	// Gap is a hole to record (gap).
	Gap *model.Gap `json:"gap,omitempty"`
	// Late is a batch of late items for one stored segment of the run
	// (late).
	Late *lateBatch `json:"late,omitempty"`
	// Alert is an alert opened or ended (alert).
	Alert *model.Alert `json:"alert,omitempty"`
}

// lateBatch is one plugin's items that arrived after segment Index of the
// run had closed, to attach to it (Store.AttachLate: a retry of the same
// batch attaches nothing more).
type lateBatch struct {
	Index  int64        `json:"index"`
	Plugin string       `json:"plugin"`
	Items  []model.Item `json:"items"`
}

// A barrier is released once every record accepted before it is durable
// (spooled: in the spool or stored) and once it is stored.
type barrier struct {
	at              uint64
	spooled, stored chan struct{}
}

type writeReq struct {
	rec     *record
	barrier *barrier
}

// Tuning of the store writer.
const (
	// memHold bounds the records held in memory when the spool cannot take
	// them (full, or its disk failing); past it the writer stops taking
	// records and the streams stall.
	memHold      = 256
	retryMin     = 100 * time.Millisecond
	retryMax     = 5 * time.Second
	storeTimeout = 10 * time.Second
	// spoolAlarm is the fill fraction at which the store's health turns
	// error: the operator has that much left to act.
	spoolAlarm = 0.9
)

// writer writes closed segments and run markers to the store through the
// spool. Two goroutines: intake spools each record as it arrives, so a
// store call that blocks (a locked database waits out its busy timeout)
// never leaves records only in memory; the storer stores them oldest first,
// retrying with backoff while the store fails. mu guards the spool's queue
// and the fields below it; the storer alone owns head.
type writer struct {
	h   *Host
	log hclog.Logger
	sp  *spool.Spool
	in  chan writeReq
	// kick wakes the storer (cap 1); room wakes a stalled intake (cap 1);
	// stop is closed once intake has spooled its last record; quit when
	// the host begins to exit (exiting).
	kick, room, stop, quit chan struct{}
	quitOnce               sync.Once
	// done is closed when both goroutines have returned.
	done chan struct{}

	mu       sync.Mutex
	mem      []*record // accepted, not in the spool (it could not take them), oldest first
	accepted uint64    // records accepted, those found in the spool at start included
	storedN  uint64    // records stored or set aside
	barriers []*barrier

	// head is the oldest record, decoded, while its save is retried.
	head         *record
	headAnalysed bool
	backoff      time.Duration

	// For health, read from any goroutine.
	fails     atomic.Int64
	failSince atomic.Int64 // unix ns of the first failure in a row
	lastErr   atomic.Value // string
	held      atomic.Int64 // len(mem)
	rejected  atomic.Int64 // records that can never be stored, this run
	spoolErr  atomic.Value // string: why the spool took no record, "" when it does
	// heldAtExit counts records neither spooled nor stored at exit: lost.
	heldAtExit atomic.Int64
}

func newWriter(h *Host, sp *spool.Spool) *writer {
	w := &writer{h: h, log: h.log.Named("store"), sp: sp, in: make(chan writeReq, 1024), done: make(chan struct{}),
		kick: make(chan struct{}, 1), room: make(chan struct{}, 1), stop: make(chan struct{}), quit: make(chan struct{})}
	w.accepted = uint64(sp.Len())
	w.lastErr.Store("")
	w.spoolErr.Store("")
	if n := sp.Len(); n > 0 {
		w.log.Info("records from an earlier run wait in the spool; storing them first", "records", n, "bytes", sp.Bytes(), "dir", sp.Dir())
	}
	return w
}

// spooledRunEnds names the runs whose end waits in the spool. Call it
// before run.
func (w *writer) spooledRunEnds() map[string]bool {
	out := map[string]bool{}
	for _, r := range w.sp.Pending() {
		b, err := w.sp.Read(r)
		if err != nil {
			continue // the storer sets it aside, and says so, when it gets there
		}
		var rec record
		if json.Unmarshal(b, &rec) == nil && rec.Kind == recRunEnd {
			out[rec.RunID] = true
		}
	}
	return out
}

// put hands a record to the writer; it blocks only when the writer holds
// memHold records it could neither spool nor store (backpressure).
func (w *writer) put(r *record) { w.in <- writeReq{rec: r} }

// tryPut hands a record to the writer unless that would block; false
// then (the caller keeps it and tries again).
func (w *writer) tryPut(r *record) bool {
	select {
	case w.in <- writeReq{rec: r}:
		return true
	default:
		return false
	}
}

// flush returns a barrier behind everything put so far.
func (w *writer) flush() *barrier {
	b := &barrier{spooled: make(chan struct{}), stored: make(chan struct{})}
	w.in <- writeReq{barrier: b}
	return b
}

// exiting says the host is stopping its streams: from now on the spool
// takes records past its bound, so that no stream stays stalled on a full
// spool and a store that is down.
func (w *writer) exiting() { w.quitOnce.Do(func() { close(w.quit) }) }

// close stops taking records, spools what it holds and returns once the
// storer has tried the store a last time; what the store does not have yet
// stays in the spool for the next start.
func (w *writer) close() {
	close(w.in)
	<-w.done
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (w *writer) run() {
	stored := make(chan struct{})
	go func() {
		defer close(stored)
		w.storeLoop()
	}()
	w.intake()
	<-stored
	w.finish()
	close(w.done)
}

// intake spools records as they come, until in is closed.
func (w *writer) intake() {
	for {
		quitting := false
		select {
		case <-w.quit:
			quitting = true
		default:
		}
		if w.held.Load() >= memHold && !quitting {
			// Stall the streams rather than drop: wait for the storer.
			select {
			case <-w.room:
			case <-w.quit:
				w.mu.Lock()
				w.spoolHeld(true)
				w.mu.Unlock()
			}
			continue
		}
		req, ok := <-w.in
		w.mu.Lock()
		if !ok {
			w.spoolHeld(true)
			w.release()
			w.mu.Unlock()
			close(w.stop)
			return
		}
		if req.barrier != nil {
			req.barrier.at = w.accepted
			w.barriers = append(w.barriers, req.barrier)
		} else {
			w.accepted++
			w.mem = append(w.mem, req.rec)
			w.spoolHeld(quitting)
		}
		w.release()
		w.mu.Unlock()
		signal(w.kick)
	}
}

// spoolHeld moves held records, oldest first, into the spool while it
// takes them (mu held). force ignores the bound: at exit, past the bound
// beats lost.
func (w *writer) spoolHeld(force bool) {
	defer func() { w.held.Store(int64(len(w.mem))) }()
	for len(w.mem) > 0 {
		b, err := json.Marshal(w.mem[0])
		if err != nil {
			// A segment JSON cannot hold (a NaN): the store could not take
			// it either. Its window is recorded as a hole, in its place.
			r := w.mem[0]
			w.log.Error("segment cannot be encoded; its window is recorded as a gap", "stream", r.StreamID, "error", err)
			w.rejected.Add(1)
			w.mem[0] = &record{Kind: recGap, RunID: r.RunID, StreamID: r.StreamID, Gap: invalidGap(r)}
			continue
		}
		if force {
			_, err = w.sp.AppendOver(b)
		} else {
			_, err = w.sp.Append(b)
		}
		if err != nil {
			if w.spoolErr.Load().(string) == "" {
				w.log.Error("the spool takes no more records; holding them in memory", "held", len(w.mem), "error", err)
			}
			w.spoolErr.Store(err.Error())
			return
		}
		if w.spoolErr.Load().(string) != "" {
			w.log.Info("the spool takes records again")
			w.spoolErr.Store("")
		}
		w.mem = w.mem[1:]
	}
}

// storeLoop stores records oldest first. Once stop is closed it stores
// what it can without waiting and returns at the first failure.
func (w *writer) storeLoop() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	stopping := false
	for {
		rec, ok := w.next()
		if !ok {
			if stopping {
				return
			}
			select {
			case <-w.kick:
			case <-w.stop:
				stopping = true
			}
			continue
		}
		err := w.store(rec)
		w.mu.Lock()
		switch {
		case err == nil:
			w.retire("")
		case permanent(err):
			w.log.Error("record can never be stored; set aside", "kind", rec.Kind, "stream", rec.StreamID, "run", rec.RunID, "error", err)
			w.rejected.Add(1)
			w.retire(err.Error())
		}
		w.spoolHeld(false)
		w.release()
		w.mu.Unlock()
		signal(w.room)
		if err == nil {
			w.succeeded()
			continue
		}
		if permanent(err) {
			continue
		}
		wait := w.failed(err)
		if stopping {
			return
		}
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-w.stop:
			stopping = true // one more try, then exit
		}
	}
}

// next returns the oldest record: the spool's, else the first held. An
// unreadable spool record is set aside on the way.
func (w *writer) next() (*record, bool) {
	if w.head != nil {
		return w.head, true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for {
		if r, ok := w.sp.Oldest(); ok {
			b, err := w.sp.Read(r)
			rec := &record{}
			if err == nil {
				err = json.Unmarshal(b, rec)
			}
			if err != nil {
				w.log.Error("unreadable spool record; set aside in the spool's rejected folder", "record", r.Seq, "error", err)
				w.rejected.Add(1)
				if err := w.sp.Reject(r, err.Error()); err != nil {
					w.log.Error("spool", "error", err)
				}
				w.storedN++
				w.release()
				continue
			}
			w.head, w.headAnalysed = rec, false
			return rec, true
		}
		if len(w.mem) > 0 {
			w.head, w.headAnalysed = w.mem[0], false
			return w.head, true
		}
		return nil, false
	}
}

// retire removes the head record, stored, or set aside with why (mu
// held). Spooled records come before held ones, and a held head moved into
// the spool meanwhile is the spool's oldest: so the head is the spool's
// oldest whenever the spool has any.
func (w *writer) retire(why string) {
	w.head = nil
	w.storedN++
	r, ok := w.sp.Oldest()
	if !ok {
		w.mem = w.mem[1:]
		w.held.Store(int64(len(w.mem)))
		return
	}
	var err error
	switch {
	case why == "":
		err = w.sp.Remove(r)
	default:
		err = w.sp.Reject(r, why)
	}
	if err != nil {
		w.log.Error("spool", "error", err)
	}
}

// store writes one record to the store.
func (w *writer) store(rec *record) error {
	h := w.h
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	switch rec.Kind {
	case recSegment:
		seg := rec.Segment
		if seg == nil {
			return fmt.Errorf("segment record of run %s without a segment: %w", rec.RunID, store.ErrInvalid)
		}
		seg.RunID = rec.RunID
		if !w.headAnalysed {
			// Once per record, even when its save is retried: analytics
			// remember what they saw.
			if err := h.obs.insight.Analyze(ctx, seg); err != nil {
				w.log.Warn("segment analytics incomplete", "stream", seg.StreamID, "index", seg.Index, "error", err)
			}
			w.headAnalysed = true
		}
		if err := h.store.SaveSegment(ctx, rec.RunID, *seg); err != nil {
			return err
		}
		h.closed(*seg, time.Since(seg.ClosedAt))
		return nil
	case recRunEnd:
		return h.store.EndRun(ctx, rec.RunID, rec.At, rec.Reason)
	case recLostRun:
		return w.markLost(ctx, rec)
	case recGap:
		if rec.Gap == nil {
			return fmt.Errorf("gap record of run %s without a gap: %w", rec.RunID, store.ErrInvalid)
		}
		return h.store.RecordGap(ctx, *rec.Gap)
	case recLate:
		l := rec.Late
		if l == nil {
			return fmt.Errorf("late record of run %s without items: %w", rec.RunID, store.ErrInvalid)
		}
		return h.store.AttachLate(ctx, rec.StreamID, l.Index, rec.RunID, l.Plugin, l.Items)
	case recAlert:
		if rec.Alert == nil {
			return fmt.Errorf("alert record of run %s without an alert: %w", rec.RunID, store.ErrInvalid)
		}
		return h.store.PutAlert(ctx, *rec.Alert)
	}
	return fmt.Errorf("unknown spool record kind %q: %w", rec.Kind, store.ErrInvalid)
}

// markLost records the hole a killed host left in a run: from the end of
// its last stored segment (or its start) to when this host found it.
func (w *writer) markLost(ctx context.Context, rec *record) error {
	runs, err := w.h.store.Runs(ctx, rec.StreamID)
	if err != nil {
		return err
	}
	for _, r := range runs {
		if r.RunID != rec.RunID {
			continue
		}
		if !r.EndedAt.IsZero() {
			return nil
		}
		g := model.Gap{StreamID: r.StreamID, RunID: r.RunID, WallFrom: r.StartedAt, WallTo: rec.At,
			Reason: model.ReasonHostRestarted, RecordedAt: time.Now().UTC()}
		if r.Segments > 0 {
			g.WallFrom, g.MediaFrom = r.LastWallEnd, r.LastMediaEnd
		}
		if err := w.h.store.MarkRunLost(ctx, g); err != nil {
			return err
		}
		w.log.Warn("stream run was cut short by a host that stopped without closing it; hole recorded", "stream", r.StreamID,
			"run", r.RunID, "from", g.WallFrom, "to", g.WallTo, "stored_segments", r.Segments)
		return nil
	}
	return fmt.Errorf("run %s of stream %q: %w", rec.RunID, rec.StreamID, store.ErrNotFound)
}

// invalidGap is the hole left by a segment record that cannot be kept.
func invalidGap(r *record) *model.Gap {
	g := &model.Gap{StreamID: r.StreamID, RunID: r.RunID, Reason: reasonInvalidSegment, RecordedAt: time.Now().UTC()}
	if seg := r.Segment; seg != nil {
		g.WallFrom, g.WallTo, g.MediaFrom = seg.WallStart, seg.WallEnd, seg.MediaStart
	}
	return g
}

// permanent tells errors that a retry cannot mend: the record itself is
// wrong, or what it belongs to is gone.
func permanent(err error) bool {
	return errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrNotFound)
}

func (w *writer) succeeded() {
	w.backoff = 0
	if n := w.fails.Swap(0); n > 0 {
		w.log.Info("store writes again", "failed_attempts", n, "spooled", w.sp.Len())
	}
}

func (w *writer) failed(err error) time.Duration {
	if w.fails.Add(1) == 1 {
		w.failSince.Store(time.Now().UnixNano())
		w.log.Error("store write failed; records stay in the spool and are retried with backoff", "error", err, "spooled", w.sp.Len())
	}
	w.lastErr.Store(err.Error())
	w.backoff = min(max(2*w.backoff, retryMin), retryMax)
	// ±20 % jitter: hosts sharing a database do not retry in step.
	return time.Duration(float64(w.backoff) * (0.8 + 0.4*rand.Float64()))
}

// release signals the barriers whose records are spooled or stored (mu
// held).
func (w *writer) release() {
	spooled := w.accepted - uint64(len(w.mem))
	keep := w.barriers[:0]
	for _, b := range w.barriers {
		if spooled >= b.at {
			closeOnce(b.spooled)
		}
		if w.storedN >= b.at {
			closeOnce(b.stored)
			continue
		}
		keep = append(keep, b)
	}
	w.barriers = keep
}

func closeOnce(c chan struct{}) {
	select {
	case <-c:
	default:
		close(c)
	}
}

// finish says what the store does not have yet and releases every
// barrier: the host is exiting.
func (w *writer) finish() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.release()
	if n := len(w.mem); n > 0 {
		w.heldAtExit.Store(int64(n))
		w.log.Error("records neither spooled nor stored at exit are lost", "records", n, "error", w.spoolErr.Load())
	}
	if n := w.sp.Len(); n > 0 {
		w.log.Warn("records wait in the spool for the next start", "records", n, "bytes", w.sp.Bytes(), "dir", w.sp.Dir())
	}
	for _, b := range w.barriers {
		closeOnce(b.spooled)
		closeOnce(b.stored)
	}
	w.barriers = nil
}

// health is the store's component health: degraded while writes fail
// (nothing lost: the spool holds them), error when the spool nears its
// bound or cannot take records.
func (w *writer) health(name string) model.ComponentHealth {
	fails := w.fails.Load()
	c := model.ComponentHealth{Name: name, Kind: "store", Health: model.HealthOK, Counters: map[string]int64{
		"consecutive_failures": fails, "spool_records": w.sp.Len(), "spool_bytes": w.sp.Bytes(),
		"spool_max_bytes": w.sp.Max(), "spool_rejected": w.sp.Rejected(), "held_in_memory": w.held.Load(),
		"rejected": w.rejected.Load(),
	}}
	last, _ := w.lastErr.Load().(string)
	spoolErr, _ := w.spoolErr.Load().(string)
	full := w.sp.Max() > 0 && float64(w.sp.Bytes()) >= spoolAlarm*float64(w.sp.Max())
	switch {
	case w.held.Load() > 0 && spoolErr != "":
		c.Health = model.HealthError
		c.Hint = fmt.Sprintf("the spool (%s) takes no more records (%s): %d held in memory; at %d the streams stall. "+
			"Bring the store back, free disk space, or raise store { spool_max_mb }", w.sp.Dir(), spoolErr, w.held.Load(), memHold)
	case full:
		c.Health = model.HealthError
		c.Hint = fmt.Sprintf("the spool is at %d of %d bytes (%d records) while the store fails (%s): bring the store back or raise "+
			"store { spool_max_mb }; when full, new segments wait in memory and then the streams stall", w.sp.Bytes(), w.sp.Max(), w.sp.Len(), last)
	case fails > 0:
		since := time.Since(time.Unix(0, w.failSince.Load())).Round(time.Second)
		c.Health = model.HealthDegraded
		c.Hint = fmt.Sprintf("store writes fail for %s (last: %s): %d records (%d bytes) wait in the spool %s and are stored in order "+
			"when it is back; nothing is lost while the spool has room. Check the database is reachable and its disk has space",
			since, last, w.sp.Len(), w.sp.Bytes(), w.sp.Dir())
	case w.rejected.Load() > 0:
		c.Health = model.HealthDegraded
		c.Hint = fmt.Sprintf("%d records could not be stored and were kept in %s/%s (each with a .why file)", w.rejected.Load(),
			w.sp.Dir(), spool.RejectedDir)
	}
	return c
}
