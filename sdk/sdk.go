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
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/lsie-mlf/lsie/sdk/internal/server"
	"github.com/lsie-mlf/lsie/shm"
)

// ProtocolVersion is the plugin protocol this SDK speaks.
const ProtocolVersion = 1

// Topics a plugin may consume.
const (
	TopicVideoRGB24 = "video.rgb24"
)

// PixelFormat says how Pixels are laid out.
type PixelFormat = shm.PixelFormat

// Pixel formats.
const (
	FormatRGB24 = shm.FormatRGB24
	FormatGray8 = shm.FormatGray8
	FormatRGBA  = shm.FormatRGBA
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
	Inputs      []string // topics consumed, e.g. TopicVideoRGB24
	Outputs     []string // topics produced, e.g. "visual.frame@1"
	Fields      []Field
}

// StreamInfo describes a stream the host opens on the plugin.
type StreamInfo struct {
	ID string
	// Attributes are the plugin block's attributes from the host config.
	Attributes map[string]string
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
	Pixels   []byte // read-only; valid only during ProcessFrame
}

// Fields are a result's named values.
type Fields map[string]float64

// Plugin is implemented by a plugin binary. One process serves every stream
// that uses it, so per-stream state belongs in the Stream it returns.
type Plugin interface {
	Manifest() Manifest
	OpenStream(info StreamInfo) (Stream, error)
}

// Stream is a plugin's state for one stream. Its methods are called from one
// goroutine at a time, in frame order; different streams run concurrently.
type Stream interface {
	ProcessFrame(f *Frame) (Fields, error)
	Close() error
}

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
	out := server.Manifest{Name: m.Name, Version: m.Version, Description: m.Description, Inputs: m.Inputs, Outputs: m.Outputs}
	for _, f := range m.Fields {
		out.Fields = append(out.Fields, server.Field{Name: f.Name, Unit: f.Unit, Description: f.Description})
	}
	return out
}

func (a adapter) OpenStream(id string, attrs map[string]string) (server.Processor, error) {
	s, err := a.p.OpenStream(StreamInfo{ID: id, Attributes: attrs})
	if err != nil {
		return nil, err
	}
	return processor{id: id, s: s}, nil
}

type processor struct {
	id string
	s  Stream
}

func (p processor) Process(f *server.Frame) (map[string]float64, string, error) {
	fields, err := p.s.ProcessFrame(&Frame{
		StreamID: p.id, Seq: f.Seq, PTS: f.PTS, Width: f.Width, Height: f.Height,
		Stride: f.Stride, Format: f.Format, Pixels: f.Pixels,
	})
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, e.Code, errors.New(e.Message)
		}
		return nil, "plugin_error", err
	}
	return fields, "", nil
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
		out[i] = server.ItemOut{PTS: it.PTS, Duration: it.Duration, Fields: it.Fields}
	}
	return out, progress, "", nil
}
