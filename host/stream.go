package host

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/lsie-mlf/lsie/host/capture"
	"github.com/lsie-mlf/lsie/host/capture/worker"
	"github.com/lsie-mlf/lsie/host/config"
	"github.com/lsie-mlf/lsie/host/metrics"
	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/motion"
	"github.com/lsie-mlf/lsie/host/rules"
	"github.com/lsie-mlf/lsie/host/segment"
	"github.com/lsie-mlf/lsie/shm"
	"github.com/lsie-mlf/lsie/shm/cuda"
)

// streamRunner owns one stream: its capture pipeline, its shared-memory
// regions, its consumers and its segment assembler.
type streamRunner struct {
	cfg    config.Stream
	handle uint32
	// runID names this start of the stream (model.StreamRun); set before
	// it runs.
	runID    string
	h        *Host
	log      hclog.Logger
	asm      *segment.Assembler
	cap      capturer
	lossless bool

	ctx    context.Context
	cancel context.CancelFunc

	liveScratch []*consumer
	idScratch   []shm.ConsumerID
	viewScratch []frameRef
	// tensors are the model inputs the GPU store makes from each frame
	// (views 1..; consumer.view), distinct, for memory = "cuda" streams.
	tensors []cuda.PreprocessSpec
	done    chan struct{} // closed when run has returned
	removed atomic.Bool
	// closeOnce guards close; closed says it ran (plugin restarts then
	// leave the stream alone).
	closeOnce sync.Once
	closed    atomic.Bool
	// consumers are in graph order: every producer before its consumers.
	consumers []*consumer
	// routes maps a producer's name and output topic to its consumers.
	routes map[string]map[string][]*consumer

	// Frame stores are created on the first frame, when the analysis size
	// is known, and again if it changes; old ones live until the stream ends.
	mu     sync.Mutex
	store  frameStore
	stores []frameStore // every store, the current one last
	// pending is the store made for a capture worker, until it has mapped
	// it (worker mode).
	pending *memfdStore

	// late gathers results that came after their segment closed, for the
	// store writer.
	late lateBuffer

	// captureToSlot is this stream's latency series in /metrics.
	captureToSlot metrics.Latency
	// motion measures each frame for the plugins' gates; nil when no
	// plugin of the stream is gated. Capture's thread only.
	motion *motion.Meter
	// rules are the rules watching this stream; ruleErrors counts their
	// run-time failures.
	rules      *rules.Stream
	ruleErrors atomic.Int64

	health   atomic.Value // model.Health
	hint     atomic.Value // string
	frames   atomic.Int64
	dropped  atomic.Int64
	progress atomic.Int64
	started  atomic.Bool

	audioSamples, audioGaps atomic.Int64
	reconnects              atomic.Int64
	hasAudio                atomic.Bool
}

// bindMetrics (re)attaches the stream's latency series in /metrics.
func (s *streamRunner) bindMetrics() {
	s.captureToSlot = s.h.obs.metrics.CaptureToSlot(s.cfg.ID)
	for _, c := range s.consumers {
		c.slotToResult = s.h.obs.metrics.SlotToResult(s.cfg.ID, c.name)
	}
}

// markStarted fixes the segment grid's anchor on the first callback.
func (s *streamRunner) markStarted() {
	if s.started.CompareAndSwap(false, true) {
		s.asm.Start(s.cap.WallAnchor())
	}
}

func (s *streamRunner) setHealth(h model.Health, hint string) {
	s.health.Store(h)
	s.hint.Store(hint)
}

// windows are the in-flight windows of the video consumers (the pool's only readers).
func (s *streamRunner) windows() []int {
	var w []int
	for _, c := range s.consumers {
		if c.wantsVideo {
			w = append(w, c.window)
		}
	}
	return w
}

// currentStore is the store new frames are written to, if any yet.
func (s *streamRunner) currentStore() frameStore {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.store
}

// leases returns the slot leases of every store the stream has had.
func (s *streamRunner) leases() []*shm.Pool {
	s.mu.Lock()
	defer s.mu.Unlock()
	pools := make([]*shm.Pool, len(s.stores))
	for i, st := range s.stores {
		pools[i] = st.Leases()
	}
	return pools
}

// ensureStore returns a store whose slots fit f, announcing a new one to
// the video consumers before any frame of it is sent.
func (s *streamRunner) ensureStore(f *capture.Frame) (frameStore, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.store != nil && s.store.Fits(f) {
		return s.store, nil
	}
	slots := shm.PoolSlots(s.windows())
	var st frameStore
	var err error
	if s.cfg.Video.Memory == config.MemoryCUDA {
		spec := deviceSpec{Device: s.cfg.Video.GPU, Slots: slots, Width: f.Width, Height: f.Height, Tensors: s.tensors}
		for range 1 + len(s.tensors) {
			spec.IDs = append(spec.IDs, s.h.nextRegionID())
		}
		// checkMemory made sure this build has a provider.
		st, err = s.h.devices().Open(spec)
	} else {
		st, err = newMemfdStore(s.h.nextRegionID(), "lsie-"+s.cfg.ID, slots, f.Stride*f.Height)
	}
	if err != nil {
		return nil, err
	}
	s.announceLocked(st)
	s.log.Debug("frame store created", "regions", st.Regions(), "memory", s.cfg.Video.Memory, "slots", slots,
		"size", fmt.Sprintf("%dx%d", f.Width, f.Height), "format", f.Format, "tensors", len(s.tensors))
	return st, nil
}

// announceLocked hands a new store to the video consumers, before any
// frame of it, and makes it the current one (mu held).
func (s *streamRunner) announceLocked(st frameStore) {
	for _, c := range s.consumers {
		if !c.wantsVideo || c.isDead() {
			continue // a restarted plugin gets the current store when it revives
		}
		if err := st.Announce(c.process(), c.view); err != nil {
			s.log.Error("sending region to plugin", "plugin", c.name, "error", err)
		}
	}
	s.store = st
	s.stores = append(s.stores, st)
}

// Frame is capture's callback: one copy into a slot (a memfd region, or
// pinned staging and an upload to the GPU), then descriptors out.
func (s *streamRunner) Frame(f *capture.Frame) {
	arrived := time.Now()
	s.markStarted()
	pts := f.PTS
	store, err := s.ensureStore(f)
	if err != nil {
		s.log.Error("creating frame store", "memory", s.cfg.Video.Memory, "error", err)
		s.dropped.Add(1)
		s.asm.Dropped(pts)
		return
	}
	pool := store.Leases()
	var slot int
	if s.lossless {
		slot, err = pool.Acquire(s.ctx)
		if err != nil {
			return // shutting down
		}
	} else {
		var ok bool
		if slot, ok = pool.TryAcquire(); !ok {
			// Never block a live source: drop and count (pool_exhausted).
			s.dropped.Add(1)
			s.asm.Dropped(pts)
			return
		}
	}
	desc, err := store.Write(slot, f, s.handle)
	if err != nil {
		pool.Abandon(slot)
		s.log.Error("writing frame", "memory", s.cfg.Video.Memory, "error", err)
		s.dropped.Add(1)
		s.asm.Dropped(pts)
		return
	}
	s.frames.Add(1)
	s.asm.Frame(pts)
	s.publish(store, pool, slot, desc, arrived, s.measure(f))
}

// publish hands a written slot to the video consumers that can take it.
func (s *streamRunner) publish(store frameStore, pool *shm.Pool, slot int, desc shm.Descriptor, arrived time.Time, sc motion.Scores) {
	pts := time.Duration(desc.PTS)
	// Scratch reused frame after frame: capture never calls Frame
	// concurrently for one stream, and Publish copies the ids it keeps.
	live, ids := s.liveScratch[:0], s.idScratch[:0]
	for _, c := range s.consumers {
		if !c.wantsVideo {
			continue
		}
		if c.gate != nil && !c.gate.pass(pts, sc) {
			s.asm.Gated(c.name, pts)
			c.countGated()
			continue
		}
		if s.lossless {
			c.waitAlive(s.ctx)
		}
		if c.isDead() {
			s.asm.Missed(c.name, pts)
			continue
		}
		live = append(live, c)
		ids = append(ids, c.id)
	}
	now := time.Now()
	pool.Publish(slot, desc.Generation, ids, now.Add(s.h.opts.LeaseTimeout))
	// capture→slot: from the frame leaving the pipeline to its descriptor
	// being publishable (slot wait, copy or upload queued, seal).
	s.captureToSlot.Observe(now.Sub(arrived))
	views := s.viewScratch[:0]
	for v := range 1 + len(s.tensors) {
		views = append(views, frameRef{pool: pool, desc: store.View(v, &desc)})
	}
	s.liveScratch, s.idScratch, s.viewScratch = live, ids, views
	for _, c := range live {
		c.offer(s.ctx, views[c.view], s.lossless)
	}
}

// NoVideo is capture's callback for a source without a video track (an
// audio-only source): the stream runs on its audio, and each plugin that
// takes video is told nothing, gets no frame, and says no_video in every
// segment, which does not wait for it.
func (s *streamRunner) NoVideo() {
	s.log.Info("source has no video: the stream runs on its audio")
	for _, c := range s.consumers {
		if c.wantsVideo {
			s.asm.NoVideo(c.name)
		}
	}
}

// Progress is capture's callback for time-line progress.
func (s *streamRunner) Progress(t time.Duration) {
	s.markStarted()
	s.progress.Store(int64(t))
	s.asm.Progress(t)
}

// run captures until the source ends, fails, or ctx is cancelled, then
// drains the plugins and closes the remaining segments. It returns why the
// stream ended.
func (s *streamRunner) run(ctx context.Context) string {
	if !s.cfg.Source.Live() {
		s.setHealth(model.HealthOK, "")
	}
	err := s.cap.Run(ctx)
	s.asm.Ending()
	reason := model.ReasonEndOfStream
	var serr *capture.SourceError
	switch {
	case errors.As(err, &serr):
		s.setHealth(model.HealthError, serr.Message)
		reason = model.ReasonSourceError
		s.log.Error("source failed", "error", serr.Message, "debug", serr.Debug)
	case err != nil:
		s.setHealth(model.HealthError, err.Error())
		reason = model.ReasonSourceError
		s.log.Error("capture failed", "error", err)
	case ctx.Err() != nil && s.removed.Load():
		reason = model.ReasonRemoved
	case ctx.Err() != nil:
		reason = model.ReasonShutdown
	}
	// No more capture callbacks: let the audio senders finish their queues,
	// then let plugins finish what they hold so the last segments are complete.
	deadline := time.Now().Add(s.h.cfg.Segment.MaxCloseDelay)
	if s.lossless && ctx.Err() == nil {
		// A lossless stream that ended waits for its plugins as its
		// segments do (max_close_delay is a live policy), up to a lease
		// more: a plugin that holds a frame that long is killed as hung,
		// which settles what it held.
		deadline = deadline.Add(s.h.opts.LeaseTimeout)
	}
	s.endAudio(deadline)
	for _, c := range s.consumers {
		close(c.audioQ)
	}
	for _, c := range s.consumers {
		select {
		case <-c.audioDone:
		case <-time.After(time.Until(deadline)):
		}
		c.drain(deadline)
	}
	for _, c := range s.consumers {
		if c.subscribes {
			c.dropMessages() // undelivered past the deadline: recorded, not silent
		}
	}
	s.asm.Finish(time.Duration(s.progress.Load()), reason)
	s.rules.Close(time.Duration(s.progress.Load())) // an open alert ends with its stream
	for _, c := range s.consumers {
		c.stopMessages()
	}
	s.log.Info("stream finished", "reason", reason, "frames", s.frames.Load(), "dropped", s.dropped.Load())
	return reason
}

// ended marks the stream ended once its segments are stored (a source
// error keeps its error health).
func (s *streamRunner) ended(reason string) {
	switch reason {
	case model.ReasonEndOfStream:
		s.setHealth(model.HealthEnded, "end of stream")
	case model.ReasonShutdown:
		s.setHealth(model.HealthEnded, "host shutting down")
	case model.ReasonRemoved:
		s.setHealth(model.HealthEnded, "stream removed")
	}
}

// close releases the stream's plugin streams and regions, once: when its
// run ends (an ended stream holds no plugin state: issue #15 item 7), or
// when it is dropped or the host stops.
func (s *streamRunner) close() { s.closeOnce.Do(s.release) }

// isClosed reports whether close has run.
func (s *streamRunner) isClosed() bool { return s.closed.Load() }

func (s *streamRunner) release() {
	s.closed.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.mu.Lock()
	stores := slices.Clone(s.stores)
	if s.pending != nil { // made for a capture process that never mapped it
		_ = s.pending.Close()
		s.pending = nil
	}
	s.mu.Unlock()
	for _, c := range s.consumers {
		p := c.process()
		select {
		case <-p.Exited():
			continue
		default:
		}
		if err := p.CloseStream(ctx, s.handle); err != nil {
			s.log.Warn("closing stream on plugin", "plugin", c.name, "error", err)
		}
		for _, st := range stores {
			for _, id := range st.Regions() {
				_ = p.DropRegion(id)
			}
		}
	}
	for _, st := range stores {
		if err := st.Close(); err != nil {
			s.log.Warn("closing frame store", "regions", st.Regions(), "error", err)
		}
	}
}

func (s *streamRunner) componentHealth() model.ComponentHealth {
	h, _ := s.health.Load().(model.Health)
	hint, _ := s.hint.Load().(string)
	if h == model.HealthOK {
		if why := s.pluginTrouble(); why != "" {
			h, hint = model.HealthDegraded, why
		}
	}
	counters := map[string]int64{
		"frames":   s.frames.Load(),
		"dropped":  s.dropped.Load(),
		"media_ns": s.progress.Load(),

		"audio_samples": s.audioSamples.Load(),
		"audio_gaps":    s.audioGaps.Load(),
		"reconnects":    s.reconnects.Load(),
	}
	for _, p := range s.leases() {
		counters["pool_exhausted"] += int64(p.Stats().Exhausted)
	}
	if w, ok := s.cap.(*worker.Worker); ok {
		counters["capture_restarts"] = w.Restarts()
	}
	ac := s.asm.Counters()
	counters["segments_closed"], counters["segments_partial"], counters["late_results"] = ac.Closed, ac.Partial, ac.LateResults
	if s.rules.Len() > 0 {
		counters["rules"], counters["rule_errors"] = int64(s.rules.Len()), s.ruleErrors.Load()
	}
	for _, c := range s.consumers {
		for k, v := range c.counters() {
			counters[fmt.Sprintf("plugin.%s.%s", c.name, k)] = v
		}
	}
	return model.ComponentHealth{Name: s.cfg.ID, Kind: "stream", Health: h, Hint: hint, Counters: counters}
}

// SourceState is capture's callback for a live source's state: the stream's
// health follows it (degraded → recovering → ok), with the reason as hint.
func (s *streamRunner) SourceState(st capture.SourceStatus) {
	switch st.State {
	case capture.SourceOK:
		s.setHealth(model.HealthOK, "")
	case capture.SourceConnecting:
		s.setHealth(model.HealthStarting, "connecting to the source")
	case capture.SourceDegraded:
		hint := "source failed: " + st.Err
		if st.Stalled {
			hint = "source stalled (no data): " + st.Err
		}
		s.setHealth(model.HealthDegraded, hint+"; reconnecting with backoff")
		s.reconnects.Add(1)
	case capture.SourceRecovering:
		s.setHealth(model.HealthRecovering, fmt.Sprintf("reconnecting (attempt %d)", st.Attempt))
	case capture.SourceFailed:
		s.setHealth(model.HealthError, st.Err)
	}
	s.log.Info("source state", "state", st.State, "error", st.Err, "attempt", st.Attempt, "stalled", st.Stalled)
}
