package capture

import (
	"fmt"

	"github.com/go-gst/go-gst/gst"

	"github.com/lsie-mlf/lsie/host/source"
)

// Live network and device sources. Each is built element by element from
// the Spec (never from a launch string), feeds the same video and audio
// branches as a file, and has a buffer probe (cwatch) right where data
// leaves the source or its demuxer, before any queue, for stall detection:
//
//	rtsp:  rtspsrc ─(RTP pad per stream, probe)→ decodebin (autoplugs the
//	       depayloader, checked on GStreamer 1.22) → branches
//	rtmp:  rtmp2src (probe) ! decodebin (flvdemux inside) → branches
//	hls:   souphttpsrc ! hlsdemux ─(pad, probe)→ decodebin (tsdemux inside)
//	v4l2:  v4l2src (probe) ! decodebin (raw passes through, MJPEG and
//	       H.264 cameras are decoded) → branches
//
// rtspsrc and v4l2src are clocked: their buffers carry the pipeline's running
// time of capture, and the sinks sync as for a test source. rtmp2src and
// hlsdemux are unclocked: their times come from the stream (FLV tag times,
// MPEG-TS PTS) and do not follow the pipeline clock, so each branch is paced
// by clocksync sync-to-first (relative to its first buffer) and the sinks do
// not sync; the time line maps them from the first buffer's arrival
// (resumeAt).

// unclockedKind reports whether a live kind's buffer times do not follow the
// pipeline clock.
func unclockedKind(k source.Kind) bool { return k == source.KindRTMP || k == source.KindHLS }

// buildRTSP adds rtspsrc; its RTP pads get a probe and a decodebin each as
// they appear (onSourcePad). Credentials go to user-id/user-pw, never into
// the location GStreamer logs.
func (c *Capture) buildRTSP(g *graph) error {
	s := c.cfg.Source
	src, err := newElement("rtspsrc", "src")
	if err != nil {
		return err
	}
	props := map[string]any{
		"location": s.Location(),
		"latency":  uint(s.Latency.Milliseconds()),
	}
	if user, pw, ok := s.Credentials(); ok {
		props["user-id"], props["user-pw"] = user, pw
	}
	if err := setProps(src, props); err != nil {
		return err
	}
	switch s.Transport {
	case source.TransportTCP:
		src.SetArg("protocols", "tcp")
	case source.TransportUDP:
		src.SetArg("protocols", "udp")
	}
	return c.addDynamicSource(g, src)
}

// buildRTMP adds rtmp2src ! decodebin. rtmp2src (GStreamer's own RTMP
// client, plugins-bad) rather than rtmpsrc (librtmp): it speaks rtmps,
// takes credentials as properties, and ends a dead connection itself.
func (c *Capture) buildRTMP(g *graph) error {
	s := c.cfg.Source
	src, err := newElement("rtmp2src", "src")
	if err != nil {
		return err
	}
	props := map[string]any{"location": s.Location()}
	if user, pw, ok := s.Credentials(); ok {
		props["username"], props["password"] = user, pw
	}
	if err := setProps(src, props); err != nil {
		return err
	}
	if err := c.decodeStatic(g, src); err != nil {
		return err
	}
	c.wd.pad(src.GetStaticPad("src").Unsafe())
	return nil
}

// buildHLS adds souphttpsrc ! hlsdemux; hlsdemux's pads get a probe and a
// decodebin each. The explicit chain rather than uridecodebin: the probe
// must sit on the demuxer's output, which uridecodebin hides, and capture
// already does uridecodebin's remaining job (decodebin per pad).
//
// Credentials in the URI reach the playlist request (souphttpsrc user-id,
// user-pw); hlsdemux fetches segments with its own requests, without them.
func (c *Capture) buildHLS(g *graph) error {
	s := c.cfg.Source
	src, err := newElement("souphttpsrc", "src")
	if err != nil {
		return err
	}
	props := map[string]any{"location": s.Location()}
	if user, pw, ok := s.Credentials(); ok {
		props["user-id"], props["user-pw"] = user, pw
	}
	if err := setProps(src, props); err != nil {
		return err
	}
	demux, err := newElement("hlsdemux", "demux")
	if err != nil {
		return err
	}
	if err := g.pipeline.Add(src); err != nil {
		return fmt.Errorf("add hls source: %w", err)
	}
	if err := c.addDynamicSource(g, demux); err != nil {
		return err
	}
	if err := src.Link(demux); err != nil {
		return fmt.Errorf("link hls source: %w", err)
	}
	return nil
}

// buildV4L2 adds v4l2src ! decodebin.
//
// Not tested here: the build machines have no video device. v4l2src is a
// clocked live source like a test source; the rest of the path (decodebin,
// probe, reconnect when the device goes away) is the one the RTSP tests
// cover.
func (c *Capture) buildV4L2(g *graph) error {
	src, err := newElement("v4l2src", "src")
	if err != nil {
		return err
	}
	if err := setProps(src, map[string]any{"device": c.cfg.Source.Device}); err != nil {
		return err
	}
	if err := c.decodeStatic(g, src); err != nil {
		return err
	}
	c.wd.pad(src.GetStaticPad("src").Unsafe())
	return nil
}

// addDynamicSource adds src, whose pads appear at run time (onSourcePad).
func (c *Capture) addDynamicSource(g *graph, src *gst.Element) error {
	if err := g.pipeline.Add(src); err != nil {
		return fmt.Errorf("add source: %w", err)
	}
	g.dynSrc = src.Unsafe()
	g.connect(src)
	if g.audioSink != nil {
		c.tl.setAudio(audioWait)
	}
	return nil
}

// onSourcePad runs on a streaming thread when the dynamic source exposes a
// pad (one RTP stream, one HLS stream): it puts the stall probe on it and
// decodes it with a decodebin of its own.
func (c *Capture) onSourcePad(g *graph, pad *gst.Pad) {
	c.wd.pad(pad.Unsafe())
	dec, err := newElement("decodebin", "")
	if err != nil {
		c.fail(err)
		return
	}
	if err := g.pipeline.Add(dec); err != nil {
		c.fail(fmt.Errorf("add decodebin: %w", err))
		return
	}
	g.addDecoder()
	g.connect(dec)
	dec.SyncStateWithParent()
	if ret := pad.Link(dec.GetStaticPad("sink")); ret != gst.PadLinkOK {
		c.fail(&SourceError{StreamID: c.cfg.StreamID, Element: "decode", Message: fmt.Sprintf("link source pad %s: %s", pad.GetName(), ret)})
		return
	}
	c.log.Debug("source stream", "pad", pad.GetName())
}
