// Command lsie-host runs the lsie live stream inference host.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/lsie-mlf/lsie/host"
	"github.com/lsie-mlf/lsie/host/config"
	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/plugin"
	"github.com/urfave/cli/v2"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	if err := newApp(os.Stdout, os.Stderr).Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "lsie-host:", err)
		os.Exit(1)
	}
}

func newApp(stdout, stderr io.Writer) *cli.App {
	logFlags := []cli.Flag{
		&cli.StringFlag{Name: "log-level", Value: "info", Usage: "trace, debug, info, warn or error", EnvVars: []string{"LSIE_LOG_LEVEL"}},
		&cli.StringFlag{Name: "log-format", Value: "text", Usage: "text or json", EnvVars: []string{"LSIE_LOG_FORMAT"}},
	}
	pluginsFlag := &cli.StringFlag{Name: "plugins", Value: "./plugins", Usage: "directory of plugin binaries", EnvVars: []string{"LSIE_PLUGINS"}}
	return &cli.App{
		Name:      "lsie-host",
		Usage:     "live stream inference host: capture streams, run model plugins on shared-memory frames, store segments",
		Version:   version,
		Writer:    stdout,
		ErrWriter: stderr,
		Flags: append([]cli.Flag{
			pluginsFlag,
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Value: "configs/demo.hcl", Usage: "HCL config file", EnvVars: []string{"LSIE_CONFIG"}},
			&cli.BoolFlag{Name: "exit-when-done", Usage: "exit once every stream has ended (replays, tests)", EnvVars: []string{"LSIE_EXIT_WHEN_DONE"}},
			&cli.BoolFlag{Name: "quiet", Usage: "do not print a line per closed segment", EnvVars: []string{"LSIE_QUIET"}},
			&cli.DurationFlag{Name: "lease-timeout", Value: 30 * time.Second, Usage: "how long a plugin may hold a frame before it is killed as hung (and restarted)", EnvVars: []string{"LSIE_LEASE_TIMEOUT"}},
		}, logFlags...),
		Action: run,
		Commands: []*cli.Command{
			{
				Name:  "config",
				Usage: "work with config files",
				Subcommands: []*cli.Command{{
					Name:      "check",
					Usage:     "validate a config file and print what it runs",
					ArgsUsage: "FILE",
					Action:    configCheck,
				}},
			},
			{
				Name:  "plugins",
				Usage: "work with plugin binaries",
				Subcommands: []*cli.Command{{
					Name:   "ls",
					Usage:  "list the plugins in a directory with their manifests",
					Flags:  append([]cli.Flag{pluginsFlag}, logFlags...),
					Action: pluginsLs,
				}, {
					Name:      "inspect",
					Usage:     "start one plugin and print its manifest, fields, checksum and health",
					ArgsUsage: "NAME",
					Flags:     append([]cli.Flag{pluginsFlag}, logFlags...),
					Action:    pluginsInspect,
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
	h, err := host.New(cfg, host.Options{PluginDir: c.String("plugins"), Version: version, Logger: log,
		OnSegment: table.print, ExitWhenDone: c.Bool("exit-when-done"), LeaseTimeout: c.Duration("lease-timeout"),
		ConfigDir: filepath.Dir(path)})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go reloadOnHUP(ctx, h, path, log)
	runErr := h.Run(ctx)
	log.Info("shutting down")
	return errors.Join(runErr, h.Close())
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
	w := c.App.Writer
	fmt.Fprintf(w, "%s: ok: segment %s (max close delay %s), store sqlite %q, api %q\n", c.Args().First(),
		cfg.Segment.Duration, cfg.Segment.MaxCloseDelay, cfg.Store.SQLite, cfg.API.Listen)
	for _, s := range cfg.Streams {
		names := make([]string, len(s.Plugins))
		for i, p := range s.Plugins {
			names[i] = p.Name
		}
		fmt.Fprintf(w, "  stream %q: %s, %d fps max, width ≤ %d, realtime=%t loop=%t, plugins [%s]\n",
			s.ID, s.Source.Redacted(), s.Video.FPS, s.Video.MaxWidth, s.Realtime, s.Loop, strings.Join(names, ", "))
	}
	return nil
}

func pluginsLs(c *cli.Context) error {
	log, err := newLogger(c)
	if err != nil {
		return err
	}
	bins, err := plugin.Discover(c.String("plugins"))
	if err != nil {
		return err
	}
	w := c.App.Writer
	if len(bins) == 0 {
		fmt.Fprintf(w, "no executables in %s\n", c.String("plugins"))
		return nil
	}
	for _, b := range bins {
		m, err := plugin.Inspect(b, plugin.Options{StartTimeout: 2 * time.Second, Logger: log})
		if err != nil {
			fmt.Fprintf(w, "%-12s skipped: not an lsie plugin (%v)\n", b.Name, err)
			continue
		}
		fmt.Fprintf(w, "%-12s %-8s protocol %d  sha256 %s  in [%s] out [%s]  %s\n", m.GetName(), m.GetVersion(),
			m.GetProtocolVersion(), b.SHA256[:16], strings.Join(m.GetInputs(), ","), strings.Join(m.GetOutputs(), ","), m.GetDescription())
	}
	return nil
}

func pluginsInspect(c *cli.Context) error {
	if c.Args().Len() != 1 {
		return errors.New("plugins inspect: want exactly one plugin NAME, after the flags: plugins inspect --plugins DIR NAME")
	}
	log, err := newLogger(c)
	if err != nil {
		return err
	}
	bin, err := plugin.Find(c.String("plugins"), c.Args().First())
	if err != nil {
		return err
	}
	p, err := plugin.Start(bin, plugin.Options{StartTimeout: 5 * time.Second, Logger: log})
	if err != nil {
		return err
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	health := "ok"
	if err := p.Healthy(ctx); err != nil {
		health = "unhealthy: " + err.Error()
	}
	m := p.Manifest()
	w := c.App.Writer
	fmt.Fprintf(w, "name:        %s\nversion:     %s\nprotocol:    %d\ndescription: %s\n", m.GetName(), m.GetVersion(), m.GetProtocolVersion(), m.GetDescription())
	fmt.Fprintf(w, "path:        %s\nsha256:      %s\nhealth:      %s\n", bin.Path, bin.SHA256, health)
	fmt.Fprintf(w, "inputs:      %s\noutputs:     %s\nfields:\n", strings.Join(m.GetInputs(), ", "), strings.Join(m.GetOutputs(), ", "))
	for _, f := range m.GetFields() {
		fmt.Fprintf(w, "  %-16s %-8s %-12s %s\n", f.GetName(), f.GetType(), f.GetUnit(), f.GetDescription())
	}
	return nil
}

// segmentTable prints one line per closed segment.
type segmentTable struct {
	mu    sync.Mutex
	w     io.Writer
	quiet bool
	lines int
}

func newSegmentTable(w io.Writer, quiet bool) *segmentTable { return &segmentTable{w: w, quiet: quiet} }

func (t *segmentTable) print(s model.Segment) {
	if t.quiet {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.lines%20 == 0 {
		fmt.Fprintf(t.w, "%-10s %10s  %-13s %6s %7s %7s %9s %7s %7s  %s\n",
			"STREAM", "SEGMENT", "MEDIA", "FRAMES", "VOICED", "F0", "LOUDNESS", "BRIGHT", "MOTION", "STATUS")
	}
	t.lines++
	status := string(s.Status)
	if len(s.Reasons) > 0 {
		status += " (" + strings.Join(s.Reasons, ",") + ")"
	}
	frames, noAudio := 0, false
	for _, p := range s.Plugins {
		frames = max(frames, p.FramesAnalysed)
		noAudio = noAudio || p.Status == model.PluginNoAudio
	}
	voiced := metric(s, "voiced", func(a model.Aggregate) string { return fmt.Sprintf("%.0f%%", 100*a.Mean) })
	if noAudio {
		voiced = "no audio"
	}
	fmt.Fprintf(t.w, "%-10s %10d  %-13s %6d %7s %7s %9s %7s %7s  %s\n", s.StreamID, s.Index,
		fmt.Sprintf("%.1f–%.1fs", s.MediaStart.Seconds(), s.MediaEnd.Seconds()), frames, voiced,
		metric(s, "f0_hz", func(a model.Aggregate) string { return fmt.Sprintf("%.0fHz", a.P50) }),
		metric(s, "loudness_dbfs", func(a model.Aggregate) string { return fmt.Sprintf("%.1fdB", a.Mean) }),
		metric(s, "brightness", func(a model.Aggregate) string { return fmt.Sprintf("%.1f", a.Mean) }),
		metric(s, "motion", func(a model.Aggregate) string { return fmt.Sprintf("%.2f", a.Mean) }),
		status)
}

// metric formats field's aggregate from whichever plugin produced it, or "–".
func metric(s model.Segment, field string, format func(model.Aggregate) string) string {
	names := make([]string, 0, len(s.Plugins))
	for n := range s.Plugins {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if a, ok := s.Plugins[n].Aggregates[field]; ok && a.N > 0 {
			return format(a)
		}
	}
	return "–"
}
