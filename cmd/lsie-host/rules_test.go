package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/telemetry"
	"github.com/lsie-mlf/lsie/internal/testenv"
)

// Rules through the host: a condition on the visual plugin's motion over
// the generated clip with known movement raises one alert per movement
// span, starting at the span's first analysed frame (± one frame interval)
// and ending after it; the alerts are stored, served and counted. A
// segment rule fires at segment close. config check names a misspelt field
// at its place in the expression.
func TestRulesThroughHost(t *testing.T) {
	dir := t.TempDir()
	moving := movingClip(t, dir)
	// A local receiver that checks each delivery's signature as the host's
	// own telemetry webhook would.
	const secret = "notify-secret-0123456789"
	verifier := telemetry.NewVerifier(telemetry.Config{Sources: []telemetry.Source{{Name: "lsie", Secret: secret}}}, time.Now)
	var mu sync.Mutex
	deliveries := map[string]int{}
	var bad []string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Header.Set(telemetry.HeaderSource, "lsie")
		mu.Lock()
		defer mu.Unlock()
		if _, err := verifier.Verify(r.Header, body); err != nil {
			bad = append(bad, err.Error())
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		deliveries[r.Header.Get("X-LSIE-Delivery")]++
	}))
	t.Cleanup(recv.Close)
	cfg := writeConfig(t, dir, fmt.Sprintf(`segment { duration = "2s" }
notifications {
  allow = ["http://127.0.0.1"]
}
notify "ops" {
  url       = "%s/hook"
  secret    = %q
  rules     = ["move*"]
  retry_min = "100ms"
}
store { sqlite = %q }
api { listen = "127.0.0.1:0" }
stream "moving" {
  source   = "file:%s"
  realtime = false
  plugin "visual" {}
}
rule "movement" {
  streams  = ["mov*"]
  when     = "visual.motion > 2.5"
  severity = "info"
  message  = "something moves"
}
rule "busy_segment" {
  when = "segment.visual.motion.max > 2.5"
}
`, recv.URL, secret, filepath.Join(dir, "lsie.db"), moving))
	if out, code := runHost(t, "config", "check", "--plugins", pluginDir(), cfg); code != 0 || !strings.Contains(out, "2 rules checked") {
		t.Fatalf("config check: exit %d\n%s", code, out)
	}
	h := startHost(t, cfg)
	h.waitStreams(t)

	var all struct {
		Alerts []model.Alert `json:"alerts"`
	}
	h.get(t, "/api/v1/alerts?rule=movement", &all)
	if len(all.Alerts) != len(moveSpans) {
		t.Fatalf("%d movement alerts, want %d: %+v", len(all.Alerts), len(moveSpans), all.Alerts)
	}
	frame := 200 * time.Millisecond // analysis at 5 fps
	for i, a := range all.Alerts {
		span := moveSpans[i]
		if a.StreamID != "moving" || a.Severity != "info" || a.Message != "something moves" || a.End == nil ||
			a.Start < span[0] || a.Start > span[0]+frame || *a.End <= span[1] || *a.End > span[1]+2*frame ||
			a.WallStart.IsZero() || a.WallEnd == nil || a.Values["visual.motion"] == nil {
			t.Errorf("alert %d for movement %v–%v: %+v", i, span[0], span[1], a)
		}
	}
	var seg struct {
		Alerts []model.Alert `json:"alerts"`
	}
	h.get(t, "/api/v1/alerts?rule=busy_segment&stream=moving", &seg)
	// Segments 1 (2–4 s), 2 (4–6 s) and 4 (8–10 s) hold movement: one
	// alert over 2–6 s, one over 8–10 s (ended with the stream).
	if len(seg.Alerts) != 2 || seg.Alerts[0].Start != 2*time.Second || seg.Alerts[0].End == nil || *seg.Alerts[0].End != 6*time.Second ||
		seg.Alerts[1].Start != 8*time.Second || seg.Alerts[1].End == nil || *seg.Alerts[1].End != 10*time.Second {
		t.Errorf("segment alerts %+v", seg.Alerts)
	}
	resp, err := http.Get(h.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `lsie_alerts_total{rule="movement",severity="info",stream="moving"} 3`; !strings.Contains(string(body), want) {
		t.Errorf("/metrics lacks %s", want)
	}
	// Each movement alert's start and end reached the receiver, signed,
	// exactly once; the segment rule's did not (rules = ["move*"]).
	testenv.Eventually(t, time.Minute, "6 deliveries", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(deliveries) == 6
	})
	mu.Lock()
	for _, a := range all.Alerts {
		for _, ev := range []string{"alert_start", "alert_end"} {
			if n := deliveries[a.ID+"/"+ev]; n != 1 {
				t.Errorf("%s/%s delivered %d times", a.ID, ev, n)
			}
		}
	}
	if len(bad) > 0 || len(deliveries) != 6 {
		t.Errorf("deliveries %v, refused %v", deliveries, bad)
	}
	mu.Unlock()

	// A misspelt field, named at its place in the expression.
	badCfg := filepath.Join(dir, "bad.hcl")
	src := strings.Replace(string(must(os.ReadFile(cfg))), "visual.motion > 2.5", "visual.motin > 2.5", 1)
	if err := os.WriteFile(badCfg, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := runHost(t, "config", "check", "--plugins", pluginDir(), badCfg)
	if want := `bad.hcl:20:22: rule "movement": when: undeclared field "visual.motin" (did you mean motion?)`; code == 0 || !strings.Contains(out, want) {
		t.Errorf("config check of a misspelt field: exit %d\n%s\nwant %s", code, out, want)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// Rules through the API and SIGHUP, on a live stream that keeps running:
// PUT adds a rule (compiled first: a misspelt field is 422 naming it),
// its alert opens; DELETE ends it; a rule added through the API survives a
// restart; a SIGHUP brings in the file's new rule; the file's rules cannot
// be changed through the API.
func TestRulesThroughAPI(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "lsie.db")
	base := fmt.Sprintf(`segment { duration = "1s" }
store { sqlite = %q }
api { listen = "127.0.0.1:0" }
stream "live" {
  source   = "test://ball?width=160&height=120"
  realtime = true
  plugin "visual" {}
}
`, db)
	cfg := writeConfig(t, dir, base)
	h := startHost(t, cfg)
	h.waitSegments(t, "live", 1)
	type rules struct {
		Rules []struct{ Name, Origin, When string } `json:"rules"`
	}
	alerts := func(rule string) []model.Alert {
		var out struct {
			Alerts []model.Alert `json:"alerts"`
		}
		h.get(t, "/api/v1/alerts?rule="+rule, &out)
		return out.Alerts
	}
	code, body := h.doBody(t, "PUT", "/api/v1/rules/moving", "", []byte(`{"when":"visual.motin > 0.1","severity":"info"}`))
	if code != http.StatusUnprocessableEntity || !strings.Contains(string(body), `undeclared field \"visual.motin\" (did you mean motion?)`) {
		t.Fatalf("misspelt rule: %d %s", code, body)
	}
	if code, body := h.doBody(t, "PUT", "/api/v1/rules/moving", "", []byte(`{"when":"visual.motion > 0.1","severity":"info"}`)); code != http.StatusOK {
		t.Fatalf("PUT rule: %d %s", code, body)
	}
	testenv.Eventually(t, time.Minute, "the API rule's alert", func() bool { return len(alerts("moving")) == 1 })
	if code := h.do(t, "DELETE", "/api/v1/rules/moving", "", nil); code != http.StatusNoContent {
		t.Fatalf("DELETE rule: %d", code)
	}
	testenv.Eventually(t, time.Minute, "the removed rule's alert to end", func() bool {
		a := alerts("moving")
		return len(a) == 1 && a[0].End != nil
	})
	if code := h.do(t, "DELETE", "/api/v1/rules/moving", "", nil); code != http.StatusNotFound {
		t.Errorf("DELETE again: %d, want 404", code)
	}
	// Stored: back after a restart.
	if code, body := h.doBody(t, "PUT", "/api/v1/rules/kept", "", []byte(`{"when":"visual.brightness >= 0.0"}`)); code != http.StatusOK {
		t.Fatalf("PUT kept: %d %s", code, body)
	}
	h.stop(t)
	h = startHost(t, cfg)
	var rs rules
	h.get(t, "/api/v1/rules", &rs)
	if len(rs.Rules) != 1 || rs.Rules[0].Name != "kept" || rs.Rules[0].Origin != "api" {
		t.Fatalf("after a restart: %+v", rs)
	}
	// SIGHUP: the file's new rule joins; the file's rules are the file's.
	writeConfig(t, dir, base+`rule "bright" {
  when = "visual.brightness > 0"
}
`)
	_ = h.cmd.Process.Signal(syscall.SIGHUP)
	testenv.Eventually(t, time.Minute, "the file's rule after SIGHUP", func() bool {
		h.get(t, "/api/v1/rules", &rs)
		return len(rs.Rules) == 2 && rs.Rules[0].Name == "bright" && rs.Rules[0].Origin == "file"
	})
	testenv.Eventually(t, time.Minute, "the file rule's alert", func() bool { return len(alerts("bright")) == 1 })
	if code := h.do(t, "PUT", "/api/v1/rules/bright", "", []byte(`{"when":"true"}`)); code != http.StatusConflict {
		t.Errorf("PUT over the file's rule: %d, want 409", code)
	}
	if code := h.do(t, "DELETE", "/api/v1/rules/bright", "", nil); code != http.StatusConflict {
		t.Errorf("DELETE the file's rule: %d, want 409", code)
	}
}
