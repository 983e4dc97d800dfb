// Command transcription is an lsie plugin that turns a stream's speech into
// text as it is spoken. Silero VAD (plugins/internal/vad) cuts the audio
// into utterances; a recogniser (engine "sphinx", the default, or
// "whisper") decodes each one. While someone speaks it publishes
// transcript.partial@1 at most every partial_interval when the text
// changed; at the utterance's end one transcript.final@1 with the words,
// their media times and confidences, and returns an item with the
// utterance's figures so the segment holding it shows the result.
//
// Attributes (the manifest's schema; `lsie-host plugins inspect` lists
// them): engine (sphinx | whisper), partial_interval (default 500ms),
// max_utterance (15s; longer speech is cut and flagged "truncated"),
// vad_threshold (0.5), vad_neg_threshold (threshold - 0.15),
// vad_min_speech (250ms), vad_min_silence (400ms), vad_speech_pad (200ms),
// vad_model, model_dir, ort_library, execution_provider; sphinx: hmm, lm,
// dict, final_pass (live | batch) and the library settings in
// sphinx.Passthrough (lw, beam, wbeam, ...); whisper: see its package.
// Durations are Go durations ("500ms", "1.5s").
//
// Besides the transcript payload, each message's fields carry utterance
// (its number), words, and onset_s: the media time of the first speech the
// VAD heard, i.e. the utterance start without padding (partial latency is
// measured from it). Sphinx partials carry word confidence 0: the library
// computes posteriors only at the utterance's end.
package main

import (
	"fmt"
	"time"

	"github.com/lsie-mlf/lsie/plugins/internal/attrs"
	"github.com/lsie-mlf/lsie/plugins/internal/models"
	"github.com/lsie-mlf/lsie/plugins/internal/onnx"
	"github.com/lsie-mlf/lsie/plugins/internal/vad"
	"github.com/lsie-mlf/lsie/plugins/transcription/engine"
	"github.com/lsie-mlf/lsie/plugins/transcription/sphinx"
	"github.com/lsie-mlf/lsie/plugins/transcription/whisper"
	"github.com/lsie-mlf/lsie/sdk"
	"github.com/lsie-mlf/lsie/sdk/transcript"
)

const version = "0.1.0"

const sampleRate = engine.SampleRate

func main() { sdk.Serve(plugin{}) }

type plugin struct{}

func (plugin) Manifest() sdk.Manifest {
	return sdk.Manifest{
		Name:        "transcription",
		Version:     version,
		Description: "streaming speech to text: Silero VAD cuts utterances, PocketSphinx (or Whisper) decodes them; partial and final transcripts with word times and confidences",
		Inputs:      []string{sdk.TopicAudioPCM16k},
		Outputs:     []string{transcript.TopicPartial, transcript.TopicFinal},
		Fields: []sdk.Field{
			// Fields of each transcript.final@1 message, stored as this
			// plugin's item at the utterance's start.
			{Name: "utterance", Unit: "count", Description: "the utterance's number in the stream, from 1 (one item per final)"},
			{Name: "words", Unit: "count", Description: "words recognised in the utterance"},
			{Name: "confidence", Unit: "0..1", Description: "mean word confidence; 0 when no words"},
			{Name: "speech_seconds", Unit: "s", Description: "length of the utterance as the VAD cut it (with padding)"},
			{Name: "truncated", Unit: "0|1", Description: "1 when the utterance hit max_utterance and was cut"},
			{Name: "no_words", Unit: "0|1", Description: "1 when there was voice but nothing was recognised"},
			{Name: "clipped", Unit: "0|1", Description: "1 when more than 0.1 % of the utterance's samples sit at full scale"},
			{Name: "onset_s", Unit: "s", Description: "media time of the first speech the VAD heard (without padding)"},
		},
		Attributes: attrs.Join(attributes(), vad.Attributes(), models.Attributes(), onnx.Attributes(), sphinx.Attributes(), whisper.Attributes()),
	}
}

// attributes are the plugin's own attributes: the engine, the partials'
// pace and the VAD's rules (defaults vad.DefaultConfig's).
func attributes() []sdk.Attribute {
	d := vad.DefaultConfig()
	return []sdk.Attribute{
		{Name: "engine", Type: sdk.AttrEnum, Choices: []string{"sphinx", "whisper"}, Default: "sphinx",
			Description: "the recogniser: sphinx (PocketSphinx en-us) or whisper (your ONNX export, whisper_dir)"},
		{Name: "partial_interval", Type: sdk.AttrDuration, Default: "500ms", Min: "1ns",
			Description: "least time between transcript.partial@1 messages of an utterance (sent only when the text changed)"},
		{Name: "max_utterance", Type: sdk.AttrDuration, Default: d.MaxSpeech.String(), Min: "0s",
			Description: "longest utterance: longer speech is cut and flagged truncated; 0s: no limit, else at least vad_min_speech + 64ms"},
		{Name: "vad_threshold", Type: sdk.AttrNumber, Default: fmt.Sprint(d.Threshold), Min: "0", Max: "1",
			Description: "speech probability at which speech starts (strictly between 0 and 1)"},
		{Name: "vad_neg_threshold", Type: sdk.AttrNumber, Min: "0", Max: "1",
			Description: "speech probability below which speech ends, above 0 and at most vad_threshold; default vad_threshold - 0.15 (at least 0.01)"},
		{Name: "vad_min_speech", Type: sdk.AttrDuration, Default: d.MinSpeech.String(), Min: "0s",
			Description: "least speech that makes an utterance"},
		{Name: "vad_min_silence", Type: sdk.AttrDuration, Default: d.MinSilence.String(), Min: vad.Window.String(),
			Description: "least silence that ends an utterance"},
		{Name: "vad_speech_pad", Type: sdk.AttrDuration, Default: d.SpeechPad.String(), Min: "0s",
			Description: "audio kept before and after the speech, at most vad_min_silence"},
	}
}

// config is a stream's parsed attributes.
type config struct {
	engine          string
	partialInterval time.Duration
	vad             vad.Config
}

// parseConfig reads the plugin's own attributes (the schema filled in
// their defaults) and checks what the schema cannot: the VAD's rules
// between its settings.
func parseConfig(a sdk.Attrs) (config, error) {
	c := config{engine: a.String("engine"), partialInterval: a.Duration("partial_interval"), vad: vad.DefaultConfig()}
	// Decode from the speech's onset, before the VAD is sure of it: the
	// backlog of MinSpeech + padding is then decoded by the time the
	// utterance is announced, and its first partial goes out at once.
	c.vad.Tentative = true
	c.vad.MaxSpeech = a.Duration("max_utterance")
	c.vad.MinSpeech = a.Duration("vad_min_speech")
	c.vad.MinSilence = a.Duration("vad_min_silence")
	c.vad.SpeechPad = a.Duration("vad_speech_pad")
	c.vad.Threshold = float32(a.Float("vad_threshold"))
	c.vad.NegThreshold = max(c.vad.Threshold-0.15, 0.01)
	if a.Has("vad_neg_threshold") {
		c.vad.NegThreshold = float32(a.Float("vad_neg_threshold"))
	}
	if c.engine != "sphinx" && c.engine != "whisper" {
		return c, fmt.Errorf("engine %q: want \"sphinx\" or \"whisper\"", c.engine)
	}
	if c.partialInterval <= 0 {
		return c, fmt.Errorf("partial_interval %v: must be positive", c.partialInterval)
	}
	if err := c.vad.Validate(); err != nil {
		return c, fmt.Errorf("vad: %v", err)
	}
	// The padded end must be decided by the time the silence ends it.
	if c.vad.SpeechPad > c.vad.MinSilence {
		return c, fmt.Errorf("vad_speech_pad %v must not exceed vad_min_silence %v", c.vad.SpeechPad, c.vad.MinSilence)
	}
	return c, nil
}

// newRecognizer is the engine chosen by name; a variable so tests can
// substitute one.
var newRecognizer = func(name string, attrs map[string]string) (engine.Recognizer, error) {
	if name == "whisper" {
		return whisper.New(attrs)
	}
	return sphinx.NewEngine(attrs)
}

// newProber opens the VAD model; a variable for the same reason.
var newProber = func(attrs map[string]string) (vad.Prober, func() error, error) {
	m, err := vad.Open(attrs)
	if err != nil {
		return nil, nil, err
	}
	return m, m.Close, nil
}

func (plugin) OpenStream(info sdk.StreamInfo) (sdk.Stream, error) {
	cfg, err := parseConfig(info.Attrs)
	if err != nil {
		return nil, sdk.Errorf("bad_input", "%v", err)
	}
	prober, closeProber, err := newProber(info.Attributes)
	if err != nil {
		return nil, sdk.Errorf("model_error", "%v", err)
	}
	rec, err := newRecognizer(cfg.engine, info.Attributes)
	if err != nil {
		closeProber()
		return nil, sdk.Errorf("model_error", "engine %s: %v", cfg.engine, err)
	}
	return newStream(cfg, prober, closeProber, rec, info.Publisher), nil
}

// mediaTime is sample's place on the stream's time line.
func mediaTime(sample int64) time.Duration {
	return time.Duration(sample) * time.Second / sampleRate
}
