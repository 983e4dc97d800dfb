// Package transcript is the payload of the transcript topics, shared by the
// plugins that produce them (transcription) and those that consume them
// (semantic, third-party plugins).
//
// A message on TopicPartial or TopicFinal carries the utterance's text in
// sdk.Message.Text, its media-time start in PTS and its length in Duration,
// and a Payload: the JSON of Payload below. Partials replace each other
// while someone speaks (the host keeps only the latest waiting one); one
// final ends the utterance.
package transcript

import (
	"encoding/json"
	"fmt"
	"time"
)

// Topics.
const (
	TopicPartial = "transcript.partial@1"
	TopicFinal   = "transcript.final@1"
)

// Word is one recognised word with its media-time bounds.
type Word struct {
	Text  string        `json:"w"`
	Start time.Duration `json:"start_ns"`
	End   time.Duration `json:"end_ns"`
	// Confidence is the engine's posterior for the word, 0..1.
	Confidence float64 `json:"conf"`
}

// Payload is the JSON body of a transcript message.
type Payload struct {
	// Utterance numbers the stream's utterances from 1; a partial and the
	// final of the same utterance share it.
	Utterance int64  `json:"utterance"`
	Final     bool   `json:"final"`
	Engine    string `json:"engine"`
	Text      string `json:"text"`
	Words     []Word `json:"words"`
	// Confidence is the utterance's confidence, 0..1 (mean of the words';
	// 0 for an empty hypothesis).
	Confidence float64 `json:"confidence"`
	// Start and End bound the utterance on the stream's media time line
	// (the voice activity, not the words).
	Start time.Duration `json:"start_ns"`
	End   time.Duration `json:"end_ns"`
	// Flags name conditions a consumer may care about: "no_words" (voice
	// but nothing recognised), "truncated" (the utterance hit the maximum
	// length and was cut), "clipped" (the audio clipped).
	Flags []string `json:"flags,omitempty"`
}

// Marshal encodes p.
func (p *Payload) Marshal() []byte {
	b, err := json.Marshal(p)
	if err != nil { // only plain fields: cannot fail
		panic(err)
	}
	return b
}

// Parse decodes a payload, with an error naming the problem.
func Parse(b []byte) (Payload, error) {
	var p Payload
	if len(b) == 0 {
		return p, fmt.Errorf("transcript payload: empty")
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("transcript payload: %w", err)
	}
	return p, nil
}
