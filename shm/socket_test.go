package shm

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// testPair returns both ends of a data-plane socketpair as conns, as host and
// plugin would hold them.
func testPair(t testing.TB) (host, plugin *net.UnixConn) {
	t.Helper()
	host, child, err := SocketPair()
	if err != nil {
		t.Fatal(err)
	}
	plugin, err = FileConn(child)
	child.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { host.Close(); plugin.Close() })
	return host, plugin
}

func sameFile(t *testing.T, a, b int) bool {
	t.Helper()
	var sa, sb unix.Stat_t
	if err := unix.Fstat(a, &sa); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fstat(b, &sb); err != nil {
		t.Fatal(err)
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

func TestSocketPairIsSeqpacket(t *testing.T) {
	host, child, err := SocketPair()
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	defer child.Close()
	if got := host.LocalAddr().Network(); got != "unixpacket" {
		t.Fatalf("host network %q, want unixpacket", got)
	}
	typ, err := unix.GetsockoptInt(int(child.Fd()), unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil || typ != unix.SOCK_SEQPACKET {
		t.Fatalf("child socket type %d (%v), want SOCK_SEQPACKET", typ, err)
	}
}

func TestSendRecvFDs(t *testing.T) {
	host, plugin := testPair(t)
	r := newTestRegion(t, 1, RegionSpec{Slots: 1, FrameBytes: 64})
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()

	if err := SendFDs(host, []byte("open stream 1"), r.Fd(), int(pr.Fd())); err != nil {
		t.Fatal(err)
	}
	// Message boundaries hold: a second packet is not merged into the first.
	if err := SendFDs(host, []byte("next")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, fds, err := RecvFDs(plugin, buf)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFDs(fds)
	if string(buf[:n]) != "open stream 1" || len(fds) != 2 {
		t.Fatalf("got %q with %d fds", buf[:n], len(fds))
	}
	if !sameFile(t, fds[0], r.Fd()) || !sameFile(t, fds[1], int(pr.Fd())) {
		t.Fatal("received fds are not the files sent")
	}
	for _, fd := range fds {
		if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil || flags&unix.FD_CLOEXEC == 0 {
			t.Fatalf("received fd %d is not close-on-exec (%#x, %v)", fd, flags, err)
		}
	}
	n, fds2, err := RecvFDs(plugin, buf)
	if err != nil || string(buf[:n]) != "next" || fds2 != nil {
		t.Fatalf("second packet: %q, %v, %v", buf[:n], fds2, err)
	}
}

func TestSendRecvErrors(t *testing.T) {
	host, plugin := testPair(t)
	if err := SendFDs(host, nil); err == nil || err.Error() != "send: empty message" {
		t.Fatalf("empty message: %v", err)
	}
	many := make([]int, MaxFDs+1)
	if err := SendFDs(host, []byte("x"), many...); err == nil || err.Error() != "send: 17 fds, at most 16" {
		t.Fatalf("too many fds: %v", err)
	}
	if cmsgSpace < unix.CmsgSpace(4*MaxFDs) {
		t.Fatalf("cmsgSpace %d < CmsgSpace %d", cmsgSpace, unix.CmsgSpace(4*MaxFDs))
	}

	// A packet larger than the buffer is an error, not a silent truncation.
	if err := SendFDs(host, make([]byte, 100), int(os.Stdin.Fd())); err != nil {
		t.Fatal(err)
	}
	_, fds, err := RecvFDs(plugin, make([]byte, 10))
	if err == nil || err.Error() != "recv: packet larger than 10-byte buffer" || fds != nil {
		t.Fatalf("truncated packet: %v, fds %v", err, fds)
	}

	// The host end goes through Go's poller, so deadlines work.
	if err := host.SetReadDeadline(time.Now().Add(10 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := RecvFDs(host, make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past deadline: %v", err)
	}

	host.Close()
	if _, _, err := RecvFDs(plugin, make([]byte, 10)); err != io.EOF {
		t.Fatalf("after host closed: %v, want io.EOF", err)
	}
	if err := SendFDs(plugin, []byte("ack")); !errors.Is(err, unix.EPIPE) {
		t.Fatalf("send to closed host: %v, want EPIPE", err)
	}
}

func TestFileConnRejectsNonSocket(t *testing.T) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := FileConn(f); err == nil {
		t.Fatal("FileConn accepted /dev/null")
	}
}

// A peer that closes with packets of ours unread makes the kernel report
// ECONNRESET once, ahead of the packets it sent us before closing: those
// are still read, then EOF. (A capture process that ended while the host's
// last slot grant was in flight lost its final progress and end message
// this way.)
func TestRecvAfterPeerClosedWithUnreadData(t *testing.T) {
	host, plugin := testPair(t)
	for _, m := range []string{"progress", "end"} {
		if err := SendFDs(plugin, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	if err := SendFDs(host, []byte("grant")); err != nil { // never read
		t.Fatal(err)
	}
	plugin.Close()
	buf := make([]byte, 64)
	for _, want := range []string{"progress", "end"} {
		n, _, err := RecvFDs(host, buf)
		if err != nil || string(buf[:n]) != want {
			t.Fatalf("got %q, %v; want %q", buf[:n], err, want)
		}
	}
	if _, _, err := RecvFDs(host, buf); err != io.EOF {
		t.Fatalf("after the packets: %v, want io.EOF", err)
	}
}

// ReadPacket, for peers that send no fds, reads past the reset the same way.
func TestReadPacketAfterPeerClosedWithUnreadData(t *testing.T) {
	host, plugin := testPair(t)
	if err := SendFDs(plugin, []byte("result")); err != nil {
		t.Fatal(err)
	}
	if err := SendFDs(host, []byte("frame")); err != nil { // never read
		t.Fatal(err)
	}
	plugin.Close()
	buf := make([]byte, 64)
	if n, err := ReadPacket(host, buf); err != nil || string(buf[:n]) != "result" {
		t.Fatalf("got %q, %v; want the result", buf[:n], err)
	}
	if _, err := ReadPacket(host, buf); err != io.EOF {
		t.Fatalf("after the packets: %v, want io.EOF", err)
	}
}
