package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/store"
	"github.com/lsie-mlf/lsie/host/telemetry"
)

func init() {
	extraRoutes = append(extraRoutes, func(s *Server) []route {
		return []route{
			{"/api/v1/telemetry", methods{http.MethodPost: s.postTelemetry}, authHMAC},
			{"/api/v1/telemetry/events", methods{http.MethodGet: s.getTelemetry}, authToken},
		}
	})
}

// TelemetryConfig configures the telemetry webhook.
type TelemetryConfig struct {
	// Config lists the sources, their secrets and the request limits.
	Config telemetry.Config
	// Arms returns an experiment's arms, false when it is not configured.
	Arms func(experiment string) ([]string, bool)
	// Accepted, when set, is told of every event stored (not duplicates),
	// with its placement: the host publishes it to live clients.
	Accepted func(ev model.TelemetryEvent)
	// Outcome, when set, counts each event's outcome per source:
	// "accepted", "late", "duplicate" or "rejected".
	Outcome func(source, outcome string, n int)
}

// telemetryState is the webhook as built by New.
type telemetryState struct {
	cfg      TelemetryConfig
	verifier *telemetry.Verifier
}

// telemetryResponse reports what happened to every event of a batch, in
// the batch's order.
type telemetryResponse struct {
	Accepted   int                `json:"accepted"`
	Duplicates int                `json:"duplicates"`
	Rejected   int                `json:"rejected"`
	Events     []telemetryOutcome `json:"events"`
}

// telemetryOutcome is one event's outcome: accepted (with its placement),
// duplicate (already stored: its placement then) or rejected (with the
// field at fault).
type telemetryOutcome struct {
	Index   int    `json:"index"`
	ID      string `json:"id,omitempty"`
	Status  string `json:"status"`
	Segment *int64 `json:"segment,omitempty"`
	Late    bool   `json:"late,omitempty"`
	Field   string `json:"field,omitempty"`
	Error   string `json:"error,omitempty"`
}

// postTelemetry takes a signed batch of events. The signature is checked
// over the raw body before anything is parsed; then good events are stored
// even when others in the batch are refused (422 lists them), so a sender
// never has to resend what was accepted, and resending is harmless: events
// are idempotent by (source, id).
func (s *Server) postTelemetry(w http.ResponseWriter, r *http.Request) {
	ts := s.telemetry
	if ts == nil {
		writeError(w, http.StatusServiceUnavailable, codeUnavailable, "telemetry is not configured: add a telemetry block with a source")
		return
	}
	body, ok := s.readJSONBody(w, r, ts.verifier.MaxBody())
	if !ok {
		return
	}
	src, err := ts.verifier.Verify(r.Header, body)
	if err != nil {
		var ae *telemetry.AuthError
		if errors.As(err, &ae) {
			s.log.Warn("refused telemetry", "reason", ae.Reason, "remote", r.RemoteAddr)
			if ae.Status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `HMAC-SHA256 headers="X-LSIE-Source X-LSIE-Timestamp X-LSIE-Signature"`)
				writeError(w, http.StatusUnauthorized, codeUnauthorized, ae.Error())
				return
			}
			code := codeConflict
			switch ae.Status {
			case http.StatusRequestEntityTooLarge:
				code = codeTooLarge
			case http.StatusTooManyRequests:
				code = codeUnavailable
				w.Header().Set("Retry-After", "1")
			}
			writeError(w, ae.Status, code, ae.Error())
			return
		}
		s.internalError(w, r, err)
		return
	}
	known, err := s.knownStreams(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	decoded, rejected, err := telemetry.Decode(body, src, time.Now(), telemetry.Validator{
		Stream:    func(id string) bool { return known[id] },
		Arms:      ts.cfg.Arms,
		MaxEvents: ts.verifier.MaxEvents(),
	})
	if err != nil {
		var be *telemetry.BodyError
		if errors.As(err, &be) {
			off := int(be.Offset)
			writeErrorDetail(w, http.StatusBadRequest, errorDetail{Code: codeBadRequest, Message: be.Error(),
				Diagnostics: []diagnostic{{Field: be.Field, Message: be.Message, Offset: &off}}})
			return
		}
		s.internalError(w, r, err)
		return
	}
	resp := telemetryResponse{Events: make([]telemetryOutcome, len(decoded)+len(rejected))}
	evs := make([]model.TelemetryEvent, len(decoded))
	for i, d := range decoded {
		evs[i] = d.Event
	}
	var placed []model.TelemetryPlacement
	if len(evs) > 0 {
		placed, err = s.st.InsertTelemetry(r.Context(), evs)
		if errors.Is(err, store.ErrNotFound) {
			// A stream removed between the check and the insert: nothing
			// was stored, so the sender may simply retry.
			writeError(w, http.StatusConflict, codeConflict, fmt.Sprintf("nothing stored: %v", err))
			return
		}
		if err != nil {
			s.internalError(w, r, err)
			return
		}
	}
	late := 0
	for i, d := range decoded {
		o := telemetryOutcome{Index: d.Index, ID: d.Event.ID, Status: "accepted", Segment: placed[i].Segment, Late: placed[i].Late}
		if placed[i].Duplicate {
			o.Status = "duplicate"
			resp.Duplicates++
		} else {
			resp.Accepted++
			if placed[i].Late {
				late++
			}
			if ts.cfg.Accepted != nil {
				ev := d.Event
				ev.Segment, ev.Late = placed[i].Segment, placed[i].Late
				ts.cfg.Accepted(ev)
			}
		}
		resp.Events[d.Index] = o
	}
	for _, rj := range rejected {
		resp.Events[rj.Index] = telemetryOutcome{Index: rj.Index, ID: rj.ID, Status: "rejected", Field: rj.Field, Error: rj.Message}
	}
	resp.Rejected = len(rejected)
	if ts.cfg.Outcome != nil {
		ts.cfg.Outcome(src.Name, "accepted", resp.Accepted-late)
		ts.cfg.Outcome(src.Name, "late", late)
		ts.cfg.Outcome(src.Name, "duplicate", resp.Duplicates)
		ts.cfg.Outcome(src.Name, "rejected", resp.Rejected)
	}
	status := http.StatusOK
	if resp.Rejected > 0 {
		status = http.StatusUnprocessableEntity
	}
	s.writeJSON(w, status, resp)
}

// knownStreams is the set of stored stream ids (configured streams are
// stored when the host starts them).
func (s *Server) knownStreams(ctx context.Context) (map[string]bool, error) {
	streams, err := s.st.Streams(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing streams for telemetry: %w", err)
	}
	known := make(map[string]bool, len(streams))
	for _, st := range streams {
		known[st.ID] = true
	}
	return known, nil
}

// Limits of GET /api/v1/telemetry/events.
const (
	defaultTelemetryLimit = 500
	maxTelemetryLimit     = 10000
)

type telemetryEventsResponse struct {
	Events []model.TelemetryEvent `json:"events"`
}

// getTelemetry lists stored events, filtered by stream, kind, subject,
// experiment and a time range (RFC 3339).
func (s *Server) getTelemetry(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	tq := model.TelemetryQuery{StreamID: q.Get("stream"), Kind: model.TelemetryKind(q.Get("kind")),
		Subject: q.Get("subject"), Experiment: q.Get("experiment")}
	switch tq.Kind {
	case "", model.TelemetryPhysiology, model.TelemetryStimulus, model.TelemetryStreamEvent:
	default:
		writeError(w, http.StatusBadRequest, codeBadRequest, fmt.Sprintf(
			"query parameter kind: must be physiology, stimulus or stream_event, got %q", tq.Kind))
		return
	}
	if err := queryTimes(q, &tq.From, &tq.To); err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	limit, err := queryInt(q, "limit", defaultTelemetryLimit, 1, maxTelemetryLimit,
		fmt.Sprintf("must be an integer from 1 to %d", maxTelemetryLimit))
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	tq.Limit = int(limit)
	evs, err := s.st.Telemetry(r.Context(), tq)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if evs == nil {
		evs = []model.TelemetryEvent{}
	}
	s.writeJSON(w, http.StatusOK, telemetryEventsResponse{Events: evs})
}
