package capture

import (
	"fmt"
	"math"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/go-gst/go-glib/glib"
	"github.com/go-gst/go-gst/gst"
	"github.com/go-gst/go-gst/gst/app"

	"github.com/lsie-mlf/lsie/host/source"
)

// graph is a built pipeline and the elements capture touches later.
type graph struct {
	pipeline    *gst.Pipeline
	pipelinePtr unsafe.Pointer
	head        *gst.Element // first element of the analysis branch
	capsfilter  *gst.Element // RGB output caps
	sink        *app.Sink
	sinkPtr     unsafe.Pointer

	// The audio branch, when the handler wants audio and the source may
	// have it: its elements, head first (a file adds them when decodebin
	// exposes an audio pad), and its appsink.
	audio        []*gst.Element
	audioSink    *app.Sink
	audioSinkPtr unsafe.Pointer

	decoder     *gst.Element // decodebin of a file source
	signals     []glib.SignalHandle
	router      *router
	videoLinked atomic.Bool
	audioLinked atomic.Bool
}

// router is all that decodebin's signal closures hold. go-glib v1.4.0 keeps
// an extra reference on every closure it connects, so a closure (and what it
// captures) is never freed, even after disconnecting: the closures capture
// only this small indirection, cleared on release, never the Capture or an
// element wrapper (which would keep the pipeline alive).
type router struct{ c atomic.Pointer[Capture] }

// disconnect drops the signal handlers and appsink callbacks (Go closures
// GStreamer holds), breaking the cycle that would keep the pipeline alive.
func (g *graph) disconnect() {
	if g.router != nil {
		g.router.c.Store(nil)
	}
	if g.decoder != nil {
		for _, s := range g.signals {
			g.decoder.HandlerDisconnect(s)
		}
		g.signals = nil
	}
	g.sink.SetCallbacks(&app.SinkCallbacks{})
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

// build assembles the source and analysis branch for c.cfg.
func (c *Capture) build() (*graph, error) {
	p, err := gst.NewPipeline("capture-" + c.cfg.StreamID)
	if err != nil {
		return nil, fmt.Errorf("new pipeline: %w", err)
	}
	g := &graph{pipeline: p, pipelinePtr: p.Unsafe()}
	if err := c.buildAnalysis(g); err != nil {
		return nil, err
	}
	s := c.cfg.Source
	if c.ah != nil && (s.Kind == source.KindFile || s.Kind == source.KindTest && s.AudioFreq > 0) {
		if err := c.newAudioBranch(g); err != nil {
			return nil, err
		}
	}
	switch s.Kind {
	case source.KindFile:
		err = c.buildFile(g)
	case source.KindTest:
		err = c.buildTest(g)
	default:
		err = fmt.Errorf("%w %q", source.ErrUnsupportedScheme, c.cfg.Source.Kind)
	}
	if err != nil {
		return nil, err
	}
	return g, nil
}

// buildAnalysis adds [clocksync] ! [queue] ! videorate ! videoscale ! videoconvert !
// capsfilter ! appsink to the pipeline.
func (c *Capture) buildAnalysis(g *graph) error {
	var chain []*gst.Element
	if c.cfg.Realtime && c.cfg.Source.Kind == source.KindFile {
		// A file decodes faster than real time: clocksync paces it like a
		// camera, so the leaky queue after it drops only what the analysis
		// branch cannot keep up with.
		cs, err := newElement("clocksync", "pace")
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
	scale, err := newElement("videoscale", "scale")
	if err != nil {
		return err
	}
	conv, err := newElement("videoconvert", "convert")
	if err != nil {
		return err
	}
	filter, err := newElement("capsfilter", "rgb")
	if err != nil {
		return err
	}
	setRGBCaps(filter.Unsafe(), 0, 0)
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
	if err := setProps(sinkEl, map[string]any{"sync": c.cfg.Realtime, "enable-last-sample": false}); err != nil {
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
	file := c.cfg.Source.Kind == source.KindFile
	var chain []*gst.Element
	if c.cfg.Realtime && file {
		// As for video: a file decodes faster than real time; pace it
		// before the leaky queue so the queue only sheds what a stuck
		// consumer cannot take.
		cs, err := newElement("clocksync", "apace")
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
	props := map[string]any{"sync": c.cfg.Realtime, "enable-last-sample": false}
	if file {
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
		return fmt.Errorf("test source %q: bad size or rate %dx%d@%d", s.URI, s.Width, s.Height, s.FPS)
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
	setRGBCaps(g.capsfilter.Unsafe(), w, h)
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
	dec, err := newElement("decodebin", "decode")
	if err != nil {
		return err
	}
	if err := g.pipeline.AddMany(src, dec); err != nil {
		return fmt.Errorf("add file source: %w", err)
	}
	if err := src.Link(dec); err != nil {
		return fmt.Errorf("link file source: %w", err)
	}
	g.decoder = dec
	r := &router{}
	r.c.Store(c)
	g.router = r
	h1, err := dec.Connect("pad-added", func(_ *gst.Element, pad *gst.Pad) {
		if c := r.c.Load(); c != nil {
			c.onPadAdded(pad)
		}
	})
	if err != nil {
		return fmt.Errorf("connect pad-added: %w", err)
	}
	h2, err := dec.Connect("no-more-pads", func(self *gst.Element) {
		if c := r.c.Load(); c != nil {
			c.onNoMorePads(self.GetName())
		}
	})
	if err != nil {
		dec.HandlerDisconnect(h1)
		return fmt.Errorf("connect no-more-pads: %w", err)
	}
	g.signals = []glib.SignalHandle{h1, h2}
	if g.audioSink != nil {
		// Until decodebin has exposed its pads, audio may still come.
		c.tl.setAudio(audioWait)
	}
	return nil
}

// onNoMorePads runs when decodebin has exposed all its pads: a source
// without video fails; one without audio says so to an AudioHandler.
func (c *Capture) onNoMorePads(decoder string) {
	if !c.g.videoLinked.Load() {
		c.fail(&SourceError{StreamID: c.cfg.StreamID, Element: decoder, Message: "source has no video stream"})
	}
	if c.g.audioSink != nil && !c.g.audioLinked.Load() {
		c.noAudio()
	}
}

// onPadAdded runs on a streaming thread when decodebin exposes a pad.
func (c *Capture) onPadAdded(pad *gst.Pad) {
	g := c.g
	isVideo, d, known := padVideoDims(pad.Unsafe())
	if isVideo && g.videoLinked.CompareAndSwap(false, true) {
		if known {
			w, h := outputSize(d, c.cfg.MaxWidth)
			setRGBCaps(g.capsfilter.Unsafe(), w, h)
			c.log.Debug("video stream", "pad", pad.GetName(), "source_size", fmt.Sprintf("%dx%d", d.W, d.H), "analysis_size", fmt.Sprintf("%dx%d", w, h))
		} else {
			c.log.Warn("video stream size unknown; frames keep the source size", "pad", pad.GetName())
		}
		if ret := pad.Link(g.head.GetStaticPad("sink")); ret != gst.PadLinkOK {
			c.fail(&SourceError{StreamID: c.cfg.StreamID, Element: "decode", Message: fmt.Sprintf("link video pad: %s", ret)})
		}
		return
	}
	if g.audioSink != nil && !isVideo && padIsRawAudio(pad.Unsafe()) && g.audioLinked.CompareAndSwap(false, true) {
		if err := c.linkAudio(pad); err != nil {
			c.fail(&SourceError{StreamID: c.cfg.StreamID, Element: "decode", Message: err.Error()})
		}
		return
	}
	// Audio nobody asked for and extra streams are discarded.
	fs, err := newElement("fakesink", "")
	if err != nil {
		c.fail(err)
		return
	}
	if err := setProps(fs, map[string]any{"sync": c.cfg.Realtime, "async": false, "enable-last-sample": false}); err != nil {
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
func (c *Capture) linkAudio(pad *gst.Pad) error {
	g := c.g
	if err := g.pipeline.AddMany(g.audio...); err != nil {
		return fmt.Errorf("add audio branch: %w", err)
	}
	if err := gst.ElementLinkMany(g.audio...); err != nil {
		return fmt.Errorf("link audio branch: %w", err)
	}
	for i := len(g.audio) - 1; i >= 0; i-- {
		g.audio[i].SyncStateWithParent()
	}
	c.tl.setAudio(audioOn)
	if ret := pad.Link(g.audio[0].GetStaticPad("sink")); ret != gst.PadLinkOK {
		return fmt.Errorf("link audio pad: %s", ret)
	}
	c.log.Debug("audio stream", "pad", pad.GetName())
	return nil
}
