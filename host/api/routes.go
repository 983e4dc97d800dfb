package api

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/source"
	"github.com/lsie-mlf/lsie/host/store"
)

// Limits of GET /api/v1/streams/{id}/segments.
const (
	defaultSegmentLimit = 100
	maxSegmentLimit     = 1000
)

// route is one path of the API, the methods it answers and how its
// callers authenticate. routeTable is the one list of them: routes registers
// it and the OpenAPI test walks it, so the document cannot miss a route.
type route struct {
	pattern string
	methods methods
	auth    authMode
}

// authMode is how a route's callers prove who they are.
type authMode int

const (
	// authToken: with a token configured, every request needs it as
	// `Authorization: Bearer TOKEN` (401 otherwise).
	authToken authMode = iota
	// authPublic: no credentials; health and the API description, which
	// reveal nothing a probe or a client discovering the API should not see.
	authPublic
	// authHMAC: webhooks sign their body with a per-source secret instead.
	authHMAC
	// authFirstMessage: the WebSocket authenticates with its first message,
	// so no token ever sits in a URL, where logs keep it.
	authFirstMessage
)

// routeTable lists every API path with its handlers. Concerns with their
// own file add their routes through extraRoutes.
func (s *Server) routeTable() []route {
	table := []route{
		{"/api/v1/health", methods{http.MethodGet: s.getHealth}, authPublic},
		{"/api/v1/openapi.json", methods{http.MethodGet: s.getOpenAPI}, authPublic},
		{"/api/v1/streams", methods{http.MethodGet: s.getStreams, http.MethodPost: s.postStream}, authToken},
		{"/api/v1/streams/{id}", methods{http.MethodDelete: s.deleteStream}, authToken},
		{"/api/v1/streams/{id}/plugins/{plugin}/commands", methods{http.MethodPost: s.postCommand}, authToken},
		{"/api/v1/streams/{id}/segments", methods{http.MethodGet: s.getSegments}, authToken},
		{"/api/v1/segments/{stream}/{index}", methods{http.MethodGet: s.getSegment}, authToken},
	}
	for _, more := range extraRoutes {
		table = append(table, more(s)...)
	}
	return table
}

// extraRoutes are the route lists of concerns kept in their own files
// (telemetry, experiments, operator pages, live updates), each added by an
// init function there.
var extraRoutes []func(*Server) []route

// routes builds the router. Paths are registered without a method and
// dispatched by methods, so a wrong method gets the JSON 405 (with Allow)
// rather than ServeMux's plain-text one; every other path gets a JSON 404.
func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	for _, rt := range s.routeTable() {
		var h http.Handler = rt.methods
		if rt.auth == authToken {
			h = s.requireToken(h)
		}
		mux.Handle(rt.pattern, h)
	}
	if s.cfg.Console == nil {
		mux.HandleFunc("/", s.notFound)
		return mux
	}
	// Everything outside the API is the console's: its static files need
	// no token (the page asks for one and keeps it in session storage); an
	// unknown /api/ path still gets the JSON 404.
	mux.HandleFunc("/api/", s.notFound)
	mux.Handle("/", methods{http.MethodGet: s.cfg.Console.ServeHTTP})
	return mux
}

// methods dispatches one path by HTTP method; HEAD is served by GET.
type methods map[string]http.HandlerFunc

func (m methods) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, ok := m[r.Method]
	if !ok && r.Method == http.MethodHead {
		h, ok = m[http.MethodGet]
	}
	if ok {
		h(w, r)
		return
	}
	allow := m.allow()
	w.Header().Set("Allow", allow)
	writeError(w, http.StatusMethodNotAllowed, codeMethodNotAllowed,
		fmt.Sprintf("method %s is not allowed on %q; allowed: %s", r.Method, r.URL.Path, allow))
}

func (m methods) allow() string {
	var names []string
	for name := range m {
		names = append(names, name)
		if name == http.MethodGet {
			names = append(names, http.MethodHead)
		}
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("no endpoint at %q", r.URL.Path))
}

// refuseConnect answers CONNECT, which no route takes, with the JSON 404:
// ServeMux matches a CONNECT by its authority-form target (host:port, no
// path), which no pattern names, and would answer its plain-text 404.
func (s *Server) refuseConnect(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodConnect {
			writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("no endpoint for CONNECT %q", r.RequestURI))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// getHealth answers the host's live health: 200 unless the host is in
// error, then 503, so a load balancer or probe can act on the status alone.
func (s *Server) getHealth(w http.ResponseWriter, r *http.Request) {
	if s.hs == nil {
		writeError(w, http.StatusServiceUnavailable, codeInternal, "no live health source in this process")
		return
	}
	h := s.hs.Health()
	if h.Components == nil {
		h.Components = []model.ComponentHealth{}
	}
	status := http.StatusOK
	if h.Status == model.HealthError {
		status = http.StatusServiceUnavailable
	}
	s.writeJSON(w, status, h)
}

type streamsResponse struct {
	Streams []model.Stream `json:"streams"`
}

// getStreams lists stored streams, with the live health of each stream the
// host is running laid over the stored one.
func (s *Server) getStreams(w http.ResponseWriter, r *http.Request) {
	streams, err := s.st.Streams(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	live := map[string]model.ComponentHealth{}
	if s.hs != nil {
		for _, c := range s.hs.Health().Components {
			if c.Kind == "stream" {
				live[c.Name] = c
			}
		}
	}
	for i := range streams {
		// Stored redacted (host.go); rows a host stored before query
		// parameters were redacted still hold them.
		streams[i].Source = source.Redact(streams[i].Source)
		if c, ok := live[streams[i].ID]; ok {
			streams[i].Health, streams[i].Hint = c.Health, c.Hint
		}
		if streams[i].Plugins == nil {
			streams[i].Plugins = []string{}
		}
	}
	if streams == nil {
		streams = []model.Stream{}
	}
	s.writeJSON(w, http.StatusOK, streamsResponse{Streams: streams})
}

type segmentsResponse struct {
	StreamID string          `json:"stream_id"`
	Segments []model.Segment `json:"segments"`
	// NextSince is the since to ask for next: one past the index of the
	// last segment returned, or the request's since when none was.
	NextSince int64 `json:"next_since"`
}

// getSegments pages through a stream's segments (without items).
func (s *Server) getSegments(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	q := r.URL.Query()
	since, err := queryInt(q, "since", 0, 0, math.MaxInt64, "must be a non-negative integer")
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	limit, err := queryInt(q, "limit", defaultSegmentLimit, 1, maxSegmentLimit,
		fmt.Sprintf("must be an integer from 1 to %d", maxSegmentLimit))
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	// One row more than the page tells whether the page cuts an index's
	// runs apart.
	segs, err := s.st.Segments(r.Context(), id, since, int(limit)+1)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("stream %q not found", id))
		return
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	segs = pageSegments(segs, int(limit))
	if segs == nil {
		segs = []model.Segment{}
	}
	next := since
	if len(segs) > 0 {
		next = segs[len(segs)-1].Index + 1
	}
	s.writeJSON(w, http.StatusOK, segmentsResponse{StreamID: id, Segments: segs, NextSince: next})
}

// pageSegments cuts rows (up to limit+1 of them, ascending by index, the
// runs of one index together) to a page of at most limit that next_since,
// one past its last index, continues without skipping a row: when the page
// would end between two runs of an index, that index's rows are left for
// the next page. An index with more than limit runs cannot be paged that
// way: its first limit rows are the page and its other runs are skipped.
func pageSegments(rows []model.Segment, limit int) []model.Segment {
	if len(rows) <= limit {
		return rows
	}
	cut := rows[limit].Index // the first row left out
	page := rows[:limit]
	n := len(page)
	for n > 0 && page[n-1].Index == cut {
		n--
	}
	if n == 0 {
		return page // one index fills the page: truncated to limit rows
	}
	return page[:n]
}

// getSegment returns one segment with every plugin's items: of the run
// named by ?run, or of the run of that index stored last.
func (s *Server) getSegment(w http.ResponseWriter, r *http.Request) {
	id, raw := r.PathValue("stream"), r.PathValue("index")
	index, err := parseInt("path parameter", "index", raw, 0, math.MaxInt64, "must be a non-negative integer")
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	run, err := queryRun(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	withObjects, err := queryInclude(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	seg, err := s.st.Segment(r.Context(), id, index, run)
	if errors.Is(err, store.ErrNotFound) {
		// Say which is missing: the stream, the segment or that run's.
		if _, serr := s.st.Stream(r.Context(), id); errors.Is(serr, store.ErrNotFound) {
			writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("stream %q not found", id))
			return
		}
		msg := fmt.Sprintf("segment %d of stream %q not found", index, id)
		if run != "" {
			msg = fmt.Sprintf("segment %d of stream %q not found in run %q", index, id, run)
		}
		writeError(w, http.StatusNotFound, codeNotFound, msg)
		return
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if withObjects {
		// The same run's row as the segment read: a run stored later
		// between the two reads does not mix in.
		if seg.Objects, err = s.st.Objects(r.Context(), model.ObjectQuery{StreamID: id, Index: &index, RunID: seg.RunID}); err != nil {
			s.internalError(w, r, err)
			return
		}
	}
	s.writeJSON(w, http.StatusOK, seg)
}
