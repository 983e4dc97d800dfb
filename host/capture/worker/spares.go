package worker

import (
	"io"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"github.com/lsie-mlf/lsie/shm"
)

// Spares starts capture processes and keeps one started ahead, waiting for
// work with GStreamer's registry loaded: a new stream (or a restarted
// worker) takes it at once instead of paying the process start and
// GStreamer's initialisation (about 0.2 s here) before its first frame.
type Spares struct {
	exe string

	mu     sync.Mutex
	spare  *proc
	closed bool
}

// proc is one started capture process.
type proc struct {
	cmd    *exec.Cmd
	conn   *net.UnixConn
	exited chan struct{}
	tail   *tailBuffer
}

// NewSpares starts capture processes from exe (a host binary calling
// MaybeRun), one ahead.
func NewSpares(exe string) *Spares {
	s := &Spares{exe: exe}
	go s.refill()
	return s
}

// take returns a started process, the spare if there is one, and starts
// the next spare.
func (s *Spares) take() (*proc, error) {
	s.mu.Lock()
	p := s.spare
	s.spare = nil
	s.mu.Unlock()
	if p != nil {
		select {
		case <-p.exited: // it died waiting: start one now
			p.conn.Close()
			p = nil
		default:
		}
	}
	go s.refill()
	if p != nil {
		return p, nil
	}
	return s.start()
}

// refill starts a spare unless one waits.
func (s *Spares) refill() {
	s.mu.Lock()
	if s.spare != nil || s.closed {
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	p, err := s.start()
	if err != nil {
		return // take starts one itself and reports the error
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.spare != nil || s.closed {
		p.kill()
		return
	}
	s.spare = p
}

func (s *Spares) start() (*proc, error) {
	hostEnd, childEnd, err := shm.SocketPair()
	if err != nil {
		return nil, err
	}
	defer childEnd.Close()
	cmd := exec.Command(s.exe, Arg)
	cmd.ExtraFiles = []*os.File{childEnd}
	cmd.Env = os.Environ() // GStreamer's plugin paths, registry, GST_DEBUG
	tail := &tailBuffer{max: 4096}
	cmd.Stdout = os.Stderr
	cmd.Stderr = io.MultiWriter(os.Stderr, tail)
	// Its own process group, killed with the host (Pdeathsig): a worker
	// never outlives its host.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		hostEnd.Close()
		return nil, err
	}
	p := &proc{cmd: cmd, conn: hostEnd, exited: make(chan struct{}), tail: tail}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	return p, nil
}

func (p *proc) kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	p.conn.Close()
	<-p.exited
}

// Close kills the spare; processes taken are their workers'.
func (s *Spares) Close() {
	s.mu.Lock()
	p := s.spare
	s.spare, s.closed = nil, true
	s.mu.Unlock()
	if p != nil {
		p.kill()
	}
}
