package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/telemetry"
)

// postTelemetry signs body as source, now, and posts it.
func (h *runningHost) postTelemetry(t *testing.T, source, secret, body string) (int, []byte) {
	t.Helper()
	return h.postTelemetryAt(t, source, secret, body, time.Now())
}

// postTelemetryAt signs body with the timestamp at and posts it.
func (h *runningHost) postTelemetryAt(t *testing.T, source, secret, body string, at time.Time) (int, []byte) {
	t.Helper()
	code, b, err := h.signedPost(source, secret, body, at)
	if err != nil {
		t.Fatal(err)
	}
	return code, b
}

// signedPost posts body to the telemetry webhook signed by secret at at;
// it returns an error rather than failing, for callers on other goroutines.
func (h *runningHost) signedPost(source, secret, body string, at time.Time) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, h.base+"/api/v1/telemetry", strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	ts, sig := telemetry.Sign(secret, at, []byte(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-LSIE-Source", source)
	req.Header.Set("X-LSIE-Timestamp", ts)
	req.Header.Set("X-LSIE-Signature", sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

type wsMessage struct {
	Type   string          `json:"type"`
	Stream string          `json:"stream"`
	Plugin string          `json:"plugin"`
	Data   json.RawMessage `json:"data"`
}

// TestTelemetryThroughHost runs a live test source in 1 s segments with a
// token, a telemetry source and an experiment, and checks the whole path:
// a WebSocket client authenticated by its first message sees results,
// segment_closed and telemetry; events for the open segment are placed
// when it closes (not late), events for a closed one are attached late;
// a stimulus marker becomes an arm outcome; enrichment results and the
// segment's analytics are stored; /metrics counts it all; a bad event is
// refused naming its field while its batch's good event is kept.
func TestTelemetryThroughHost(t *testing.T) {
	const (
		token  = "telemetry-e2e-token"
		secret = "telemetry-e2e-secret-value"
	)
	dir := t.TempDir()
	h := startHost(t, writeConfig(t, dir, fmt.Sprintf(`segment {
  duration = "1s"
  max_close_delay = "5s"
}
store { sqlite = %q }
api {
  listen = "127.0.0.1:0"
  token  = %q
}
telemetry {
  source "polar" {
    secret = %q
    stream = "cam"
  }
}
analytics {
  physiology { min_intervals = 3 }
}
experiment "greeting" { arms = ["warm", "neutral"] }
stream "cam" {
  source = "test://ball?width=160&height=120&fps=10"
  video { fps = 5 }
  plugin "visual" {}
}
`, filepath.Join(dir, "lsie.db"), token, secret)))
	h.token = token

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, strings.Replace(h.base, "http", "ws", 1)+"/api/v1/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	send := func(v any) {
		b, _ := json.Marshal(v)
		if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
			t.Fatal(err)
		}
	}
	send(map[string]any{"type": "auth", "token": token})
	send(map[string]any{"type": "subscribe", "streams": []string{"cam"}})
	seen := map[string]int{}
	var closed []wsMessage
	read := func(until func() bool) {
		t.Helper()
		for !until() {
			_, b, err := ws.Read(ctx)
			if err != nil {
				t.Fatalf("websocket: %v (seen %v)", err, seen)
			}
			var m wsMessage
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("websocket message %s: %v", b, err)
			}
			seen[m.Type]++
			if m.Type == "segment_closed" {
				closed = append(closed, m)
			}
		}
	}
	read(func() bool { return seen["ready"] == 1 && len(closed) >= 3 && seen["result"] > 0 })

	var first model.Segment
	if err := json.Unmarshal(closed[0].Data, &first); err != nil {
		t.Fatal(err)
	}
	// One event in a closed segment (late), one two segments ahead (media
	// time leads the wall clock a little, so "now" may already be closed),
	// a stimulus marker with it, and a bad one.
	past := first.WallStart.Add(500 * time.Millisecond)
	now := time.Now().UTC().Add(2 * time.Second)
	events := fmt.Sprintf(`{"events":[
{"id":"late-1","kind":"physiology","time":%q,"subject":"streamer","rr_ms":[800,810,790,805]},
{"id":"now-1","kind":"physiology","time":%q,"subject":"streamer","rr_ms":[800,810,790,805],"payload":{"device":"H10"}},
{"id":"stim-1","kind":"stimulus","time":%q,"experiment":"greeting","arm":"warm"},
{"id":"bad-1","kind":"stream_event","time":%q,"type":"Chat Message"}
]}`, past.Format(time.RFC3339Nano), now.Format(time.RFC3339Nano), now.Format(time.RFC3339Nano), now.Format(time.RFC3339Nano))
	// Signed once: the replay below must be the very same request, whatever
	// second the clock has reached by then on a loaded machine.
	signedAt := time.Now()
	code, body := h.postTelemetryAt(t, "polar", secret, events, signedAt)
	if code != http.StatusUnprocessableEntity {
		t.Fatalf("telemetry: %d %s", code, body)
	}
	var res struct {
		Accepted, Rejected int
		Events             []struct {
			ID, Status, Field string
			Segment           *int64
			Late              bool
		}
	}
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 3 || res.Rejected != 1 || res.Events[3].Field != "events[3].type" {
		t.Fatalf("outcome %s", body)
	}
	if e := res.Events[0]; e.Segment == nil || *e.Segment != first.Index || !e.Late {
		t.Errorf("late-1 %+v: want late in segment %d", e, first.Index)
	}
	if e := res.Events[1]; e.Late {
		t.Errorf("now-1 %+v: its segment is open, it cannot be late", e)
	}
	// The same request again is a replay (409); the same batch signed
	// anew is all duplicates, nothing new; a bad signature is 401.
	if code, body := h.postTelemetryAt(t, "polar", secret, events, signedAt); code != http.StatusConflict {
		t.Errorf("replay: %d %s", code, body)
	}
	if code, body := h.postTelemetryAt(t, "polar", secret, events, signedAt.Add(2*time.Second)); code != http.StatusUnprocessableEntity || !bytes.Contains(body, []byte(`"duplicates":3`)) {
		t.Errorf("resend: %d %s", code, body)
	}
	if code, _ := h.postTelemetry(t, "polar", "wrong-secret-wrong-secret", events); code != http.StatusUnauthorized {
		t.Errorf("wrong secret: %d", code)
	}
	read(func() bool { return seen["telemetry"] >= 3 })

	// The event for the open segment is placed, not late, once it closes.
	var placed model.Segment
	deadline := time.Now().Add(30 * time.Second)
	for {
		var evs struct{ Events []model.TelemetryEvent }
		h.get(t, "/api/v1/telemetry/events?stream=cam&kind=physiology", &evs)
		if len(evs.Events) == 2 && evs.Events[1].Segment != nil {
			if evs.Events[1].ID != "now-1" || evs.Events[1].Late || evs.Events[0].ID != "late-1" || !evs.Events[0].Late {
				t.Fatalf("placement %+v", evs.Events)
			}
			if code := h.get(t, fmt.Sprintf("/api/v1/segments/cam/%d", *evs.Events[1].Segment), &placed); code != 200 {
				t.Fatalf("segment: %d", code)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("now-1 never placed: %+v", evs.Events)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(placed.Telemetry) != 2 || placed.Analytics == nil || len(placed.Analytics.Physiology) != 1 ||
		placed.Analytics.Physiology[0].Subject != "streamer" {
		t.Errorf("segment %d: telemetry %+v analytics %+v", placed.Index, placed.Telemetry, placed.Analytics)
	}
	// Enrichment runs after the segment is stored: wait for it.
	deadline = time.Now().Add(30 * time.Second)
	for len(placed.Enrichment) < 3 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		h.get(t, fmt.Sprintf("/api/v1/segments/cam/%d", placed.Index), &placed)
	}
	kinds := map[string]model.Enrichment{}
	for _, e := range placed.Enrichment {
		kinds[e.Kind] = e
	}
	if st, ok := kinds["stats"]; !ok || st.Status != "ok" || !bytes.Contains(st.Result, []byte(`"physiology":`)) {
		t.Errorf("enrichment %+v", placed.Enrichment)
	}

	var exps struct {
		Experiments []struct {
			Name    string
			Markers int
			Arms    []struct {
				Arm      string
				N        int
				NoReward int `json:"no_reward"`
			}
		}
	}
	h.get(t, "/api/v1/operator/experiments", &exps)
	if len(exps.Experiments) != 1 || exps.Experiments[0].Markers != 1 || exps.Experiments[0].Arms[0].Arm != "warm" ||
		exps.Experiments[0].Arms[0].NoReward != 1 {
		t.Errorf("experiments %+v", exps)
	}

	resp, err := http.Get(h.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`lsie_telemetry_events_total{outcome="late",source="polar"} 1`,
		`lsie_telemetry_events_total{outcome="accepted",source="polar"} 2`,
		`lsie_telemetry_events_total{outcome="rejected",source="polar"} 2`,
		`lsie_telemetry_events_total{outcome="duplicate",source="polar"} 3`,
		`lsie_segments_closed_total{status="complete",stream="cam"}`,
		`lsie_slot_to_result_seconds_count{plugin="visual",stream="cam"}`,
		`lsie_capture_to_slot_seconds_count{stream="cam"}`,
		`lsie_close_to_stored_seconds_count{stream="cam"}`,
	} {
		if !bytes.Contains(metrics, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	h.stop(t)
}
