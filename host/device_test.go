package host

import (
	"context"
	"errors"
	"fmt"
	"math"
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
	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
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

func (d *hostDevices) Probe(int) error { return d.probeErr }

func (d *hostDevices) Decoder(int) (*capture.GPU, error) {
	return nil, errors.New("the stand-in device has no GStreamer context")
}

func (d *hostDevices) Open(spec deviceSpec) (frameStore, error) {
	hdr, err := shm.CreateRegion(spec.IDs[0], "lsie-test-device", cuda.HeaderSpec(spec.Slots))
	if err != nil {
		return nil, err
	}
	info := cuda.RegionInfo{ID: spec.IDs[0], Format: shm.FormatNV12, Width: uint32(spec.Width), Height: uint32(spec.Height),
		Pitch: uint32(cuda.Pitch(shm.FormatNV12, spec.Width)),
		Mem:   make([]cuda.MemHandle, spec.Slots), Events: make([]cuda.EventHandle, spec.Slots)}
	s := &hostDeviceStore{info: info, hdr: hdr, leases: shm.NewPool(hdr), announced: make([]int, 1+len(spec.Tensors))}
	for range spec.Slots {
		s.bufs = append(s.bufs, make([]byte, info.BufferBytes()))
	}
	for i, t := range spec.Tensors {
		v := &hostView{spec: t, info: info.TensorView(spec.IDs[1+i], t, make([]cuda.MemHandle, spec.Slots))}
		for range spec.Slots {
			v.bufs = append(v.bufs, make([]float32, t.Floats()))
		}
		s.views = append(s.views, v)
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
	views  []*hostView

	mu        sync.Mutex
	writes    int
	lumaMeans []float64 // of each frame, read back from its "device" buffer
	announced []int     // per view
	atClose   shm.PoolStats
}

// hostView makes one model input per frame with the kernel's CPU reference.
type hostView struct {
	spec   cuda.PreprocessSpec
	info   cuda.RegionInfo
	bufs   [][]float32
	made   int
	planes [3]float64 // channel means of the last tensor made
}

func (s *hostDeviceStore) Leases() *shm.Pool { return s.leases }
func (s *hostDeviceStore) Regions() []uint32 {
	ids := []uint32{s.info.ID}
	for _, v := range s.views {
		ids = append(ids, v.info.ID)
	}
	return ids
}

func (s *hostDeviceStore) Fits(f *capture.Frame) bool {
	return f.Format == shm.FormatNV12 && uint32(f.Width) == s.info.Width && uint32(f.Height) == s.info.Height
}

func (s *hostDeviceStore) Write(slot int, f *capture.Frame, stream uint32) (shm.Descriptor, error) {
	s.hdr.BeginWrite(slot)
	pitch := int(s.info.Pitch)
	if err := copyNV12(s.bufs[slot], pitch, f); err != nil {
		return shm.Descriptor{}, err
	}
	for _, v := range s.views {
		if err := cuda.PreprocessNV12(v.bufs[slot], s.bufs[slot], pitch, f.Width, f.Height, &v.spec); err != nil {
			return shm.Descriptor{}, err
		}
		v.made++
		n := v.spec.Width * v.spec.Height
		for c := range 3 {
			var sum float64
			for _, x := range v.bufs[slot][c*n : (c+1)*n] {
				sum += float64(x)
			}
			v.planes[c] = sum / float64(n)
		}
	}
	gen := s.hdr.EndWrite(slot, stream, f.Seq, int64(f.PTS), 0)
	s.mu.Lock()
	s.writes++
	s.lumaMeans = append(s.lumaMeans, cuda.MeanLuma(s.bufs[slot], pitch, f.Width, f.Height))
	s.mu.Unlock()
	return s.info.Descriptor(slot, stream, gen, f.Seq, int64(f.PTS)), nil
}

func (s *hostDeviceStore) View(v int, d *shm.Descriptor) shm.Descriptor {
	if v == 0 {
		return *d
	}
	return s.views[v-1].info.Descriptor(int(d.Slot), d.Stream, d.Generation, d.Seq, d.PTS)
}

func (s *hostDeviceStore) Announce(p *plugin.Process, v int) error {
	info := &s.info
	if v > 0 {
		info = &s.views[v-1].info
	}
	s.mu.Lock()
	s.announced[v]++
	s.mu.Unlock()
	return p.SendCUDARegion(info, s.hdr.Fd())
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

func cudaStreamConfig(dir string, plugins ...string) string {
	var blocks strings.Builder
	for _, p := range plugins {
		fmt.Fprintf(&blocks, "  plugin %q {}\n", p)
	}
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
%s}
`, filepath.Join(dir, "lsie.db"), blocks.String())
}

// TestCUDAStreamThroughHost runs a stream with video.memory = "cuda" through
// the host on the host-memory stand-in device and real plugin processes:
// capture in NV12, one store, every frame written (its luma read back from
// the buffer) and each distinct model input made once per frame however many
// plugins declare it, each plugin announced the region of its view once,
// every frame sent as a CUDA descriptor and answered (here no_cuda: the
// plugins are built without CUDA), every slot back at the end.
func TestCUDAStreamThroughHost(t *testing.T) {
	names := []string{"nv12plugin", "tensor64a", "tensor64b", "tensor32"}
	plugins := buildPlugins(t, map[string]string{"nv12plugin": "./testdata/nv12plugin",
		"tensor64a": "./testdata/tensorplugin", "tensor64b": "./testdata/tensorplugin", "tensor32": "./testdata/tensorplugin"})
	dir := t.TempDir()
	var logs testenv.SyncBuffer
	log := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Debug, JSONFormat: true})
	dev := &hostDevices{}
	segs, err := runHost(t, cudaStreamConfig(dir, names...), plugins, dev, log)
	if err != nil {
		t.Fatal(err)
	}
	const frames = 20
	seen := 0
	errs, analysed, items := map[string]int{}, map[string]int{}, map[string]int{}
	for _, s := range segs {
		seen += s.FramesSeen
		for _, name := range names {
			p := s.Plugins[name]
			errs[name] += p.Errors
			analysed[name] += p.FramesAnalysed
			items[name] += len(p.Items)
			for _, it := range p.Items {
				if !strings.HasPrefix(it.Error, "no_cuda: cuda frame seq") {
					t.Errorf("segment %d: %s: item error %q, want no_cuda", s.Index, name, it.Error)
				}
			}
		}
	}
	if seen != frames {
		t.Errorf("frames seen %d, want %d", seen, frames)
	}
	for _, name := range names {
		if errs[name] != frames || analysed[name] != 0 || items[name] != frames {
			t.Errorf("%s: %d errors, %d analysed, %d items; want %d, 0, %d", name, errs[name], analysed[name], items[name], frames, frames)
		}
	}
	if len(dev.stores) != 1 {
		t.Fatalf("%d device stores opened, want 1", len(dev.stores))
	}
	st := dev.stores[0]
	if fmt.Sprint(st.announced) != "[1 2 1]" || st.writes != frames {
		t.Errorf("views announced %v times, %d writes; want [1 2 1] (nv12plugin; tensor64a, tensor64b; tensor32), %d", st.announced, st.writes, frames)
	}
	if len(st.views) != 2 {
		t.Fatalf("%d views, want 2 (64x64, 32x32)", len(st.views))
	}
	for i, size := range []int{64, 32} {
		v := st.views[i]
		if v.spec.Width != size || v.info.Width != uint32(size) || v.info.Pitch != uint32(4*size) || v.info.Format != shm.FormatRGBF32 || v.made != frames {
			t.Errorf("view %d: %dx%d, region %dx%d pitch %d %s, made %d; want %d, pitch %d, rgbf32, %d",
				i+1, v.spec.Width, v.spec.Height, v.info.Width, v.info.Height, v.info.Pitch, v.info.Format, v.made, size, 4*size, frames)
		}
		// White (luma 235) is 1.0 in every channel before normalisation.
		for c, mean := range []float64{0.485, 0.456, 0.406} {
			std := []float64{0.229, 0.224, 0.225}[c]
			if want := (1 - mean) / std; math.Abs(v.planes[c]-want) > 0.01 {
				t.Errorf("view %d channel %d: %.4f, want %.4f", i+1, c, v.planes[c], want)
			}
		}
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
	if !strings.Contains(logs.String(), `"reason":"the stand-in device has no GStreamer context"`) {
		t.Error("the host did not say why frames are converted on the CPU")
	}
	// The plugins got the region packets: their SDK, built without CUDA, says so.
	if n := strings.Count(logs.String(), "cannot open CUDA region"); n != len(names) {
		t.Errorf("plugins logged %d CUDA region refusals, want %d", n, len(names))
	}
}

// TestCUDAMemoryWiring: a stream's plugins must consume video in the memory
// its frames live in, and a device that cannot be used refuses the stream
// before anything starts; each error names the stream, the plugin and the fix.
func TestCUDAMemoryWiring(t *testing.T) {
	plugins := buildPlugins(t, map[string]string{"nv12plugin": "./testdata/nv12plugin", "minimal": "../examples/minimal",
		"tensornone": "./testdata/tensorplugin"})
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
			want: `stream "gpu": plugin "nv12plugin": consumes frames in GPU memory (video.nv12.cuda or video.rgbf32.cuda) but the stream has video.memory = "host"`},
		{name: "model input without a size", cfg: cudaStreamConfig(dir, "tensornone"), devices: &hostDevices{},
			want: `stream "gpu": plugin "tensornone": consumes video.rgbf32.cuda but its manifest declares no device_input`},
		{name: "no device", cfg: cudaStreamConfig(dir, "nv12plugin"), devices: &hostDevices{probeErr: errors.New("no CUDA driver: cuInit: CUDA_ERROR_NO_DEVICE")},
			want: `stream "gpu": video.memory = "cuda", gpu = 0: stream cannot run: no CUDA driver: cuInit: CUDA_ERROR_NO_DEVICE`, is: api.ErrUnrunnable},
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

// TestDeviceInputSpec reads a manifest's model input: defaults for an
// omitted mean and std, and an error naming the field otherwise.
func TestDeviceInputSpec(t *testing.T) {
	m := func(d *pluginv1.DeviceInput) *pluginv1.Manifest { return &pluginv1.Manifest{DeviceInput: d} }
	spec, err := deviceInputSpec(m(&pluginv1.DeviceInput{Width: 640, Height: 384}))
	if err != nil || spec != (cuda.PreprocessSpec{Width: 640, Height: 384, Std: [3]float32{1, 1, 1}}) {
		t.Errorf("defaults: %+v, %v", spec, err)
	}
	spec, err = deviceInputSpec(m(&pluginv1.DeviceInput{Width: 2, Height: 3, Mean: []float32{.1, .2, .3}, Std: []float32{.4, .5, .6}}))
	if err != nil || spec != (cuda.PreprocessSpec{Width: 2, Height: 3, Mean: [3]float32{.1, .2, .3}, Std: [3]float32{.4, .5, .6}}) {
		t.Errorf("given: %+v, %v", spec, err)
	}
	for _, tc := range []struct {
		in   *pluginv1.DeviceInput
		want string
	}{
		{nil, "declares no device_input"},
		{&pluginv1.DeviceInput{Width: 0, Height: 3}, "manifest device_input: cuda: bad preprocessing input: output size 0x3"},
		{&pluginv1.DeviceInput{Width: 2, Height: 3, Mean: []float32{1}}, "device_input.mean has 1 values, want 3"},
		{&pluginv1.DeviceInput{Width: 2, Height: 3, Std: []float32{1, 0, 1}}, "std[1] = 0, want > 0"},
	} {
		if _, err := deviceInputSpec(m(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.in, err, tc.want)
		}
	}
}
