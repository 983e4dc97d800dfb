package api

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/lsie-mlf/lsie/host/events"
)

// idleSockets opens WebSockets that never authenticate and counts how each
// ends.
type idleSockets struct {
	t  *testing.T
	ls *liveServer
	wg sync.WaitGroup

	mu    sync.Mutex
	conns []*websocket.Conn
	// tooMany counts sockets closed with 4429; other those ended any
	// other way (none may, while the test runs).
	tooMany, other atomic.Int32
}

func newIdleSockets(t *testing.T, ls *liveServer) *idleSockets {
	is := &idleSockets{t: t, ls: ls}
	t.Cleanup(func() {
		is.mu.Lock()
		for _, c := range is.conns {
			_ = c.CloseNow()
		}
		is.mu.Unlock()
		is.wg.Wait()
	})
	return is
}

// open opens one socket through client (nil: the default, from 127.0.0.1)
// and reads it in a goroutine until it ends.
func (is *idleSockets) open(client *http.Client) error {
	c, _, err := websocket.Dial(testCtx(is.t), is.ls.url, &websocket.DialOptions{HTTPClient: client})
	if err != nil {
		return err
	}
	is.mu.Lock()
	is.conns = append(is.conns, c)
	is.mu.Unlock()
	is.wg.Go(func() {
		_, _, err := c.Read(context.Background())
		if websocket.CloseStatus(err) == wsCloseTooMany {
			is.tooMany.Add(1)
		} else {
			is.other.Add(1)
		}
	})
	return nil
}

// clientFrom is an HTTP client whose connections leave from ip.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// TestWSUnauthenticatedFlood: 200 sockets that never authenticate, from the
// console's own address, and more from others, neither take the live slots
// nor keep the console out: they are bounded per address and in all (the
// oldest closed with 4429), and the console, connecting meanwhile from the
// flooded address, authenticates and receives live events.
func TestWSUnauthenticatedFlood(t *testing.T) {
	const perAddr, inAll, flood = 8, 20, 200
	ls := newLiveServer(t, "tok", func(l *wsLimits) {
		l.authTimeout = time.Minute // none times out: the flood stays open
		l.maxPendingPerAddr, l.maxPending = perAddr, inAll
		l.maxConns = 1 // the console's: the flood must not take it
	})
	is := newIdleSockets(t, ls)
	for i := range flood {
		if err := is.open(nil); err != nil {
			t.Fatalf("socket %d: %v", i, err)
		}
	}
	// The server let every one in and closed all but the newest perAddr.
	waitFor(t, "the flood cut to the per-address bound", func() bool { return is.tooMany.Load() == flood-perAddr })
	if n, by := ls.ep.pendingByAddr(); n != perAddr || by["127.0.0.1"] != perAddr {
		t.Fatalf("waiting sockets: %d in all, %v by address; want %d from 127.0.0.1", n, by, perAddr)
	}

	// More from other loopback addresses, where the system lets the test
	// bind them: they fill the global bound, which then closes the oldest
	// of the address with the most.
	opened, addrs := flood, 1
	for i := 2; i <= 4; i++ {
		ip := fmt.Sprintf("127.0.0.%d", i)
		client := clientFrom(ip)
		if err := is.open(client); err != nil {
			t.Logf("no sockets from %s: %v", ip, err)
			break
		}
		for range perAddr - 1 {
			if err := is.open(client); err != nil {
				t.Fatalf("socket from %s: %v", ip, err)
			}
		}
		opened += perAddr
		addrs++
	}
	waiting := min(inAll, perAddr*addrs)
	waitFor(t, "the sockets cut to the bounds", func() bool { return int(is.tooMany.Load()) == opened-waiting })
	n, by := ls.ep.pendingByAddr()
	if n != waiting || len(by) != addrs {
		t.Fatalf("waiting sockets: %d in all, %v by address; want %d over %d addresses", n, by, waiting, addrs)
	}
	for a, k := range by {
		if k > perAddr {
			t.Errorf("%d sockets from %s wait, more than %d", k, a, perAddr)
		}
	}
	if got := gaugeValue(t, ls.metrics, "lsie_ws_clients"); got != 0 {
		t.Errorf("lsie_ws_clients = %v with no client authenticated, want 0", got)
	}
	t.Logf("%d sockets opened from %d addresses; %d closed with 4429, %d wait", opened, addrs, is.tooMany.Load(), n)

	// The console, as console/web/js/ws.js does it: connect, auth, then
	// subscribe; it closes one more waiting socket to get in.
	c := login(t, ls, "tok", []string{"*"})
	ls.bus.Publish(events.Event{Type: events.Result, Stream: "cam1", Plugin: "face", Data: map[string]any{"au12": 0.5}})
	if m := recv(t, c); m["type"] != events.Result || m["stream"] != "cam1" {
		t.Fatalf("console got %v, want the cam1 result", m)
	}
	waitFor(t, "one more socket closed for the console", func() bool { return int(is.tooMany.Load()) == opened-waiting+1 })
	if n, _ := ls.ep.pendingByAddr(); n != waiting-1 {
		t.Errorf("%d sockets wait after the console's auth, want %d", n, waiting-1)
	}
	if got := gaugeValue(t, ls.metrics, "lsie_ws_clients"); got != 1 {
		t.Errorf("lsie_ws_clients = %v, want 1 (the console)", got)
	}
	if got := is.other.Load(); got != 0 {
		t.Errorf("%d idle sockets ended other than with 4429", got)
	}
}

// TestWSAdmit: which waiting socket a new one evicts.
func TestWSAdmit(t *testing.T) {
	ep := &wsEndpoint{lim: wsLimits{maxPending: 3, maxPendingPerAddr: 2}, pending: map[string][]*wsPending{}}
	admit := func(addr string) (*wsPending, *wsPending) {
		p := &wsPending{addr: addr}
		return p, ep.admit(p)
	}
	a1, v := admit("A")
	a2, _ := admit("A")
	b1, _ := admit("B")
	if v != nil {
		t.Fatalf("evicted %+v under the bounds", v)
	}
	c1, v := admit("C") // in all: the address with the most
	if v != a1 {
		t.Fatalf("evicted %+v, want A's oldest", v)
	}
	c2, v := admit("C") // in all, one each: the oldest
	if v != a2 {
		t.Fatalf("evicted %+v, want A's last", v)
	}
	_, v = admit("C") // its own address
	if v != c1 {
		t.Fatalf("evicted %+v, want C's oldest", v)
	}
	ep.unpend(a1) // evicted already: no change
	ep.unpend(b1)
	if n, by := ep.pendingByAddr(); n != 2 || by["C"] != 2 || len(by) != 1 {
		t.Fatalf("waiting %d, %v; want C's 2", n, by)
	}
	ep.unpend(c2)
	if n, _ := ep.pendingByAddr(); n != 1 {
		t.Fatalf("waiting %d, want 1", n)
	}
}

func TestWSClientAddr(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:5000":                 "127.0.0.1",
		"[::ffff:10.0.0.7]:80":           "10.0.0.7",
		"[2001:db8:1:2:3:4:5:6]:443":     "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1]:1":       "2001:db8:1:2::/64",
		"[fe80::1%eth0]:80":              "fe80::/64",
		"not an address":                 "not an address",
		"192.0.2.1":                      "192.0.2.1", // no port: as is
		"[2001:db8:1:3:3:4:5:6]:443":     "2001:db8:1:3::/64",
		"[::1]:7700":                     "::/64",
		"[2001:db8:1:2:3:4:5:6%zone]:44": "2001:db8:1:2::/64",
	} {
		if got := wsClientAddr(in); got != want {
			t.Errorf("wsClientAddr(%q) = %q, want %q", in, got, want)
		}
	}
}
