// Package vad finds speech in a 16 kHz sample stream: Silero VAD v5 (ONNX)
// gives a speech probability per 32 ms window, and a Segmenter turns those
// probabilities into utterances with hysteresis thresholds, minimum speech
// and silence durations, and padding. Model and Segmenter are separate so
// the segmentation rules can be tested without the model.
package vad

import (
	"fmt"
	"time"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/lsie-mlf/lsie/plugins/internal/models"
	"github.com/lsie-mlf/lsie/plugins/internal/onnx"
	"github.com/lsie-mlf/lsie/sdk"
)

const (
	// SampleRate is the only rate the model is used at here.
	SampleRate = 16000
	// WindowSamples is Silero v5's window at 16 kHz.
	WindowSamples = 512
	// Window is WindowSamples as a duration (32 ms).
	Window = WindowSamples * time.Second / SampleRate
	// contextSamples of the previous window are prepended to each window:
	// the v5 model was exported to see them (its reference wrapper does
	// the same), and without them probabilities come out lower and noisier.
	contextSamples = 64
	stateSize      = 2 * 1 * 128
)

// ModelFile is the model's path inside the model folder.
const ModelFile = "silero/silero_vad_v5.onnx"

// Model is one Silero session with its recurrent state: one per stream,
// because the state carries the stream's history.
type Model struct {
	session *ort.AdvancedSession
	input   *ort.Tensor[float32] // [1, 576]: context + window
	state   *ort.Tensor[float32] // [2, 1, 128]
	sr      *ort.Scalar[int64]
	output  *ort.Tensor[float32] // [1, 1]
	stateN  *ort.Tensor[float32]
}

// Attributes declares what Open reads besides models' and onnx's
// attributes: vad_model.
func Attributes() []sdk.Attribute {
	return []sdk.Attribute{{Name: "vad_model", Type: sdk.AttrString,
		Description: "Silero VAD v5 ONNX file; default " + ModelFile + " in the model folder"}}
}

// Open loads the model named by attrs' vad_model, else the model folder's
// ModelFile (see models.Dir), on one CPU thread: a 32 ms window costs well
// under a millisecond, so more threads would only contend with the host.
func Open(attrs map[string]string) (*Model, error) {
	path, err := models.Resolve(attrs, "vad_model", "Silero VAD model", ModelFile)
	if err != nil {
		return nil, err
	}
	opts, err := onnx.Prepare(attrs, 1)
	if err != nil {
		return nil, err
	}
	defer opts.Destroy()
	m := &Model{}
	fail := func(err error) (*Model, error) {
		m.Close()
		return nil, fmt.Errorf("silero VAD %s: %w", path, err)
	}
	if m.input, err = ort.NewEmptyTensor[float32](ort.NewShape(1, contextSamples+WindowSamples)); err != nil {
		return fail(err)
	}
	if m.state, err = ort.NewEmptyTensor[float32](ort.NewShape(2, 1, 128)); err != nil {
		return fail(err)
	}
	if m.sr, err = ort.NewScalar(int64(SampleRate)); err != nil {
		return fail(err)
	}
	if m.output, err = ort.NewEmptyTensor[float32](ort.NewShape(1, 1)); err != nil {
		return fail(err)
	}
	if m.stateN, err = ort.NewEmptyTensor[float32](ort.NewShape(2, 1, 128)); err != nil {
		return fail(err)
	}
	m.session, err = ort.NewAdvancedSession(path, []string{"input", "state", "sr"}, []string{"output", "stateN"},
		[]ort.Value{m.input, m.state, m.sr}, []ort.Value{m.output, m.stateN}, opts)
	if err != nil {
		return fail(err)
	}
	return m, nil
}

// Prob returns the speech probability of the next window of the stream
// (WindowSamples samples in [-1, 1)) and advances the model's state.
func (m *Model) Prob(window []float32) (float32, error) {
	if len(window) != WindowSamples {
		return 0, fmt.Errorf("silero VAD: window of %d samples, want %d", len(window), WindowSamples)
	}
	in := m.input.GetData()
	copy(in, in[WindowSamples:]) // the last 64 samples of the previous window
	copy(in[contextSamples:], window)
	if err := m.session.Run(); err != nil {
		return 0, fmt.Errorf("silero VAD: %w", err)
	}
	copy(m.state.GetData(), m.stateN.GetData())
	return m.output.GetData()[0], nil
}

// Reset forgets the stream's history (after a gap in the audio).
func (m *Model) Reset() {
	m.input.ZeroContents()
	m.state.ZeroContents()
}

// Close frees the session and its tensors; a half-opened Model is fine.
func (m *Model) Close() error {
	if m.session != nil {
		m.session.Destroy()
	}
	for _, t := range []*ort.Tensor[float32]{m.input, m.state, m.output, m.stateN} {
		if t != nil {
			t.Destroy()
		}
	}
	if m.sr != nil {
		m.sr.Destroy()
	}
	*m = Model{}
	return nil
}
