package host

import (
	"context"
	"sync"
	"time"

	"github.com/lsie-mlf/lsie/host/api"
	"github.com/lsie-mlf/lsie/host/config"
	"github.com/lsie-mlf/lsie/host/console"
	"github.com/lsie-mlf/lsie/host/enrich"
	"github.com/lsie-mlf/lsie/host/events"
	"github.com/lsie-mlf/lsie/host/insight"
	"github.com/lsie-mlf/lsie/host/metrics"
	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/telemetry"
	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
)

// observers are the parts of the host that watch results, segments and
// telemetry go by: live updates (bus), Prometheus metrics, the operator
// pages' live history, analytics and enrichment.
type observers struct {
	bus     *events.Bus
	metrics *metrics.Metrics
	live    *insight.Live
	insight *insight.Insight
	enrich  *enrich.Runner
}

// buildObservers makes them; the store must be open.
func (h *Host) buildObservers() {
	h.obs.bus = events.New()
	h.obs.metrics = metrics.New()
	h.obs.metrics.RegisterPlugins(h.pluginMetrics, h.log.Named("metrics"))
	h.obs.live = insight.NewLive()
	h.obs.insight = insight.New(h.store, h, h.cfg.Analytics, h.cfg.Experiments, h.obs.live)
	en := h.cfg.Enrichment
	h.obs.enrich = enrich.New(enrich.DefaultJobs(), enrichSink{h}, enrich.Config{Workers: en.Workers,
		Attempts: en.Attempts, Backoff: en.Backoff, DrainTimeout: 5 * time.Second}, h.log.Named("enrich"))
}

// apiConfig is the API server's configuration.
func (h *Host) apiConfig() api.Config {
	cfg := h.cfg
	ac := api.Config{Listen: cfg.API.Listen, Token: cfg.API.Token, AllowedHosts: cfg.API.AllowedHosts,
		Insights: h.obs.insight, Events: h.obs.bus, Metrics: h.obs.metrics, Console: console.Handler()}
	if len(cfg.Telemetry.Sources) > 0 {
		tc := telemetry.Config{Tolerance: cfg.Telemetry.Tolerance, MaxEvents: cfg.Telemetry.MaxEvents,
			MaxBody: int64(cfg.Telemetry.MaxBody)}
		for _, s := range cfg.Telemetry.Sources {
			tc.Sources = append(tc.Sources, telemetry.Source{Name: s.Name, Secret: s.Secret, ClockOffset: s.ClockOffset, Stream: s.Stream})
		}
		ac.Telemetry = &api.TelemetryConfig{
			Config: tc,
			Arms: func(name string) ([]string, bool) {
				if e := cfg.ExperimentByName(name); e != nil {
					return e.Arms, true
				}
				return nil, false
			},
			Accepted: func(ev model.TelemetryEvent) {
				h.obs.bus.Publish(events.Event{Type: events.Telemetry, Stream: ev.StreamID, Data: ev})
			},
			Outcome: h.obs.metrics.TelemetryEvents,
		}
	}
	return ac
}

// observe sees every result item of a stream's plugin as it arrives.
func (s *streamRunner) observe(plugin string, it model.Item) {
	o := &s.h.obs
	now := time.Now()
	o.live.Observe(s.cfg.ID, now, it)
	s.rules.Result(plugin, it)
	if o.bus.Listening() { // per item: no event built for nobody
		o.bus.Publish(events.Event{Type: events.Result, Stream: s.cfg.ID, Plugin: plugin, At: now, Data: it})
	}
}

// closed runs once a segment is stored: live clients, metrics, enrichment.
func (h *Host) closed(seg model.Segment, storedIn time.Duration) {
	o := &h.obs
	o.metrics.CloseToStored(seg.StreamID, storedIn)
	o.metrics.SegmentsClosed(seg.StreamID, string(seg.Status))
	o.metrics.FramesDropped(seg.StreamID, seg.FramesDropped)
	for name, p := range seg.Plugins {
		o.metrics.AudioDropped(seg.StreamID, name, p.AudioDroppedSeconds)
		o.metrics.TextDropped(seg.StreamID, name, p.TextDropped)
		o.metrics.FramesGated(seg.StreamID, name, p.FramesGated)
	}
	o.bus.Publish(events.Event{Type: events.SegmentClosed, Stream: seg.StreamID, Data: segmentClosed{
		SegmentSummary: api.Summarize(seg), Analytics: seg.Analytics}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// The stats job counts the telemetry placed in the segment.
	if evs, err := h.store.Telemetry(ctx, model.TelemetryQuery{StreamID: seg.StreamID, From: seg.WallStart, To: seg.WallEnd}); err == nil {
		seg.Telemetry = evs
	}
	if !o.enrich.Submit(seg) {
		h.log.Warn("enrichment queue full: segment not enriched", "stream", seg.StreamID, "index", seg.Index)
	}
}

// segmentClosed is the data of a segment_closed message.
type segmentClosed struct {
	api.SegmentSummary
	Analytics *model.SegmentAnalytics `json:"analytics"`
}

// enrichSink stores enrichment results and counts them.
type enrichSink struct{ h *Host }

func (e enrichSink) SaveEnrichment(ctx context.Context, stream string, index int64, run string, en model.Enrichment) error {
	err := e.h.store.SaveEnrichment(ctx, stream, index, run, en)
	if err == nil {
		e.h.obs.metrics.EnrichmentJobs(en.Kind, en.Status)
	}
	return err
}

// purgeLoop removes telemetry payloads older than the retention, every
// purge interval, until ctx ends.
func (h *Host) purgeLoop(ctx context.Context, t config.Telemetry) {
	tick := time.NewTicker(t.PurgeInterval)
	defer tick.Stop()
	for {
		n, err := h.store.PurgeTelemetryPayloads(ctx, time.Now().Add(-t.PayloadRetention))
		switch {
		case err != nil && ctx.Err() == nil:
			h.log.Warn("purging telemetry payloads", "error", err)
		case n > 0:
			h.log.Info("purged telemetry payloads", "events", n, "older_than", t.PayloadRetention)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// healthWatch publishes health_changed for every component whose state
// changed since the last call; the host ticks it.
func (h *Host) healthWatch(last map[string]model.Health) {
	for _, c := range h.Health().Components {
		key := c.Kind + "/" + c.Name
		if prev, ok := last[key]; ok && prev == c.Health {
			continue
		}
		last[key] = c.Health
		stream := ""
		if c.Kind == "stream" {
			stream = c.Name
		}
		h.obs.bus.Publish(events.Event{Type: events.HealthChanged, Stream: stream, Data: c})
	}
}

// pluginMetrics asks every running plugin for its own metrics, in
// parallel, each within ctx: a slow plugin delays no other, and one that
// does not answer is left out of this scrape.
func (h *Host) pluginMetrics(ctx context.Context) map[string][]*pluginv1.MetricFamily {
	var mu sync.Mutex
	var wg sync.WaitGroup
	out := map[string][]*pluginv1.MetricFamily{}
	for _, sup := range h.supervisors() {
		p := sup.Current()
		if p == nil {
			continue
		}
		wg.Go(func() {
			fams, err := p.Metrics(ctx)
			if err != nil {
				h.log.Debug("plugin metrics", "plugin", sup.Binary().Name, "error", err)
				return
			}
			mu.Lock()
			out[sup.Binary().Name] = fams
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}
