package host

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/lsie-mlf/lsie/host/api"
	"github.com/lsie-mlf/lsie/host/config"
	"github.com/lsie-mlf/lsie/host/model"
)

// The rule set is the config file's rules and those added through the API
// (stored, restored at start); a change (SIGHUP, PUT, DELETE) is compiled
// first and applied to every stream only if it compiles, without touching
// the streams (docs/RULES.md).

// loadStoredRules reads the rules added through the API; one that no
// longer parses is logged and left out.
func (h *Host) loadStoredRules(ctx context.Context) {
	stored, err := h.store.StoredRules(ctx)
	if err != nil {
		h.log.Error("reading the rules added through the API", "error", err)
		return
	}
	for _, sr := range stored {
		r, err := config.ParseRule(sr.Name, sr.Spec)
		if err != nil {
			h.log.Error("rule added through the API no longer valid; left out", "rule", sr.Name, "error", err)
			continue
		}
		h.apiRules = append(h.apiRules, r)
	}
}

// setRules compiles file and api rules against the running streams and,
// if they compile, makes them the rule set of every stream.
func (h *Host) setRules(file, apiRules []config.Rule) error {
	cfg := &config.Config{Rules: append(append([]config.Rule{}, file...), apiRules...)}
	for _, s := range h.streamList() {
		cfg.Streams = append(cfg.Streams, s.cfg)
	}
	compiled, err := CompileRules(cfg, h.manifestOf)
	if err != nil {
		return err
	}
	h.rulesMu.Lock()
	h.fileRules, h.apiRules, h.rules = file, apiRules, compiled
	h.rulesMu.Unlock()
	for _, s := range h.streamList() {
		s.rules.SetRules(compiled)
	}
	return nil
}

// Rules lists the rule set: the file's first, then the API's, by name.
func (h *Host) Rules() []api.RuleInfo {
	h.rulesMu.Lock()
	defer h.rulesMu.Unlock()
	out := make([]api.RuleInfo, 0, len(h.fileRules)+len(h.apiRules))
	for _, r := range h.fileRules {
		out = append(out, ruleInfo(r, "file"))
	}
	for _, r := range h.apiRules {
		out = append(out, ruleInfo(r, "api"))
	}
	return out
}

func ruleInfo(r config.Rule, origin string) api.RuleInfo {
	ri := api.RuleInfo{Name: r.Name, Origin: origin, Streams: r.Streams, When: r.When, Severity: r.Severity, Message: r.Message}
	if r.For > 0 {
		ri.For = r.For.String()
	}
	if r.Cooldown > 0 {
		ri.Cooldown = r.Cooldown.String()
	}
	if ri.Streams == nil {
		ri.Streams = []string{}
	}
	return ri
}

// PutRule adds or replaces a rule through the API: parsed, compiled with
// the others, stored, then applied.
func (h *Host) PutRule(ctx context.Context, name string, spec []byte) error {
	h.rulesMu.Lock()
	file, apiRules := h.fileRules, h.apiRules
	h.rulesMu.Unlock()
	for _, r := range file {
		if r.Name == name {
			return fmt.Errorf("rule %q is the config file's (%s): %w", name, r.Pos, api.ErrRuleFromFile)
		}
	}
	r, err := config.ParseRule(name, spec)
	if err != nil {
		return fmt.Errorf("%w: %w", api.ErrRuleInvalid, err)
	}
	next := []config.Rule{}
	for _, old := range apiRules {
		if old.Name != name {
			next = append(next, old)
		}
	}
	next = append(next, r)
	sort.Slice(next, func(i, j int) bool { return next[i].Name < next[j].Name })
	cfg := &config.Config{Rules: append(append([]config.Rule{}, file...), next...)}
	for _, s := range h.streamList() {
		cfg.Streams = append(cfg.Streams, s.cfg)
	}
	if _, err := CompileRules(cfg, h.manifestOf); err != nil {
		return fmt.Errorf("%w: %w", api.ErrRuleInvalid, err)
	}
	if err := h.store.PutRule(ctx, model.StoredRule{Name: name, Spec: spec, AddedAt: time.Now().UTC()}); err != nil {
		return err
	}
	return h.setRules(file, next)
}

// DeleteRule removes a rule added through the API.
func (h *Host) DeleteRule(ctx context.Context, name string) error {
	h.rulesMu.Lock()
	file, apiRules := h.fileRules, h.apiRules
	h.rulesMu.Unlock()
	for _, r := range file {
		if r.Name == name {
			return fmt.Errorf("rule %q is the config file's (%s): %w", name, r.Pos, api.ErrRuleFromFile)
		}
	}
	next := []config.Rule{}
	found := false
	for _, r := range apiRules {
		if r.Name == name {
			found = true
		} else {
			next = append(next, r)
		}
	}
	if !found {
		return fmt.Errorf("rule %q: %w", name, api.ErrRuleNotFound)
	}
	if err := h.store.DeleteRule(ctx, name); err != nil {
		return err
	}
	if err := h.setRules(file, next); err != nil {
		return errors.Join(errors.New("removed, but the remaining rules do not compile"), err)
	}
	return nil
}
