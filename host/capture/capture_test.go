package capture

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/source"
	"github.com/lsie-mlf/lsie/internal/testenv"
	"github.com/lsie-mlf/lsie/shm"
)

// makeClip encodes an H.264 MP4 of n frames with gst-launch-1.0 into dir.
func makeClip(t *testing.T, dir, name, pattern string, w, h, fps, n int) string {
	t.Helper()
	return launch(t, dir, name,
		"videotestsrc", fmt.Sprintf("num-buffers=%d", n), "pattern="+pattern, "!",
		fmt.Sprintf("video/x-raw,width=%d,height=%d,framerate=%d/1", w, h, fps), "!",
		"x264enc", "speed-preset=ultrafast", "!", "mp4mux", "!", "filesink")
}

// launch runs gst-launch-1.0 with args, whose last element must be a
// filesink; it writes dir/name and returns that path.
func launch(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("gst-launch-1.0"); err != nil {
		testenv.Missing(t, "gst-launch-1.0 not installed")
	}
	path := filepath.Join(dir, name)
	args = append([]string{"-q"}, args...)
	args = append(args, "location="+path)
	out, err := exec.Command("gst-launch-1.0", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("gst-launch-1.0 %v: %v\n%s", args, err, out)
	}
	return path
}

func fileSpec(t *testing.T, path string) source.Spec {
	t.Helper()
	s, err := source.Parse("file://" + path)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return s
}

type seen struct {
	pts          time.Duration
	seq          uint64
	w, h, stride int
	dataLen      int
	mean         float64
}

// recorder is a Handler that keeps what it saw; it cancels after limit frames.
type recorder struct {
	mu       sync.Mutex
	frames   []seen
	progress []time.Duration
	limit    int
	cancel   context.CancelFunc
	delay    time.Duration
}

func (r *recorder) Frame(f *Frame) {
	var sum, n float64
	for y := 0; y < f.Height; y++ {
		row := f.Data[y*f.Stride : y*f.Stride+f.Width*3]
		for _, b := range row {
			sum += float64(b)
		}
		n += float64(len(row))
	}
	if r.delay > 0 {
		time.Sleep(r.delay)
	}
	r.mu.Lock()
	r.frames = append(r.frames, seen{pts: f.PTS, seq: f.Seq, w: f.Width, h: f.Height, stride: f.Stride, dataLen: len(f.Data), mean: sum / n})
	if r.limit > 0 && len(r.frames) >= r.limit && r.cancel != nil {
		r.cancel()
	}
	r.mu.Unlock()
}

func (r *recorder) Progress(t time.Duration) {
	r.mu.Lock()
	r.progress = append(r.progress, t)
	r.mu.Unlock()
}

func (r *recorder) snapshot() ([]seen, []time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seen(nil), r.frames...), append([]time.Duration(nil), r.progress...)
}

func runCapture(t *testing.T, cfg Config, r *recorder, timeout time.Duration) (*Capture, error) {
	t.Helper()
	c, err := New(cfg, r)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if r.limit > 0 {
		r.cancel = cancel
	}
	err = c.Run(ctx)
	if r.limit == 0 && ctx.Err() != nil {
		t.Fatalf("capture timed out after %s", timeout)
	}
	return c, err
}

// checkSequence checks seq, pts on videorate's 1/fps grid, sizes and progress.
func checkSequence(t *testing.T, frames []seen, progress []time.Duration, fps int) {
	t.Helper()
	for i, f := range frames {
		if f.seq != uint64(i) {
			t.Errorf("frame %d: seq %d", i, f.seq)
		}
		if want := time.Duration(int64(i) * int64(time.Second) / int64(fps)); f.pts != want {
			t.Errorf("frame %d: pts %v, want %v", i, f.pts, want)
		}
		if f.stride < f.w*3 || f.dataLen < f.stride*(f.h-1)+f.w*3 {
			t.Errorf("frame %d: stride %d, len %d for %dx%d", i, f.stride, f.dataLen, f.w, f.h)
		}
	}
	for i := 1; i < len(progress); i++ {
		if progress[i] <= progress[i-1] {
			t.Errorf("progress did not advance: %v after %v", progress[i], progress[i-1])
		}
	}
}

func TestLosslessFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name      string
		pattern   string
		w, h      int
		maxWidth  int
		wantW     int
		wantH     int
		wantPixel float64
	}{
		{name: "white 720p scaled", pattern: "white", w: 1280, h: 720, maxWidth: 640, wantW: 640, wantH: 360, wantPixel: 255},
		{name: "black small not upscaled", pattern: "black", w: 320, h: 240, maxWidth: 640, wantW: 320, wantH: 240, wantPixel: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := makeClip(t, dir, tc.pattern+".mp4", tc.pattern, tc.w, tc.h, 30, 90)
			r := &recorder{}
			c, err := runCapture(t, Config{StreamID: "s", Source: fileSpec(t, path), FPS: 5, MaxWidth: tc.maxWidth}, r, 30*time.Second)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			frames, progress := r.snapshot()
			if len(frames) != 15 {
				t.Fatalf("got %d frames, want 15", len(frames))
			}
			checkSequence(t, frames, progress, 5)
			for i, f := range frames {
				if f.w != tc.wantW || f.h != tc.wantH {
					t.Errorf("frame %d: %dx%d, want %dx%d", i, f.w, f.h, tc.wantW, tc.wantH)
				}
				if d := f.mean - tc.wantPixel; d > 3 || d < -3 {
					t.Errorf("frame %d: mean pixel %.1f, want ~%.0f", i, f.mean, tc.wantPixel)
				}
			}
			if last := progress[len(progress)-1]; last != 3*time.Second {
				t.Errorf("final progress %v, want 3s", last)
			}
			st := c.Stats()
			if st.Frames != 15 || st.LastPTS != 2800*time.Millisecond || st.Width != tc.wantW {
				t.Errorf("stats %+v", st)
			}
			if c.WallAnchor().IsZero() {
				t.Error("wall anchor not set")
			}
		})
	}
}

func TestLosslessFileWithAudio(t *testing.T) {
	path := launch(t, t.TempDir(), "av.mp4",
		"videotestsrc", "num-buffers=90", "pattern=white", "!", "video/x-raw,width=320,height=240,framerate=30/1", "!",
		"x264enc", "speed-preset=ultrafast", "!", "mux.",
		"audiotestsrc", "num-buffers=130", "!", "audio/x-raw,rate=44100", "!", "avenc_aac", "!", "mux.",
		"mp4mux", "name=mux", "!", "filesink")
	r := &recorder{}
	if _, err := runCapture(t, Config{StreamID: "av", Source: fileSpec(t, path), FPS: 5}, r, 30*time.Second); err != nil {
		t.Fatalf("Run: %v", err)
	}
	frames, progress := r.snapshot()
	if len(frames) != 15 {
		t.Fatalf("got %d frames, want 15", len(frames))
	}
	checkSequence(t, frames, progress, 5)
}

func TestLosslessTestSource(t *testing.T) {
	tests := []struct {
		name       string
		uri        string
		maxWidth   int
		wantW      int
		wantH      int
		wantStride int
	}{
		{name: "scaled", uri: "test://white?width=640&height=480&fps=30&duration=3s", maxWidth: 320, wantW: 320, wantH: 240, wantStride: 960},
		// 322*3 = 966 bytes of pixels; GStreamer pads RGB rows to 4 bytes.
		{name: "padded rows", uri: "test://white?width=322&height=240&fps=30&duration=3s", wantW: 322, wantH: 240, wantStride: 968},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec, err := source.Parse(tc.uri)
			if err != nil {
				t.Fatal(err)
			}
			r := &recorder{}
			if _, err := runCapture(t, Config{StreamID: "t", Source: spec, FPS: 5, MaxWidth: tc.maxWidth}, r, 30*time.Second); err != nil {
				t.Fatalf("Run: %v", err)
			}
			frames, progress := r.snapshot()
			if len(frames) != 15 {
				t.Fatalf("got %d frames, want 15", len(frames))
			}
			checkSequence(t, frames, progress, 5)
			for i, f := range frames {
				if f.w != tc.wantW || f.h != tc.wantH || f.stride != tc.wantStride || f.mean < 252 {
					t.Errorf("frame %d: %dx%d stride %d mean %.1f, want %dx%d stride %d white", i, f.w, f.h, f.stride, f.mean, tc.wantW, tc.wantH, tc.wantStride)
				}
			}
		})
	}
}

// nv12Recorder keeps the mean of each plane (luma; chroma U and V) and the
// plane geometry of every NV12 frame.
type nv12Recorder struct {
	mu     sync.Mutex
	frames []nv12Seen
}

type nv12Seen struct {
	format                 shm.PixelFormat
	w, h, stride, uvStride int
	uvLen                  int
	meanY, meanU, meanV    float64
}

func (r *nv12Recorder) Frame(f *Frame) {
	s := nv12Seen{format: f.Format, w: f.Width, h: f.Height, stride: f.Stride, uvStride: f.UVStride, uvLen: len(f.UV)}
	if f.Format == shm.FormatNV12 {
		var y, u, v float64
		for row := 0; row < f.Height; row++ {
			for _, b := range f.Data[row*f.Stride : row*f.Stride+f.Width] {
				y += float64(b)
			}
		}
		rows := (f.Height + 1) / 2
		for row := 0; row < rows; row++ {
			line := f.UV[row*f.UVStride : row*f.UVStride+f.Width&^1]
			for i := 0; i < len(line); i += 2 {
				u += float64(line[i])
				v += float64(line[i+1])
			}
		}
		s.meanY = y / float64(f.Width*f.Height)
		s.meanU = u / float64(rows*f.Width/2)
		s.meanV = v / float64(rows*f.Width/2)
	}
	r.mu.Lock()
	r.frames = append(r.frames, s)
	r.mu.Unlock()
}

func (r *nv12Recorder) Progress(time.Duration) {}

// TestNV12Frames checks the analysis branch in NV12 (what the CUDA path
// uploads): both planes, their strides and BT.601 limited-range values of
// known colours (white 235/128/128, red 81/90/240), scaled and padded.
func TestNV12Frames(t *testing.T) {
	tests := []struct {
		uri                    string
		maxWidth, wantW, wantH int
		wantStride             int
		wantY, wantU, wantV    float64
	}{
		{uri: "test://white?width=640&height=480&fps=30&duration=1s", maxWidth: 320, wantW: 320, wantH: 240, wantStride: 320, wantY: 235, wantU: 128, wantV: 128},
		// 322 luma bytes per row; GStreamer pads NV12 rows to 4 bytes.
		{uri: "test://red?width=322&height=240&fps=30&duration=1s", wantW: 322, wantH: 240, wantStride: 324, wantY: 81, wantU: 90, wantV: 240},
	}
	for _, tc := range tests {
		t.Run(tc.uri, func(t *testing.T) {
			r := &nv12Recorder{}
			c, err := New(Config{StreamID: "t", Source: mustParse(t, tc.uri), FPS: 5, MaxWidth: tc.maxWidth, Format: shm.FormatNV12}, r)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := c.Run(ctx); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if len(r.frames) != 5 {
				t.Fatalf("got %d frames, want 5", len(r.frames))
			}
			for i, f := range r.frames {
				if f.format != shm.FormatNV12 || f.w != tc.wantW || f.h != tc.wantH || f.stride != tc.wantStride ||
					f.uvStride != tc.wantStride || f.uvLen != tc.wantStride*tc.wantH/2 {
					t.Errorf("frame %d: %s %dx%d stride %d uv stride %d uv bytes %d, want NV12 %dx%d stride %d",
						i, f.format, f.w, f.h, f.stride, f.uvStride, f.uvLen, tc.wantW, tc.wantH, tc.wantStride)
				}
				if math.Abs(f.meanY-tc.wantY) > 1 || math.Abs(f.meanU-tc.wantU) > 1 || math.Abs(f.meanV-tc.wantV) > 1 {
					t.Errorf("frame %d: Y %.1f U %.1f V %.1f, want %.0f %.0f %.0f", i, f.meanY, f.meanU, f.meanV, tc.wantY, tc.wantU, tc.wantV)
				}
			}
		})
	}
}

func TestLosslessBackpressure(t *testing.T) {
	spec, err := source.Parse("test://smpte?width=320&height=240&fps=30&duration=2s")
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{delay: 20 * time.Millisecond}
	if _, err := runCapture(t, Config{StreamID: "bp", Source: spec, FPS: 30}, r, 30*time.Second); err != nil {
		t.Fatalf("Run: %v", err)
	}
	frames, progress := r.snapshot()
	if len(frames) != 60 {
		t.Fatalf("slow handler got %d frames, want all 60", len(frames))
	}
	checkSequence(t, frames, progress, 30)
}

func TestLoopTimeLine(t *testing.T) {
	path := makeClip(t, t.TempDir(), "loop.mp4", "smpte", 320, 240, 30, 30)
	tests := []struct {
		name      string
		realtime  bool
		limit     int
		wantLoops int
	}{
		{name: "lossless", limit: 17, wantLoops: 3},
		{name: "realtime", realtime: true, limit: 8, wantLoops: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{limit: tc.limit}
			c, err := runCapture(t, Config{StreamID: "loop", Source: fileSpec(t, path), FPS: 5, Loop: true, Realtime: tc.realtime}, r, 30*time.Second)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			frames, progress := r.snapshot()
			if len(frames) != tc.limit {
				t.Fatalf("got %d frames, want %d (none after cancel)", len(frames), tc.limit)
			}
			const period = 200 * time.Millisecond
			for i := 1; i < len(frames); i++ {
				gap := frames[i].pts - frames[i-1].pts
				if gap <= 0 {
					t.Fatalf("pts went back at frame %d: %v after %v", i, frames[i].pts, frames[i-1].pts)
				}
				if d := gap - period; d > 34*time.Millisecond || d < -34*time.Millisecond {
					t.Errorf("frame %d: gap %v, want %v within a frame", i, gap, period)
				}
			}
			for i := 1; i < len(progress); i++ {
				if progress[i] <= progress[i-1] {
					t.Errorf("progress did not advance: %v after %v", progress[i], progress[i-1])
				}
			}
			if st := c.Stats(); st.Loops < tc.wantLoops {
				t.Errorf("loops %d, want >= %d after %d frames of a 1 s clip", st.Loops, tc.wantLoops, tc.limit)
			}
		})
	}
}

func TestSourceErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.mp4")
	junk := make([]byte, 64<<10)
	for i := range junk {
		junk[i] = byte(i*7 + i/13)
	}
	if err := os.WriteFile(garbage, junk, 0o644); err != nil {
		t.Fatal(err)
	}
	gone := filepath.Join(dir, "gone.mp4")
	if err := os.WriteFile(gone, junk, 0o644); err != nil {
		t.Fatal(err)
	}
	goneSpec := fileSpec(t, gone)
	if err := os.Remove(gone); err != nil {
		t.Fatal(err)
	}
	audioOnly := launch(t, dir, "audio.wav", "audiotestsrc", "num-buffers=20", "!", "wavenc", "!", "filesink")
	tests := []struct {
		name string
		spec source.Spec
		want string
	}{
		{name: "corrupt file", spec: fileSpec(t, garbage), want: "Could not determine type of stream."},
		{name: "missing file", spec: goneSpec, want: "Resource not found."},
		{name: "no video stream", spec: fileSpec(t, audioOnly), want: "source has no video stream"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			r := &recorder{}
			_, err := runCapture(t, Config{StreamID: "bad", Source: tc.spec, FPS: 5}, r, 10*time.Second)
			var se *SourceError
			if !errors.As(err, &se) {
				t.Fatalf("Run = %v, want *SourceError", err)
			}
			if se.StreamID != "bad" || se.Message != tc.want {
				t.Errorf("source error %+v, want message %q", se, tc.want)
			}
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("error took %v", el)
			}
			t.Logf("error: %v (debug: %s)", se, se.Debug)
		})
	}
}

func TestConcurrentCaptures(t *testing.T) {
	path := makeClip(t, t.TempDir(), "c.mp4", "white", 640, 360, 30, 90)
	spec, err := source.Parse("test://black?width=320&height=240&fps=30&duration=3s")
	if err != nil {
		t.Fatal(err)
	}
	cfgs := []Config{
		{StreamID: "a", Source: fileSpec(t, path), FPS: 5},
		{StreamID: "b", Source: spec, FPS: 5},
		{StreamID: "c", Source: fileSpec(t, path), FPS: 10, MaxWidth: 320},
	}
	want := []int{15, 15, 30}
	recs := make([]*recorder, len(cfgs))
	errs := make([]error, len(cfgs))
	var wg sync.WaitGroup
	for i, cfg := range cfgs {
		recs[i] = &recorder{}
		c, err := New(cfg, recs[i])
		if err != nil {
			t.Fatalf("New %s: %v", cfg.StreamID, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			errs[i] = c.Run(ctx)
		}()
	}
	wg.Wait()
	for i := range cfgs {
		if errs[i] != nil {
			t.Errorf("%s: %v", cfgs[i].StreamID, errs[i])
		}
		frames, _ := recs[i].snapshot()
		if len(frames) != want[i] {
			t.Errorf("%s: %d frames, want %d", cfgs[i].StreamID, len(frames), want[i])
		}
	}
}

func TestRealtimeFilePaced(t *testing.T) {
	path := makeClip(t, t.TempDir(), "rt.mp4", "white", 320, 240, 30, 30)
	r := &recorder{}
	start := time.Now()
	c, err := runCapture(t, Config{StreamID: "rt", Source: fileSpec(t, path), FPS: 10, Realtime: true}, r, 30*time.Second)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if el := time.Since(start); el < 800*time.Millisecond {
		t.Errorf("realtime 1 s clip took %v, want >= 0.8 s", el)
	}
	frames, _ := r.snapshot()
	if len(frames) < 8 {
		t.Errorf("got %d of 10 frames", len(frames))
	}
	a := c.WallAnchor()
	if d := time.Since(a); d < 800*time.Millisecond || d > 10*time.Second {
		t.Errorf("wall anchor %v is %v ago", a, d)
	}
}

func TestRealtimeTestSourceCancel(t *testing.T) {
	spec, err := source.Parse("test://ball?width=320&height=240&fps=30")
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{limit: 5}
	start := time.Now()
	c, err := runCapture(t, Config{StreamID: "live", Source: spec, FPS: 10, Realtime: true}, r, 30*time.Second)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if el := time.Since(start); el < 350*time.Millisecond {
		t.Errorf("5 live frames at 10 fps took %v", el)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := c.Run(context.Background()); !errors.Is(err, ErrAlreadyRun) {
		t.Errorf("second Run = %v, want ErrAlreadyRun", err)
	}
}

func TestNewRejects(t *testing.T) {
	spec, err := source.Parse("test://smpte")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
		h    Handler
		want string
	}{
		{name: "nil handler", cfg: Config{StreamID: "x", Source: spec, FPS: 5}, want: `stream "x": nil handler`},
		{name: "zero fps", cfg: Config{StreamID: "x", Source: spec}, h: &recorder{}, want: `stream "x": fps must be 1..240, got 0`},
		{name: "negative width", cfg: Config{StreamID: "x", Source: spec, FPS: 5, MaxWidth: -1}, h: &recorder{}, want: `stream "x": max width must be >= 0, got -1`},
		{name: "unknown kind", cfg: Config{StreamID: "x", Source: source.Spec{Kind: "srt"}, FPS: 5}, h: &recorder{}, want: `stream "x": unsupported source scheme "srt"`},
		{name: "live not realtime", cfg: Config{StreamID: "x", Source: mustParse(t, "rtsp://u:pw@cam/x"), FPS: 5}, h: &recorder{},
			want: `stream "x": rtsp source "rtsp://u:xxxxx@cam/x" is live: it needs realtime = true (a live source cannot be read losslessly)`},
		{name: "bad format", cfg: Config{StreamID: "x", Source: spec, FPS: 5, Format: shm.FormatGray8}, h: &recorder{},
			want: `stream "x": analysis format must be RGB24 or NV12, got gray8`},
		{name: "gpu branch not nv12", cfg: Config{StreamID: "x", Source: spec, FPS: 5, GPU: &GPU{}}, h: &recorder{},
			want: `stream "x": the GPU analysis branch delivers NV12, got format rgb24`},
		{name: "bad reconnect", cfg: Config{StreamID: "x", Source: mustParse(t, "rtsp://cam/x"), FPS: 5, Realtime: true, Reconnect: Reconnect{Jitter: 2}}, h: &recorder{},
			want: `stream "x": reconnect: jitter must be 0..1, got 2`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg, tc.h)
			if err == nil || err.Error() != tc.want {
				t.Errorf("New = %v, want %q", err, tc.want)
			}
		})
	}
}

func mustParse(t *testing.T, uri string) source.Spec {
	t.Helper()
	s, err := source.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCloseWithoutRun(t *testing.T) {
	spec, err := source.Parse("test://smpte")
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{StreamID: "x", Source: spec, FPS: 5}, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Run(context.Background()); !errors.Is(err, ErrAlreadyRun) {
		t.Errorf("Run after Close = %v", err)
	}
}

func TestMissingElementNamed(t *testing.T) {
	initGst()
	_, err := newElement("lsie-no-such-element", "")
	if want := `missing GStreamer element "lsie-no-such-element" (is its plugin installed?)`; err == nil || err.Error() != want {
		t.Errorf("newElement = %v, want %q", err, want)
	}
}
