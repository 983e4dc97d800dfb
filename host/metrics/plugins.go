package metrics

import (
	"context"
	"math"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
)

// PluginPrefix starts the name of every metric a plugin reports.
const PluginPrefix = "lsie_plugin_"

// Bounds on what one plugin adds to a scrape; the SDK keeps to the first,
// a plugin that does not is cut off, not trusted.
const (
	maxPluginFamilies = 64
	maxPluginSeries   = 4096
	pluginScrapeLimit = time.Second
)

var pluginMetricName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// PluginSource asks every running plugin for its metrics: by plugin name,
// each answered within ctx (a plugin that did not is left out).
type PluginSource func(ctx context.Context) map[string][]*pluginv1.MetricFamily

// pluginCollector exports plugins' own metrics (sdk.Metrics) at scrape
// time, as lsie_plugin_NAME{plugin, stream}. It is unchecked (describes
// nothing): the families are whatever the plugins report now.
type pluginCollector struct {
	source PluginSource
	log    hclog.Logger

	mu     sync.Mutex
	warned map[string]bool // plugin/metric clashes already logged
}

// RegisterPlugins adds the plugins' own metrics to the scrape.
func (m *Metrics) RegisterPlugins(source PluginSource, log hclog.Logger) {
	if m == nil {
		return
	}
	m.reg.MustRegister(&pluginCollector{source: source, log: log, warned: map[string]bool{}})
}

func (c *pluginCollector) Describe(chan<- *prometheus.Desc) {}

func (c *pluginCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), pluginScrapeLimit)
	defer cancel()
	byPlugin := c.source(ctx)
	names := make([]string, 0, len(byPlugin))
	for n := range byPlugin {
		names = append(names, n)
	}
	sort.Strings(names)
	// One family per name across plugins: the first plugin (by name) sets
	// its type and help; a plugin reporting the same name as another type
	// is left out (a scrape with inconsistent families fails whole).
	type kind struct {
		typ  pluginv1.MetricType
		desc *prometheus.Desc
	}
	kinds := map[string]kind{}
	for _, plugin := range names {
		series := 0
		for i, f := range byPlugin[plugin] {
			if i >= maxPluginFamilies || !pluginMetricName.MatchString(f.GetName()) {
				c.warnOnce(plugin, f.GetName(), "metric left out: bad name or too many metrics")
				continue
			}
			k, ok := kinds[f.GetName()]
			if !ok {
				k = kind{f.GetType(), prometheus.NewDesc(PluginPrefix+f.GetName(), helpOf(f), []string{"plugin", "stream"}, nil)}
				kinds[f.GetName()] = k
			} else if k.typ != f.GetType() {
				c.warnOnce(plugin, f.GetName(), "metric left out: another plugin reports it as another type")
				continue
			}
			for _, s := range f.GetMetrics() {
				if series++; series > maxPluginSeries {
					c.warnOnce(plugin, "", "metrics left out: too many series")
					break
				}
				if m, err := constMetric(k.desc, f, s, plugin); err == nil {
					ch <- m
				} else {
					c.warnOnce(plugin, f.GetName(), "metric left out: "+err.Error())
				}
			}
		}
	}
}

func helpOf(f *pluginv1.MetricFamily) string {
	if f.GetHelp() != "" {
		return f.GetHelp()
	}
	return "Plugin metric " + f.GetName() + " (no help given)."
}

func constMetric(desc *prometheus.Desc, f *pluginv1.MetricFamily, s *pluginv1.Metric, plugin string) (prometheus.Metric, error) {
	switch f.GetType() {
	case pluginv1.MetricType_METRIC_COUNTER:
		return prometheus.NewConstMetric(desc, prometheus.CounterValue, finite(s.GetValue()), plugin, s.GetStreamId())
	case pluginv1.MetricType_METRIC_GAUGE:
		return prometheus.NewConstMetric(desc, prometheus.GaugeValue, finite(s.GetValue()), plugin, s.GetStreamId())
	case pluginv1.MetricType_METRIC_HISTOGRAM:
		bounds, counts := f.GetBuckets(), s.GetBucketCounts()
		if len(bounds) != len(counts) {
			return nil, errBuckets
		}
		buckets := make(map[float64]uint64, len(bounds))
		for i, b := range bounds {
			buckets[b] = counts[i]
		}
		return prometheus.NewConstHistogram(desc, s.GetCount(), finite(s.GetSum()), buckets, plugin, s.GetStreamId())
	}
	return nil, errType
}

type metricError string

func (e metricError) Error() string { return string(e) }

const (
	errBuckets = metricError("bucket counts do not match the buckets")
	errType    = metricError("unknown metric type")
)

func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

func (c *pluginCollector) warnOnce(plugin, metric, msg string) {
	c.mu.Lock()
	key := plugin + "/" + metric + "/" + msg
	seen := c.warned[key]
	c.warned[key] = true
	c.mu.Unlock()
	if !seen && c.log != nil {
		c.log.Warn(msg, "plugin", plugin, "metric", metric)
	}
}
