// Package capture runs one GStreamer (go-gst) pipeline per stream source and
// delivers RGB analysis frames, timestamped on the stream's time line
// (Contract 0 in docs/ARCHITECTURE.md), to a Handler.
//
// Pipelines are built element by element from a source.Spec:
//
//	file: filesrc ! decodebin ─(first video pad)→ analysis branch; other pads → fakesink
//	test: videotestsrc ! capsfilter → analysis branch
//	analysis branch: [clocksync, realtime files] ! [queue leaky, realtime] ! videorate max-rate
//	                 ! videoscale ! videoconvert ! capsfilter RGB WxH ! appsink
//
// Realtime (live) captures are paced like a camera and never block; lossless
// captures run as fast as the handler allows and deliver every analysis frame.
package capture

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-gst/go-gst/gst"
	"github.com/go-gst/go-gst/gst/app"
	"github.com/hashicorp/go-hclog"

	"github.com/lsie-mlf/lsie/host/source"
)

// Config describes one capture.
type Config struct {
	// StreamID names the stream in logs and errors.
	StreamID string
	// Source is the parsed source to read.
	Source source.Spec
	// FPS is the maximum analysis frame rate; the source keeps its own rate.
	FPS int
	// MaxWidth scales frames down to this width keeping aspect (even sizes),
	// never up; 0 keeps the source width.
	MaxWidth int
	// Realtime paces the capture like a camera (files play at their natural
	// rate, test sources are live) and never blocks on the handler. When
	// false the capture is lossless: as fast as possible, with blocking
	// backpressure from the handler.
	Realtime bool
	// Loop replays a file source forever; the time line never goes back.
	// It is ignored for other sources.
	Loop bool
	// Logger receives the capture's logs; nil discards them.
	Logger hclog.Logger
}

// Frame is one analysis frame.
type Frame struct {
	// Data holds RGB24 pixels, Stride bytes per row. It aliases the mapped
	// GstBuffer and is valid only during the Frame callback.
	Data []byte
	// Width, Height and Stride describe Data.
	Width, Height, Stride int
	// PTS is the frame's media time on the stream's time line.
	PTS time.Duration
	// Seq counts analysis frames from 0.
	Seq uint64
}

// Handler consumes a capture's frames and time line progress. Calls to one
// handler never overlap.
type Handler interface {
	// Frame is called on the streaming thread for each analysis frame.
	// Lossless mode (Realtime=false): it may block to push back on the
	// pipeline (it must return once the capture's context is cancelled).
	// Live mode: it must not block.
	Frame(f *Frame)
	// Progress says the time line has reached t and no frame before t will
	// follow (after each frame: pts + one analysis frame period; at EOS or a
	// loop seam: the media time reached).
	Progress(t time.Duration)
}

// Stats are a capture's counters.
type Stats struct {
	// Frames is the number of analysis frames delivered to the handler.
	Frames uint64
	// Discarded counts frames dropped because they carried no timestamp or
	// would have moved the time line back.
	Discarded uint64
	// Loops counts completed replays of a looping file.
	Loops int
	// LastPTS is the media time of the last delivered frame.
	LastPTS time.Duration
	// Progress is the last time line progress reported.
	Progress time.Duration
	// Width and Height are the size of the last delivered frame.
	Width, Height int
}

// SourceError is a pipeline error reported by GStreamer.
type SourceError struct {
	StreamID string
	// Element names the GStreamer element that posted the error, if any.
	Element string
	// Message is GStreamer's error message.
	Message string
	// Debug is GStreamer's debug detail.
	Debug string
}

// Error implements error; Debug is left out (it is long), see the field.
func (e *SourceError) Error() string {
	if e.Element != "" {
		return fmt.Sprintf("stream %q: source error from %s: %s", e.StreamID, e.Element, e.Message)
	}
	return fmt.Sprintf("stream %q: source error: %s", e.StreamID, e.Message)
}

// ErrAlreadyRun is returned by Run on a capture already run or closed.
var ErrAlreadyRun = errors.New("capture already run")

var errNoSample = errors.New("no sample")

// busPoll bounds how long Run waits on the bus before checking its context.
const busPoll = 50 * time.Millisecond

var initOnce sync.Once

// initGst initialises GStreamer once per process.
func initGst() { initOnce.Do(func() { gst.Init(nil) }) }

// Capture is one running source pipeline.
type Capture struct {
	cfg    Config
	h      Handler
	log    hclog.Logger
	period time.Duration

	g  *graph
	cf *cframe
	// fr is reused for every frame; only the streaming thread touches it.
	fr Frame

	tl       timeline
	stop     <-chan struct{} // Run's ctx.Done(), set before PLAYING
	asyncErr chan error
	anchor   atomic.Pointer[time.Time]

	runMu       sync.Mutex
	started     bool // Run was called (or Close came first)
	runCancel   context.CancelFunc
	runDone     chan struct{} // closed when Run returns
	releaseOnce sync.Once
}

// New validates cfg and builds the pipeline. Errors name the missing element
// or the bad source. The pipeline does not start until Run.
func New(cfg Config, h Handler) (*Capture, error) {
	if h == nil {
		return nil, fmt.Errorf("stream %q: nil handler", cfg.StreamID)
	}
	if cfg.FPS < 1 || cfg.FPS > 240 {
		return nil, fmt.Errorf("stream %q: fps must be 1..240, got %d", cfg.StreamID, cfg.FPS)
	}
	if cfg.MaxWidth < 0 {
		return nil, fmt.Errorf("stream %q: max width must be >= 0, got %d", cfg.StreamID, cfg.MaxWidth)
	}
	log := cfg.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	log = log.With("stream", cfg.StreamID)
	if cfg.Loop && cfg.Source.Kind != source.KindFile {
		log.Debug("loop ignored: not a file source", "kind", cfg.Source.Kind)
		cfg.Loop = false
	}
	initGst()
	c := &Capture{
		cfg:      cfg,
		h:        h,
		log:      log,
		period:   time.Second / time.Duration(cfg.FPS),
		asyncErr: make(chan error, 1),
		runDone:  make(chan struct{}),
	}
	c.tl.period = c.period
	g, err := c.build()
	if err != nil {
		return nil, fmt.Errorf("stream %q: %w", cfg.StreamID, err)
	}
	c.g = g
	c.cf = newCFrame()
	g.sink.SetCallbacks(&app.SinkCallbacks{NewSampleFunc: c.onSample})
	return c, nil
}

// Run plays the pipeline and blocks until the end of the stream (nil), a
// pipeline error (*SourceError), or ctx is cancelled (nil: a clean stop). The
// pipeline is set to NULL and released before Run returns.
func (c *Capture) Run(ctx context.Context) error {
	c.runMu.Lock()
	if c.started {
		c.runMu.Unlock()
		return ErrAlreadyRun
	}
	c.started = true
	ctx, cancel := context.WithCancel(ctx)
	c.runCancel = cancel
	c.runMu.Unlock()
	defer close(c.runDone)
	defer cancel()
	// Once cancelled, no more frames reach the handler, even before the
	// bus loop notices and stops the pipeline.
	c.stop = ctx.Done()
	defer c.release()

	bus := c.g.pipeline.GetPipelineBus()
	c.log.Debug("starting", "source", c.cfg.Source.URI, "realtime", c.cfg.Realtime, "fps", c.cfg.FPS, "max_width", c.cfg.MaxWidth)
	if err := c.g.pipeline.SetState(gst.StatePlaying); err != nil {
		if msg := bus.TimedPopFiltered(gst.ClockTime(time.Second), gst.MessageError); msg != nil {
			return c.sourceError(msg)
		}
		return &SourceError{StreamID: c.cfg.StreamID, Message: err.Error()}
	}
	for {
		select {
		case <-ctx.Done():
			c.log.Debug("stopped", "frames", c.tl.stats().Frames)
			return nil
		case err := <-c.asyncErr:
			return err
		default:
		}
		msg := bus.TimedPopFiltered(gst.ClockTime(busPoll), gst.MessageEOS|gst.MessageError|gst.MessageWarning)
		if msg == nil {
			continue
		}
		switch msg.Type() {
		case gst.MessageError:
			return c.sourceError(msg)
		case gst.MessageWarning:
			if gerr := msg.ParseWarning(); gerr != nil {
				c.log.Warn("pipeline warning", "element", msg.Source(), "message", gerr.Error(), "debug", gerr.DebugString())
			}
		case gst.MessageEOS:
			reached := c.tl.end(c.passDuration())
			c.progress(reached)
			if !c.cfg.Loop {
				st := c.tl.stats()
				c.log.Debug("end of stream", "frames", st.Frames, "media_time", reached)
				return nil
			}
			if err := c.loop(reached); err != nil {
				return err
			}
		}
	}
}

// loop seeks a finished file back to its start; its running time restarts
// at 0 and media time continues from reached.
func (c *Capture) loop(reached time.Duration) error {
	c.tl.seam(reached)
	c.log.Debug("looping", "offset", reached)
	if !c.g.pipeline.SeekSimple(0, gst.FormatTime, gst.SeekFlagFlush) {
		return &SourceError{StreamID: c.cfg.StreamID, Message: "loop: seek to start failed"}
	}
	return nil
}

// passDuration is the length of the pass that just ended, as the pipeline
// reports it (0 if unknown).
func (c *Capture) passDuration() time.Duration {
	if ok, d := c.g.pipeline.QueryDuration(gst.FormatTime); ok && d > 0 {
		return time.Duration(d)
	}
	return 0
}

func (c *Capture) sourceError(msg *gst.Message) error {
	se := &SourceError{StreamID: c.cfg.StreamID, Element: msg.Source()}
	if gerr := msg.ParseError(); gerr != nil {
		se.Message = gerr.Error()
		se.Debug = gerr.DebugString()
	} else {
		se.Message = "unknown pipeline error"
	}
	c.log.Error("pipeline error", "element", se.Element, "message", se.Message, "debug", se.Debug)
	return se
}

// progress reports that the time line reached t, if that moves it forward.
func (c *Capture) progress(t time.Duration) {
	if c.tl.advance(t) {
		c.h.Progress(t)
	}
}

// fail reports an error found on a streaming thread to Run.
func (c *Capture) fail(err error) {
	select {
	case c.asyncErr <- err:
	default:
	}
}

// onSample runs on the streaming thread for each sample reaching appsink.
func (c *Capture) onSample(_ *app.Sink) gst.FlowReturn {
	select {
	case <-c.stop:
		return gst.FlowFlushing
	default:
	}
	fr, running, timed, err := c.cf.pull(c.g.sinkPtr)
	if err != nil {
		if errors.Is(err, errNoSample) {
			return gst.FlowOK
		}
		c.fail(&SourceError{StreamID: c.cfg.StreamID, Element: "sink", Message: err.Error()})
		return gst.FlowError
	}
	defer c.cf.release()
	if !timed {
		c.tl.discard()
		c.log.Warn("frame without timestamp discarded")
		return gst.FlowOK
	}
	pts, seq, ok := c.tl.frame(running, fr.Width, fr.Height)
	if !ok {
		c.log.Warn("frame would move the time line back; discarded", "pts", pts)
		return gst.FlowOK
	}
	if seq == 0 {
		c.setAnchor(running)
	}
	c.fr = fr
	c.fr.PTS = pts
	c.fr.Seq = seq
	c.h.Frame(&c.fr)
	c.fr.Data = nil
	c.progress(pts + c.period)
	return gst.FlowOK
}

// setAnchor records the wall time of media time 0: for a clocked (realtime)
// pipeline, now minus its running time; else now minus the first frame's.
func (c *Capture) setAnchor(running time.Duration) {
	now := time.Now()
	elapsed := running
	if c.cfg.Realtime {
		if rn, ok := runningNow(c.g.pipelinePtr); ok {
			elapsed = rn
		}
	}
	a := now.Add(-elapsed).Round(0)
	c.anchor.CompareAndSwap(nil, &a)
}

// WallAnchor is the CLOCK_REALTIME time at media time 0: wall time = anchor +
// media time. It is the zero time until the first frame.
func (c *Capture) WallAnchor() time.Time {
	if a := c.anchor.Load(); a != nil {
		return *a
	}
	return time.Time{}
}

// Stats returns the capture's counters.
func (c *Capture) Stats() Stats { return c.tl.stats() }

// Close stops a running capture, waits for Run to return, and releases the
// pipeline. It is safe to call more than once.
func (c *Capture) Close() error {
	c.runMu.Lock()
	if !c.started {
		c.started = true // a later Run returns ErrAlreadyRun
		c.runMu.Unlock()
		c.release()
		return nil
	}
	cancel := c.runCancel
	c.runMu.Unlock()
	if cancel != nil {
		cancel()
		<-c.runDone
	}
	return nil
}

// release sets the pipeline to NULL and drops the Go callbacks GStreamer
// holds, so the pipeline and this Capture can be collected.
func (c *Capture) release() {
	c.releaseOnce.Do(func() {
		if err := c.g.pipeline.SetState(gst.StateNull); err != nil {
			c.log.Warn("set pipeline to NULL", "error", err)
		}
		c.g.disconnect()
		c.cf.free()
	})
}
