//go:build cuda

// Command cuda-bench feeds synthetic 1080p NV12 frames (no GStreamer) through
// the real CUDA device pool to a real plugin process (examples/gpustat built
// with -tags cuda), checks that the plugin's mean luma equals the frame's,
// and prints handoff p50/p99 and frames/s for the CUDA and the memfd path,
// and the preprocessing kernel's frames/s. See docs/CUDA.md.
package main

import (
	"flag"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"slices"
	"time"

	"github.com/lsie-mlf/lsie/sdk/cudaframe"
	"github.com/lsie-mlf/lsie/sdk/proto/dataplane"
	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
	"github.com/lsie-mlf/lsie/shm"
	"github.com/lsie-mlf/lsie/shm/cuda"
	"google.golang.org/protobuf/proto"
	"gorgonia.org/cu"
)

const width, height = 1920, 1080

func main() {
	pluginPath := flag.String("plugin", "./gpustat", "GPU plugin binary (examples/gpustat built with -tags cuda)")
	n := flag.Int("n", 2000, "frames per measurement")
	slots := flag.Int("slots", 4, "pool slots (pipelined window = slots-1)")
	device := flag.Int("device", 0, "CUDA device ordinal")
	pre := flag.Int("pre", 640, "preprocessing output size (square)")
	flag.Parse()
	if err := run(*pluginPath, *n, *slots, *device, *pre); err != nil {
		fmt.Fprintln(os.Stderr, "cuda-bench:", err)
		os.Exit(1)
	}
}

// frame fills an NV12 frame (pitch bytes per row) whose content depends on i,
// and returns its mean luma.
func frame(b []byte, pitch, i int) float64 {
	for y := 0; y < height; y++ {
		row := b[y*pitch : y*pitch+width]
		for x := range row {
			row[x] = byte(x + 3*y + 7*i)
		}
	}
	for k := height * pitch; k < len(b); k++ {
		b[k] = byte(k + i)
	}
	return cuda.MeanLuma(b, pitch, width, height)
}

type plugin struct {
	conn *net.UnixConn
	cmd  *exec.Cmd
	buf  []byte
}

func startPlugin(path string) (*plugin, error) {
	host, child, err := shm.SocketPair()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path)
	cmd.Env = append(os.Environ(), cudaframe.RawEnv+"=1", "LSIE_GPUSTAT_CPU_EVERY=500")
	cmd.ExtraFiles = []*os.File{child}
	cmd.Stderr = os.Stderr
	err = cmd.Start()
	child.Close()
	if err != nil {
		host.Close()
		return nil, fmt.Errorf("start plugin %s: %w", path, err)
	}
	return &plugin{conn: host, cmd: cmd, buf: make([]byte, dataplane.MaxMessage)}, nil
}

func (p *plugin) close() {
	p.conn.Close() // EOF ends the plugin
	_ = p.cmd.Wait()
}

func (p *plugin) send(d *shm.Descriptor) error {
	var b [dataplane.FrameSize]byte
	d.SentNanos = shm.MonotonicNanos()
	sent[d.Seq%uint64(len(sent))] = d.SentNanos
	dataplane.PutFrame(b[:], d)
	_, err := p.conn.Write(b[:])
	return err
}

func (p *plugin) result() (dataplane.Ack, *pluginv1.Result, error) {
	if err := p.conn.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return dataplane.Ack{}, nil, err
	}
	n, err := p.conn.Read(p.buf)
	if err != nil {
		return dataplane.Ack{}, nil, fmt.Errorf("plugin result: %w", err)
	}
	ack, body, err := dataplane.ParseResult(p.buf[:n])
	if err != nil {
		return ack, nil, err
	}
	res := &pluginv1.Result{}
	if err := proto.Unmarshal(body, res); err != nil {
		return ack, nil, err
	}
	if e := res.GetError(); e != nil {
		return ack, nil, fmt.Errorf("plugin: %s: %s", e.GetCode(), e.GetMessage())
	}
	return ack, res, nil
}

// path is one way of handing frames over: fill writes frame i into a slot it
// acquired and returns the descriptor; release ends the slot's lease.
type path struct {
	name    string
	pitch   int
	acquire func() (int, []byte, error)
	commit  func(slot, i int) (shm.Descriptor, error)
	leases  *shm.Pool
}

const consumer shm.ConsumerID = 1

func (pa *path) one(p *plugin, i int, want float64, check bool) (*pluginv1.Result, error) {
	slot, buf, err := pa.acquire()
	if err != nil {
		return nil, err
	}
	mean := want
	if check {
		mean = frame(buf, pa.pitch, i)
	}
	d, err := pa.commit(slot, i)
	if err != nil {
		return nil, err
	}
	pa.leases.Publish(slot, d.Generation, []shm.ConsumerID{consumer}, time.Now().Add(time.Minute))
	if err := p.send(&d); err != nil {
		return nil, err
	}
	ack, res, err := p.result()
	if err != nil {
		return nil, err
	}
	if err := pa.leases.Release(int(ack.Slot), ack.Generation, consumer); err != nil {
		return nil, err
	}
	if check {
		f := res.GetFields()
		got, ok := f["mean_luma_gpu"]
		if !ok {
			got = f["mean_luma_cpu"]
		}
		if got != mean {
			return nil, fmt.Errorf("%s frame %d: plugin mean luma %v, frame's %v", pa.name, i, got, mean)
		}
		if c, ok := f["mean_luma_cpu"]; ok && c != mean {
			return nil, fmt.Errorf("%s frame %d: plugin CPU mean luma %v, frame's %v", pa.name, i, c, mean)
		}
	}
	return res, nil
}

func (pa *path) measure(p *plugin, n, window int) error {
	for i := range 20 { // content check, also warm-up
		if _, err := pa.one(p, i, 0, true); err != nil {
			return err
		}
	}
	lat := make([]int64, 0, n)
	for i := range n {
		res, err := pa.one(p, i, 0, false)
		if err != nil {
			return err
		}
		lat = append(lat, sentOf(res))
	}
	slices.Sort(lat)
	// Pipelined: up to window frames in flight, each filled by the CPU.
	start := time.Now()
	inflight := 0
	for i := 0; i < n || inflight > 0; {
		if i < n && inflight < window {
			slot, buf, err := pa.acquire()
			if err != nil {
				return err
			}
			buf[0] = byte(i)
			d, err := pa.commit(slot, i)
			if err != nil {
				return err
			}
			pa.leases.Publish(slot, d.Generation, []shm.ConsumerID{consumer}, time.Now().Add(time.Minute))
			if err := p.send(&d); err != nil {
				return err
			}
			inflight++
			i++
			continue
		}
		ack, _, err := p.result()
		if err != nil {
			return err
		}
		if err := pa.leases.Release(int(ack.Slot), ack.Generation, consumer); err != nil {
			return err
		}
		inflight--
	}
	el := time.Since(start)
	fmt.Printf("| %s | 1920x1080 nv12 | %s | %s | %.0f |\n", pa.name, us(lat[len(lat)/2]), us(lat[min(len(lat)-1, len(lat)*99/100)]), float64(n)/el.Seconds())
	return nil
}

// sentOf returns the one-way handoff: the plugin's receive stamp minus the
// host's send stamp (both CLOCK_MONOTONIC), found by seq in sent.
func sentOf(res *pluginv1.Result) int64 {
	return res.GetReceivedNanos() - sent[res.GetSeq()%uint64(len(sent))]
}

var sent [1 << 16]int64

func us(ns int64) string { return fmt.Sprintf("%.1f µs", float64(ns)/1e3) }

func run(pluginPath string, n, slots, device, pre int) error {
	dev, err := cuda.OpenDevice(device)
	if err != nil {
		return err
	}
	defer dev.Close()
	fmt.Printf("device %d: %s, plugin %s, %d frames, %d slots\n\n", device, dev.Name(), pluginPath, n, slots)
	p, err := startPlugin(pluginPath)
	if err != nil {
		return err
	}
	defer p.close()

	pool, err := cuda.NewPool(dev, cuda.PoolSpec{ID: 100, Slots: slots, Format: shm.FormatNV12, Width: width, Height: height})
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := shm.SendFDs(p.conn, pool.Info().Append(nil), pool.HeaderFd()); err != nil {
		return err
	}
	cudaPath := &path{name: "CUDA buffer + IPC event", pitch: pool.Pitch(), leases: pool.Leases(),
		acquire: func() (int, []byte, error) {
			s, ok := pool.Leases().TryAcquire()
			if !ok {
				return 0, nil, fmt.Errorf("no free slot")
			}
			b, err := pool.Staging(s)
			return s, b, err
		},
		commit: func(slot, i int) (shm.Descriptor, error) {
			d, err := pool.Upload(slot, 1, uint64(i), int64(i))
			return d, err
		}}

	stride := width
	spec := shm.RegionSpec{Slots: slots, FrameBytes: stride * shm.FormatNV12.Rows(height)}
	region, err := shm.CreateRegion(101, "cuda-bench", spec)
	if err != nil {
		return err
	}
	defer region.Close()
	var rb [dataplane.RegionSize]byte
	dataplane.PutRegion(rb[:], dataplane.Region{ID: 101, Spec: spec})
	if err := shm.SendFDs(p.conn, rb[:], region.Fd()); err != nil {
		return err
	}
	hostLeases := shm.NewPool(region)
	hostPath := &path{name: "memfd slot (host memory)", pitch: stride, leases: hostLeases,
		acquire: func() (int, []byte, error) {
			s, ok := hostLeases.TryAcquire()
			if !ok {
				return 0, nil, fmt.Errorf("no free slot")
			}
			return s, region.BeginWrite(s)[:spec.FrameBytes], nil
		},
		commit: func(slot, i int) (shm.Descriptor, error) {
			gen := region.EndWrite(slot, 1, uint64(i), int64(i), spec.FrameBytes)
			return shm.Descriptor{Stream: 1, Region: 101, Slot: uint32(slot), Memory: shm.MemoryHost, Format: shm.FormatNV12,
				Width: width, Height: height, Stride: uint32(stride), Generation: gen, Seq: uint64(i), PTS: int64(i)}, nil
		}}

	fmt.Printf("| path | frame | handoff p50 | handoff p99 | frames/s (window %d) |\n|---|---|---|---|---|\n", slots-1)
	for _, pa := range []*path{cudaPath, hostPath} {
		if err := pa.measure(p, n, slots-1); err != nil {
			return fmt.Errorf("%s: %w", pa.name, err)
		}
	}
	fmt.Println("\ncontent check: plugin mean luma == synthetic frame's on 20 frames per path")
	return preprocess(dev, pool, pre, n)
}

// preprocess checks the kernel against the CPU reference on one frame, then
// times it back to back on one stream.
func preprocess(dev *cuda.Device, pool *cuda.Pool, size, n int) error {
	spec := cuda.PreprocessSpec{Width: size, Height: size, Mean: [3]float32{0.485, 0.456, 0.406}, Std: [3]float32{0.229, 0.224, 0.225}}
	pp, err := cuda.NewPreprocessor(dev, spec)
	if err != nil {
		return err
	}
	defer pp.Close()
	slot, ok := pool.Leases().TryAcquire()
	if !ok {
		return fmt.Errorf("no free slot")
	}
	src, err := pool.Staging(slot)
	if err != nil {
		return err
	}
	frame(src, pool.Pitch(), 1)
	if _, err := pool.Upload(slot, 1, 0, 0); err != nil {
		return err
	}
	want := make([]float32, spec.Floats())
	if err := cuda.PreprocessNV12(want, src, pool.Pitch(), width, height, &spec); err != nil {
		return err
	}
	got := make([]float32, spec.Floats())
	var el time.Duration
	err = dev.Do(func() error {
		out, err := cu.MemAlloc(int64(pp.OutputBytes()))
		if err != nil {
			return err
		}
		defer cu.MemFree(out)
		st := pool.Stream()
		if err := pp.Launch(st, pool.Buffer(slot), pool.Pitch(), width, height, out); err != nil {
			return err
		}
		if err := st.Synchronize(); err != nil {
			return err
		}
		if err := cu.MemcpyDtoH(unsafePtr(got), out, int64(pp.OutputBytes())); err != nil {
			return err
		}
		start := time.Now()
		for range n {
			if err := pp.Launch(st, pool.Buffer(slot), pool.Pitch(), width, height, out); err != nil {
				return err
			}
		}
		err = st.Synchronize()
		el = time.Since(start)
		return err
	})
	if err != nil {
		return err
	}
	var maxErr float64
	for i := range want {
		maxErr = max(maxErr, math.Abs(float64(got[i]-want[i])))
	}
	fps := float64(n) / el.Seconds()
	fmt.Printf("\npreprocessing 1920x1080 nv12 -> 3x%dx%d float32: %.0f frames/s (target %d = 64 streams x 30 fps: %s); max |GPU-CPU| = %.2g\n",
		size, size, fps, 64*30, map[bool]string{true: "met", false: "NOT met"}[fps >= 64*30], maxErr)
	if maxErr > 1e-4 {
		return fmt.Errorf("preprocessing differs from the CPU reference by %g", maxErr)
	}
	return nil
}
