// Package engine is the speech recogniser interface of the transcription
// plugin: the plugin cuts the stream into utterances with a voice activity
// detector and drives one Recognizer per stream through them.
package engine

import "time"

// SampleRate is the rate of the samples given to a Recognizer.
const SampleRate = 16000

// Word is a recognised word; times are relative to the utterance's start.
type Word struct {
	Text       string
	Start, End time.Duration
	Confidence float64 // 0..1
}

// Hypothesis is a recogniser's current or final reading of an utterance.
type Hypothesis struct {
	Text  string
	Words []Word
}

// Recognizer decodes one utterance at a time. It is used from one goroutine.
type Recognizer interface {
	// Begin starts a new utterance.
	Begin() error
	// Accept appends samples (16 kHz mono) to the current utterance.
	Accept(pcm []int16) error
	// Partial returns the hypothesis so far; it may cost a decode, so the
	// plugin calls it at its partial interval, not per chunk.
	Partial() (Hypothesis, error)
	// End finishes the utterance and returns the final hypothesis.
	End() (Hypothesis, error)
	Close() error
}
