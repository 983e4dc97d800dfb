package plugin

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/lsie-mlf/lsie/shm"
)

// outboxPair is a Process reduced to its data plane's writer, and the
// plugin's end of the socket.
func outboxPair(t *testing.T) (*Process, *shmConn) {
	t.Helper()
	host, child, err := shm.SocketPair()
	if err != nil {
		t.Fatal(err)
	}
	peer, err := shm.FileConn(child)
	child.Close()
	if err != nil {
		t.Fatal(err)
	}
	sc, err := host.SyscallConn()
	sock := -1
	if err == nil {
		err = sc.Control(func(fd uintptr) { sock = int(fd) })
	}
	if err != nil {
		t.Fatal(err)
	}
	p := &Process{data: host, out: newOutbox(sock), exited: make(chan struct{}), log: hclog.NewNullLogger()}
	go p.writeLoop()
	t.Cleanup(func() { p.markExited(nil); host.Close(); peer.Close() }) // markExited closes the outbox first
	return p, &shmConn{peer}
}

type shmConn struct {
	c interface{ Read([]byte) (int, error) }
}

// A plugin that never reads its socket blocks no sender: the socket fills,
// packets wait in the outbox in order, and past its bound they are refused;
// once the plugin reads, every queued packet arrives, in order.
func TestOutboxNeverBlocksAndKeepsOrder(t *testing.T) {
	p, peer := outboxPair(t)
	pkt := make([]byte, 3200) // an audio record's size
	sent := 0
	start := time.Now()
	for sent < 5000 {
		b := append([]byte(nil), pkt...)
		binary.LittleEndian.PutUint32(b, uint32(sent))
		if err := p.out.put(b); err != nil {
			t.Fatalf("put %d: %v", sent, err)
		}
		sent++
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("5000 puts to a socket nobody reads took %v", d)
	}
	if p.Queued() == 0 {
		t.Fatal("nothing queued: the socket took 16 MB unread?")
	}
	buf := make([]byte, 64<<10)
	for i := range sent {
		n, err := peer.c.Read(buf)
		if err != nil || n != len(pkt) {
			t.Fatalf("read %d: %d bytes, %v", i, n, err)
		}
		if got := binary.LittleEndian.Uint32(buf); got != uint32(i) {
			t.Fatalf("packet %d arrived as %d-th", got, i)
		}
	}
}

func TestOutboxBound(t *testing.T) {
	p, _ := outboxPair(t)
	big := make([]byte, 60<<10)
	var err error
	for i := 0; i < 2*maxOutboxBytes/len(big) && err == nil; i++ {
		err = p.out.put(big)
	}
	if !errors.Is(err, errOutboxFull) {
		t.Fatalf("past the bound: %v", err)
	}
	p.markExited(nil)
	if err := p.out.put(big); !errors.Is(err, errExited) {
		t.Fatalf("after exit: %v", err)
	}
}
