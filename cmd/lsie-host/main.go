// Command lsie-host runs the lsie live stream inference host.
package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/lsie-mlf/lsie/host"
	"github.com/lsie-mlf/lsie/host/capture/worker"
	"github.com/lsie-mlf/lsie/host/config"
	"github.com/lsie-mlf/lsie/host/graph"
	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/plugin"
	"github.com/lsie-mlf/lsie/host/semver"
	"github.com/lsie-mlf/lsie/sdk/proto/dataplane"
	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
	"github.com/lsie-mlf/lsie/sdk/transcript"
	"github.com/lsie-mlf/lsie/sdk/validate"
	"github.com/lsie-mlf/lsie/shm/cuda"
	"github.com/urfave/cli/v2"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// Exit statuses (README): 0 done, 1 an error (its line on stderr),
// exitDataLost with --exit-when-done when a stream lost accepted data (the
// summary line, "lsie: data lost: ...", is on stderr and in the log).
const exitDataLost = 3

func main() {
	worker.MaybeRun() // this binary is also each stream's capture process
	if err := newApp(os.Stdout, os.Stderr).Run(os.Args); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code) // what it says is printed already
		}
		fmt.Fprintln(os.Stderr, "lsie-host:", err)
		os.Exit(1)
	}
}

// exitError ends lsie-host with code once msg has been reported.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

func newApp(stdout, stderr io.Writer) *cli.App {
	logFlags := []cli.Flag{
		&cli.StringFlag{Name: "log-level", Value: "info", Usage: "trace, debug, info, warn or error", EnvVars: []string{"LSIE_LOG_LEVEL"}},
		&cli.StringFlag{Name: "log-format", Value: "text", Usage: "text or json", EnvVars: []string{"LSIE_LOG_FORMAT"}},
	}
	pluginsFlag := &cli.StringFlag{Name: "plugins", Value: "./plugins", Usage: "directory of plugin binaries", EnvVars: []string{"LSIE_PLUGINS"}}
	lockFlag := &cli.StringFlag{Name: "lock", Usage: "plugins.lock file to verify plugin binaries against (default: DIR/plugins.lock when it exists)", EnvVars: []string{"LSIE_PLUGINS_LOCK"}}
	return &cli.App{
		Name:      "lsie-host",
		Usage:     "live stream inference host: capture streams, run model plugins on shared-memory frames, store segments",
		Version:   version,
		Writer:    stdout,
		ErrWriter: stderr,
		Flags: append([]cli.Flag{
			pluginsFlag,
			lockFlag,
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Value: "configs/demo.hcl", Usage: "HCL config file", EnvVars: []string{"LSIE_CONFIG"}},
			&cli.BoolFlag{Name: "exit-when-done", Usage: "exit once every stream has ended (replays, tests)", EnvVars: []string{"LSIE_EXIT_WHEN_DONE"}},
			&cli.BoolFlag{Name: "quiet", Usage: "do not print a line per closed segment", EnvVars: []string{"LSIE_QUIET"}},
			&cli.DurationFlag{Name: "lease-timeout", Value: 30 * time.Second, Usage: "how long a plugin may hold a frame before it is killed as hung (and restarted)", EnvVars: []string{"LSIE_LEASE_TIMEOUT"}},
			&cli.BoolFlag{Name: "capture-in-process", Usage: "run every stream's GStreamer pipeline in the host process instead of a capture process per stream (a crash in one then ends the host)", EnvVars: []string{"LSIE_CAPTURE_IN_PROCESS"}},
		}, logFlags...),
		Action: run,
		Commands: []*cli.Command{
			{
				Name:  "config",
				Usage: "work with config files",
				Subcommands: []*cli.Command{{
					Name: "check",
					Usage: "validate a config file and print what it runs; with --plugins DIR, also resolve every plugin as the host " +
						"would, start it and open each stream on it with the stream's attributes",
					ArgsUsage: "FILE",
					Flags: []cli.Flag{
						&cli.StringFlag{Name: "plugins", Usage: "plugins directory to check the streams against (default: none, or the global --plugins / LSIE_PLUGINS when set)"},
						&cli.StringFlag{Name: "lock", Usage: "plugins.lock file (default: DIR/plugins.lock when it exists, or the global --lock / LSIE_PLUGINS_LOCK)"},
					},
					Action: configCheck,
				}},
			},
			{
				Name:  "plugins",
				Usage: "work with plugin binaries",
				Subcommands: []*cli.Command{{
					Name:   "ls",
					Usage:  "list every plugin file in a directory: name, version, protocol, topics, checksum, lock and status",
					Flags:  append([]cli.Flag{pluginsFlag, lockFlag}, logFlags...),
					Action: pluginsLs,
				}, {
					Name:      "inspect",
					Usage:     "start the plugin the host would run for NAME (or the file NAME@VERSION) and print its manifest, fields, checksum, lock and health",
					ArgsUsage: "NAME|NAME@VERSION",
					Flags: append([]cli.Flag{pluginsFlag, lockFlag,
						&cli.StringFlag{Name: "version", Usage: `version constraint, as in a plugin block (e.g. "~> 1.2")`},
					}, logFlags...),
					Action: pluginsInspect,
				}, {
					Name:  "lock",
					Usage: "write a plugins.lock pinning the newest version of each plugin (or every version) with its sha256",
					Flags: append([]cli.Flag{pluginsFlag,
						&cli.StringFlag{Name: "lock", Usage: "file to write (default: DIR/plugins.lock)", EnvVars: []string{"LSIE_PLUGINS_LOCK"}},
						&cli.BoolFlag{Name: "all", Usage: "lock every version in the directory, not only the newest of each plugin"},
					}, logFlags...),
					Action: pluginsLock,
				}},
			},
			{
				Name:  "version",
				Usage: "print the host and protocol versions",
				Action: func(c *cli.Context) error {
					fmt.Fprintf(c.App.Writer, "lsie-host %s (plugin protocol 1)\n", version)
					return nil
				},
			},
		},
	}
}

func newLogger(c *cli.Context) (hclog.Logger, error) {
	lvl := hclog.LevelFromString(c.String("log-level"))
	if lvl == hclog.NoLevel {
		return nil, fmt.Errorf("--log-level: %q is not one of trace, debug, info, warn, error", c.String("log-level"))
	}
	format := c.String("log-format")
	if format != "text" && format != "json" {
		return nil, fmt.Errorf("--log-format: %q is not text or json", format)
	}
	return hclog.New(&hclog.LoggerOptions{Name: "lsie", Level: lvl, Output: c.App.ErrWriter, JSONFormat: format == "json"}), nil
}

func run(c *cli.Context) error {
	if c.Args().Len() > 0 {
		return fmt.Errorf("unexpected argument %q (did you mean --config %s?)", c.Args().First(), c.Args().First())
	}
	log, err := newLogger(c)
	if err != nil {
		return err
	}
	cfg, err := config.Load(c.String("config"))
	if err != nil {
		return err
	}
	table := newSegmentTable(c.App.Writer, c.Bool("quiet"))
	path := c.String("config")
	opts := host.Options{PluginDir: c.String("plugins"), PluginLock: c.String("lock"), Version: version, Logger: log,
		OnSegment: table.print, OnAlert: table.alert, ExitWhenDone: c.Bool("exit-when-done"), LeaseTimeout: c.Duration("lease-timeout"),
		ConfigDir: filepath.Dir(path), CaptureLogLevel: c.String("log-level"), CaptureLogJSON: c.String("log-format") == "json"}
	if !c.Bool("capture-in-process") {
		if opts.CaptureWorker, err = os.Executable(); err != nil {
			return fmt.Errorf("finding this executable to run capture processes: %w (or use --capture-in-process)", err)
		}
	}
	h, err := host.New(cfg, opts)
	if err != nil {
		return err
	}
	table.fields = h.PluginFields
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go reloadOnHUP(ctx, h, path, log)
	runErr := h.Run(ctx)
	log.Info("shutting down")
	if err := errors.Join(runErr, h.Close()); err != nil {
		return err
	}
	return reportLoss(c, log, h.Loss())
}

// reportLoss says, in one line on stderr and in the log, what the streams
// lost of the data the host accepted (or, with nothing lost, what came
// late and was attached to its closed segment). With --exit-when-done a
// loss makes the exit status exitDataLost.
func reportLoss(c *cli.Context, log hclog.Logger, rep host.LossReport) error {
	line := rep.Summary()
	if line == "" {
		return nil
	}
	if rep.Lost() {
		log.Error(line)
	} else {
		log.Info(line)
	}
	fmt.Fprintln(c.App.ErrWriter, "lsie: "+line)
	if rep.Lost() && c.Bool("exit-when-done") {
		return exitError{code: exitDataLost, msg: line}
	}
	return nil
}

// reloadOnHUP re-reads the config file on SIGHUP and applies its streams;
// a config with errors is reported and the running one kept.
func reloadOnHUP(ctx context.Context, h *host.Host, path string, log hclog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		log.Info("SIGHUP: reloading config", "path", path)
		cfg, err := config.Load(path)
		if err != nil {
			log.Error("reload: the config has errors; keeping the running one", "error", err)
			continue
		}
		if err := h.Reload(ctx, cfg); err != nil {
			log.Error("reload", "error", err)
		}
	}
}

func configCheck(c *cli.Context) error {
	if c.Args().Len() != 1 {
		return errors.New("config check: want exactly one FILE argument")
	}
	cfg, err := config.Load(c.Args().First())
	if err != nil {
		return err
	}
	var checked string
	if dir := setFlag(c, "plugins"); dir != "" {
		log, err := toolLogger(c)
		if err != nil {
			return err
		}
		if checked, err = checkPlugins(cfg, dir, setFlag(c, "lock"), log); err != nil {
			return err
		}
	}
	w := c.App.Writer
	storeDesc := fmt.Sprintf("sqlite %q", cfg.Store.SQLite)
	if cfg.Store.Postgres != "" {
		storeDesc = fmt.Sprintf("postgres %q", cfg.Store.RedactedPostgres()) // never the password
	}
	fmt.Fprintf(w, "%s: ok: segment %s (max close delay %s), store %s, api %q\n", c.Args().First(),
		cfg.Segment.Duration, cfg.Segment.MaxCloseDelay, storeDesc, cfg.API.Listen)
	for _, s := range cfg.Streams {
		names := make([]string, len(s.Plugins))
		for i, p := range s.Plugins {
			names[i] = p.Name
		}
		memory := s.Video.Memory
		if memory == config.MemoryCUDA {
			if err := cuda.Available(); err != nil {
				memory += " (this binary cannot run it: " + err.Error() + ")"
			}
		}
		fmt.Fprintf(w, "  stream %q: %s, %d fps max, width ≤ %d, memory %s, realtime=%t loop=%t, plugins [%s]\n",
			s.ID, s.Source.Redacted(), s.Video.FPS, s.Video.MaxWidth, memory, s.Realtime, s.Loop, strings.Join(names, ", "))
	}
	for _, src := range cfg.Telemetry.Sources {
		// Never the secret.
		fmt.Fprintf(w, "  telemetry source %q: clock offset %s, default stream %q\n", src.Name, src.ClockOffset, src.Stream)
	}
	for _, e := range cfg.Experiments {
		fmt.Fprintf(w, "  experiment %q: arms [%s], assignment %s\n", e.Name, strings.Join(e.Arms, ", "), e.Assignment)
	}
	if checked != "" {
		fmt.Fprintln(w, "  "+checked)
	}
	return nil
}

// setFlag is the value of flag name given to this command or, failing
// that, to a command above it (the global --plugins), or by its
// environment variable; "" when none set it (defaults do not count).
func setFlag(c *cli.Context, name string) string {
	for _, cc := range c.Lineage() {
		if cc.IsSet(name) {
			return cc.String(name)
		}
	}
	return ""
}

// checkPlugins checks cfg's streams against the plugins in dir as the host
// would run them: each plugin name resolves to one binary for every
// stream using it (under plugins.lock when there is one), the binary
// starts, each stream opens on it with its attributes (on a throwaway
// handle, closed at once), and each stream's plugins wire into a graph.
// It returns what it checked, or config.Diagnostics at the plugin blocks
// with every problem found; other errors (an unreadable lock) stop it.
func checkPlugins(cfg *config.Config, dir, lockPath string, log hclog.Logger) (string, error) {
	lock, err := plugin.OpenLock(dir, lockPath)
	if err != nil {
		return "", err
	}
	run, err := plugin.OpenRunDir()
	if err != nil {
		return "", err
	}
	defer run.Close()
	opts := plugin.Options{StartTimeout: 5 * time.Second, Logger: log.Named("plugin"), RunDir: run}
	cat := plugin.NewCatalog(dir, lock, opts)
	defer cat.Close()

	type use struct {
		st   config.Stream
		ref  config.PluginRef
		want plugin.Want
	}
	var ds config.Diagnostics
	problem := func(u use, format string, args ...any) {
		ds = append(ds, config.Diagnostic{Pos: u.ref.Pos, Field: fmt.Sprintf("stream %q: plugin %q", u.st.ID, u.ref.Name),
			Message: fmt.Sprintf(format, args...)})
	}
	var order []string // plugin names, first use first
	uses := map[string][]use{}
	for _, st := range cfg.Streams {
		for _, ref := range st.Plugins {
			u := use{st: st, ref: ref, want: plugin.Want{By: fmt.Sprintf("stream %q (%s)", st.ID, ref.Pos)}}
			if u.want.Constraint, err = semver.ParseConstraint(ref.Version); err != nil {
				problem(u, "version: %s", oneLine(err))
				continue
			}
			if _, ok := uses[ref.Name]; !ok {
				order = append(order, ref.Name)
			}
			uses[ref.Name] = append(uses[ref.Name], u)
		}
	}
	procs := map[string]*plugin.Process{}
	defer func() {
		for _, p := range procs {
			p.Close()
		}
	}()
	var started []string
	for _, name := range order {
		us := uses[name]
		wants := make([]plugin.Want, len(us))
		for i, u := range us {
			wants[i] = u.want
		}
		bin, err := cat.Resolve(name, wants...)
		if err != nil {
			// Point at each block whose own constraint nothing satisfies
			// and go on with the others; if each alone is satisfied, they
			// conflict: point at the first use.
			var rest []use
			for _, u := range us {
				if _, err := cat.Pick(name, u.want); err != nil {
					problem(u, "%s", oneLine(err))
				} else {
					rest = append(rest, u)
				}
			}
			if len(rest) == len(us) {
				problem(us[0], "%s", oneLine(err))
				continue
			}
			if us = rest; len(us) == 0 {
				continue
			}
			wants = wants[:0]
			for _, u := range us {
				wants = append(wants, u.want)
			}
			if bin, err = cat.Resolve(name, wants...); err != nil {
				problem(us[0], "%s", oneLine(err))
				continue
			}
		}
		p, err := plugin.Start(bin, opts)
		if err != nil {
			problem(us[0], "does not start (%s, used by %d stream(s)): %s", bin.File(), len(us), oneLine(err))
			continue
		}
		procs[name] = p
		desc := name + " " + p.Manifest().GetVersion()
		if bin.Locked {
			desc += " locked"
		}
		started = append(started, desc)
		for i, u := range us {
			handle := uint32(i + 1)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			version := p.Manifest().GetVersion()
			attrs, err := host.CheckAttributes(u.st, u.ref, p.Manifest())
			var ads config.Diagnostics
			if errors.As(err, &ads) {
				ds = append(ds, ads...) // at each attribute, as a run reports them
				cancel()
				continue
			}
			if err := p.OpenStream(ctx, handle, u.st.ID, attrs, func(dataplane.Ack, *pluginv1.Result) {}, nil); err != nil {
				if inner := errors.Unwrap(err); inner != nil {
					err = inner // the plugin's code and message; the field names the stream and plugin
				}
				problem(u, "refuses the stream (version %s): %s", version, oneLine(err))
			} else if err := p.CloseStream(ctx, handle); err != nil {
				problem(u, "closing the stream (version %s): %s", version, oneLine(err))
			}
			cancel()
		}
	}
	for _, st := range cfg.Streams {
		nodes := make([]graph.Node, 0, len(st.Plugins))
		for _, ref := range st.Plugins {
			p := procs[ref.Name]
			if p == nil {
				nodes = nil // reported above; the wiring cannot be checked
				break
			}
			m := p.Manifest()
			nodes = append(nodes, graph.Node{Name: ref.Name, Inputs: m.GetInputs(), Outputs: m.GetOutputs()})
		}
		if len(nodes) == 0 {
			continue
		}
		_, err := graph.Build(nodes)
		var probs graph.Problems
		if err != nil && !errors.As(err, &probs) {
			probs = graph.Problems{{Plugin: nodes[0].Name, Message: oneLine(err)}}
		}
		for _, pr := range probs {
			for _, ref := range st.Plugins {
				if ref.Name == pr.Plugin {
					problem(use{st: st, ref: ref}, "%s", pr.Message)
				}
			}
		}
	}
	// Rules, against the manifests of the plugins that started.
	if _, err := host.CompileRules(cfg, func(name string) *pluginv1.Manifest {
		if p := procs[name]; p != nil {
			return p.Manifest()
		}
		return nil
	}); err != nil {
		var rds config.Diagnostics
		if !errors.As(err, &rds) {
			return "", err
		}
		ds = append(ds, rds...)
	}
	if len(ds) > 0 {
		slices.SortStableFunc(ds, func(a, b config.Diagnostic) int {
			return cmp.Or(cmp.Compare(a.Pos.Line, b.Pos.Line), cmp.Compare(a.Pos.Column, b.Pos.Column))
		})
		return "", ds
	}
	lockDesc := "no lock"
	if lock != nil {
		lockDesc = "lock " + lock.File
	}
	rulesDesc := ""
	if len(cfg.Rules) > 0 {
		rulesDesc = ", " + plural(len(cfg.Rules), "rule") + " checked against their plugins"
	}
	return fmt.Sprintf("plugins in %s (%s): ok: %s, %s (%s), every stream opened on its plugins%s",
		dir, lockDesc, plural(len(cfg.Streams), "stream"), plural(len(started), "plugin"), strings.Join(started, ", "), rulesDesc), nil
}

// plural is "1 stream", "2 streams".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// toolLogger is the logger of a command that starts plugins only to ask
// them something (ls, inspect, lock): quiet about every plugin start and
// exit unless --log-level asks for them.
func toolLogger(c *cli.Context) (hclog.Logger, error) {
	log, err := newLogger(c)
	if err == nil && !c.IsSet("log-level") {
		log.SetLevel(hclog.Warn)
	}
	return log, err
}

func pluginsLs(c *cli.Context) error {
	log, err := toolLogger(c)
	if err != nil {
		return err
	}
	dir := c.String("plugins")
	bins, err := plugin.Discover(dir)
	if err != nil {
		return err
	}
	lock, err := plugin.OpenLock(dir, c.String("lock"))
	if err != nil {
		return err
	}
	opts := plugin.Options{StartTimeout: 2 * time.Second, Logger: log}
	cat := plugin.NewCatalog(dir, lock, opts)
	defer cat.Close()
	w := c.App.Writer
	if len(bins) == 0 {
		fmt.Fprintf(w, "no executables in %s\n", dir)
		return nil
	}
	if lock != nil {
		fmt.Fprintf(w, "lock: %s (%d entries)\n", lock.File, len(lock.Entries))
	} else {
		fmt.Fprintf(w, "lock: none (no %s)\n", filepath.Join(dir, plugin.LockFileName))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tPROTOCOL\tINPUTS\tOUTPUTS\tSHA256\tLOCK\tFILE\tSTATUS")
	for _, b := range bins {
		r := inspectFile(cat, b, opts)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", b.Name, dash(r.version), dash(r.protocol),
			dash(strings.Join(r.manifest.GetInputs(), ",")), dash(strings.Join(r.manifest.GetOutputs(), ",")),
			b.SHA256[:12], r.lock, b.File(), r.status)
	}
	return tw.Flush()
}

// fileReport is what ls and inspect tell about one plugin file.
type fileReport struct {
	bin      plugin.Binary // as run: the verified copy under a lock
	version  string
	protocol string
	lock     string // plugin.LockOK, LockMismatch, LockUnlocked, LockNone
	entry    plugin.LockEntry
	manifest interface {
		GetInputs() []string
		GetOutputs() []string
	}
	status string // "ok" or "failed: reason"
	proc   *plugin.Process
	err    error
}

// inspectFile checks b against the lock and starts it, unless its file
// name or its bytes are refused first: a file whose bytes the lock does
// not expect is never run. A locked file runs from its verified copy.
// keep leaves the process running in the report (the caller closes it).
func inspectFile(cat *plugin.Catalog, b plugin.Binary, opts plugin.Options, keep ...bool) (r fileReport) {
	r.bin, r.version, r.manifest = b, b.Version, noManifest{}
	r.lock, r.entry = cat.LockStatus(b)
	fail := func(err error) fileReport {
		r.err = err
		r.status = "failed: " + strings.Join(strings.Fields(err.Error()), " ")
		return r
	}
	if b.VersionFrom == "its file name" {
		if err := semver.Check(b.Version); err != nil {
			return fail(fmt.Errorf("bad file name: %w", err))
		}
	} else if b.Version == "" && r.lock == plugin.LockOK {
		r.bin.Version, r.bin.VersionFrom, r.version = r.entry.Version, "plugins.lock", r.entry.Version
	}
	switch r.lock {
	case plugin.LockMismatch:
		return fail(fmt.Errorf("not started: its sha256 %s is not the %s that %s:%d expects", b.SHA256, r.entry.SHA256, cat.Lock().File, r.entry.Line))
	case plugin.LockOK:
		prepared, err := cat.Prepare(r.bin)
		if err != nil {
			return fail(err)
		}
		r.bin = prepared
	}
	p, err := plugin.Start(r.bin, opts)
	if err != nil {
		inner := errors.Unwrap(err)
		if inner == nil {
			inner = err
		}
		var pe *plugin.ProtocolError
		var me *validate.ManifestError
		switch {
		case errors.As(err, &pe):
			r.protocol = fmt.Sprint(pe.Plugin)
		case errors.As(err, &me):
			// Refused by the SDK's manifest rules, as a run refuses it:
			// show what it described beside the reason.
			m := me.Manifest
			r.version, r.protocol, r.manifest = m.GetVersion(), fmt.Sprint(m.GetProtocolVersion()), m
		default:
			inner = fmt.Errorf("not an lsie plugin (%w)", inner)
		}
		return fail(inner)
	}
	m := p.Manifest()
	r.version, r.protocol, r.manifest, r.status = m.GetVersion(), fmt.Sprint(m.GetProtocolVersion()), m, "ok"
	if len(keep) > 0 && keep[0] {
		r.proc = p
	} else {
		p.Close()
	}
	return r
}

type noManifest struct{}

func (noManifest) GetInputs() []string  { return nil }
func (noManifest) GetOutputs() []string { return nil }

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func pluginsInspect(c *cli.Context) error {
	if c.Args().Len() != 1 {
		return errors.New("plugins inspect: want exactly one plugin NAME (or NAME@VERSION), after the flags: plugins inspect --plugins DIR NAME")
	}
	log, err := toolLogger(c)
	if err != nil {
		return err
	}
	dir, arg := c.String("plugins"), c.Args().First()
	lock, err := plugin.OpenLock(dir, c.String("lock"))
	if err != nil {
		return err
	}
	opts := plugin.Options{StartTimeout: 5 * time.Second, Logger: log}
	cat := plugin.NewCatalog(dir, lock, opts)
	defer cat.Close()
	var bin plugin.Binary
	if strings.Contains(arg, "@") {
		if c.String("version") != "" {
			return errors.New("plugins inspect: give a version constraint or a NAME@VERSION file, not both")
		}
		bin, err = plugin.Find(dir, arg)
	} else {
		var cons semver.Constraint
		if cons, err = semver.ParseConstraint(c.String("version")); err != nil {
			return fmt.Errorf("--version: %w", err)
		}
		// What the host would run; with a lock, among the locked versions.
		bin, err = cat.Pick(arg, plugin.Want{Constraint: cons})
	}
	if err != nil {
		return err
	}
	r := inspectFile(cat, bin, opts, true)
	w := c.App.Writer
	desc, protocol := "", dash(r.protocol)
	health := "-"
	var fields []*pluginv1.FieldSpec
	var attrs []*pluginv1.AttributeSpec
	var deviceInput *pluginv1.DeviceInput
	schema := false
	if r.proc != nil {
		defer r.proc.Close()
		m := r.proc.Manifest()
		desc, fields, deviceInput = m.GetDescription(), m.GetFields(), m.GetDeviceInput()
		attrs, schema = m.GetAttributes(), validate.HasSchema(m)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		health = "ok"
		if err := r.proc.Healthy(ctx); err != nil {
			health = "unhealthy: " + err.Error()
		}
	}
	lockLine := r.lock
	if r.lock == plugin.LockOK || r.lock == plugin.LockMismatch {
		lockLine += fmt.Sprintf(" (%s:%d: %s %s %s)", lock.File, r.entry.Line, r.entry.Name, r.entry.Version, r.entry.SHA256)
	}
	fmt.Fprintf(w, "name:        %s\nversion:     %s\nprotocol:    %s\ndescription: %s\n", bin.Name, dash(r.version), protocol, desc)
	fmt.Fprintf(w, "path:        %s\n", bin.Path)
	if r.bin.ExecPath != "" {
		fmt.Fprintf(w, "runs:        %s (verified private copy)\n", r.bin.ExecPath)
	}
	fmt.Fprintf(w, "sha256:      %s\nlock:        %s\nstatus:      %s\nhealth:      %s\n", bin.SHA256, lockLine, r.status, health)
	fmt.Fprintf(w, "inputs:      %s\noutputs:     %s\n", strings.Join(r.manifest.GetInputs(), ", "), strings.Join(r.manifest.GetOutputs(), ", "))
	if d := deviceInput; d != nil {
		fmt.Fprintf(w, "model input: %dx%d planar RGB float32 on the GPU, mean %v, std %v\n", d.GetWidth(), d.GetHeight(), d.GetMean(), d.GetStd())
	}
	fmt.Fprintln(w, "fields:")
	for _, f := range fields {
		fmt.Fprintf(w, "  %-16s %-8s %-12s %s\n", f.GetName(), f.GetType(), f.GetUnit(), f.GetDescription())
	}
	printAttributes(w, schema, attrs)
	if r.err != nil {
		return fmt.Errorf("plugin %q (%s): %w", bin.Name, bin.Path, r.err)
	}
	return nil
}

// printAttributes prints a plugin's attribute schema: what a stream's
// plugin block may set.
func printAttributes(w io.Writer, schema bool, attrs []*pluginv1.AttributeSpec) {
	switch {
	case !schema:
		fmt.Fprintln(w, "attributes:  no schema (the plugin checks its attributes itself; the host passes them unchecked)")
		return
	case len(attrs) == 0:
		fmt.Fprintln(w, "attributes:  none (a plugin block sets only window, version, event_bound)")
		return
	}
	fmt.Fprintln(w, "attributes:")
	for _, a := range attrs {
		line := fmt.Sprintf("  %-16s %-8s %s", a.GetName(), a.GetType(), validate.Want(a))
		switch {
		case a.GetRequired():
			line += ", required"
		case a.Default != nil:
			line += fmt.Sprintf(", default %q", a.GetDefault())
		}
		if d := a.GetDescription(); d != "" {
			line += ": " + d
		}
		fmt.Fprintln(w, line)
	}
}

// pluginsLock writes a lock file for the plugins directory: the newest
// version of each plugin, or with --all every version, each started once
// to check that it is a working plugin of the version it claims.
func pluginsLock(c *cli.Context) error {
	log, err := toolLogger(c)
	if err != nil {
		return err
	}
	dir := c.String("plugins")
	out := c.String("lock")
	if out == "" {
		out = filepath.Join(dir, plugin.LockFileName)
	}
	bins, err := plugin.Discover(dir)
	if err != nil {
		return err
	}
	opts := plugin.Options{StartTimeout: 5 * time.Second, Logger: log}
	w := c.App.Writer
	var chosen []plugin.Binary
	seen := map[string]bool{}
	for _, b := range bins {
		if c.Bool("all") {
			chosen = append(chosen, b)
			continue
		}
		if seen[b.Name] {
			continue
		}
		seen[b.Name] = true
		nb, err := plugin.Resolve(dir, b.Name, "", opts)
		if err != nil {
			fmt.Fprintf(w, "skipped %s: %s\n", b.Name, oneLine(err))
			continue
		}
		chosen = append(chosen, nb)
	}
	var entries []plugin.LockEntry
	have := map[[2]string]string{}
	for _, b := range chosen {
		if b.Version != "" {
			if err := semver.Check(b.Version); err != nil {
				fmt.Fprintf(w, "skipped %s: bad file name: %s\n", b.File(), oneLine(err))
				continue
			}
		}
		p, err := plugin.Start(b, opts)
		if err != nil {
			fmt.Fprintf(w, "skipped %s: %s\n", b.File(), oneLine(err))
			continue
		}
		v := p.Manifest().GetVersion() // a version: Start refuses a manifest without one
		p.Close()
		key := [2]string{b.Name, v}
		if other, dup := have[key]; dup {
			fmt.Fprintf(w, "skipped %s: %s %s is locked from %s already\n", b.File(), b.Name, v, other)
			continue
		}
		have[key] = b.File()
		entries = append(entries, plugin.LockEntry{Name: b.Name, Version: v, SHA256: b.SHA256})
		fmt.Fprintf(w, "locked %s %s sha256 %s (%s)\n", b.Name, v, b.SHA256[:12], b.File())
	}
	if len(entries) == 0 {
		return fmt.Errorf("plugins lock: no plugin in %s to lock", dir)
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".plugins.lock-*")
	if err != nil {
		return fmt.Errorf("plugins lock: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(plugin.FormatLock(entries)); err != nil {
		tmp.Close()
		return fmt.Errorf("plugins lock: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("plugins lock: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("plugins lock: %w", err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return fmt.Errorf("plugins lock: %w", err)
	}
	fmt.Fprintf(w, "wrote %s: %d entries\n", out, len(entries))
	return nil
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

// segmentTable prints one line per closed segment: the segment's frames
// and status, and for each plugin the first tableFields fields its
// manifest declares (templated names such as faceN.x and timings in ms
// left out), each as its segment mean. The columns are those of every
// plugin seen so far, ordered by plugin name, so streams with different
// plugins share one header ("–" where a stream has no such field); the
// header repeats every 20 lines and when a plugin adds columns.
type segmentTable struct {
	mu     sync.Mutex
	w      io.Writer
	quiet  bool
	lines  int
	header string
	cols   []column
	// fields returns a running plugin's declared fields (Host.PluginFields);
	// nil, or a plugin it does not know, falls back to the aggregates'
	// names in order.
	fields func(plugin string) []host.FieldInfo
}

// tableFields is how many fields of each plugin the live table shows.
const tableFields = 2

func newSegmentTable(w io.Writer, quiet bool) *segmentTable { return &segmentTable{w: w, quiet: quiet} }

// column is one field of one plugin in the table.
type column struct{ plugin, field string }

// columns picks the table's columns for a segment's plugins.
func (t *segmentTable) columns(s model.Segment) []column {
	var out []column
	for _, name := range slices.Sorted(maps.Keys(s.Plugins)) {
		var names []string
		if t.fields != nil {
			for _, f := range t.fields(name) {
				if f.Unit != "ms" && strings.ToLower(f.Name) == f.Name {
					names = append(names, f.Name)
				}
			}
		}
		if len(names) == 0 {
			names = slices.Sorted(maps.Keys(s.Plugins[name].Aggregates))
		}
		for _, f := range names[:min(len(names), tableFields)] {
			out = append(out, column{name, f})
		}
	}
	return out
}

// alert prints an alert opened or ended between the segment rows.
func (t *segmentTable) alert(a model.Alert) {
	if t.quiet {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if a.End == nil {
		fmt.Fprintf(t.w, "  ALERT %s %s on %s at %.1fs: %s\n", strings.ToUpper(a.Severity), a.Rule, a.StreamID, a.Start.Seconds(), a.Message)
	} else {
		fmt.Fprintf(t.w, "  ALERT ended %s on %s: %.1f–%.1fs\n", a.Rule, a.StreamID, a.Start.Seconds(), a.End.Seconds())
	}
}

func (t *segmentTable) print(s model.Segment) {
	if t.quiet {
		return
	}
	add := t.columns(s)
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range add {
		if !slices.Contains(t.cols, c) {
			t.cols = append(t.cols, c)
		}
	}
	slices.SortStableFunc(t.cols, func(a, b column) int { return strings.Compare(a.plugin, b.plugin) })
	cols := t.cols
	var hdr, row strings.Builder
	fmt.Fprintf(&hdr, "%-10s %10s  %-13s %6s", "STREAM", "SEGMENT", "MEDIA", "FRAMES")
	frames := 0
	var notes []string
	for _, name := range slices.Sorted(maps.Keys(s.Plugins)) {
		p := s.Plugins[name]
		frames = max(frames, p.FramesAnalysed)
		if p.Status != "" {
			notes = append(notes, name+" "+strings.ReplaceAll(p.Status, "_", " "))
		}
	}
	fmt.Fprintf(&row, "%-10s %10d  %-13s %6d", s.StreamID, s.Index,
		fmt.Sprintf("%.1f–%.1fs", s.MediaStart.Seconds(), s.MediaEnd.Seconds()), frames)
	for _, c := range cols {
		width := max(len(c.field), 7)
		fmt.Fprintf(&hdr, " %*s", width, c.field)
		v := "–"
		if a, ok := s.Plugins[c.plugin].Aggregates[c.field]; ok && a.N > 0 {
			v = strconv.FormatFloat(a.Mean, 'g', 4, 64)
		}
		fmt.Fprintf(&row, " %*s", width, v)
	}
	status := string(s.Status)
	if len(s.Reasons) > 0 {
		status += " (" + strings.Join(s.Reasons, ",") + ")"
	}
	if len(notes) > 0 {
		status += "; " + strings.Join(notes, ", ")
	}
	if h := hdr.String(); h != t.header || t.lines%20 == 0 {
		fmt.Fprintf(t.w, "%s  STATUS\n", h)
		t.header, t.lines = h, 0
	}
	t.lines++
	fmt.Fprintf(t.w, "%s  %s\n", row.String(), status)
	// Finals are stored as their producer's items; show what was said.
	for _, name := range slices.Sorted(maps.Keys(s.Plugins)) {
		for _, it := range s.Plugins[name].Items {
			if it.Topic == transcript.TopicFinal && it.Text != "" {
				fmt.Fprintf(t.w, "%-10s %10s  %.1fs  %q\n", "", "", it.PTS.Seconds(), it.Text)
			}
		}
	}
}
