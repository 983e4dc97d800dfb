// Command streams-bench finds how many live 720p30 streams one host sustains
// in real time with the visual and acoustic plugins at 5 fps, and compares
// it with bare gst-launch-1.0 decoding the same file (decode fps ÷ 30 is the
// number of 30 fps streams the machine could decode at all). With -gate it
// measures what motion gating saves instead (gate.go).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/lsie-mlf/lsie/host"
	"github.com/lsie-mlf/lsie/host/capture/worker"
	"github.com/lsie-mlf/lsie/host/config"
	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/source"
	"github.com/lsie-mlf/lsie/internal/rtsptest"
)

func main() {
	worker.MaybeRun() // the host's capture processes
	clip := flag.String("clip", "", "720p30 H.264/AAC clip, looped as a live stream (default: generate 20 s of moving bars with a tone; a slideshow decodes far too cheaply to be a fair bound)")
	plugins := flag.String("plugins", "bin/plugins", "plugins directory (visual, acoustic)")
	dur := flag.Duration("duration", 30*time.Second, "measured run per stream count")
	minN := flag.Int("min", 1, "smallest stream count to try")
	maxN := flag.Int("max", 10, "largest stream count to try")
	inProcess := flag.Bool("capture-in-process", false, "capture in the host process (lsie-host --capture-in-process) instead of a capture process per stream")
	rtsp := flag.Bool("rtsp", false, "read every stream from one local RTSP server (libgstrtspserver, 720p30 H.264 + L16 audio, one shared encoder in this process) instead of the looped file")
	gate := flag.Bool("gate", false, "instead: compare CPU of -streams mostly still streams with -gate-plugin ungated and behind a motion gate (docs/GATING.md)")
	gateStreams := flag.Int("streams", 4, "with -gate: streams")
	gatePlugin := flag.String("gate-plugin", "au", "with -gate: the heavy plugin")
	gateMotion := flag.Float64("gate-motion", 2.5, "with -gate: the gate's motion threshold")
	flag.Parse()
	if !*inProcess {
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintln(os.Stderr, "streams-bench:", err)
			os.Exit(1)
		}
		captureWorker = exe
	}
	fmt.Printf("capture: %s\n", map[bool]string{true: "in the host process", false: "one capture process per stream"}[*inProcess])
	if *gate {
		if err := runGate(*plugins, *gatePlugin, *gateStreams, *dur, *gateMotion); err != nil {
			fmt.Fprintln(os.Stderr, "streams-bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*clip, *plugins, *dur, *minN, *maxN, *rtsp); err != nil {
		fmt.Fprintln(os.Stderr, "streams-bench:", err)
		os.Exit(1)
	}
}

func run(clip, plugins string, dur time.Duration, minN, maxN int, rtsp bool) error {
	if clip == "" {
		dir, err := os.MkdirTemp("", "streams-bench-clip-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		clip = filepath.Join(dir, "720p30.mp4")
		out, err := exec.Command("gst-launch-1.0", "-q", "videotestsrc", "num-buffers=600", "pattern=smpte", "horizontal-speed=4", "!",
			"video/x-raw,width=1280,height=720,framerate=30/1", "!", "x264enc", "speed-preset=ultrafast", "!", "mux.",
			"audiotestsrc", "num-buffers=431", "samplesperbuffer=2048", "freq=180", "!", "audio/x-raw,rate=44100,channels=1", "!",
			"avenc_aac", "!", "mux.", "mp4mux", "name=mux", "!", "filesink", "location="+clip).CombinedOutput()
		if err != nil {
			return fmt.Errorf("generating the clip: %w\n%s", err, out)
		}
	}
	abs, err := filepath.Abs(clip)
	if err != nil {
		return err
	}
	spec, err := source.Parse("file://" + abs)
	if err != nil {
		return err
	}
	if rtsp {
		// One shared server: its encoder (x264 ultrafast, 720p30) runs in
		// this process and takes CPU the streams cannot use.
		srv := rtsptest.New(rtsptest.Options{Width: 1280, Height: 720, FPS: 30, Audio: true})
		if err := srv.Start(); err != nil {
			return fmt.Errorf("rtsp server: %w", err)
		}
		defer srv.Close()
		if spec, err = source.Parse(srv.URL() + "?transport=tcp"); err != nil {
			return err
		}
		fmt.Printf("source: %s (one shared 720p30 H.264 encoder in this process)\n", spec.Redacted())
	}
	decodeFPS, err := gstDecodeFPS(abs)
	if err != nil {
		return err
	}
	fmt.Printf("bare gst-launch-1.0 decode of %s (video + audio, fakesink sync=false): %.1f fps → %.2f streams at 30 fps; target ≥ 0.8 × that = %.2f streams\n\n",
		clip, decodeFPS, decodeFPS/30, 0.8*decodeFPS/30)
	fmt.Printf("%-8s %-10s %-10s %-8s %-8s %-9s %-10s %-9s %s\n", "streams", "frames/s", "expected", "drops", "skipped", "audio_drop", "complete", "host cpu", "sustained")
	best := 0
	for n := minN; n <= maxN; n++ {
		r, err := runN(spec, plugins, n, dur)
		if err != nil {
			return err
		}
		fmt.Printf("%-8d %-10.2f %-10.2f %-8d %-8d %-9d %4d/%-5d %-9s %t\n", n, r.fps, 5.0, r.drops, r.skipped, r.audioDropped,
			r.complete, r.segments, fmt.Sprintf("%.0f%%", 100*r.cpu), r.ok)
		if !r.ok {
			break
		}
		best = n
	}
	fmt.Printf("\nsustained: %d streams (%.2f × the decode-only bound of %.2f)\n", best, float64(best)/(decodeFPS/30), decodeFPS/30)
	return nil
}

// gstDecodeFPS times bare decode of the whole file (video and audio).
func gstDecodeFPS(path string) (float64, error) {
	frames, err := exec.Command("gst-discoverer-1.0", path).Output()
	if err != nil {
		return 0, fmt.Errorf("gst-discoverer-1.0: %w", err)
	}
	var seconds float64
	for _, l := range strings.Split(string(frames), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "Duration:") {
			var h, m int
			var s float64
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "Duration:")), "%d:%d:%f", &h, &m, &s)
			seconds = float64(h*3600+m*60) + s
		}
	}
	best := time.Duration(1 << 62)
	for range 3 {
		start := time.Now()
		cmd := exec.Command("gst-launch-1.0", "-q", "filesrc", "location="+path, "!", "decodebin", "name=d",
			"d.", "!", "queue", "!", "videoconvert", "!", "fakesink", "sync=false",
			"d.", "!", "queue", "!", "audioconvert", "!", "fakesink", "sync=false")
		if out, err := cmd.CombinedOutput(); err != nil {
			return 0, fmt.Errorf("gst-launch-1.0: %w\n%s", err, out)
		}
		best = min(best, time.Since(start))
	}
	return seconds * 30 / best.Seconds(), nil
}

// captureWorker is the executable of the host's capture processes ("": in
// the host process).
var captureWorker string

type result struct {
	fps                          float64
	drops, skipped, audioDropped int64
	segments, complete           int
	cpu                          float64
	ok                           bool
}

func runN(spec source.Spec, plugins string, n int, dur time.Duration) (result, error) {
	dir, err := os.MkdirTemp("", "streams-bench-")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	cfg := config.Default()
	cfg.API.Listen = ""
	cfg.Store.SQLite = filepath.Join(dir, "bench.db")
	cfg.Segment.Duration = 2 * time.Second
	for i := range n {
		cfg.Streams = append(cfg.Streams, config.Stream{ID: fmt.Sprintf("s%d", i), Source: spec, Realtime: true, Loop: spec.Kind == "file",
			Video:   config.Video{FPS: 5, MaxWidth: 640},
			Plugins: []config.PluginRef{{Name: "visual", Window: 2}, {Name: "acoustic", Window: 2}}})
	}
	var segs, complete int
	h, err := host.New(cfg, host.Options{PluginDir: plugins, CaptureWorker: captureWorker, OnSegment: func(s model.Segment) {
		segs++
		if s.Status == model.SegmentComplete {
			complete++
		}
	}})
	if err != nil {
		return result{}, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	// Warm up, then measure the counters' growth over dur.
	time.Sleep(3 * time.Second)
	before := counters(h)
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	start := time.Now()
	time.Sleep(dur)
	after := counters(h)
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	elapsed := time.Since(start)
	cancel()
	if err := <-done; err != nil {
		return result{}, err
	}
	_ = h.Close()
	r := result{segments: segs, complete: complete}
	var frames int64
	for k, v := range after {
		d := v - before[k]
		switch {
		case strings.HasSuffix(k, "/frames"):
			frames += d
		case strings.HasSuffix(k, "/dropped"), strings.HasSuffix(k, "/pool_exhausted"):
			r.drops += d
		case strings.HasSuffix(k, ".visual.skipped"):
			r.skipped += d
		case strings.HasSuffix(k, ".acoustic.audio_dropped"):
			r.audioDropped += d
		}
	}
	r.fps = float64(frames) / float64(n) / elapsed.Seconds()
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	r.cpu = cpu.Seconds() / elapsed.Seconds() / 2 // of both cores; plugin processes are children, counted below
	r.ok = r.fps >= 0.95*5 && r.drops == 0 && r.audioDropped == 0 && float64(r.skipped) <= 0.05*float64(frames)
	return r, nil
}

func counters(h *host.Host) map[string]int64 {
	out := map[string]int64{}
	for _, c := range h.Health().Components {
		if c.Kind != "stream" {
			continue
		}
		for k, v := range c.Counters {
			if strings.HasPrefix(k, "plugin.") {
				out[c.Name+"."+k] = v
			} else {
				out[c.Name+"/"+k] = v
			}
		}
	}
	return out
}
