package server

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/sdk/proto/dataplane"
	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
)

// panicProc panics on every frame; closed counts Close calls.
type panicProc struct {
	recordingProc
	calls, closed atomic.Int32
}

func (p *panicProc) Process(*Frame) (FrameOut, string, error) {
	p.calls.Add(1)
	var s []int
	return FrameOut{Fields: map[string]float64{"x": float64(s[p.calls.Load()])}}, "", nil // a real runtime panic: index out of range
}

func (p *panicProc) Close() error { p.closed.Add(1); return nil }

type panicImpl struct{ proc Processor }

func (i panicImpl) Manifest() Manifest { return Manifest{Name: "t"} }
func (i panicImpl) OpenStream(string, map[string]string, Publisher) (Processor, error) {
	return i.proc, nil
}

// A panic costs the input it was working on (plugin_panic, the stack's
// first lines in the log); the fifth within a minute closes the stream
// alone, and later inputs are answered stream_failed without running.
func TestPanicCostsOneInputThenTheStream(t *testing.T) {
	proc := &panicProc{}
	s, host, logs := newTestService(t, &recordingProc{frames: make(chan *Frame, 1)})
	s.impl = panicImpl{proc}
	if r, err := s.OpenStream(context.Background(), &pluginv1.OpenStreamRequest{Handle: 2, StreamId: "p"}); err != nil || r.Error != nil {
		t.Fatal(err, r.GetError())
	}
	s.cuda = &fakeCUDA{frame: &fakeFrame{}}
	for i := range maxPanics + 2 {
		d := cudaDescriptor()
		d.Stream, d.Seq = 2, uint64(i)
		sendFrame(s, d)
		_, res := readResult(t, host)
		want := CodePanic
		if i >= maxPanics {
			want = CodeStreamFailed
		}
		if res.GetError().GetCode() != want {
			t.Fatalf("frame %d: %v, want %s", i, res.GetError(), want)
		}
	}
	if proc.calls.Load() != maxPanics || proc.closed.Load() != 1 {
		t.Errorf("Process ran %d times, Close %d: want %d and 1", proc.calls.Load(), proc.closed.Load(), maxPanics)
	}
	if l := logs.String(); !strings.Contains(l, "guard_test.go") || !strings.Contains(l, "index out of range") {
		t.Errorf("log lacks the panic and its stack:\n%s", l)
	}
	// The other stream is untouched.
	d := cudaDescriptor()
	sendFrame(s, d)
	if _, res := readResult(t, host); res.GetError() != nil {
		t.Errorf("stream 1 after stream 2 failed: %v", res.GetError())
	}
	if _, err := s.CloseStream(context.Background(), &pluginv1.CloseStreamRequest{Handle: 2}); err != nil || proc.closed.Load() != 1 {
		t.Errorf("CloseStream of a failed stream: %v, Close ran %d times", err, proc.closed.Load())
	}
}

// blockingProc holds every frame until released.
type blockingProc struct {
	recordingProc
	release chan struct{}
}

func (p *blockingProc) Process(*Frame) (FrameOut, string, error) {
	<-p.release
	return FrameOut{Fields: map[string]float64{"x": 1}}, "", nil
}

// The socket reader never waits for a stream's queue: past
// dataplane.StreamQueue inputs on a stuck stream it answers overloaded at
// once, and another stream's input still goes through.
func TestFullQueueNeverBlocksTheReader(t *testing.T) {
	stuck := &blockingProc{release: make(chan struct{})}
	s, host, _ := newTestService(t, &recordingProc{frames: make(chan *Frame, 1)})
	s.impl = panicImpl{stuck}
	if r, err := s.OpenStream(context.Background(), &pluginv1.OpenStreamRequest{Handle: 2, StreamId: "stuck"}); err != nil || r.Error != nil {
		t.Fatal(err, r.GetError())
	}
	s.cuda = &fakeCUDA{frame: &fakeFrame{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range dataplane.StreamQueue + 11 {
			d := cudaDescriptor()
			d.Stream, d.Seq = 2, uint64(i)
			sendFrame(s, d)
		}
		sendFrame(s, cudaDescriptor()) // stream 1
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the reader blocked on a full stream queue")
	}
	overloaded, ok := 0, 0
	for range 11 {
		_, res := readResult(t, host)
		switch {
		case res.GetError().GetCode() == "overloaded":
			overloaded++
		case res.GetError() == nil && res.GetHandle() == 1:
			ok++
		}
	}
	// One frame is in Process and StreamQueue wait: 10 are refused.
	if overloaded != 10 || ok != 1 {
		t.Errorf("%d overloaded, %d answered on stream 1: want 10 and 1", overloaded, ok)
	}
	go drainResults(host)
	close(stuck.release)
	if _, err := s.CloseStream(context.Background(), &pluginv1.CloseStreamRequest{Handle: 2}); err != nil {
		t.Fatal(err)
	}
}

// drainResults reads the host end until it closes, so workers never block.
func drainResults(host interface{ Read([]byte) (int, error) }) {
	buf := make([]byte, dataplane.MaxMessage)
	for {
		if _, err := host.Read(buf); err != nil {
			return
		}
	}
}

// Inputs arriving while their stream closes never send on a closed queue.
func TestCloseStreamWhileInputsArrive(t *testing.T) {
	s, host, _ := newTestService(t, &recordingProc{frames: make(chan *Frame, 1)})
	go drainResults(host)
	s.cuda = &fakeCUDA{frame: &fakeFrame{}}
	for round := range 50 {
		h := uint32(100 + round)
		proc := &recordingProc{frames: make(chan *Frame, dataplane.StreamQueue+100)}
		s.impl = procImpl{proc}
		if r, err := s.OpenStream(context.Background(), &pluginv1.OpenStreamRequest{Handle: h, StreamId: fmt.Sprint(h)}); err != nil || r.Error != nil {
			t.Fatal(err, r.GetError())
		}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				d := cudaDescriptor()
				d.Stream, d.Seq = h, uint64(i)
				sendFrame(s, d)
			}
		}()
		if _, err := s.CloseStream(context.Background(), &pluginv1.CloseStreamRequest{Handle: h}); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
	}
}
