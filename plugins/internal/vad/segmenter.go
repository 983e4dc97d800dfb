package vad

import (
	"fmt"
	"time"
)

// Config holds the segmentation rules. Durations are rounded to whole
// windows (32 ms).
type Config struct {
	// Threshold starts speech: a window at or above it is speech.
	Threshold float32
	// NegThreshold ends it: once speaking, only windows below it count as
	// silence, so a probability hovering between the two keeps the
	// utterance open (hysteresis).
	NegThreshold float32
	// MinSpeech: shorter bursts (clicks, coughs) are dropped, and an
	// utterance is announced only once it has lasted this long.
	MinSpeech time.Duration
	// MinSilence: the silence that ends an utterance; shorter pauses
	// (between words, before a plosive) stay inside it.
	MinSilence time.Duration
	// SpeechPad is added before and after the speech, so the recogniser
	// sees soft onsets and word tails the model scored low. It is clamped
	// so utterances never overlap.
	SpeechPad time.Duration
	// MaxSpeech cuts longer speech into utterances of this length (the
	// first ends Truncated); 0 means no limit.
	MaxSpeech time.Duration
	// Tentative also reports Onset, when speech begins, and Drop, when it
	// turns out too short: a recogniser can start on the audio before the
	// utterance is announced, so its first words are ready sooner.
	Tentative bool
}

// DefaultConfig suits cutting utterances for a recogniser: Silero's
// reference thresholds, a longer minimum silence than its 100 ms so
// phrases are not cut between words, and padding for the recogniser.
func DefaultConfig() Config {
	return Config{Threshold: 0.5, NegThreshold: 0.35, MinSpeech: 250 * time.Millisecond,
		MinSilence: 400 * time.Millisecond, SpeechPad: 200 * time.Millisecond, MaxSpeech: 15 * time.Second}
}

// Validate says what is wrong with c, if anything.
func (c Config) Validate() error {
	switch {
	case c.Threshold <= 0 || c.Threshold >= 1:
		return fmt.Errorf("threshold %v: want 0 < threshold < 1", c.Threshold)
	case c.NegThreshold <= 0 || c.NegThreshold > c.Threshold:
		return fmt.Errorf("negative threshold %v: want 0 < it <= threshold (%v)", c.NegThreshold, c.Threshold)
	case c.MinSpeech < 0 || c.MinSilence < Window || c.SpeechPad < 0 || c.MaxSpeech < 0:
		return fmt.Errorf("durations: min speech %v, min silence %v (at least %v), pad %v, max speech %v must not be negative",
			c.MinSpeech, c.MinSilence, Window, c.SpeechPad, c.MaxSpeech)
	case c.MaxSpeech > 0 && c.MaxSpeech < c.MinSpeech+2*Window:
		return fmt.Errorf("max speech %v must exceed min speech %v", c.MaxSpeech, c.MinSpeech)
	}
	return nil
}

// Kind tells an utterance's start from its end.
type Kind int

// Event kinds.
const (
	Start Kind = iota + 1
	End
	// Onset (with Config.Tentative): speech began; Start follows at the
	// same Sample once it has lasted MinSpeech, or Drop if it does not.
	Onset
	// Drop (with Config.Tentative): the speech since Onset was too short.
	Drop
)

func (k Kind) String() string {
	switch k {
	case Start:
		return "start"
	case End:
		return "end"
	case Onset:
		return "onset"
	case Drop:
		return "drop"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Event is an utterance boundary on the stream's sample line.
type Event struct {
	Kind Kind
	// Sample is the boundary with padding: an utterance is
	// [Start.Sample, End.Sample).
	Sample int64
	// Speech is the boundary without padding: the first sample of the
	// first speech window (Start) or the first of the closing silence (End).
	Speech int64
	// Truncated marks an End forced by MaxSpeech (the next utterance
	// starts at the same sample).
	Truncated bool
}

// Segmenter turns per-window probabilities into utterances as they come:
// an utterance's Start is reported once it has lasted MinSpeech, its End
// once MinSilence of silence has followed it.
type Segmenter struct {
	cfg                        Config
	minSpeech, minSilence, pad int64 // in samples
	maxSpeech                  int64
	pos                        int64 // sample after the last window
	floor                      int64 // no utterance starts before this
	inSpeech, announced        bool
	speechStart, uttStart      int64
	silenceStart               int64 // -1 while speaking
	events                     []Event
}

// NewSegmenter returns a Segmenter whose windows start at sample first.
func NewSegmenter(cfg Config, first int64) *Segmenter {
	samples := func(d time.Duration) int64 { return int64(d * SampleRate / time.Second) }
	return &Segmenter{cfg: cfg, minSpeech: samples(cfg.MinSpeech), minSilence: samples(cfg.MinSilence),
		pad: samples(cfg.SpeechPad), maxSpeech: samples(cfg.MaxSpeech), pos: first, floor: first, silenceStart: -1}
}

// Config returns the rules in use.
func (s *Segmenter) Config() Config { return s.cfg }

// Push takes the probability of the window that starts where the last one
// ended and returns the boundaries it decides (valid until the next call).
func (s *Segmenter) Push(prob float32) []Event {
	s.events = s.events[:0]
	start := s.pos
	s.pos += WindowSamples
	switch {
	case !s.inSpeech:
		if prob >= s.cfg.Threshold {
			s.inSpeech, s.announced = true, false
			s.speechStart, s.silenceStart = start, -1
			if s.cfg.Tentative {
				s.events = append(s.events, Event{Kind: Onset, Sample: max(s.floor, start-s.pad), Speech: start})
			}
		}
	case prob >= s.cfg.Threshold:
		s.silenceStart = -1
	case prob < s.cfg.NegThreshold && s.silenceStart < 0:
		s.silenceStart = start
	}
	if !s.inSpeech {
		return s.events
	}
	if s.silenceStart >= 0 && s.pos-s.silenceStart >= s.minSilence {
		s.finish(s.silenceStart, s.pos, false)
		return s.events
	}
	speechEnd := s.pos
	if s.silenceStart >= 0 {
		speechEnd = s.silenceStart
	}
	if !s.announced && speechEnd-s.speechStart >= s.minSpeech {
		s.announce()
	}
	if s.announced && s.maxSpeech > 0 && s.pos-s.uttStart >= s.maxSpeech {
		if s.silenceStart >= 0 {
			// In a pause too short to end it: cut at the pause.
			s.finish(s.silenceStart, s.pos, true)
			return s.events
		}
		// Cut here and go on speaking: the rest is a new utterance.
		s.events = append(s.events, Event{Kind: End, Sample: s.pos, Speech: s.pos, Truncated: true})
		s.floor, s.uttStart, s.speechStart = s.pos, s.pos, s.pos
		s.events = append(s.events, Event{Kind: Start, Sample: s.pos, Speech: s.pos})
	}
	return s.events
}

func (s *Segmenter) announce() {
	s.announced = true
	s.uttStart = max(s.floor, s.speechStart-s.pad)
	s.events = append(s.events, Event{Kind: Start, Sample: s.uttStart, Speech: s.speechStart})
}

// finish closes the speech at speechEnd; limit bounds the padded end.
func (s *Segmenter) finish(speechEnd, limit int64, truncated bool) {
	if !s.announced && speechEnd-s.speechStart >= s.minSpeech {
		s.announce()
	}
	if s.announced {
		end := min(speechEnd+s.pad, limit)
		s.events = append(s.events, Event{Kind: End, Sample: end, Speech: speechEnd, Truncated: truncated})
		s.floor = end
	} else if s.cfg.Tentative {
		s.events = append(s.events, Event{Kind: Drop, Sample: speechEnd, Speech: speechEnd})
	}
	s.inSpeech, s.announced, s.silenceStart = false, false, -1
}

// Flush ends the stream (or the audio before a gap) at sample end, which
// may lie inside the last window: open speech becomes an utterance if it
// lasted MinSpeech.
func (s *Segmenter) Flush(end int64) []Event {
	s.events = s.events[:0]
	if s.inSpeech {
		speechEnd := min(s.pos, end)
		if s.silenceStart >= 0 {
			speechEnd = min(s.silenceStart, end)
		}
		s.finish(speechEnd, end, false)
	}
	return s.events
}

// Reset starts the windows again at sample first (after a gap). Call
// Flush first.
func (s *Segmenter) Reset(first int64) {
	*s = Segmenter{cfg: s.cfg, minSpeech: s.minSpeech, minSilence: s.minSilence, pad: s.pad, maxSpeech: s.maxSpeech,
		pos: first, floor: first, silenceStart: -1, events: s.events}
}

// Pending returns the earliest sample at which an utterance not yet ended
// may start: the open utterance's start, else the start a speech burst
// still too short to announce (or one beginning in the next window) would
// get. Results before it are final.
func (s *Segmenter) Pending() int64 {
	switch {
	case s.announced:
		return s.uttStart
	case s.inSpeech:
		return max(s.floor, s.speechStart-s.pad)
	default:
		return max(s.floor, s.pos-s.pad)
	}
}

// Position is the sample after the last window pushed.
func (s *Segmenter) Position() int64 { return s.pos }

// InUtterance tells whether an announced utterance is open.
func (s *Segmenter) InUtterance() bool { return s.announced }
