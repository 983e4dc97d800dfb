package shm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The helper-process pattern: the test binary re-runs itself as a "plugin"
// with helperEnv set, and TestHelperProcess plays the plugin's part.
const helperEnv = "LSIE_SHM_HELPER"

var helperSpec = RegionSpec{Slots: 2, FrameBytes: 4 * 4 * 3}

// Attempts the plugin reports, in this order, as one errno each (0 = allowed).
var attempts = []string{
	"ftruncate bigger",
	"ftruncate smaller",
	"mmap PROT_WRITE MAP_SHARED",
	"pwrite",
	"add seals",
	"mprotect read-only mapping to writable",
}

// startHelper starts the test binary as a plugin that inherits the child end
// of a socketpair as fd 3, and returns the host end.
func startHelper(t *testing.T, mode string) (*net.UnixConn, *exec.Cmd, *bytes.Buffer) {
	t.Helper()
	host, child, err := SocketPair()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	// The race runtime sleeps 1s at exit unless told otherwise.
	cmd.Env = append(os.Environ(), helperEnv+"="+mode,
		"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	cmd.ExtraFiles = []*os.File{child}
	var stderr bytes.Buffer
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	err = cmd.Start()
	// Only the child may hold its end, or it would never see EOF.
	child.Close()
	if err != nil {
		host.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		host.Close()
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return host, cmd, &stderr
}

// waitHelper waits for the child to exit and fails the test unless it exits 0.
func waitHelper(t *testing.T, cmd *exec.Cmd, out *bytes.Buffer) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("helper: %v\n%s", err, out)
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("helper did not exit\n%s", out)
	}
}

func recvReply(t *testing.T, host *net.UnixConn, out *bytes.Buffer) []byte {
	t.Helper()
	if err := host.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1024)
	n, fds, err := RecvFDs(host, buf)
	if err != nil {
		t.Fatalf("reply from helper: %v\n%s", err, out)
	}
	if len(fds) != 0 {
		closeFDs(fds)
		t.Fatalf("helper sent %d fds", len(fds))
	}
	return buf[:n]
}

func TestPluginCannotResizeOrWriteRegion(t *testing.T) {
	r := newTestRegion(t, 11, helperSpec)
	pattern := func(seed byte) []byte {
		b := make([]byte, helperSpec.FrameBytes)
		for i := range b {
			b[i] = seed + byte(i)
		}
		return b
	}
	write := func(fill []byte, seq uint64) []byte {
		copy(r.BeginWrite(1), fill)
		gen := r.EndWrite(1, 5, seq, 0, len(fill))
		d := Descriptor{Stream: 5, Region: r.ID(), Slot: 1, Memory: MemoryHost, Format: FormatRGB24,
			Width: 4, Height: 4, Stride: 12, Generation: gen, Seq: seq, SentNanos: MonotonicNanos()}
		b := make([]byte, DescriptorSize)
		d.Put(b)
		return b
	}

	host, cmd, out := startHelper(t, "sealed")
	if err := SendFDs(host, write(pattern(1), 1), r.Fd()); err != nil {
		t.Fatal(err)
	}
	reply := recvReply(t, host, out)
	if len(reply) != 4*len(attempts)+helperSpec.FrameBytes {
		t.Fatalf("reply of %d bytes: %q\n%s", len(reply), reply, out)
	}
	for i, what := range attempts {
		errno := unix.Errno(binary.LittleEndian.Uint32(reply[4*i:]))
		want := unix.EPERM
		if i == len(attempts)-1 {
			// mprotect fails with EACCES: the read-only mapping of a
			// FUTURE_WRITE-sealed memfd cannot be made writable.
			want = unix.EACCES
		}
		if errno != want {
			t.Errorf("plugin %s: errno %d (%v), want %v", what, errno, errno, want)
		}
	}
	if got := reply[4*len(attempts):]; !bytes.Equal(got, pattern(1)) {
		t.Fatalf("plugin read %x, host wrote %x", got, pattern(1))
	}
	var st unix.Stat_t
	if err := unix.Fstat(r.Fd(), &st); err != nil || st.Size != int64(helperSpec.Size()) {
		t.Fatalf("region size after the plugin's attempts: %d (%v), want %d", st.Size, err, helperSpec.Size())
	}

	// The host's writable mapping still works after sealing and after the
	// plugin mapped the region, and the plugin sees the new frame.
	if err := SendFDs(host, write(pattern(100), 2)); err != nil {
		t.Fatal(err)
	}
	if got := recvReply(t, host, out); !bytes.Equal(got, pattern(100)) {
		t.Fatalf("plugin read %x after rewrite, want %x", got, pattern(100))
	}

	// Closing the host end is how the plugin learns the host died.
	host.Close()
	waitHelper(t, cmd, out)
}

func TestPluginSeesEOF(t *testing.T) {
	host, cmd, out := startHelper(t, "eof")
	host.Close()
	waitHelper(t, cmd, out)
}

// TestHelperProcess is the plugin side of the tests above; it does nothing
// unless the test binary was started by startHelper.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		return
	}
	if err := runHelper(mode); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(3)
	}
	os.Exit(0)
}

func runHelper(mode string) error {
	f := os.NewFile(3, "data")
	conn, err := FileConn(f)
	f.Close()
	if err != nil {
		return err
	}
	defer conn.Close()
	buf := make([]byte, 256)
	if mode == "sealed" {
		if err := helperSealed(conn, buf); err != nil {
			return err
		}
	}
	// Whatever the mode, the test ends with the host closing its end.
	n, fds, err := RecvFDs(conn, buf)
	if err != io.EOF {
		return fmt.Errorf("after host closed: n=%d fds=%v err=%v, want io.EOF", n, fds, err)
	}
	return nil
}

func helperSealed(conn *net.UnixConn, buf []byte) error {
	n, fds, err := RecvFDs(conn, buf)
	if err != nil {
		return err
	}
	if len(fds) != 1 {
		return fmt.Errorf("got %d fds, want 1", len(fds))
	}
	fd := fds[0]
	defer unix.Close(fd)
	var d Descriptor
	if err := d.Parse(buf[:n]); err != nil {
		return err
	}
	size := helperSpec.Size()
	m, err := MapRegion(fd, d.Region, helperSpec)
	if err != nil {
		return err
	}
	defer m.Close()

	errs := []error{
		unix.Ftruncate(fd, int64(size)*2),
		unix.Ftruncate(fd, int64(size)/2),
		func() error {
			mem, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
			if err == nil {
				unix.Munmap(mem)
			}
			return err
		}(),
		second(unix.Pwrite(fd, []byte{0xff}, SlotHeaderSize)),
		second(unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_WRITE)),
		unix.Mprotect(m.mem, unix.PROT_READ|unix.PROT_WRITE),
	}
	reply := make([]byte, 0, 4*len(errs)+helperSpec.FrameBytes)
	for _, err := range errs {
		var errno unix.Errno
		if err != nil && !errors.As(err, &errno) {
			return err
		}
		reply = binary.LittleEndian.AppendUint32(reply, uint32(errno))
	}
	for first := true; ; first = false {
		frame, err := m.Frame(&d)
		if err != nil {
			return err
		}
		reply = append(reply, frame...)
		if err := m.Check(&d); err != nil {
			return err
		}
		if err := SendFDs(conn, reply); err != nil {
			return err
		}
		if !first {
			return nil
		}
		// The host rewrites the slot and sends its new descriptor.
		n, _, err := RecvFDs(conn, buf)
		if err != nil {
			return err
		}
		if err := d.Parse(buf[:n]); err != nil {
			return err
		}
		reply = reply[:0]
	}
}
