// Package host wires capture, shared memory, plugins, segments, storage and
// the API into one running lsie host.
package host

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/lsie-mlf/lsie/host/api"
	"github.com/lsie-mlf/lsie/host/capture"
	"github.com/lsie-mlf/lsie/host/config"
	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/plugin"
	"github.com/lsie-mlf/lsie/host/segment"
	"github.com/lsie-mlf/lsie/host/store"
	"github.com/lsie-mlf/lsie/host/store/sqlite"
	"github.com/lsie-mlf/lsie/shm"
)

// Options are the host's settings that do not come from the config file.
type Options struct {
	PluginDir string
	Version   string
	Logger    hclog.Logger
	// OnSegment, if set, sees every closed segment (the CLI prints them).
	OnSegment func(model.Segment)
	// PluginStartTimeout bounds a plugin's handshake.
	PluginStartTimeout time.Duration
	// ExitWhenDone makes Run return once every stream has ended.
	ExitWhenDone bool
}

// Host is one running lsie host.
type Host struct {
	cfg   *config.Config
	opts  Options
	log   hclog.Logger
	runID string

	store   store.Store
	api     *api.Server
	procs   map[string]*plugin.Process
	streams []*streamRunner

	segs     chan model.Segment
	regionID atomic.Uint32
	apiAddr  string

	closeOnce    sync.Once
	storeDone    chan struct{}
	storeRunning bool
}

// New validates cfg against the plugins directory, opens the store, starts
// the plugin processes and builds every stream's pipeline. Nothing runs
// until Run. On error, whatever was started is stopped again.
func New(cfg *config.Config, opts Options) (_ *Host, err error) {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.PluginStartTimeout == 0 {
		opts.PluginStartTimeout = 10 * time.Second
	}
	h := &Host{cfg: cfg, opts: opts, log: opts.Logger, runID: newRunID(),
		procs: map[string]*plugin.Process{}, segs: make(chan model.Segment, 1024), storeDone: make(chan struct{})}
	defer func() {
		if err != nil {
			h.stopStarted()
		}
	}()
	if len(cfg.Streams) == 0 {
		return nil, errors.New("config has no stream blocks: nothing to run")
	}
	// Resolve every plugin binary before starting anything, so a typo fails fast.
	bins := map[string]plugin.Binary{}
	for _, st := range cfg.Streams {
		for _, p := range st.Plugins {
			if _, ok := bins[p.Name]; ok {
				continue
			}
			b, err := plugin.Find(opts.PluginDir, p.Name)
			if err != nil {
				return nil, fmt.Errorf("stream %q (%s:%d): %w", st.ID, p.Pos.File, p.Pos.Line, err)
			}
			bins[p.Name] = b
		}
	}
	if h.store, err = sqlite.Open(cfg.Store.SQLite, h.log.Named("store")); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	names := make([]string, 0, len(bins))
	for n := range bins {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p, err := plugin.Start(bins[n], plugin.Options{StartTimeout: opts.PluginStartTimeout, Logger: h.log.Named("plugin")})
		if err != nil {
			return nil, err
		}
		h.procs[n] = p
		h.log.Info("plugin started", "plugin", n, "version", p.Manifest().GetVersion(), "sha256", bins[n].SHA256[:12])
	}
	for i, st := range cfg.Streams {
		if err := h.addStream(st, uint32(i+1)); err != nil {
			return nil, err
		}
	}
	if cfg.API.Listen != "" {
		h.api = api.New(api.Config{Listen: cfg.API.Listen}, h.store, h, h.log.Named("api"))
	}
	return h, nil
}

func newRunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (h *Host) nextRegionID() uint32 { return h.regionID.Add(1) }

func (h *Host) addStream(st config.Stream, handle uint32) error {
	s := &streamRunner{cfg: st, handle: handle, h: h, log: h.log.Named("stream").With("stream", st.ID), lossless: !st.Realtime}
	s.setHealth(model.HealthStarting, "")
	var infos []segment.PluginInfo
	for i, ref := range st.Plugins {
		proc := h.procs[ref.Name]
		c := newConsumer(shm.ConsumerID(i+1), ref.Name, proc, s, ref.Window)
		s.consumers = append(s.consumers, c)
		infos = append(infos, segment.PluginInfo{Name: ref.Name, Version: proc.Manifest().GetVersion(), Audio: c.wantsAudio})
	}
	live := st.Realtime
	s.asm = segment.New(segment.Config{
		StreamID: st.ID, Duration: h.cfg.Segment.Duration, MaxCloseDelay: h.cfg.Segment.MaxCloseDelay,
		Plugins: infos, UTCGrid: live, Live: live, AudioRate: capture.AudioRate,
	}, h.emit)
	c, err := capture.New(capture.Config{StreamID: st.ID, Source: st.Source, FPS: st.Video.FPS,
		MaxWidth: st.Video.MaxWidth, Realtime: st.Realtime, Loop: st.Loop, Logger: s.log}, s)
	if err != nil {
		return fmt.Errorf("stream %q: %w", st.ID, err)
	}
	s.cap = c
	h.streams = append(h.streams, s)
	return nil
}

func (h *Host) emit(seg model.Segment) {
	if h.opts.OnSegment != nil {
		h.opts.OnSegment(seg)
	}
	h.segs <- seg
}

// storeLoop writes closed segments; one writer keeps SQLite simple.
func (h *Host) storeLoop() {
	defer close(h.storeDone)
	for seg := range h.segs {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := h.store.SaveSegment(ctx, h.runID, seg); err != nil {
			h.log.Error("saving segment", "stream", seg.StreamID, "index", seg.Index, "error", err)
		}
		cancel()
	}
}

// APIAddr is the address the API listens on, once Run has started it.
func (h *Host) APIAddr() string { return h.apiAddr }

// Run starts the API and every stream and blocks until ctx is cancelled
// (or, with ExitWhenDone, until every stream has ended).
func (h *Host) Run(ctx context.Context) error {
	bg := context.Background()
	for _, s := range h.streams {
		if err := h.store.UpsertStream(bg, model.Stream{ID: s.cfg.ID, Source: s.cfg.Source.URI, Health: model.HealthStarting,
			Plugins: pluginNames(s), StartedAt: time.Now().UTC()}); err != nil {
			return fmt.Errorf("store: %w", err)
		}
		for _, c := range s.consumers {
			b := c.proc.Binary()
			if err := h.store.RecordPluginRun(bg, model.PluginRun{RunID: h.runID, StreamID: s.cfg.ID, Plugin: c.name,
				Version: c.proc.Manifest().GetVersion(), SHA256: b.SHA256, Path: b.Path, Started: time.Now().UTC()}); err != nil {
				return fmt.Errorf("store: %w", err)
			}
		}
	}
	h.storeRunning = true
	go h.storeLoop()
	if h.api != nil {
		addr, err := h.api.Start()
		if err != nil {
			return fmt.Errorf("api: listen on %s: %w", h.cfg.API.Listen, err)
		}
		h.apiAddr = addr
		h.log.Info("API listening", "addr", "http://"+addr+"/api/v1/health")
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, s := range h.streams {
		s.ctx = runCtx
		for _, c := range s.consumers {
			if err := c.proc.OpenStream(runCtx, s.handle, s.cfg.ID, c.attrs(), c.onResult); err != nil {
				return err
			}
		}
	}
	for _, s := range h.streams {
		for _, c := range s.consumers {
			go c.sendAudio()
		}
	}
	var wg sync.WaitGroup
	for _, s := range h.streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.run(runCtx)
			h.persistHealth(s)
		}()
	}
	for _, p := range h.procs {
		go h.watchProcess(runCtx, p)
	}
	allDone := make(chan struct{})
	go func() { wg.Wait(); close(allDone) }()
	ended := allDone // stays valid after allDone is silenced below
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			cancel()
			for _, s := range h.streams {
				for _, c := range s.consumers {
					c.wake()
				}
			}
			<-ended
			return nil
		case <-allDone:
			if h.opts.ExitWhenDone {
				return nil
			}
			allDone = nil // keep serving the API until cancelled
		case <-tick.C:
			h.tick()
		}
	}
}

func pluginNames(s *streamRunner) []string {
	out := make([]string, len(s.consumers))
	for i, c := range s.consumers {
		out[i] = c.name
	}
	return out
}

func (c *consumer) attrs() map[string]string {
	for _, p := range c.s.cfg.Plugins {
		if p.Name == c.name {
			return p.Attributes
		}
	}
	return nil
}

func (h *Host) persistHealth(s *streamRunner) {
	ch := s.componentHealth()
	if err := h.store.SetStreamHealth(context.Background(), s.cfg.ID, ch.Health, ch.Hint); err != nil {
		h.log.Warn("saving stream health", "stream", s.cfg.ID, "error", err)
	}
}

// tick closes overdue segments and kills plugins that hold leases past
// their deadline (hung): only after they are dead are slots reclaimed.
func (h *Host) tick() {
	now := time.Now()
	for _, s := range h.streams {
		s.asm.Tick()
		s.mu.Lock()
		pools := append([]*shm.Pool(nil), s.pools...)
		s.mu.Unlock()
		for _, p := range pools {
			for _, l := range p.Expired(now) {
				c := s.consumers[int(l.Consumer)-1]
				h.log.Error("plugin holds a frame past its lease deadline; killing it", "plugin", c.name, "stream", s.cfg.ID, "slot", l.Slot)
				go c.proc.Close()
			}
		}
	}
}

// watchProcess marks a plugin's consumers dead when its process exits.
func (h *Host) watchProcess(ctx context.Context, p *plugin.Process) {
	select {
	case <-ctx.Done():
		return
	case <-p.Exited():
	}
	h.log.Error("plugin process exited", "plugin", p.Binary().Name)
	for _, s := range h.streams {
		s.mu.Lock()
		pools := append([]*shm.Pool(nil), s.pools...)
		s.mu.Unlock()
		for _, c := range s.consumers {
			if c.proc == p {
				c.died(pools)
			}
		}
	}
}

// Health reports the host's and each component's state (api.HealthSource).
func (h *Host) Health() model.HostHealth {
	out := model.HostHealth{Status: model.HealthOK, Version: h.opts.Version}
	worst := func(x model.Health) {
		if x == model.HealthError {
			out.Status = model.HealthDegraded // one bad stream degrades, not kills, the host
		}
	}
	for _, s := range h.streams {
		ch := s.componentHealth()
		worst(ch.Health)
		out.Components = append(out.Components, ch)
	}
	names := make([]string, 0, len(h.procs))
	for n := range h.procs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := h.procs[n]
		ch := model.ComponentHealth{Name: n, Kind: "plugin", Health: model.HealthOK,
			Counters: map[string]int64{}}
		select {
		case <-p.Exited():
			ch.Health, ch.Hint = model.HealthError, "plugin process exited; see the host log for its last stderr lines"
			worst(ch.Health)
		default:
		}
		out.Components = append(out.Components, ch)
	}
	out.Components = append(out.Components, model.ComponentHealth{Name: "sqlite", Kind: "store", Health: model.HealthOK})
	return out
}

// Close stops plugins and the API and flushes the store. Safe to call twice.
func (h *Host) Close() error {
	var err error
	h.closeOnce.Do(func() { err = h.stopStarted() })
	return err
}

func (h *Host) stopStarted() error {
	for _, s := range h.streams {
		s.close()
	}
	var errs []error
	if h.api != nil {
		errs = append(errs, h.api.Close())
	}
	for _, p := range h.procs {
		_ = p.Close()
	}
	if h.store != nil {
		close(h.segs)
		if h.storeRunning {
			<-h.storeDone // every closed segment is on disk before we exit
		}
		for _, s := range h.streams {
			h.persistHealth(s)
		}
		errs = append(errs, h.store.Close())
	}
	return errors.Join(errs...)
}
