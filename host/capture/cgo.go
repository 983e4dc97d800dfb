package capture

/*
#cgo pkg-config: gstreamer-1.0 gstreamer-app-1.0 gstreamer-video-1.0
#include <gst/gst.h>
#include <gst/app/gstappsink.h>
#include <gst/video/video.h>
#include <stdint.h>
#include <stdlib.h>

// lsie_frame holds one pulled, mapped sample. It lives in C memory (one per
// capture) so the GstVideoFrame and its map survive between the pull and the
// release without Go pointers crossing into C.
typedef struct {
	GstSample *sample;
	GstVideoFrame frame;
	gboolean mapped;
	GstCaps *caps;      // caps info was parsed from (a ref is held)
	GstVideoInfo info;
	guint8 *data;
	gsize size;         // bytes readable from data
	gint width, height, stride;
	guint8 *uv;         // NV12: the interleaved chroma plane; NULL otherwise
	gint uv_stride;
	gboolean cuda;      // map CUDA memory as such: data and uv are device pointers
	GstClockTime running; // running time of the buffer PTS, or NONE
} lsie_frame;

enum { LSIE_OK = 0, LSIE_NO_SAMPLE = 1, LSIE_BAD_CAPS = 2, LSIE_MAP_FAILED = 3 };

// GST_MAP_CUDA of GStreamer's CUDA library (gst/cuda/gstcudamemory.h, 1.22):
// a GstCudaMemory mapped with it yields its device pointer.
#define LSIE_MAP_CUDA (GST_MAP_FLAG_LAST << 1)

static lsie_frame *lsie_frame_new(gboolean cuda) {
	lsie_frame *f = g_new0(lsie_frame, 1);
	f->cuda = cuda;
	return f;
}

static void lsie_frame_release(lsie_frame *f) {
	if (f->mapped) {
		gst_video_frame_unmap(&f->frame);
		f->mapped = FALSE;
	}
	if (f->sample != NULL) {
		gst_sample_unref(f->sample);
		f->sample = NULL;
	}
	f->data = NULL;
	f->uv = NULL;
	f->size = 0;
}

static void lsie_frame_free(lsie_frame *f) {
	lsie_frame_release(f);
	if (f->caps != NULL) gst_caps_unref(f->caps);
	g_free(f);
}

// lsie_frame_pull pulls the next sample from sink and maps its buffer
// read-only (no copy). The stride comes from the buffer's GstVideoMeta when
// it has one, else from the GstVideoInfo of the caps.
static int lsie_frame_pull(GstElement *sink, lsie_frame *f) {
	GstSample *s = gst_app_sink_pull_sample(GST_APP_SINK(sink));
	if (s == NULL) return LSIE_NO_SAMPLE;
	GstBuffer *b = gst_sample_get_buffer(s);
	GstCaps *caps = gst_sample_get_caps(s);
	if (b == NULL || caps == NULL) {
		gst_sample_unref(s);
		return LSIE_BAD_CAPS;
	}
	if (f->caps != caps) {
		if (!gst_video_info_from_caps(&f->info, caps)) {
			gst_sample_unref(s);
			return LSIE_BAD_CAPS;
		}
		gst_caps_replace(&f->caps, caps);
	}
	if (!gst_video_frame_map(&f->frame, &f->info, b, f->cuda ? GST_MAP_READ | LSIE_MAP_CUDA : GST_MAP_READ)) {
		gst_sample_unref(s);
		return LSIE_MAP_FAILED;
	}
	f->sample = s;
	f->mapped = TRUE;
	f->data = GST_VIDEO_FRAME_PLANE_DATA(&f->frame, 0);
	f->stride = GST_VIDEO_FRAME_PLANE_STRIDE(&f->frame, 0);
	f->width = GST_VIDEO_FRAME_WIDTH(&f->frame);
	f->height = GST_VIDEO_FRAME_HEIGHT(&f->frame);
	f->uv = NULL;
	f->uv_stride = 0;
	if (GST_VIDEO_FRAME_FORMAT(&f->frame) == GST_VIDEO_FORMAT_NV12) {
		f->uv = GST_VIDEO_FRAME_PLANE_DATA(&f->frame, 1);
		f->uv_stride = GST_VIDEO_FRAME_PLANE_STRIDE(&f->frame, 1);
	}
	guint8 *base = (guint8 *) f->frame.map[0].data;
	gsize mapped = f->frame.map[0].size;
	gsize off = (gsize) (f->data - base);
	f->size = off <= mapped ? mapped - off : 0;
	f->running = GST_CLOCK_TIME_NONE;
	GstSegment *seg = gst_sample_get_segment(s);
	if (GST_BUFFER_PTS_IS_VALID(b) && seg != NULL && seg->format == GST_FORMAT_TIME) {
		f->running = gst_segment_to_running_time(seg, GST_FORMAT_TIME, GST_BUFFER_PTS(b));
	}
	return LSIE_OK;
}

// lsie_audio holds one pulled audio sample with its buffer mapped read-only,
// in C memory (one per capture) like lsie_frame.
typedef struct {
	GstSample *sample;
	GstMapInfo info;
	gboolean mapped;
	guint8 *data;       // the mapped bytes
	gsize size;
	gint64 running;     // running time of the buffer PTS (may be negative)
	gboolean timed;     // running is valid
	gboolean discont;   // the buffer is flagged DISCONT
} lsie_audio;

static lsie_audio *lsie_audio_new(void) { return g_new0(lsie_audio, 1); }

static void lsie_audio_release(lsie_audio *a) {
	if (a->mapped) {
		gst_buffer_unmap(gst_sample_get_buffer(a->sample), &a->info);
		a->mapped = FALSE;
	}
	if (a->sample != NULL) {
		gst_sample_unref(a->sample);
		a->sample = NULL;
	}
	a->data = NULL;
	a->size = 0;
}

static void lsie_audio_free(lsie_audio *a) {
	lsie_audio_release(a);
	g_free(a);
}

// lsie_audio_pull pulls the next sample from sink and maps its buffer
// read-only (no copy). A PTS before the segment start gives a negative
// running time, so the caller can trim the samples before its time line.
static int lsie_audio_pull(GstElement *sink, lsie_audio *a) {
	GstSample *s = gst_app_sink_pull_sample(GST_APP_SINK(sink));
	if (s == NULL) return LSIE_NO_SAMPLE;
	GstBuffer *b = gst_sample_get_buffer(s);
	if (b == NULL) {
		gst_sample_unref(s);
		return LSIE_BAD_CAPS;
	}
	if (!gst_buffer_map(b, &a->info, GST_MAP_READ)) {
		gst_sample_unref(s);
		return LSIE_MAP_FAILED;
	}
	a->sample = s;
	a->mapped = TRUE;
	a->data = a->info.data;
	a->size = a->info.size;
	a->discont = GST_BUFFER_IS_DISCONT(b);
	a->timed = FALSE;
	a->running = 0;
	GstSegment *seg = gst_sample_get_segment(s);
	if (GST_BUFFER_PTS_IS_VALID(b) && seg != NULL && seg->format == GST_FORMAT_TIME) {
		guint64 rt = 0;
		int sign = gst_segment_to_running_time_full(seg, GST_FORMAT_TIME, GST_BUFFER_PTS(b), &rt);
		if (sign != 0 && rt <= G_MAXINT64) {
			a->running = sign > 0 ? (gint64) rt : -(gint64) rt;
			a->timed = TRUE;
		}
	}
	return LSIE_OK;
}

// lsie_pad_is_raw_audio reports whether a pad carries raw audio.
static gboolean lsie_pad_is_raw_audio(GstPad *pad) {
	GstCaps *caps = gst_pad_get_current_caps(pad);
	if (caps == NULL) caps = gst_pad_query_caps(pad, NULL);
	if (caps == NULL) return FALSE;
	gboolean ret = gst_caps_get_size(caps) > 0 &&
		gst_structure_has_name(gst_caps_get_structure(caps, 0), "audio/x-raw");
	gst_caps_unref(caps);
	return ret;
}

// lsie_set_pcm_caps sets caps audio/x-raw S16LE mono interleaved at rate on
// a capsfilter.
static void lsie_set_pcm_caps(GstElement *capsfilter, gint rate) {
	GstCaps *caps = gst_caps_new_simple("audio/x-raw",
		"format", G_TYPE_STRING, "S16LE",
		"rate", G_TYPE_INT, rate,
		"channels", G_TYPE_INT, 1,
		"layout", G_TYPE_STRING, "interleaved", NULL);
	g_object_set(capsfilter, "caps", caps, NULL);
	gst_caps_unref(caps);
}

// lsie_pad_video_dims reads the raw video size and pixel aspect ratio from a
// pad's current caps (or its fixed queried caps). It returns 0 for a pad that
// is not raw video, 1 with the dims filled, 2 for raw video of unknown size.
static int lsie_pad_video_dims(GstPad *pad, gint *w, gint *h, gint *parn, gint *pard) {
	GstCaps *caps = gst_pad_get_current_caps(pad);
	if (caps == NULL) caps = gst_pad_query_caps(pad, NULL);
	if (caps == NULL) return 0;
	int ret = 0;
	if (gst_caps_get_size(caps) > 0) {
		GstStructure *st = gst_caps_get_structure(caps, 0);
		if (gst_structure_has_name(st, "video/x-raw")) {
			ret = 2;
			if (gst_structure_get_int(st, "width", w) && gst_structure_get_int(st, "height", h)) {
				if (!gst_structure_get_fraction(st, "pixel-aspect-ratio", parn, pard) || *parn <= 0 || *pard <= 0) {
					*parn = 1;
					*pard = 1;
				}
				ret = 1;
			}
		}
	}
	gst_caps_unref(caps);
	return ret;
}

// lsie_set_video_caps sets caps video/x-raw,format,width,height,PAR 1/1 on
// a capsfilter; a width or height of 0 leaves that field open.
static void lsie_set_video_caps(GstElement *capsfilter, const char *format, gboolean cuda, gint w, gint h) {
	GstCaps *caps = gst_caps_new_simple("video/x-raw",
		"format", G_TYPE_STRING, format,
		"pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, NULL);
	if (cuda) gst_caps_set_features(caps, 0, gst_caps_features_new("memory:CUDAMemory", NULL));
	if (w > 0) gst_caps_set_simple(caps, "width", G_TYPE_INT, w, NULL);
	if (h > 0) gst_caps_set_simple(caps, "height", G_TYPE_INT, h, NULL);
	g_object_set(capsfilter, "caps", caps, NULL);
	gst_caps_unref(caps);
}

// lsie_set_test_caps sets the caps a videotestsrc produces.
static void lsie_set_test_caps(GstElement *capsfilter, gint w, gint h, gint fps) {
	GstCaps *caps = gst_caps_new_simple("video/x-raw",
		"width", G_TYPE_INT, w, "height", G_TYPE_INT, h,
		"framerate", GST_TYPE_FRACTION, fps, 1,
		"pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, NULL);
	g_object_set(capsfilter, "caps", caps, NULL);
	gst_caps_unref(caps);
}

// lsie_running_now returns the element's current running time (clock time
// minus base time), or NONE when it has no clock yet.
static GstClockTime lsie_running_now(GstElement *e) {
	GstClock *clock = gst_element_get_clock(e);
	if (clock == NULL) return GST_CLOCK_TIME_NONE;
	GstClockTime now = gst_clock_get_time(clock);
	gst_object_unref(clock);
	GstClockTime base = gst_element_get_base_time(e);
	if (!GST_CLOCK_TIME_IS_VALID(now) || !GST_CLOCK_TIME_IS_VALID(base) || now < base) return GST_CLOCK_TIME_NONE;
	return now - base;
}
// lsie_watch records when a buffer last came out of a live source (or its
// demuxer), before any queue, so a stall is told apart from downstream
// backpressure. One per capture, reset per attempt; written by a pad probe
// on streaming threads, read by Run. Times are g_get_monotonic_time() µs.
typedef struct {
	gint64 last;
	gint64 buffers;
} lsie_watch;

static lsie_watch *lsie_watch_new(void) { return g_new0(lsie_watch, 1); }
static void lsie_watch_free(lsie_watch *w) { g_free(w); }

static GstPadProbeReturn lsie_watch_probe(GstPad *pad, GstPadProbeInfo *info, gpointer user) {
	lsie_watch *w = user;
	__atomic_store_n(&w->last, g_get_monotonic_time(), __ATOMIC_RELAXED);
	__atomic_add_fetch(&w->buffers, 1, __ATOMIC_RELAXED);
	return GST_PAD_PROBE_OK;
}

// lsie_watch_pad counts every buffer (or list) pushed out of pad. The probe
// holds w without a reference: w outlives every pipeline of its capture.
static void lsie_watch_pad(GstPad *pad, lsie_watch *w) {
	gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST, lsie_watch_probe, w, NULL);
}

// lsie_watch_arm starts a new attempt: idle time counts from now.
static void lsie_watch_arm(lsie_watch *w) {
	__atomic_store_n(&w->last, g_get_monotonic_time(), __ATOMIC_RELAXED);
	__atomic_store_n(&w->buffers, 0, __ATOMIC_RELAXED);
}

static gint64 lsie_watch_idle_us(lsie_watch *w) {
	return g_get_monotonic_time() - __atomic_load_n(&w->last, __ATOMIC_RELAXED);
}

static gint64 lsie_watch_buffers(lsie_watch *w) { return __atomic_load_n(&w->buffers, __ATOMIC_RELAXED); }

// lsie_pace keeps the clocksyncs of an unclocked source's branches (video,
// audio) on one ts-offset, set from the first buffer reaching either: the
// pipeline's running time then minus the buffer's. Each branch pacing from
// its own first buffer (sync-to-first) would shift audio and video apart
// when the stream's first audio and video buffers carry different times.
// One per capture, reset for every pipeline.
typedef struct {
	GMutex lock;
	gboolean set;
	gint64 offset;
	GstElement *cs[2]; // no references: only used while their pipeline lives
	int n;
} lsie_pace;

static lsie_pace *lsie_pace_new(void) {
	lsie_pace *p = g_new0(lsie_pace, 1);
	g_mutex_init(&p->lock);
	return p;
}

static void lsie_pace_free(lsie_pace *p) {
	g_mutex_clear(&p->lock);
	g_free(p);
}

static void lsie_pace_reset(lsie_pace *p) {
	g_mutex_lock(&p->lock);
	p->set = FALSE;
	p->offset = 0;
	p->cs[0] = p->cs[1] = NULL;
	p->n = 0;
	g_mutex_unlock(&p->lock);
}

static GstPadProbeReturn lsie_pace_probe(GstPad *pad, GstPadProbeInfo *info, gpointer user) {
	lsie_pace *p = user;
	GstBuffer *b = GST_PAD_PROBE_INFO_BUFFER(info);
	gboolean done = FALSE;
	g_mutex_lock(&p->lock);
	if (p->set) {
		done = TRUE;
	} else if (b != NULL && GST_BUFFER_PTS_IS_VALID(b)) {
		GstEvent *ev = gst_pad_get_sticky_event(pad, GST_EVENT_SEGMENT, 0);
		GstObject *parent = gst_pad_get_parent(pad);
		if (ev != NULL && parent != NULL) {
			const GstSegment *seg;
			gst_event_parse_segment(ev, &seg);
			guint64 rt = 0;
			int sign = seg->format == GST_FORMAT_TIME ?
				gst_segment_to_running_time_full(seg, GST_FORMAT_TIME, GST_BUFFER_PTS(b), &rt) : 0;
			GstClockTime now = lsie_running_now(GST_ELEMENT(parent));
			// Without a clock yet (a prerolling pipeline), the buffer goes
			// through unpaced and the next one sets the offset.
			if (sign != 0 && rt <= G_MAXINT64 && GST_CLOCK_TIME_IS_VALID(now)) {
				gint64 running = sign > 0 ? (gint64) rt : -(gint64) rt;
				p->offset = (gint64) now - running;
				p->set = TRUE;
				done = TRUE;
				for (int i = 0; i < p->n; i++) g_object_set(p->cs[i], "ts-offset", p->offset, NULL);
			}
		}
		if (ev != NULL) gst_event_unref(ev);
		if (parent != NULL) gst_object_unref(parent);
	}
	g_mutex_unlock(&p->lock);
	return done ? GST_PAD_PROBE_REMOVE : GST_PAD_PROBE_OK;
}

// lsie_pace_add puts clocksync cs under p: a probe on its sink pad.
static void lsie_pace_add(lsie_pace *p, GstElement *cs) {
	g_mutex_lock(&p->lock);
	if (p->n < 2) p->cs[p->n++] = cs;
	g_mutex_unlock(&p->lock);
	GstPad *sink = gst_element_get_static_pad(cs, "sink");
	gst_pad_add_probe(sink, GST_PAD_PROBE_TYPE_BUFFER, lsie_pace_probe, p, NULL);
	gst_object_unref(sink);
}

static gboolean lsie_pace_offset(lsie_pace *p, gint64 *off) {
	g_mutex_lock(&p->lock);
	gboolean set = p->set;
	*off = p->offset;
	g_mutex_unlock(&p->lock);
	return set;
}

// Signals are connected here, in C, with a cgo.Handle as user data, rather
// than with go-glib's Connect: go-glib v1.4.0 never frees a closure it
// connected, which a source that reconnects for months would pile up.
extern void lsieGoPadAdded(uintptr_t h, GstElement *el, GstPad *pad);
extern void lsieGoNoMorePads(uintptr_t h, GstElement *el);

static void lsie_pad_added_cb(GstElement *el, GstPad *pad, gpointer user) {
	lsieGoPadAdded((uintptr_t) user, el, pad);
}

static void lsie_no_more_pads_cb(GstElement *el, gpointer user) {
	lsieGoNoMorePads((uintptr_t) user, el);
}

static gulong lsie_connect_pad_added(GstElement *el, uintptr_t h) {
	return g_signal_connect(el, "pad-added", G_CALLBACK(lsie_pad_added_cb), (gpointer) h);
}

static gulong lsie_connect_no_more_pads(GstElement *el, uintptr_t h) {
	return g_signal_connect(el, "no-more-pads", G_CALLBACK(lsie_no_more_pads_cb), (gpointer) h);
}

static void lsie_disconnect(GstElement *el, gulong id) {
	if (g_signal_handler_is_connected(el, id)) g_signal_handler_disconnect(el, id);
}

*/
import "C"

import (
	"fmt"
	"runtime/cgo"
	"time"
	"unsafe"

	"github.com/lsie-mlf/lsie/shm"
)

// cframe is the Go handle on one capture's lsie_frame.
type cframe struct{ p *C.lsie_frame }

// newCFrame makes the C frame; cuda maps buffers as CUDA memory (GPU).
func newCFrame(cuda bool) *cframe { return &cframe{p: C.lsie_frame_new(cbool(cuda))} }

// free releases the C frame; safe to call twice.
func (f *cframe) free() {
	if f.p != nil {
		C.lsie_frame_free(f.p)
		f.p = nil
	}
}

// pull pulls and maps the next sample of the appsink at sink. On success the
// caller must call release once done with the returned view.
func (f *cframe) pull(sink unsafe.Pointer) (Frame, time.Duration, bool, error) {
	switch rc := C.lsie_frame_pull((*C.GstElement)(sink), f.p); rc {
	case C.LSIE_OK:
	case C.LSIE_NO_SAMPLE:
		return Frame{}, 0, false, errNoSample
	default:
		return Frame{}, 0, false, fmt.Errorf("map sample: code %d", int(rc))
	}
	p := f.p
	w, h, stride := int(p.width), int(p.height), int(p.stride)
	n := stride * h
	if avail := int(p.size); avail < n {
		n = avail
	}
	fr := Frame{
		Data:   unsafe.Slice((*byte)(unsafe.Pointer(p.data)), n),
		Width:  w,
		Height: h,
		Stride: stride,
		Format: shm.FormatRGB24,
	}
	switch {
	case p.cuda == C.TRUE:
		// Device pointers: nothing here may read through them.
		fr.Data, fr.Format, fr.UVStride, fr.Device = nil, shm.FormatNV12, int(p.uv_stride), true
		fr.DeviceY, fr.DeviceUV = uintptr(unsafe.Pointer(p.data)), uintptr(unsafe.Pointer(p.uv))
	case p.uv != nil:
		fr.Format, fr.UVStride = shm.FormatNV12, int(p.uv_stride)
		fr.UV = unsafe.Slice((*byte)(unsafe.Pointer(p.uv)), fr.UVStride*((h+1)/2))
	}
	if p.running == C.GST_CLOCK_TIME_NONE {
		return fr, 0, false, nil
	}
	return fr, time.Duration(p.running), true, nil
}

// release unmaps and unrefs the sample from the last successful pull.
func (f *cframe) release() { C.lsie_frame_release(f.p) }

// caudio is the Go handle on one capture's lsie_audio.
type caudio struct{ p *C.lsie_audio }

func newCAudio() *caudio { return &caudio{p: C.lsie_audio_new()} }

// free releases the C sample holder; safe to call twice.
func (a *caudio) free() {
	if a.p != nil {
		C.lsie_audio_free(a.p)
		a.p = nil
	}
}

// audioBuf is a view on one pulled audio buffer.
type audioBuf struct {
	// pcm aliases the mapped GstBuffer; valid until release.
	pcm     []byte
	running time.Duration
	timed   bool
	discont bool
}

// pull pulls and maps the next sample of the appsink at sink. On success the
// caller must call release once done with the returned view.
func (a *caudio) pull(sink unsafe.Pointer) (audioBuf, error) {
	switch rc := C.lsie_audio_pull((*C.GstElement)(sink), a.p); rc {
	case C.LSIE_OK:
	case C.LSIE_NO_SAMPLE:
		return audioBuf{}, errNoSample
	default:
		return audioBuf{}, fmt.Errorf("map audio sample: code %d", int(rc))
	}
	p := a.p
	var pcm []byte
	if p.size > 0 {
		pcm = unsafe.Slice((*byte)(unsafe.Pointer(p.data)), int(p.size))
	}
	return audioBuf{
		pcm:     pcm,
		running: time.Duration(p.running),
		timed:   p.timed != 0,
		discont: p.discont != 0,
	}, nil
}

// release unmaps and unrefs the sample from the last successful pull.
func (a *caudio) release() { C.lsie_audio_release(a.p) }

// padIsRawAudio reports whether pad carries raw audio.
func padIsRawAudio(pad unsafe.Pointer) bool {
	return C.lsie_pad_is_raw_audio((*C.GstPad)(pad)) != 0
}

// setPCMCaps constrains a capsfilter to S16LE mono PCM at rate.
func setPCMCaps(capsfilter unsafe.Pointer, rate int) {
	C.lsie_set_pcm_caps((*C.GstElement)(capsfilter), C.gint(rate))
}

// padVideoDims reports whether pad carries raw video and, when known, its
// size and pixel aspect ratio.
func padVideoDims(pad unsafe.Pointer) (isVideo bool, d dims, known bool) {
	var w, h, pn, pd C.gint
	switch C.lsie_pad_video_dims((*C.GstPad)(pad), &w, &h, &pn, &pd) {
	case 1:
		return true, dims{W: int(w), H: int(h), ParN: int(pn), ParD: int(pd)}, true
	case 2:
		return true, dims{}, false
	}
	return false, dims{}, false
}

// Caps format names, C strings that live as long as the process.
var (
	capsRGB  = C.CString("RGB")
	capsNV12 = C.CString("NV12")
)

// setVideoCaps constrains a capsfilter to format (RGB24 or NV12) at w x h
// (0 leaves a side open), in CUDA memory when cuda is set.
func setVideoCaps(capsfilter unsafe.Pointer, format shm.PixelFormat, cuda bool, w, h int) {
	name := capsRGB
	if format == shm.FormatNV12 {
		name = capsNV12
	}
	C.lsie_set_video_caps((*C.GstElement)(capsfilter), name, cbool(cuda), C.gint(w), C.gint(h))
}

func cbool(b bool) C.gboolean {
	if b {
		return C.TRUE
	}
	return C.FALSE
}

// setTestCaps sets the raw caps of a test source.
func setTestCaps(capsfilter unsafe.Pointer, w, h, fps int) {
	C.lsie_set_test_caps((*C.GstElement)(capsfilter), C.gint(w), C.gint(h), C.gint(fps))
}

// runningNow returns the current running time of element e, if it has a clock.
func runningNow(e unsafe.Pointer) (time.Duration, bool) {
	t := C.lsie_running_now((*C.GstElement)(e))
	if t == C.GST_CLOCK_TIME_NONE {
		return 0, false
	}
	return time.Duration(t), true
}

// cwatch is the Go handle on one capture's lsie_watch.
type cwatch struct{ p *C.lsie_watch }

func newCWatch() *cwatch { return &cwatch{p: C.lsie_watch_new()} }

// free releases the watch; only once no pipeline of the capture can run.
func (w *cwatch) free() {
	if w.p != nil {
		C.lsie_watch_free(w.p)
		w.p = nil
	}
}

// pad adds the buffer probe to pad (a *GstPad).
func (w *cwatch) pad(pad unsafe.Pointer) { C.lsie_watch_pad((*C.GstPad)(pad), w.p) }

// arm starts an attempt: idle time counts from now, buffers from 0.
func (w *cwatch) arm() { C.lsie_watch_arm(w.p) }

// idle is the time since the last buffer (or since arm).
func (w *cwatch) idle() time.Duration {
	return time.Duration(C.lsie_watch_idle_us(w.p)) * time.Microsecond
}

// buffers counts the buffers seen since arm.
func (w *cwatch) buffers() int64 { return int64(C.lsie_watch_buffers(w.p)) }

// signalRef is one signal handler connected in C.
type signalRef struct {
	el unsafe.Pointer // *GstElement; the graph keeps the element alive
	id C.gulong
}

// connectPadSignals connects pad-added and no-more-pads of el (a
// *GstElement) to the router behind h.
func connectPadSignals(el unsafe.Pointer, h cgo.Handle) []signalRef {
	e := (*C.GstElement)(el)
	return []signalRef{
		{el, C.lsie_connect_pad_added(e, C.uintptr_t(h))},
		{el, C.lsie_connect_no_more_pads(e, C.uintptr_t(h))},
	}
}

// disconnectSignal drops a handler connected by connectPadSignals.
func disconnectSignal(s signalRef) { C.lsie_disconnect((*C.GstElement)(s.el), s.id) }

// cpace is the Go handle on one capture's lsie_pace.
type cpace struct{ p *C.lsie_pace }

func newCPace() *cpace { return &cpace{p: C.lsie_pace_new()} }

// free releases the pace; only once no pipeline of the capture can run.
func (p *cpace) free() {
	if p.p != nil {
		C.lsie_pace_free(p.p)
		p.p = nil
	}
}

// reset forgets the clocksyncs and offset of the previous pipeline.
func (p *cpace) reset() { C.lsie_pace_reset(p.p) }

// add puts clocksync cs (a *GstElement) on the shared offset.
func (p *cpace) add(cs unsafe.Pointer) { C.lsie_pace_add(p.p, (*C.GstElement)(cs)) }

// offset is the ts-offset set from the first buffer, if set yet.
func (p *cpace) offset() (time.Duration, bool) {
	var off C.gint64
	ok := C.lsie_pace_offset(p.p, &off) != 0
	return time.Duration(off), ok
}
