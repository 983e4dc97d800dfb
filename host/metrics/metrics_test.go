package metrics

import (
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape serves h as Prometheus would and parses the text it answers.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse scrape: %v", err)
	}
	return fams
}

// series returns the metric of family name whose labels are exactly want.
func series(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	t.Helper()
	fam := fams[name]
	if fam == nil {
		t.Fatalf("family %s missing", name)
	}
	for _, m := range fam.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		if len(got) == len(want) && func() bool {
			for k, v := range want {
				if got[k] != v {
					return false
				}
			}
			return true
		}() {
			return m
		}
	}
	t.Fatalf("%s has no series %v", name, want)
	return nil
}

func labels(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func TestScrape(t *testing.T) {
	m := New()
	// Durations exact in binary, so the sums compare exactly.
	m.CaptureToSlot("cam1").Observe(250 * time.Millisecond)
	m.CaptureToSlot("cam1").Observe(500 * time.Millisecond)
	m.CaptureToSlot("cam2").Observe(2 * time.Second)
	m.SlotToResult("cam1", "face").Observe(125 * time.Millisecond)
	m.CloseToStored("cam1", time.Second)
	m.CloseToStored("cam1", 45*time.Second) // beyond the last bucket
	m.QueueDepth("cam1", "face", 7)
	m.QueueDepth("cam1", "face", 3)
	m.FramesDropped("cam1", 5)
	m.FramesDropped("cam1", 2)
	m.FramesDropped("cam1", -1) // ignored, not a panic
	m.AudioDropped("cam1", "asr", 0.5)
	m.AudioDropped("cam1", "asr", 0.25)
	m.TextDropped("cam1", "asr", 3)
	m.PluginRestarts("face")
	m.PluginRestarts("face")
	m.SegmentsClosed("cam1", "complete")
	m.SegmentsClosed("cam1", "partial")
	m.SegmentsClosed("cam1", "complete")
	m.TelemetryEvents("watch", OutcomeAccepted, 1)
	m.TelemetryEvents("watch", OutcomeDuplicate, 1)
	m.TelemetryEvents("watch", OutcomeRejected, 1)
	m.TelemetryEvents("watch", OutcomeLate, 1)
	m.TelemetryEvents("watch", OutcomeAccepted, 1)
	m.EnrichmentJobs("transcript", "ok")
	m.WSClients(3)
	m.WSDropped()

	fams := scrape(t, m.Handler())

	hist := func(name string, lbl map[string]string, count uint64, sum float64) *dto.Histogram {
		t.Helper()
		h := series(t, fams, name, lbl).GetHistogram()
		if h.GetSampleCount() != count || h.GetSampleSum() != sum {
			t.Errorf("%s%v: count %d sum %v, want %d and %v", name, lbl, h.GetSampleCount(), h.GetSampleSum(), count, sum)
		}
		return h
	}
	h := hist("lsie_capture_to_slot_seconds", labels("stream", "cam1"), 2, 0.75)
	hist("lsie_capture_to_slot_seconds", labels("stream", "cam2"), 1, 2)
	hist("lsie_slot_to_result_seconds", labels("stream", "cam1", "plugin", "face"), 1, 0.125)
	stored := hist("lsie_close_to_stored_seconds", labels("stream", "cam1"), 2, 46)

	// The buckets are cumulative: 0.25 s falls in le=0.25, 0.5 s in le=0.5.
	buckets := map[float64]uint64{}
	for _, b := range h.GetBucket() {
		buckets[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	for le, want := range map[float64]uint64{0.1: 0, 0.25: 1, 0.5: 2, 30: 2} {
		if buckets[le] != want {
			t.Errorf("capture_to_slot cam1 le=%v: %d, want %d", le, buckets[le], want)
		}
	}
	// The text format adds the +Inf bucket.
	if got := len(h.GetBucket()); got != len(LatencyBuckets)+1 {
		t.Errorf("%d buckets, want %d", got, len(LatencyBuckets)+1)
	}
	if first, last := LatencyBuckets[0], LatencyBuckets[len(LatencyBuckets)-1]; first != 0.0001 || last != 30 {
		t.Errorf("buckets span %v to %v, want 0.0001 to 30", first, last)
	}
	for _, b := range stored.GetBucket() {
		if b.GetUpperBound() == 30 && b.GetCumulativeCount() != 1 {
			t.Errorf("close_to_stored le=30: %d, want 1 (45 s is only in +Inf)", b.GetCumulativeCount())
		}
	}

	counter := func(name string, lbl map[string]string, want float64) {
		t.Helper()
		if got := series(t, fams, name, lbl).GetCounter().GetValue(); got != want {
			t.Errorf("%s%v = %v, want %v", name, lbl, got, want)
		}
	}
	gauge := func(name string, lbl map[string]string, want float64) {
		t.Helper()
		if got := series(t, fams, name, lbl).GetGauge().GetValue(); got != want {
			t.Errorf("%s%v = %v, want %v", name, lbl, got, want)
		}
	}
	gauge("lsie_queue_depth", labels("stream", "cam1", "plugin", "face"), 3)
	counter("lsie_frames_dropped_total", labels("stream", "cam1"), 7)
	counter("lsie_audio_dropped_seconds_total", labels("stream", "cam1", "plugin", "asr"), 0.75)
	counter("lsie_text_dropped_total", labels("stream", "cam1", "plugin", "asr"), 3)
	counter("lsie_plugin_restarts_total", labels("plugin", "face"), 2)
	counter("lsie_segments_closed_total", labels("stream", "cam1", "status", "complete"), 2)
	counter("lsie_segments_closed_total", labels("stream", "cam1", "status", "partial"), 1)
	counter("lsie_telemetry_events_total", labels("source", "watch", "outcome", "accepted"), 2)
	for _, o := range []string{OutcomeDuplicate, OutcomeRejected, OutcomeLate} {
		counter("lsie_telemetry_events_total", labels("source", "watch", "outcome", o), 1)
	}
	counter("lsie_enrichment_jobs_total", labels("kind", "transcript", "status", "ok"), 1)
	gauge("lsie_ws_clients", nil, 3)
	counter("lsie_ws_dropped_total", nil, 1)

	// Every lsie_ family has help text; the Go and process collectors are
	// registered.
	var names []string
	for name, fam := range fams {
		if strings.HasPrefix(name, "lsie_") {
			names = append(names, name)
			if fam.GetHelp() == "" {
				t.Errorf("%s has no HELP", name)
			}
		}
	}
	sort.Strings(names)
	if len(names) != 13 {
		t.Errorf("lsie_ families = %v, want 13", names)
	}
	for _, name := range []string{"go_goroutines", "process_start_time_seconds"} {
		if fams[name] == nil {
			t.Errorf("%s missing: runtime or process collector not registered", name)
		}
	}
}

func TestForget(t *testing.T) {
	m := New()
	m.CaptureToSlot("cam1").Observe(time.Millisecond)
	m.CaptureToSlot("cam2").Observe(time.Millisecond)
	m.SlotToResult("cam1", "face").Observe(time.Millisecond)
	m.QueueDepth("cam1", "face", 1)
	m.FramesDropped("cam1", 1)
	m.SegmentsClosed("cam1", "complete")
	m.PluginRestarts("face")
	m.Forget("cam1")
	fams := scrape(t, m)
	for name, fam := range fams {
		for _, s := range fam.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "stream" && l.GetValue() == "cam1" {
					t.Errorf("%s still has a series for the forgotten stream", name)
				}
			}
		}
	}
	// Other streams and stream-less series stay.
	series(t, fams, "lsie_capture_to_slot_seconds", labels("stream", "cam2"))
	series(t, fams, "lsie_plugin_restarts_total", labels("plugin", "face"))
}

// TestSeparateRegistries: two sets in one process do not share series.
func TestSeparateRegistries(t *testing.T) {
	a, b := New(), New()
	a.PluginRestarts("face")
	if fam := scrape(t, b)["lsie_plugin_restarts_total"]; fam != nil && len(fam.GetMetric()) != 0 {
		t.Errorf("second set sees the first's series: %v", fam)
	}
}

func TestNilRecordsNothing(t *testing.T) {
	var m *Metrics
	m.CaptureToSlot("cam1").Observe(time.Second)
	m.SlotToResult("cam1", "face").Observe(time.Second)
	m.CloseToStored("cam1", time.Second)
	m.QueueDepth("cam1", "face", 1)
	m.FramesDropped("cam1", 1)
	m.AudioDropped("cam1", "asr", 1)
	m.TextDropped("cam1", "asr", 1)
	m.PluginRestarts("face")
	m.SegmentsClosed("cam1", "complete")
	m.TelemetryEvents("watch", OutcomeAccepted, 1)
	m.EnrichmentJobs("transcript", "ok")
	m.WSClients(1)
	m.WSDropped()
	m.Forget("cam1")
}
