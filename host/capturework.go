package host

import (
	"context"
	"fmt"
	"time"

	"github.com/lsie-mlf/lsie/host/capture"
	"github.com/lsie-mlf/lsie/host/capture/worker"
	"github.com/lsie-mlf/lsie/host/motion"
	"github.com/lsie-mlf/lsie/shm"
)

// capturer runs a stream's capture: in this process (capture.Capture: GPU
// streams, or Options.CaptureWorker unset) or in a worker process of its
// own (worker.Worker, docs/CAPTURE.md).
type capturer interface {
	Run(ctx context.Context) error
	WallAnchor() time.Time
}

// The streamRunner is a worker's Sink: the callbacks of capture.Handler
// (Frame aside) plus frames the worker writes in place.
var _ worker.Sink = (*streamRunner)(nil)

// newWorker builds the capture worker of a host-memory stream.
func (s *streamRunner) newWorker(cfg capture.Config) capturer {
	return worker.New(worker.Config{StreamID: cfg.StreamID, Handle: s.handle, Source: cfg.Source, FPS: cfg.FPS,
		MaxWidth: cfg.MaxWidth, Realtime: cfg.Realtime, Loop: cfg.Loop, Reconnect: cfg.Reconnect,
		LogLevel: s.h.opts.CaptureLogLevel, LogJSON: s.h.opts.CaptureLogJSON},
		s, worker.Options{Spares: s.h.spares, Logger: s.log})
}

// FrameRegion makes an unsealed memfd store for the worker's frames; it
// becomes the stream's current store once the worker has mapped it.
func (s *streamRunner) FrameRegion(width, height, stride int) (*shm.Region, *shm.Pool, error) {
	slots := shm.PoolSlots(s.windows()) + worker.Credits - 1 // the worker holds its credits
	r, err := shm.CreateRegionUnsealed(s.h.nextRegionID(), "lsie-"+s.cfg.ID, shm.RegionSpec{Slots: slots, FrameBytes: stride * height})
	if err != nil {
		return nil, nil, err
	}
	st := &memfdStore{r: r, leases: shm.NewPool(r)}
	s.mu.Lock()
	s.pending = st
	s.mu.Unlock()
	s.log.Debug("frame store created for the capture process", "region", r.ID(), "slots", slots, "size", fmt.Sprintf("%dx%d", width, height))
	return r, st.leases, nil
}

// RegionReady seals the worker's region against any further writer and
// hands it to the video consumers before any frame of it.
func (s *streamRunner) RegionReady(r *shm.Region) error {
	if err := r.Seal(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.pending
	if st == nil || st.r != r {
		return fmt.Errorf("region %d is not the one made for the capture process", r.ID())
	}
	s.pending = nil
	s.announceLocked(st)
	return nil
}

// Written publishes a frame the worker wrote into its granted slot.
func (s *streamRunner) Written(pool *shm.Pool, slot int, gen uint64, f worker.FrameMeta) {
	arrived := time.Now()
	s.markStarted()
	// The worker writes only into the current store: the one it mapped
	// last, a memfd store (RegionReady).
	store := s.currentStore().(*memfdStore)
	desc := store.descriptor(slot, gen, s.handle, f.Width, f.Height, f.Stride, f.Seq, f.PTS)
	s.frames.Add(1)
	s.asm.Frame(f.PTS)
	var sc motion.Scores
	if s.motion != nil {
		sc = s.motion.RGB(store.r.Bytes(slot), f.Width, f.Height, f.Stride)
	}
	s.publish(store, pool, slot, desc, arrived, sc)
}

// Dropped records a live frame the worker had no slot for.
func (s *streamRunner) Dropped(pts time.Duration) {
	s.markStarted()
	s.dropped.Add(1)
	s.asm.Dropped(pts)
}
