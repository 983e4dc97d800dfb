package api

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/notify"
	"github.com/lsie-mlf/lsie/host/store"
)

func init() {
	extraSchemaTypes["AlertList"] = reflect.TypeFor[alertsResponse]()
	extraSchemaTypes["Alert"] = reflect.TypeFor[model.Alert]()
	extraSchemaTypes["FailedNotifications"] = reflect.TypeFor[failedResponse]()
	extraSchemaTypes["FailedNotification"] = reflect.TypeFor[notify.Failed]()
	extraSchemaTypes["RuleList"] = reflect.TypeFor[rulesResponse]()
	extraSchemaTypes["Rule"] = reflect.TypeFor[RuleInfo]()
	extraUnreachable = append(extraUnreachable, "GET /api/v1/notifications/failed 500", "GET /api/v1/rules 500") // only a handler panic
	extraExchanges = append(extraExchanges, alertsExchanges)
}

func (failingStore) Alerts(context.Context, model.AlertQuery) ([]model.Alert, error) {
	return nil, errDisk
}

// newAlertsStore holds an ended alert of cam1 and an open one of cam2.
func newAlertsStore(t *testing.T) store.Store {
	t.Helper()
	st := newTestStore(t)
	end, wallEnd := 3*time.Second, t0.Add(3*time.Second)
	for _, a := range []model.Alert{
		{ID: "cam1-crowd-1", Rule: "crowd", StreamID: "cam1", Severity: "warning", Message: "crowd at the door", Start: time.Second,
			Fired: 2 * time.Second, End: &end, WallStart: t0.Add(time.Second), WallEnd: &wallEnd,
			Values: map[string]any{"objects.count('person')": 3.0}, TrackIDs: []int64{1, 2, 4}},
		{ID: "cam2-dark-1", Rule: "dark", StreamID: "cam2", Severity: "info", Message: "dark", Start: 0, Fired: 0,
			WallStart: t0.Add(time.Minute), Values: map[string]any{"visual.brightness": 12.5}},
	} {
		if err := st.PutAlert(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func alertsExchanges(t *testing.T, token string) []exchange {
	st := newAlertsStore(t)
	full := New(Config{Token: token}, st, liveHealth, nil)
	broken := New(Config{Token: token}, failingStore{st}, liveHealth, nil)
	ruled := New(Config{Token: token}, st, &fakeRules{fixedHealth: liveHealth}, nil)
	auth := map[string]string{"Authorization": "Bearer " + token}
	return []exchange{
		{"alerts", full, "GET", "/api/v1/alerts", auth, "", 200},
		{"alerts of a rule", full, "GET", "/api/v1/alerts?rule=crowd&stream=cam1&limit=5", auth, "", 200},
		{"alerts bad time", full, "GET", "/api/v1/alerts?from=yesterday", auth, "", 400},
		{"alerts no token", full, "GET", "/api/v1/alerts", nil, "", 401},
		{"alerts broken", broken, "GET", "/api/v1/alerts", auth, "", 500},
		{"failed notifications", New(Config{Token: token}, st, failedHealth{liveHealth}, nil), "GET", "/api/v1/notifications/failed", auth, "", 200},
		{"failed notifications no token", full, "GET", "/api/v1/notifications/failed", nil, "", 401},
		{"rules", ruled, "GET", "/api/v1/rules", auth, "", 200},
		{"rules unmanaged", full, "GET", "/api/v1/rules", auth, "", 501},
		{"rules no token", ruled, "GET", "/api/v1/rules", nil, "", 401},
		{"put rule", ruled, "PUT", "/api/v1/rules/door", auth, `{"when":"true","for":"5s"}`, 200},
		{"put rule bad name", ruled, "PUT", "/api/v1/rules/a.b", auth, `{"when":"true"}`, 400},
		{"put rule of the file", ruled, "PUT", "/api/v1/rules/file", auth, `{"when":"true"}`, 409},
		{"put rule invalid", ruled, "PUT", "/api/v1/rules/door", auth, `{"when":"nope"}`, 422},
		{"put rule unmanaged", full, "PUT", "/api/v1/rules/door", auth, `{"when":"true"}`, 501},
		{"put rule broken", ruled, "PUT", "/api/v1/rules/broken", auth, `{"when":"true"}`, 500},
		{"put rule no token", ruled, "PUT", "/api/v1/rules/door", nil, `{"when":"true"}`, 401},
		{"delete rule", ruled, "DELETE", "/api/v1/rules/door", auth, "", 204},
		{"delete rule unknown", ruled, "DELETE", "/api/v1/rules/none", auth, "", 404},
		{"delete rule of the file", ruled, "DELETE", "/api/v1/rules/file", auth, "", 409},
		{"delete rule broken", ruled, "DELETE", "/api/v1/rules/broken", auth, "", 500},
		{"delete rule unmanaged", full, "DELETE", "/api/v1/rules/door", auth, "", 501},
		{"delete rule no token", ruled, "DELETE", "/api/v1/rules/door", nil, "", 401},
	}
}

// fakeRules manages rules as the host does, from the API's side: "file"
// is the config file's, "broken" fails inside, a when of "nope" is invalid.
type fakeRules struct {
	fixedHealth
	api map[string]RuleInfo
}

func (f *fakeRules) Rules() []RuleInfo {
	out := []RuleInfo{{Name: "file", Origin: "file", Streams: []string{}, When: "true", Severity: "warning", Message: "file"}}
	for _, r := range f.api {
		out = append(out, r)
	}
	return out
}

func (f *fakeRules) PutRule(_ context.Context, name string, spec []byte) error {
	switch {
	case name == "file":
		return ErrRuleFromFile
	case name == "broken":
		return errDisk
	case strings.Contains(string(spec), "nope"):
		return fmt.Errorf("%w: 1:10: when: undeclared reference to 'nope'", ErrRuleInvalid)
	}
	if f.api == nil {
		f.api = map[string]RuleInfo{}
	}
	f.api[name] = RuleInfo{Name: name, Origin: "api", Streams: []string{}, When: "true", For: "5s", Severity: "warning", Message: name}
	return nil
}

func (f *fakeRules) DeleteRule(_ context.Context, name string) error {
	switch {
	case name == "file":
		return ErrRuleFromFile
	case name == "broken":
		return errDisk
	case f.api[name].Name == "":
		return ErrRuleNotFound
	}
	delete(f.api, name)
	return nil
}

// failedHealth is a host with one failed delivery.
type failedHealth struct{ fixedHealth }

func (failedHealth) FailedNotifications() []notify.Failed {
	return []notify.Failed{{Receiver: "ops", Delivery: "cam1-crowd-1/alert_start", Event: "alert_start", Alert: "cam1-crowd-1",
		Rule: "crowd", StreamID: "cam1", LastError: "20 attempts, last: receiver answered 500", Queued: t0}}
}

func TestAlertsEndpoint(t *testing.T) {
	h := New(Config{}, newAlertsStore(t), liveHealth, nil).Handler()
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"", []string{"cam1-crowd-1", "cam2-dark-1"}},
		{"?stream=cam2", []string{"cam2-dark-1"}},
		{"?rule=crowd", []string{"cam1-crowd-1"}},
		{"?from=" + t0.Add(2*time.Second).Format(time.RFC3339Nano), []string{"cam2-dark-1"}},
		{"?rule=none", []string{}},
	} {
		var got alertsResponse
		getJSON(t, h, "/api/v1/alerts"+c.query, &got)
		ids := []string{}
		for _, a := range got.Alerts {
			ids = append(ids, a.ID)
		}
		if !reflect.DeepEqual(ids, c.want) {
			t.Errorf("%q: alerts %v, want %v", c.query, ids, c.want)
		}
	}
	var got alertsResponse
	getJSON(t, h, "/api/v1/alerts?rule=crowd", &got)
	if a := got.Alerts[0]; a.End == nil || *a.End != 3*time.Second || len(a.TrackIDs) != 3 || a.Values["objects.count('person')"] != 3.0 {
		t.Errorf("alert %+v", a)
	}
}
