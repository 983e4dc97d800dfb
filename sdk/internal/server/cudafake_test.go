package server

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/lsie-mlf/lsie/sdk/proto/dataplane"
	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
	"github.com/lsie-mlf/lsie/shm"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"
)

// syncBuffer collects log lines; hclog writes from the worker goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

type recordingProc struct {
	frames chan *Frame
	err    error
}

func (p *recordingProc) Process(f *Frame) (FrameOut, string, error) {
	p.frames <- f
	if p.err != nil {
		return FrameOut{}, "", p.err
	}
	return FrameOut{Fields: map[string]float64{"x": 1}}, "", nil
}
func (p *recordingProc) WantsAudio() bool { return false }
func (p *recordingProc) ProcessAudio(*AudioIn) ([]ItemOut, time.Duration, string, error) {
	return nil, -1, "", nil
}
func (p *recordingProc) ProcessMessage(*MessageIn) (AnswerOut, string, error) {
	return AnswerOut{}, "", nil
}
func (p *recordingProc) Command(string, []byte) ([]byte, string, error) { return nil, "", nil }
func (p *recordingProc) Close() error                                   { return nil }

type procImpl struct{ proc *recordingProc }

func (i procImpl) Manifest() Manifest { return Manifest{Name: "t"} }
func (i procImpl) OpenStream(string, map[string]string, Publisher) (Processor, error) {
	return i.proc, nil
}

// newTestService returns a service with stream handle 1 open, the host end
// of its data plane, and its log.
func newTestService(t *testing.T, proc *recordingProc) (*service, *net.UnixConn, *syncBuffer) {
	t.Helper()
	host, child, err := shm.SocketPair()
	if err != nil {
		t.Fatal(err)
	}
	c, err := shm.FileConn(child)
	child.Close()
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	s := newService(procImpl{proc}, c, hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Trace}))
	t.Cleanup(func() { host.Close(); c.Close() })
	r, err := s.OpenStream(context.Background(), &pluginv1.OpenStreamRequest{Handle: 1, StreamId: "s"})
	if err != nil || r.Error != nil {
		t.Fatal(err, r.GetError())
	}
	t.Cleanup(func() { _, _ = s.CloseStream(context.Background(), &pluginv1.CloseStreamRequest{Handle: 1}) })
	return s, host, logs
}

func cudaDescriptor() shm.Descriptor {
	return shm.Descriptor{Stream: 1, Region: 7, Slot: 1, Generation: 4, Seq: 9, PTS: 33,
		Memory: shm.MemoryCUDA, Format: shm.FormatNV12, Width: 64, Height: 32, Stride: 256}
}

func sendFrame(s *service, d shm.Descriptor) {
	b := make([]byte, dataplane.FrameSize)
	dataplane.PutFrame(b, &d)
	s.dispatch(b, nil)
}

func readResult(t *testing.T, host *net.UnixConn) (dataplane.Ack, *pluginv1.Result) {
	t.Helper()
	if err := host.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, dataplane.MaxMessage)
	n, _, err := shm.RecvFDs(host, buf)
	if err != nil {
		t.Fatalf("no result from the plugin: %v", err)
	}
	ack, body, err := dataplane.ParseResult(buf[:n])
	if err != nil {
		t.Fatal(err)
	}
	res := &pluginv1.Result{}
	if err := proto.Unmarshal(body, res); err != nil {
		t.Fatal(err)
	}
	return ack, res
}

// fdOpen reports whether fd is still open in this process.
func fdOpen(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil
}

type fakeCUDA struct {
	mu      sync.Mutex
	added   int
	dropped []uint32
	closed  []uint32
	frame   *fakeFrame
}

func (c *fakeCUDA) AddRegion(_ []byte, fds []int) error {
	closeFDs(fds)
	c.mu.Lock()
	c.added++
	c.mu.Unlock()
	return nil
}

func (c *fakeCUDA) DropRegion(id uint32) error {
	c.mu.Lock()
	c.dropped = append(c.dropped, id)
	c.mu.Unlock()
	return nil
}

func (c *fakeCUDA) Frame(handle uint32, d *shm.Descriptor) (DeviceFrame, error) {
	if d.Region != 7 {
		return nil, errors.New("cuda region 8 is not open")
	}
	return c.frame, nil
}

func (c *fakeCUDA) CloseStream(handle uint32) error {
	c.mu.Lock()
	c.closed = append(c.closed, handle)
	c.mu.Unlock()
	return nil
}

type fakeFrame struct {
	done    atomic.Int32
	doneErr error
}

func (f *fakeFrame) View() DeviceView { return DeviceView{Ordinal: 2, Ptr: 0x7000, Stream: 0x42} }
func (f *fakeFrame) Done() error {
	f.done.Add(1)
	return f.doneErr
}

// With a CUDA implementation (a fake here) the frame reaches the processor
// as a device view, and Done runs before the ack, also when Process fails.
func TestCUDAFrameDispatch(t *testing.T) {
	for _, tc := range []struct {
		name     string
		procErr  error
		doneErr  error
		wantCode string
	}{
		{"ok", nil, nil, ""},
		{"process fails", errors.New("boom"), nil, "plugin_error"},
		{"overwritten", nil, shm.ErrStale, "stale_frame"},
		{"sync fails", nil, errors.New("cuStreamSynchronize: 700"), "cuda_error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proc := &recordingProc{frames: make(chan *Frame, 4), err: tc.procErr}
			s, host, _ := newTestService(t, proc)
			fc := &fakeCUDA{frame: &fakeFrame{doneErr: tc.doneErr}}
			s.cuda = fc
			d := cudaDescriptor()
			sendFrame(s, d)
			ack, res := readResult(t, host)
			if fc.frame.done.Load() != 1 {
				t.Fatalf("Done called %d times before the ack, want 1", fc.frame.done.Load())
			}
			f := <-proc.frames
			if f.Pixels != nil || f.Device == nil || *f.Device != (DeviceView{Ordinal: 2, Ptr: 0x7000, Stream: 0x42}) ||
				f.Width != 64 || f.Height != 32 || f.Stride != 256 || f.Format != shm.FormatNV12 || f.Seq != 9 {
				t.Fatalf("frame %+v, device %+v", f, f.Device)
			}
			if ack != (dataplane.Ack{Region: 7, Slot: 1, Generation: 4, Handle: 1}) {
				t.Fatalf("ack %+v", ack)
			}
			if res.GetError().GetCode() != tc.wantCode {
				t.Fatalf("result error %v, want code %q", res.GetError(), tc.wantCode)
			}
			if tc.wantCode != "" && res.Fields != nil {
				t.Fatalf("fields %v kept with error %v", res.Fields, res.GetError())
			}
		})
	}
}

func TestCUDAFrameNotOpen(t *testing.T) {
	proc := &recordingProc{frames: make(chan *Frame, 1)}
	s, host, _ := newTestService(t, proc)
	s.cuda = &fakeCUDA{frame: &fakeFrame{}}
	d := cudaDescriptor()
	d.Region = 8
	sendFrame(s, d)
	ack, res := readResult(t, host)
	if res.GetError().GetCode() != "bad_descriptor" || ack.Region != 8 {
		t.Fatalf("ack %+v result %v", ack, res)
	}
	if len(proc.frames) != 0 {
		t.Fatal("processor ran on a frame that could not be opened")
	}
}

func TestCUDARegionsForwarded(t *testing.T) {
	s, _, _ := newTestService(t, &recordingProc{frames: make(chan *Frame, 1)})
	fc := &fakeCUDA{}
	s.cuda = fc
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[1])
	s.dispatch([]byte{dataplane.MsgCUDARegion}, []int{p[0]})
	b := make([]byte, dataplane.DropRegionSize)
	dataplane.PutDropRegion(b, 7)
	s.dispatch(b, nil)
	if _, err := s.CloseStream(context.Background(), &pluginv1.CloseStreamRequest{Handle: 1}); err != nil {
		t.Fatal(err)
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if fc.added != 1 || len(fc.dropped) != 1 || fc.dropped[0] != 7 || len(fc.closed) != 1 || fc.closed[0] != 1 {
		t.Fatalf("added %d dropped %v closed %v", fc.added, fc.dropped, fc.closed)
	}
	if fdOpen(p[0]) {
		t.Fatal("region fd left open")
	}
}
