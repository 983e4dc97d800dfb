// Package hlstest serves a live HLS stream on 127.0.0.1 for tests of HLS
// sources: a gst-launch-1.0 packager (hlssink2: a live 320x240 15 fps H.264
// video of a moving ball with a 440 Hz AAC tone, 1 s MPEG-TS segments, a
// 6-segment sliding playlist) writes into a temp dir that net/http serves.
// A test can stop the HTTP server mid-run (the listener and every
// connection close) and start it again on the same port while the packager
// keeps going, as an origin that goes away and comes back.
//
// A missing gst-launch-1.0 skips the test on a developer's machine and
// fails it in CI (CI set), where scripts/setup.sh installs everything: a
// skipped test there would count as passing without running.
//
// Start and Restart report through tb, so call them from the test's
// goroutine. Everything started is stopped at the test's cleanup, and when
// the test failed the packager's output is logged there.
package hlstest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/internal/testenv"
)

// Playlist is the playlist's file name, under the server's root.
const Playlist = "playlist.m3u8"

// Server is a live HLS packager and its HTTP server. Its methods are safe
// for concurrent use.
type Server struct {
	tb       testing.TB
	dir      string
	port     int
	requests atomic.Int64

	mu   sync.Mutex
	srv  *http.Server  // nil while stopped
	done chan struct{} // closed when srv's Serve returned
}

// Start runs the packager, waits until its playlist lists two segments (up
// to 20 s), and serves the directory on a free port of 127.0.0.1.
func Start(tb testing.TB) *Server {
	tb.Helper()
	if _, err := exec.LookPath("gst-launch-1.0"); err != nil {
		testenv.Missing(tb, "hlstest: gst-launch-1.0 not installed (scripts/setup.sh installs gstreamer1.0-tools)")
	}
	s := &Server{tb: tb, dir: tb.TempDir()}
	playlist := filepath.Join(s.dir, Playlist)
	pkg, err := testenv.NewProcs(tb).Start("gst-launch-1.0", "-q",
		"videotestsrc", "is-live=true", "pattern=ball", "!", "video/x-raw,width=320,height=240,framerate=15/1", "!",
		"x264enc", "tune=zerolatency", "speed-preset=ultrafast", "key-int-max=15", "!", "h264parse", "!", "hls.video",
		"audiotestsrc", "is-live=true", "wave=sine", "freq=440", "!", "audioconvert", "!", "avenc_aac", "!", "aacparse", "!", "hls.audio",
		"hlssink2", "name=hls", "target-duration=1", "max-files=30", "playlist-length=6",
		"location="+filepath.Join(s.dir, "seg%05d.ts"), "playlist-location="+playlist)
	if err != nil {
		tb.Fatalf("hlstest: start packager: %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(playlist)
		if bytes.Count(b, []byte("#EXTINF")) >= 2 {
			break
		}
		select {
		case <-pkg.Done():
			tb.Fatalf("hlstest: packager exited before writing a playlist:\n%s", pkg.Output())
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("hlstest: no playlist with 2 segments after 20 s: %q", b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s.port = l.Addr().(*net.TCPAddr).Port
	s.mu.Lock()
	s.serve(l)
	s.mu.Unlock()
	tb.Cleanup(s.Stop)
	return s
}

// Port is the HTTP server's port; it stays the same across restarts.
func (s *Server) Port() int { return s.port }

// URL is the playlist's http:// URL.
func (s *Server) URL() string { return fmt.Sprintf("http://127.0.0.1:%d/%s", s.port, Playlist) }

// Dir is the directory the packager writes and the server serves.
func (s *Server) Dir() string { return s.dir }

// Requests counts the HTTP requests served since Start.
func (s *Server) Requests() int64 { return s.requests.Load() }

// Stop closes the listener and every connection, idle or in flight; the
// packager keeps writing. It is idempotent.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil {
		return
	}
	_ = s.srv.Close()
	<-s.done
	s.srv = nil
}

// Restart serves again on the same port (a no-op while serving), retrying
// for up to 10 s while the port is still taken.
func (s *Server) Restart() {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return
	}
	addr := fmt.Sprintf("127.0.0.1:%d", s.port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		l, err := net.Listen("tcp", addr)
		if err == nil {
			s.serve(l)
			return
		}
		if time.Now().After(deadline) {
			s.tb.Fatalf("hlstest: listen on %s again: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// serve serves on l; s.mu is held.
func (s *Server) serve(l net.Listener) {
	files := http.FileServer(http.Dir(s.dir))
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.requests.Add(1)
			files.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.tb.Errorf("hlstest: serve: %v", err)
		}
	}()
	s.srv, s.done = srv, done
}
