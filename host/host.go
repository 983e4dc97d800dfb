// Package host wires capture, shared memory, plugins, segments, storage and
// the API into one running lsie host.
package host

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/lsie-mlf/lsie/host/api"
	"github.com/lsie-mlf/lsie/host/capture"
	"github.com/lsie-mlf/lsie/host/capture/worker"
	"github.com/lsie-mlf/lsie/host/config"
	"github.com/lsie-mlf/lsie/host/graph"
	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/notify"
	"github.com/lsie-mlf/lsie/host/plugin"
	"github.com/lsie-mlf/lsie/host/rules"
	"github.com/lsie-mlf/lsie/host/segment"
	"github.com/lsie-mlf/lsie/host/spool"
	"github.com/lsie-mlf/lsie/host/store"
	"github.com/lsie-mlf/lsie/host/store/postgres"
	"github.com/lsie-mlf/lsie/host/store/sqlite"
	"github.com/lsie-mlf/lsie/sdk/topic"
	"github.com/lsie-mlf/lsie/shm"
	"github.com/lsie-mlf/lsie/shm/cuda"
)

// Options are the host's settings that do not come from the config file.
type Options struct {
	PluginDir string
	// PluginLock is the plugins.lock file to verify plugin binaries
	// against; "" means PluginDir/plugins.lock when it exists. With a lock,
	// every plugin must have an entry and runs from a verified private copy
	// (plugin.Catalog).
	PluginLock string
	Version    string
	Logger     hclog.Logger
	// OnSegment, if set, sees every closed segment (the CLI prints them).
	OnSegment func(model.Segment)
	// OnAlert, if set, sees every alert opened or ended (the CLI prints
	// them). It must not block.
	OnAlert func(model.Alert)
	// PluginStartTimeout bounds a plugin's handshake.
	PluginStartTimeout time.Duration
	// ExitWhenDone makes Run return once every stream has ended.
	ExitWhenDone bool
	// LeaseTimeout is how long a plugin may hold a frame before it counts
	// as hung and is killed (then restarted). Zero means 30 s.
	LeaseTimeout time.Duration
	// Restart is the plugins' restart policy; zero means the default.
	Restart plugin.RestartPolicy
	// ConfigDir anchors relative file sources of streams added through
	// the API, as the config file's directory does for its own streams.
	ConfigDir string

	// CaptureWorker is the executable that runs each host-memory stream's
	// capture in a process of its own (a host binary that calls
	// worker.MaybeRun first: lsie-host itself); "" captures in this
	// process. GPU streams always capture in this process.
	CaptureWorker string
	// CaptureLogLevel and CaptureLogJSON configure the workers' logs.
	CaptureLogLevel string
	CaptureLogJSON  bool

	// devices replaces this build's GPU frame pools (tests: a host-memory
	// stand-in, as no GPU is at hand).
	devices deviceProvider
}

// Host is one running lsie host.
type Host struct {
	cfg  *config.Config
	opts Options
	log  hclog.Logger

	store   store.Store
	api     *api.Server
	mu      sync.Mutex // guards sups and streams, which change at run time
	sups    map[string]*plugin.Supervisor
	plugins *plugin.Catalog // resolves (and verifies) plugin binaries
	// spares starts capture processes, one ahead (CaptureWorker set).
	spares *worker.Spares
	// run is the host's private directory for plugin sockets and copies.
	run     *plugin.RunDir
	streams []*streamRunner
	runCtx  context.Context
	handles atomic.Uint32
	running atomic.Int64
	wg      sync.WaitGroup
	ended   chan struct{}

	// w writes closed segments and run markers through the spool.
	w        *writer
	regionID atomic.Uint32
	apiAddr  string
	// restarted names the streams whose last run a killed host left open:
	// their next run's first segment says host_restarted. Guarded by mu.
	restarted map[string]bool
	// unrestored names the stored API streams that could not start again,
	// with why. Guarded by mu.
	unrestored map[string]string

	obs        observers
	healthLast map[string]model.Health // owned by Run's loop

	closeOnce     sync.Once
	writerRunning bool
	// losses sums what each stream's runs lost (Loss).
	losses lossLedger
	// rules are the compiled rules of fileRules and apiRules (the config
	// file's, those added through the API); each stream runs those that
	// watch it. Guarded by rulesMu.
	rulesMu             sync.Mutex
	rules               []*rules.Rule
	fileRules, apiRules []config.Rule
	// receivers deliver alerts (config.Notify) until notifyStop; notifyWG
	// waits for their loops.
	receivers  []*notify.Receiver
	notifyStop context.CancelFunc
	notifyWG   sync.WaitGroup
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
	if opts.LeaseTimeout == 0 {
		opts.LeaseTimeout = 30 * time.Second
	}
	if opts.Restart == (plugin.RestartPolicy{}) {
		opts.Restart = plugin.DefaultRestartPolicy()
	}
	h := &Host{cfg: cfg, opts: opts, log: opts.Logger, sups: map[string]*plugin.Supervisor{}, ended: make(chan struct{}, 1)}
	defer func() {
		if err != nil {
			h.stopStarted()
		}
	}()
	if len(cfg.Streams) == 0 {
		return nil, errors.New("config has no stream blocks: nothing to run")
	}
	for _, st := range cfg.Streams {
		if err := h.checkMemory(st); err != nil {
			return nil, err // before anything is started or opened
		}
	}
	// Resolve every plugin binary before starting anything, so a typo fails
	// fast: per plugin name, the newest version that the constraints of
	// every stream using it allow (one process serves them all), checked
	// against plugins.lock when there is one.
	lock, err := plugin.OpenLock(opts.PluginDir, opts.PluginLock)
	if err != nil {
		return nil, err
	}
	if h.run, err = plugin.OpenRunDir(); err != nil {
		return nil, err
	}
	h.plugins = plugin.NewCatalog(opts.PluginDir, lock, h.pluginOptions())
	bins := map[string]plugin.Binary{}
	wants := map[string][]plugin.Want{}
	var order []string              // plugin names, first use first
	firstUse := map[string]string{} // name → `stream "ID" (FILE:LINE:COL)`
	for _, st := range cfg.Streams {
		for _, p := range st.Plugins {
			w, err := pluginWant(st.ID, p)
			if err != nil {
				return nil, err
			}
			if _, ok := wants[p.Name]; !ok {
				order = append(order, p.Name)
				firstUse[p.Name] = fmt.Sprintf("stream %q (%s)", st.ID, p.Pos)
			}
			wants[p.Name] = append(wants[p.Name], w)
		}
	}
	for _, n := range order {
		b, err := h.plugins.Resolve(n, wants[n]...)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", firstUse[n], err)
		}
		bins[n] = b
	}
	if cfg.Store.Postgres != "" {
		// Bounded: an unreachable server must fail the start, not hang it.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		h.store, err = postgres.Open(ctx, cfg.Store.Postgres, h.log.Named("store"))
		cancel()
	} else {
		h.store, err = sqlite.Open(cfg.Store.SQLite, h.log.Named("store"))
	}
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	sp, err := spool.Open(cfg.Store.SpoolDir(), int64(cfg.Store.SpoolMaxMB)<<20)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	h.w = newWriter(h, sp)
	h.buildObservers()
	if opts.CaptureWorker != "" {
		h.spares = worker.NewSpares(opts.CaptureWorker)
	}
	names := make([]string, 0, len(bins))
	for n := range bins {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		sup := plugin.NewSupervisor(bins[n], h.pluginOptions(),
			opts.Restart, plugin.Hooks{Started: h.pluginRestarted, Down: h.pluginDown, Exited: h.pluginExited, GaveUp: h.pluginGaveUp})
		p, err := sup.Start()
		if err != nil {
			return nil, err
		}
		h.mu.Lock()
		h.sups[n] = sup
		h.mu.Unlock()
		h.log.Info("plugin started", "plugin", n, "version", p.Manifest().GetVersion(), "sha256", bins[n].SHA256[:12],
			"file", bins[n].File(), "locked", bins[n].Locked)
	}
	h.fileRules = cfg.Rules
	h.loadStoredRules(context.Background())
	if h.rules, err = CompileRules(&config.Config{Rules: append(append([]config.Rule{}, cfg.Rules...), h.apiRules...),
		Streams: cfg.Streams}, h.manifestOf); err != nil {
		return nil, err
	}
	for _, n := range cfg.Notify {
		r, err := notify.Open(n, filepath.Join(cfg.Store.SpoolDir(), "notify", n.Name), h.log.Named("notify"))
		if err != nil {
			return nil, err
		}
		h.receivers = append(h.receivers, r)
	}
	for _, st := range cfg.Streams {
		s, err := h.buildStream(st, h.handles.Add(1))
		if err != nil {
			return nil, err
		}
		h.streams = append(h.streams, s)
	}
	if cfg.API.Listen != "" {
		h.api = api.New(h.apiConfig(), h.store, h, h.log.Named("api"))
		h.api.SetStreams(h, opts.ConfigDir, cfg.Sources)
	}
	return h, nil
}

// pluginOptions is how this host starts plugin processes.
func (h *Host) pluginOptions() plugin.Options {
	return plugin.Options{StartTimeout: h.opts.PluginStartTimeout, Logger: h.log.Named("plugin"), RunDir: h.run}
}

func newRunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (h *Host) nextRegionID() uint32 { return h.regionID.Add(1) }

// buildStream builds a stream's runner and pipeline; startStream runs it.
func (h *Host) buildStream(st config.Stream, handle uint32) (*streamRunner, error) {
	if err := h.checkMemory(st); err != nil {
		return nil, err
	}
	s := &streamRunner{cfg: st, handle: handle, h: h, log: h.log.Named("stream").With("stream", st.ID), lossless: !st.Realtime,
		captureToSlot: h.obs.metrics.CaptureToSlot(st.ID)}
	s.setHealth(model.HealthStarting, "")
	attrs, err := h.streamAttributes(st)
	if err != nil {
		return nil, err
	}
	var infos []segment.PluginInfo
	byName := map[string]*consumer{}
	inOrder := make([]*consumer, 0, len(st.Plugins)) // config order
	nodes := make([]graph.Node, 0, len(st.Plugins))
	for i, ref := range st.Plugins {
		proc := h.supervisor(ref.Name).Current()
		c := newConsumer(shm.ConsumerID(i+1), ref.Name, proc, s, ref.Window)
		c.attrValues = attrs[ref.Name]
		if ref.EventBound > 0 {
			c.msg.bound = ref.EventBound
		}
		byName[ref.Name] = c
		inOrder = append(inOrder, c)
		infos = append(infos, segment.PluginInfo{Name: ref.Name, Version: proc.Manifest().GetVersion(), Audio: c.wantsAudio})
		m := proc.Manifest()
		nodes = append(nodes, graph.Node{Name: ref.Name, Inputs: m.GetInputs(), Outputs: m.GetOutputs()})
	}
	g, err := graph.Build(nodes)
	if err == nil {
		s.tensors, err = assignVideo(st.Video.Memory, inOrder)
	}
	if err == nil {
		err = s.setupGates(st, byName)
	}
	s.newRules(st)
	if err != nil {
		return nil, wiringError(st, err)
	}
	s.routes = map[string]map[string][]*consumer{}
	for _, name := range g.Order {
		c := byName[name]
		c.subscribes = len(g.Subscriptions[name]) > 0
		s.consumers = append(s.consumers, c)
		for t, subs := range g.Consumers[name] {
			if s.routes[name] == nil {
				s.routes[name] = map[string][]*consumer{}
			}
			for _, sub := range subs {
				s.routes[name][t] = append(s.routes[name][t], byName[sub])
			}
		}
	}
	live := st.Realtime
	s.asm = segment.New(segment.Config{
		StreamID: st.ID, Duration: h.cfg.Segment.Duration, MaxCloseDelay: h.cfg.Segment.MaxCloseDelay,
		Plugins: infos, UTCGrid: live, Live: live, AudioRate: capture.AudioRate, OnLate: s.onLate,
	}, s.emit)
	format := shm.FormatRGB24
	var gpu *capture.GPU
	if st.Video.Memory == config.MemoryCUDA {
		format = shm.FormatNV12 // decoders' own format: half the bytes of RGB to upload
		if gpu, err = h.devices().Decoder(st.Video.GPU); err != nil {
			s.log.Info("frames are scaled and converted on the CPU, then uploaded from pinned memory", "reason", err)
		} else {
			s.log.Info("frames are scaled and converted on the GPU (nvcodec) and copied device to device")
		}
	}
	ccfg := capture.Config{StreamID: st.ID, Source: st.Source, FPS: st.Video.FPS,
		MaxWidth: st.Video.MaxWidth, Realtime: st.Realtime, Loop: st.Loop, Logger: s.log, Format: format, GPU: gpu}
	c, err := capture.New(ccfg, s)
	if err != nil {
		return nil, fmt.Errorf("stream %q: %w", st.ID, err)
	}
	s.cap = c
	if h.opts.CaptureWorker != "" && st.Video.Memory != config.MemoryCUDA {
		// Built here too, to refuse what cannot run before anything
		// starts; the worker process builds its own and runs it.
		_ = c.Close()
		s.cap = s.newWorker(ccfg)
	}
	return s, nil
}

// assignVideo decides what video each consumer reads: the frames in the
// memory they live in (view 0), or on a GPU stream the model input its
// manifest declares (video.rgbf32.cuda), one view per distinct input however
// many plugins share it, in first-use order. A plugin that takes video only
// in the other memory, or declares a model input badly, is a problem named
// by plugin rather than a stream fed frames it cannot read.
func assignVideo(memory string, consumers []*consumer) ([]cuda.PreprocessSpec, error) {
	gpu := memory == config.MemoryCUDA
	var probs graph.Problems
	var tensors []cuda.PreprocessSpec
	for _, c := range consumers {
		m := c.process().Manifest()
		in := m.GetInputs()
		rgb := slices.Contains(in, topic.VideoRGB24)
		tensor := slices.Contains(in, topic.VideoRGBF32CUDA)
		device := tensor || slices.Contains(in, topic.VideoNV12CUDA)
		switch {
		case gpu && rgb && !device:
			probs = append(probs, graph.Problem{Plugin: c.name, Message: fmt.Sprintf(
				"consumes %s (frames in host memory) but the stream has video.memory = \"cuda\": "+
					"the plugin must declare %s (sdk.TopicVideoNV12CUDA), or the stream use memory = \"host\"", topic.VideoRGB24, topic.VideoNV12CUDA)})
		case !gpu && device && !rgb:
			probs = append(probs, graph.Problem{Plugin: c.name, Message: fmt.Sprintf(
				"consumes frames in GPU memory (%s or %s) but the stream has video.memory = \"host\": "+
					"set video { memory = \"cuda\" } on a host built with -tags cuda, or use a plugin that declares %s",
				topic.VideoNV12CUDA, topic.VideoRGBF32CUDA, topic.VideoRGB24)})
		}
		c.wantsVideo = gpu && device || !gpu && rgb
		if !gpu || !tensor {
			continue
		}
		spec, err := deviceInputSpec(m)
		if err != nil {
			probs = append(probs, graph.Problem{Plugin: c.name, Message: err.Error()})
			continue
		}
		i := slices.Index(tensors, spec)
		if i < 0 {
			i = len(tensors)
			tensors = append(tensors, spec)
		}
		c.view = 1 + i
	}
	if len(probs) > 0 {
		return nil, probs
	}
	return tensors, nil
}

// wiringError points each plugin-graph problem at its plugin block.
func wiringError(st config.Stream, err error) error {
	var probs graph.Problems
	var diags config.Diagnostics
	switch {
	case errors.As(err, &diags):
		return err // positioned and named already
	case !errors.As(err, &probs):
		return fmt.Errorf("stream %q: %w", st.ID, err)
	}
	var ds config.Diagnostics
	for _, p := range probs {
		d := config.Diagnostic{Pos: st.Pos, Field: fmt.Sprintf("stream %q: plugin %q", st.ID, p.Plugin), Message: p.Message}
		for _, ref := range st.Plugins {
			if ref.Name == p.Plugin {
				d.Pos = ref.Pos
			}
		}
		ds = append(ds, d)
	}
	return ds
}

// streamList is a snapshot of the running streams.
func (h *Host) streamList() []*streamRunner {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.streams)
}

// supervisors is a snapshot of the plugin supervisors, by name in order:
// AddStream adds to them while the API, the tick and health read them.
func (h *Host) supervisors() []*plugin.Supervisor {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*plugin.Supervisor, 0, len(h.sups))
	for _, n := range slices.Sorted(maps.Keys(h.sups)) {
		out = append(out, h.sups[n])
	}
	return out
}

// supervisor returns the supervisor of a running plugin.
func (h *Host) supervisor(name string) *plugin.Supervisor {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sups[name]
}

// startStream opens the stream on its plugins, records it and a new run
// of it, and runs it. A plugin that refuses the stream (its attributes,
// say) fails this stream alone, before anything about it is stored
// (refusedError).
func (h *Host) startStream(ctx context.Context, s *streamRunner) error {
	bg := context.Background()
	started := time.Now().UTC()
	sctx, cancel := context.WithCancel(ctx)
	s.ctx, s.cancel, s.done = sctx, cancel, make(chan struct{})
	fail := func(opened []*consumer, err error) error {
		for _, c := range opened {
			_ = c.process().CloseStream(bg, s.handle)
		}
		cancel()
		close(s.done)
		return err
	}
	for i, c := range s.consumers {
		// Bounded: a plugin that never answers must not hold the caller
		// (the API, the host's start) for longer than a handshake.
		octx, ocancel := context.WithTimeout(sctx, h.opts.PluginStartTimeout)
		err := c.process().OpenStream(octx, s.handle, s.cfg.ID, c.attrs(), c.onResult, c.onPublish)
		ocancel()
		if err != nil {
			return fail(s.consumers[:i], &refusedError{plugin: c.name, err: err})
		}
	}
	s.runID = newRunID()
	if h.takeRestarted(s.cfg.ID) {
		s.asm.FirstReason(model.ReasonHostRestarted)
	}
	if err := h.store.UpsertStream(bg, model.Stream{ID: s.cfg.ID, Source: s.cfg.Source.Redacted(), Health: model.HealthStarting,
		Plugins: pluginNames(s), StartedAt: started}); err != nil {
		return fail(s.consumers, fmt.Errorf("store: %w", err))
	}
	for _, c := range s.consumers {
		p := c.process()
		b := p.Binary()
		if err := h.store.RecordPluginRun(bg, model.PluginRun{RunID: s.runID, StreamID: s.cfg.ID, Plugin: c.name,
			Version: p.Manifest().GetVersion(), SHA256: b.SHA256, Path: b.Path, Started: time.Now().UTC()}); err != nil {
			return fail(s.consumers, fmt.Errorf("store: %w", err))
		}
	}
	// Recorded last: a run that never started is no hole.
	if err := h.store.StartRun(bg, model.StreamRun{RunID: s.runID, StreamID: s.cfg.ID, StartedAt: started}); err != nil {
		return fail(s.consumers, fmt.Errorf("store: %w", err))
	}
	for _, c := range s.consumers {
		go c.sendAudio()
		if c.subscribes {
			go c.deliverLoop()
		}
	}
	h.running.Add(1)
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer close(s.done)
		reason := s.run(sctx)
		h.endRun(s, reason)
		h.noteLoss(s)
		s.close() // its plugins keep no state for an ended stream
		s.ended(reason)
		h.persistHealth(s)
		h.running.Add(-1)
		select {
		case h.ended <- struct{}{}:
		default:
		}
	}()
	return nil
}

// refusedError is a plugin's refusal to open a stream (bad attributes, a
// model it cannot load): it costs that stream only, and the API answers
// 422 with the plugin's message.
type refusedError struct {
	plugin string
	err    error
}

func (e *refusedError) Error() string   { return e.err.Error() }
func (e *refusedError) Unwrap() []error { return []error{api.ErrUnrunnable, e.err} }

// emit hands a closed segment to the store writer (the assembler's
// callback).
func (s *streamRunner) emit(seg model.Segment) {
	seg.RunID = s.runID
	s.noteOutcomes(&seg)
	if s.h.opts.OnSegment != nil {
		s.h.opts.OnSegment(seg)
	}
	s.h.w.put(&record{Kind: recSegment, RunID: s.runID, StreamID: seg.StreamID, Segment: &seg})
	s.rules.Segment(seg)
}

// endRun records the end of a stream's run behind its segments and waits
// until they are stored, so that "ended" means stored. A stream stopped
// by the host (shutdown, removal) waits only until they are spooled: the
// store may be down, and the next start stores them.
func (h *Host) endRun(s *streamRunner, reason string) {
	s.closeLate() // late results so far go ahead of the run's end
	h.w.put(&record{Kind: recRunEnd, RunID: s.runID, StreamID: s.cfg.ID, At: time.Now().UTC(), Reason: reason})
	b := h.w.flush()
	select {
	case <-b.stored:
	case <-s.ctx.Done():
		<-b.spooled
	}
}

// findLostRuns queues a lost_run record for every run that a host which
// stopped without ending it left open (SIGKILL, power loss), behind
// whatever waits in the spool, and notes the streams concerned. A run
// whose end waits in the spool ended cleanly.
func (h *Host) findLostRuns(ctx context.Context) {
	runs, err := h.store.OpenRuns(ctx)
	if err != nil {
		h.log.Warn("cannot look for runs a killed host left open; holes of the last run are not recorded", "error", err)
		return
	}
	if len(runs) == 0 {
		return
	}
	endedInSpool := h.w.spooledRunEnds()
	now := time.Now().UTC()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.restarted = map[string]bool{}
	for _, r := range runs {
		if endedInSpool[r.RunID] {
			continue
		}
		h.restarted[r.StreamID] = true
		h.w.put(&record{Kind: recLostRun, RunID: r.RunID, StreamID: r.StreamID, At: now})
	}
}

// takeRestarted reports, once, whether stream id's last run was cut short
// by a killed host.
func (h *Host) takeRestarted(id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	ok := h.restarted[id]
	delete(h.restarted, id)
	return ok
}

// APIAddr is the address the API listens on, once Run has started it.
func (h *Host) APIAddr() string { return h.apiAddr }

// Run starts the API and every stream and blocks until ctx is cancelled
// (or, with ExitWhenDone, until every stream has ended).
func (h *Host) Run(ctx context.Context) error {
	h.findLostRuns(ctx) // before the writer runs: it reads the spool
	h.writerRunning = true
	go h.w.run()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	h.mu.Lock()
	h.runCtx = runCtx
	h.mu.Unlock()
	for _, sup := range h.supervisors() {
		go sup.Run(runCtx)
	}
	for _, s := range h.streamList() {
		if err := h.startStream(runCtx, s); err != nil {
			h.failedToStart(s, err)
		}
	}
	h.restoreStreams(runCtx)
	// Not runCtx: alerts ended by the shutdown go too, until Close.
	nctx, nstop := context.WithCancel(context.Background())
	h.notifyStop = nstop
	for _, r := range h.receivers {
		h.notifyWG.Add(1)
		go func() { defer h.notifyWG.Done(); r.Run(nctx) }()
	}
	// Not runCtx: Close drains the segments closed by the shutdown too.
	h.obs.enrich.Start(context.Background())
	if len(h.cfg.Telemetry.Sources) > 0 {
		go h.purgeLoop(runCtx, h.cfg.Telemetry)
	}
	h.healthLast = map[string]model.Health{}
	if h.api != nil {
		addr, err := h.api.Start()
		if err != nil {
			h.stopStreams(cancel)
			return fmt.Errorf("api: listen on %s: %w", h.cfg.API.Listen, err)
		}
		h.apiAddr = addr
		h.log.Info("API listening", "addr", "http://"+addr+"/api/v1/health", "console", "http://"+addr+"/")
	}
	if h.opts.ExitWhenDone && h.running.Load() == 0 {
		return errors.New("no stream could start; the log says why")
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			h.stopStreams(cancel)
			return nil
		case <-h.ended:
			if h.opts.ExitWhenDone && h.running.Load() == 0 {
				return nil
			}
		case <-tick.C:
			h.tick()
			h.healthWatch(h.healthLast)
		}
	}
}

// stopStreams ends every running stream and waits for them: nothing of a
// stream runs when Run returns, so Close may release what they use.
func (h *Host) stopStreams(cancel context.CancelFunc) {
	h.w.exiting()
	cancel()
	for _, s := range h.streamList() {
		for _, c := range s.consumers {
			c.wake()
		}
	}
	h.wg.Wait()
}

// failedToStart leaves a config stream that could not start in error, with
// why, while the others run: it costs that stream only.
func (h *Host) failedToStart(s *streamRunner, err error) {
	s.setHealth(model.HealthError, "could not start: "+err.Error())
	h.log.Error("stream could not start; the other streams run", "stream", s.cfg.ID, "error", err)
	s.close()
	if err := h.store.UpsertStream(context.Background(), model.Stream{ID: s.cfg.ID, Source: s.cfg.Source.Redacted(),
		Health: model.HealthError, Hint: "could not start: " + err.Error(), Plugins: pluginNames(s), StartedAt: time.Now().UTC()}); err != nil {
		h.log.Warn("saving stream health", "stream", s.cfg.ID, "error", err)
	}
}

func pluginNames(s *streamRunner) []string {
	out := make([]string, len(s.consumers))
	for i, c := range s.consumers {
		out[i] = c.name
	}
	return out
}

func (c *consumer) attrs() map[string]string { return c.attrValues }

func (h *Host) persistHealth(s *streamRunner) {
	ch := s.componentHealth()
	if err := h.store.SetStreamHealth(context.Background(), s.cfg.ID, ch.Health, ch.Hint); err != nil {
		h.log.Warn("saving stream health", "stream", s.cfg.ID, "error", err)
	}
}

// tick closes overdue segments and kills plugins that hold leases past
// their deadline (hung): only after they are dead are slots reclaimed. A
// plugin that still answers the stream is slow on it, not hung: killing
// it would cost every other stream it serves, so the stream waits (its
// pool's other slots go on; live frames past them are dropped and
// counted) and its health says so.
func (h *Host) tick() {
	now := time.Now()
	for _, s := range h.streamList() {
		s.asm.Tick()
		s.flushLate(false)
		for _, c := range s.consumers {
			c.mu.Lock()
			depth := len(c.inFlight) + len(c.audioQ) + len(c.audioInFlight)
			c.mu.Unlock()
			h.obs.metrics.QueueDepth(s.cfg.ID, c.name, depth)
		}
		slow := make([]bool, len(s.consumers))
		for _, p := range s.leases() {
			for _, l := range p.Expired(now) {
				i := int(l.Consumer) - 1
				c := s.consumers[i]
				if c.isDead() {
					continue
				}
				if now.Sub(time.Unix(0, c.answeredAt.Load())) < h.opts.LeaseTimeout {
					slow[i] = true
					continue
				}
				h.log.Error("plugin holds a frame past its lease deadline and answers nothing on the stream; killing it",
					"plugin", c.name, "stream", s.cfg.ID, "slot", l.Slot)
				h.supervisor(c.name).Kill(fmt.Sprintf("held a frame of stream %q past its %s lease", s.cfg.ID, h.opts.LeaseTimeout))
			}
		}
		for i, c := range s.consumers {
			if c.slowLease.Swap(slow[i]) != slow[i] && slow[i] {
				s.log.Warn("plugin holds frames past their lease but still answers the stream: too slow for it; not killed, as it serves other streams",
					"plugin", c.name, "lease", h.opts.LeaseTimeout)
			}
		}
	}
}

// pluginRestarted reattaches every consumer of a restarted plugin.
func (h *Host) pluginRestarted(p *plugin.Process, restart bool) {
	if !restart || h.runCtx == nil {
		return
	}
	h.obs.metrics.PluginRestarts(p.Binary().Name)
	for _, s := range h.streamList() {
		if s.isClosed() {
			continue // ended: nothing to reopen
		}
		for _, c := range s.consumers {
			if c.name != p.Binary().Name || c.failure() != "" {
				continue // a stream the plugin closed stays closed
			}
			ctx, cancel := context.WithTimeout(h.runCtx, 10*time.Second)
			if err := c.revive(ctx, p); err != nil {
				h.log.Error("reopening stream on restarted plugin", "plugin", c.name, "stream", s.cfg.ID, "error", err)
			}
			cancel()
		}
	}
}

// pluginDown stops every stream from sending to a plugin whose data plane
// broke; lossless streams wait for its restart.
func (h *Host) pluginDown(p *plugin.Process) {
	for _, s := range h.streamList() {
		for _, c := range s.consumers {
			if c.process() == p {
				c.markDown()
			}
		}
	}
}

// pluginGaveUp stops every stream from waiting for a plugin in error.
func (h *Host) pluginGaveUp(name string) {
	for _, s := range h.streamList() {
		for _, c := range s.consumers {
			if c.name == name {
				c.giveUp()
			}
		}
	}
}

// pluginExited marks a dead plugin's consumers dead and reclaims its slots:
// only now, with the process gone, can nobody still be reading them.
func (h *Host) pluginExited(p *plugin.Process) {
	for _, s := range h.streamList() {
		pools := s.leases()
		for _, c := range s.consumers {
			if c.process() == p {
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
	for _, s := range h.streamList() {
		ch := s.componentHealth()
		worst(ch.Health)
		out.Components = append(out.Components, ch)
	}
	h.mu.Lock()
	ids := slices.Sorted(maps.Keys(h.unrestored))
	for _, id := range ids {
		why := h.unrestored[id]
		if slices.ContainsFunc(out.Components, func(c model.ComponentHealth) bool { return c.Kind == "stream" && c.Name == id }) {
			continue // the file's stream of that id runs; the log says why
		}
		worst(model.HealthError)
		out.Components = append(out.Components, model.ComponentHealth{Name: id, Kind: "stream", Health: model.HealthError,
			Hint: "added through the API, not restored after the restart: " + why + "; fix it, or forget it with DELETE /api/v1/streams/" + id})
	}
	h.mu.Unlock()
	for _, sup := range h.supervisors() {
		health, hint, restarts := sup.Status()
		ch := model.ComponentHealth{Name: sup.Binary().Name, Kind: "plugin", Health: health, Hint: hint,
			Counters: map[string]int64{"restarts": int64(restarts)}}
		if p := sup.Current(); p != nil {
			// The running process's data-plane traffic: descriptors and
			// records only, so the largest packets stay far below a frame.
			dp := p.DataPlane()
			ch.Counters["dataplane_sent_packets"], ch.Counters["dataplane_sent_bytes"] = dp.SentPackets, dp.SentBytes
			ch.Counters["dataplane_max_sent_packet"] = dp.MaxSent
			ch.Counters["dataplane_received_packets"], ch.Counters["dataplane_received_bytes"] = dp.ReceivedPackets, dp.ReceivedBytes
			ch.Counters["dataplane_max_received_packet"] = dp.MaxReceived
		}
		if health != model.HealthOK {
			worst(model.HealthError)
		}
		out.Components = append(out.Components, ch)
	}
	storeName := "sqlite"
	if h.cfg.Store.Postgres != "" {
		storeName = "postgres"
	}
	out.Components = append(out.Components, h.w.health(storeName))
	for _, r := range h.receivers {
		out.Components = append(out.Components, r.Health())
	}
	return out
}

// FailedNotifications lists the alert deliveries that exhausted their
// attempts, every receiver's.
func (h *Host) FailedNotifications() []notify.Failed {
	var out []notify.Failed
	for _, r := range h.receivers {
		out = append(out, r.Failed()...)
	}
	return out
}

// Close stops plugins and the API and flushes the store. Safe to call twice.
func (h *Host) Close() error {
	var err error
	h.closeOnce.Do(func() { err = h.stopStarted() })
	return err
}

func (h *Host) stopStarted() error {
	for _, s := range h.streamList() {
		s.close()
	}
	var errs []error
	if h.api != nil {
		errs = append(errs, h.api.Close())
	}
	if h.obs.bus != nil {
		h.obs.bus.Close() // ends WebSocket subscriptions
	}
	if h.notifyStop != nil {
		h.notifyStop()
	}
	h.notifyWG.Wait()
	for _, r := range h.receivers {
		errs = append(errs, r.Close())
	}
	for _, sup := range h.supervisors() {
		sup.Close()
	}
	if h.plugins != nil {
		errs = append(errs, h.plugins.Close()) // the verified copies
	}
	if h.run != nil {
		// Sockets of plugins killed on the way. Not a failed exit if a
		// plugin still starting (a restart racing the shutdown) adds one
		// meanwhile: the next start sweeps what is left, as after a kill.
		if err := h.run.Close(); err != nil {
			h.log.Warn("removing the plugins' run directory; the next start removes it", "error", err)
		}
	}
	if h.spares != nil {
		h.spares.Close()
	}
	if h.store != nil {
		if h.writerRunning {
			h.w.close() // every closed segment is stored or spooled before we exit
		}
		if h.w != nil {
			errs = append(errs, h.w.sp.Close())
		}
		if h.obs.enrich != nil {
			errs = append(errs, h.obs.enrich.Close()) // before the store it writes to
		}
		for _, s := range h.streamList() {
			h.persistHealth(s)
		}
		errs = append(errs, h.store.Close())
	}
	return errors.Join(errs...)
}

// FieldInfo is one field a plugin's manifest declares.
type FieldInfo struct{ Name, Unit string }

// PluginFields lists the fields the running plugin name declares, in its
// manifest's order; nil when it is not running.
func (h *Host) PluginFields(name string) []FieldInfo {
	sup := h.supervisor(name)
	if sup == nil {
		return nil
	}
	p := sup.Current()
	if p == nil {
		return nil
	}
	var out []FieldInfo
	for _, f := range p.Manifest().GetFields() {
		out = append(out, FieldInfo{Name: f.GetName(), Unit: f.GetUnit()})
	}
	return out
}
