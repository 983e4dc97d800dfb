package main

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/internal/testenv"
)

// A plugin's own metrics (sdk.Metrics) reach the host's /metrics with the
// labels plugin and stream, and leave it when the stream is removed.
func TestPluginMetricsOnHostMetrics(t *testing.T) {
	dir := t.TempDir()
	plugins := buildExamplePlugin(t, dir, "brightness")
	h := startHost(t, writeConfig(t, dir, fmt.Sprintf(`segment { duration = "1s" }
store { sqlite = %q }
api { listen = "127.0.0.1:0" }
stream "w" {
  source = "test://black?width=320&height=180&fps=10"
  plugin "brightness" { threshold = 60 }
}
`, filepath.Join(dir, "lsie.db"))), "--plugins", plugins)

	count := regexp.MustCompile(`(?m)^lsie_plugin_brightness_frame_seconds_count\{plugin="brightness",stream="w"\} (\d+)$`)
	dark := regexp.MustCompile(`(?m)^lsie_plugin_brightness_dark_frames_total\{plugin="brightness",stream="w"\} (\d+)$`)
	var body string
	scrape := func() string {
		resp, err := http.Get(h.base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	testenv.Eventually(t, time.Minute, "the plugin's metrics on /metrics", func() bool {
		body = scrape()
		m := count.FindStringSubmatch(body)
		n, _ := strconv.Atoi(func() string {
			if m == nil {
				return "0"
			}
			return m[1]
		}())
		return n >= 5
	})
	// A black source is dark at its centre: every frame counted.
	frames, _ := strconv.Atoi(count.FindStringSubmatch(body)[1])
	m := dark.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no dark-frame counter:\n%s", body)
	}
	if d, _ := strconv.Atoi(m[1]); d < frames-2 || d > frames+2 {
		t.Errorf("%d dark frames of %d measured", d, frames)
	}
	for _, want := range []string{
		"# HELP lsie_plugin_brightness_frame_seconds time to measure one frame",
		"# TYPE lsie_plugin_brightness_frame_seconds histogram",
		`lsie_plugin_brightness_frame_seconds_bucket{plugin="brightness",stream="w",le="0.01"}`,
		"# TYPE lsie_plugin_brightness_dark_frames_total counter",
	} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want)).MatchString(body) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// Removing the stream removes its series from the next scrapes.
	if code, out := h.doBody(t, "DELETE", "/api/v1/streams/w", "", nil); code != 204 {
		t.Fatalf("DELETE: %d %s", code, out)
	}
	testenv.Eventually(t, time.Minute, "the removed stream's series to leave /metrics", func() bool {
		return !count.MatchString(scrape())
	})
	h.stop(t)
}
