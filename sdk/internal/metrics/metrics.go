// Package metrics is the plugin process's registry of its own metrics
// (sdk.Metrics): counters, gauges and histograms, each series labelled by
// the stream it belongs to ("" for the process). The SDK's server answers
// the host's Metrics call with a snapshot; the host exports it on its
// /metrics with the labels plugin and stream (docs/PLUGIN_SDK.md
// "Metrics").
package metrics

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"sort"
	"sync"

	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
)

// Kind is a family's type.
type Kind int

// Kinds of family.
const (
	Counter Kind = iota
	Gauge
	Histogram
)

func (k Kind) String() string { return [...]string{"counter", "gauge", "histogram"}[k] }

// Bounds keep what a plugin reports small: its metrics travel on every
// scrape and become host series.
const (
	MaxFamilies = 64
	MaxBuckets  = 32
	MaxNameLen  = 64
)

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// DefaultBuckets suit a model's inference time in seconds (1 ms to 10 s).
var DefaultBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Registry holds families by name. Safe for concurrent use.
type Registry struct {
	mu       sync.Mutex
	families map[string]*family
}

// Default is the process's registry: one plugin process, one set.
var Default = New()

// New returns an empty registry.
func New() *Registry { return &Registry{families: map[string]*family{}} }

type family struct {
	name, help string
	kind       Kind
	buckets    []float64
	series     map[string]*Series // by stream id
}

// Series is one stream's values of a family.
type Series struct {
	mu      sync.Mutex
	kind    Kind
	value   float64 // counter, gauge
	counts  []uint64
	buckets []float64
	count   uint64
	sum     float64
}

// Get returns stream's series of the family name, creating both as needed.
// A bad name, a family already registered with another kind or other
// buckets, or one past MaxFamilies is an error (the caller gets a series
// that records nothing).
func (r *Registry) Get(name, help string, kind Kind, buckets []float64, stream string) (*Series, error) {
	if len(name) > MaxNameLen || !nameRE.MatchString(name) {
		return nil, fmt.Errorf("metric %q: a name is [a-z][a-z0-9_]*, at most %d bytes", name, MaxNameLen)
	}
	if kind == Histogram {
		if buckets == nil {
			buckets = DefaultBuckets
		}
		if len(buckets) == 0 || len(buckets) > MaxBuckets || !slices.IsSorted(buckets) ||
			slices.ContainsFunc(buckets, func(b float64) bool { return math.IsNaN(b) || math.IsInf(b, 0) }) {
			return nil, fmt.Errorf("metric %q: 1 to %d finite buckets in ascending order, got %v", name, MaxBuckets, buckets)
		}
		buckets = slices.Compact(slices.Clone(buckets))
	} else {
		buckets = nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.families[name]
	if f == nil {
		if len(r.families) >= MaxFamilies {
			return nil, fmt.Errorf("metric %q: at most %d metrics per plugin", name, MaxFamilies)
		}
		f = &family{name: name, help: help, kind: kind, buckets: buckets, series: map[string]*Series{}}
		r.families[name] = f
	} else if f.kind != kind || !slices.Equal(f.buckets, buckets) {
		return nil, fmt.Errorf("metric %q: registered already as a %s with buckets %v", name, f.kind, f.buckets)
	}
	s := f.series[stream]
	if s == nil {
		s = &Series{kind: kind, buckets: f.buckets}
		if kind == Histogram {
			s.counts = make([]uint64, len(f.buckets))
		}
		f.series[stream] = s
	}
	return s, nil
}

// Add adds v to a counter (v >= 0) or a gauge. Non-finite values and a
// counter's negative ones are ignored: a scrape must stay valid.
func (s *Series) Add(v float64) {
	if s == nil || math.IsNaN(v) || math.IsInf(v, 0) || (s.kind == Counter && v < 0) {
		return
	}
	s.mu.Lock()
	s.value += v
	s.mu.Unlock()
}

// Set sets a gauge.
func (s *Series) Set(v float64) {
	if s == nil || s.kind != Gauge || math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	s.mu.Lock()
	s.value = v
	s.mu.Unlock()
}

// Observe records one value of a histogram.
func (s *Series) Observe(v float64) {
	if s == nil || s.kind != Histogram || math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	i := sort.SearchFloat64s(s.buckets, v) // first bucket with bound >= v
	s.mu.Lock()
	if i < len(s.counts) {
		s.counts[i]++
	}
	s.count++
	s.sum += v
	s.mu.Unlock()
}

// DropStream forgets every series of stream: a closed stream's values leave
// the next scrape rather than stay frozen in it.
func (r *Registry) DropStream(stream string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.families {
		delete(f.series, stream)
	}
}

// Snapshot is the registry on the wire, families and series in name order;
// histogram bucket counts are cumulative.
func (r *Registry) Snapshot() []*pluginv1.MetricFamily {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*pluginv1.MetricFamily, 0, len(r.families))
	for _, name := range slices.Sorted(maps.Keys(r.families)) {
		f := r.families[name]
		pf := &pluginv1.MetricFamily{Name: f.name, Help: f.help, Type: pluginv1.MetricType(f.kind), Buckets: f.buckets}
		for _, stream := range slices.Sorted(maps.Keys(f.series)) {
			s := f.series[stream]
			m := &pluginv1.Metric{StreamId: stream}
			s.mu.Lock()
			m.Value, m.Count, m.Sum = s.value, s.count, s.sum
			var cum uint64
			for _, c := range s.counts {
				cum += c
				m.BucketCounts = append(m.BucketCounts, cum)
			}
			s.mu.Unlock()
			pf.Metrics = append(pf.Metrics, m)
		}
		out = append(out, pf)
	}
	return out
}
