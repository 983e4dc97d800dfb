package capture

/*
#cgo pkg-config: gstreamer-1.0
#include <gst/gst.h>

// lsie_still_image reports whether the raw video pad of decodebin dec carries
// a still picture: decodebin typefound its input as an image (image/png,
// image/jpeg, ...) and the pad's frame rate is absent or 0/1. The image type
// is copied into name (n bytes). A video whose frame rate is unknown (0/1,
// a variable rate) is no image: its input typefinds as a container.
static gboolean lsie_still_image(GstElement *dec, GstPad *pad, char *name, gsize n) {
	GstCaps *raw = gst_pad_get_current_caps(pad);
	if (raw == NULL) raw = gst_pad_query_caps(pad, NULL);
	if (raw == NULL) return FALSE;
	gboolean rateless = FALSE;
	if (gst_caps_get_size(raw) > 0) {
		gint num = 0, den = 1;
		GstStructure *st = gst_caps_get_structure(raw, 0);
		rateless = !gst_structure_get_fraction(st, "framerate", &num, &den) || num == 0;
	}
	gst_caps_unref(raw);
	if (!rateless || !GST_IS_BIN(dec)) return FALSE;
	GstElement *tf = gst_bin_get_by_name(GST_BIN(dec), "typefind");
	if (tf == NULL) return FALSE;
	GstCaps *caps = NULL;
	g_object_get(tf, "caps", &caps, NULL);
	gst_object_unref(tf);
	if (caps == NULL) return FALSE;
	gboolean still = FALSE;
	if (gst_caps_get_size(caps) > 0) {
		const gchar *type = gst_structure_get_name(gst_caps_get_structure(caps, 0));
		if (g_str_has_prefix(type, "image/")) {
			still = TRUE;
			g_strlcpy(name, type, n);
		}
	}
	gst_caps_unref(caps);
	return still;
}

// lsie_set_rate_caps sets caps video/x-raw,framerate=fps/1 on a capsfilter.
static void lsie_set_rate_caps(GstElement *capsfilter, gint fps) {
	GstCaps *caps = gst_caps_new_simple("video/x-raw", "framerate", GST_TYPE_FRACTION, fps, 1, NULL);
	g_object_set(capsfilter, "caps", caps, NULL);
	gst_caps_unref(caps);
}
*/
import "C"

import (
	"fmt"
	"unsafe"

	"github.com/go-gst/go-gst/gst"
)

// Which tracks a source has is known once decodebin (or the dynamic source
// and every decodebin) has exposed all its pads. The video pad goes to the
// analysis branch (a still image through imagefreeze, or refused), the audio
// pad to the audio branch; a source without video drops the analysis branch
// and runs on its audio.

// stillImage reports whether decodebin dec's raw video pad is a still
// picture, and its type (image/png).
func stillImage(dec unsafe.Pointer, pad *gst.Pad) (string, bool) {
	var buf [64]C.char
	if C.lsie_still_image((*C.GstElement)(dec), (*C.GstPad)(pad.Unsafe()), &buf[0], C.gsize(len(buf))) == 0 {
		return "", false
	}
	return C.GoString(&buf[0]), true
}

// onPadAdded runs on a streaming thread when the dynamic source or a
// decodebin exposes a pad.
func (c *Capture) onPadAdded(g *graph, el unsafe.Pointer, pad *gst.Pad) {
	if el == g.dynSrc {
		c.onSourcePad(g, pad)
		return
	}
	isVideo, d, known := padVideoDims(pad.Unsafe())
	if isVideo && !c.noVideoOnce.Load() && g.videoLinked.CompareAndSwap(false, true) {
		c.linkVideo(g, el, pad, d, known)
		return
	}
	if g.audioSink != nil && !isVideo && padIsRawAudio(pad.Unsafe()) && g.audioLinked.CompareAndSwap(false, true) {
		if err := c.linkAudio(g, pad); err != nil {
			c.fail(&SourceError{StreamID: c.cfg.StreamID, Element: "decode", Message: err.Error()})
		}
		return
	}
	// Audio nobody asked for, extra streams and the video of a live source
	// that had none at first are discarded.
	c.discardPad(g, pad)
}

// linkVideo links decodebin dec's raw video pad to the analysis branch: a
// still image through imagefreeze at Source.ImageFPS, or, without it, not at
// all (the capture fails with ErrStillImage: videorate cannot pace a stream
// without a frame rate, and aborts the process on one).
func (c *Capture) linkVideo(g *graph, dec unsafe.Pointer, pad *gst.Pad, d dims, known bool) {
	c.videoSeen.Store(true)
	if known {
		w, h := outputSize(d, c.cfg.MaxWidth)
		setVideoCaps(g.capsfilter.Unsafe(), c.cfg.Format, c.cfg.GPU != nil, w, h)
		c.log.Debug("video stream", "pad", pad.GetName(), "source_size", fmt.Sprintf("%dx%d", d.W, d.H), "analysis_size", fmt.Sprintf("%dx%d", w, h))
	} else {
		c.log.Warn("video stream size unknown; frames keep the source size", "pad", pad.GetName())
	}
	target := g.head
	if kind, still := stillImage(dec, pad); still {
		fps := c.cfg.Source.ImageFPS
		if fps <= 0 {
			c.discardPad(g, pad) // nothing unlinked errors out before ours
			c.fail(&SourceError{StreamID: c.cfg.StreamID, Element: "decode", Err: ErrStillImage, Message: fmt.Sprintf(
				"%s is a still image (%s), not a video: set image { fps = N } on the stream to analyse it as a video of that rate",
				c.cfg.Source.Redacted(), kind)})
			return
		}
		head, err := c.addFreeze(g, fps)
		if err != nil {
			c.fail(&SourceError{StreamID: c.cfg.StreamID, Element: "decode", Message: err.Error()})
			return
		}
		target = head
		c.log.Debug("still image made a video", "type", kind, "fps", fps)
	}
	if ret := pad.Link(target.GetStaticPad("sink")); ret != gst.PadLinkOK {
		c.fail(&SourceError{StreamID: c.cfg.StreamID, Element: "decode", Message: fmt.Sprintf("link video pad: %s", ret)})
	}
}

// addFreeze adds imagefreeze ! capsfilter framerate=fps/1 in front of the
// analysis branch, in the pipeline's state, and returns its head: an endless
// video of the one picture.
func (c *Capture) addFreeze(g *graph, fps int) (*gst.Element, error) {
	freeze, err := newElement("imagefreeze", "freeze")
	if err != nil {
		return nil, err
	}
	rate, err := newElement("capsfilter", "freezerate")
	if err != nil {
		return nil, err
	}
	C.lsie_set_rate_caps((*C.GstElement)(rate.Unsafe()), C.gint(fps))
	if err := g.pipeline.AddMany(freeze, rate); err != nil {
		return nil, fmt.Errorf("add imagefreeze: %w", err)
	}
	if err := gst.ElementLinkMany(freeze, rate, g.head); err != nil {
		return nil, fmt.Errorf("link imagefreeze: %w", err)
	}
	rate.SyncStateWithParent()
	freeze.SyncStateWithParent()
	return freeze, nil
}

// onNoMorePads runs when the dynamic source or a decodebin has exposed all
// its pads. Once all are known: a source without video runs on its audio
// when the handler wants audio and it has some, else fails; one without
// audio says so to an AudioHandler.
func (c *Capture) onNoMorePads(g *graph, el unsafe.Pointer) {
	if !g.noMorePads(el == g.dynSrc) {
		return
	}
	video, audio := g.videoLinked.Load(), g.audioLinked.Load()
	switch {
	case !video && g.audioSink == nil:
		c.fail(&SourceError{StreamID: c.cfg.StreamID, Element: "decode", Message: "source has no video stream"})
		return
	case !video && !audio:
		c.fail(&SourceError{StreamID: c.cfg.StreamID, Element: "decode", Message: "source has neither a video nor an audio stream"})
		return
	case !video:
		c.videoMissing(g)
	}
	if g.audioSink != nil && !audio {
		c.audioMissing()
	}
}

// videoMissing runs when all of g's pads are known and audio, but no video,
// was linked. The analysis branch goes (its appsink would hold the
// pipeline's preroll forever) and progress follows the audio. The first
// time, the source has no video (NoVideo); a live source that had video and
// came back without it only logs it.
func (c *Capture) videoMissing(g *graph) {
	if err := dropBranch(g.pipeline, g.analysis); err != nil {
		c.fail(&SourceError{StreamID: c.cfg.StreamID, Element: "decode", Message: err.Error()})
		return
	}
	c.hmu.Lock()
	defer c.hmu.Unlock()
	c.tl.setVideoOff(true)
	if c.stopped() {
		return
	}
	switch {
	case c.videoSeen.Load():
		c.log.Warn("source came back without video")
	case c.noVideoOnce.CompareAndSwap(false, true):
		c.log.Debug("source has no video")
		if c.vh != nil {
			c.vh.NoVideo()
		}
	}
	c.report()
}

// dropBranch takes the elements of a branch that will never get data out of
// pipeline (NULL, then removed), from any thread; a bin whose preroll waited
// for the branch's sink goes on without it.
func dropBranch(pipeline *gst.Pipeline, branch []*gst.Element) error {
	for i := len(branch) - 1; i >= 0; i-- {
		e := branch[i]
		if err := e.SetLockedState(true); err != nil {
			return fmt.Errorf("drop %s: %w", e.GetName(), err)
		}
		if err := e.SetState(gst.StateNull); err != nil {
			return fmt.Errorf("drop %s: %w", e.GetName(), err)
		}
		if err := pipeline.Remove(e); err != nil {
			return fmt.Errorf("drop %s: %w", e.GetName(), err)
		}
	}
	return nil
}
