package api

import (
	"fmt"
	"net/http"
	"net/url"

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
