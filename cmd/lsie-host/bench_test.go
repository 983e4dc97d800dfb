package main

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
)

// BenchmarkPluginRecovery measures crash → first result after the restart:
// a live 10 fps stream whose plugin exits every 40 frames, for 30 s. The
// default policy doubles the backoff from 100 ms and gives up after five
// crashes a minute, so this sees four restarts at 100, 200, 400, 800 ms.
// Run: go test -run XXX -bench PluginRecovery -benchtime 1x ./cmd/lsie-host/
func BenchmarkPluginRecovery(b *testing.B) {
	for b.Loop() {
		dir := b.TempDir()
		cfg := writeConfig(b, dir, fmt.Sprintf(`segment { duration = "1s" }
store { sqlite = %q }
api { listen = "127.0.0.1:0" }
stream "live" {
  source = "test://ball?width=320&height=240&fps=30"
  video { fps = 10 }
  plugin "faultplugin" { crash_every = "40" }
}
`, filepath.Join(dir, "lsie.db")))
		h := startHost(b, cfg)
		time.Sleep(30 * time.Second)
		var hh model.HostHealth
		h.get(b, "/api/v1/health", &hh)
		h.stop(b)
		for _, c := range hh.Components {
			if c.Kind == "stream" {
				k := c.Counters
				b.ReportMetric(float64(k["plugin.faultplugin.recovery_p50_ns"])/1e6, "recovery-p50-ms")
				b.ReportMetric(float64(k["plugin.faultplugin.recovery_p99_ns"])/1e6, "recovery-p99-ms")
				b.ReportMetric(float64(k["plugin.faultplugin.recoveries"]), "recoveries")
			}
		}
	}
}
