package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/lsie-mlf/lsie/host/metrics"
)

func init() {
	extraExchanges = append(extraExchanges, func(t *testing.T, token string) []exchange {
		return []exchange{
			{"metrics not available", New(Config{Token: token}, nil, liveHealth, nil), http.MethodGet, "/metrics", nil, "", 503},
		}
	})
	// The 200 is Prometheus text, which the exchange checker (JSON
	// schemas only) cannot validate; TestMetricsRoute checks it.
	extraUnreachable = append(extraUnreachable, "GET /metrics 200")
}

func TestMetricsRoute(t *testing.T) {
	m := metrics.New()
	m.PluginRestarts("face")
	m.SegmentsClosed("cam1", "complete")
	// A token is configured, yet scrapers need none.
	h := New(Config{Token: "tok", Metrics: m}, nil, liveHealth, nil).Handler()
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		rec := request(h, method, "/metrics", "localhost", nil, "")
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: status %d: %s", method, rec.Code, rec.Body)
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("%s: Content-Type %q", method, ct)
		}
		if method == http.MethodHead {
			continue
		}
		body := rec.Body.String()
		for _, line := range []string{
			`lsie_plugin_restarts_total{plugin="face"} 1`,
			`lsie_segments_closed_total{status="complete",stream="cam1"} 1`,
			"# HELP lsie_ws_clients ",
			"# TYPE lsie_plugin_restarts_total counter",
			"go_goroutines ",
		} {
			if !strings.Contains(body, line) {
				t.Errorf("scrape lacks %q", line)
			}
		}
	}
	// The guard applies as everywhere.
	if rec := request(h, http.MethodGet, "/metrics", "evil.example", nil, ""); rec.Code != http.StatusMisdirectedRequest {
		t.Errorf("wrong host: status %d", rec.Code)
	}
	// Any http.Handler serves; without one, 503.
	plain := New(Config{Metrics: m.Handler()}, nil, liveHealth, nil).Handler()
	if rec := request(plain, http.MethodGet, "/metrics", "localhost", nil, ""); rec.Code != http.StatusOK {
		t.Errorf("plain handler: status %d", rec.Code)
	}
	rec := request(New(Config{}, nil, liveHealth, nil).Handler(), http.MethodGet, "/metrics", "localhost", nil, "")
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("no metrics: status %d", rec.Code)
	}
	checkHeaders(t, rec)
}
