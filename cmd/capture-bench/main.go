// Command capture-bench compares host/capture's lossless throughput with the
// same decode/rate/scale/convert pipeline run by gst-launch-1.0.
//
// For each clip (a 720p and a 1080p H.264 MP4, generated unless given) it
// times gst-launch-1.0 with the graph capture builds, then capture.New with
// Realtime=false and a handler that copies each frame once (as the host does
// into shared memory), and prints frames, seconds, analysis frames/s and the
// capture/gst-launch ratio.
package main

import (
	"github.com/lsie-mlf/lsie/host/capture/worker"

	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/lsie-mlf/lsie/host/capture"
	"github.com/lsie-mlf/lsie/host/source"
)

type options struct {
	clip720, clip1080 string
	fps, maxWidth     int
	duration          time.Duration
	runs              int
	keep              bool
	pluginDir, plugin string
}

func main() {
	worker.MaybeRun() // the capture processes of the whole-host path
	var o options
	flag.StringVar(&o.clip720, "720", "", "720p H.264 MP4 to use (generated when empty)")
	flag.StringVar(&o.clip1080, "1080", "", "1080p H.264 MP4 to use (generated when empty)")
	flag.IntVar(&o.fps, "fps", 5, "analysis frame rate (max-rate)")
	flag.IntVar(&o.maxWidth, "max-width", 640, "analysis frame width limit")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of generated clips (30 fps)")
	flag.IntVar(&o.runs, "runs", 3, "timed runs per measurement (the median is printed)")
	flag.BoolVar(&o.keep, "keep", false, "keep generated clips")
	flag.StringVar(&o.pluginDir, "plugins", "bin/examples", "plugins directory for the whole-host path (empty: skip it)")
	flag.StringVar(&o.plugin, "plugin", "minimal", "plugin the whole-host path delivers frames to")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "capture-bench:", err)
		os.Exit(1)
	}
}

type clip struct {
	name string
	path string
	w, h int
}

func run(o options) error {
	if o.runs < 1 || o.fps < 1 {
		return fmt.Errorf("-runs and -fps must be >= 1")
	}
	dir, err := os.MkdirTemp("", "capture-bench-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Println("clips in", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	clips := []clip{{name: "720p", path: o.clip720, w: 1280, h: 720}, {name: "1080p", path: o.clip1080, w: 1920, h: 1080}}
	for i := range clips {
		c := &clips[i]
		if c.path == "" {
			c.path = filepath.Join(dir, c.name+".mp4")
			start := time.Now()
			if err := encode(c.path, c.w, c.h, o.duration); err != nil {
				return err
			}
			fmt.Printf("generated %s (%dx%d, %s, 30 fps) in %.1fs\n", c.path, c.w, c.h, o.duration, time.Since(start).Seconds())
		}
		if strings.ContainsAny(c.path, " \"'!") {
			return fmt.Errorf("clip path %q: gst-launch cannot take spaces, quotes or '!'", c.path)
		}
	}
	startup, err := timeLaunch([]string{"-q", "fakesrc", "num-buffers=1", "!", "fakesink"}, o.runs)
	if err != nil {
		return err
	}
	fmt.Printf("gst-launch-1.0 process start-up (fakesrc num-buffers=1): %.3fs, subtracted in the 'net' column\n\n", startup.Seconds())
	fmt.Printf("%-6s %4s %-22s %7s %8s %8s %10s %7s %7s\n", "clip", "fps", "path", "frames", "seconds", "net s", "frames/s", "ratio", "net")
	for _, c := range clips {
		if err := benchClip(c, o, startup); err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
	}
	return nil
}

// encode writes a 30 fps H.264 MP4 of moving SMPTE bars.
func encode(path string, w, h int, d time.Duration) error {
	n := int(d.Seconds() * 30)
	args := []string{"-q", "videotestsrc", fmt.Sprintf("num-buffers=%d", n), "pattern=smpte", "horizontal-speed=4", "!",
		fmt.Sprintf("video/x-raw,width=%d,height=%d,framerate=30/1", w, h), "!",
		"x264enc", "speed-preset=ultrafast", "!", "mp4mux", "!", "filesink", "location=" + path}
	if out, err := exec.Command("gst-launch-1.0", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("encode %s: %w\n%s", path, err, out)
	}
	return nil
}

// outSize mirrors capture's scaling: at most maxWidth wide, even, aspect kept.
func outSize(w, h, maxWidth int) (int, int) {
	ow := w
	if maxWidth > 0 && ow > maxWidth {
		ow = maxWidth
	}
	ow &^= 1
	oh := int(float64(h)*float64(ow)/float64(w)/2+0.5) * 2
	return ow, oh
}

// launchArgs is the analysis pipeline capture builds for a lossless file,
// with decode either by decodebin (as capture) or spelled out.
func launchArgs(path string, decodebin bool, fps, w, h int, count bool) []string {
	args := []string{"-q"}
	if count {
		args = []string{"-v"}
	}
	args = append(args, "filesrc", "location="+path, "!")
	if decodebin {
		args = append(args, "decodebin", "!")
	} else {
		args = append(args, "qtdemux", "!", "h264parse", "!", "avdec_h264", "!")
	}
	return append(args, "videorate", fmt.Sprintf("max-rate=%d", fps), "drop-only=true", "!", "videoscale", "!", "videoconvert", "!",
		fmt.Sprintf("video/x-raw,format=RGB,width=%d,height=%d,pixel-aspect-ratio=1/1", w, h), "!",
		"fakesink", "sync=false", fmt.Sprintf("silent=%t", !count))
}

var chainLine = regexp.MustCompile(`(?m)^.*chain .*\(fakesink0:sink\).*$`)

// countLaunch runs the pipeline once with a verbose fakesink and counts frames.
func countLaunch(args []string) (int, error) {
	out, err := exec.Command("gst-launch-1.0", args...).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("gst-launch-1.0 %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return len(chainLine.FindAll(out, -1)), nil
}

// timeLaunch returns the median wall time of runs gst-launch-1.0 runs.
func timeLaunch(args []string, runs int) (time.Duration, error) {
	var ds []time.Duration
	for range runs {
		d, err := runLaunch(args)
		if err != nil {
			return 0, err
		}
		ds = append(ds, d)
	}
	return median(ds), nil
}

// copyHandler copies every frame into one preallocated buffer.
type copyHandler struct {
	buf    []byte
	frames int
	short  int
}

func (h *copyHandler) Frame(f *capture.Frame) {
	if copy(h.buf, f.Data) < len(f.Data) {
		h.short++
	}
	h.frames++
}

func (h *copyHandler) Progress(time.Duration) {}

// runCapture runs New+Run once and returns its wall time and frame count.
func runCapture(spec source.Spec, o options, buf []byte) (time.Duration, int, error) {
	h := &copyHandler{buf: buf}
	start := time.Now()
	c, err := capture.New(capture.Config{StreamID: "bench", Source: spec, FPS: o.fps, MaxWidth: o.maxWidth}, h)
	if err != nil {
		return 0, 0, err
	}
	if err := c.Run(context.Background()); err != nil {
		return 0, 0, err
	}
	d := time.Since(start)
	if h.short > 0 {
		return 0, 0, fmt.Errorf("%d frames larger than the copy buffer", h.short)
	}
	return d, h.frames, nil
}

// runLaunch runs gst-launch-1.0 once and returns its wall time.
func runLaunch(args []string) (time.Duration, error) {
	start := time.Now()
	if out, err := exec.Command("gst-launch-1.0", args...).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("gst-launch-1.0 %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return time.Since(start), nil
}

// benchClip times the three paths round-robin (so load drift on the machine
// hits them alike) and prints the medians.
func benchClip(c clip, o options, startup time.Duration) error {
	w, h := outSize(c.w, c.h, o.maxWidth)
	spec, err := source.Parse("file://" + c.path)
	if err != nil {
		return err
	}
	names := []string{"gst-launch decodebin", "gst-launch explicit", "capture (copy)", "lsie-host → plugin", "host, capture process"}
	paths := 3
	if o.pluginDir != "" {
		paths = 5
	}
	names = names[:paths]
	frames := make([]int, paths)
	for i, dec := range []bool{true, false} {
		if frames[i], err = countLaunch(launchArgs(c.path, dec, o.fps, w, h, true)); err != nil {
			return err
		}
	}
	buf := make([]byte, 16<<20)
	times := make([][]time.Duration, paths)
	for range o.runs {
		for i, dec := range []bool{true, false} {
			d, err := runLaunch(launchArgs(c.path, dec, o.fps, w, h, false))
			if err != nil {
				return err
			}
			times[i] = append(times[i], d)
		}
		d, n, err := runCapture(spec, o, buf)
		if err != nil {
			return err
		}
		times[2] = append(times[2], d)
		frames[2] = n
		if paths == 5 {
			for i, worker := range []bool{false, true} {
				d, n, err := runHost(spec, o, worker)
				if err != nil {
					return fmt.Errorf("whole host: %w", err)
				}
				times[3+i] = append(times[3+i], d)
				frames[3+i] = n
			}
		}
	}
	base := median(times[0])
	for i, name := range names {
		d := median(times[i])
		net := d
		if i < 2 {
			net -= startup
		}
		line := fmt.Sprintf("%-6s %4d %-22s %7d %8.3f %8.3f %10.1f", c.name, o.fps, name, frames[i], d.Seconds(), net.Seconds(), float64(frames[i])/d.Seconds())
		if i >= 2 {
			line += fmt.Sprintf(" %7.3f %7.3f", base.Seconds()/d.Seconds(), (base-startup).Seconds()/d.Seconds())
		}
		fmt.Println(line)
	}
	return nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
