package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/lsie-mlf/lsie/host/capture"
	"github.com/lsie-mlf/lsie/shm"
)

// Arg is the first argument that makes a host binary a capture worker.
const Arg = "capture-worker"

// sockFD is the worker's end of the socket (the first ExtraFiles entry).
const sockFD = 3

// MaybeRun turns this process into a capture worker when started as one
// (os.Args[1] == Arg) and never returns then; otherwise it returns at once.
// A binary that runs a host with Options.CaptureWorker calls it first.
func MaybeRun() {
	if len(os.Args) < 2 || os.Args[1] != Arg {
		return
	}
	os.Exit(runChild())
}

func runChild() int {
	f := os.NewFile(sockFD, "lsie-capture")
	conn, err := shm.FileConn(f)
	f.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "lsie capture worker: must be started by lsie-host:", err)
		return 2
	}
	// Ready before there is work: a spare process (Spares) waits here
	// with GStreamer's registry loaded.
	capture.Init()
	buf := make([]byte, 64<<10)
	n, _, err := shm.RecvFDs(conn, buf)
	if err != nil || n == 0 || buf[0] != msgConfig {
		fmt.Fprintln(os.Stderr, "lsie capture worker: no config from the host:", err)
		return 2
	}
	var cfg Config
	if err := json.Unmarshal(buf[1:n], &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "lsie capture worker: bad config:", err)
		return 2
	}
	// Named after its stream in ps and /proc (comm holds 15 bytes): an
	// operator sees which stream each capture process serves.
	name := "cap:" + cfg.StreamID
	_ = os.WriteFile(fmt.Sprintf("/proc/self/task/%d/comm", os.Getpid()), []byte(name[:min(len(name), 15)]), 0)
	log := hclog.New(&hclog.LoggerOptions{Name: "lsie.capture", Level: hclog.LevelFromString(cfg.LogLevel), JSONFormat: cfg.LogJSON, Output: os.Stderr})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The host stops a worker by closing the socket (or it dies: the
	// socket closes too); a signal is an operator's, and stops it as well.
	signal.Ignore(syscall.SIGINT, syscall.SIGHUP) // the host's terminal group signal is the host's to handle
	w := &child{conn: conn, log: log, handle: cfg.Handle, realtime: cfg.Realtime, grants: make(chan grant, 64),
		regions: make(chan *shm.Region, 1), ctx: ctx, scratch: make([]byte, 64, 17+2*capture.AudioChunkSamples)}
	go w.readLoop(cancel)
	c, err := capture.New(capture.Config{StreamID: cfg.StreamID, Source: cfg.Source, FPS: cfg.FPS, MaxWidth: cfg.MaxWidth,
		Realtime: cfg.Realtime, Loop: cfg.Loop, Reconnect: cfg.Reconnect, Logger: log, Format: shm.FormatRGB24}, w)
	if err == nil {
		w.cap = c
		err = c.Run(ctx)
	}
	if ctx.Err() != nil && err == nil {
		log.Debug("stopped by the host")
		return 0 // stopped by the host
	}
	w.send(jsonMsg(msgEnd, endOf(err)))
	return 0
}

// grant is a slot the host lent for the next frame.
type grant struct{ region, slot uint32 }

// child is the worker's capture.Handler: it writes frames into the host's
// regions and tells the host everything else.
type child struct {
	conn     *net.UnixConn
	log      hclog.Logger
	handle   uint32
	realtime bool
	ctx      context.Context
	cap      *capture.Capture

	wmu      sync.Mutex
	grants   chan grant
	regions  chan *shm.Region
	region   *shm.Region // the current one; the capture thread's
	anchored bool
	// scratch holds the message being sent: capture's callbacks never
	// overlap, and the socket copies it, so no message allocates.
	scratch []byte
}

// readLoop takes the host's regions and grants until the socket closes.
func (w *child) readLoop(stop context.CancelFunc) {
	defer stop()
	buf := make([]byte, 4096)
	for {
		n, fds, err := shm.RecvFDs(w.conn, buf)
		if err != nil && !errors.Is(err, io.EOF) {
			w.log.Error("reading the host's socket", "error", err)
		}
		if err != nil || n == 0 {
			return
		}
		switch buf[0] {
		case msgRegion:
			id, spec, err := decodeRegion(buf[:n])
			if err != nil || len(fds) != 1 {
				w.log.Error("bad region message from the host", "error", err, "fds", len(fds))
				return
			}
			r, err := shm.OpenRegion(fds[0], id, spec)
			if err != nil {
				w.log.Error("mapping the host's region", "error", err)
				return
			}
			w.regions <- r
		case msgGrant:
			region, slot, err := decodeU32(buf[:n])
			if err != nil {
				w.log.Error("bad grant from the host", "error", err)
				return
			}
			select {
			case w.grants <- grant{region, slot}:
			default:
				w.log.Error("the host granted more slots than agreed")
				return
			}
		default:
			w.log.Error("unknown message from the host", "type", buf[0])
			return
		}
	}
}

// send writes one message; a host gone ends the capture.
func (w *child) send(b []byte) {
	w.wmu.Lock()
	_, err := w.conn.Write(b)
	w.wmu.Unlock()
	if err != nil && w.ctx.Err() == nil {
		w.log.Debug("host gone; stopping", "error", err)
		os.Exit(0)
	}
}

// anchor sends the wall anchor once, before the first frame or audio.
func (w *child) anchor() {
	if w.anchored || w.cap == nil {
		return
	}
	if a := w.cap.WallAnchor(); !a.IsZero() {
		w.anchored = true
		w.send(i64Msg(w.scratch, msgAnchor, a.UnixNano()))
	}
}

func (w *child) Frame(f *capture.Frame) {
	w.anchor()
	size := f.Stride * f.Height
	if w.region == nil || w.region.Spec().FrameBytes < size {
		if !w.newRegion(f) {
			w.send(i64Msg(w.scratch, msgDropped, int64(f.PTS)))
			return
		}
	}
	var g grant
	for {
		if w.realtime {
			select {
			case g = <-w.grants:
			default:
				// Never block a live source: the host's slots are all
				// leased, so the frame is dropped and counted.
				w.send(i64Msg(w.scratch, msgDropped, int64(f.PTS)))
				return
			}
		} else {
			select {
			case g = <-w.grants:
			case <-w.ctx.Done():
				return
			}
		}
		if g.region == w.region.ID() {
			break
		}
		// A grant of a region given up (the frame size changed): the host
		// took it back when it made the new region.
	}
	dst := w.region.BeginWrite(int(g.slot))
	copy(dst[:size], f.Data[:size])
	gen := w.region.EndWrite(int(g.slot), w.handle, f.Seq, int64(f.PTS), size)
	w.send(frameMsg{region: g.region, slot: g.slot, gen: gen, seq: f.Seq, pts: int64(f.PTS),
		width: uint32(f.Width), height: uint32(f.Height), stride: uint32(f.Stride)}.encode(w.scratch))
}

// newRegion asks the host for a region that fits f and maps it.
func (w *child) newRegion(f *capture.Frame) bool {
	w.send(geometry{width: uint32(f.Width), height: uint32(f.Height), stride: uint32(f.Stride)}.encode())
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case r := <-w.regions:
		if w.region != nil {
			_ = w.region.Close()
		}
		w.region = r
		w.send(u32Msg(msgMapped, r.ID(), 0))
		// The host grants at once once it has sealed the region: wait
		// for that first grant, so a live stream's first frame is kept.
		select {
		case g := <-w.grants:
			w.grants <- g
		case <-t.C:
		case <-w.ctx.Done():
		}
		return true
	case <-t.C:
		w.log.Error("the host sent no region for the frames")
		return false
	case <-w.ctx.Done():
		return false
	}
}

func (w *child) Progress(t time.Duration) {
	w.anchor() // before any time the host must place on the stream's line
	w.send(i64Msg(w.scratch, msgProgress, int64(t)))
}

func (w *child) Audio(c *capture.AudioChunk) {
	w.anchor()
	w.scratch = audioMsg(w.scratch, c)
	w.send(w.scratch)
}

func (w *child) AudioGap(g capture.AudioGap) {
	w.anchor()
	w.send(jsonMsg(msgGap, g))
}

func (w *child) NoAudio() { w.send([]byte{msgNoAudio}) }
func (w *child) NoVideo() { w.send([]byte{msgNoVideo}) }

func (w *child) SourceState(st capture.SourceStatus) { w.send(jsonMsg(msgState, st)) }
