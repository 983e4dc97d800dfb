// Package rtmptest runs a private nginx with its RTMP module on 127.0.0.1
// (never the system service: config, pid and logs live in a temp dir) and
// live gst-launch-1.0 publishers into it, for tests of rtmp:// sources. A
// test can stop the server mid-run (every connection drops, publishers'
// and players' alike) and start it again on the same port.
//
// A missing tool (nginx, its RTMP module, gst-launch-1.0) skips the test on
// a developer's machine and fails it in CI (CI set), where scripts/setup.sh
// installs everything: a skipped test there would count as passing without
// running.
//
// Start, Restart and Publish report through tb, so call them from the test's
// goroutine. Everything started is stopped at the test's cleanup, and when
// the test failed every process's output is logged there.
package rtmptest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/internal/testenv"
)

// Module is where Debian's libnginx-mod-rtmp installs the RTMP module.
const Module = "/usr/lib/nginx/modules/ngx_rtmp_module.so"

// App is the nginx-rtmp application streams are published to and played from.
const App = "live"

// Server is a private nginx-rtmp. Its methods are safe for concurrent use.
type Server struct {
	tb   testing.TB
	bin  string
	dir  string
	conf string
	port int
	mu   sync.Mutex
	cur  *testenv.Proc // nil while stopped
	log  *testenv.Procs
}

// Start runs nginx with the RTMP module on a free port of 127.0.0.1 and
// waits until it accepts connections.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		testenv.Missing(tb, "rtmptest: nginx not installed (scripts/setup.sh installs nginx-light and libnginx-mod-rtmp)")
	}
	if _, err := os.Stat(Module); err != nil {
		testenv.Missing(tb, "rtmptest: nginx rtmp module not installed (%s; scripts/setup.sh installs libnginx-mod-rtmp)", Module)
	}
	s := &Server{tb: tb, bin: bin, dir: tb.TempDir(), port: freePort(tb), log: testenv.NewProcs(tb)}
	s.conf = filepath.Join(s.dir, "nginx.conf")
	conf := fmt.Sprintf(`load_module %s;
daemon off;
master_process off;
worker_processes 1;
pid %s/nginx.pid;
error_log %s/error.log info;
events { worker_connections 64; }
rtmp { server { listen 127.0.0.1:%d; application %s { live on; record off; } } }
`, Module, s.dir, s.dir, s.port, App)
	if err := os.WriteFile(s.conf, []byte(conf), 0o644); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Stop)
	s.Restart()
	return s
}

// Port is the server's port; it stays the same across restarts.
func (s *Server) Port() int { return s.port }

// URL is where stream is published and played.
func (s *Server) URL(stream string) string {
	return fmt.Sprintf("rtmp://127.0.0.1:%d/%s/%s", s.port, App, stream)
}

// Stop kills nginx: the listening socket and every connection close. It is
// idempotent.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil {
		s.cur.Stop()
		s.cur = nil
	}
}

// Restart starts nginx again on the same port (a no-op while it runs) and
// waits until it accepts connections. It retries for up to 10 s while the
// port is still taken, then fails the test with nginx's output.
func (s *Server) Restart() {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil {
		return
	}
	addr := fmt.Sprintf("127.0.0.1:%d", s.port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		p, err := s.log.Start(s.bin, "-p", s.dir, "-e", filepath.Join(s.dir, "error.log"), "-c", s.conf)
		if err != nil {
			s.tb.Fatalf("rtmptest: start nginx: %v", err)
		}
		for !p.Exited() && time.Now().Before(deadline) {
			if listening(addr) {
				s.cur = p
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		p.Stop()
		if time.Now().After(deadline) {
			errLog, _ := os.ReadFile(filepath.Join(s.dir, "error.log"))
			s.tb.Fatalf("rtmptest: nginx does not listen on %s after 10 s; error.log:\n%s", addr, errLog)
		}
		time.Sleep(50 * time.Millisecond) // it exited: the port is likely still taken
	}
}

// Publisher is a gst-launch-1.0 process pushing a live 320x240 15 fps H.264
// video (a moving ball, a key frame a second) with a 440 Hz AAC tone, in
// FLV over rtmp2sink.
type Publisher struct {
	tb   testing.TB
	args []string
	log  *testenv.Procs
	mu   sync.Mutex
	cur  *testenv.Proc
}

// Publish starts a publisher into stream on s. A publisher whose server
// went away exits; Restart starts it again.
func (s *Server) Publish(tb testing.TB, stream string) *Publisher {
	tb.Helper()
	if _, err := exec.LookPath("gst-launch-1.0"); err != nil {
		testenv.Missing(tb, "rtmptest: gst-launch-1.0 not installed (scripts/setup.sh installs gstreamer1.0-tools)")
	}
	args := []string{"-q",
		"videotestsrc", "is-live=true", "pattern=ball", "!", "video/x-raw,width=320,height=240,framerate=15/1", "!",
		"x264enc", "tune=zerolatency", "speed-preset=ultrafast", "key-int-max=15", "!", "h264parse", "!", "mux.",
		"audiotestsrc", "is-live=true", "wave=sine", "freq=440", "!", "audioconvert", "!", "avenc_aac", "!", "aacparse", "!", "mux.",
		"flvmux", "name=mux", "streamable=true", "!", "rtmp2sink", "location=" + s.URL(stream)}
	p := &Publisher{tb: tb, args: args, log: testenv.NewProcs(tb)}
	tb.Cleanup(p.Stop)
	p.Restart()
	return p
}

// Stop kills the publisher; it is idempotent.
func (p *Publisher) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur != nil {
		p.cur.Stop()
		p.cur = nil
	}
}

// Restart stops the publisher if it still runs and starts a new one.
func (p *Publisher) Restart() {
	p.tb.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur != nil {
		p.cur.Stop()
	}
	cur, err := p.log.Start("gst-launch-1.0", p.args...)
	if err != nil {
		p.tb.Fatalf("rtmptest: start publisher: %v", err)
	}
	p.cur = cur
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func listening(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err == nil {
		conn.Close()
	}
	return err == nil
}
