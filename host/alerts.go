package host

import (
	"errors"
	"time"

	"github.com/lsie-mlf/lsie/host/config"
	"github.com/lsie-mlf/lsie/host/events"
	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/motion"
	"github.com/lsie-mlf/lsie/host/rules"
	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
)

// RuleSchema is what a rule's names may refer to on the streams it
// watches: their plugins' manifests and their zones (docs/RULES.md). config
// check --plugins and the host compile rules against it.
func RuleSchema(r config.Rule, streams []config.Stream, manifest func(plugin string) *pluginv1.Manifest) rules.Schema {
	sc := rules.Schema{Plugins: map[string]rules.Plugin{}}
	for _, st := range streams {
		if !rules.MatchAny(r.Streams, st.ID) {
			continue
		}
		for _, ref := range st.Plugins {
			m := manifest(ref.Name)
			if m == nil {
				continue
			}
			var p rules.Plugin
			for _, f := range m.GetFields() {
				p.Fields = append(p.Fields, f.GetName())
			}
			p.Labels = m.GetLabels()
			p.Outputs = m.GetOutputs()
			sc.Plugins[ref.Name] = p
		}
		for _, z := range st.Zones {
			sc.Zones = append(sc.Zones, z.Name)
		}
	}
	return sc
}

// CompileRules compiles every rule against the streams it watches.
func CompileRules(cfg *config.Config, manifest func(plugin string) *pluginv1.Manifest) ([]*rules.Rule, error) {
	var out []*rules.Rule
	var ds config.Diagnostics
	for _, r := range cfg.Rules {
		c, err := rules.Compile(r, RuleSchema(r, cfg.Streams, manifest))
		if err != nil {
			var d config.Diagnostics
			if errors.As(err, &d) {
				ds = append(ds, d...)
				continue
			}
			return nil, err
		}
		out = append(out, c)
	}
	if len(ds) > 0 {
		return nil, ds
	}
	return out, nil
}

// manifestOf is the manifest of a running plugin, nil for one not loaded.
func (h *Host) manifestOf(name string) *pluginv1.Manifest {
	h.mu.Lock()
	sup := h.sups[name]
	h.mu.Unlock()
	if sup == nil {
		return nil
	}
	return sup.Current().Manifest()
}

// newRules gives a stream the rules that watch it.
func (s *streamRunner) newRules(st config.Stream) {
	zones := make([]motion.Zone, len(st.Zones))
	for i, z := range st.Zones {
		zones[i] = motion.Zone{Name: z.Name, Polygon: z.Polygon}
	}
	s.rules = rules.NewStream(rules.StreamConfig{ID: st.ID, Zones: zones, Anchor: s.anchor, Emit: s.alert,
		OnError: func(rule string, err error) {
			s.ruleErrors.Add(1)
			s.log.Warn("rule failed at run time; it counts as false", "rule", rule, "error", err)
		}}, s.h.compiledRules())
}

func (h *Host) compiledRules() []*rules.Rule {
	h.rulesMu.Lock()
	defer h.rulesMu.Unlock()
	return h.rules
}

// anchor is the stream's wall time at media time 0 (zero until known).
func (s *streamRunner) anchor() time.Time {
	if s.cap == nil {
		return time.Time{}
	}
	return s.cap.WallAnchor()
}

// alert takes an alert opened or ended: stored through the spool like a
// segment (nothing accepted is lost), pushed to live clients at once,
// counted.
func (s *streamRunner) alert(a model.Alert) {
	o := &s.h.obs
	if a.End == nil {
		o.metrics.Alert(a.StreamID, a.Rule, a.Severity)
		s.log.Info("alert", "rule", a.Rule, "severity", a.Severity, "start", a.Start, "message", a.Message)
	} else {
		s.log.Info("alert ended", "rule", a.Rule, "start", a.Start, "end", *a.End)
	}
	o.bus.Publish(events.Event{Type: events.Alert, Stream: a.StreamID, At: time.Now(), Data: a})
	if s.h.opts.OnAlert != nil {
		s.h.opts.OnAlert(a)
	}
	s.h.w.put(&record{Kind: recAlert, RunID: s.runID, StreamID: a.StreamID, Alert: &a})
	for _, r := range s.h.receivers {
		if r.Wants(a.Rule) {
			if err := r.Enqueue(a); err != nil {
				s.log.Error("alert not queued for its receiver", "receiver", r.Name(), "rule", a.Rule, "error", err)
			}
		}
	}
}
