package host

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/lsie-mlf/lsie/host/api"
	"github.com/lsie-mlf/lsie/host/capture"
	"github.com/lsie-mlf/lsie/host/config"
	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/plugin"
	"github.com/lsie-mlf/lsie/internal/testenv"
	"github.com/lsie-mlf/lsie/shm"
	"github.com/lsie-mlf/lsie/shm/cuda"
)

// hostDevices stands in for a GPU, which this machine lacks: its "device
// buffers" are host memory, but the slot headers, leases, descriptors and
// the region packet sent to plugins are the real ones (zero IPC handles).
type hostDevices struct {
	probeErr error
	mu       sync.Mutex
	stores   []*hostDeviceStore
}

func (d *hostDevices) Probe() error { return d.probeErr }

func (d *hostDevices) Open(spec deviceSpec) (frameStore, error) {
	hdr, err := shm.CreateRegion(spec.ID, "lsie-test-device", cuda.HeaderSpec(spec.Slots))
	if err != nil {
		return nil, err
	}
	info := cuda.RegionInfo{ID: spec.ID, Format: shm.FormatNV12, Width: uint32(spec.Width), Height: uint32(spec.Height),
		Pitch: uint32(cuda.Pitch(shm.FormatNV12, spec.Width)),
		Mem:   make([]cuda.MemHandle, spec.Slots), Events: make([]cuda.EventHandle, spec.Slots)}
	s := &hostDeviceStore{info: info, hdr: hdr, leases: shm.NewPool(hdr)}
	for range spec.Slots {
		s.bufs = append(s.bufs, make([]byte, info.BufferBytes()))
	}
	d.mu.Lock()
	d.stores = append(d.stores, s)
	d.mu.Unlock()
	return s, nil
}

type hostDeviceStore struct {
	info   cuda.RegionInfo
	hdr    *shm.Region
	leases *shm.Pool
	bufs   [][]byte

	mu        sync.Mutex
	writes    int
	lumaMeans []float64 // of each frame, read back from its "device" buffer
	announced int
	atClose   shm.PoolStats
}

func (s *hostDeviceStore) ID() uint32        { return s.info.ID }
func (s *hostDeviceStore) Leases() *shm.Pool { return s.leases }

func (s *hostDeviceStore) Fits(f *capture.Frame) bool {
	return f.Format == shm.FormatNV12 && uint32(f.Width) == s.info.Width && uint32(f.Height) == s.info.Height
}

func (s *hostDeviceStore) Write(slot int, f *capture.Frame, stream uint32) (shm.Descriptor, error) {
	s.hdr.BeginWrite(slot)
	if err := copyNV12(s.bufs[slot], int(s.info.Pitch), f); err != nil {
		return shm.Descriptor{}, err
	}
	gen := s.hdr.EndWrite(slot, stream, f.Seq, int64(f.PTS), 0)
	s.mu.Lock()
	s.writes++
	s.lumaMeans = append(s.lumaMeans, cuda.MeanLuma(s.bufs[slot], int(s.info.Pitch), f.Width, f.Height))
	s.mu.Unlock()
	return s.info.Descriptor(slot, stream, gen, f.Seq, int64(f.PTS)), nil
}

func (s *hostDeviceStore) Announce(p *plugin.Process) error {
	s.mu.Lock()
	s.announced++
	s.mu.Unlock()
	return p.SendCUDARegion(&s.info, s.hdr.Fd())
}

func (s *hostDeviceStore) Close() error {
	s.mu.Lock()
	s.atClose = s.leases.Stats()
	s.mu.Unlock()
	err := s.leases.Close()
	return errors.Join(err, s.hdr.Close())
}

// buildPlugins builds test plugins (name → package dir) into a plugin folder.
func buildPlugins(t *testing.T, pkgs map[string]string) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		testenv.Missing(t, "the go tool is needed to build the test plugins")
	}
	dir := t.TempDir()
	for name, pkg := range pkgs {
		out, err := exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("build %s: %v\n%s", pkg, err, out)
		}
	}
	return dir
}

// runHost runs a host on cfg until its streams end and returns the segments.
func runHost(t *testing.T, cfgText, pluginDir string, devices deviceProvider, log hclog.Logger) ([]model.Segment, error) {
	t.Helper()
	cfg, err := config.Parse([]byte(cfgText), "test.hcl")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var segs []model.Segment
	h, err := New(cfg, Options{PluginDir: pluginDir, Logger: log, ExitWhenDone: true, devices: devices,
		OnSegment: func(s model.Segment) { mu.Lock(); segs = append(segs, s); mu.Unlock() }})
	if err != nil {
		return nil, err
	}
	defer h.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := h.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	return segs, nil
}

func cudaStreamConfig(dir, plugin string) string {
	return fmt.Sprintf(`segment { duration = "1s" }
store { sqlite = %q }
api { listen = "127.0.0.1:0" }
stream "gpu" {
  source   = "test://white?width=320&height=240&fps=10&duration=2s"
  realtime = false
  video {
    fps    = 10
    memory = "cuda"
  }
  plugin %q {}
}
`, filepath.Join(dir, "lsie.db"), plugin)
}

// TestCUDAStreamThroughHost runs a stream with video.memory = "cuda" through
// the host on the host-memory stand-in device and a real plugin process:
// capture in NV12, one store announced once, every frame written (its luma
// read back from the buffer), sent as a CUDA descriptor and answered (here
// no_cuda: the plugin is built without CUDA), every slot back at the end.
func TestCUDAStreamThroughHost(t *testing.T) {
	plugins := buildPlugins(t, map[string]string{"nv12plugin": "./testdata/nv12plugin"})
	dir := t.TempDir()
	var logs testenv.SyncBuffer
	log := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Debug, JSONFormat: true})
	dev := &hostDevices{}
	segs, err := runHost(t, cudaStreamConfig(dir, "nv12plugin"), plugins, dev, log)
	if err != nil {
		t.Fatal(err)
	}
	const frames = 20
	var seen, errs, analysed int
	for _, s := range segs {
		seen += s.FramesSeen
		p := s.Plugins["nv12plugin"]
		errs += p.Errors
		analysed += p.FramesAnalysed
		for _, it := range p.Items {
			if !strings.HasPrefix(it.Error, "no_cuda: cuda frame seq") {
				t.Errorf("segment %d: item error %q, want no_cuda", s.Index, it.Error)
			}
		}
	}
	if seen != frames || errs != frames || analysed != 0 {
		t.Errorf("frames seen %d, plugin errors %d, analysed %d; want %d, %d, 0", seen, errs, analysed, frames, frames)
	}
	if len(dev.stores) != 1 {
		t.Fatalf("%d device stores opened, want 1", len(dev.stores))
	}
	st := dev.stores[0]
	if st.announced != 1 || st.writes != frames {
		t.Errorf("store announced %d times, %d writes; want 1, %d", st.announced, st.writes, frames)
	}
	for i, m := range st.lumaMeans {
		if m < 234 || m > 236 { // white in BT.601 limited range
			t.Errorf("frame %d: luma mean %.1f in the device buffer, want 235", i, m)
		}
	}
	if st.atClose.Free != st.atClose.Slots || st.atClose.Leased != 0 || st.atClose.Writing != 0 {
		t.Errorf("slots at close: %+v, want all free", st.atClose)
	}
	if st.info.Pitch != 512 || st.info.Width != 320 || st.info.Height != 240 {
		t.Errorf("region %dx%d pitch %d, want 320x240 pitch 512", st.info.Width, st.info.Height, st.info.Pitch)
	}
	// The plugin got the region packet: its SDK, built without CUDA, says so.
	if n := strings.Count(logs.String(), "cannot open CUDA region"); n != 1 {
		t.Errorf("plugin logged %d CUDA region refusals, want 1", n)
	}
}

// TestCUDAMemoryWiring: a stream's plugins must consume video in the memory
// its frames live in, and a device that cannot be used refuses the stream
// before anything starts; each error names the stream, the plugin and the fix.
func TestCUDAMemoryWiring(t *testing.T) {
	plugins := buildPlugins(t, map[string]string{"nv12plugin": "./testdata/nv12plugin", "minimal": "../examples/minimal"})
	dir := t.TempDir()
	hostStream := strings.Replace(cudaStreamConfig(dir, "nv12plugin"), `memory = "cuda"`, `memory = "host"`, 1)
	tests := []struct {
		name    string
		cfg     string
		devices deviceProvider
		want    string
		is      error
	}{
		{name: "rgb plugin on a cuda stream", cfg: cudaStreamConfig(dir, "minimal"), devices: &hostDevices{},
			want: `stream "gpu": plugin "minimal": consumes video.rgb24 (frames in host memory) but the stream has video.memory = "cuda"`},
		{name: "device plugin on a host stream", cfg: hostStream, devices: &hostDevices{},
			want: `stream "gpu": plugin "nv12plugin": consumes video.nv12.cuda (frames in GPU memory) but the stream has video.memory = "host"`},
		{name: "no device", cfg: cudaStreamConfig(dir, "nv12plugin"), devices: &hostDevices{probeErr: errors.New("no CUDA driver: cuInit: CUDA_ERROR_NO_DEVICE")},
			want: `stream "gpu": video.memory = "cuda": stream cannot run: no CUDA driver: cuInit: CUDA_ERROR_NO_DEVICE`, is: api.ErrUnrunnable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runHost(t, tc.cfg, plugins, tc.devices, hclog.NewNullLogger())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v\nwant %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
		})
	}
}

// TestCopyNV12 lays out an odd-sized frame (5x3: 3 luma rows, 2 chroma rows
// of 3 U,V pairs) from GStreamer's padded planes at a device pitch, and
// refuses what does not fit.
func TestCopyNV12(t *testing.T) {
	f := &capture.Frame{Format: shm.FormatNV12, Width: 5, Height: 3, Stride: 8, UVStride: 8,
		Data: []byte("ABCDE...FGHIJ...KLMNO..."), UV: []byte("uvuvuv..wxwxwx..")}
	dst := make([]byte, 6*5)
	if err := copyNV12(dst, 6, f); err != nil {
		t.Fatal(err)
	}
	want := "ABCDE\x00FGHIJ\x00KLMNO\x00uvuvuvwxwxwx"
	if got := strings.TrimRight(string(dst), "\x00"); got != want {
		t.Errorf("copied %q, want %q", got, want)
	}
	for _, bad := range []struct {
		name  string
		pitch int
		dst   int
		f     capture.Frame
	}{
		{"pitch below a row", 5, 30, *f},
		{"buffer too small", 6, 29, *f},
		{"short chroma plane", 6, 30, capture.Frame{Format: shm.FormatNV12, Width: 5, Height: 3, Stride: 8, UVStride: 8, Data: f.Data, UV: f.UV[:13]}},
		{"not NV12", 6, 30, capture.Frame{Format: shm.FormatRGB24, Width: 5, Height: 3, Stride: 16, Data: make([]byte, 48)}},
	} {
		if err := copyNV12(make([]byte, bad.dst), bad.pitch, &bad.f); err == nil {
			t.Errorf("%s: no error", bad.name)
		}
	}
}
