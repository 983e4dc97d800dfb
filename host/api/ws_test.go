package api

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	dto "github.com/prometheus/client_model/go"

	"github.com/lsie-mlf/lsie/host/events"
	"github.com/lsie-mlf/lsie/host/metrics"
	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/internal/testenv"
)

func init() {
	extraExchanges = append(extraExchanges, func(t *testing.T, token string) []exchange {
		noBus := New(Config{Token: token}, nil, liveHealth, nil)
		withBus := New(Config{Token: token, Events: events.New()}, nil, liveHealth, nil)
		return []exchange{
			{"live without a bus", noBus, http.MethodGet, "/api/v1/ws", nil, "", 503},
			{"live not a websocket", withBus, http.MethodGet, "/api/v1/ws", nil, "", 426},
		}
	})
	// 101 needs a connection to hijack, which a ResponseRecorder is not;
	// the tests below upgrade over real sockets.
	extraUnreachable = append(extraUnreachable, "GET /api/v1/ws 101")
	extraSchemaTypes["LiveClientMessage"] = reflect.TypeFor[wsClientMessage]()
	extraSchemaTypes["LiveReady"] = reflect.TypeFor[wsReadyMessage]()
	extraSchemaTypes["LiveSubscribed"] = reflect.TypeFor[wsSubscribedMessage]()
	extraSchemaTypes["LiveError"] = reflect.TypeFor[wsErrorMessage]()
	extraSchemaTypes["LiveEvent"] = reflect.TypeFor[wsEventMessage]()
}

// testWait bounds every wait on the network so a broken server fails the
// test instead of hanging it; nothing asserts how long anything took.
const testWait = 20 * time.Second

// liveServer is an API server with a bus, on a real socket.
type liveServer struct {
	url     string // ws://host:port/api/v1/ws
	origin  string // http://host:port
	bus     *events.Bus
	metrics *metrics.Metrics
	ep      *wsEndpoint
}

// newLiveServer serves the API with a bus and metrics on a loopback port,
// with the WebSocket limits edited by edit (nil: the defaults).
func newLiveServer(t *testing.T, token string, edit func(*wsLimits)) *liveServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ls := &liveServer{bus: events.New(), metrics: metrics.New()}
	saved := wsDefaults
	if edit != nil {
		edit(&wsDefaults)
	}
	// Listen is the bound address so the guard accepts the Host the
	// client sends.
	s := New(Config{Listen: ln.Addr().String(), Token: token, Events: ls.bus, Metrics: ls.metrics}, nil, liveHealth, nil)
	wsDefaults = saved // New has taken its copy
	ls.ep = s.ws
	srv := httptest.NewUnstartedServer(s.Handler())
	_ = srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(func() {
		ls.bus.Close() // ends the sockets, which Close does not wait for
		srv.Close()
	})
	ls.url = "ws://" + ln.Addr().String() + "/api/v1/ws"
	ls.origin = "http://" + ln.Addr().String()
	return ls
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	t.Cleanup(cancel)
	return ctx
}

// dial opens a socket, failing the test when the handshake fails.
func (ls *liveServer) dial(t *testing.T, query string, header http.Header) *websocket.Conn {
	t.Helper()
	c, resp, err := websocket.Dial(testCtx(t), ls.url+query, &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial: %v (status %d)", err, status)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

func send(t *testing.T, c *websocket.Conn, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Write(testCtx(t), websocket.MessageText, b); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// liveDoc is the OpenAPI document, parsed once for every message checked.
var (
	liveDocOnce sync.Once
	liveDoc     map[string]any
)

// recv reads one message, checks it against the documented schema of its
// type and returns it decoded.
func recv(t *testing.T, c *websocket.Conn) map[string]any {
	t.Helper()
	typ, b, err := c.Read(testCtx(t))
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if typ != websocket.MessageText {
		t.Fatalf("message type %v, want text", typ)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("message %q: %v", b, err)
	}
	schema := map[string]string{"ready": "LiveReady", "subscribed": "LiveSubscribed", "error": "LiveError"}[m["type"].(string)]
	if schema == "" {
		schema = "LiveEvent"
	}
	liveDocOnce.Do(func() { liveDoc = loadOpenAPI(t) })
	if err := validateJSON(liveDoc, map[string]any{"$ref": "#/components/schemas/" + schema}, b); err != nil {
		t.Errorf("message %s does not match %s: %v", b, schema, err)
	}
	return m
}

// expectClose reads until the socket closes and checks the close code and
// reason ("": not checked); messages before it are skipped.
func expectClose(t *testing.T, c *websocket.Conn, code websocket.StatusCode, reason string) {
	t.Helper()
	ctx := testCtx(t)
	for {
		_, _, err := c.Read(ctx)
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("socket ended with %v, want close %d", err, code)
		}
		if ce.Code != code || (reason != "" && ce.Reason != reason) {
			t.Fatalf("closed with %d %q, want %d %q", ce.Code, ce.Reason, code, reason)
		}
		return
	}
}

// login authenticates and subscribes to streams (nil: not at all).
func login(t *testing.T, ls *liveServer, token string, streams []string) *websocket.Conn {
	t.Helper()
	c := ls.dial(t, "", nil)
	send(t, c, map[string]any{"type": "auth", "token": token})
	if m := recv(t, c); m["type"] != "ready" {
		t.Fatalf("after auth got %v, want ready", m)
	}
	if streams != nil {
		send(t, c, map[string]any{"type": "subscribe", "streams": streams})
		if m := recv(t, c); m["type"] != "subscribed" {
			t.Fatalf("after subscribe got %v, want subscribed", m)
		}
	}
	return c
}

func TestWSAuth(t *testing.T) {
	ls := newLiveServer(t, "tok", func(l *wsLimits) { l.authTimeout = 200 * time.Millisecond })
	t.Run("ok", func(t *testing.T) {
		login(t, ls, "tok", nil)
	})
	t.Run("padded token", func(t *testing.T) {
		login(t, ls, " tok ", nil) // trimmed like the bearer header
	})
	for name, first := range map[string]any{
		"wrong token":    map[string]any{"type": "auth", "token": "nope"},
		"empty token":    map[string]any{"type": "auth", "token": ""},
		"missing token":  map[string]any{"type": "auth"},
		"subscribe":      map[string]any{"type": "subscribe", "streams": []string{}},
		"not JSON":       "tok",
		"not an object":  []string{"auth", "tok"},
		"token prefixed": map[string]any{"type": "auth", "token": "tokk"},
	} {
		t.Run(name, func(t *testing.T) {
			c := ls.dial(t, "", nil)
			if s, ok := first.(string); ok {
				if err := c.Write(testCtx(t), websocket.MessageText, []byte(s)); err != nil {
					t.Fatal(err)
				}
			} else {
				send(t, c, first)
			}
			expectClose(t, c, wsCloseUnauthorized, wsReasonUnauthorized)
		})
	}
	t.Run("binary", func(t *testing.T) {
		c := ls.dial(t, "", nil)
		if err := c.Write(testCtx(t), websocket.MessageBinary, []byte(`{"type":"auth","token":"tok"}`)); err != nil {
			t.Fatal(err)
		}
		expectClose(t, c, wsCloseUnauthorized, wsReasonUnauthorized)
	})
	t.Run("timeout", func(t *testing.T) {
		c := ls.dial(t, "", nil)
		expectClose(t, c, wsCloseUnauthorized, wsReasonUnauthorized)
	})
	t.Run("token in URL", func(t *testing.T) {
		// The query parameter authenticates nothing: without an auth
		// message the socket is refused as any other.
		c := ls.dial(t, "?token=tok", nil)
		send(t, c, map[string]any{"type": "subscribe", "streams": []string{"*"}})
		expectClose(t, c, wsCloseUnauthorized, wsReasonUnauthorized)
		c = ls.dial(t, "?token=tok&access_token=tok", http.Header{"Authorization": {"Bearer tok"}})
		expectClose(t, c, wsCloseUnauthorized, wsReasonUnauthorized)
	})
	t.Run("no token configured", func(t *testing.T) {
		open := newLiveServer(t, "", nil)
		login(t, open, "", nil)
	})
}

func TestWSSubscribeFilter(t *testing.T) {
	ls := newLiveServer(t, "tok", nil)
	c := login(t, ls, "tok", nil)

	// Before any subscribe only host-wide events come. Events arrive in
	// publish order, so the first one received shows cam1's was skipped.
	ls.bus.Publish(events.Event{Type: events.Result, Stream: "cam1", Plugin: "face", Data: 1})
	ls.bus.Publish(events.Event{Type: events.HealthChanged, Data: "host"})
	if m := recv(t, c); m["type"] != events.HealthChanged || m["stream"] != "" {
		t.Fatalf("got %v, want the host-wide health event", m)
	}

	send(t, c, map[string]any{"type": "subscribe", "streams": []string{"cam2", "cam3", "cam2"}})
	if m := recv(t, c); m["type"] != "subscribed" || !slices.Equal(toStrings(m["streams"]), []string{"cam2", "cam3"}) {
		t.Fatalf("got %v, want subscribed to cam2 and cam3", m)
	}
	for _, s := range []string{"cam1", "cam2", "", "cam4", "cam3"} {
		ls.bus.Publish(events.Event{Type: events.SegmentClosed, Stream: s})
	}
	for _, want := range []string{"cam2", "", "cam3"} {
		if m := recv(t, c); m["stream"] != want {
			t.Fatalf("got %v, want stream %q", m, want)
		}
	}

	// An unknown message gets an error; the socket stays and a new
	// subscribe replaces the set.
	send(t, c, map[string]any{"type": "unsubscribe"})
	if m := recv(t, c); m["type"] != "error" || !strings.Contains(m["error"].(string), "unsubscribe") {
		t.Fatalf("got %v, want an error naming the type", m)
	}
	send(t, c, map[string]any{"type": "auth", "token": "tok"})
	if m := recv(t, c); m["type"] != "error" {
		t.Fatalf("second auth got %v, want an error", m)
	}
	if err := c.Write(testCtx(t), websocket.MessageText, []byte("{")); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, c); m["type"] != "error" {
		t.Fatalf("bad JSON got %v, want an error", m)
	}
	send(t, c, map[string]any{"type": "subscribe", "streams": []string{"cam1"}})
	if m := recv(t, c); !slices.Equal(toStrings(m["streams"]), []string{"cam1"}) {
		t.Fatalf("got %v, want subscribed to cam1", m)
	}
	ls.bus.Publish(events.Event{Type: events.Result, Stream: "cam2"})
	ls.bus.Publish(events.Event{Type: events.Result, Stream: "cam1"})
	if m := recv(t, c); m["stream"] != "cam1" {
		t.Fatalf("got %v, want cam1 only", m)
	}

	for _, all := range [][]string{{}, {"*"}, {"cam1", "*"}} {
		send(t, c, map[string]any{"type": "subscribe", "streams": all})
		if m := recv(t, c); !slices.Equal(toStrings(m["streams"]), []string{"*"}) {
			t.Fatalf("subscribe %v got %v, want all", all, m)
		}
		ls.bus.Publish(events.Event{Type: events.Result, Stream: "cam9"})
		if m := recv(t, c); m["stream"] != "cam9" {
			t.Fatalf("subscribe %v: got %v, want cam9", all, m)
		}
	}
}

func toStrings(v any) []string {
	a, _ := v.([]any)
	out := make([]string, 0, len(a))
	for _, e := range a {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}

func TestWSEventTypes(t *testing.T) {
	ls := newLiveServer(t, "tok", nil)
	c := login(t, ls, "tok", []string{})
	at := time.Date(2025, 3, 14, 15, 9, 26, 123456789, time.UTC)
	published := []events.Event{
		{Type: events.SegmentClosed, Stream: "cam1", At: at, Data: map[string]any{"index": 4, "status": "complete"}},
		{Type: events.Result, Stream: "cam1", Plugin: "face", At: at.Add(time.Nanosecond), Data: map[string]any{"au12": 0.5}},
		// A result as the host publishes it: the item, its objects with it.
		{Type: events.Result, Stream: "cam1", Plugin: "detect", At: at, Data: model.Item{PTS: time.Second, Fields: map[string]float64{"people": 1},
			Objects: []model.Object{{Label: "person", Score: 0.9, TrackID: 3, X: 0.1, Y: 0.2, W: 0.3, H: 0.4}}}},
		{Type: events.HealthChanged, Stream: "cam1", At: at, Data: map[string]any{"health": "degraded", "hint": "slow"}},
		{Type: events.Telemetry, Stream: "cam1", At: at, Data: []int{1, 2}},
		{Type: events.HealthChanged, At: at}, // host-wide, no data
	}
	for _, e := range published {
		ls.bus.Publish(e)
	}
	for _, e := range published {
		m := recv(t, c)
		want, _ := json.Marshal(e.Data)
		var norm any // a struct's fields in map order, as got's
		_ = json.Unmarshal(want, &norm)
		want, _ = json.Marshal(norm)
		got, _ := json.Marshal(m["data"])
		if m["type"] != e.Type || m["stream"] != e.Stream || m["plugin"] != e.Plugin || string(got) != string(want) {
			t.Errorf("got %v, want %+v", m, e)
		}
		if m["at"] != e.At.Format(time.RFC3339Nano) {
			t.Errorf("at = %v, want %s", m["at"], e.At.Format(time.RFC3339Nano))
		}
	}
}

// publishUntil publishes large events in step with the fast client, which
// must receive each before the next, until done holds; it returns how many
// it published. A client that does not read fills its socket and then its
// buffer meanwhile.
func publishUntil(t *testing.T, ls *liveServer, fast *websocket.Conn, done func() bool) int {
	t.Helper()
	pad := strings.Repeat("x", 16<<10)
	const most = 20000
	for n := 0; ; n++ {
		if done() {
			return n
		}
		if n == most {
			t.Fatalf("no drop after %d events of %d bytes", most, len(pad))
		}
		ls.bus.Publish(events.Event{Type: events.Result, Stream: "cam1", Data: map[string]any{"n": n, "pad": pad}})
		if got := recvN(t, fast); got != n {
			t.Fatalf("fast client got event %d, want %d", got, n)
		}
	}
}

// recvN reads one event and returns its data's n; unlike recv it skips the
// schema check, which large events make slow.
func recvN(t *testing.T, c *websocket.Conn) int {
	t.Helper()
	_, b, err := c.Read(testCtx(t))
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var m struct {
		Data struct{ N int } `json:"data"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("message %.100q: %v", b, err)
	}
	return m.Data.N
}

// TestWSSlowClient: a client that stops reading is closed with 4408 once its
// buffer overflows, while one that keeps up receives every event.
func TestWSSlowClient(t *testing.T) {
	ls := newLiveServer(t, "tok", func(l *wsLimits) {
		l.buffer = 8
		// Long enough that the bus dropping the client, not a write
		// timeout (which can only cut the socket), ends it.
		l.writeTimeout = time.Minute
	})
	fast := login(t, ls, "tok", []string{"*"})
	slow := login(t, ls, "tok", []string{"*"})
	n := publishUntil(t, ls, fast, func() bool { return ls.bus.Stats().Dropped > 0 })
	// The slow client reads what reached its socket, then the close.
	expectClose(t, slow, wsCloseSlow, wsReasonSlow)

	// The fast one goes on.
	for i := range 3 {
		ls.bus.Publish(events.Event{Type: events.Result, Stream: "cam1", Data: map[string]any{"n": n + i}})
		if got := recvN(t, fast); got != n+i {
			t.Fatalf("fast client got %d after the drop, want %d", got, n+i)
		}
	}
	if got := counterValue(t, ls.metrics, "lsie_ws_dropped_total"); got != 1 {
		t.Errorf("lsie_ws_dropped_total = %v, want 1", got)
	}
	if st := ls.bus.Stats(); st.Dropped != 1 {
		t.Errorf("bus dropped %d subscribers, want 1", st.Dropped)
	}
}

// TestWSWriteTimeout: a client whose socket takes nothing for the write
// timeout is cut off (mid-frame no close frame can follow) before its
// buffer fills, and the fast client is not held up.
func TestWSWriteTimeout(t *testing.T) {
	ls := newLiveServer(t, "tok", func(l *wsLimits) {
		// Far more events than the timeout lets through in step with the
		// fast client: the timeout, not the bus, ends the slow one.
		l.buffer = 1 << 14
		// Long enough that a loaded CI machine never stalls the fast
		// client this long.
		l.writeTimeout = 2 * time.Second
	})
	fast := login(t, ls, "tok", []string{"*"})
	slow := login(t, ls, "tok", []string{"*"})
	// The slow session ends, and unsubscribes, once its write timed out.
	publishUntil(t, ls, fast, func() bool { return ls.bus.Stats().Subscribers == 1 })
	if got := counterValue(t, ls.metrics, "lsie_ws_dropped_total"); got != 1 {
		t.Errorf("lsie_ws_dropped_total = %v, want 1", got)
	}
	ctx := testCtx(t)
	for {
		if _, _, err := slow.Read(ctx); err != nil {
			if st := websocket.CloseStatus(err); st != -1 {
				t.Fatalf("got close %d; a cut socket has no close frame", st)
			}
			break
		}
	}
	if st := ls.bus.Stats(); st.Dropped != 0 {
		t.Errorf("bus dropped %d subscribers, want 0", st.Dropped)
	}
	ls.bus.Publish(events.Event{Type: events.Result, Stream: "cam1", Data: map[string]any{"n": -1}})
	if got := recvN(t, fast); got != -1 {
		t.Fatalf("fast client got %d after the cut", got)
	}
}

// TestWSUnansweredPing: a client that reads nothing does not answer pings
// and is dropped as slow.
func TestWSUnansweredPing(t *testing.T) {
	ls := newLiveServer(t, "tok", func(l *wsLimits) {
		l.pingInterval = 20 * time.Millisecond
		l.pongTimeout = 50 * time.Millisecond
	})
	c := login(t, ls, "tok", nil)
	// The client answers pings only while it reads; wait, reading nothing,
	// until the server has given up on it.
	waitFor(t, "client dropped", func() bool { return counterValue(t, ls.metrics, "lsie_ws_dropped_total") == 1 })
	expectClose(t, c, wsCloseSlow, wsReasonSlow)
}

// TestWSPingAnswered: a reading client answers pings and stays.
func TestWSPingAnswered(t *testing.T) {
	ls := newLiveServer(t, "tok", func(l *wsLimits) {
		l.pingInterval = 10 * time.Millisecond
		l.pongTimeout = time.Minute
	})
	var pings atomic.Int32
	c, _, err := websocket.Dial(testCtx(t), ls.url, &websocket.DialOptions{
		OnPingReceived: func(context.Context, []byte) bool {
			// After a few pings, an event ends the read below.
			if pings.Add(1) == 3 {
				ls.bus.Publish(events.Event{Type: events.HealthChanged})
			}
			return true
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.CloseNow() }()
	send(t, c, map[string]any{"type": "auth", "token": "tok"})
	if m := recv(t, c); m["type"] != "ready" {
		t.Fatalf("got %v", m)
	}
	// Reading answers the pings until the event comes.
	if m := recv(t, c); m["type"] != events.HealthChanged {
		t.Fatalf("got %v", m)
	}
	if got := counterValue(t, ls.metrics, "lsie_ws_dropped_total"); got != 0 {
		t.Errorf("lsie_ws_dropped_total = %v, want 0", got)
	}
}

func TestWSOrigin(t *testing.T) {
	ls := newLiveServer(t, "tok", nil)
	// Another site's page: refused by the guard before the upgrade.
	_, resp, err := websocket.Dial(testCtx(t), ls.url, &websocket.DialOptions{
		HTTPHeader: http.Header{"Origin": {"http://evil.example"}}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site handshake: err %v, response %v; want 403", err, resp)
	}
	// The API's own origin, as the console served by it sends: accepted.
	c := ls.dial(t, "", http.Header{"Origin": {ls.origin}})
	send(t, c, map[string]any{"type": "auth", "token": "tok"})
	if m := recv(t, c); m["type"] != "ready" {
		t.Fatalf("same-origin socket got %v", m)
	}
}

func TestWSRefusals(t *testing.T) {
	t.Run("connection cap", func(t *testing.T) {
		ls := newLiveServer(t, "tok", func(l *wsLimits) { l.maxConns = 1 })
		first := login(t, ls, "tok", nil)
		_, resp, err := websocket.Dial(testCtx(t), ls.url, nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("second socket: err %v, response %v; want 503", err, resp)
		}
		if resp.Header.Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
		if got := gaugeValue(t, ls.metrics, "lsie_ws_clients"); got != 1 {
			t.Errorf("lsie_ws_clients = %v, want 1", got)
		}
		// Once the first leaves, a new one is let in.
		if err := first.Close(websocket.StatusNormalClosure, ""); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "first connection released", func() bool { return gaugeValue(t, ls.metrics, "lsie_ws_clients") == 0 })
		login(t, ls, "tok", nil)
	})
	t.Run("live slots taken at auth", func(t *testing.T) {
		// Both handshakes pass while no slot is taken; the second to
		// authenticate finds the only one gone.
		ls := newLiveServer(t, "tok", func(l *wsLimits) { l.maxConns = 1 })
		a, b := ls.dial(t, "", nil), ls.dial(t, "", nil)
		send(t, a, map[string]any{"type": "auth", "token": "tok"})
		if m := recv(t, a); m["type"] != "ready" {
			t.Fatalf("first got %v, want ready", m)
		}
		send(t, b, map[string]any{"type": "auth", "token": "tok"})
		expectClose(t, b, websocket.StatusTryAgainLater, wsReasonFull)
		if got := gaugeValue(t, ls.metrics, "lsie_ws_clients"); got != 1 {
			t.Errorf("lsie_ws_clients = %v, want 1", got)
		}
	})
	t.Run("no bus", func(t *testing.T) {
		srv := httptest.NewServer(New(Config{}, nil, liveHealth, nil).Handler())
		defer srv.Close()
		_, resp, err := websocket.Dial(testCtx(t), "ws://"+srv.Listener.Addr().String()+"/api/v1/ws",
			&websocket.DialOptions{Host: "localhost"})
		if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("err %v, response %v; want 503", err, resp)
		}
	})
	t.Run("message too large", func(t *testing.T) {
		ls := newLiveServer(t, "tok", nil)
		c := login(t, ls, "tok", nil)
		send(t, c, map[string]any{"type": "subscribe", "streams": []string{strings.Repeat("c", 5<<10)}})
		expectClose(t, c, websocket.StatusMessageTooBig, "")
	})
	t.Run("bus closed", func(t *testing.T) {
		ls := newLiveServer(t, "tok", nil)
		c := login(t, ls, "tok", []string{"*"})
		ls.bus.Close()
		expectClose(t, c, websocket.StatusGoingAway, "event bus closed")
	})
}

// waitFor polls cond until it holds, failing after testWait.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.Eventually(t, testWait, what, cond)
}

func metricFamily(t *testing.T, m *metrics.Metrics, name string) *dto.Metric {
	t.Helper()
	fams, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0]
		}
	}
	t.Fatalf("metric %s not gathered", name)
	return nil
}

func counterValue(t *testing.T, m *metrics.Metrics, name string) float64 {
	t.Helper()
	return metricFamily(t, m, name).GetCounter().GetValue()
}

func gaugeValue(t *testing.T, m *metrics.Metrics, name string) float64 {
	t.Helper()
	return metricFamily(t, m, name).GetGauge().GetValue()
}
