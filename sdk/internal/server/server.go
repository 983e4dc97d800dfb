// Package server is the plugin side of protocol v1: the go-plugin/gRPC
// service and the data-plane loop that maps regions and runs frames.
package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/lsie-mlf/lsie/sdk/internal/metrics"
	"github.com/lsie-mlf/lsie/sdk/proto/dataplane"
	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
	"github.com/lsie-mlf/lsie/shm"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// Field documents one output value.
type Field struct{ Name, Unit, Description string }

// Manifest mirrors sdk.Manifest without importing it (sdk imports us).
type Manifest struct {
	Name, Version, Description string
	Inputs, Outputs            []string
	Fields                     []Field
	DeviceInput                *pluginv1.DeviceInput
	Labels                     []string
	// Attributes is the attribute schema; AttributeSchema says there is
	// one (it may be empty: the plugin takes no attributes).
	Attributes      []*pluginv1.AttributeSpec
	AttributeSchema bool
}

// Frame is a frame handed to a Processor.
type Frame struct {
	Seq                   uint64
	PTS                   time.Duration
	Width, Height, Stride int
	Format                shm.PixelFormat
	Pixels                []byte      // host memory; nil for a CUDA frame
	Device                *DeviceView // a CUDA frame (Stride is its pitch); nil for host memory
}

// AudioIn is an audio chunk or gap handed to a Processor.
type AudioIn struct {
	Seq         uint64
	FirstSample int64
	PTS         time.Duration
	Rate        int
	Samples     []int16
	GapSamples  int64
	End         bool
}

// ItemOut is one time-stamped result.
type ItemOut struct {
	PTS, Duration time.Duration
	Fields        map[string]float64
	Objects       []*pluginv1.Object
}

// FrameOut is a frame's result: fields and the objects seen.
type FrameOut struct {
	Fields  map[string]float64
	Objects []*pluginv1.Object
}

// MessageOut is a message a plugin publishes on one of its output topics.
type MessageOut struct {
	Topic         string
	PTS, Duration time.Duration
	Text          string
	Fields        map[string]float64
	Payload       []byte
}

// MessageIn is a topic message delivered to a consumer.
type MessageIn struct {
	MessageOut
	Producer string
}

// AnswerOut is a consumer's answer to one message.
type AnswerOut struct {
	Fields  map[string]float64
	Text    string
	Payload []byte
}

// Publisher sends a stream's messages to the host.
type Publisher interface {
	Publish(m MessageOut) error
}

// Processor is one stream's state in the plugin.
type Processor interface {
	// Process returns fields and objects, or an error code and error.
	Process(f *Frame) (FrameOut, string, error)
	// WantsAudio says whether ProcessAudio is implemented.
	WantsAudio() bool
	// ProcessAudio also returns the plugin's progress: every item before it
	// has been produced (negative: unknown, use the chunk's end).
	ProcessAudio(a *AudioIn) ([]ItemOut, time.Duration, string, error)
	// ProcessMessage answers one delivered topic message.
	ProcessMessage(m *MessageIn) (AnswerOut, string, error)
	// Command runs an operator command; it returns a JSON result or an
	// error code and error.
	Command(name string, args []byte) ([]byte, string, error)
	Close() error
}

// Impl is what the public sdk adapts a plugin into.
type Impl interface {
	Manifest() Manifest
	OpenStream(id string, attrs map[string]string, pub Publisher) (Processor, error)
}

var (
	loggerOnce sync.Once
	logger     hclog.Logger
)

// Logger writes JSON lines to stderr, which go-plugin forwards into the
// host's log under the plugin's name with levels intact.
func Logger() hclog.Logger {
	loggerOnce.Do(func() {
		logger = hclog.New(&hclog.LoggerOptions{
			Level:      hclog.Trace, // the host filters by its own level
			Output:     os.Stderr,
			JSONFormat: true,
		})
	})
	return logger
}

// Serve runs the plugin until the host closes the data plane or stops it.
func Serve(impl Impl) {
	log := Logger()
	f := os.NewFile(dataplane.FD, "lsie-dataplane")
	conn, err := fileConn(f)
	if err != nil {
		log.Error("this program is an lsie plugin and must be started by lsie-host", "error", err)
		os.Exit(1)
	}
	s := newService(impl, conn, log)
	go s.readLoop()
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  pluginv1.Handshake,
		VersionedPlugins: pluginv1.PluginSets(s),
		GRPCServer:       grpcServer,
		Logger:           log,
	})
}

// maxInlineFrame lets the inline Process path carry a full 4K RGB frame.
const maxInlineFrame = 64 << 20

func grpcServer(opts []grpc.ServerOption) *grpc.Server {
	return grpc.NewServer(append(opts, grpc.MaxRecvMsgSize(maxInlineFrame))...)
}

func fileConn(f *os.File) (*net.UnixConn, error) {
	if f == nil {
		return nil, fmt.Errorf("no fd %d", dataplane.FD)
	}
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("fd %d is not the data-plane socket: %w", dataplane.FD, err)
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("fd %d is not a unix socket", dataplane.FD)
	}
	return uc, nil
}

// job is one unit of a stream's in-order work: a frame, an audio record or
// a topic message.
type job struct {
	frame   shm.Descriptor
	audio   *dataplane.Audio
	pcm     []byte
	deliver *dataplane.Deliver
	msg     *pluginv1.Message
	cmd     *commandJob
}

// commandJob is an operator command waiting its turn in a stream's queue.
type commandJob struct {
	req   *pluginv1.CommandRequest
	reply chan *pluginv1.CommandResponse
}

// stream is one opened stream: its processor and its in-order work queue.
type stream struct {
	id    string
	proc  Processor
	queue chan job
	done  chan struct{}
	// samples is reused to decode PCM; one goroutine per stream uses it.
	samples []int16
	panics  panics
}

// service implements pluginv1.PluginServer and owns the data plane.
type service struct {
	pluginv1.UnimplementedPluginServer
	impl Impl
	conn *net.UnixConn
	log  hclog.Logger

	mu      sync.RWMutex
	regions map[uint32]*shm.Mapping
	streams map[uint32]*stream
	wmu     sync.Mutex // one packet at a time on the socket
	// cuda is nil in a build without the cuda tag.
	cuda CUDAFrames
}

func newService(impl Impl, conn *net.UnixConn, log hclog.Logger) *service {
	s := &service{impl: impl, conn: conn, log: log,
		regions: map[uint32]*shm.Mapping{}, streams: map[uint32]*stream{}}
	if newCUDA != nil {
		s.cuda = newCUDA()
	}
	return s
}

func (s *service) Describe(context.Context, *pluginv1.DescribeRequest) (*pluginv1.Manifest, error) {
	m := s.impl.Manifest()
	out := &pluginv1.Manifest{Name: m.Name, Version: m.Version, Description: m.Description,
		ProtocolVersion: pluginv1.ProtocolVersion, Inputs: m.Inputs, Outputs: m.Outputs, DeviceInput: m.DeviceInput,
		Labels: m.Labels, Attributes: m.Attributes, AttributeSchema: m.AttributeSchema}
	for _, f := range m.Fields {
		out.Fields = append(out.Fields, &pluginv1.FieldSpec{Name: f.Name, Type: "float64", Unit: f.Unit, Description: f.Description})
	}
	return out, nil
}

func (s *service) OpenStream(_ context.Context, req *pluginv1.OpenStreamRequest) (*pluginv1.OpenStreamResponse, error) {
	s.mu.Lock()
	_, exists := s.streams[req.Handle]
	s.mu.Unlock()
	if exists {
		return &pluginv1.OpenStreamResponse{Error: &pluginv1.Error{Code: "already_open", Message: fmt.Sprintf("stream handle %d is already open", req.Handle)}}, nil
	}
	var proc Processor
	var err error
	if perr := s.guard(&stream{id: req.StreamId}, "OpenStream", func() {
		proc, err = s.impl.OpenStream(req.StreamId, req.Attributes, streamPublisher{s: s, handle: req.Handle})
	}); perr != nil {
		err = errors.New(perr.Message)
	}
	if err != nil {
		return &pluginv1.OpenStreamResponse{Error: &pluginv1.Error{Code: "open_failed", Message: err.Error()}}, nil
	}
	st := &stream{id: req.StreamId, proc: proc, queue: make(chan job, dataplane.StreamQueue), done: make(chan struct{})}
	s.mu.Lock()
	s.streams[req.Handle] = st
	s.mu.Unlock()
	go s.work(req.Handle, st)
	s.log.Debug("stream opened", "stream", req.StreamId, "handle", req.Handle)
	return &pluginv1.OpenStreamResponse{}, nil
}

func (s *service) CloseStream(_ context.Context, req *pluginv1.CloseStreamRequest) (*pluginv1.CloseStreamResponse, error) {
	s.mu.Lock()
	st := s.streams[req.Handle]
	delete(s.streams, req.Handle)
	reopened := false // a reload opens the stream again before closing it
	for _, o := range s.streams {
		reopened = reopened || (st != nil && o.id == st.id)
	}
	s.mu.Unlock()
	if st != nil && !reopened {
		metrics.Default.DropStream(st.id)
	}
	if st != nil {
		close(st.queue)
		<-st.done
		if st.panics.failure() == "" { // a failed stream's processor is closed already
			s.closeProcessor(st)
		}
		if s.cuda != nil {
			if err := s.cuda.CloseStream(req.Handle); err != nil {
				s.log.Warn("closing stream's CUDA stream", "stream", st.id, "error", err)
			}
		}
	}
	return &pluginv1.CloseStreamResponse{}, nil
}

// Metrics answers the host's scrape with the process's own metrics.
func (s *service) Metrics(context.Context, *pluginv1.MetricsRequest) (*pluginv1.MetricsResponse, error) {
	return &pluginv1.MetricsResponse{Families: metrics.Default.Snapshot()}, nil
}

// Process is the inline path: pixels arrive as bytes in the request.
func (s *service) Process(_ context.Context, req *pluginv1.ProcessRequest) (*pluginv1.ProcessResponse, error) {
	recv := shm.MonotonicNanos()
	fr := req.GetFrame()
	res := &pluginv1.Result{Handle: fr.GetHandle(), Seq: fr.GetSeq(), PtsNs: fr.GetPtsNs(), ReceivedNanos: recv}
	s.mu.RLock()
	st := s.streams[fr.GetHandle()]
	s.mu.RUnlock()
	if st == nil {
		res.Error = &pluginv1.Error{Code: "unknown_stream", Message: fmt.Sprintf("stream handle %d is not open", fr.GetHandle())}
		return &pluginv1.ProcessResponse{Result: res}, nil
	}
	need := uint64(fr.GetStride()) * uint64(fr.GetHeight())
	if uint64(len(fr.GetPixels())) < need || fr.GetWidth() == 0 {
		res.Error = &pluginv1.Error{Code: "bad_input", Message: fmt.Sprintf("frame: %d pixel bytes for stride %d × height %d", len(fr.GetPixels()), fr.GetStride(), fr.GetHeight())}
		return &pluginv1.ProcessResponse{Result: res}, nil
	}
	f := &Frame{Seq: fr.GetSeq(), PTS: time.Duration(fr.GetPtsNs()), Width: int(fr.GetWidth()), Height: int(fr.GetHeight()),
		Stride: int(fr.GetStride()), Format: shm.PixelFormat(fr.GetFormat()), Pixels: fr.GetPixels()}
	s.fillResult(res, st, f)
	return &pluginv1.ProcessResponse{Result: res}, nil
}

// Command queues the command behind the stream's work, so the plugin sees
// it between two frames, never during one, and waits for its answer.
func (s *service) Command(ctx context.Context, req *pluginv1.CommandRequest) (*pluginv1.CommandResponse, error) {
	reply := make(chan *pluginv1.CommandResponse, 1)
	// Queued under the read lock: CloseStream removes the stream under the
	// write lock before it closes the queue, so the send never meets a
	// closed channel.
	s.mu.RLock()
	st := s.streams[req.GetHandle()]
	if st != nil {
		select {
		case st.queue <- job{cmd: &commandJob{req: req, reply: reply}}:
		case <-ctx.Done():
			s.mu.RUnlock()
			return nil, ctx.Err()
		}
	}
	s.mu.RUnlock()
	if st == nil {
		return &pluginv1.CommandResponse{Error: &pluginv1.Error{Code: "unknown_stream", Message: fmt.Sprintf("stream handle %d is not open", req.GetHandle())}}, nil
	}
	select {
	case r := <-reply:
		return r, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *service) Health(context.Context, *pluginv1.HealthRequest) (*pluginv1.HealthResponse, error) {
	s.mu.RLock()
	n := len(s.streams)
	s.mu.RUnlock()
	return &pluginv1.HealthResponse{Status: "ok", OpenStreams: uint32(n)}, nil
}

func (s *service) fillResult(res *pluginv1.Result, st *stream, f *Frame) {
	if why := st.panics.failure(); why != "" {
		res.DoneNanos, res.Error = shm.MonotonicNanos(), &pluginv1.Error{Code: CodeStreamFailed, Message: why}
		return
	}
	var out FrameOut
	var code string
	var err error
	perr := s.guard(st, "ProcessFrame", func() { out, code, err = st.proc.Process(f) })
	res.DoneNanos = shm.MonotonicNanos()
	if perr != nil {
		res.Error = perr
		return
	}
	if err != nil {
		if code == "" {
			code = "plugin_error"
		}
		res.Error = &pluginv1.Error{Code: code, Message: err.Error()}
		return
	}
	res.Fields, res.Objects = out.Fields, out.Objects
}

// readLoop receives regions and descriptors until the host closes the
// socket. EOF means the host is gone: exit, so no plugin outlives its host.
func (s *service) readLoop() {
	buf := make([]byte, dataplane.MaxMessage)
	for {
		n, fds, err := shm.RecvFDs(s.conn, buf)
		if err != nil {
			s.log.Info("data plane closed by host; exiting", "error", err)
			os.Exit(0)
		}
		if n == 0 {
			continue
		}
		s.dispatch(buf[:n], fds)
	}
}

// dispatch handles one packet from the host; b is reused after it returns.
func (s *service) dispatch(b []byte, fds []int) {
	switch b[0] {
	case dataplane.MsgRegion:
		s.addRegion(b, fds)
	case dataplane.MsgCUDARegion:
		s.addCUDARegion(b, fds)
	case dataplane.MsgDropRegion:
		closeFDs(fds)
		if id, err := dataplane.ParseDropRegion(b); err == nil {
			s.dropRegion(id)
		}
	case dataplane.MsgAudio:
		closeFDs(fds)
		a, pcm, err := dataplane.ParseAudio(b)
		if err != nil {
			s.log.Error("bad audio record from host", "error", err)
			return
		}
		// The read buffer is reused: the job keeps its own copy (3.2 KB per 100 ms).
		s.enqueueAudio(job{audio: &a, pcm: append([]byte(nil), pcm...)})
	case dataplane.MsgDeliver:
		closeFDs(fds)
		d, m, err := dataplane.DecodeDeliver(b)
		if err != nil {
			s.log.Error("bad message delivery from host", "error", err)
			return
		}
		s.enqueueJob(d.Handle, job{deliver: &d, msg: m})
	case dataplane.MsgFrame:
		closeFDs(fds)
		var d shm.Descriptor
		if err := dataplane.ParseFrame(b, &d); err != nil {
			s.log.Error("bad frame descriptor from host", "error", err)
			return
		}
		s.enqueue(d)
	default:
		closeFDs(fds)
		s.log.Error("unknown data-plane message", "type", b[0], "len", len(b))
	}
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		_ = closeFD(fd)
	}
}

func (s *service) addRegion(b []byte, fds []int) {
	r, err := dataplane.ParseRegion(b)
	if err != nil || len(fds) != 1 {
		closeFDs(fds)
		s.log.Error("bad region message from host", "error", err, "fds", len(fds))
		return
	}
	m, err := shm.MapRegion(fds[0], r.ID, r.Spec)
	_ = closeFD(fds[0]) // the mapping keeps the memory alive
	if err != nil {
		s.log.Error("mapping region", "region", r.ID, "error", err)
		return
	}
	s.mu.Lock()
	old := s.regions[r.ID]
	s.regions[r.ID] = m
	s.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
}

// addCUDARegion opens a CUDA region. Failures are logged, not fatal: the
// region's frames then fail one by one ("not open"), and are still acked.
func (s *service) addCUDARegion(b []byte, fds []int) {
	if s.cuda == nil {
		closeFDs(fds)
		s.log.Error("cannot open CUDA region", "error", errNoCUDA)
		return
	}
	if err := s.cuda.AddRegion(b, fds); err != nil {
		s.log.Error("opening CUDA region", "error", err)
	}
}

func (s *service) dropRegion(id uint32) {
	s.mu.Lock()
	m := s.regions[id]
	delete(s.regions, id)
	s.mu.Unlock()
	if m != nil {
		_ = m.Close()
	}
	// Region ids are one namespace on the host; the id is either kind.
	if s.cuda != nil {
		if err := s.cuda.DropRegion(id); err != nil {
			s.log.Warn("closing CUDA region", "region", id, "error", err)
		}
	}
}

func (s *service) enqueue(d shm.Descriptor) {
	if err := s.push(d.Stream, job{frame: d}); err != nil {
		s.sendResult(d, &pluginv1.Result{Handle: d.Stream, Seq: d.Seq, PtsNs: d.PTS, ReceivedNanos: shm.MonotonicNanos(), Error: err})
	}
}

func (s *service) enqueueAudio(j job) {
	if err := s.push(j.audio.Handle, j); err != nil {
		s.sendAudioResult(j.audio.Handle, &pluginv1.Result{Handle: j.audio.Handle, Seq: j.audio.Seq, PtsNs: j.audio.PTS,
			Input: pluginv1.Input_INPUT_AUDIO, ReceivedNanos: shm.MonotonicNanos(), Error: err})
	}
}

func (s *service) enqueueJob(handle uint32, j job) {
	if err := s.push(handle, j); err != nil {
		s.send(dataplane.Ack{Handle: handle}, &pluginv1.Result{Handle: handle, Seq: j.deliver.Seq, Input: pluginv1.Input_INPUT_MESSAGE, Error: err})
	}
}

// push queues j on its stream without ever waiting: the reader serves every
// stream, so a full queue is refused (the host keeps fewer in flight than
// dataplane.StreamQueue, so only a host bug gets there). Sent under the read
// lock: CloseStream removes the stream under the write lock before it
// closes the queue, so a send never meets a closed channel.
func (s *service) push(handle uint32, j job) *pluginv1.Error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := s.streams[handle]
	if st == nil {
		return &pluginv1.Error{Code: "unknown_stream", Message: fmt.Sprintf("stream handle %d is not open", handle)}
	}
	select {
	case st.queue <- j:
		return nil
	default:
		return &pluginv1.Error{Code: "overloaded", Message: fmt.Sprintf("stream %q: %d inputs queued already", st.id, cap(st.queue))}
	}
}

// work runs one stream's frames in order.
func (s *service) work(handle uint32, st *stream) {
	defer close(st.done)
	for j := range st.queue {
		if j.cmd != nil {
			j.cmd.reply <- s.command(st, j.cmd.req)
			continue
		}
		if j.audio != nil {
			s.workAudio(handle, st, j)
			continue
		}
		if j.msg != nil {
			s.workMessage(handle, st, j)
			continue
		}
		d := j.frame
		if d.Memory == shm.MemoryCUDA {
			s.workDevice(handle, st, d)
			continue
		}
		recv := shm.MonotonicNanos()
		res := &pluginv1.Result{Handle: handle, Seq: d.Seq, PtsNs: d.PTS, ReceivedNanos: recv}
		s.mu.RLock()
		m := s.regions[d.Region]
		s.mu.RUnlock()
		var err error
		var pix []byte
		if m == nil {
			err = fmt.Errorf("region %d is not mapped", d.Region)
		} else {
			pix, err = m.Frame(&d)
		}
		if err != nil {
			res.DoneNanos = shm.MonotonicNanos()
			res.Error = &pluginv1.Error{Code: descriptorCode(err), Message: err.Error()}
			s.sendResult(d, res)
			continue
		}
		f := &Frame{Seq: d.Seq, PTS: time.Duration(d.PTS), Width: int(d.Width), Height: int(d.Height),
			Stride: int(d.Stride), Format: d.Format, Pixels: pix}
		s.fillResult(res, st, f)
		// Seqlock check: if the host rewrote the slot while we read it, the
		// fields describe a torn frame and must not be trusted.
		if err := m.Check(&d); err != nil {
			res.Fields = nil
			res.Error = &pluginv1.Error{Code: "stale_frame", Message: err.Error()}
		}
		s.sendResult(d, res)
	}
}

// workDevice runs one CUDA frame and acks it only after the frame is Done,
// since the ack lets the host overwrite the device buffer.
func (s *service) workDevice(handle uint32, st *stream, d shm.Descriptor) {
	res := &pluginv1.Result{Handle: handle, Seq: d.Seq, PtsNs: d.PTS, ReceivedNanos: shm.MonotonicNanos()}
	defer func() { s.sendResult(d, res) }()
	if s.cuda == nil {
		res.DoneNanos = res.ReceivedNanos
		res.Error = &pluginv1.Error{Code: "no_cuda", Message: fmt.Sprintf("cuda frame seq %d: %v", d.Seq, errNoCUDA)}
		return
	}
	df, err := s.cuda.Frame(handle, &d)
	if err != nil {
		res.DoneNanos = shm.MonotonicNanos()
		res.Error = &pluginv1.Error{Code: descriptorCode(err), Message: err.Error()}
		return
	}
	v := df.View()
	f := &Frame{Seq: d.Seq, PTS: time.Duration(d.PTS), Width: int(d.Width), Height: int(d.Height),
		Stride: int(d.Stride), Format: d.Format, Device: &v}
	s.fillResult(res, st, f)
	// Done also runs after a failed Process: kernels may still be queued.
	if err := df.Done(); err != nil {
		code := "cuda_error"
		if errors.Is(err, shm.ErrStale) || errors.Is(err, shm.ErrTorn) {
			code = "stale_frame"
		}
		res.Fields = nil
		res.Error = &pluginv1.Error{Code: code, Message: err.Error()}
	}
}

// CodeResultTooLarge answers an input whose result does not fit in a
// data-plane packet (64 KiB).
const CodeResultTooLarge = "result_too_large"

// descriptorCode is the error code of a frame that could not be opened: a
// slot the host rewrote (or is rewriting) since it sent the descriptor is
// stale_frame, as when the rewrite comes while the plugin reads it; a
// region not mapped or a descriptor that does not fit it is bad_descriptor.
func descriptorCode(err error) string {
	if errors.Is(err, shm.ErrStale) || errors.Is(err, shm.ErrTorn) {
		return "stale_frame"
	}
	return "bad_descriptor"
}

// workAudio runs one audio record and acks it with the hops' items.
func (s *service) workAudio(handle uint32, st *stream, j job) {
	a := j.audio
	res := &pluginv1.Result{Handle: handle, Seq: a.Seq, PtsNs: a.PTS, Input: pluginv1.Input_INPUT_AUDIO, ReceivedNanos: shm.MonotonicNanos()}
	defer func() { s.sendAudioResult(handle, res) }()
	if why := st.panics.failure(); why != "" {
		res.Error = &pluginv1.Error{Code: CodeStreamFailed, Message: why}
		return
	}
	if !st.proc.WantsAudio() {
		res.Error = &pluginv1.Error{Code: "bad_input", Message: "this plugin does not consume audio"}
		return
	}
	if a.Flags&dataplane.AudioNoAudio != 0 {
		res.Error = &pluginv1.Error{Code: "no_audio", Message: "the stream has no audio track"}
		return
	}
	in := &AudioIn{Seq: a.Seq, FirstSample: a.FirstSample, PTS: time.Duration(a.PTS), Rate: int(a.Rate), End: a.Flags&dataplane.AudioEnd != 0}
	if a.Flags&dataplane.AudioGap != 0 {
		in.GapSamples = int64(a.Samples)
	} else {
		st.samples = st.samples[:0]
		for i := 0; i+1 < len(j.pcm); i += 2 {
			st.samples = append(st.samples, int16(uint16(j.pcm[i])|uint16(j.pcm[i+1])<<8))
		}
		in.Samples = st.samples
		res.DurationNs = int64(a.Samples) * int64(time.Second) / int64(max(a.Rate, 1))
	}
	var items []ItemOut
	var progress time.Duration
	var code string
	var err error
	perr := s.guard(st, "ProcessAudio", func() { items, progress, code, err = st.proc.ProcessAudio(in) })
	res.DoneNanos = shm.MonotonicNanos()
	if perr != nil {
		// The chunk's hops are lost to the panic: progress moves past it
		// (the chunk's end) and the host counts the chunk's error.
		res.ProgressNs = a.PTS + res.DurationNs
		res.Error = perr
		return
	}
	switch {
	case in.End:
		res.ProgressNs = math.MaxInt64 // nothing more will come
	case progress >= 0:
		res.ProgressNs = int64(progress)
	default:
		res.ProgressNs = a.PTS + res.DurationNs
	}
	if err != nil {
		if code == "" {
			code = "plugin_error"
		}
		res.Error = &pluginv1.Error{Code: code, Message: err.Error()}
		return
	}
	for _, it := range items {
		res.Items = append(res.Items, &pluginv1.Item{PtsNs: int64(it.PTS), DurationNs: int64(it.Duration), Fields: it.Fields, Objects: it.Objects})
	}
}

// workMessage runs one delivered topic message and acks it with the
// consumer's fields, which the host stores at the message's media time.
func (s *service) workMessage(handle uint32, st *stream, j job) {
	m := j.msg
	res := &pluginv1.Result{Handle: handle, Seq: j.deliver.Seq, PtsNs: m.GetPtsNs(), DurationNs: m.GetDurationNs(),
		Input: pluginv1.Input_INPUT_MESSAGE, ReceivedNanos: shm.MonotonicNanos()}
	var answer AnswerOut
	var code string
	var err error
	perr := &pluginv1.Error{Code: CodeStreamFailed, Message: st.panics.failure()}
	if perr.Message == "" {
		perr = s.guard(st, "ProcessMessage", func() {
			answer, code, err = st.proc.ProcessMessage(&MessageIn{Producer: m.GetProducer(), MessageOut: MessageOut{
				Topic: m.GetTopic(), PTS: time.Duration(m.GetPtsNs()), Duration: time.Duration(m.GetDurationNs()),
				Text: m.GetText(), Fields: m.GetFields(), Payload: m.GetPayload()}})
		})
	}
	res.DoneNanos = shm.MonotonicNanos()
	if perr != nil {
		res.Error = perr
	} else if err != nil {
		if code == "" {
			code = "plugin_error"
		}
		res.Error = &pluginv1.Error{Code: code, Message: err.Error()}
	} else {
		res.Fields, res.Text, res.Payload = answer.Fields, answer.Text, answer.Payload
	}
	s.send(dataplane.Ack{Handle: handle}, res)
}

// streamPublisher publishes on one stream's handle.
type streamPublisher struct {
	s      *service
	handle uint32
}

func (p streamPublisher) Publish(m MessageOut) error {
	b, err := dataplane.EncodePublish(p.handle, &pluginv1.Message{Topic: m.Topic, PtsNs: int64(m.PTS),
		DurationNs: int64(m.Duration), Text: m.Text, Fields: m.Fields, Payload: m.Payload})
	if err != nil {
		return err
	}
	p.s.write(b)
	return nil
}

func (s *service) sendAudioResult(handle uint32, res *pluginv1.Result) {
	s.send(dataplane.Ack{Handle: handle}, res)
}

func (s *service) sendResult(d shm.Descriptor, res *pluginv1.Result) {
	s.send(dataplane.Ack{Region: d.Region, Slot: d.Slot, Generation: d.Generation, Handle: d.Stream}, res)
}

func (s *service) send(ack dataplane.Ack, res *pluginv1.Result) {
	buf := make([]byte, dataplane.ResultHeaderSize, 256)
	dataplane.PutResultHeader(buf, ack)
	buf, err := proto.MarshalOptions{}.MarshalAppend(buf, res)
	if err != nil || len(buf) > dataplane.MaxMessage {
		// Every input gets one result: answer with the error instead, so
		// the host settles the input (its lease, its audio progress).
		s.log.Error("result too large or not encodable", "error", err, "len", len(buf))
		msg := fmt.Sprintf("result of %d bytes (a packet holds at most %d)", len(buf), dataplane.MaxMessage)
		if err != nil {
			msg = "result not encodable: " + err.Error()
		}
		small := &pluginv1.Result{Handle: res.GetHandle(), Seq: res.GetSeq(), PtsNs: res.GetPtsNs(), DurationNs: res.GetDurationNs(),
			Input: res.GetInput(), ProgressNs: res.GetProgressNs(), ReceivedNanos: res.GetReceivedNanos(), DoneNanos: res.GetDoneNanos(),
			Error: &pluginv1.Error{Code: CodeResultTooLarge, Message: msg}}
		buf = buf[:dataplane.ResultHeaderSize] // the header stays
		if buf, err = (proto.MarshalOptions{}).MarshalAppend(buf, small); err != nil {
			return
		}
	}
	s.write(buf)
}

func (s *service) write(buf []byte) {
	s.wmu.Lock()
	_, err := s.conn.Write(buf)
	s.wmu.Unlock()
	if err != nil {
		s.log.Info("data plane write failed; host gone, exiting", "error", err)
		os.Exit(0)
	}
}

// command runs an operator command in the stream's order.
func (s *service) command(st *stream, req *pluginv1.CommandRequest) *pluginv1.CommandResponse {
	if why := st.panics.failure(); why != "" {
		return &pluginv1.CommandResponse{Error: &pluginv1.Error{Code: CodeStreamFailed, Message: why}}
	}
	var res []byte
	var code string
	var err error
	if perr := s.guard(st, "Command "+req.GetName(), func() { res, code, err = st.proc.Command(req.GetName(), req.GetArgs()) }); perr != nil {
		return &pluginv1.CommandResponse{Error: perr}
	}
	if err != nil {
		return &pluginv1.CommandResponse{Error: &pluginv1.Error{Code: code, Message: err.Error()}}
	}
	return &pluginv1.CommandResponse{Result: res}
}
