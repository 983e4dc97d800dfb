package host

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/lsie-mlf/lsie/host/capture"
	"github.com/lsie-mlf/lsie/host/config"
	"github.com/lsie-mlf/lsie/host/metrics"
	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/segment"
	"github.com/lsie-mlf/lsie/shm"
)

// streamRunner owns one stream: its capture pipeline, its shared-memory
// regions, its consumers and its segment assembler.
type streamRunner struct {
	cfg      config.Stream
	handle   uint32
	h        *Host
	log      hclog.Logger
	asm      *segment.Assembler
	cap      *capture.Capture
	lossless bool

	ctx    context.Context
	cancel context.CancelFunc

	liveScratch []*consumer
	idScratch   []shm.ConsumerID
	done        chan struct{} // closed when run has returned
	removed     atomic.Bool
	// consumers are in graph order: every producer before its consumers.
	consumers []*consumer
	// routes maps a producer's name and output topic to its consumers.
	routes map[string]map[string][]*consumer

	// Regions are created on the first frame, when the analysis size is
	// known, and again if the size grows; old ones live until the stream ends.
	mu      sync.Mutex
	region  *shm.Region
	pool    *shm.Pool
	retired []*shm.Region
	pools   []*shm.Pool

	// captureToSlot is this stream's latency series in /metrics.
	captureToSlot metrics.Latency

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

// currentRegion is the region new frames are written to, if any yet.
func (s *streamRunner) currentRegion() *shm.Region {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.region
}

// ensureRegion returns a pool whose slots fit size bytes.
func (s *streamRunner) ensureRegion(size int) (*shm.Region, *shm.Pool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.region != nil && s.region.Spec().FrameBytes >= size {
		return s.region, s.pool, nil
	}
	spec := shm.RegionSpec{Slots: shm.PoolSlots(s.windows()), FrameBytes: size}
	r, err := shm.CreateRegion(s.h.nextRegionID(), "lsie-"+s.cfg.ID, spec)
	if err != nil {
		return nil, nil, err
	}
	for _, c := range s.consumers {
		if !c.wantsVideo || c.isDead() {
			continue // a restarted plugin gets the current region when it revives
		}
		if err := c.process().SendRegion(r); err != nil {
			s.log.Error("sending region to plugin", "plugin", c.name, "error", err)
		}
	}
	if s.region != nil {
		s.retired = append(s.retired, s.region)
	}
	s.region, s.pool = r, shm.NewPool(r)
	s.pools = append(s.pools, s.pool)
	s.log.Debug("region created", "region", r.ID(), "slots", spec.Slots, "frame_bytes", size)
	return s.region, s.pool, nil
}

// Frame is capture's callback: one copy into a slot, then descriptors out.
func (s *streamRunner) Frame(f *capture.Frame) {
	arrived := time.Now()
	s.markStarted()
	pts := f.PTS
	size := f.Stride * f.Height
	region, pool, err := s.ensureRegion(size)
	if err != nil {
		s.log.Error("creating shared-memory region", "error", err)
		s.dropped.Add(1)
		s.asm.Dropped(pts)
		return
	}
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
	dst := region.BeginWrite(slot)
	copy(dst[:size], f.Data)
	gen := region.EndWrite(slot, s.handle, f.Seq, int64(pts), size)
	s.frames.Add(1)
	s.asm.Frame(pts)

	// Scratch reused frame after frame: capture never calls Frame
	// concurrently for one stream, and Publish copies the ids it keeps.
	live, ids := s.liveScratch[:0], s.idScratch[:0]
	for _, c := range s.consumers {
		if !c.wantsVideo {
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
	pool.Publish(slot, gen, ids, now.Add(s.h.opts.LeaseTimeout))
	// capture→slot: from the frame leaving the pipeline to its descriptor
	// being publishable (slot wait, copy, seal).
	s.captureToSlot.Observe(now.Sub(arrived))
	ref := frameRef{pool: pool, desc: shm.Descriptor{
		Stream: s.handle, Region: region.ID(), Slot: uint32(slot), Memory: shm.MemoryHost,
		Format: shm.FormatRGB24, Width: uint32(f.Width), Height: uint32(f.Height), Stride: uint32(f.Stride),
		Generation: gen, Seq: f.Seq, PTS: int64(pts),
	}}
	s.liveScratch, s.idScratch = live, ids
	for _, c := range live {
		c.offer(s.ctx, ref, s.lossless)
	}
}

// Progress is capture's callback for time-line progress.
func (s *streamRunner) Progress(t time.Duration) {
	s.markStarted()
	s.progress.Store(int64(t))
	s.asm.Progress(t)
}

// run captures until the source ends, fails, or ctx is cancelled, then
// drains the plugins and closes the remaining segments.
func (s *streamRunner) run(ctx context.Context) {
	if !s.cfg.Source.Live() {
		s.setHealth(model.HealthOK, "")
	}
	err := s.cap.Run(ctx)
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
	for _, c := range s.consumers {
		c.stopMessages()
	}
	if reason == model.ReasonEndOfStream {
		s.setHealth(model.HealthEnded, "end of stream")
	} else if reason == model.ReasonShutdown {
		s.setHealth(model.HealthEnded, "host shutting down")
	} else if reason == model.ReasonRemoved {
		s.setHealth(model.HealthEnded, "stream removed")
	}
	s.log.Info("stream finished", "reason", reason, "frames", s.frames.Load(), "dropped", s.dropped.Load())
}

// close releases the stream's plugins and regions.
func (s *streamRunner) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.mu.Lock()
	regions := append(s.retired, s.region)
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
		for _, r := range regions {
			if r != nil {
				_ = p.DropRegion(r.ID())
			}
		}
	}
	for _, p := range s.pools {
		_ = p.Close()
	}
	for _, r := range regions {
		if r != nil {
			_ = r.Close()
		}
	}
}

func (s *streamRunner) componentHealth() model.ComponentHealth {
	h, _ := s.health.Load().(model.Health)
	hint, _ := s.hint.Load().(string)
	counters := map[string]int64{
		"frames":   s.frames.Load(),
		"dropped":  s.dropped.Load(),
		"media_ns": s.progress.Load(),

		"audio_samples": s.audioSamples.Load(),
		"audio_gaps":    s.audioGaps.Load(),
		"reconnects":    s.reconnects.Load(),
	}
	s.mu.Lock()
	for _, p := range s.pools {
		counters["pool_exhausted"] += int64(p.Stats().Exhausted)
	}
	s.mu.Unlock()
	ac := s.asm.Counters()
	counters["segments_closed"], counters["segments_partial"], counters["late_results"] = ac.Closed, ac.Partial, ac.LateResults
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
