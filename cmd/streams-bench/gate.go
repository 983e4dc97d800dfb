package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lsie-mlf/lsie/host"
	"github.com/lsie-mlf/lsie/host/config"
	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/source"
)

// The -gate mode (docs/GATING.md): n live streams of a mostly still scene
// (a square moves 2 s in every 20 s), a heavy plugin on each, run once
// ungated and once behind a motion gate; CPU is the whole process tree's
// (host, capture processes, plugins), from /proc, over the same span.

// stillClip writes a 20 s, 640×360, 10 fps clip: a fixed texture with a
// white square that moves during 2 s and rests for the other 18.
func stillClip(dir string) (string, error) {
	const w, h, fps, n = 640, 360, 10, 200
	raw := filepath.Join(dir, "still.rgb")
	f, err := os.Create(raw)
	if err != nil {
		return "", err
	}
	frame := make([]byte, 3*w*h)
	x := 40
	for i := range n {
		if i >= 100 && i < 120 {
			x += 20
		}
		for p := range w * h {
			v := byte(40 + (p*7919)%37)
			frame[3*p], frame[3*p+1], frame[3*p+2] = v, v, v
		}
		for y := 150; y < 210; y++ {
			for c := x; c < x+60; c++ {
				copy(frame[3*(y*w+c):], []byte{255, 255, 255})
			}
		}
		if _, err := f.Write(frame); err != nil {
			f.Close()
			return "", err
		}
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	out := filepath.Join(dir, "still.mp4")
	b, err := exec.Command("gst-launch-1.0", "-q", "filesrc", "location="+raw, "!", "rawvideoparse", fmt.Sprintf("width=%d", w),
		fmt.Sprintf("height=%d", h), "format=rgb", fmt.Sprintf("framerate=%d/1", fps), "!", "videoconvert", "!",
		"x264enc", "speed-preset=ultrafast", "!", "mp4mux", "!", "filesink", "location="+out).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("encoding the clip: %w\n%s", err, b)
	}
	return out, os.Remove(raw)
}

func runGate(plugins, heavy string, n int, dur time.Duration, motion float64) error {
	dir, err := os.MkdirTemp("", "streams-bench-gate-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	clip, err := stillClip(dir)
	if err != nil {
		return err
	}
	spec, err := source.Parse("file://" + clip)
	if err != nil {
		return err
	}
	fmt.Printf("gate: %d live streams of a mostly still 640×360 scene (moves 2 s in 20), plugin %q at 5 fps, gate motion = %g, %s each\n\n",
		n, heavy, motion, dur)
	fmt.Printf("%-8s %-12s %-12s %-10s %-10s %s\n", "gate", "analysed/s", "gated/s", "cpu (cores)", "complete", "cpu ratio")
	var base float64
	for _, gated := range []bool{false, true} {
		r, err := runGateOnce(spec, plugins, heavy, n, dur, gated, motion)
		if err != nil {
			return err
		}
		if !gated {
			base = r.cores
		}
		fmt.Printf("%-8t %-12.2f %-12.2f %-10.3f %4d/%-5d %.2f\n", gated, r.analysed, r.gatedPS, r.cores, r.complete, r.segments, r.cores/base)
	}
	return nil
}

type gateResult struct {
	analysed, gatedPS, cores float64
	segments, complete       int
}

func runGateOnce(spec source.Spec, plugins, heavy string, n int, dur time.Duration, gated bool, motion float64) (gateResult, error) {
	dir, err := os.MkdirTemp("", "streams-bench-")
	if err != nil {
		return gateResult{}, err
	}
	defer os.RemoveAll(dir)
	cfg := config.Default()
	cfg.API.Listen = ""
	cfg.Store.SQLite = filepath.Join(dir, "bench.db")
	cfg.Segment.Duration = 2 * time.Second
	for i := range n {
		ref := config.PluginRef{Name: heavy, Window: 2, EventBound: 256, Attributes: map[string]string{}}
		if gated {
			ref.Gate = &config.Gate{Motion: motion}
		}
		cfg.Streams = append(cfg.Streams, config.Stream{ID: fmt.Sprintf("s%d", i), Source: spec, Realtime: true, Loop: true,
			Video: config.Video{FPS: 5, MaxWidth: 640, Memory: config.MemoryHost}, Plugins: []config.PluginRef{ref}})
	}
	var r gateResult
	h, err := host.New(cfg, host.Options{PluginDir: plugins, CaptureWorker: captureWorker, OnSegment: func(s model.Segment) {
		r.segments++
		if s.Status == model.SegmentComplete {
			r.complete++
		}
	}})
	if err != nil {
		return gateResult{}, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	time.Sleep(3 * time.Second) // warm up: processes started, models loaded
	before, cpu0 := counters(h), treeCPU()
	start := time.Now()
	time.Sleep(dur)
	after, cpu1 := counters(h), treeCPU()
	elapsed := time.Since(start)
	cancel()
	if err := <-done; err != nil {
		return gateResult{}, err
	}
	_ = h.Close()
	for k, v := range after {
		d := float64(v - before[k])
		switch {
		case strings.HasSuffix(k, "."+heavy+".analysed"):
			r.analysed += d / elapsed.Seconds()
		case strings.HasSuffix(k, "."+heavy+".gated"):
			r.gatedPS += d / elapsed.Seconds()
		}
	}
	r.cores = (cpu1 - cpu0).Seconds() / elapsed.Seconds()
	return r, nil
}

// treeCPU is the CPU time (user + system) of this process and every
// living descendant, from /proc: plugin and capture processes are
// children that run throughout, which rusage would count only once reaped.
func treeCPU() time.Duration {
	ents, _ := os.ReadDir("/proc")
	parent := map[int]int{}
	ticks := map[int]int64{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// After the command name in parentheses: state ppid ... utime(14) stime(15).
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 13 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		parent[pid], ticks[pid] = ppid, ut+st
	}
	self := os.Getpid()
	var total int64
	for pid, t := range ticks {
		for p := pid; p > 1; p = parent[p] {
			if p == self {
				total += t
				break
			}
		}
	}
	const hz = 100 // USER_HZ on Linux
	return time.Duration(total) * time.Second / hz
}
