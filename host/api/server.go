// Package api serves the host's HTTP API: JSON over net/http. It reads
// health, streams and segments, and adds and removes streams at run time
// through a StreamManager. Later: WebSocket, console assets, /metrics.
//
// Every request passes a guard first (see guard.go): its Host must be one
// the API is reached by (against DNS rebinding), a browser's Origin must be
// one of those hosts (against cross-site requests), and, when a token is
// configured, every request other than GET, HEAD and OPTIONS must carry it.
package api

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/lsie-mlf/lsie/host/events"
	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/store"
	"github.com/lsie-mlf/lsie/host/telemetry"
)

// DefaultListen is the address used when Config.Listen is empty: loopback
// only, the safe choice whether or not a token is set.
const DefaultListen = "127.0.0.1:7700"

// shutdownTimeout bounds how long Close waits for requests in flight before
// cutting their connections. 3 s was too short on a loaded 2-core machine
// with a race build and clients polling health without pause (CI: a
// request still in flight at the deadline made the host exit 1); 10 s is
// still far inside a service manager's stop timeout.
const shutdownTimeout = 10 * time.Second

// HealthSource reports the host's live health. The host implements it.
type HealthSource interface {
	Health() model.HostHealth
}

// Config configures the API server.
type Config struct {
	// Listen is the TCP address to serve on, host:port; ":0" picks a free
	// port. Empty means DefaultListen.
	Listen string
	// Token, when not empty, is the bearer token every request other than
	// GET, HEAD and OPTIONS must carry (`Authorization: Bearer TOKEN`).
	// Empty lets those requests through: config validation allows that only
	// on a loopback Listen.
	Token string
	// AllowedHosts are Host header values accepted besides the loopback
	// names (localhost, 127.0.0.1, [::1]) and the listen address: "host"
	// matches without a port or with the bound port, "host:port" exactly,
	// case-insensitively.
	AllowedHosts []string
	// Telemetry configures the telemetry webhook; nil answers 503 there.
	Telemetry *TelemetryConfig
	// Insights serves the operator pages and experiments; nil answers 503
	// there.
	Insights Insights
	// Console, when set, serves the web console at every path outside
	// /api/ and /metrics (GET and HEAD).
	Console http.Handler
	// Events is the bus GET /api/v1/ws streams live events from; nil
	// answers that route 503.
	Events *events.Bus
	// Metrics serves GET /metrics (Prometheus text); nil answers 503. A
	// *metrics.Metrics there also gets the WebSocket client counts.
	Metrics http.Handler
}

// Server is the HTTP API over a Store and the host's live health.
type Server struct {
	cfg     Config
	st      store.Store
	hs      HealthSource
	log     hclog.Logger
	handler http.Handler

	// hosts are the accepted Host values; Start replaces them once the
	// port is bound.
	hosts atomic.Pointer[hostSet]
	// tokenHash is sha256 of Config.Token, compared in constant time.
	tokenHash [32]byte
	// telemetry is the webhook built from Config.Telemetry; nil without.
	telemetry *telemetryState
	// streams is set by SetStreams; nil until then.
	streams atomic.Pointer[streamsConfig]
	// ws serves GET /api/v1/ws; set when New builds the routes.
	ws *wsEndpoint

	mu      sync.Mutex
	srv     *http.Server
	done    chan struct{} // closed when Serve has returned
	closed  bool
	closeEr error
}

// New builds a Server. hs may be nil (a tool serving only a store): streams
// then show their stored health and /api/v1/health answers 503. A nil log
// discards messages.
func New(cfg Config, st store.Store, hs HealthSource, log hclog.Logger) *Server {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	s := &Server{cfg: cfg, st: st, hs: hs, log: log, tokenHash: sha256.Sum256([]byte(cfg.Token))}
	if cfg.Telemetry != nil {
		s.telemetry = &telemetryState{cfg: *cfg.Telemetry, verifier: telemetry.NewVerifier(cfg.Telemetry.Config, time.Now)}
	}
	s.hosts.Store(newHostSet(s.listen(), "", cfg.AllowedHosts))
	s.handler = s.recoverPanics(s.logRequests(s.guard(s.refuseConnect(s.routes()))))
	return s
}

// Handler returns the API's http.Handler, for tests or to mount elsewhere.
// Requests net/http cannot parse never reach it: the listener Start serves
// on answers those with the JSON error body (see rawerrors.go).
func (s *Server) Handler() http.Handler { return s.handler }

// Start listens on Config.Listen and serves in a goroutine until Close. It
// returns the bound address (useful with port 0).
func (s *Server) Start() (addr string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return "", errors.New("api: start after close")
	}
	if s.srv != nil {
		return "", errors.New("api: already started")
	}
	listen := s.listen()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return "", fmt.Errorf("api: listen on %q: %w", listen, err)
	}
	addr = ln.Addr().String()
	s.hosts.Store(newHostSet(listen, addr, s.cfg.AllowedHosts))
	s.srv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          s.log.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
	}
	s.done = make(chan struct{})
	go func(srv *http.Server, done chan<- struct{}) {
		defer close(done)
		if err := srv.Serve(jsonErrorListener{ln}); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("api server stopped", "addr", ln.Addr().String(), "error", err)
		}
	}(s.srv, s.done)
	s.log.Info("api listening", "addr", addr, "token", s.cfg.Token != "")
	return addr, nil
}

// listen is the address to listen on: Config.Listen or DefaultListen.
func (s *Server) listen() string {
	if s.cfg.Listen == "" {
		return DefaultListen
	}
	return s.cfg.Listen
}

// Close stops the server: it stops accepting, lets requests in flight finish
// for a short while, then closes what is left. It is safe to call more than
// once, and before Start; later calls return the first call's result.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.closeEr
	}
	s.closed = true
	if s.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		s.log.Warn("api shutdown timed out; closing connections", "error", err)
		if cerr := s.srv.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
		s.closeEr = fmt.Errorf("api: shutdown: %w", err)
	}
	<-s.done
	return s.closeEr
}
