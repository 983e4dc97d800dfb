package shm

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// MaxFDs is the most fds one packet may carry; RecvFDs sizes its control
// buffer for this many.
const MaxFDs = 16

// SocketPair returns a connected SOCK_SEQPACKET pair for the data plane: the
// host end as a *net.UnixConn (Go's poller, so deadlines work) and the child
// end as an *os.File for exec.Cmd.ExtraFiles, which the caller closes after
// starting the child.
func SocketPair() (host *net.UnixConn, child *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	hf := os.NewFile(uintptr(fds[0]), "lsie-data-host")
	child = os.NewFile(uintptr(fds[1]), "lsie-data-child")
	host, err = FileConn(hf)
	hf.Close() // FileConn holds its own dup
	if err != nil {
		child.Close()
		return nil, nil, err
	}
	return host, child, nil
}

// FileConn turns an inherited data-plane socket (a plugin's fd 3) into a
// *net.UnixConn; like net.FileConn it dups f, so the caller still closes f.
func FileConn(f *os.File) (*net.UnixConn, error) {
	c, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("data socket %s: %w", f.Name(), err)
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("data socket %s: %T is not a unix socket", f.Name(), c)
	}
	return uc, nil
}

// SendFDs sends msg as one packet with fds attached as SCM_RIGHTS; the fds
// stay open on this side. msg must not be empty: on SOCK_SEQPACKET an empty
// packet reads as EOF.
func SendFDs(c *net.UnixConn, msg []byte, fds ...int) error {
	if len(msg) == 0 {
		return errors.New("send: empty message")
	}
	if len(fds) > MaxFDs {
		return fmt.Errorf("send: %d fds, at most %d", len(fds), MaxFDs)
	}
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	n, _, err := c.WriteMsgUnix(msg, oob, nil)
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	if n != len(msg) {
		return fmt.Errorf("send: wrote %d of %d bytes", n, len(msg))
	}
	return nil
}

// ReadPacket reads one packet into buf, as RecvFDs does but for a peer
// that sends no fds: io.EOF once the peer closed, after every packet it
// sent.
func ReadPacket(c *net.UnixConn, buf []byte) (int, error) {
	n, err := c.Read(buf)
	if errors.Is(err, unix.ECONNRESET) {
		n, err = c.Read(buf) // see RecvFDs
	}
	return n, err
}

// RecvFDs receives one packet into buf and returns its length and the fds it
// carried (close-on-exec, owned by the caller). It returns io.EOF when the
// peer closed, after every packet it sent; a packet longer than buf is an
// error, and its fds are closed.
func RecvFDs(c *net.UnixConn, buf []byte) (n int, fds []int, err error) {
	var oob [cmsgSpace]byte
	n, oobn, flags, _, err := c.ReadMsgUnix(buf, oob[:])
	if errors.Is(err, unix.ECONNRESET) {
		// The peer closed with packets of ours unread: Linux reports that
		// once, ahead of the packets the peer sent before closing, which
		// are still queued. Read on (docs/DATAPLANE.md).
		n, oobn, flags, _, err = c.ReadMsgUnix(buf, oob[:])
	}
	if oobn > 0 {
		var perr error
		fds, perr = parseRights(oob[:oobn])
		if perr != nil && err == nil {
			err = perr
		}
	}
	switch {
	case err != nil && errors.Is(err, io.EOF) && oobn == 0:
		return 0, nil, io.EOF
	case err != nil && errors.Is(err, io.EOF):
		// An empty packet that carried fds; Go reports any 0-byte read as EOF.
		err = nil
	case err == nil && flags&unix.MSG_TRUNC != 0:
		err = fmt.Errorf("packet larger than %d-byte buffer", len(buf))
	case err == nil && flags&unix.MSG_CTRUNC != 0:
		err = fmt.Errorf("more than %d fds in one packet", MaxFDs)
	}
	if err != nil {
		closeFDs(fds)
		return 0, nil, fmt.Errorf("recv: %w", err)
	}
	return n, fds, nil
}

// cmsgSpace fits one SCM_RIGHTS message of MaxFDs fds: a constant so the
// buffer can live on the stack, sized for 64-bit cmsghdr (16 bytes, 8-aligned),
// which is also enough on 32-bit targets.
const cmsgSpace = (16 + 4*MaxFDs + 7) &^ 7

func parseRights(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("parse control message: %w", err)
	}
	var fds []int
	for i := range msgs {
		if msgs[i].Header.Level != unix.SOL_SOCKET || msgs[i].Header.Type != unix.SCM_RIGHTS {
			continue
		}
		got, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			closeFDs(fds)
			return nil, fmt.Errorf("parse rights: %w", err)
		}
		fds = append(fds, got...)
	}
	return fds, nil
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
