package host

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/lsie-mlf/lsie/host/api"
	"github.com/lsie-mlf/lsie/host/config"
	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/plugin"
	"github.com/lsie-mlf/lsie/host/semver"
)

// AddStream starts a stream while the host runs (api.StreamManager). Its
// plugins are started if no other stream runs them yet. A stream added
// through the API (st.Spec set) is desired state: it is stored, and runs
// again after a restart until it is removed.
func (h *Host) AddStream(ctx context.Context, st config.Stream) error {
	return h.addStream(ctx, st, st.FromAPI())
}

// addStream starts st, storing it as desired state first when persist.
func (h *Host) addStream(ctx context.Context, st config.Stream, persist bool) error {
	h.mu.Lock()
	exists := slices.ContainsFunc(h.streams, func(s *streamRunner) bool { return s.cfg.ID == st.ID })
	h.mu.Unlock()
	if exists {
		return fmt.Errorf("stream %q: %w", st.ID, api.ErrStreamExists)
	}
	s, err := h.prepareStream(st)
	if err != nil {
		return err
	}
	return h.launchStream(ctx, s, persist)
}

// prepareStream starts st's plugins if need be and builds its runner and
// pipeline, without running or registering it: what can be checked before
// a stream it replaces is stopped.
func (h *Host) prepareStream(st config.Stream) (*streamRunner, error) {
	h.mu.Lock()
	runCtx := h.runCtx
	h.mu.Unlock()
	if runCtx == nil {
		return nil, fmt.Errorf("stream %q: the host is not running", st.ID)
	}
	for _, ref := range st.Plugins {
		if err := h.ensurePlugin(runCtx, st.ID, ref); err != nil {
			return nil, fmt.Errorf("stream %q: %w: %w", st.ID, api.ErrUnrunnable, err)
		}
	}
	return h.buildStream(st, h.handles.Add(1))
}

// launchStream registers a prepared stream and runs it, storing it as
// desired state first when persist.
func (h *Host) launchStream(ctx context.Context, s *streamRunner, persist bool) error {
	st := s.cfg
	h.mu.Lock()
	runCtx := h.runCtx
	if slices.ContainsFunc(h.streams, func(o *streamRunner) bool { return o.cfg.ID == st.ID }) {
		h.mu.Unlock()
		return fmt.Errorf("stream %q: %w", st.ID, api.ErrStreamExists)
	}
	h.streams = append(h.streams, s)
	delete(h.unrestored, st.ID)
	h.mu.Unlock()
	if persist {
		err := h.store.PutDesiredStream(ctx, model.DesiredStream{ID: st.ID, Spec: st.Spec, BaseDir: h.opts.ConfigDir,
			AddedAt: time.Now().UTC()})
		if err != nil {
			h.dropStream(s)
			return fmt.Errorf("stream %q: storing it, so that it runs again after a restart: %w", st.ID, err)
		}
	}
	if err := h.startStream(runCtx, s); err != nil {
		if persist {
			h.forgetDesired(st.ID)
		}
		h.dropStream(s)
		return err
	}
	h.log.Info("stream added", "stream", st.ID, "source", st.Source.Redacted(), "api", st.FromAPI())
	return nil
}

// forgetDesired removes a stream from the stored desired state.
func (h *Host) forgetDesired(id string) {
	if err := h.store.DeleteDesiredStream(context.Background(), id); err != nil {
		h.log.Error("removing a stream from the stored desired state; it may run again after a restart", "stream", id, "error", err)
	}
}

// restoreStreams starts the streams added through the API before the last
// stop. One that cannot run now costs only itself: it is reported in health
// as not restored, and kept, so that a later start (or a DELETE) decides.
// A stream the config file now defines under the same id is the file's.
func (h *Host) restoreStreams(ctx context.Context) {
	ds, err := h.store.DesiredStreams(ctx)
	if err != nil {
		h.log.Error("streams added through the API cannot be read from the store; they are not restored", "error", err)
		return
	}
	for _, d := range ds {
		if s := h.stream(d.ID); s != nil && !s.cfg.FromAPI() {
			h.notRestored(d.ID, fmt.Sprintf("the config file defines a stream %q (%s), which runs instead", d.ID, s.cfg.Pos))
			continue
		}
		st, err := config.ParseStream(d.Spec, d.BaseDir, h.cfg.Sources)
		if err == nil && st.ID != d.ID {
			err = fmt.Errorf("its description names stream %q", st.ID)
		}
		if err == nil {
			err = h.addStream(ctx, st, false)
		}
		if err != nil {
			h.notRestored(d.ID, err.Error())
			continue
		}
		h.log.Info("stream added through the API restored", "stream", d.ID, "added_at", d.AddedAt)
	}
}

// notRestored records why a stored API stream did not start again.
func (h *Host) notRestored(id, why string) {
	h.log.Error("stream added through the API not restored; it stays stored until removed (DELETE /api/v1/streams/"+id+")",
		"stream", id, "reason", why)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.unrestored == nil {
		h.unrestored = map[string]string{}
	}
	h.unrestored[id] = why
}

// ensurePlugin starts and supervises plugin ref.Name for stream streamID
// unless it runs already. A running plugin serves the stream only if its
// version is one the stream's constraint allows: one process serves every
// stream of a plugin.
func (h *Host) ensurePlugin(ctx context.Context, streamID string, ref config.PluginRef) error {
	name := ref.Name
	want, err := pluginWant(streamID, ref)
	if err != nil {
		return err
	}
	// allows tells whether the running plugin's version suits the stream.
	allows := func(sup *plugin.Supervisor) error {
		b := sup.Binary()
		v := b.Version
		if p := sup.Current(); v == "" && p != nil {
			v = p.Manifest().GetVersion()
		}
		if want.Constraint.Allows(v) {
			return nil
		}
		users := []string{}
		for _, s := range h.streamList() {
			for _, r := range s.cfg.Plugins {
				if r.Name == name {
					w, _ := pluginWant(s.cfg.ID, r)
					users = append(users, w.String())
				}
			}
		}
		if len(users) == 0 {
			users = append(users, "no stream now")
		}
		if v == "" {
			v = "(unknown)"
		}
		return fmt.Errorf("plugin %q runs version %s (%s), for %s; it does not match %s, and one process serves every stream of a plugin: change the constraint, or restart the host to pick a version for all",
			name, v, b.File(), strings.Join(users, " and "), want)
	}
	if sup := h.supervisor(name); sup != nil {
		return allows(sup)
	}
	bin, err := h.plugins.Resolve(name, want)
	if err != nil {
		return err
	}
	sup := plugin.NewSupervisor(bin, h.pluginOptions(),
		h.opts.Restart, plugin.Hooks{Started: h.pluginRestarted, Down: h.pluginDown, Exited: h.pluginExited, GaveUp: h.pluginGaveUp})
	if _, err := sup.Start(); err != nil {
		return err
	}
	h.mu.Lock()
	if other := h.sups[name]; other != nil { // another caller won the race
		h.mu.Unlock()
		sup.Close()
		return allows(other)
	}
	h.sups[name] = sup
	h.mu.Unlock()
	go sup.Run(ctx)
	return nil
}

// pluginWant is stream streamID's constraint on the version of ref.
func pluginWant(streamID string, ref config.PluginRef) (plugin.Want, error) {
	c, err := semver.ParseConstraint(ref.Version)
	if err != nil {
		return plugin.Want{}, fmt.Errorf("stream %q: plugin %q: %w", streamID, ref.Name, err)
	}
	by := fmt.Sprintf("stream %q", streamID)
	if ref.Pos.File != "" {
		by += fmt.Sprintf(" (%s)", ref.Pos)
	}
	return plugin.Want{Constraint: c, By: by}, nil
}

// stream is the running stream with this id, or nil.
func (h *Host) stream(id string) *streamRunner {
	h.mu.Lock()
	defer h.mu.Unlock()
	if i := slices.IndexFunc(h.streams, func(s *streamRunner) bool { return s.cfg.ID == id }); i >= 0 {
		return h.streams[i]
	}
	return nil
}

// PluginCommand runs an operator command on one plugin of a stream
// (api.StreamManager), e.g. the au plugin's "baseline".
func (h *Host) PluginCommand(ctx context.Context, streamID, name, command string, args []byte) ([]byte, error) {
	s := h.stream(streamID)
	if s == nil {
		return nil, fmt.Errorf("stream %q: %w", streamID, api.ErrStreamNotFound)
	}
	j := slices.IndexFunc(s.consumers, func(c *consumer) bool { return c.name == name })
	if j < 0 {
		return nil, fmt.Errorf("stream %q plugin %q: %w", streamID, name, api.ErrPluginNotFound)
	}
	c := s.consumers[j]
	p := c.process()
	if p == nil || c.isDead() {
		return nil, fmt.Errorf("stream %q plugin %q: %w", streamID, name, api.ErrPluginDown)
	}
	res, err := p.Command(ctx, s.handle, command, args)
	var ce *plugin.CommandError
	if errors.As(err, &ce) {
		return nil, &api.CommandError{Code: ce.Code, Message: ce.Message}
	}
	return res, err
}

// RemoveStream stops a stream (api.StreamManager): its open segment closes
// as partial with reason stream_removed; stored segments stay.
func (h *Host) RemoveStream(ctx context.Context, id string) error {
	s := h.stream(id)
	h.mu.Lock()
	_, unrestored := h.unrestored[id]
	h.mu.Unlock()
	if s == nil && !unrestored {
		return fmt.Errorf("stream %q: %w", id, api.ErrStreamNotFound)
	}
	// Forgotten first: a removal the store cannot record must not let the
	// stream come back after a restart.
	if s == nil || s.cfg.FromAPI() {
		if err := h.store.DeleteDesiredStream(ctx, id); err != nil {
			return fmt.Errorf("stream %q: removing it from the stored desired state: %w", id, err)
		}
	}
	if s == nil {
		h.mu.Lock()
		delete(h.unrestored, id)
		h.mu.Unlock()
		h.log.Info("stream that was not restored removed", "stream", id)
		return nil
	}
	s.removed.Store(true)
	if s.cancel != nil {
		s.cancel()
		for _, c := range s.consumers {
			c.wake()
		}
		select {
		case <-s.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	h.dropStream(s)
	h.log.Info("stream removed", "stream", id)
	return nil
}

// dropStream releases a stream's plugins and regions and forgets it.
func (h *Host) dropStream(s *streamRunner) {
	s.close()
	h.obs.metrics.Forget(s.cfg.ID)
	h.obs.live.Forget(s.cfg.ID)
	h.mu.Lock()
	h.streams = slices.DeleteFunc(h.streams, func(o *streamRunner) bool { return o == s })
	h.mu.Unlock()
	if err := h.store.SetStreamHealth(context.Background(), s.cfg.ID, model.HealthEnded, "removed"); err != nil {
		h.log.Warn("saving stream health", "stream", s.cfg.ID, "error", err)
	}
}

// Reload applies a new config's streams: streams gone from the file stop,
// new ones start, changed ones restart; the file's unchanged streams and
// every stream added through the API are not touched. A new file stream
// whose id an API stream holds is refused, naming it. Segment, store and
// API settings need a restart and are reported, not applied.
func (h *Host) Reload(ctx context.Context, cfg *config.Config) error {
	if cfg.Segment != h.cfg.Segment || cfg.Store != h.cfg.Store || !reflect.DeepEqual(cfg.API, h.cfg.API) {
		h.log.Warn("reload: segment, store and api settings change only on restart; applying streams only")
	}
	old := map[string]config.Stream{}
	fromAPI := map[string]bool{}
	for _, s := range h.streamList() {
		if s.cfg.FromAPI() {
			fromAPI[s.cfg.ID] = true
			continue
		}
		old[s.cfg.ID] = s.cfg
	}
	var errs []error
	defer func() {
		// Rules after the streams, against them; a set that does not
		// compile leaves the running one in place.
		h.rulesMu.Lock()
		apiRules := h.apiRules
		h.rulesMu.Unlock()
		if err := h.setRules(cfg.Rules, apiRules); err != nil {
			h.log.Error("reload: rules not applied; the previous ones keep running", "error", err)
		}
	}()
	next := map[string]bool{}
	for _, st := range cfg.Streams {
		next[st.ID] = true
		prev, ok := old[st.ID]
		switch {
		case fromAPI[st.ID]:
			errs = append(errs, fmt.Errorf("stream %q (%s) not started: a stream added through the API runs under this id; "+
				"remove that one (DELETE /api/v1/streams/%s) or rename this one", st.ID, st.Pos, st.ID))
		case !ok:
			errs = append(errs, h.AddStream(ctx, st))
		case !sameStream(prev, st):
			// The new settings are checked (plugins, pipeline) before the
			// running stream stops: a bad edit keeps the old one running.
			next, err := h.prepareStream(st)
			if err != nil {
				errs = append(errs, fmt.Errorf("stream %q (%s) keeps running unchanged: %w", st.ID, st.Pos, err))
				continue
			}
			h.log.Info("reload: stream changed; restarting it", "stream", st.ID)
			if err := h.RemoveStream(ctx, st.ID); err != nil {
				errs = append(errs, err)
				continue
			}
			next.bindMetrics() // the removal forgot the id's series
			errs = append(errs, h.launchStream(ctx, next, st.FromAPI()))
		}
	}
	for id := range old {
		if !next[id] {
			errs = append(errs, h.RemoveStream(ctx, id))
		}
	}
	var out []error
	for _, e := range errs {
		if e != nil {
			out = append(out, e)
		}
	}
	if len(out) > 0 {
		return fmt.Errorf("reload: %w", errors.Join(out...))
	}
	h.log.Info("reload applied", "streams", len(cfg.Streams))
	return nil
}

// sameStream compares stream settings, ignoring where they were written.
func sameStream(a, b config.Stream) bool {
	a.Pos, b.Pos = config.Pos{}, config.Pos{}
	a.Plugins, b.Plugins = slices.Clone(a.Plugins), slices.Clone(b.Plugins)
	for i := range a.Plugins {
		a.Plugins[i].Pos, a.Plugins[i].AttrPos = config.Pos{}, nil
	}
	for i := range b.Plugins {
		b.Plugins[i].Pos, b.Plugins[i].AttrPos = config.Pos{}, nil
	}
	return reflect.DeepEqual(a, b)
}
