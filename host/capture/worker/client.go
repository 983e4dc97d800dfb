package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/lsie-mlf/lsie/host/capture"
	"github.com/lsie-mlf/lsie/shm"
)

// endGrace is how long a capture process that reported its end may take
// to exit before it is killed.
const endGrace = 10 * time.Second

// Credits is how many slots a worker holds granted at once: one being
// written, one for the next frame, so the grant's round trip overlaps it.
const Credits = 2

// FrameMeta describes a frame a worker wrote.
type FrameMeta struct {
	Width, Height, Stride int
	Seq                   uint64
	PTS                   time.Duration
}

// Sink is the host's side of a worker: the stream's callbacks, with frames
// written in place.
type Sink interface {
	capture.Handler // Frame is never called: frames arrive through Written
	capture.AudioHandler
	capture.NoVideoHandler
	capture.StateHandler
	// FrameRegion returns a new, unsealed region (and its pool) for frames
	// of stride×height bytes; the old one stays until the stream ends.
	FrameRegion(width, height, stride int) (*shm.Region, *shm.Pool, error)
	// RegionReady: the worker mapped r; seal it and hand it to plugins.
	RegionReady(r *shm.Region) error
	// Written publishes the frame the worker wrote into slot of pool.
	Written(pool *shm.Pool, slot int, gen uint64, f FrameMeta)
	// Dropped records a live frame that found no slot.
	Dropped(pts time.Duration)
}

// Options configure a worker.
type Options struct {
	// Spares starts the capture processes (the host's one set).
	Spares *Spares
	Logger hclog.Logger
	// Restart: the wait after a worker of a live source died, doubling
	// per consecutive death up to 30 s.
	Restart time.Duration
}

// Worker runs one stream's capture in a child process, restarting it (live
// sources) when it dies. Run once.
type Worker struct {
	cfg  Config
	opts Options
	sink Sink
	log  hclog.Logger

	anchor atomic.Pointer[time.Time]
	// Restarts counts workers that died and were replaced.
	restarts atomic.Int64

	// The time line across workers: a restarted worker starts at media time
	// 0 with its own anchor; its times are shifted by the anchors'
	// difference (a live source follows the wall clock), its seqs past the
	// last one, and the hole between is an audio gap.
	offset      time.Duration
	seqBase     uint64
	lastSeq     uint64
	audioEnd    int64 // sample after the last chunk or gap delivered
	progressed  time.Duration
	sawAudio    bool
	childAnchor time.Time
}

// New prepares a worker for cfg; nothing starts until Run.
func New(cfg Config, sink Sink, opts Options) *Worker {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.Restart == 0 {
		opts.Restart = time.Second
	}
	return &Worker{cfg: cfg, opts: opts, sink: sink, log: opts.Logger}
}

// WallAnchor is the wall time at media time 0 (zero until known).
func (w *Worker) WallAnchor() time.Time {
	if a := w.anchor.Load(); a != nil {
		return *a
	}
	return time.Time{}
}

// Restarts is how many times a dead worker was replaced.
func (w *Worker) Restarts() int64 { return w.restarts.Load() }

// Run captures until the source ends, fails, or ctx is cancelled. A worker
// that dies (a crash in GStreamer, an abort on odd media) ends a file
// stream with a SourceError saying so; a live source's worker is started
// again with backoff, the hole recorded as for a reconnect.
func (w *Worker) Run(ctx context.Context) error {
	wait := w.opts.Restart
	for attempt := 0; ; attempt++ {
		ended, died, err := w.runOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if ended {
			return err
		}
		if !w.cfg.Source.Live() && !(w.cfg.Realtime && w.cfg.Source.Kind == "test") {
			return &capture.SourceError{StreamID: w.cfg.StreamID, Message: "the capture process died: " + died}
		}
		w.restarts.Add(1)
		w.log.Error("capture process died; starting another", "stream", w.cfg.StreamID, "status", died, "wait", wait)
		w.sink.SourceState(capture.SourceStatus{State: capture.SourceDegraded, Err: "capture process died: " + died, Attempt: attempt + 1})
		d := time.Duration(float64(wait) * (0.8 + 0.4*rand.Float64()))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(d):
		}
		wait = min(2*wait, 30*time.Second)
		w.sink.SourceState(capture.SourceStatus{State: capture.SourceRecovering, Attempt: attempt + 1})
	}
}

// runOnce runs one worker process. ended: it reported the end of Run
// (err is that end); otherwise it died, and died says how.
func (w *Worker) runOnce(ctx context.Context) (ended bool, died string, err error) {
	p, err := w.opts.Spares.take()
	if err != nil {
		return true, "", fmt.Errorf("stream %q: starting the capture process: %w", w.cfg.StreamID, err)
	}
	hostEnd, cmd, exited, tail := p.conn, p.cmd, p.exited, p.tail
	defer hostEnd.Close()
	stop := context.AfterFunc(ctx, func() { hostEnd.Close() }) // the worker exits on EOF
	defer stop()
	cfg := w.cfg
	b, _ := json.Marshal(cfg)
	if _, err := hostEnd.Write(append([]byte{msgConfig}, b...)); err != nil {
		<-exited
		return false, "no config taken: " + err.Error(), nil
	}
	s := &session{w: w, conn: hostEnd, outstanding: map[int]bool{}, credit: make(chan struct{}, Credits)}
	end, rerr := s.read(ctx)
	s.close()
	if ctx.Err() != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		return true, "", nil
	}
	if end != nil {
		// The end is said; what is left is the process's own teardown,
		// which must not hold the stream's end up (a GStreamer element
		// that hangs in its stop).
		select {
		case <-exited:
		case <-time.After(endGrace):
			w.log.Warn("capture process still running after its end; killing it", "stream", w.cfg.StreamID)
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		return true, "", end.err()
	}
	// Died, or broke the protocol: make sure it is gone.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-exited
	status := cmd.ProcessState.String()
	if rerr != nil {
		status = rerr.Error() + " (" + status + ")"
	}
	if t := strings.TrimSpace(tail.String()); t != "" {
		status += "; last output: " + lastLines(t, 3)
	}
	return false, status, nil
}

// session is one worker process's protocol state, owned by its reader.
type session struct {
	w    *Worker
	conn *net.UnixConn

	mu          sync.Mutex
	region      *shm.Region
	pool        *shm.Pool
	regionStop  context.CancelFunc
	outstanding map[int]bool // slots granted, not written
	credit      chan struct{}
	granter     sync.WaitGroup
}

// read handles the worker's messages until it ends, dies or breaks the
// protocol (an error).
func (s *session) read(ctx context.Context) (*endMsg, error) {
	w := s.w
	buf := make([]byte, 64<<10)
	for {
		n, fds, err := shm.RecvFDs(s.conn, buf)
		for _, fd := range fds {
			_ = syscall.Close(fd) // a worker sends none
		}
		if err != nil && !errors.Is(err, io.EOF) && ctx.Err() == nil {
			return nil, err
		}
		if err != nil || n == 0 {
			return nil, nil
		}
		m := buf[:n]
		switch m[0] {
		case msgAnchor:
			v, err := decodeI64(m)
			if err != nil {
				return nil, err
			}
			a := time.Unix(0, v)
			s.w.restarted(a)
		case msgFrame:
			f, err := decodeFrame(m)
			if err != nil {
				return nil, err
			}
			if err := s.written(f); err != nil {
				return nil, err
			}
		case msgDropped:
			v, err := decodeI64(m)
			if err != nil {
				return nil, err
			}
			w.sink.Dropped(time.Duration(v) + w.offset)
		case msgNeed:
			g, err := decodeGeometry(m)
			if err != nil {
				return nil, err
			}
			if err := s.newRegion(g); err != nil {
				return nil, err
			}
		case msgMapped:
			id, _, err := decodeU32(m)
			if err != nil {
				return nil, err
			}
			if err := s.mapped(ctx, id); err != nil {
				return nil, err
			}
		case msgAudio:
			c, err := decodeAudio(m)
			if err != nil {
				return nil, err
			}
			w.audio(&c)
		case msgGap:
			var g capture.AudioGap
			if err := json.Unmarshal(m[1:], &g); err != nil {
				return nil, fmt.Errorf("gap message: %w", err)
			}
			w.gap(g)
		case msgNoAudio:
			w.sink.NoAudio()
		case msgNoVideo:
			w.sink.NoVideo()
		case msgProgress:
			v, err := decodeI64(m)
			if err != nil {
				return nil, err
			}
			w.progressed = max(w.progressed, time.Duration(v)+w.offset)
			w.sink.Progress(time.Duration(v) + w.offset)
		case msgState:
			var st capture.SourceStatus
			if err := json.Unmarshal(m[1:], &st); err != nil {
				return nil, fmt.Errorf("state message: %w", err)
			}
			w.sink.SourceState(st)
		case msgEnd:
			var e endMsg
			if err := json.Unmarshal(m[1:], &e); err != nil {
				return nil, fmt.Errorf("end message: %w", err)
			}
			return &e, nil
		default:
			return nil, fmt.Errorf("unknown message %q from the capture process", m[0])
		}
	}
}

// restarted takes a worker's anchor: the first sets the stream's; a later
// one (a restarted worker) shifts its time line onto the stream's and
// records the hole as an audio gap.
func (w *Worker) restarted(a time.Time) {
	if w.anchor.Load() == nil {
		w.anchor.Store(&a)
		w.childAnchor = a
		return
	}
	if a.Equal(w.childAnchor) {
		return
	}
	w.childAnchor = a
	w.offset = max(a.Sub(*w.anchor.Load()), w.progressed)
	w.seqBase = w.lastSeq + 1
	if w.sawAudio {
		first := sampleAt(w.offset)
		if first > w.audioEnd {
			w.sink.AudioGap(capture.AudioGap{FirstSample: w.audioEnd, Samples: first - w.audioEnd,
				PTS: sampleTime(w.audioEnd), Reason: capture.GapReconnect})
			w.audioEnd = first
		}
	}
}

func sampleAt(t time.Duration) int64 {
	return int64((t*capture.AudioRate + time.Second - 1) / time.Second)
}

func sampleTime(n int64) time.Duration { return time.Duration(n) * time.Second / capture.AudioRate }

// shift moves a restarted worker's sample onto the stream's sample line.
func (w *Worker) shift(first int64) int64 { return first + sampleAt(w.offset) }

func (w *Worker) audio(c *capture.AudioChunk) {
	w.sawAudio = true
	c.FirstSample = w.shift(c.FirstSample)
	if c.FirstSample < w.audioEnd { // never back: cut what the hole's gap covers
		skip := int(w.audioEnd - c.FirstSample)
		if skip >= c.Samples {
			return
		}
		c.Data, c.Samples, c.FirstSample = c.Data[2*skip:], c.Samples-skip, w.audioEnd
	}
	c.PTS = sampleTime(c.FirstSample)
	w.audioEnd = c.FirstSample + int64(c.Samples)
	w.sink.Audio(c)
}

func (w *Worker) gap(g capture.AudioGap) {
	w.sawAudio = true
	g.FirstSample = w.shift(g.FirstSample)
	if end := g.FirstSample + g.Samples; g.FirstSample < w.audioEnd {
		if end <= w.audioEnd {
			return
		}
		g.FirstSample, g.Samples = w.audioEnd, end-w.audioEnd
	}
	g.PTS = sampleTime(g.FirstSample)
	w.audioEnd = g.FirstSample + g.Samples
	w.sink.AudioGap(g)
}

// newRegion gives back the slots granted in the current region (the worker
// is done with it) and sends a new one.
func (s *session) newRegion(g geometry) error {
	s.dropRegion()
	r, pool, err := s.w.sink.FrameRegion(int(g.width), int(g.height), int(g.stride))
	if err != nil {
		return fmt.Errorf("frame region: %w", err)
	}
	s.mu.Lock()
	s.region, s.pool = r, pool
	s.mu.Unlock()
	return shm.SendFDs(s.conn, regionMsg(r.ID(), r.Spec()), r.Fd())
}

// mapped seals the region the worker mapped, hands it to plugins and starts
// granting its slots.
func (s *session) mapped(ctx context.Context, id uint32) error {
	s.mu.Lock()
	r, pool := s.region, s.pool
	s.mu.Unlock()
	if r == nil || r.ID() != id {
		return fmt.Errorf("the capture process mapped region %d, not the one sent", id)
	}
	if err := s.w.sink.RegionReady(r); err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(ctx)
	s.mu.Lock()
	s.regionStop = cancel
	s.mu.Unlock()
	for range Credits {
		s.credit <- struct{}{}
	}
	s.granter.Add(1)
	go s.grant(rctx, r, pool)
	return nil
}

// grant lends the worker a free slot for each credit: in lossless mode it
// waits for one (backpressure reaches the worker, which waits for its
// grant); live, the worker drops frames meanwhile.
func (s *session) grant(ctx context.Context, r *shm.Region, pool *shm.Pool) {
	defer s.granter.Done()
	for {
		select {
		case <-s.credit:
		case <-ctx.Done():
			return
		}
		slot, err := pool.Acquire(ctx)
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.region != r || ctx.Err() != nil {
			s.mu.Unlock()
			pool.Abandon(slot)
			return
		}
		s.outstanding[slot] = true
		s.mu.Unlock()
		if _, err := s.conn.Write(u32Msg(msgGrant, r.ID(), uint32(slot))); err != nil {
			return // the worker is gone; close abandons the slot
		}
	}
}

// written checks and publishes a frame the worker wrote.
func (s *session) written(f frameMsg) error {
	s.mu.Lock()
	r, pool := s.region, s.pool
	ok := r != nil && r.ID() == f.region && s.outstanding[int(f.slot)]
	if ok {
		delete(s.outstanding, int(f.slot))
	}
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("the capture process wrote slot %d of region %d, which it was not lent", f.slot, f.region)
	}
	if gen := r.Generation(int(f.slot)); gen != f.gen || gen&1 != 0 || uint64(f.stride)*uint64(f.height) > uint64(r.Spec().FrameBytes) {
		pool.Abandon(int(f.slot))
		return fmt.Errorf("the capture process reported slot %d at generation %d (it is at %d), %dx%d", f.slot, f.gen, gen, f.width, f.height)
	}
	w := s.w
	seq := w.seqBase + f.seq
	w.lastSeq = seq
	w.sink.Written(pool, int(f.slot), f.gen, FrameMeta{Width: int(f.width), Height: int(f.height), Stride: int(f.stride),
		Seq: seq, PTS: time.Duration(f.pts) + w.offset})
	select {
	case s.credit <- struct{}{}:
	default:
	}
	return nil
}

// dropRegion stops granting the current region's slots and takes back
// those granted and not written.
func (s *session) dropRegion() {
	s.mu.Lock()
	stop, pool := s.regionStop, s.pool
	s.regionStop, s.region = nil, nil
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
	s.granter.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	for slot := range s.outstanding {
		pool.Abandon(slot)
	}
	clear(s.outstanding)
	for len(s.credit) > 0 {
		<-s.credit
	}
}

func (s *session) close() { s.dropRegion() }

// tailBuffer keeps the last bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
