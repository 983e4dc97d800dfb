package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/lsie-mlf/lsie/host/config"
	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/notify"
)

// Alerts: what the rules raised (docs/RULES.md), by stream, rule and wall
// start; live ones arrive on the WebSocket as "alert" events.

// Limits of GET /api/v1/alerts.
const (
	defaultAlertLimit = 1000
	maxAlertLimit     = 10000
)

func init() {
	extraRoutes = append(extraRoutes, func(s *Server) []route {
		return []route{
			{"/api/v1/alerts", methods{http.MethodGet: s.getAlerts}, authToken},
			{"/api/v1/notifications/failed", methods{http.MethodGet: s.getFailedNotifications}, authToken},
			{"/api/v1/rules", methods{http.MethodGet: s.getRules}, authToken},
			{"/api/v1/rules/{name}", methods{http.MethodPut: s.putRule, http.MethodDelete: s.deleteRule}, authToken},
		}
	})
}

// FailedNotifier lists alert deliveries that exhausted their attempts; the
// host implements it (notify.Receiver keeps them).
type FailedNotifier interface {
	FailedNotifications() []notify.Failed
}

type failedResponse struct {
	// Failed are the deliveries kept after their last attempt, by receiver
	// then queue order.
	Failed []notify.Failed `json:"failed"`
}

// getFailedNotifications lists what no receiver took.
func (s *Server) getFailedNotifications(w http.ResponseWriter, r *http.Request) {
	out := failedResponse{Failed: []notify.Failed{}}
	if fn, ok := s.hs.(FailedNotifier); ok {
		if f := fn.FailedNotifications(); f != nil {
			out.Failed = f
		}
	}
	s.writeJSON(w, http.StatusOK, out)
}

type alertsResponse struct {
	// Alerts are ordered by wall start, then id; an open one has no end.
	Alerts []model.Alert `json:"alerts"`
}

// getAlerts lists stored alerts.
func (s *Server) getAlerts(w http.ResponseWriter, r *http.Request) {
	aq, err := alertQuery(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	alerts, err := s.st.Alerts(r.Context(), aq)
	if !s.storeOK(w, r, aq.StreamID, err) {
		return
	}
	if alerts == nil {
		alerts = []model.Alert{}
	}
	s.writeJSON(w, http.StatusOK, alertsResponse{Alerts: alerts})
}

// alertQuery reads stream, rule, from, to and limit.
func alertQuery(q url.Values) (model.AlertQuery, error) {
	var aq model.AlertQuery
	for _, p := range []struct {
		name string
		dst  *string
	}{{"stream", &aq.StreamID}, {"rule", &aq.Rule}} {
		if vals, ok := q[p.name]; ok {
			if len(vals) != 1 || vals[0] == "" {
				return aq, fmt.Errorf("query parameter %q: want one non-empty value", p.name)
			}
			*p.dst = vals[0]
		}
	}
	if err := queryTimes(q, &aq.From, &aq.To); err != nil {
		return aq, err
	}
	limit, err := queryInt(q, "limit", defaultAlertLimit, 1, maxAlertLimit,
		fmt.Sprintf("must be an integer from 1 to %d", maxAlertLimit))
	if err != nil {
		return aq, err
	}
	aq.Limit = int(limit)
	return aq, nil
}

// RuleInfo is a rule as the API shows it.
type RuleInfo struct {
	Name string `json:"name"`
	// Origin is "file" (the config file: changed by editing it and
	// SIGHUP) or "api" (added through PUT /api/v1/rules/{name}).
	Origin   string   `json:"origin"`
	Streams  []string `json:"streams"`
	When     string   `json:"when"`
	For      string   `json:"for,omitempty"`
	Cooldown string   `json:"cooldown,omitempty"`
	Severity string   `json:"severity"`
	Message  string   `json:"message"`
}

// RuleManager changes the rule set; the host implements it.
type RuleManager interface {
	Rules() []RuleInfo
	// PutRule adds or replaces an API rule from its JSON; the error wraps
	// ErrRuleInvalid (with the diagnostics) or ErrRuleFromFile.
	PutRule(ctx context.Context, name string, spec []byte) error
	// DeleteRule removes an API rule; the error wraps ErrRuleNotFound or
	// ErrRuleFromFile.
	DeleteRule(ctx context.Context, name string) error
}

// Errors a RuleManager returns for what the API answers with 422, 409, 404.
var (
	ErrRuleInvalid  = errors.New("invalid rule")
	ErrRuleFromFile = errors.New("the rule is the config file's: edit the file and reload (SIGHUP)")
	ErrRuleNotFound = errors.New("no such rule added through the API")
)

type rulesResponse struct {
	Rules []RuleInfo `json:"rules"`
}

func (s *Server) ruleManager(w http.ResponseWriter) (RuleManager, bool) {
	rm, ok := s.hs.(RuleManager)
	if !ok {
		writeError(w, http.StatusNotImplemented, codeNotImplemented, "this server manages no rules")
	}
	return rm, ok
}

func (s *Server) getRules(w http.ResponseWriter, r *http.Request) {
	rm, ok := s.ruleManager(w)
	if !ok {
		return
	}
	s.writeJSON(w, http.StatusOK, rulesResponse{Rules: rm.Rules()})
}

func (s *Server) putRule(w http.ResponseWriter, r *http.Request) {
	rm, ok := s.ruleManager(w)
	if !ok {
		return
	}
	name := r.PathValue("name")
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRuleBody+1))
	if err != nil || len(body) > maxRuleBody {
		writeError(w, http.StatusBadRequest, codeBadRequest, fmt.Sprintf("a rule is a JSON object of at most %d bytes", maxRuleBody))
		return
	}
	if !config.ValidName(name) {
		writeError(w, http.StatusBadRequest, codeBadRequest, "rule name must be 1..64 characters of A-Z a-z 0-9 _ -")
		return
	}
	err = rm.PutRule(r.Context(), name, body)
	switch {
	case err == nil:
		for _, ri := range rm.Rules() {
			if ri.Name == name {
				s.writeJSON(w, http.StatusOK, ri)
				return
			}
		}
		s.writeJSON(w, http.StatusOK, RuleInfo{Name: name})
	case errors.Is(err, ErrRuleFromFile):
		writeError(w, http.StatusConflict, codeConflict, err.Error())
	case errors.Is(err, ErrRuleInvalid):
		writeError(w, http.StatusUnprocessableEntity, codeUnprocessable, strings.TrimPrefix(err.Error(), ErrRuleInvalid.Error()+": "))
	default:
		s.internalError(w, r, err)
	}
}

func (s *Server) deleteRule(w http.ResponseWriter, r *http.Request) {
	rm, ok := s.ruleManager(w)
	if !ok {
		return
	}
	err := rm.DeleteRule(r.Context(), r.PathValue("name"))
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, ErrRuleFromFile):
		writeError(w, http.StatusConflict, codeConflict, err.Error())
	case errors.Is(err, ErrRuleNotFound):
		writeError(w, http.StatusNotFound, codeNotFound, err.Error())
	default:
		s.internalError(w, r, err)
	}
}

const maxRuleBody = 64 << 10
