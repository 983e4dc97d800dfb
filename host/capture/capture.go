// Package capture runs one GStreamer (go-gst) pipeline per stream source and
// delivers RGB analysis frames and 16 kHz mono PCM audio, timestamped on the
// stream's time line (Contracts 0 and 2 in docs/ARCHITECTURE.md), to a
// Handler.
//
// Pipelines are built element by element from a source.Spec:
//
//	file: filesrc ! decodebin ─(first video pad)→ analysis branch
//	                          ─(first audio pad, AudioHandler)→ audio branch; other pads → fakesink
//	      a still image's pad: [imagefreeze ! capsfilter framerate=Source.ImageFPS →]
//	      analysis branch, or a SourceError (ErrStillImage) without ImageFPS
//	test: videotestsrc ! capsfilter → analysis branch
//	      [audiotestsrc wave=sine ! capsfilter S16LE 16 kHz mono → audio branch]
//	rtsp, rtmp, hls, v4l2: see network.go; decodebin pads as for a file
//	analysis branch: [clocksync, realtime files and rtmp/hls] ! [queue leaky, realtime] ! videorate max-rate
//	                 ! videoscale ! videoconvert ! capsfilter RGB|NV12 WxH ! appsink
//	audio branch: [clocksync, realtime files and rtmp/hls] ! queue [leaky, realtime] ! audioconvert
//	              ! audioresample ! capsfilter S16LE 16 kHz mono ! appsink
//
// A source with audio but no video (a WAV or MP3 file, an audio-only RTMP
// feed or HLS playlist) runs for an AudioHandler: the analysis branch is
// dropped once the source's pads are known, a NoVideoHandler is told
// (NoVideo), and progress follows audio alone. Without audio wanted, such a
// source fails.
//
// Realtime (live) captures are paced like a camera and never block; lossless
// captures run as fast as the handler allows and deliver every analysis frame
// and every audio sample.
//
// Live network and device sources (source.Spec.Live) always run in realtime
// and never end on a source error: Run reports the source degraded, tears
// the pipeline down, waits (Reconnect backoff), rebuilds it and carries on
// with the same time line, which keeps tracking the wall clock: the time the
// source was away is a hole that progress jumps over and audio declares as a
// GapReconnect gap. A stall (no buffer out of the source for
// Reconnect.StallTimeout, measured before any queue so a slow handler is
// never taken for one) is handled like an error.
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
	"github.com/lsie-mlf/lsie/shm"
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
	// Reconnect configures recovery of a live network or device source;
	// the zero value is DefaultReconnect(). File and test sources never
	// reconnect and ignore it.
	Reconnect Reconnect
	// Logger receives the capture's logs; nil discards them.
	Logger hclog.Logger
	// Format is the analysis frames' pixel format: shm.FormatRGB24 (the
	// zero value means it too) or shm.FormatNV12, what the CUDA path uploads.
	Format shm.PixelFormat
	// GPU, with Format NV12, scales and converts on an NVIDIA GPU with
	// GStreamer's nvcodec elements and delivers frames in CUDA memory
	// (Frame.Device); decodebin picks nvh264dec where it ranks first.
	// GPUUsable says whether this machine can.
	GPU *GPU
}

// GPU is the CUDA context GStreamer's nvcodec elements are to share.
type GPU struct {
	Context uintptr // a CUcontext, current on none of capture's threads
	Device  int     // its device ordinal
}

// gpuElements are the nvcodec elements the GPU analysis branch needs.
var gpuElements = []string{"cudaupload", "cudaconvertscale"}

// GPUUsable reports whether the GPU analysis branch can run here: the
// nvcodec plugin registers its elements only when it finds the NVIDIA
// driver, so a missing element says why plainly.
func GPUUsable() error {
	initGst()
	for _, name := range gpuElements {
		if gst.Find(name) == nil {
			return fmt.Errorf("GStreamer element %q is not registered (the nvcodec plugin of gst-plugins-bad 1.22 registers it only where it finds an NVIDIA GPU and driver)", name)
		}
	}
	return nil
}

// Frame is one analysis frame.
type Frame struct {
	// Data holds RGB24 pixels, or NV12's luma plane, Stride bytes per row.
	// It aliases the mapped GstBuffer and is valid only during the Frame
	// callback, as is UV.
	Data []byte
	// Width, Height and Stride describe Data.
	Width, Height, Stride int
	// Format is shm.FormatRGB24 or shm.FormatNV12 (Config.Format).
	Format shm.PixelFormat
	// UV is NV12's interleaved chroma plane, (Height+1)/2 rows of UVStride
	// bytes; nil for RGB24.
	UV       []byte
	UVStride int
	// Device is set for a frame in CUDA memory (Config.GPU): Data and UV
	// are nil, and DeviceY and DeviceUV are the planes' device pointers in
	// the GPU's context, valid only during the Frame callback.
	Device            bool
	DeviceY, DeviceUV uintptr
	// PTS is the frame's media time on the stream's time line.
	PTS time.Duration
	// Seq counts analysis frames from 0.
	Seq uint64
}

// Handler consumes a capture's frames and time line progress. Calls to one
// handler never overlap (Frame, Progress and, for an AudioHandler, a
// NoVideoHandler or a StateHandler, their callbacks are serialised, even
// though they come from different threads).
type Handler interface {
	// Frame is called on the streaming thread for each analysis frame.
	// Lossless mode (Realtime=false): it may block to push back on the
	// pipeline (it must return once the capture's context is cancelled).
	// Live mode: it must not block.
	Frame(f *Frame)
	// Progress says the time line has reached t: no frame and no audio
	// sample (chunk or gap) before t will follow. Video alone moves to pts +
	// one analysis frame period after each frame; with audio, progress is the
	// smaller of that and the end of the audio delivered so far (a branch
	// that reached EOS no longer holds it back); without video (NoVideo), the
	// end of the audio alone. At EOS or a loop seam it is the media time
	// reached, once both branches reached EOS.
	Progress(t time.Duration)
}

// Audio on the stream's sample line (Contract 2).
const (
	AudioRate         = 16000 // Hz, S16LE mono
	AudioChunkSamples = 1600  // 100 ms
)

// AudioChunk is lossless audio on the stream's time line.
type AudioChunk struct {
	// Data holds S16LE mono 16 kHz PCM, len = 2*Samples. It is valid only
	// during the Audio callback.
	Data []byte
	// Samples is AudioChunkSamples, except a shorter last chunk before a gap
	// or at EOS (end of the stream or of a loop pass).
	Samples int
	// FirstSample is the index of Data's first sample on the stream's sample
	// line: sample i sits at media time i/AudioRate s. Chunks and gaps tile
	// the line: each starts where the previous one ended.
	FirstSample int64
	// PTS is the media time of the first sample, FirstSample/AudioRate
	// (exact: one sample is 62.5 µs).
	PTS time.Duration
}

// AudioGap says samples [FirstSample, FirstSample+Samples) will never come.
type AudioGap struct {
	FirstSample, Samples int64
	// PTS is the media time of FirstSample.
	PTS time.Duration
	// Reason is one of GapStart, GapDiscont, GapDropped, GapLoopSeam, GapEOS,
	// GapReconnect, GapNoAudio.
	Reason string
}

// AudioGap reasons.
const (
	// GapStart: the first audio sample comes later than media time 0 (a
	// source whose audio starts after its video or after the pipeline).
	GapStart = "start"
	// GapDiscont: a buffer flagged DISCONT starts later than the samples
	// delivered so far (source stall, lost data upstream, a leaky queue).
	GapDiscont = "discont"
	// GapDropped: an unflagged buffer starts later than the samples
	// delivered so far.
	GapDropped = "dropped"
	// GapLoopSeam: a looping file's audio ended before the pass did (the
	// audio track is shorter than the video); the next pass starts at the
	// seam.
	GapLoopSeam = "loop_seam"
	// GapEOS: the stream ended with its audio shorter than its video; the gap
	// runs to the final progress.
	GapEOS = "eos"
	// GapReconnect: a live source was away (error or stall, then reconnect):
	// the samples from where its audio stopped to where the new connection's
	// first buffer sits on the time line.
	GapReconnect = "reconnect"
	// GapNoAudio: a live source came back without the audio track it had;
	// its video's progress declares the audio missing as it goes.
	GapNoAudio = "no_audio"
)

// AudioHandler is implemented by a Handler that wants audio. Its calls are
// never concurrent with the handler's other callbacks. Lossless mode: Audio
// may block (backpressure; it must return once the capture's context is
// cancelled). Live mode: it must not block.
//
// Chunks and gaps tile the stream's sample line without overlap: from sample
// 0 (a leading gap if audio starts later) up to the final progress at the end
// of a stream.
type AudioHandler interface {
	// Audio is called for each chunk of decoded audio.
	Audio(c *AudioChunk)
	// AudioGap says a range of samples will never come.
	AudioGap(g AudioGap)
	// NoAudio is called once when the source turns out to have no audio
	// track (decodebin exposed no audio pad; a test source without audio=).
	NoAudio()
}

// NoVideoHandler is implemented by an AudioHandler that wants to know when
// the source turns out to have no video track: NoVideo is called once, when
// the source's pads are all known and none was video (a WAV or MP3 file, an
// audio-only RTMP feed or HLS playlist). No frame follows; progress
// follows the audio alone. Its call is serialised with the other callbacks.
type NoVideoHandler interface {
	NoVideo()
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
	// AudioSamples counts samples delivered in audio chunks.
	AudioSamples uint64
	// AudioChunks counts audio chunks delivered.
	AudioChunks uint64
	// AudioGaps counts audio gaps reported; AudioGapSamples their samples.
	AudioGaps       uint64
	AudioGapSamples uint64
	// AudioDiscarded counts decoded samples not delivered: without a
	// timestamp, or overlapping samples already on the line (never moved back).
	AudioDiscarded uint64
	// Stalls counts attempts of a live source ended by a stall (no buffer out
	// of the source for Reconnect.StallTimeout).
	Stalls uint64
	// Reconnects counts pipelines rebuilt after a live source's error or
	// stall (successful or not).
	Reconnects uint64
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
	// Err is the condition capture found itself (ErrStillImage), or nil
	// for an error GStreamer reported.
	Err error
}

// Error implements error; Debug is left out (it is long), see the field.
func (e *SourceError) Error() string {
	if e.Element != "" {
		return fmt.Sprintf("stream %q: source error from %s: %s", e.StreamID, e.Element, e.Message)
	}
	return fmt.Sprintf("stream %q: source error: %s", e.StreamID, e.Message)
}

// Unwrap returns Err, so errors.Is(err, ErrStillImage) works.
func (e *SourceError) Unwrap() error { return e.Err }

// ErrStillImage is the condition of a SourceError for a file source that is
// a still image (PNG, JPEG, ...) while Source.ImageFPS is 0: a picture is
// not a video, and capture does not guess a frame rate for it.
var ErrStillImage = errors.New("still image")

// ErrAlreadyRun is returned by Run on a capture already run or closed.
var ErrAlreadyRun = errors.New("capture already run")

var errNoSample = errors.New("no sample")

// busPoll bounds how long Run waits on the bus before checking its context.
const busPoll = 50 * time.Millisecond

var initOnce sync.Once

// initGst initialises GStreamer once per process.
func initGst() { initOnce.Do(func() { gst.Init(nil) }) }

// Init initialises GStreamer now (it loads its plugin registry) rather than
// on the first New: a capture process does it while it waits for work.
func Init() { initGst() }

// Capture is one running source pipeline.
type Capture struct {
	cfg    Config
	h      Handler
	log    hclog.Logger
	period time.Duration
	// live: a network or device source that reconnects; unclocked: one whose
	// buffer times do not follow the pipeline clock (rtmp, hls).
	live, unclocked bool
	rc              Reconnect
	password        string   // the URI's, redacted from messages
	secrets         []string // the password and credential query values, masked in messages

	// gp is the current pipeline: replaced on every reconnect, nil between
	// a teardown and the next build. Streaming threads only run while it is
	// set (a graph is torn down to NULL before it is dropped).
	gp atomic.Pointer[graph]
	cf *cframe
	ca *caudio // nil without an AudioHandler
	wd *cwatch // stall watch on the source's output
	// pace keeps an unclocked source's branches on one clock offset (nil
	// for other sources).
	pace *cpace

	// hmu serialises every handler call: video and audio come from different
	// streaming threads, EOS from Run's goroutine. Progress is computed and
	// reported under it too, so it is ordered with the items it covers.
	hmu sync.Mutex
	// fr is reused for every frame, ac for every audio chunk (under hmu).
	fr Frame
	ac AudioChunk
	// ah is h when it wants audio, else nil; sh when it wants states; vh
	// when it wants to know the source has no video.
	ah AudioHandler
	sh StateHandler
	vh NoVideoHandler
	// att is the current attempt (under hmu).
	att attemptState
	// audioSeen: an audio branch was linked in some attempt.
	audioSeen atomic.Bool
	status    atomic.Pointer[SourceStatus]
	// al is the audio sample line (under hmu).
	al          audioLine
	noAudioOnce atomic.Bool
	// videoSeen: a video pad was linked in some attempt; noVideoOnce: the
	// source turned out to have no video (NoVideo was due), so later
	// attempts of a live source discard video pads as unasked for.
	videoSeen   atomic.Bool
	noVideoOnce atomic.Bool

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
	switch cfg.Format {
	case 0:
		cfg.Format = shm.FormatRGB24
	case shm.FormatRGB24, shm.FormatNV12:
	default:
		return nil, fmt.Errorf("stream %q: analysis format must be RGB24 or NV12, got %s", cfg.StreamID, cfg.Format)
	}
	if cfg.GPU != nil && cfg.Format != shm.FormatNV12 {
		return nil, fmt.Errorf("stream %q: the GPU analysis branch delivers NV12, got format %s", cfg.StreamID, cfg.Format)
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
	live := cfg.Source.Live()
	if live && !cfg.Realtime {
		return nil, fmt.Errorf("stream %q: %s source %q is live: it needs realtime = true (a live source cannot be read losslessly)", cfg.StreamID, cfg.Source.Kind, cfg.Source.Redacted())
	}
	rc, err := cfg.Reconnect.normalize()
	if err != nil {
		return nil, fmt.Errorf("stream %q: %w", cfg.StreamID, err)
	}
	initGst()
	c := &Capture{
		cfg:       cfg,
		h:         h,
		log:       log,
		period:    time.Second / time.Duration(cfg.FPS),
		live:      live,
		unclocked: live && unclockedKind(cfg.Source.Kind),
		rc:        rc,
		asyncErr:  make(chan error, 1),
		runDone:   make(chan struct{}),
	}
	_, c.password, _ = cfg.Source.Credentials()
	// The password and credential query values (?token=...) never reach
	// a log or hint through GStreamer's messages quoting the location.
	c.secrets = cfg.Source.Secrets()
	c.tl.period = c.period
	if ah, ok := h.(AudioHandler); ok {
		c.ah = ah
	}
	if sh, ok := h.(StateHandler); ok {
		c.sh = sh
	}
	if vh, ok := h.(NoVideoHandler); ok {
		c.vh = vh
	}
	c.al = newAudioLine(c)
	c.wd = newCWatch()
	if c.unclocked {
		c.pace = newCPace()
	}
	g, err := c.build()
	if err != nil {
		c.wd.free()
		if c.pace != nil {
			c.pace.free()
		}
		if len(c.secrets) > 0 {
			return nil, fmt.Errorf("stream %q: %s", cfg.StreamID, c.redact(err.Error()))
		}
		return nil, fmt.Errorf("stream %q: %w", cfg.StreamID, err)
	}
	c.cf = newCFrame(cfg.GPU != nil)
	if c.ah != nil {
		c.ca = newCAudio()
	}
	c.install(g, 0)
	return c, nil
}

// graph is the current pipeline, nil while a live source is down.
func (c *Capture) graph() *graph { return c.gp.Load() }

// Run plays the pipeline and blocks until the end of the stream (nil), a
// pipeline error (*SourceError), or ctx is cancelled (nil: a clean stop). A
// live network or device source never ends on an error or a stall: it
// reconnects (see Reconnect and StateHandler) until ctx is cancelled. The
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

	c.log.Debug("starting", "source", c.cfg.Source.Redacted(), "realtime", c.cfg.Realtime, "fps", c.cfg.FPS, "max_width", c.cfg.MaxWidth)
	c.setState(SourceStatus{State: SourceConnecting})
	if c.cfg.Source.Kind == source.KindTest && c.cfg.Source.AudioFreq <= 0 {
		c.noAudio()
	}
	if c.live {
		return c.runLive(ctx)
	}
	err := c.play(ctx, c.graph())
	var se *SourceError
	if errors.As(err, &se) {
		c.setState(SourceStatus{State: SourceFailed, Err: se.Message})
	}
	return err
}

// play runs a file or test source's pipeline to its end, an error or
// cancellation.
func (c *Capture) play(ctx context.Context, g *graph) error {
	bus := g.pipeline.GetPipelineBus()
	if err := g.pipeline.SetState(gst.StatePlaying); err != nil {
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
			reached, ok := c.endPass(c.passDuration(g), !c.cfg.Loop)
			if !ok {
				continue // cancelled: the next turn returns
			}
			if !c.cfg.Loop {
				st := c.tl.stats()
				c.log.Debug("end of stream", "frames", st.Frames, "media_time", reached)
				return nil
			}
			if err := c.loop(g, reached); err != nil {
				return err
			}
		}
	}
}

// endPass closes a pass at EOS (both branches ended): it flushes the audio,
// fills a short audio track up to the media time reached with a gap
// (GapLoopSeam, or GapEOS at the end of the stream), reports that progress
// and, unless last, starts the next pass's time line at it. ok is false when
// the capture was cancelled meanwhile.
func (c *Capture) endPass(played time.Duration, last bool) (reached time.Duration, ok bool) {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	if c.stopped() {
		return 0, false
	}
	audio := c.tl.audioMode() == audioOn
	if audio {
		c.al.flush()
	}
	reached = c.tl.end(played)
	if audio {
		reason := GapLoopSeam
		if last {
			reason = GapEOS
		}
		c.al.fill(sampleIndex(reached), reason)
	}
	if c.tl.advance(reached) {
		c.h.Progress(reached)
	}
	if !last {
		c.tl.seam(reached)
		if audio {
			c.al.rebase(sampleIndex(reached))
		}
	}
	return reached, true
}

// loop seeks a finished file back to its start; its running time restarts
// at 0 and media time continues from reached (endPass set the seam).
func (c *Capture) loop(g *graph, reached time.Duration) error {
	c.log.Debug("looping", "offset", reached)
	if !g.pipeline.SeekSimple(0, gst.FormatTime, gst.SeekFlagFlush) {
		return &SourceError{StreamID: c.cfg.StreamID, Message: "loop: seek to start failed"}
	}
	return nil
}

// passDuration is the length of the pass that just ended, as the pipeline
// reports it (0 if unknown, and always for a live source).
func (c *Capture) passDuration(g *graph) time.Duration {
	if g == nil || c.live {
		return 0
	}
	if ok, d := g.pipeline.QueryDuration(gst.FormatTime); ok && d > 0 {
		return time.Duration(d)
	}
	return 0
}

func (c *Capture) sourceError(msg *gst.Message) error {
	se := &SourceError{StreamID: c.cfg.StreamID, Element: msg.Source()}
	if gerr := msg.ParseError(); gerr != nil {
		se.Message = c.redact(gerr.Error())
		se.Debug = c.redact(gerr.DebugString())
	} else {
		se.Message = "unknown pipeline error"
	}
	if c.live {
		// Recovered by a reconnect: a warning, not an error.
		c.log.Warn("pipeline error", "element", se.Element, "message", se.Message, "debug", se.Debug)
	} else {
		c.log.Error("pipeline error", "element", se.Element, "message", se.Message, "debug", se.Debug)
	}
	return se
}

// report reports the progress both branches allow, if it moved forward.
// When audio has ended in this pass and video goes on, the audio it passes
// is declared a gap first, so no gap ever starts before reported progress.
// The caller holds hmu.
func (c *Capture) report() {
	p, ok := c.tl.next()
	if !ok {
		return
	}
	if c.tl.audioBehind(p) {
		c.al.fill(sampleCeil(p), c.tailGap())
	}
	if c.tl.advance(p) {
		c.h.Progress(p)
	}
}

// tailGap names the gap after a pass's audio ended: a seam when looping;
// for a live source, an attempt that came back without audio.
func (c *Capture) tailGap() string {
	switch {
	case c.cfg.Loop:
		return GapLoopSeam
	case c.live:
		return GapNoAudio
	}
	return GapEOS
}

// stopped reports whether Run's context was cancelled: no handler call
// follows it.
func (c *Capture) stopped() bool {
	select {
	case <-c.stop:
		return true
	default:
		return false
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
	g := c.graph()
	if g == nil {
		return gst.FlowFlushing
	}
	fr, running, timed, err := c.cf.pull(g.sinkPtr)
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
	c.hmu.Lock()
	defer c.hmu.Unlock()
	if c.stopped() {
		return gst.FlowFlushing
	}
	c.firstBuffer(g, running)
	pts, seq, ok := c.tl.frame(running, fr.Width, fr.Height)
	if !ok {
		if !c.live {
			// A live source's first frames after a reconnect may fall in
			// the hole (behind an earlier audio buffer): expected, quiet.
			c.log.Warn("frame would move the time line back; discarded", "pts", pts)
		}
		return gst.FlowOK
	}
	c.fr = fr
	c.fr.PTS = pts
	c.fr.Seq = seq
	c.h.Frame(&c.fr)
	c.fr.Data = nil
	c.report()
	return gst.FlowOK
}

// setAnchor records the wall time of media time 0, once, at the first frame
// or audio buffer of a file or test source: for a clocked (realtime)
// pipeline, now minus its running time; else now minus the first item's.
// (A live source's anchor is set by resume.)
func (c *Capture) setAnchor(g *graph, running time.Duration) {
	if c.anchor.Load() != nil {
		return
	}
	now := time.Now()
	elapsed := running
	if c.cfg.Realtime {
		if rn, ok := runningNow(g.pipelinePtr); ok {
			elapsed = rn
		}
	}
	a := now.Add(-elapsed).Round(0)
	c.anchor.CompareAndSwap(nil, &a)
}

// WallAnchor is the CLOCK_REALTIME time at media time 0: wall time = anchor +
// media time. It is the zero time until the first frame or audio buffer.
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
// holds, so the pipeline and this Capture can be collected; then it frees
// the C holders no pipeline can use any more.
func (c *Capture) release() {
	c.releaseOnce.Do(func() {
		c.teardown()
		c.cf.free()
		if c.ca != nil {
			c.ca.free()
		}
		c.wd.free()
		if c.pace != nil {
			c.pace.free()
		}
	})
}
