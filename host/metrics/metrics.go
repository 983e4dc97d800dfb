// Package metrics holds the host's Prometheus metrics: latencies along the
// capture → plugin → segment → store path, queue depths, drops, restarts and
// the API's live clients. The host calls the typed methods; Handler serves
// the text exposition for /metrics.
//
// Metrics live in their own Registry, not the global one, so two hosts in
// one process (tests) do not collide and nothing a library registers
// globally leaks into the scrape.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// LatencyBuckets are the histogram buckets in seconds, from 100 µs (a slot
// handed over in memory) to 30 s (a segment stuck behind a slow store).
var LatencyBuckets = []float64{
	0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005,
	0.01, 0.025, 0.05,
	0.1, 0.25, 0.5,
	1, 2.5, 5,
	10, 30,
}

// Outcomes of TelemetryEvents.
const (
	OutcomeAccepted  = "accepted"
	OutcomeDuplicate = "duplicate"
	OutcomeRejected  = "rejected"
	OutcomeLate      = "late"
)

// Metrics is the host's metric set. Its methods are safe for concurrent
// use. Its recording methods (all but Handler, ServeHTTP, Registerer and
// Gatherer) may be called on a nil *Metrics and then record nothing, so
// code paths can take one unconditionally.
type Metrics struct {
	reg     *prometheus.Registry
	handler http.Handler

	captureToSlot   *prometheus.HistogramVec
	slotToResult    *prometheus.HistogramVec
	closeToStored   *prometheus.HistogramVec
	queueDepth      *prometheus.GaugeVec
	framesDropped   *prometheus.CounterVec
	audioDropped    *prometheus.CounterVec
	textDropped     *prometheus.CounterVec
	framesGated     *prometheus.CounterVec
	alerts          *prometheus.CounterVec
	pluginRestarts  *prometheus.CounterVec
	segmentsClosed  *prometheus.CounterVec
	telemetryEvents *prometheus.CounterVec
	enrichmentJobs  *prometheus.CounterVec
	wsClients       prometheus.Gauge
	wsDropped       prometheus.Counter

	// byStream are the vectors with a stream label, for Forget.
	byStream []interface {
		DeletePartialMatch(prometheus.Labels) int
	}
}

// New builds the metric set in a fresh Registry with the Go runtime and
// process collectors.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	hist := func(name, help string, labels ...string) *prometheus.HistogramVec {
		h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "lsie", Name: name, Help: help, Buckets: LatencyBuckets}, labels)
		f(h)
		return h
	}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "lsie", Name: name, Help: help}, labels)
		f(c)
		return c
	}
	m := &Metrics{reg: reg}
	m.captureToSlot = hist("capture_to_slot_seconds",
		"Time from a frame's capture to its slot being handed to the plugins.", "stream")
	m.slotToResult = hist("slot_to_result_seconds",
		"Time from a slot being handed to a plugin to the plugin's result.", "stream", "plugin")
	m.closeToStored = hist("close_to_stored_seconds",
		"Time from a segment closing to it being stored.", "stream")
	m.queueDepth = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "lsie", Name: "queue_depth",
		Help: "Slots waiting in a plugin's input queue."}, []string{"stream", "plugin"})
	f(m.queueDepth)
	m.framesDropped = counter("frames_dropped_total", "Video frames dropped before reaching the plugins.", "stream")
	m.audioDropped = counter("audio_dropped_seconds_total", "Seconds of audio dropped before reaching a plugin.", "stream", "plugin")
	m.textDropped = counter("text_dropped_total", "Text messages dropped before reaching a plugin.", "stream", "plugin")
	m.alerts = counter("alerts_total", "Alerts opened by rules, by rule and severity.", "stream", "rule", "severity")
	m.framesGated = counter("frames_gated_total", "Analysis frames a plugin's motion gate held back (nothing moved).", "stream", "plugin")
	m.pluginRestarts = counter("plugin_restarts_total", "Plugin process restarts.", "plugin")
	m.segmentsClosed = counter("segments_closed_total", "Segments closed, by status.", "stream", "status")
	m.telemetryEvents = counter("telemetry_events_total",
		"Telemetry events received, by outcome: accepted, duplicate, rejected or late.", "source", "outcome")
	m.enrichmentJobs = counter("enrichment_jobs_total", "Enrichment jobs finished, by kind and status.", "kind", "status")
	m.wsClients = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "lsie", Name: "ws_clients",
		Help: "WebSocket clients connected to the API."})
	f(m.wsClients)
	m.wsDropped = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "lsie", Name: "ws_dropped_total",
		Help: "WebSocket clients disconnected for being too slow."})
	f(m.wsDropped)
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	m.byStream = []interface {
		DeletePartialMatch(prometheus.Labels) int
	}{m.captureToSlot, m.slotToResult, m.closeToStored, m.queueDepth, m.framesDropped,
		m.audioDropped, m.textDropped, m.framesGated, m.alerts, m.segmentsClosed}
	// ContinueOnError: a collector failing (say /proc unreadable) should
	// not hide every other metric from the scrape.
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler { return m.handler }

// ServeHTTP serves Handler, so a *Metrics can be given where an
// http.Handler is wanted (api.Config.Metrics) and still be recognised by
// its methods there.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.handler.ServeHTTP(w, r) }

// Registerer lets other components add their own collectors to the scrape.
func (m *Metrics) Registerer() prometheus.Registerer { return m.reg }

// Gatherer returns the registry for reading the metrics in process.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// Latency observes durations into one labelled histogram series. The
// per-frame stages take theirs once, when the stream or consumer is built,
// so a frame costs no label lookup.
type Latency struct{ o prometheus.Observer }

// Observe records d; the zero Latency (no metrics) does nothing.
func (l Latency) Observe(d time.Duration) {
	if l.o != nil {
		l.o.Observe(d.Seconds())
	}
}

// CaptureToSlot is the series of the time from a frame's capture to its
// slot, for one stream.
func (m *Metrics) CaptureToSlot(stream string) Latency {
	if m == nil {
		return Latency{}
	}
	return Latency{m.captureToSlot.WithLabelValues(stream)}
}

// SlotToResult is the series of the time from a slot to a plugin's result,
// for one stream and plugin.
func (m *Metrics) SlotToResult(stream, plugin string) Latency {
	if m == nil {
		return Latency{}
	}
	return Latency{m.slotToResult.WithLabelValues(stream, plugin)}
}

// CloseToStored records the time from a segment closing to it being stored.
func (m *Metrics) CloseToStored(stream string, d time.Duration) {
	if m != nil {
		m.closeToStored.WithLabelValues(stream).Observe(d.Seconds())
	}
}

// QueueDepth sets how many slots wait in a plugin's queue.
func (m *Metrics) QueueDepth(stream, plugin string, n int) {
	if m != nil {
		m.queueDepth.WithLabelValues(stream, plugin).Set(float64(n))
	}
}

// FramesDropped adds n dropped frames. Counters only go up: n <= 0 is
// ignored (Prometheus panics on a negative add).
func (m *Metrics) FramesDropped(stream string, n int) {
	if m != nil && n > 0 {
		m.framesDropped.WithLabelValues(stream).Add(float64(n))
	}
}

// AudioDropped adds seconds of audio dropped before a plugin.
func (m *Metrics) AudioDropped(stream, plugin string, seconds float64) {
	if m != nil && seconds > 0 {
		m.audioDropped.WithLabelValues(stream, plugin).Add(seconds)
	}
}

// TextDropped adds n text messages dropped before a plugin.
func (m *Metrics) TextDropped(stream, plugin string, n int) {
	if m != nil && n > 0 {
		m.textDropped.WithLabelValues(stream, plugin).Add(float64(n))
	}
}

// Alert counts an alert opened.
func (m *Metrics) Alert(stream, rule, severity string) {
	if m != nil {
		m.alerts.WithLabelValues(stream, rule, severity).Inc()
	}
}

// FramesGated adds n analysis frames a plugin's motion gate held back.
func (m *Metrics) FramesGated(stream, plugin string, n int) {
	if m != nil && n > 0 {
		m.framesGated.WithLabelValues(stream, plugin).Add(float64(n))
	}
}

// PluginRestarts counts one restart of a plugin's process.
func (m *Metrics) PluginRestarts(plugin string) {
	if m != nil {
		m.pluginRestarts.WithLabelValues(plugin).Inc()
	}
}

// SegmentsClosed counts one segment closed with status (complete,
// partial, ...).
func (m *Metrics) SegmentsClosed(stream, status string) {
	if m != nil {
		m.segmentsClosed.WithLabelValues(stream, status).Inc()
	}
}

// TelemetryEvents counts n telemetry events from source with outcome, one
// of the Outcome constants; n <= 0 is ignored. Callers must keep both labels
// to small fixed sets: every distinct value is a series.
func (m *Metrics) TelemetryEvents(source, outcome string, n int) {
	if m != nil && n > 0 {
		m.telemetryEvents.WithLabelValues(source, outcome).Add(float64(n))
	}
}

// EnrichmentJobs counts one enrichment job of kind finished with status.
func (m *Metrics) EnrichmentJobs(kind, status string) {
	if m != nil {
		m.enrichmentJobs.WithLabelValues(kind, status).Inc()
	}
}

// WSClients sets the number of connected WebSocket clients.
func (m *Metrics) WSClients(n int) {
	if m != nil {
		m.wsClients.Set(float64(n))
	}
}

// WSDropped counts one WebSocket client disconnected for being slow.
func (m *Metrics) WSDropped() {
	if m != nil {
		m.wsDropped.Inc()
	}
}

// Forget removes every series of a removed stream, so a stream added and
// removed at run time does not linger in every scrape.
func (m *Metrics) Forget(stream string) {
	if m == nil {
		return
	}
	for _, v := range m.byStream {
		v.DeletePartialMatch(prometheus.Labels{"stream": stream})
	}
}
