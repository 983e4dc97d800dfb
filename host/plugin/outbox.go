package plugin

import (
	"errors"
	"fmt"
	"sync"

	"github.com/lsie-mlf/lsie/shm"
	"golang.org/x/sys/unix"
)

// The data plane has one writer per plugin process: its writer goroutine.
// Everyone else (capture's thread, audio senders, other plugins' readers
// delivering topic messages, the API) queues packets in the outbox and
// returns at once, so a plugin that reads slowly, or not at all, never
// blocks them (docs/DATAPLANE.md). What may wait is bounded by the host's
// credit windows per (stream, input kind); maxOutboxBytes is only a last
// guard against a bug in that accounting.
const maxOutboxBytes = 64 << 20

var (
	errExited     = errors.New("plugin process exited")
	errOutboxFull = errors.New("plugin does not read its data plane: outbox full")
)

// packet is one data-plane message, with the fd it carries (-1: none;
// a private duplicate the writer closes once sent).
type packet struct {
	b  []byte
	fd int
}

// outbox is the queue between the data plane's producers and its writer.
// When nothing waits and the writer is idle, a packet goes straight out
// with a non-blocking send (the common case: no goroutine hand-off on the
// frame path); only one the socket cannot take now is queued.
type outbox struct {
	mu    sync.Mutex
	q     []packet
	bytes int
	// busy: the writer holds packets it took and has not finished writing.
	busy   bool
	err    error // set once: nothing more is queued or written
	notify chan struct{}
	// sock is the socket's fd for the direct send (-1: always queue). It
	// is used only under mu and before err is set; the owner sets err
	// (close) before it closes the socket, so the number is never reused
	// under us.
	sock int
	// stats counts the socket's traffic both ways (the reader counts what
	// it receives here too).
	stats dataPlaneCounters
}

func newOutbox(sock int) *outbox { return &outbox{notify: make(chan struct{}, 1), sock: sock} }

// put queues b (which must not change afterwards) and returns at once.
func (o *outbox) put(b []byte) error {
	o.mu.Lock()
	if sent, err := o.sendNowLocked(b, -1); sent || err != nil {
		o.mu.Unlock()
		return err
	}
	o.queueLocked(packet{b: b, fd: -1})
	return nil
}

// putCopy is put for a caller's scratch bytes (a descriptor on its stack):
// sent at once they cost no allocation; only a packet that must wait is
// copied.
func (o *outbox) putCopy(b []byte) error {
	o.mu.Lock()
	if sent, err := o.sendNowLocked(b, -1); sent || err != nil {
		o.mu.Unlock()
		return err
	}
	o.queueLocked(packet{b: append([]byte(nil), b...), fd: -1})
	return nil
}

// putFD queues b with a duplicate of fd: the caller may close its own at
// once, and the region behind it stays alive until the plugin has it.
func (o *outbox) putFD(b []byte, fd int) error {
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("duplicating fd %d for the plugin: %w", fd, err)
	}
	o.mu.Lock()
	sent, err := o.sendNowLocked(b, dup)
	if sent || err != nil {
		o.mu.Unlock()
		_ = unix.Close(dup) // the kernel holds its own copy in the message
		return err
	}
	o.queueLocked(packet{b: b, fd: dup})
	return nil
}

// sendNowLocked refuses a packet the outbox cannot take (closed, full), and
// sends it at once when nothing waits and the socket takes it; sent false
// with no error: queue it (mu held).
func (o *outbox) sendNowLocked(b []byte, fd int) (sent bool, err error) {
	switch {
	case o.err != nil:
		return false, o.err
	case o.bytes+len(b) > maxOutboxBytes:
		return false, errOutboxFull
	case len(o.q) > 0 || o.busy || o.sock < 0:
		return false, nil
	}
	var oob []byte
	if fd >= 0 {
		oob = unix.UnixRights(fd)
	}
	_, err = unix.SendmsgN(o.sock, b, oob, nil, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL)
	switch {
	case err == unix.EAGAIN:
		return false, nil
	case err != nil:
		o.err = fmt.Errorf("data plane: %w", err)
		return false, o.err
	}
	o.stats.sent(len(b))
	return true, nil
}

// queueLocked queues k for the writer and releases mu.
func (o *outbox) queueLocked(k packet) {
	o.q = append(o.q, k)
	o.bytes += len(k.b)
	o.mu.Unlock()
	select {
	case o.notify <- struct{}{}:
	default:
	}
}

// take waits for packets and moves them into buf; false once closed.
func (o *outbox) take(buf []packet, done <-chan struct{}) ([]packet, bool) {
	for {
		o.mu.Lock()
		if o.err != nil {
			o.mu.Unlock()
			return buf, false
		}
		o.busy = len(o.q) > 0
		if o.busy {
			buf = append(buf[:0], o.q...)
			clear(o.q)
			o.q, o.bytes = o.q[:0], 0
			o.mu.Unlock()
			return buf, true
		}
		o.mu.Unlock()
		select {
		case <-o.notify:
		case <-done:
			return buf, false
		}
	}
}

func (o *outbox) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.q)
}

// close refuses further packets with err and drops what waits.
func (o *outbox) close(err error) {
	o.mu.Lock()
	if o.err == nil {
		o.err = err
	}
	q := o.q
	o.q, o.bytes = nil, 0
	o.mu.Unlock()
	closePacketFDs(q)
}

func closePacketFDs(q []packet) {
	for _, k := range q {
		if k.fd >= 0 {
			_ = unix.Close(k.fd)
		}
	}
}

// writeLoop is the data plane's only writer. A failed write means the
// socket is broken: the outbox refuses from then on, and the reader sees
// the end and reports the process exited.
func (p *Process) writeLoop() {
	var buf []packet
	for {
		var ok bool
		buf, ok = p.out.take(buf, p.exited)
		if !ok {
			return
		}
		for i, k := range buf {
			var err error
			if k.fd >= 0 {
				err = shm.SendFDs(p.data, k.b, k.fd)
				_ = unix.Close(k.fd)
			} else {
				_, err = p.data.Write(k.b)
			}
			if err != nil {
				closePacketFDs(buf[i+1:])
				p.out.close(fmt.Errorf("data plane: %w", err))
				p.log.Debug("data-plane write failed", "error", err)
				return
			}
			p.out.stats.sent(len(k.b))
		}
		clear(buf)
	}
}
