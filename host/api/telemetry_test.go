package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/store"
	"github.com/lsie-mlf/lsie/host/telemetry"
)

const testSecret = "0123456789abcdef-secret"

func init() {
	extraSchemaTypes["TelemetryResult"] = reflect.TypeFor[telemetryResponse]()
	extraSchemaTypes["TelemetryOutcome"] = reflect.TypeFor[telemetryOutcome]()
	extraSchemaTypes["TelemetryEvent"] = reflect.TypeFor[model.TelemetryEvent]()
	extraSchemaTypes["TelemetryEventList"] = reflect.TypeFor[telemetryEventsResponse]()
	extraExchanges = append(extraExchanges, telemetryExchanges)
}

// telemetryServer serves fill's store with one telemetry source ("polar")
// and an experiment "greeting" with arms warm and neutral; accepted
// collects what the host would publish.
func telemetryServer(st store.Store, token string, maxReplay int) (*Server, *[]model.TelemetryEvent) {
	var mu sync.Mutex
	var accepted []model.TelemetryEvent
	cfg := &TelemetryConfig{
		Config: telemetry.Config{Sources: []telemetry.Source{{Name: "polar", Secret: testSecret}},
			MaxBody: 64 << 10, MaxReplay: maxReplay},
		Arms: func(name string) ([]string, bool) {
			if name == "greeting" {
				return []string{"warm", "neutral"}, true
			}
			return nil, false
		},
		Accepted: func(ev model.TelemetryEvent) {
			mu.Lock()
			accepted = append(accepted, ev)
			mu.Unlock()
		},
	}
	return New(Config{Token: token, Telemetry: cfg}, st, liveHealth, nil), &accepted
}

// signed returns the headers of a request from source with body signed now
// by secret.
func signed(source, secret, body string) map[string]string {
	ts, sig := telemetry.Sign(secret, time.Now(), []byte(body))
	return map[string]string{"Content-Type": "application/json", "X-LSIE-Source": source,
		"X-LSIE-Timestamp": ts, "X-LSIE-Signature": sig}
}

func batch(events ...string) string { return `{"events":[` + strings.Join(events, ",") + `]}` }

func physio(id string, at time.Time) string {
	return fmt.Sprintf(`{"id":%q,"kind":"physiology","stream_id":"cam1","time":%q,"subject":"streamer","rr_ms":[800,810]}`,
		id, at.Format(time.RFC3339Nano))
}

func telemetryExchanges(t *testing.T, token string) []exchange {
	st := newTestStore(t)
	full, _ := telemetryServer(st, token, 0)
	tiny, _ := telemetryServer(st, token, 1)
	none := New(Config{Token: token}, st, liveHealth, nil)
	broken, _ := telemetryServer(failingStore{st}, token, 0)
	auth := map[string]string{"Authorization": "Bearer " + token}
	good := batch(physio("ok-1", t0.Add(time.Second)))
	replayed := signed("polar", testSecret, good)
	mixed := batch(physio("ok-2", t0), `{"id":"bad","kind":"physiology","stream_id":"cam1","time":"yesterday","subject":"s","hr_bpm":60}`)
	const path = "/api/v1/telemetry"
	return []exchange{
		{"telemetry", full, "POST", path, replayed, good, 200},
		{"telemetry replayed", full, "POST", path, replayed, good, 409},
		{"telemetry mixed", full, "POST", path, signed("polar", testSecret, mixed), mixed, 422},
		{"telemetry not json", full, "POST", path, signed("polar", testSecret, `{"events":[}`), `{"events":[}`, 400},
		{"telemetry wrong secret", full, "POST", path, signed("polar", "not-the-secret-at-all", good), good, 401},
		{"telemetry unknown source", full, "POST", path, signed("fitbit", testSecret, good), good, 401},
		{"telemetry unsigned", full, "POST", path, jsonHeaders, good, 401},
		{"telemetry too large", full, "POST", path, signed("polar", testSecret, strings.Repeat(" ", 70000)), strings.Repeat(" ", 70000), 413},
		{"telemetry as text", full, "POST", path, map[string]string{"Content-Type": "text/plain"}, good, 415},
		{"telemetry replay cache full 1", tiny, "POST", path, signed("polar", testSecret, batch(physio("t-1", t0))), batch(physio("t-1", t0)), 200},
		{"telemetry replay cache full 2", tiny, "POST", path, signed("polar", testSecret, batch(physio("t-2", t0))), batch(physio("t-2", t0)), 429},
		{"telemetry not configured", none, "POST", path, signed("polar", testSecret, good), good, 503},
		{"telemetry store fails", broken, "POST", path, signed("polar", testSecret, good), good, 500},
		{"telemetry events", full, "GET", path + "/events?stream=cam1&kind=physiology&from=2025-01-01T00:00:00Z&limit=10", auth, "", 200},
		{"telemetry events bad kind", full, "GET", path + "/events?kind=heart", auth, "", 400},
		{"telemetry events bad time", full, "GET", path + "/events?from=yesterday", auth, "", 400},
		{"telemetry events no token", full, "GET", path + "/events", nil, "", 401},
		{"telemetry events broken", broken, "GET", path + "/events", auth, "", 500},
	}
}

func (failingStore) InsertTelemetry(context.Context, []model.TelemetryEvent) ([]model.TelemetryPlacement, error) {
	return nil, errDisk
}

func (failingStore) Telemetry(context.Context, model.TelemetryQuery) ([]model.TelemetryEvent, error) {
	return nil, errDisk
}

func postSigned(t *testing.T, s *Server, body string) (int, telemetryResponse) {
	t.Helper()
	rec := request(s.Handler(), http.MethodPost, "/api/v1/telemetry", "localhost", signed("polar", testSecret, body), body)
	var resp telemetryResponse
	if rec.Code == http.StatusOK || rec.Code == http.StatusUnprocessableEntity {
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatalf("status %d: %v: %s", rec.Code, err, rec.Body)
		}
	}
	return rec.Code, resp
}

// TestTelemetryBatchKeepsGoodEvents: a batch with bad events stores the
// good ones, reports every event in order with the field at fault, and a
// resend is all duplicates; events in a stored segment's window are late.
func TestTelemetryBatchKeepsGoodEvents(t *testing.T) {
	st := newTestStore(t)
	s, accepted := telemetryServer(st, "", 0)
	hostile := `Robert'); DROP TABLE telemetry;--`
	body := batch(
		physio("p-1", t0.Add(5*time.Second)), // in cam1's stored segment 0: late
		`{"id":"s-1","kind":"stimulus","stream_id":"cam1","time":"2025-03-14T15:09:40Z","experiment":"greeting","arm":"cold"}`,
		fmt.Sprintf(`{"id":"e-1","kind":"stream_event","stream_id":"cam1","time":"2099-01-01T00:00:00Z","type":"chat","payload":{"text":%q}}`, hostile),
		`{"id":"x-1","kind":"physiology","stream_id":"nope","time":"2025-03-14T15:09:40Z","subject":"s","hr_bpm":60}`,
	)
	code, resp := postSigned(t, s, body)
	if code != http.StatusUnprocessableEntity || resp.Accepted != 2 || resp.Rejected != 2 || resp.Duplicates != 0 {
		t.Fatalf("status %d, %+v", code, resp)
	}
	want := []struct{ status, field string }{{"accepted", ""}, {"rejected", "events[1].arm"}, {"accepted", ""}, {"rejected", "events[3].stream_id"}}
	for i, w := range want {
		if o := resp.Events[i]; o.Index != i || o.Status != w.status || o.Field != w.field {
			t.Errorf("event %d: %+v, want %s %s", i, o, w.status, w.field)
		}
	}
	if o := resp.Events[0]; o.Segment == nil || *o.Segment != 0 || !o.Late {
		t.Errorf("p-1 placement %+v: want late in segment 0", o)
	}
	if o := resp.Events[2]; o.Segment != nil || o.Late {
		t.Errorf("e-1 placement %+v: its segment has not closed", o)
	}
	stored, err := st.Telemetry(context.Background(), model.TelemetryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 2 || stored[0].ID != "p-1" || stored[1].ID != "e-1" || !strings.Contains(string(stored[1].Payload), "DROP TABLE") {
		t.Fatalf("stored %+v", stored)
	}
	if len(*accepted) != 2 || (*accepted)[0].Segment == nil {
		t.Errorf("published %+v", *accepted)
	}
	// Sent again (a new signature): nothing new.
	code, resp = postSigned(t, s, batch(physio("p-1", t0.Add(5*time.Second))))
	if code != http.StatusOK || resp.Duplicates != 1 || resp.Accepted != 0 || resp.Events[0].Status != "duplicate" {
		t.Errorf("resend: %d %+v", code, resp)
	}
	if len(*accepted) != 2 {
		t.Errorf("a duplicate was published: %+v", *accepted)
	}
}

// TestTelemetryRefusedStoresNothing: refused requests leave the store as
// it was.
func TestTelemetryRefusedStoresNothing(t *testing.T) {
	st := newTestStore(t)
	s, _ := telemetryServer(st, "", 0)
	good := batch(physio("p-9", t0))
	for name, headers := range map[string]map[string]string{
		"wrong secret": signed("polar", "some-other-secret-value", good),
		"unsigned":     jsonHeaders,
		"other body":   signed("polar", testSecret, batch(physio("p-8", t0))),
	} {
		rec := request(s.Handler(), http.MethodPost, "/api/v1/telemetry", "localhost", headers, good)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("%s: status %d: %s", name, rec.Code, rec.Body)
		}
	}
	evs, err := st.Telemetry(context.Background(), model.TelemetryQuery{})
	if err != nil || len(evs) != 0 {
		t.Errorf("stored %v, %v", evs, err)
	}
}

// TestTelemetryHostileText: SQL-looking text in the free-text fields (id,
// payload; subject and type are restricted to [A-Za-z0-9_.-], which
// refuses quotes and spaces) is stored verbatim and read back the same;
// the store's tables survive.
func TestTelemetryHostileText(t *testing.T) {
	st := newTestStore(t)
	s, _ := telemetryServer(st, "", 0)
	id := `1');DELETE_FROM_telemetry;--`
	subject := `x--.OR.1-1`
	typ := `drop.table--`
	payload := `{"q":"'; DROP TABLE segments; --","n":"\u0000"}`
	body := batch(
		fmt.Sprintf(`{"id":%q,"kind":"physiology","stream_id":"cam1","time":"2099-01-01T00:00:00Z","subject":%q,"hr_bpm":60}`, id, subject),
		fmt.Sprintf(`{"id":"b","kind":"stream_event","stream_id":"cam1","time":"2099-01-01T00:00:00Z","type":%q,"payload":%s}`, typ, payload),
	)
	if code, resp := postSigned(t, s, body); code != http.StatusOK || resp.Accepted != 2 {
		t.Fatalf("status %d %+v", code, resp)
	}
	evs, err := st.Telemetry(context.Background(), model.TelemetryQuery{})
	if err != nil || len(evs) != 2 {
		t.Fatalf("%v %+v", err, evs)
	}
	got := map[string]model.TelemetryEvent{evs[0].ID: evs[0], evs[1].ID: evs[1]}
	if got[id].Subject != subject || got["b"].Type != typ {
		t.Errorf("stored %+v", evs)
	}
	var p map[string]string
	if err := json.Unmarshal(got["b"].Payload, &p); err != nil || p["q"] != "'; DROP TABLE segments; --" || p["n"] != "\x00" {
		t.Errorf("payload %s: %v", got["b"].Payload, err)
	}
	if segs, err := st.Segments(context.Background(), "cam1", 0, 0); err != nil || len(segs) != 3 {
		t.Errorf("segments after hostile text: %d %v", len(segs), err)
	}
}
