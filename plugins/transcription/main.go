// Command transcription is an lsie plugin that turns a stream's speech into
// text as it is spoken. Silero VAD (plugins/internal/vad) cuts the audio
// into utterances; a recogniser (engine "sphinx", the default, or
// "whisper") decodes each one. While someone speaks it publishes
// transcript.partial@1 at most every partial_interval when the text
// changed; at the utterance's end one transcript.final@1 with the words,
// their media times and confidences, and returns an item with the
// utterance's figures so the segment holding it shows the result.
//
// Attributes: engine (sphinx | whisper), partial_interval (default 500ms),
// max_utterance (15s; longer speech is cut and flagged "truncated"),
// vad_threshold (0.5), vad_neg_threshold (threshold - 0.15),
// vad_min_speech (250ms), vad_min_silence (400ms), vad_speech_pad (200ms),
// vad_model, model_dir; sphinx: hmm, lm, dict, final_pass (live | batch)
// and the library settings in sphinx.Passthrough (lw, beam, wbeam, ...);
// whisper: see its package. Durations are Go durations ("500ms") or bare
// numbers of seconds (0.5).
//
// Besides the transcript payload, each message's fields carry utterance
// (its number), words, and onset_s: the media time of the first speech the
// VAD heard, i.e. the utterance start without padding (partial latency is
// measured from it). Sphinx partials carry word confidence 0: the library
// computes posteriors only at the utterance's end.
package main

import (
	"fmt"
	"strconv"
	"time"

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
	}
}

// config is a stream's parsed attributes.
type config struct {
	engine          string
	partialInterval time.Duration
	vad             vad.Config
}

func parseConfig(attrs map[string]string) (config, error) {
	c := config{engine: "sphinx", partialInterval: 500 * time.Millisecond, vad: vad.DefaultConfig()}
	// Decode from the speech's onset, before the VAD is sure of it: the
	// backlog of MinSpeech + padding is then decoded by the time the
	// utterance is announced, and its first partial goes out at once.
	c.vad.Tentative = true
	if e, ok := attrs["engine"]; ok {
		c.engine = e
	}
	if c.engine != "sphinx" && c.engine != "whisper" {
		return c, fmt.Errorf("engine %q: want \"sphinx\" or \"whisper\"", c.engine)
	}
	durs := []struct {
		key string
		dst *time.Duration
	}{
		{"partial_interval", &c.partialInterval}, {"max_utterance", &c.vad.MaxSpeech},
		{"vad_min_speech", &c.vad.MinSpeech}, {"vad_min_silence", &c.vad.MinSilence}, {"vad_speech_pad", &c.vad.SpeechPad},
	}
	for _, d := range durs {
		if v, ok := attrs[d.key]; ok {
			x, err := parseDuration(v)
			if err != nil {
				return c, fmt.Errorf("%s: %v", d.key, err)
			}
			*d.dst = x
		}
	}
	negSet := false
	for _, f := range []struct {
		key string
		dst *float32
	}{{"vad_threshold", &c.vad.Threshold}, {"vad_neg_threshold", &c.vad.NegThreshold}} {
		if v, ok := attrs[f.key]; ok {
			x, err := strconv.ParseFloat(v, 32)
			if err != nil {
				return c, fmt.Errorf("%s: %q is not a number", f.key, v)
			}
			*f.dst = float32(x)
			negSet = negSet || f.key == "vad_neg_threshold"
		}
	}
	if !negSet {
		c.vad.NegThreshold = max(c.vad.Threshold-0.15, 0.01)
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

// parseDuration takes "500ms" or a number of seconds, as HCL renders numbers.
func parseDuration(s string) (time.Duration, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is neither a duration (\"500ms\") nor a number of seconds", s)
	}
	return time.Duration(f * float64(time.Second)), nil
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
	cfg, err := parseConfig(info.Attributes)
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
