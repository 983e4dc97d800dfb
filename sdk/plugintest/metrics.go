package plugintest

import (
	"context"
	"time"

	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
)

// Metric is one series of the plugin's own metrics (sdk.Metrics) as the
// host scrapes it: a counter's or gauge's Value, or a histogram's Count and
// Sum with its cumulative Buckets (upper bound → count).
type Metric struct {
	Value      float64
	Count      uint64
	Sum        float64
	Buckets    map[float64]uint64
	Kind, Help string // "counter", "gauge" or "histogram"
}

// Metrics asks the plugin for its metrics, as the host does at each
// scrape, keyed by name and then stream id ("" for ProcessMetrics).
func (h *Harness) Metrics() map[string]map[string]Metric {
	h.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := h.rpc.Metrics(ctx, &pluginv1.MetricsRequest{})
	if err != nil {
		h.tb.Fatalf("Metrics: %v", err)
	}
	out := map[string]map[string]Metric{}
	for _, f := range resp.GetFamilies() {
		byStream := map[string]Metric{}
		for _, m := range f.GetMetrics() {
			v := Metric{Value: m.GetValue(), Count: m.GetCount(), Sum: m.GetSum(), Help: f.GetHelp(),
				Kind: map[pluginv1.MetricType]string{pluginv1.MetricType_METRIC_COUNTER: "counter",
					pluginv1.MetricType_METRIC_GAUGE: "gauge", pluginv1.MetricType_METRIC_HISTOGRAM: "histogram"}[f.GetType()]}
			if len(f.GetBuckets()) > 0 {
				v.Buckets = map[float64]uint64{}
				for i, b := range f.GetBuckets() {
					if i < len(m.GetBucketCounts()) {
						v.Buckets[b] = m.GetBucketCounts()[i]
					}
				}
			}
			byStream[m.GetStreamId()] = v
		}
		out[f.GetName()] = byStream
	}
	return out
}
