// Package enrich runs asynchronous context-enrichment jobs (keywords,
// language, statistics) on closed segments and saves each job's result
// through a Sink. Jobs are retried with exponential backoff; the host's
// segment path never waits for them (Submit does not block).
package enrich

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
)

// Result statuses of a saved Enrichment.
const (
	StatusOK     = "ok"
	StatusFailed = "failed"
)

// Job is one kind of enrichment. Run must not modify seg (it is shared by
// all jobs of the segment) and should return when ctx is done.
type Job struct {
	Kind string
	Run  func(ctx context.Context, seg model.Segment) (json.RawMessage, error)
}

// Sink stores a job's final result (store.Store implements it).
type Sink interface {
	// SaveEnrichment saves e on the segment (streamID, index) of run runID.
	SaveEnrichment(ctx context.Context, streamID string, index int64, runID string, e model.Enrichment) error
}

// Config tunes a Runner. Zero fields take the defaults.
type Config struct {
	// Workers is the number of segments processed concurrently (1).
	Workers int
	// Attempts bounds the runs of a job, and separately the saves of its
	// result (4).
	Attempts int
	// Queue is how many submitted segments may wait (256).
	Queue int
	// Backoff is the delay before the first retry (500 ms); each further
	// retry doubles it, up to MaxBackoff (30 s).
	Backoff, MaxBackoff time.Duration
	// DrainTimeout bounds how long Close waits for queued segments (30 s).
	DrainTimeout time.Duration
}

// WithDefaults returns c with zero (or negative) fields set to the defaults.
func (c Config) WithDefaults() Config {
	if c.Workers <= 0 {
		c.Workers = 1
	}
	if c.Attempts <= 0 {
		c.Attempts = 4
	}
	if c.Queue <= 0 {
		c.Queue = 256
	}
	if c.Backoff <= 0 {
		c.Backoff = 500 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 30 * time.Second
	}
	c.MaxBackoff = max(c.MaxBackoff, c.Backoff)
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 30 * time.Second
	}
	return c
}

// Counters are a Runner's counts since New (Runner.Stats).
type Counters struct {
	// Submitted counts segments accepted by Submit.
	Submitted int64 `json:"submitted"`
	// Done and Failed count saved results with status ok and failed.
	Done   int64 `json:"done"`
	Failed int64 `json:"failed"`
	// Retries counts re-runs of jobs; SinkRetries re-tried saves.
	Retries     int64 `json:"retries"`
	SinkRetries int64 `json:"sink_retries"`
	// Dropped counts segments never processed: refused by Submit (queue
	// full, or Close called) or still queued when the runner stopped.
	Dropped int64 `json:"dropped"`
	// Lost counts job results not saved: the sink failed Attempts times,
	// or the runner stopped first.
	Lost int64 `json:"lost"`
}

// permanent marks an error that retrying cannot fix.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent wraps err so the Runner saves the job as failed without
// retrying it.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// Runner runs the jobs on submitted segments with a fixed set of workers.
type Runner struct {
	jobs []Job
	sink Sink
	cfg  Config
	log  hclog.Logger

	queue chan model.Segment

	mu      sync.RWMutex // guards closed and started against Submit's send
	closed  bool
	started bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	closeOnce sync.Once
	closeErr  error

	submitted, done, failed, retries, sinkRetries, dropped, lost atomic.Int64

	// Replaceable in tests: the clock stamped on results, the wait between
	// attempts and the jitter fraction in [0, 1).
	now    func() time.Time
	sleep  func(ctx context.Context, d time.Duration) error
	jitter func() float64
}

// New returns a Runner for jobs saving into sink; call Start to run it. A
// nil log discards.
func New(jobs []Job, sink Sink, cfg Config, log hclog.Logger) *Runner {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	cfg = cfg.WithDefaults()
	return &Runner{
		jobs:   append([]Job(nil), jobs...),
		sink:   sink,
		cfg:    cfg,
		log:    log,
		queue:  make(chan model.Segment, cfg.Queue),
		ctx:    context.Background(),
		cancel: func() {},
		now:    time.Now,
		sleep:  sleepCtx,
		jitter: rand.Float64,
	}
}

// Start launches the workers. They stop when ctx is done (abandoning
// waits, retries and queued segments) or when Close has drained the queue.
// Calls after the first, or after Close, do nothing.
func (r *Runner) Start(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started || r.closed {
		return
	}
	r.started = true
	r.ctx, r.cancel = context.WithCancel(ctx)
	for range r.cfg.Workers {
		r.wg.Add(1)
		go r.worker()
	}
}

// Submit queues seg for enrichment without blocking. It returns false, and
// counts a drop, when the queue is full or the Runner is closed.
func (r *Runner) Submit(seg model.Segment) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		r.dropped.Add(1)
		return false
	}
	select {
	case r.queue <- seg:
		r.submitted.Add(1)
		return true
	default:
		r.dropped.Add(1)
		r.log.Warn("enrichment queue full, segment dropped", "stream", seg.StreamID, "segment", seg.Index, "queue", r.cfg.Queue)
		return false
	}
}

// Close refuses further segments, lets the workers finish what is queued
// for up to DrainTimeout, then stops them. It returns an error when the
// bound was reached; segments left queued count as dropped. Safe to call
// more than once (later calls return the first call's result).
func (r *Runner) Close() error {
	r.closeOnce.Do(func() {
		r.mu.Lock()
		r.closed = true
		close(r.queue)
		started := r.started
		r.mu.Unlock()
		if started {
			done := make(chan struct{})
			go func() { r.wg.Wait(); close(done) }()
			timer := time.NewTimer(r.cfg.DrainTimeout)
			select {
			case <-done:
				timer.Stop()
			case <-timer.C:
				r.cancel()
				<-done
				r.closeErr = fmt.Errorf("enrich: queue not drained within %s", r.cfg.DrainTimeout)
			}
			r.cancel()
		}
		// Whatever is still queued (runner never started, stopped by its
		// context or by the bound) will not be processed.
		var left int64
		for range r.queue {
			left++
		}
		if left > 0 {
			r.dropped.Add(left)
			r.log.Warn("enrichment stopped with segments queued", "dropped", left)
		}
	})
	return r.closeErr
}

// Stats returns a snapshot of the counters.
func (r *Runner) Stats() Counters {
	return Counters{
		Submitted:   r.submitted.Load(),
		Done:        r.done.Load(),
		Failed:      r.failed.Load(),
		Retries:     r.retries.Load(),
		SinkRetries: r.sinkRetries.Load(),
		Dropped:     r.dropped.Load(),
		Lost:        r.lost.Load(),
	}
}

func (r *Runner) worker() {
	defer r.wg.Done()
	for {
		// Checked first so a cancelled runner does not pick up more work
		// while the queue still holds some.
		if r.ctx.Err() != nil {
			return
		}
		select {
		case <-r.ctx.Done():
			return
		case seg, ok := <-r.queue:
			if !ok {
				return
			}
			r.process(seg)
		}
	}
}

// process runs every job on seg and saves each result.
func (r *Runner) process(seg model.Segment) {
	for _, job := range r.jobs {
		e, ok := r.runJob(job, seg)
		if !ok {
			r.lost.Add(1)
			continue
		}
		r.save(seg, e)
	}
}

// runJob runs job until it succeeds, fails permanently or has run Attempts
// times. ok is false when the runner stopped before there was a result.
func (r *Runner) runJob(job Job, seg model.Segment) (e model.Enrichment, ok bool) {
	for attempt := 1; ; attempt++ {
		res, err := r.call(job, seg)
		if r.ctx.Err() != nil {
			// The error (if any) is likely the cancellation itself, not the
			// job's: do not record it as the job's outcome.
			return e, false
		}
		if err == nil {
			return model.Enrichment{Kind: job.Kind, Status: StatusOK, Result: res, Attempts: attempt, At: r.now()}, true
		}
		var perm permanent
		if attempt >= r.cfg.Attempts || errors.As(err, &perm) {
			r.log.Warn("enrichment job failed", "kind", job.Kind, "stream", seg.StreamID, "segment", seg.Index, "attempts", attempt, "error", err)
			return model.Enrichment{Kind: job.Kind, Status: StatusFailed, Error: err.Error(), Attempts: attempt, At: r.now()}, true
		}
		r.retries.Add(1)
		d := r.backoff(attempt)
		r.log.Debug("enrichment job failed, retrying", "kind", job.Kind, "segment", seg.Index, "attempt", attempt, "in", d, "error", err)
		if r.sleep(r.ctx, d) != nil {
			return e, false
		}
	}
}

// call runs the job, turning a panic and an invalid JSON result into
// permanent errors (a rerun would do the same).
func (r *Runner) call(job Job, seg model.Segment) (res json.RawMessage, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, Permanent(fmt.Errorf("job panicked: %v", p))
		}
	}()
	res, err = job.Run(r.ctx, seg)
	if err == nil && res != nil && !json.Valid(res) {
		return nil, Permanent(errors.New("job returned invalid JSON"))
	}
	return res, err
}

// save hands e to the sink, retrying with backoff up to Attempts times.
func (r *Runner) save(seg model.Segment, e model.Enrichment) {
	for attempt := 1; ; attempt++ {
		err := r.sink.SaveEnrichment(r.ctx, seg.StreamID, seg.Index, seg.RunID, e)
		if err == nil {
			if e.Status == StatusOK {
				r.done.Add(1)
			} else {
				r.failed.Add(1)
			}
			return
		}
		if attempt >= r.cfg.Attempts || r.ctx.Err() != nil {
			r.lost.Add(1)
			r.log.Error("enrichment result not saved", "kind", e.Kind, "stream", seg.StreamID, "segment", seg.Index, "attempts", attempt, "error", err)
			return
		}
		r.sinkRetries.Add(1)
		d := r.backoff(attempt)
		r.log.Debug("saving enrichment failed, retrying", "kind", e.Kind, "segment", seg.Index, "attempt", attempt, "in", d, "error", err)
		if r.sleep(r.ctx, d) != nil {
			r.lost.Add(1)
			return
		}
	}
}

func (r *Runner) backoff(attempt int) time.Duration {
	return backoffDelay(attempt, r.cfg.Backoff, r.cfg.MaxBackoff, r.jitter())
}

// backoffDelay is the wait after the attempt-th failure: d = base·2^(attempt-1)
// capped at maxd, then "equal jitter": d/2 + u·d/2 for u in [0, 1), so
// retries of many segments failing together spread out but never wait less
// than half the nominal delay.
func backoffDelay(attempt int, base, maxd time.Duration, u float64) time.Duration {
	d := base
	for i := 1; i < attempt && d < maxd; i++ {
		d *= 2
	}
	d = min(d, maxd)
	return d/2 + time.Duration(u*float64(d/2))
}

// sleepCtx waits d or until ctx is done (then returns its error).
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
