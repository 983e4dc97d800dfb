package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/lsie-mlf/lsie/host"
	"github.com/lsie-mlf/lsie/host/config"
	"github.com/lsie-mlf/lsie/host/source"
)

// runHost runs the whole host (its capture in a worker process if
// inWorker) in lossless mode on spec with one plugin, so
// every frame goes through shared memory to a plugin process and back, and
// returns its wall time (plugin start included, as gst-launch's process
// start is) and the frames the plugin analysed.
func runHost(spec source.Spec, o options, inWorker bool) (time.Duration, int, error) {
	dir, err := os.MkdirTemp("", "capture-bench-host-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	cfg := config.Default()
	cfg.API.Listen = ""
	cfg.Store.SQLite = filepath.Join(dir, "bench.db")
	st := config.Stream{ID: "bench", Source: spec, Realtime: false,
		Video:   config.Video{FPS: o.fps, MaxWidth: o.maxWidth},
		Plugins: []config.PluginRef{{Name: o.plugin, Window: 2}}}
	cfg.Streams = []config.Stream{st}
	start := time.Now()
	opts := host.Options{PluginDir: o.pluginDir, ExitWhenDone: true}
	if inWorker {
		// The capture runs in a process of its own (lsie-host's default).
		if opts.CaptureWorker, err = os.Executable(); err != nil {
			return 0, 0, err
		}
	}
	h, err := host.New(cfg, opts)
	if err != nil {
		return 0, 0, err
	}
	runErr := h.Run(context.Background())
	d := time.Since(start)
	var analysed int64
	for _, c := range h.Health().Components {
		if c.Kind == "stream" {
			analysed = c.Counters["plugin."+o.plugin+".analysed"]
			if c.Counters["dropped"] != 0 {
				runErr = fmt.Errorf("host dropped %d frames in lossless mode", c.Counters["dropped"])
			}
		}
	}
	if err := h.Close(); err != nil && runErr == nil {
		runErr = err
	}
	return d, int(analysed), runErr
}
