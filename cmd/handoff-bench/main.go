// Command handoff-bench measures how long a frame takes to reach a plugin:
// descriptors over the real plugin connection (shared memory), against the
// raw cross-process unix-socket floor and against sending the pixels as
// bytes in a gRPC message. Round trip adds the plugin's whole answer: its
// SDK's dispatch, the (negligible, with examples/minimal) work, the result's
// encoding and the host's decoding, so it is what an SDK costs per frame.
// It prints a markdown table for docs/BENCHMARKS.md.
package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"time"

	"github.com/lsie-mlf/lsie/host/plugin"
	"github.com/lsie-mlf/lsie/sdk/proto/dataplane"
	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
	"github.com/lsie-mlf/lsie/shm"
)

const echoEnv = "LSIE_HANDOFF_BENCH_ECHO"

// gap is slept before each measured send.
var gap time.Duration

func pause() {
	if gap > 0 {
		time.Sleep(gap)
	}
}

func main() {
	if os.Getenv(echoEnv) == "1" {
		echo()
		return
	}
	n := flag.Int("n", 3000, "frames per shared-memory measurement")
	nBytes := flag.Int("n-bytes", 300, "frames per gRPC-bytes measurement")
	pluginPath := flag.String("plugin", "bin/plugins/visual", "plugin binary to hand frames to")
	flag.DurationVar(&gap, "gap", 0, "idle time between frames on every path (0 = back to back); a paced stream lets both ends go idle, which costs wake-ups")
	flag.Parse()
	fmt.Printf("plugin %s, gap %v\n\n", *pluginPath, gap)
	if err := run(*n, *nBytes, *pluginPath); err != nil {
		fmt.Fprintln(os.Stderr, "handoff-bench:", err)
		os.Exit(1)
	}
}

type size struct {
	name string
	w, h int
}

var sizes = []size{{"1280x720", 1280, 720}, {"1920x1080", 1920, 1080}}

func run(n, nBytes int, pluginPath string) error {
	bin, err := plugin.Load(pluginPath)
	if err != nil {
		return fmt.Errorf("%w (run `make build` first)", err)
	}
	floor, floorRT, err := measureFloor(n)
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	proc, err := plugin.Start(bin, plugin.Options{})
	if err != nil {
		return err
	}
	defer proc.Close()
	results := make(chan timed, 1)
	if err := proc.OpenStream(context.Background(), 1, "bench", nil, func(_ dataplane.Ack, r *pluginv1.Result) {
		results <- timed{r, shm.MonotonicNanos()}
	}, nil); err != nil {
		return err
	}
	fmt.Printf("| path | frame | one-way p50 | one-way p99 | vs floor p50 | round trip p50 | round trip p99 |\n|---|---|---|---|---|---|---|\n")
	fmt.Printf("| raw SOCK_SEQPACKET, 72-byte message, cross-process (floor) | — | %s | %s | 1.0× | %s | %s |\n", us(floor.p50), us(floor.p99), us(floorRT.p50), us(floorRT.p99))
	shmP50 := map[string]int64{}
	for i, sz := range sizes {
		q, rt, err := measureSHM(proc, results, uint32(i+1), sz, n)
		if err != nil {
			return fmt.Errorf("shm %s: %w", sz.name, err)
		}
		shmP50[sz.name] = q.p50
		fmt.Printf("| descriptor over the plugin's data plane (shm) | %s | %s | %s | %.1f× | %s | %s |\n", sz.name, us(q.p50), us(q.p99), float64(q.p50)/float64(floor.p50), us(rt.p50), us(rt.p99))
	}
	for _, sz := range sizes {
		q, rt, err := measureBytes(proc, sz, nBytes)
		if err != nil {
			return fmt.Errorf("grpc bytes %s: %w", sz.name, err)
		}
		fmt.Printf("| RGB bytes in a gRPC message (Process) | %s | %s | %s | %.1f× (%.0f× the shm path) | %s | %s |\n", sz.name, us(q.p50), us(q.p99),
			float64(q.p50)/float64(floor.p50), float64(q.p50)/float64(shmP50[sz.name]), us(rt.p50), us(rt.p99))
	}
	return nil
}

type quant struct{ p50, p99 int64 }

// timed is a result and the host's stamp when it arrived.
type timed struct {
	r  *pluginv1.Result
	at int64
}

func quantiles(v []int64) quant {
	slices.Sort(v)
	return quant{p50: v[len(v)/2], p99: v[min(len(v)-1, len(v)*99/100)]}
}

func us(ns int64) string { return fmt.Sprintf("%.1f µs", float64(ns)/1e3) }

// measureSHM writes a frame into a sealed region and sends its descriptor;
// one way = the plugin's receive stamp minus the host's send stamp (both
// CLOCK_MONOTONIC); round trip = the result's arrival at the host minus the
// send. One frame in flight at a time, so no queueing is measured.
func measureSHM(proc *plugin.Process, results chan timed, region uint32, sz size, n int) (quant, quant, error) {
	stride := sz.w * 3
	r, err := shm.CreateRegion(region, "handoff-bench", shm.RegionSpec{Slots: 4, FrameBytes: stride * sz.h})
	if err != nil {
		return quant{}, quant{}, err
	}
	defer r.Close()
	if err := proc.SendRegion(r); err != nil {
		return quant{}, quant{}, err
	}
	lat := make([]int64, 0, n)
	rts := make([]int64, 0, n)
	for i := 0; i < n+50; i++ {
		slot := i % 4
		buf := r.BeginWrite(slot)
		buf[0] = byte(i)
		gen := r.EndWrite(slot, 1, uint64(i), int64(i)*int64(time.Millisecond), stride*sz.h)
		d := shm.Descriptor{Stream: 1, Region: region, Slot: uint32(slot), Memory: shm.MemoryHost, Format: shm.FormatRGB24,
			Width: uint32(sz.w), Height: uint32(sz.h), Stride: uint32(stride), Generation: gen, Seq: uint64(i), PTS: int64(i) * int64(time.Millisecond)}
		pause()
		if err := proc.SendFrame(&d); err != nil {
			return quant{}, quant{}, err
		}
		res := <-results
		if res.r.GetError() != nil {
			return quant{}, quant{}, fmt.Errorf("plugin: %s", res.r.GetError().GetMessage())
		}
		if i >= 50 { // warm-up
			lat = append(lat, res.r.GetReceivedNanos()-d.SentNanos)
			rts = append(rts, res.at-d.SentNanos)
		}
	}
	return quantiles(lat), quantiles(rts), nil
}

func measureBytes(proc *plugin.Process, sz size, n int) (quant, quant, error) {
	pix := make([]byte, sz.w*3*sz.h)
	lat := make([]int64, 0, n)
	rts := make([]int64, 0, n)
	for i := 0; i < n+10; i++ {
		pause()
		fr := &pluginv1.Frame{Handle: 1, Seq: uint64(i), Width: uint32(sz.w), Height: uint32(sz.h), Stride: uint32(sz.w * 3),
			Format: uint32(shm.FormatRGB24), Pixels: pix, SentNanos: shm.MonotonicNanos()}
		resp, err := proc.RPC().Process(context.Background(), &pluginv1.ProcessRequest{Frame: fr})
		at := shm.MonotonicNanos()
		if err != nil {
			return quant{}, quant{}, err
		}
		if e := resp.GetResult().GetError(); e != nil {
			return quant{}, quant{}, fmt.Errorf("plugin: %s", e.GetMessage())
		}
		if i >= 10 {
			lat = append(lat, resp.GetResult().GetReceivedNanos()-fr.SentNanos)
			rts = append(rts, at-fr.SentNanos)
		}
	}
	return quantiles(lat), quantiles(rts), nil
}

// measureFloor re-runs this binary as an echo child on a SOCK_SEQPACKET
// pair at fd 3: the cheapest cross-process one-way hop (and round trip)
// there is.
func measureFloor(n int) (quant, quant, error) {
	hostEnd, childEnd, err := shm.SocketPair()
	if err != nil {
		return quant{}, quant{}, err
	}
	defer hostEnd.Close()
	self, err := os.Executable()
	if err != nil {
		return quant{}, quant{}, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), echoEnv+"=1")
	cmd.ExtraFiles = []*os.File{childEnd}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return quant{}, quant{}, err
	}
	childEnd.Close()
	defer func() {
		hostEnd.Close() // EOF ends the echo child
		_ = cmd.Wait()
	}()
	msg := make([]byte, dataplane.FrameSize)
	reply := make([]byte, 16)
	lat := make([]int64, 0, n)
	rts := make([]int64, 0, n)
	for i := 0; i < n+50; i++ {
		pause()
		sent := shm.MonotonicNanos()
		binary.LittleEndian.PutUint64(msg[8:], uint64(sent))
		if _, err := hostEnd.Write(msg); err != nil {
			return quant{}, quant{}, err
		}
		if _, err := hostEnd.Read(reply); err != nil {
			return quant{}, quant{}, err
		}
		at := shm.MonotonicNanos()
		if i >= 50 {
			lat = append(lat, int64(binary.LittleEndian.Uint64(reply))-sent)
			rts = append(rts, at-sent)
		}
	}
	return quantiles(lat), quantiles(rts), nil
}

func echo() {
	f := os.NewFile(3, "echo")
	c, err := net.FileConn(f)
	if err != nil {
		os.Exit(2)
	}
	buf := make([]byte, 256)
	reply := make([]byte, 16)
	for {
		if _, err := c.Read(buf); err != nil {
			return
		}
		binary.LittleEndian.PutUint64(reply, uint64(shm.MonotonicNanos()))
		if _, err := c.Write(reply); err != nil {
			return
		}
	}
}
