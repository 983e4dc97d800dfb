package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/hashicorp/go-hclog"

	"github.com/lsie-mlf/lsie/host/events"
)

// GET /api/v1/ws streams the host's live events (Config.Events) over a
// WebSocket, as JSON text messages:
//
//   - The client's first message, within wsLimits.authTimeout, is
//     {"type":"auth","token":"..."}; the server answers {"type":"ready"}.
//     A wrong, missing or late one closes with 4401 "unauthorized". The
//     token travels in the message, never the URL (where logs keep it), so
//     a token query parameter authenticates nothing.
//   - {"type":"subscribe","streams":["cam1",...]} picks the streams ([] or
//     ["*"]: all) and may be sent again to replace them; the server answers
//     {"type":"subscribed","streams":[...]}, from which point events follow
//     the new set. Until the first subscribe only host-wide events (stream
//     "") are sent; those go to every client.
//   - Every matching event is sent as
//     {"type":...,"stream":...,"plugin":...,"at":RFC3339Nano,"data":...}.
//   - Any other message gets {"type":"error","error":"..."}; the
//     connection stays.
//
// A socket counts against wsLimits.maxConns only once it has
// authenticated, so sockets that never send an auth message cannot hold the
// live slots (issue #16): they are bounded on their own, at most
// wsLimits.maxPendingPerAddr per client address (an IPv6 client's /64) and
// wsLimits.maxPending in all, each for at most wsLimits.authTimeout. A new
// socket beyond either bound is let in and the oldest waiting one (of its
// address, or of the address waiting with the most) is closed with 4429
// "too many unauthenticated connections": a real client authenticates one
// round trip after it connects, so the newest socket is the one to keep,
// and the console gets in while a flood from its own address goes on. An
// authenticated socket beyond maxConns (others authenticated meanwhile)
// closes with 1013 "too many live connections".
//
// The host never waits for a client: each connection has a bounded
// subscription on the bus, and a client that lets it fill, or whose socket
// does not take a message within wsLimits.writeTimeout, or that does not
// answer a ping, is closed with 4408 "slow client: dropped" (when a write
// timed out half-way through a frame no close frame can follow, so the
// socket is just cut). The bus closing closes with 1001.

// Close codes and reasons of the live socket, in the 4000-4999 range RFC
// 6455 leaves to applications; 44xx echo the HTTP statuses they mean.
const (
	wsCloseUnauthorized  websocket.StatusCode = 4401
	wsCloseSlow          websocket.StatusCode = 4408
	wsCloseTooMany       websocket.StatusCode = 4429
	wsReasonUnauthorized                      = "unauthorized"
	wsReasonSlow                              = "slow client: dropped"
	wsReasonTooMany                           = "too many unauthenticated connections"
	// wsReasonFull goes with 1013 (Try Again Later).
	wsReasonFull = "too many live connections"
)

// wsLimits bound what one live connection may cost the host.
type wsLimits struct {
	// authTimeout is how long a client has to send its auth message.
	authTimeout time.Duration
	// writeTimeout bounds one message's write to the socket.
	writeTimeout time.Duration
	// pingInterval is how often the server pings; pongTimeout how long it
	// waits for the answer.
	pingInterval, pongTimeout time.Duration
	// maxConns caps authenticated connections; a handshake while they are
	// all taken is refused with 503.
	maxConns int
	// maxPending caps the sockets waiting for their auth message, and
	// maxPendingPerAddr those of one client address; see wsEndpoint.admit.
	maxPending, maxPendingPerAddr int
	// buffer is each connection's bus subscription buffer, in events.
	buffer int
	// readLimit caps a client message, in bytes; beyond it the socket
	// closes with 1009.
	readLimit int64
}

// wsDefaults are the limits every Server takes when New builds its routes.
// Tests shorten them before New; nothing else changes them.
var wsDefaults = wsLimits{
	authTimeout:  5 * time.Second,
	writeTimeout: 5 * time.Second,
	pingInterval: 30 * time.Second,
	pongTimeout:  10 * time.Second,
	maxConns:     64,
	// A console tab opens one socket; a few tabs behind one NAT
	// reconnecting at once stay under it.
	maxPendingPerAddr: 8,
	maxPending:        64,
	buffer:            256,
	readLimit:         4 << 10,
}

// wsMetrics is what the endpoint reports to when Config.Metrics provides it
// (*metrics.Metrics does), so the API need not import the metrics package
// nor the host wire the two together.
type wsMetrics interface {
	WSClients(n int)
	WSDropped()
}

func init() {
	extraRoutes = append(extraRoutes, func(s *Server) []route {
		ep := &wsEndpoint{s: s, lim: wsDefaults, pending: map[string][]*wsPending{}}
		if m, ok := s.cfg.Metrics.(wsMetrics); ok {
			ep.met = m
		}
		s.ws = ep
		return []route{{"/api/v1/ws", methods{http.MethodGet: ep.serve}, authFirstMessage}}
	})
}

// wsEndpoint serves GET /api/v1/ws for one Server.
type wsEndpoint struct {
	s   *Server
	lim wsLimits
	met wsMetrics // nil without

	mu   sync.Mutex
	live int // authenticated connections
	// pending are the sockets waiting for their auth message, by client
	// address (wsClientAddr), oldest first; npending counts them all.
	pending  map[string][]*wsPending
	npending int
	seq      uint64 // admissions so far: orders pending sockets
}

// wsClientMessage is a message from the client: auth or subscribe.
type wsClientMessage struct {
	Type    string   `json:"type"`
	Token   string   `json:"token,omitempty"`
	Streams []string `json:"streams,omitempty"`
}

type wsReadyMessage struct {
	Type string `json:"type"`
}

type wsSubscribedMessage struct {
	Type    string   `json:"type"`
	Streams []string `json:"streams"`
}

type wsErrorMessage struct {
	Type  string `json:"type"`
	Error string `json:"error"`
}

// wsEventMessage is one bus event as sent; At encodes as RFC 3339 with
// nanoseconds.
type wsEventMessage struct {
	Type   string    `json:"type"`
	Stream string    `json:"stream"`
	Plugin string    `json:"plugin"`
	At     time.Time `json:"at"`
	Data   any       `json:"data"`
}

func (ep *wsEndpoint) serve(w http.ResponseWriter, r *http.Request) {
	bus := ep.s.cfg.Events
	if bus == nil {
		writeError(w, http.StatusServiceUnavailable, codeUnavailable, "live events are not available in this process")
		return
	}
	if !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket") {
		// Answered here rather than by Accept so the refusal has the API's
		// JSON error body.
		w.Header().Set("Upgrade", "websocket")
		writeError(w, http.StatusUpgradeRequired, codeBadRequest,
			"GET /api/v1/ws is a WebSocket: connect with a WebSocket client (Connection: Upgrade, Upgrade: websocket)")
		return
	}
	if ep.full() {
		ep.s.log.Warn("refused live connection: too many", "max", ep.lim.maxConns, "remote", r.RemoteAddr)
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, codeUnavailable,
			fmt.Sprintf("too many live connections (at most %d); retry later", ep.lim.maxConns))
		return
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		// The guard has already refused any Origin that is not one of the
		// API's own hosts (403), by the same rule as every route. Accept's
		// own check (Origin host == Host) would disagree with it behind a
		// proxy named in api.allowed_hosts, so it is off, not weakened.
		InsecureSkipVerify: true,
		// Events are small and frequent; per-connection deflate state
		// would cost more memory than it saves bandwidth.
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		ep.s.log.Debug("websocket handshake failed", "remote", r.RemoteAddr, "error", err)
		return // Accept has answered
	}
	sess := &wsSession{ep: ep, c: c, addr: wsClientAddr(r.RemoteAddr), log: ep.s.log.With("remote", r.RemoteAddr)}
	sess.run(bus)
}

// full reports whether every live slot is taken.
func (ep *wsEndpoint) full() bool {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return ep.live >= ep.lim.maxConns
}

// acquire counts an authenticated connection in, unless the cap is reached.
func (ep *wsEndpoint) acquire() bool {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if ep.live >= ep.lim.maxConns {
		return false
	}
	ep.live++
	if ep.met != nil {
		ep.met.WSClients(ep.live)
	}
	return true
}

func (ep *wsEndpoint) release() {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	ep.live--
	if ep.met != nil {
		ep.met.WSClients(ep.live)
	}
}

// headerHasToken reports whether a comma-separated header lists token,
// case-insensitively (Connection: keep-alive, Upgrade).
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// wsTokenOK reports whether an auth message's token is the configured one.
// Without a token configured any is accepted, as the other routes accept
// requests without one.
func (s *Server) wsTokenOK(token string) bool {
	return s.cfg.Token == "" || s.tokenMatches(token)
}

// wsSession is one live connection.
type wsSession struct {
	ep   *wsEndpoint
	c    *websocket.Conn
	addr string // wsClientAddr of the client
	log  hclog.Logger

	// authOver is set by whichever ends the wait for the auth message
	// first: the message, the auth timeout or an eviction.
	authOver  atomic.Bool
	closeOnce sync.Once
	// filter is the subscribed streams; nil until the first subscribe.
	filter atomic.Pointer[wsFilter]
}

// errWSSlow: a write did not finish within the write timeout.
var errWSSlow = errors.New("write timed out")

// run authenticates the client, then streams events to it while reading
// its messages, until either side ends the connection.
func (ss *wsSession) run(bus *events.Bus) {
	defer func() { _ = ss.c.CloseNow() }()
	ss.c.SetReadLimit(ss.ep.lim.readLimit)
	// Not the request's context: after the hijack it no longer tracks the
	// connection.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if !ss.authenticate(ctx) {
		return
	}
	if !ss.ep.acquire() {
		ss.log.Warn("refused live client: too many live connections", "max", ss.ep.lim.maxConns)
		ss.close(websocket.StatusTryAgainLater, wsReasonFull)
		return
	}
	defer ss.ep.release()
	sub := bus.Subscribe(ss.ep.lim.buffer)
	defer sub.Close()
	if err := ss.write(ctx, wsReadyMessage{Type: "ready"}); err != nil {
		ss.writeFailed(err)
		return
	}
	ss.log.Debug("live client connected")
	var wg sync.WaitGroup
	wg.Go(func() { ss.sendEvents(ctx, sub) })
	wg.Go(func() { ss.keepAlive(ctx) })
	ss.readMessages(ctx)
	cancel()
	wg.Wait()
	ss.log.Debug("live client gone")
}

// close closes the connection with code and reason, once; later calls
// (another goroutine noticing the same end) do nothing.
func (ss *wsSession) close(code websocket.StatusCode, reason string) {
	ss.closeOnce.Do(func() {
		if err := ss.c.Close(code, reason); err != nil {
			ss.log.Debug("websocket close", "code", code, "error", err)
		}
	})
}

// authenticate reads the first message and checks it is a valid auth
// message within the auth timeout, closing with 4401 otherwise. Meanwhile
// the socket counts as pending (wsEndpoint.admit), and a newer one may
// evict it (4429).
func (ss *wsSession) authenticate(ctx context.Context) bool {
	p := &wsPending{addr: ss.addr, evict: func() {
		ss.endAuth(wsCloseTooMany, wsReasonTooMany, "closed unauthenticated live client: too many from its address or in all")
	}}
	if victim := ss.ep.admit(p); victim != nil {
		go victim.evict()
	}
	defer ss.ep.unpend(p)
	// A timer rather than a read deadline: on a deadline the library cuts
	// the socket, and the client would not learn why.
	timer := time.AfterFunc(ss.ep.lim.authTimeout, func() {
		ss.endAuth(wsCloseUnauthorized, wsReasonUnauthorized, "live client sent no auth message in time")
	})
	defer timer.Stop()
	typ, data, err := ss.c.Read(ctx)
	if !ss.authOver.CompareAndSwap(false, true) {
		return false // timed out or evicted: that closes the connection
	}
	if err != nil {
		ss.log.Debug("live client left before auth", "error", err)
		return false
	}
	var m wsClientMessage
	if typ != websocket.MessageText || json.Unmarshal(data, &m) != nil || m.Type != "auth" || !ss.ep.s.wsTokenOK(m.Token) {
		ss.log.Warn("refused live client: first message is not a valid auth message")
		ss.close(wsCloseUnauthorized, wsReasonUnauthorized)
		return false
	}
	return true
}

// endAuth closes a socket still waiting for its auth message, unless the
// message came first.
func (ss *wsSession) endAuth(code websocket.StatusCode, reason, why string) {
	if !ss.authOver.CompareAndSwap(false, true) {
		return
	}
	ss.log.Warn(why)
	ss.close(code, reason)
}

// readMessages handles client messages until the connection ends.
func (ss *wsSession) readMessages(ctx context.Context) {
	for {
		typ, data, err := ss.c.Read(ctx)
		if err != nil {
			ss.log.Debug("live read ended", "status", websocket.CloseStatus(err), "error", err)
			return
		}
		var m wsClientMessage
		if typ != websocket.MessageText || json.Unmarshal(data, &m) != nil {
			ss.reply(ctx, `messages must be JSON text such as {"type":"subscribe","streams":["cam1"]}`)
			continue
		}
		switch m.Type {
		case "subscribe":
			f := newWSFilter(m.Streams)
			ss.filter.Store(f)
			if err := ss.write(ctx, wsSubscribedMessage{Type: "subscribed", Streams: f.names}); err != nil {
				ss.writeFailed(err)
			}
		case "auth":
			ss.reply(ctx, "already authenticated")
		default:
			ss.reply(ctx, fmt.Sprintf("unknown message type %q: the client may send subscribe", m.Type))
		}
	}
}

// reply sends an error message to the client.
func (ss *wsSession) reply(ctx context.Context, msg string) {
	if err := ss.write(ctx, wsErrorMessage{Type: "error", Error: msg}); err != nil {
		ss.writeFailed(err)
	}
}

// sendEvents writes the subscribed events until the subscription or the
// connection ends.
func (ss *wsSession) sendEvents(ctx context.Context, sub *events.Subscription) {
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-sub.C():
			if !ok {
				if errors.Is(sub.Err(), events.ErrSlow) {
					ss.dropSlow("event buffer full")
				} else if ctx.Err() == nil {
					ss.close(websocket.StatusGoingAway, "event bus closed")
				}
				return
			}
			if !ss.filter.Load().match(e.Stream) {
				continue
			}
			err := ss.write(ctx, wsEventMessage{Type: e.Type, Stream: e.Stream, Plugin: e.Plugin, At: e.At, Data: e.Data})
			var enc *json.UnsupportedTypeError
			var val *json.UnsupportedValueError
			var mar *json.MarshalerError
			if errors.As(err, &enc) || errors.As(err, &val) || errors.As(err, &mar) {
				ss.log.Error("live event does not encode as JSON; skipped", "type", e.Type, "stream", e.Stream, "error", err)
				continue
			}
			if err != nil {
				// A timed-out write also cuts the socket, which may end
				// the session (ctx) first; it still counts as slow.
				if errors.Is(err, errWSSlow) || ctx.Err() == nil {
					ss.writeFailed(err)
				}
				return
			}
		}
	}
}

// keepAlive pings the client so dead peers and idle proxies are noticed;
// an unanswered ping counts as a slow client.
func (ss *wsSession) keepAlive(ctx context.Context) {
	t := time.NewTicker(ss.ep.lim.pingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, ss.ep.lim.pongTimeout)
			err := ss.c.Ping(pctx)
			timedOut := pctx.Err() == context.DeadlineExceeded
			cancel()
			if err == nil || ctx.Err() != nil {
				continue
			}
			if timedOut {
				ss.dropSlow("ping not answered")
			}
			return
		}
	}
}

// write sends v as one text message within the write timeout; it returns
// errWSSlow when the socket did not take it in time.
func (ss *wsSession) write(ctx context.Context, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, ss.ep.lim.writeTimeout)
	defer cancel()
	if err := ss.c.Write(wctx, websocket.MessageText, b); err != nil {
		if wctx.Err() == context.DeadlineExceeded {
			return errWSSlow
		}
		return err
	}
	return nil
}

// writeFailed ends the connection after a failed write.
func (ss *wsSession) writeFailed(err error) {
	if errors.Is(err, errWSSlow) {
		ss.dropSlow("write timed out")
		return
	}
	ss.log.Debug("live write failed", "error", err)
	ss.close(websocket.StatusInternalError, "write failed")
}

// dropSlow closes a client that does not keep up, so it cannot hold up the
// host or other clients.
func (ss *wsSession) dropSlow(why string) {
	ss.log.Warn("dropped slow live client", "why", why)
	if ss.ep.met != nil {
		ss.ep.met.WSDropped()
	}
	ss.close(wsCloseSlow, wsReasonSlow)
}

// wsFilter is a client's subscribed streams.
type wsFilter struct {
	all     bool
	streams map[string]bool
	// names is the set as confirmed to the client: ["*"] for all, else
	// sorted.
	names []string
}

func newWSFilter(streams []string) *wsFilter {
	f := &wsFilter{streams: map[string]bool{}, names: []string{}}
	for _, s := range streams {
		if s == "*" {
			f.all = true
		} else if s != "" {
			f.streams[s] = true
		}
	}
	if len(f.streams) == 0 {
		f.all = true
	}
	if f.all {
		f.names = []string{"*"}
		return f
	}
	for s := range f.streams {
		f.names = append(f.names, s)
	}
	sort.Strings(f.names)
	return f
}

// match reports whether an event of stream goes to the client: host-wide
// events (stream "") always, others once subscribed to.
func (f *wsFilter) match(stream string) bool {
	return stream == "" || (f != nil && (f.all || f.streams[stream]))
}
