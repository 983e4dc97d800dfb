package capture

import (
	"fmt"
	"math"
	"runtime/cgo"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/go-gst/go-gst/gst"
	"github.com/go-gst/go-gst/gst/app"

	"github.com/lsie-mlf/lsie/host/source"
)

// graph is a built pipeline and the elements capture touches later. A live
// network source builds a new graph for every connection attempt.
type graph struct {
	pipeline    *gst.Pipeline
	pipelinePtr unsafe.Pointer
	head        *gst.Element // first element of the analysis branch
	// analysis is the whole analysis branch, head first: dropped from the
	// pipeline when the source turns out to have no video.
	analysis   []*gst.Element
	capsfilter *gst.Element // analysis output caps (RGB or NV12)
	sink       *app.Sink
	sinkPtr    unsafe.Pointer

	// head, capsfilter and sink are nil, and analysis empty, for a live
	// source's reconnect once it turned out to have no video.

	// The audio branch, when the handler wants audio and the source may
	// have it: its elements, head first (a decodebin source adds them when
	// an audio pad appears), and its appsink.
	audio        []*gst.Element
	audioSink    *app.Sink
	audioSinkPtr unsafe.Pointer

	// dynSrc is a source whose pads appear at run time, one decodebin per
	// pad (rtspsrc: one per RTP stream; hlsdemux), or nil.
	dynSrc unsafe.Pointer

	router      *router
	handle      cgo.Handle // on router: user data of the C signal handlers
	videoLinked atomic.Bool
	audioLinked atomic.Bool

	mu sync.Mutex
	// keep holds the elements with C signal handlers (their wrappers own
	// a reference, so the pointers in signals stay valid until disconnect).
	keep    []*gst.Element
	signals []signalRef
	// The graph is settled when the source's pads are all known (srcDone)
	// and every decodebin has exposed its pads (pending == 0).
	srcDone bool
	pending int
	settled bool
}

// router is all the C signal handlers reach, through a cgo.Handle: the
// capture (cleared on release) and the graph the signal belongs to, so a
// signal is always handled against its own attempt's pipeline.
type router struct {
	c atomic.Pointer[Capture]
	g *graph
}

func newGraph(c *Capture, p *gst.Pipeline) *graph {
	g := &graph{pipeline: p, pipelinePtr: p.Unsafe()}
	r := &router{g: g}
	r.c.Store(c)
	g.router = r
	g.handle = cgo.NewHandle(r)
	return g
}

// connect routes pad-added and no-more-pads of e to the capture.
func (g *graph) connect(e *gst.Element) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.keep = append(g.keep, e)
	g.signals = append(g.signals, connectPadSignals(e.Unsafe(), g.handle)...)
}

// addDecoder counts a decodebin whose pads are not all exposed yet.
func (g *graph) addDecoder() {
	g.mu.Lock()
	g.pending++
	g.mu.Unlock()
}

// noMorePads records that the dynamic source (src) or one decodebin has
// exposed all its pads; it reports whether that settled the graph (once).
func (g *graph) noMorePads(src bool) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if src {
		g.srcDone = true
	} else if g.pending > 0 {
		g.pending--
	}
	if g.srcDone && g.pending == 0 && !g.settled {
		g.settled = true
		return true
	}
	return false
}

// disconnect drops the signal handlers and appsink callbacks (Go callbacks
// GStreamer holds), breaking the cycle that would keep the pipeline alive.
// The pipeline must be in NULL: no streaming thread may call back meanwhile.
func (g *graph) disconnect() {
	g.router.c.Store(nil)
	g.mu.Lock()
	for _, s := range g.signals {
		disconnectSignal(s)
	}
	g.signals, g.keep = nil, nil
	g.mu.Unlock()
	if g.handle != 0 {
		g.handle.Delete()
		g.handle = 0
	}
	if g.sink != nil {
		g.sink.SetCallbacks(&app.SinkCallbacks{})
	}
	if g.audioSink != nil {
		g.audioSink.SetCallbacks(&app.SinkCallbacks{})
	}
}

// newElement makes an element of factory called name ("" = generated); the
// error names a missing factory.
func newElement(factory, name string) (*gst.Element, error) {
	e, err := gst.NewElementWithName(factory, name)
	if err != nil {
		return nil, fmt.Errorf("missing GStreamer element %q (is its plugin installed?)", factory)
	}
	return e, nil
}

func setProps(e *gst.Element, props map[string]any) error {
	for k, v := range props {
		if err := e.SetProperty(k, v); err != nil {
			return fmt.Errorf("set %s.%s: %w", e.GetName(), k, err)
		}
	}
	return nil
}

// build assembles a pipeline for c.cfg: the source and the analysis branch,
// and the audio branch when audio is wanted.
func (c *Capture) build() (*graph, error) {
	p, err := gst.NewPipeline("capture-" + c.cfg.StreamID)
	if err != nil {
		return nil, fmt.Errorf("new pipeline: %w", err)
	}
	if c.cfg.GPU != nil {
		// Before any element asks: nvcodec's elements then work in the
		// host's own CUDA context, whose pointers its pool can copy from.
		if err := setCUDAContext(p.Unsafe(), c.cfg.GPU); err != nil {
			return nil, err
		}
	}
	g := newGraph(c, p)
	if c.pace != nil {
		c.pace.reset()
	}
	if err := c.assemble(g); err != nil {
		g.disconnect()
		return nil, err
	}
	return g, nil
}

func (c *Capture) assemble(g *graph) error {
	// A live source found without video reconnects without the analysis
	// branch: its sink would hold the preroll until the pads are known.
	if !c.noVideoOnce.Load() {
		if err := c.buildAnalysis(g); err != nil {
			return err
		}
	}
	s := c.cfg.Source
	if c.wantAudio() {
		if err := c.newAudioBranch(g); err != nil {
			return err
		}
	}
	switch s.Kind {
	case source.KindFile:
		return c.buildFile(g)
	case source.KindTest:
		return c.buildTest(g)
	case source.KindRTSP:
		return c.buildRTSP(g)
	case source.KindRTMP:
		return c.buildRTMP(g)
	case source.KindHLS:
		return c.buildHLS(g)
	case source.KindV4L2:
		return c.buildV4L2(g)
	}
	return fmt.Errorf("%w %q", source.ErrUnsupportedScheme, s.Kind)
}

// wantAudio reports whether a graph gets an audio branch: the handler wants
// audio, the source may have some, and no earlier attempt found it has none.
func (c *Capture) wantAudio() bool {
	s := c.cfg.Source
	if c.ah == nil || c.noAudioOnce.Load() {
		return false
	}
	return s.Kind != source.KindTest || s.AudioFreq > 0
}

// paced reports whether the branches need clocksync before their queues: a
// realtime file decodes faster than real time, and the buffer times of an
// unclocked live source do not follow the pipeline clock.
func (c *Capture) paced() bool {
	return c.cfg.Realtime && (c.cfg.Source.Kind == source.KindFile || c.unclocked)
}

// newClocksync makes the pacing element of a branch. For an unclocked
// source the clocksyncs of both branches sync relative to the first buffer
// reaching either (cpace), so a burst (the HLS segments behind the live
// edge) plays out in real time and audio and video stay together.
func (c *Capture) newClocksync(name string) (*gst.Element, error) {
	cs, err := newElement("clocksync", name)
	if err != nil {
		return nil, err
	}
	if c.unclocked {
		c.pace.add(cs.Unsafe())
	}
	return cs, nil
}

// sinkSync is whether the appsinks (and fakesinks) sync on the clock: in
// realtime mode, unless clocksync already paces an unclocked source.
func (c *Capture) sinkSync() bool { return c.cfg.Realtime && !c.unclocked }

// buildAnalysis adds [clocksync] ! [queue] ! videorate ! videoscale ! videoconvert !
// capsfilter ! appsink to the pipeline (cudaupload ! cudaconvertscale for
// Config.GPU).
func (c *Capture) buildAnalysis(g *graph) error {
	var chain []*gst.Element
	if c.paced() {
		// A file decodes faster than real time: clocksync paces it like a
		// camera, so the leaky queue after it drops only what the analysis
		// branch cannot keep up with.
		cs, err := c.newClocksync("pace")
		if err != nil {
			return err
		}
		chain = append(chain, cs)
	}
	if c.cfg.Realtime {
		q, err := newElement("queue", "leaky")
		if err != nil {
			return err
		}
		if err := setProps(q, map[string]any{
			"max-size-buffers": uint(2), "max-size-bytes": uint(0), "max-size-time": uint64(0),
		}); err != nil {
			return err
		}
		q.SetArg("leaky", "downstream")
		chain = append(chain, q)
	}
	rate, err := newElement("videorate", "rate")
	if err != nil {
		return err
	}
	if err := setProps(rate, map[string]any{"max-rate": c.cfg.FPS, "drop-only": true}); err != nil {
		return err
	}
	// On the GPU, cudaupload takes software-decoded frames up (and lets
	// nvh264dec's CUDA frames through) and one kernel scales and converts.
	scaler, converter := "videoscale", "videoconvert"
	if c.cfg.GPU != nil {
		scaler, converter = "cudaupload", "cudaconvertscale"
	}
	scale, err := newElement(scaler, "scale")
	if err != nil {
		return err
	}
	conv, err := newElement(converter, "convert")
	if err != nil {
		return err
	}
	filter, err := newElement("capsfilter", "rgb")
	if err != nil {
		return err
	}
	setVideoCaps(filter.Unsafe(), c.cfg.Format, c.cfg.GPU != nil, 0, 0)
	sinkEl, err := newElement("appsink", "sink")
	if err != nil {
		return err
	}
	sink := app.SinkFromElement(sinkEl)
	if sink == nil {
		return fmt.Errorf("appsink element is not a GstAppSink")
	}
	sink.SetMaxBuffers(1)
	sink.SetDrop(c.cfg.Realtime)
	if err := setProps(sinkEl, map[string]any{"sync": c.sinkSync(), "enable-last-sample": false}); err != nil {
		return err
	}
	chain = append(chain, rate, scale, conv, filter, sinkEl)
	if err := g.pipeline.AddMany(chain...); err != nil {
		return fmt.Errorf("add analysis branch: %w", err)
	}
	if err := gst.ElementLinkMany(chain...); err != nil {
		return fmt.Errorf("link analysis branch: %w", err)
	}
	g.head = chain[0]
	g.analysis = chain
	g.capsfilter = filter
	g.sink = sink
	g.sinkPtr = sinkEl.Unsafe()
	return nil
}

// newAudioBranch makes the audio branch, [clocksync] ! queue ! audioconvert !
// audioresample ! capsfilter S16LE 16 kHz mono ! appsink, without adding it
// to the pipeline. Its own queue gives audio its own thread after the
// demuxer, so it never waits on the video branch.
func (c *Capture) newAudioBranch(g *graph) error {
	dynamic := c.cfg.Source.Kind != source.KindTest
	var chain []*gst.Element
	if c.paced() {
		// As for video: a file decodes faster than real time; pace it
		// before the leaky queue so the queue only sheds what a stuck
		// consumer cannot take.
		cs, err := c.newClocksync("apace")
		if err != nil {
			return err
		}
		chain = append(chain, cs)
	}
	q, err := newElement("queue", "aqueue")
	if err != nil {
		return err
	}
	if c.cfg.Realtime {
		// Live: never block the source. The handler must not block, so this
		// only fills if it does; what it sheds then comes back as a gap.
		if err := setProps(q, map[string]any{
			"max-size-buffers": uint(0), "max-size-bytes": uint(0), "max-size-time": uint64(time.Second),
		}); err != nil {
			return err
		}
		q.SetArg("leaky", "downstream")
	}
	conv, err := newElement("audioconvert", "aconvert")
	if err != nil {
		return err
	}
	res, err := newElement("audioresample", "aresample")
	if err != nil {
		return err
	}
	filter, err := newElement("capsfilter", "pcm")
	if err != nil {
		return err
	}
	setPCMCaps(filter.Unsafe(), AudioRate)
	sinkEl, err := newElement("appsink", "audiosink")
	if err != nil {
		return err
	}
	sink := app.SinkFromElement(sinkEl)
	if sink == nil {
		return fmt.Errorf("appsink element is not a GstAppSink")
	}
	sink.SetMaxBuffers(2)
	sink.SetDrop(false)
	props := map[string]any{"sync": c.sinkSync(), "enable-last-sample": false}
	if dynamic {
		// Added while the pipeline is already changing state, like the
		// fakesinks: it must not hold the pipeline's preroll.
		props["async"] = false
	}
	if err := setProps(sinkEl, props); err != nil {
		return err
	}
	g.audio = append(chain, q, conv, res, filter, sinkEl)
	g.audioSink = sink
	g.audioSinkPtr = sinkEl.Unsafe()
	return nil
}

// testAudioBuffers splits total samples into n buffers of spb samples: the
// largest spb <= AudioChunkSamples dividing total, so an audiotestsrc with
// num-buffers ends after exactly total samples.
func testAudioBuffers(total int64) (spb, n int) {
	total = max(total, 1)
	spb = AudioChunkSamples
	for ; spb > 1; spb-- {
		if total%int64(spb) == 0 {
			break
		}
	}
	return spb, int(total / int64(spb))
}

// buildTestAudio adds audiotestsrc wave=sine ! capsfilter S16LE 16 kHz mono
// in front of the audio branch: exactly Duration of audio (endless without).
func (c *Capture) buildTestAudio(g *graph) error {
	s := c.cfg.Source
	src, err := newElement("audiotestsrc", "asrc")
	if err != nil {
		return err
	}
	src.SetArg("wave", "sine")
	props := map[string]any{"freq": s.AudioFreq, "is-live": c.cfg.Realtime, "samplesperbuffer": AudioChunkSamples}
	if s.Duration > 0 {
		spb, n := testAudioBuffers(sampleIndex(s.Duration))
		props["samplesperbuffer"], props["num-buffers"] = spb, n
	}
	if err := setProps(src, props); err != nil {
		return err
	}
	caps, err := newElement("capsfilter", "asrccaps")
	if err != nil {
		return err
	}
	setPCMCaps(caps.Unsafe(), AudioRate)
	chain := append([]*gst.Element{src, caps}, g.audio...)
	if err := g.pipeline.AddMany(chain...); err != nil {
		return fmt.Errorf("add test audio: %w", err)
	}
	if err := gst.ElementLinkMany(chain...); err != nil {
		return fmt.Errorf("link test audio: %w", err)
	}
	g.audioLinked.Store(true)
	c.tl.setAudio(audioOn)
	return nil
}

// buildTest adds videotestsrc ! capsfilter in front of the analysis branch,
// and the test audio when the source has audio and the handler wants it.
func (c *Capture) buildTest(g *graph) error {
	s := c.cfg.Source
	if s.Width < 2 || s.Height < 2 || s.FPS < 1 {
		return fmt.Errorf("test source %q: bad size or rate %dx%d@%d", s.Redacted(), s.Width, s.Height, s.FPS)
	}
	src, err := newElement("videotestsrc", "src")
	if err != nil {
		return err
	}
	src.SetArg("pattern", s.Pattern)
	props := map[string]any{"is-live": c.cfg.Realtime}
	if s.Duration > 0 {
		n := int(math.Round(s.Duration.Seconds() * float64(s.FPS)))
		props["num-buffers"] = max(n, 1)
	}
	if err := setProps(src, props); err != nil {
		return err
	}
	caps, err := newElement("capsfilter", "srccaps")
	if err != nil {
		return err
	}
	setTestCaps(caps.Unsafe(), s.Width, s.Height, s.FPS)
	w, h := outputSize(dims{W: s.Width, H: s.Height, ParN: 1, ParD: 1}, c.cfg.MaxWidth)
	setVideoCaps(g.capsfilter.Unsafe(), c.cfg.Format, c.cfg.GPU != nil, w, h)
	if err := g.pipeline.AddMany(src, caps); err != nil {
		return fmt.Errorf("add test source: %w", err)
	}
	if err := gst.ElementLinkMany(src, caps, g.head); err != nil {
		return fmt.Errorf("link test source: %w", err)
	}
	g.videoLinked.Store(true)
	if g.audioSink != nil {
		return c.buildTestAudio(g)
	}
	return nil
}

// buildFile adds filesrc ! decodebin; decodebin's first raw video pad is
// linked to the analysis branch when it appears, its first raw audio pad to
// the audio branch (when there is one), other pads go to fakesinks.
func (c *Capture) buildFile(g *graph) error {
	src, err := newElement("filesrc", "src")
	if err != nil {
		return err
	}
	if err := setProps(src, map[string]any{"location": c.cfg.Source.Path}); err != nil {
		return err
	}
	return c.decodeStatic(g, src)
}

// decodeStatic adds src ! decodebin (src has an always "src" pad).
func (c *Capture) decodeStatic(g *graph, src *gst.Element) error {
	dec, err := newElement("decodebin", "decode")
	if err != nil {
		return err
	}
	if err := g.pipeline.AddMany(src, dec); err != nil {
		return fmt.Errorf("add source: %w", err)
	}
	if err := src.Link(dec); err != nil {
		return fmt.Errorf("link source: %w", err)
	}
	g.srcDone = true
	g.addDecoder()
	g.connect(dec)
	if g.audioSink != nil {
		// Until decodebin has exposed its pads, audio may still come.
		c.tl.setAudio(audioWait)
	}
	return nil
}

// discardPad links pad to a new fakesink.
func (c *Capture) discardPad(g *graph, pad *gst.Pad) {
	fs, err := newElement("fakesink", "")
	if err != nil {
		c.fail(err)
		return
	}
	if err := setProps(fs, map[string]any{"sync": c.sinkSync(), "async": false, "enable-last-sample": false}); err != nil {
		c.fail(err)
		return
	}
	if err := g.pipeline.Add(fs); err != nil {
		c.fail(fmt.Errorf("add fakesink: %w", err))
		return
	}
	fs.SyncStateWithParent()
	if ret := pad.Link(fs.GetStaticPad("sink")); ret != gst.PadLinkOK {
		c.fail(fmt.Errorf("link pad %s to fakesink: %s", pad.GetName(), ret))
	}
}

// linkAudio adds the audio branch and links decodebin's audio pad to it.
func (c *Capture) linkAudio(g *graph, pad *gst.Pad) error {
	if err := g.pipeline.AddMany(g.audio...); err != nil {
		return fmt.Errorf("add audio branch: %w", err)
	}
	if err := gst.ElementLinkMany(g.audio...); err != nil {
		return fmt.Errorf("link audio branch: %w", err)
	}
	for i := len(g.audio) - 1; i >= 0; i-- {
		g.audio[i].SyncStateWithParent()
	}
	c.audioLinked()
	if ret := pad.Link(g.audio[0].GetStaticPad("sink")); ret != gst.PadLinkOK {
		return fmt.Errorf("link audio pad: %s", ret)
	}
	c.log.Debug("audio stream", "pad", pad.GetName())
	return nil
}
