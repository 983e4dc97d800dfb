// Package sdk is what an lsie plugin imports. A plugin is a plain Go program
// whose main calls Serve with a value implementing Plugin; the SDK hides
// go-plugin, gRPC, the data-plane socket and the shared-memory mapping.
//
// Frames arrive as read-only views of the host's shared memory: Pixels must
// not be written to (the mapping is PROT_READ) and must not be kept after
// ProcessFrame returns, because the host reuses the slot once it is acked.
package sdk

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/lsie-mlf/lsie/sdk/internal/server"
	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
	"github.com/lsie-mlf/lsie/sdk/topic"
	"github.com/lsie-mlf/lsie/sdk/validate"
	"github.com/lsie-mlf/lsie/shm"
)

// ProtocolVersion is the plugin protocol this SDK speaks.
const ProtocolVersion = 1

// Topics a plugin may consume (see package topic for plugin topics).
const (
	TopicVideoRGB24 = topic.VideoRGB24
	// TopicVideoNV12CUDA is NV12 frames in GPU memory, delivered to
	// DeviceStream.ProcessDeviceFrame on streams with video.memory = "cuda".
	TopicVideoNV12CUDA = topic.VideoNV12CUDA
	// TopicVideoRGBF32CUDA is each frame as the tensor Manifest.DeviceInput
	// declares, in GPU memory, made by the host's preprocessing kernel;
	// delivered to DeviceStream.ProcessDeviceFrame (Format FormatRGBF32).
	TopicVideoRGBF32CUDA = topic.VideoRGBF32CUDA
)

// DeviceInput is a model's input tensor: planar RGB float32 of Width x
// Height (bilinear resize of the frame), each channel (v/255 - Mean[c]) /
// Std[c]; a Std of all zeros means 1, 1, 1.
type DeviceInput struct {
	Width, Height int
	Mean, Std     [3]float32
}

// PixelFormat says how Pixels are laid out.
type PixelFormat = shm.PixelFormat

// Pixel formats.
const (
	FormatRGB24 = shm.FormatRGB24
	FormatGray8 = shm.FormatGray8
	FormatRGBA  = shm.FormatRGBA
	FormatNV12  = shm.FormatNV12 // luma plane, then interleaved U, V at half resolution
)

// Field documents one output value.
type Field struct {
	Name        string
	Unit        string
	Description string
}

// Manifest tells the host what the plugin is and does.
type Manifest struct {
	Name        string
	Version     string // semver
	Description string
	// Inputs are the topics consumed: host topics (TopicVideoRGB24,
	// TopicVideoNV12CUDA, TopicVideoRGBF32CUDA, TopicAudioPCM16k) and other
	// plugins' outputs ("transcript.final@1").
	Inputs []string
	// DeviceInput is the tensor wanted with TopicVideoRGBF32CUDA.
	DeviceInput *DeviceInput
	// Outputs are the topics produced, "name@major": results as fields
	// ("visual.frame@1") and messages published to other plugins.
	Outputs []string
	Fields  []Field
	// Labels are the object labels the plugin may report (Object.Label);
	// none when it reports no objects. Lower case, like field names
	// ("person", "face", "text").
	Labels []string
	// Attributes is the schema of a stream's plugin block: the host
	// refuses a block that sets anything else, or a value of the wrong
	// type or range, and fills in defaults. Use []sdk.Attribute{} for a
	// plugin that takes no attributes; nil (no schema) passes every
	// attribute unchecked, as before schemas, and the host logs a warning.
	Attributes []Attribute
}

// StreamInfo describes a stream the host opens on the plugin.
type StreamInfo struct {
	ID string
	// Attrs are the plugin block's attributes, typed by the manifest's
	// schema, defaults filled in: Attrs.Float("threshold").
	Attrs Attrs
	// Attributes are the same values as text (canonical with a schema,
	// as the config wrote them without one).
	Attributes map[string]string
	// Publisher sends messages on the plugin's output topics for this
	// stream; the host routes them to the stream's consuming plugins.
	Publisher Publisher
	// Metrics makes this stream's own metrics (label stream=ID).
	Metrics Metrics
}

// Message is one item on a topic between plugins.
type Message struct {
	Topic string
	// Producer is the name of the plugin that published it (set by the host).
	Producer string
	StreamID string
	// PTS is the media time the message is about; it places the message,
	// and the consumer's result for it, in a segment.
	PTS      time.Duration
	Duration time.Duration
	Text     string
	Fields   Fields
	// Payload is topic-defined JSON (e.g. the words of a transcript).
	Payload []byte
}

// Publisher publishes messages on a plugin's output topics.
//
// Publish from inside ProcessFrame, ProcessAudio or ProcessMessage: the
// host then has the message before the result that reports progress past
// it, so it lands in its segment. Publish is safe from any goroutine; a
// message published later than its segment's close is counted as late.
type Publisher interface {
	Publish(m Message) error
}

// Frame is one analysis frame.
type Frame struct {
	StreamID string
	Seq      uint64
	PTS      time.Duration // media time on the stream's time line
	Width    int
	Height   int
	Stride   int // bytes per row; rows may be padded
	Format   PixelFormat
	Pixels   []byte // read-only; valid only during ProcessFrame; nil on the GPU
	// Device is set, and Pixels nil, for a frame in GPU memory, which only
	// DeviceStream.ProcessDeviceFrame gets; Stride is then its pitch.
	Device *DeviceFrame
}

// DeviceFrame is where a frame in GPU memory is (docs/CUDA.md). The handles
// are plain numbers so this package needs no cgo; convert them with the
// plugin's CUDA binding (cudaframe.WrapStream, cu.DevicePtr).
type DeviceFrame struct {
	Ordinal int     // CUDA device ordinal; the buffer is in its primary context
	Ptr     uintptr // CUdeviceptr of the first row; NV12 chroma at Ptr + Stride*Height
	// Stream is the CUstream that waits for the host's upload: queue every
	// read of Ptr on it. After ProcessDeviceFrame returns the SDK synchronises
	// it and re-checks the frame before the ack, so read nothing back from
	// it without synchronising it yourself, and keep no reference to Ptr.
	Stream uintptr
}

// Fields are a result's named values.
type Fields map[string]float64

// Plugin is implemented by a plugin binary. One process serves every stream
// that uses it, so per-stream state belongs in the Stream it returns.
type Plugin interface {
	Manifest() Manifest
	OpenStream(info StreamInfo) (Stream, error)
}

// Stream is a plugin's state for one stream. What it consumes is said by
// the interfaces it also implements, which must match the manifest's inputs:
// VideoStream for TopicVideoRGB24, AudioStream for TopicAudioPCM16k,
// MessageStream for plugin topics. Its methods are called from one goroutine
// at a time, in arrival order; different streams run concurrently.
type Stream interface {
	Close() error
}

// VideoStream is implemented by a Stream that consumes video frames.
type VideoStream interface {
	ProcessFrame(f *Frame) (Fields, error)
}

// DeviceStream is implemented by a Stream that takes frames in GPU memory
// (TopicVideoNV12CUDA: a plugin built with -tags cuda, on a stream whose
// video is in CUDA memory). A stream without it gets a bad_input error per
// such frame rather than a nil Pixels.
type DeviceStream interface {
	ProcessDeviceFrame(f *Frame) (Fields, error)
}

// MessageStream is implemented by a Stream that consumes other plugins'
// topics. Events arrive in order and, after a restart of this plugin, the
// ones not yet answered arrive again; partial topics may skip superseded
// messages. The answer is stored as this plugin's result at m.PTS.
type MessageStream interface {
	ProcessMessage(m *Message) (Answer, error)
}

// Answer is a MessageStream's result for one message: numeric fields (which
// segments aggregate) and, optionally, text and a JSON payload (e.g. the
// intent an utterance matched and why).
type Answer struct {
	Fields  Fields
	Text    string
	Payload []byte
}

// Commander is implemented by a Stream that takes operator commands
// (POST /api/v1/streams/{id}/plugins/{name}/commands), such as the au
// plugin's "baseline". A command runs between two of the stream's frames,
// audio chunks or messages, never during one; args and the result are
// JSON. Return an *Error with code "bad_input" for bad arguments.
type Commander interface {
	Command(name string, args []byte) ([]byte, error)
}

// CodeBadAttribute refuses a stream whose plugin block breaks the
// manifest's attribute schema (the host checks first; the SDK checks
// again for hosts and harnesses that did not).
const CodeBadAttribute = "bad_attribute"

// Error is a failure reported to the host as data (code + message).
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an *Error with the given code, e.g. "bad_input".
func Errorf(code, format string, args ...any) error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Logger returns the plugin's logger; the host shows its lines under the
// plugin's name.
func Logger() hclog.Logger { return server.Logger() }

// Serve runs the plugin until the host goes away. Call it from main.
func Serve(p Plugin) {
	server.Serve(adapter{p})
}

// adapter converts between the public types and the server's.
type adapter struct{ p Plugin }

func (a adapter) Manifest() server.Manifest {
	m := a.p.Manifest()
	out := server.Manifest{Name: m.Name, Version: m.Version, Description: m.Description, Inputs: m.Inputs, Outputs: m.Outputs, Labels: m.Labels}
	out.Attributes, out.AttributeSchema = attributeSpecs(m.Attributes)
	if d := m.DeviceInput; d != nil {
		std := d.Std
		if std == ([3]float32{}) {
			std = [3]float32{1, 1, 1}
		}
		out.DeviceInput = &pluginv1.DeviceInput{Width: uint32(max(d.Width, 0)), Height: uint32(max(d.Height, 0)),
			Mean: d.Mean[:], Std: std[:]}
	}
	for _, f := range m.Fields {
		out.Fields = append(out.Fields, server.Field{Name: f.Name, Unit: f.Unit, Description: f.Description})
	}
	return out
}

func (a adapter) OpenStream(id string, attrs map[string]string, pub server.Publisher) (server.Processor, error) {
	m := a.p.Manifest()
	// The host has checked them; a harness or an older host may not have.
	specs, schema := attributeSpecs(m.Attributes)
	values, err := validate.Attributes(&pluginv1.Manifest{Attributes: specs, AttributeSchema: schema}, attrs)
	if err != nil {
		return nil, Errorf(CodeBadAttribute, "%v", err)
	}
	s, err := a.p.OpenStream(StreamInfo{ID: id, Attrs: Attrs{values: values}, Attributes: values,
		Publisher: publisher{pub: pub, id: id, outputs: m.Outputs}, Metrics: Metrics{stream: id}})
	if err != nil {
		return nil, err
	}
	if err := checkImplements(s, m.Inputs); err != nil {
		_ = s.Close()
		return nil, err
	}
	return processor{id: id, s: s}, nil
}

// checkImplements refuses a Stream that lacks the method an input needs,
// at open time rather than at the first frame.
func checkImplements(s Stream, inputs []string) error {
	for _, in := range inputs {
		var ok bool
		var need string
		switch in {
		case TopicVideoRGB24:
			_, ok = s.(VideoStream)
			if !ok {
				_, ok = s.(ObjectStream)
			}
			need = "ProcessFrame (sdk.VideoStream) or ProcessFrameObjects (sdk.ObjectStream)"
		case TopicVideoNV12CUDA, TopicVideoRGBF32CUDA:
			_, ok = s.(DeviceStream)
			need = "ProcessDeviceFrame (sdk.DeviceStream)"
		case TopicAudioPCM16k:
			_, ok = s.(AudioStream)
			need = "ProcessAudio (sdk.AudioStream)"
		default:
			_, ok = s.(MessageStream)
			need = "ProcessMessage (sdk.MessageStream)"
		}
		if !ok {
			return fmt.Errorf("manifest input %q needs the stream (%T) to implement %s", in, s, need)
		}
	}
	return nil
}

// publisher checks topics against the manifest before anything leaves.
type publisher struct {
	pub     server.Publisher
	id      string
	outputs []string
}

func (p publisher) Publish(m Message) error {
	t, err := topic.Parse(m.Topic)
	if err != nil {
		return err
	}
	if t.Host() || !slices.Contains(p.outputs, m.Topic) {
		return fmt.Errorf("publish on %q: not one of the manifest's outputs %v", m.Topic, p.outputs)
	}
	return p.pub.Publish(server.MessageOut{Topic: m.Topic, PTS: m.PTS, Duration: m.Duration, Text: m.Text, Fields: m.Fields, Payload: m.Payload})
}

type processor struct {
	id string
	s  Stream
}

func (p processor) Process(f *server.Frame) (server.FrameOut, string, error) {
	fr := &Frame{
		StreamID: p.id, Seq: f.Seq, PTS: f.PTS, Width: f.Width, Height: f.Height,
		Stride: f.Stride, Format: f.Format, Pixels: f.Pixels,
	}
	if f.Device != nil {
		ds, ok := p.s.(DeviceStream)
		if !ok {
			return server.FrameOut{}, "bad_input", errors.New("this plugin does not take frames in GPU memory (sdk.DeviceStream)")
		}
		fr.Device = &DeviceFrame{Ordinal: f.Device.Ordinal, Ptr: f.Device.Ptr, Stream: f.Device.Stream}
		fields, code, err := fieldsOrError(ds.ProcessDeviceFrame(fr))
		return server.FrameOut{Fields: fields}, code, err
	}
	if obs, ok := p.s.(ObjectStream); ok {
		fields, objs, err := obs.ProcessFrameObjects(fr)
		fields, code, err := fieldsOrError(fields, err)
		if err != nil {
			return server.FrameOut{}, code, err
		}
		return server.FrameOut{Fields: fields, Objects: objectsToProto(objs)}, "", nil
	}
	vs, ok := p.s.(VideoStream)
	if !ok {
		return server.FrameOut{}, "bad_input", errors.New("this plugin does not consume frames in host memory (sdk.VideoStream)")
	}
	fields, code, err := fieldsOrError(vs.ProcessFrame(fr))
	return server.FrameOut{Fields: fields}, code, err
}

func (p processor) ProcessMessage(m *server.MessageIn) (server.AnswerOut, string, error) {
	ms, ok := p.s.(MessageStream)
	if !ok {
		return server.AnswerOut{}, "bad_input", errors.New("this plugin does not consume topics")
	}
	a, err := ms.ProcessMessage(&Message{Topic: m.Topic, Producer: m.Producer, StreamID: p.id, PTS: m.PTS,
		Duration: m.Duration, Text: m.Text, Fields: m.Fields, Payload: m.Payload})
	fields, code, err := fieldsOrError(a.Fields, err)
	if err != nil {
		return server.AnswerOut{}, code, err
	}
	return server.AnswerOut{Fields: fields, Text: a.Text, Payload: a.Payload}, "", nil
}

func fieldsOrError(fields Fields, err error) (map[string]float64, string, error) {
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, e.Code, errors.New(e.Message)
		}
		return nil, "plugin_error", err
	}
	return fields, "", nil
}

func (p processor) Command(name string, args []byte) ([]byte, string, error) {
	c, ok := p.s.(Commander)
	if !ok {
		return nil, "unsupported", errors.New("this plugin takes no commands")
	}
	res, err := c.Command(name, args)
	if err != nil {
		_, code, err := fieldsOrError(nil, err)
		return nil, code, err
	}
	return res, "", nil
}

func (p processor) Close() error { return p.s.Close() }

func (p processor) WantsAudio() bool {
	_, ok := p.s.(AudioStream)
	return ok
}

func (p processor) ProcessAudio(a *server.AudioIn) ([]server.ItemOut, time.Duration, string, error) {
	as, ok := p.s.(AudioStream)
	if !ok {
		return nil, -1, "bad_input", errors.New("this plugin does not consume audio")
	}
	items, err := as.ProcessAudio(&Audio{StreamID: p.id, Seq: a.Seq, FirstSample: a.FirstSample, PTS: a.PTS,
		SampleRate: a.Rate, Samples: a.Samples, GapSamples: a.GapSamples, End: a.End})
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, -1, e.Code, errors.New(e.Message)
		}
		return nil, -1, "plugin_error", err
	}
	progress := time.Duration(-1)
	if pr, ok := p.s.(AudioProgress); ok {
		progress = pr.AudioProgress()
	}
	out := make([]server.ItemOut, len(items))
	for i, it := range items {
		out[i] = server.ItemOut{PTS: it.PTS, Duration: it.Duration, Fields: it.Fields, Objects: objectsToProto(it.Objects)}
	}
	return out, progress, "", nil
}
