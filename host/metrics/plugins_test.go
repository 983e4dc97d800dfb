package metrics

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
)

// Plugins' metrics become lsie_plugin_NAME{plugin, stream}; what would make
// the scrape invalid (a name two plugins report as different types, bad
// names, mismatched histogram buckets) is left out, and the rest stays.
func TestPluginMetricsCollected(t *testing.T) {
	var logs strings.Builder
	m := New()
	m.RegisterPlugins(func(context.Context) map[string][]*pluginv1.MetricFamily {
		return map[string][]*pluginv1.MetricFamily{
			"alpha": {
				{Name: "infer_seconds", Help: "inference", Type: pluginv1.MetricType_METRIC_HISTOGRAM, Buckets: []float64{0.1, 1},
					Metrics: []*pluginv1.Metric{{StreamId: "cam1", BucketCounts: []uint64{2, 3}, Count: 4, Sum: 5.5}}},
				{Name: "tracks", Type: pluginv1.MetricType_METRIC_GAUGE, Metrics: []*pluginv1.Metric{{StreamId: "cam1", Value: 3}, {Value: 1}}},
				{Name: "Bad-Name", Type: pluginv1.MetricType_METRIC_GAUGE, Metrics: []*pluginv1.Metric{{Value: 1}}},
				{Name: "broken", Type: pluginv1.MetricType_METRIC_HISTOGRAM, Buckets: []float64{1},
					Metrics: []*pluginv1.Metric{{BucketCounts: []uint64{1, 2}}}},
			},
			"beta": {
				{Name: "tracks", Type: pluginv1.MetricType_METRIC_COUNTER, Metrics: []*pluginv1.Metric{{StreamId: "cam2", Value: 9}}},
				{Name: "requests_total", Type: pluginv1.MetricType_METRIC_COUNTER, Metrics: []*pluginv1.Metric{{StreamId: "cam2", Value: 7}}},
			},
		}
	}, hclog.New(&hclog.LoggerOptions{Output: &logs}))

	want := `# HELP lsie_plugin_infer_seconds inference
# TYPE lsie_plugin_infer_seconds histogram
lsie_plugin_infer_seconds_bucket{plugin="alpha",stream="cam1",le="0.1"} 2
lsie_plugin_infer_seconds_bucket{plugin="alpha",stream="cam1",le="1"} 3
lsie_plugin_infer_seconds_bucket{plugin="alpha",stream="cam1",le="+Inf"} 4
lsie_plugin_infer_seconds_sum{plugin="alpha",stream="cam1"} 5.5
lsie_plugin_infer_seconds_count{plugin="alpha",stream="cam1"} 4
# HELP lsie_plugin_requests_total Plugin metric requests_total (no help given).
# TYPE lsie_plugin_requests_total counter
lsie_plugin_requests_total{plugin="beta",stream="cam2"} 7
# HELP lsie_plugin_tracks Plugin metric tracks (no help given).
# TYPE lsie_plugin_tracks gauge
lsie_plugin_tracks{plugin="alpha",stream=""} 1
lsie_plugin_tracks{plugin="alpha",stream="cam1"} 3
`
	if err := testutil.GatherAndCompare(m.Gatherer(), strings.NewReader(want),
		"lsie_plugin_infer_seconds", "lsie_plugin_requests_total", "lsie_plugin_tracks", "lsie_plugin_broken", "lsie_plugin_Bad-Name"); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{`plugin=beta metric=tracks`, `plugin=alpha metric=Bad-Name`, `plugin=alpha metric=broken`} {
		if !strings.Contains(logs.String(), w) {
			t.Errorf("log lacks %q:\n%s", w, logs.String())
		}
	}
}
