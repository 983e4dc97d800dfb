// Package rtsptest serves a live H.264 (and optionally L16 audio) RTSP stream
// on 127.0.0.1 for capture tests, over gst-rtsp-server (Debian
// libgstrtspserver-1.0-dev; go-gst has no bindings for it). A test can stop
// the server mid-run (the listening socket, every client connection and
// session go away), start it again on the same port, or block the media so
// that connections stay open but no RTP flows.
//
// It is for tests only: it never listens on anything but 127.0.0.1.
package rtsptest

/*
#cgo pkg-config: gstreamer-1.0 gstreamer-rtsp-server-1.0
#include <stdlib.h>
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>

typedef struct {
	GMutex lock;
	gchar *launch;
	gchar *path;
	gboolean blocked;
	GstElement *vgate, *agate; // valves of the current media (refs), under lock
	guint clients;             // connections accepted so far, under lock

	GMainContext *ctx;
	GMainLoop *loop;
	GThread *thread;
	GstRTSPServer *server;
	GSource *listen;
} lsie_rtsp;

static lsie_rtsp *lsie_rtsp_new(const char *launch, const char *path) {
	lsie_rtsp *s = g_new0(lsie_rtsp, 1);
	g_mutex_init(&s->lock);
	s->launch = g_strdup(launch);
	s->path = g_strdup(path);
	return s;
}

static void lsie_rtsp_set_gates(lsie_rtsp *s, GstElement *v, GstElement *a) {
	g_mutex_lock(&s->lock);
	gst_object_replace((GstObject **) &s->vgate, (GstObject *) v);
	gst_object_replace((GstObject **) &s->agate, (GstObject *) a);
	if (v != NULL) g_object_set(v, "drop", s->blocked, NULL);
	if (a != NULL) g_object_set(a, "drop", s->blocked, NULL);
	g_mutex_unlock(&s->lock);
}

static void lsie_rtsp_on_configure(GstRTSPMediaFactory *f, GstRTSPMedia *media, gpointer user) {
	lsie_rtsp *s = user;
	GstElement *e = gst_rtsp_media_get_element(media);
	GstElement *v = gst_bin_get_by_name(GST_BIN(e), "vgate");
	GstElement *a = gst_bin_get_by_name(GST_BIN(e), "agate");
	lsie_rtsp_set_gates(s, v, a);
	if (v != NULL) gst_object_unref(v);
	if (a != NULL) gst_object_unref(a);
	gst_object_unref(e);
}

static void lsie_rtsp_on_client(GstRTSPServer *srv, GstRTSPClient *c, gpointer user) {
	lsie_rtsp *s = user;
	g_mutex_lock(&s->lock);
	s->clients++;
	g_mutex_unlock(&s->lock);
}

static gpointer lsie_rtsp_loop(gpointer user) {
	lsie_rtsp *s = user;
	g_main_context_push_thread_default(s->ctx);
	g_main_loop_run(s->loop);
	g_main_context_pop_thread_default(s->ctx);
	return NULL;
}

// lsie_rtsp_start binds 127.0.0.1:port (0 = any free port) and serves. It
// returns the bound port, or -1 with *err set (free it with g_free).
static int lsie_rtsp_start(lsie_rtsp *s, int port, char **err) {
	gchar *service = g_strdup_printf("%d", port);
	GstRTSPServer *srv = gst_rtsp_server_new();
	g_object_set(srv, "address", "127.0.0.1", "service", service, NULL);
	g_free(service);
	GstRTSPMediaFactory *f = gst_rtsp_media_factory_new();
	gst_rtsp_media_factory_set_launch(f, s->launch);
	gst_rtsp_media_factory_set_shared(f, TRUE);
	g_signal_connect(f, "media-configure", G_CALLBACK(lsie_rtsp_on_configure), s);
	GstRTSPMountPoints *m = gst_rtsp_server_get_mount_points(srv);
	gst_rtsp_mount_points_add_factory(m, s->path, f); // takes f
	g_object_unref(m);
	g_signal_connect(srv, "client-connected", G_CALLBACK(lsie_rtsp_on_client), s);
	GError *gerr = NULL;
	GSource *src = gst_rtsp_server_create_source(srv, NULL, &gerr);
	if (src == NULL) {
		*err = g_strdup(gerr != NULL ? gerr->message : "cannot listen");
		g_clear_error(&gerr);
		g_object_unref(srv);
		return -1;
	}
	s->ctx = g_main_context_new();
	s->loop = g_main_loop_new(s->ctx, FALSE);
	s->server = srv;
	s->listen = src;
	g_source_attach(src, s->ctx);
	int bound = gst_rtsp_server_get_bound_port(srv);
	s->thread = g_thread_new("rtsptest", lsie_rtsp_loop, s);
	return bound;
}

static GstRTSPFilterResult lsie_rtsp_keep(GstRTSPServer *srv, GstRTSPClient *c, gpointer user) {
	return GST_RTSP_FILTER_REF;
}

static GstRTSPFilterResult lsie_rtsp_drop_session(GstRTSPSessionPool *pool, GstRTSPSession *sess, gpointer user) {
	return GST_RTSP_FILTER_REMOVE;
}

// lsie_rtsp_shutdown runs on the server's main context: it stops listening,
// closes every client connection, drops every session (and so the media)
// and quits the loop.
static gboolean lsie_rtsp_shutdown(gpointer user) {
	lsie_rtsp *s = user;
	g_source_destroy(s->listen);
	GList *clients = gst_rtsp_server_client_filter(s->server, lsie_rtsp_keep, NULL);
	for (GList *l = clients; l != NULL; l = l->next) gst_rtsp_client_close(GST_RTSP_CLIENT(l->data));
	g_list_free_full(clients, g_object_unref);
	GstRTSPSessionPool *pool = gst_rtsp_server_get_session_pool(s->server);
	GList *rest = gst_rtsp_session_pool_filter(pool, lsie_rtsp_drop_session, NULL);
	g_list_free_full(rest, g_object_unref);
	g_object_unref(pool);
	g_main_loop_quit(s->loop);
	return G_SOURCE_REMOVE;
}

static void lsie_rtsp_stop(lsie_rtsp *s) {
	if (s->thread == NULL) return;
	g_main_context_invoke(s->ctx, lsie_rtsp_shutdown, s);
	g_thread_join(s->thread);
	s->thread = NULL;
	// Let what the shutdown released finish on this context.
	while (g_main_context_iteration(s->ctx, FALSE)) {}
	g_source_unref(s->listen);
	s->listen = NULL;
	g_object_unref(s->server);
	s->server = NULL;
	g_main_loop_unref(s->loop);
	s->loop = NULL;
	g_main_context_unref(s->ctx);
	s->ctx = NULL;
	lsie_rtsp_set_gates(s, NULL, NULL);
}

static void lsie_rtsp_block(lsie_rtsp *s, gboolean on) {
	g_mutex_lock(&s->lock);
	s->blocked = on;
	if (s->vgate != NULL) g_object_set(s->vgate, "drop", on, NULL);
	if (s->agate != NULL) g_object_set(s->agate, "drop", on, NULL);
	g_mutex_unlock(&s->lock);
}

static guint lsie_rtsp_clients(lsie_rtsp *s) {
	g_mutex_lock(&s->lock);
	guint n = s->clients;
	g_mutex_unlock(&s->lock);
	return n;
}

static void lsie_rtsp_free(lsie_rtsp *s) {
	lsie_rtsp_stop(s);
	g_free(s->launch);
	g_free(s->path);
	g_mutex_clear(&s->lock);
	g_free(s);
}

static void lsie_rtsp_init(void) { gst_init(NULL, NULL); }
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"time"
	"unsafe"
)

// Options describe the served stream.
type Options struct {
	// Width, Height and FPS of the H.264 video; zero values give 320x240 at
	// 15 fps.
	Width, Height, FPS int
	// Audio adds a 440 Hz sine as L16 16 kHz mono RTP (pay1).
	Audio bool
}

// Server is one test RTSP server. Its methods are safe for concurrent use.
type Server struct {
	mu      sync.Mutex
	c       *C.lsie_rtsp
	port    int
	running bool
}

// Path is where the stream is mounted.
const Path = "/test"

var initOnce sync.Once

// New makes a server; Start serves it.
func New(o Options) *Server {
	initOnce.Do(func() { C.lsie_rtsp_init() })
	if o.Width == 0 {
		o.Width, o.Height = 320, 240
	}
	if o.FPS == 0 {
		o.FPS = 15
	}
	launch := fmt.Sprintf("( videotestsrc is-live=true pattern=ball ! video/x-raw,width=%d,height=%d,framerate=%d/1 "+
		"! valve name=vgate ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=%d "+
		"! rtph264pay name=pay0 pt=96 config-interval=-1", o.Width, o.Height, o.FPS, o.FPS)
	if o.Audio {
		launch += " audiotestsrc is-live=true wave=sine freq=440 samplesperbuffer=320 ! audioconvert " +
			"! audio/x-raw,format=S16BE,rate=16000,channels=1 ! valve name=agate ! rtpL16pay name=pay1 pt=97"
	}
	launch += " )"
	cl, cp := C.CString(launch), C.CString(Path)
	defer C.free(unsafe.Pointer(cl))
	defer C.free(unsafe.Pointer(cp))
	return &Server{c: C.lsie_rtsp_new(cl, cp)}
}

// Start serves on 127.0.0.1: on a free port the first time, on the same port
// after a Stop (retrying for up to 5 s while the port is still taken).
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c == nil {
		return errors.New("rtsptest: server closed")
	}
	if s.running {
		return nil
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var cerr *C.char
		port := C.lsie_rtsp_start(s.c, C.int(s.port), &cerr)
		if port > 0 {
			s.port = int(port)
			s.running = true
			return nil
		}
		msg := C.GoString(cerr)
		C.g_free(C.gpointer(cerr))
		if time.Now().After(deadline) {
			return fmt.Errorf("rtsptest: listen on 127.0.0.1:%d: %s", s.port, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop closes the listening socket, every client connection and session.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c != nil && s.running {
		C.lsie_rtsp_stop(s.c)
		s.running = false
	}
}

// Block stops (true) or resumes (false) the media: connections stay open,
// but no RTP packet is sent while blocked.
func (s *Server) Block(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c != nil {
		b := C.gboolean(0)
		if on {
			b = 1
		}
		C.lsie_rtsp_block(s.c, b)
	}
}

// Clients counts the connections accepted since New.
func (s *Server) Clients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c == nil {
		return 0
	}
	return int(C.lsie_rtsp_clients(s.c))
}

// Port is the bound port (0 before the first Start).
func (s *Server) Port() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.port
}

// URL is the stream's rtsp:// URL.
func (s *Server) URL() string { return fmt.Sprintf("rtsp://127.0.0.1:%d%s", s.Port(), Path) }

// Close stops the server and frees it.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c != nil {
		C.lsie_rtsp_free(s.c)
		s.c = nil
		s.running = false
	}
}
