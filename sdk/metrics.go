package sdk

import (
	"github.com/lsie-mlf/lsie/sdk/internal/metrics"
)

// Metrics makes a plugin's own metrics: counters, gauges and histograms
// that the host exports on its /metrics as lsie_plugin_NAME with the labels
// plugin and stream (a model's inference time, a tracker's live tracks).
// StreamInfo.Metrics labels its series with the stream; ProcessMetrics with
// stream "". The label set is fixed on purpose: a plugin cannot multiply
// the host's series. Names are [a-z][a-z0-9_]*, at most 64 bytes, at most
// 64 metrics per plugin; a name registered twice must keep its kind (and
// buckets). A bad name or a clash is logged and gives a metric that
// records nothing, so a metrics mistake never stops the plugin.
//
// Get each metric once (in OpenStream) and keep it; its methods are safe
// for concurrent use and cost a mutex. A stream's series leave the scrape
// when the stream closes.
type Metrics struct{ stream string }

// ProcessMetrics returns the process-wide metrics (label stream="").
func ProcessMetrics() Metrics { return Metrics{} }

// Counter only goes up (requests, frames dropped by the model).
type Counter struct{ s *metrics.Series }

// Gauge goes up and down (queue depth, live tracks).
type Gauge struct{ s *metrics.Series }

// Histogram counts values into buckets (inference seconds).
type Histogram struct{ s *metrics.Series }

// DefaultBuckets are the histogram buckets Histogram uses when given none:
// seconds, 1 ms to 10 s.
var DefaultBuckets = append([]float64(nil), metrics.DefaultBuckets...)

// Counter returns the counter name.
func (m Metrics) Counter(name, help string) *Counter {
	return &Counter{m.get(name, help, metrics.Counter, nil)}
}

// Gauge returns the gauge name.
func (m Metrics) Gauge(name, help string) *Gauge {
	return &Gauge{m.get(name, help, metrics.Gauge, nil)}
}

// Histogram returns the histogram name with upper bounds buckets
// (ascending, at most 32; nil: DefaultBuckets).
func (m Metrics) Histogram(name, help string, buckets []float64) *Histogram {
	return &Histogram{m.get(name, help, metrics.Histogram, buckets)}
}

func (m Metrics) get(name, help string, kind metrics.Kind, buckets []float64) *metrics.Series {
	s, err := metrics.Default.Get(name, help, kind, buckets, m.stream)
	if err != nil {
		Logger().Error("metric refused: it records nothing", "error", err)
	}
	return s
}

// Inc adds 1.
func (c *Counter) Inc() { c.s.Add(1) }

// Add adds v (v >= 0; a negative or non-finite v is ignored).
func (c *Counter) Add(v float64) { c.s.Add(v) }

// Set sets the gauge (a non-finite v is ignored).
func (g *Gauge) Set(v float64) { g.s.Set(v) }

// Add adds v, which may be negative.
func (g *Gauge) Add(v float64) { g.s.Add(v) }

// Observe records v (a non-finite v is ignored).
func (h *Histogram) Observe(v float64) { h.s.Observe(v) }
