// Package plugintest runs an lsie plugin binary in a test without the host:
// it speaks the real protocol (go-plugin handshake, the data-plane socket at
// fd 3, frames in sealed shared memory), so a plugin that passes here talks
// to lsie-host the same way.
//
//	bin := plugintest.Build(t, ".")
//	h := plugintest.Start(t, bin)
//	s := h.Open("cam1", map[string]string{"threshold": "60"})
//	res := s.Frame(plugintest.SolidFrame(64, 48, 0, 0, 0))
package plugintest

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"github.com/lsie-mlf/lsie/sdk"
	"github.com/lsie-mlf/lsie/sdk/proto/dataplane"
	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
	"github.com/lsie-mlf/lsie/sdk/validate"
	"github.com/lsie-mlf/lsie/shm"
	"google.golang.org/protobuf/proto"
)

// Timeout bounds the handshake, every RPC and the wait for each result.
const Timeout = 10 * time.Second

// Harness runs one plugin binary over the real protocol (go-plugin + data
// plane + sealed shared memory), as the host does, and checks its manifest
// and every result by the host's own rules (package validate): a result
// the host would store as malformed_result comes back with that ErrCode.
type Harness struct {
	tb       testing.TB
	binary   string
	client   *goplugin.Client
	cmd      *exec.Cmd
	rpc      pluginv1.PluginClient
	data     *net.UnixConn
	manifest *pluginv1.Manifest
	checks   *validate.Results
	logs     *tail

	wmu      sync.Mutex // one packet at a time
	sent     int64      // data-plane bytes written, under wmu
	mu       sync.Mutex
	results  map[uint32]chan *pluginv1.Result
	byHandle map[uint32]*Stream
	streams  []*Stream
	next     uint32 // last stream handle and region id handed out
	dead     chan struct{}
	readErr  error
}

// Start starts binary (it builds nothing) and reads its manifest; tb's
// cleanup stops it. It fails tb if binary is not an lsie plugin.
func Start(tb testing.TB, binary string) *Harness {
	tb.Helper()
	h, err := startErr(tb, binary)
	if err != nil {
		tb.Fatalf("plugintest: %v", err)
	}
	return h
}

// startErr is Start returning its error instead of failing tb.
func startErr(tb testing.TB, binary string) (*Harness, error) {
	hostEnd, childEnd, err := shm.SocketPair()
	if err != nil {
		return nil, fmt.Errorf("data-plane socket: %w", err)
	}
	logs := &tail{}
	cmd := pluginv1.Command(binary, childEnd)
	cc := pluginv1.ClientConfig(cmd)
	cc.StartTimeout, cc.SyncStdout, cc.SyncStderr = Timeout, logs, logs
	cc.Logger = hclog.New(&hclog.LoggerOptions{Name: "plugin", Output: logs, Level: hclog.Debug})
	client := goplugin.NewClient(cc)
	h := &Harness{tb: tb, binary: binary, client: client, cmd: cmd, data: hostEnd, logs: logs,
		results: map[uint32]chan *pluginv1.Result{}, byHandle: map[uint32]*Stream{}, dead: make(chan struct{})}
	fail := func(err error) (*Harness, error) {
		h.stop()
		childEnd.Close()
		return nil, fmt.Errorf("%s is not a working lsie plugin: %w%s", binary, err, logs.String())
	}
	cp, err := client.Client()
	if err != nil {
		return fail(err)
	}
	childEnd.Close()
	raw, err := cp.Dispense(pluginv1.PluginName)
	if err != nil {
		return fail(err)
	}
	h.rpc = raw.(pluginv1.PluginClient)
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if h.manifest, err = h.rpc.Describe(ctx, &pluginv1.DescribeRequest{}); err != nil {
		return fail(fmt.Errorf("describe: %w", err))
	}
	// The host's rules, but for the file name: go build named the binary
	// after its package directory, not the name it will be installed as.
	if err := validate.Manifest(h.manifest, validate.File{}); err != nil {
		return fail(fmt.Errorf("the host would refuse it: %w", err))
	}
	h.checks = validate.NewResults(h.manifest)
	go h.readLoop()
	tb.Cleanup(h.stop)
	return h, nil
}

func (h *Harness) stop() {
	h.client.Kill()
	pluginv1.KillGroup(h.cmd)
	h.data.Close()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.streams {
		if s.region != nil {
			s.region.Close()
		}
	}
}

// Manifest returns what the plugin said about itself (its Describe answer),
// as the SDK's type.
func (h *Harness) Manifest() sdk.Manifest { return manifestFromProto(h.manifest) }

// Logs returns the plugin's recent log and stderr lines.
func (h *Harness) Logs() string { return h.logs.String() }

func (h *Harness) readLoop() {
	buf := make([]byte, dataplane.MaxMessage)
	for {
		n, err := shm.ReadPacket(h.data, buf) // what the plugin sent before it died is read first
		if err != nil {
			h.readErr = err
			close(h.dead)
			return
		}
		if n > 0 && buf[0] == dataplane.MsgPublish {
			h.onPublish(buf[:n])
			continue
		}
		ack, body, err := dataplane.ParseResult(buf[:n])
		res := &pluginv1.Result{}
		if err == nil {
			err = proto.Unmarshal(body, res)
		}
		if err != nil {
			res = &pluginv1.Result{Error: &pluginv1.Error{Code: "bad_result", Message: err.Error()}}
		}
		h.mu.Lock()
		ch := h.results[ack.Handle]
		h.mu.Unlock()
		if ch != nil {
			ch <- res
		}
	}
}

// onPublish keeps a published message for its stream's Published.
func (h *Harness) onPublish(b []byte) {
	handle, m, err := dataplane.DecodePublish(b)
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.byHandle[handle]
	if s == nil {
		return
	}
	if err == nil {
		err = h.checks.Message(m)
	}
	if err != nil {
		s.publishErrs = append(s.publishErrs, err)
		return
	}
	s.published = append(s.published, sdk.Message{Topic: m.GetTopic(), StreamID: s.id, PTS: time.Duration(m.GetPtsNs()),
		Duration: time.Duration(m.GetDurationNs()), Text: m.GetText(), Fields: m.GetFields(), Payload: m.GetPayload()})
}

func (h *Harness) write(b []byte, fds ...int) {
	h.tb.Helper()
	h.wmu.Lock()
	defer h.wmu.Unlock()
	if err := shm.SendFDs(h.data, b, fds...); err != nil {
		h.tb.Fatalf("plugintest: writing to %s: %v%s", h.binary, err, h.logs.String())
	}
	h.sent += int64(len(b))
}

// DataPlaneBytes is how many bytes the harness has written on the data
// plane so far: records and descriptors, never frame pixels (those go
// through shared memory), so a benchmark can show what a frame costs on
// the wire.
func (h *Harness) DataPlaneBytes() int64 {
	h.wmu.Lock()
	defer h.wmu.Unlock()
	return h.sent
}

// Stream is one stream opened on the plugin.
type Stream struct {
	h       *Harness
	id      string
	handle  uint32
	results chan *pluginv1.Result
	region  *shm.Region
	seq     uint64
	nextPTS int64 // next audio sample on the stream's sample line
	msgSeq  uint64
	// published and publishErrs are guarded by h.mu.
	published   []sdk.Message
	publishErrs []error
}

// newStream registers a handle for results without opening it.
func (h *Harness) newStream(id string) *Stream {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.next++
	s := &Stream{h: h, id: id, handle: h.next, results: make(chan *pluginv1.Result, 16)}
	h.results[s.handle] = s.results
	h.byHandle[s.handle] = s
	h.streams = append(h.streams, s)
	return s
}

// TryOpen opens a stream and returns the plugin's refusal as an error
// ("open_failed: bad_input: ..." for a plugin's sdk.Errorf).
func (h *Harness) TryOpen(streamID string, attrs map[string]string) (*Stream, error) {
	s := h.newStream(streamID)
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	resp, err := h.rpc.OpenStream(ctx, &pluginv1.OpenStreamRequest{Handle: s.handle, StreamId: streamID, Attributes: attrs})
	if err == nil && resp.GetError() != nil {
		err = fmt.Errorf("%s: %s", resp.GetError().GetCode(), resp.GetError().GetMessage())
	}
	if err != nil {
		return nil, fmt.Errorf("open stream %q: %w", streamID, err)
	}
	return s, nil
}

// Open opens a stream with the plugin block's attributes; it fails the
// test if the plugin refuses.
func (h *Harness) Open(streamID string, attrs map[string]string) *Stream {
	h.tb.Helper()
	s, err := h.TryOpen(streamID, attrs)
	if err != nil {
		h.tb.Fatalf("plugintest: %v%s", err, h.logs.String())
	}
	return s
}

// Frame writes f into a sealed shared-memory slot, sends its descriptor and
// waits for the result.
func (s *Stream) Frame(f Frame) Result {
	s.h.tb.Helper()
	format := f.Format
	if format == 0 {
		format = shm.FormatRGB24
	}
	stride := format.BytesPerPixel() * f.Width
	size := stride * format.Rows(f.Height)
	if f.Width <= 0 || f.Height <= 0 || stride == 0 || len(f.Pixels) != size {
		s.h.tb.Fatalf("plugintest: frame %dx%d needs %d %s bytes, has %d", f.Width, f.Height, size, format, len(f.Pixels))
	}
	if s.region == nil || s.region.Spec().FrameBytes < size {
		s.newRegion(size)
	}
	s.seq++
	copy(s.region.BeginWrite(0), f.Pixels)
	gen := s.region.EndWrite(0, s.handle, s.seq, int64(f.PTS), size)
	d := shm.Descriptor{Stream: s.handle, Region: s.region.ID(), Slot: 0, Memory: shm.MemoryHost, Format: format,
		Width: uint32(f.Width), Height: uint32(f.Height), Stride: uint32(stride), Generation: gen,
		Seq: s.seq, PTS: int64(f.PTS), SentNanos: shm.MonotonicNanos()}
	var b [dataplane.FrameSize]byte
	dataplane.PutFrame(b[:], &d)
	s.h.write(b[:])
	return s.wait()
}

// newRegion replaces the stream's region with a larger one (one slot: the
// harness waits for each result before it writes the next frame).
func (s *Stream) newRegion(size int) {
	s.h.tb.Helper()
	if s.region != nil {
		var b [dataplane.DropRegionSize]byte
		dataplane.PutDropRegion(b[:], s.region.ID())
		s.h.write(b[:])
		s.region.Close()
	}
	s.h.mu.Lock()
	s.h.next++
	id := s.h.next
	s.h.mu.Unlock()
	r, err := shm.CreateRegion(id, "plugintest-"+s.id, shm.RegionSpec{Slots: 1, FrameBytes: size})
	if err != nil {
		s.h.tb.Fatalf("plugintest: %v", err)
	}
	s.region = r
	var b [dataplane.RegionSize]byte
	dataplane.PutRegion(b[:], dataplane.Region{ID: id, Spec: r.Spec()})
	s.h.write(b[:], r.Fd())
}

// maxChunk is the most samples one audio record can carry.
const maxChunk = (dataplane.MaxMessage - dataplane.AudioHeaderSize) / 2

// Audio sends one chunk of 16 kHz mono samples starting at firstSample on
// the stream's sample line and returns the items the plugin produced.
func (s *Stream) Audio(samples []int16, firstSample int64) Result {
	s.h.tb.Helper()
	if len(samples) == 0 || len(samples) > maxChunk {
		s.h.tb.Fatalf("plugintest: audio chunk of %d samples; send 1..%d", len(samples), maxChunk)
	}
	b := make([]byte, dataplane.AudioHeaderSize, dataplane.AudioHeaderSize+2*len(samples))
	s.seq++
	dataplane.PutAudio(b, dataplane.Audio{Handle: s.handle, FirstSample: firstSample, PTS: samplePTS(firstSample),
		Seq: s.seq, Samples: uint32(len(samples)), Rate: SampleRate, CapturedNanos: shm.MonotonicNanos()})
	for _, v := range samples {
		b = append(b, byte(v), byte(uint16(v)>>8))
	}
	s.nextPTS = firstSample + int64(len(samples))
	s.h.write(b)
	return s.wait()
}

// EndAudio tells the plugin the stream's audio is over and returns the
// items it flushed.
func (s *Stream) EndAudio() Result {
	s.h.tb.Helper()
	var b [dataplane.AudioHeaderSize]byte
	s.seq++
	dataplane.PutAudio(b[:], dataplane.Audio{Flags: dataplane.AudioEnd, Handle: s.handle, FirstSample: s.nextPTS,
		PTS: samplePTS(s.nextPTS), Seq: s.seq, Rate: SampleRate, CapturedNanos: shm.MonotonicNanos()})
	s.h.write(b[:])
	return s.wait()
}

// Message delivers one topic message (as another plugin would publish it;
// set Producer to name that plugin) and waits for the plugin's answer.
func (s *Stream) Message(m sdk.Message) Result {
	s.h.tb.Helper()
	s.msgSeq++
	b, err := dataplane.EncodeDeliver(dataplane.Deliver{Handle: s.handle, Seq: s.msgSeq}, &pluginv1.Message{Topic: m.Topic,
		Producer: m.Producer, PtsNs: int64(m.PTS), DurationNs: int64(m.Duration), Text: m.Text, Fields: m.Fields, Payload: m.Payload})
	if err != nil {
		s.h.tb.Fatalf("plugintest: %v", err)
	}
	s.h.write(b)
	return s.wait()
}

// Command runs an operator command on the stream, as
// POST /api/v1/streams/{id}/plugins/{name}/commands does, and returns the
// plugin's JSON result or its refusal ("unsupported: ...", "bad_input: ...").
func (s *Stream) Command(name string, args []byte) ([]byte, error) {
	s.h.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	resp, err := s.h.rpc.Command(ctx, &pluginv1.CommandRequest{Handle: s.handle, Name: name, Args: args})
	if err != nil {
		return nil, err
	}
	if e := resp.GetError(); e != nil {
		return nil, fmt.Errorf("%s: %s", e.GetCode(), e.GetMessage())
	}
	return resp.GetResult(), nil
}

// Published returns the messages the plugin published on this stream since
// the last call, in order. Messages come before the result of the call that
// published them, so after Frame, Audio or Message returns they are here.
func (s *Stream) Published() []sdk.Message {
	s.h.tb.Helper()
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	for _, err := range s.publishErrs {
		s.h.tb.Errorf("plugintest: the host would refuse a published message: %v", err)
	}
	out := s.published
	s.published, s.publishErrs = nil, nil
	return out
}

func samplePTS(sample int64) int64 { return sample * int64(time.Second) / SampleRate }

func (s *Stream) wait() Result {
	s.h.tb.Helper()
	t := time.NewTimer(Timeout)
	defer t.Stop()
	select {
	case res := <-s.results:
		return s.h.convert(res)
	case <-s.h.dead:
		s.h.tb.Fatalf("plugintest: %s closed the data plane (%v)%s", s.h.binary, s.h.readErr, s.h.logs.String())
	case <-t.C:
		s.h.tb.Fatalf("plugintest: no result from %s within %s%s", s.h.binary, Timeout, s.h.logs.String())
	}
	return Result{}
}

// Close closes the stream on the plugin and unmaps its region there.
func (s *Stream) Close() {
	s.h.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if _, err := s.h.rpc.CloseStream(ctx, &pluginv1.CloseStreamRequest{Handle: s.handle}); err != nil {
		s.h.tb.Errorf("plugintest: close stream %q: %v", s.id, err)
	}
	if s.region != nil {
		var b [dataplane.DropRegionSize]byte
		dataplane.PutDropRegion(b[:], s.region.ID())
		s.h.write(b[:])
	}
}

// convert turns a result into the harness's, refusing what the host would
// refuse (and store as the item's error) by the same rules.
func (h *Harness) convert(r *pluginv1.Result) Result {
	out := Result{Text: r.GetText(), Payload: r.GetPayload(), Progress: time.Duration(r.GetProgressNs())}
	if e := r.GetError(); e != nil {
		out.ErrCode, out.ErrMsg = e.GetCode(), e.GetMessage()
		return out
	}
	for _, it := range r.GetItems() {
		item := Item{PTS: time.Duration(it.GetPtsNs()), Duration: time.Duration(it.GetDurationNs())}
		if err := h.checks.Item(it); err != nil {
			item.ErrCode, item.ErrMsg = resultError(err)
		} else {
			item.Fields, item.Objects = it.GetFields(), objectsFromProto(it.GetObjects())
		}
		out.Items = append(out.Items, item)
	}
	if len(r.GetItems()) > 0 {
		return out // an audio result: its items are checked one by one
	}
	check := h.checks.Frame
	if r.GetInput() == pluginv1.Input_INPUT_MESSAGE {
		check = h.checks.Answer
	}
	if err := check(r); err != nil {
		out.ErrCode, out.ErrMsg = resultError(err)
		out.Text, out.Payload = "", nil
		return out
	}
	out.Fields, out.Objects = r.GetFields(), objectsFromProto(r.GetObjects())
	return out
}

// resultError splits a refusal into the code and message the host stores
// as "code: message".
func resultError(err error) (string, string) {
	if re, ok := err.(*validate.ResultError); ok {
		return re.Code, strings.Join(re.Problems, "; ")
	}
	return validate.CodeMalformed, err.Error()
}

// tail keeps the last lines the plugin logged, for failure messages.
type tail struct {
	mu    sync.Mutex
	lines []string
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for l := range strings.SplitSeq(strings.TrimRight(string(p), "\n"), "\n") {
		t.lines = append(t.lines, l)
	}
	if n := len(t.lines); n > 30 {
		t.lines = append(t.lines[:0], t.lines[n-30:]...)
	}
	return len(p), nil
}

// String returns the lines as a block to append to a message, or "".
func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.lines) == 0 {
		return ""
	}
	return "\nplugin output:\n\t" + strings.Join(t.lines, "\n\t")
}
