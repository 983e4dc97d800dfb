package sdk

import (
	"time"

	"github.com/lsie-mlf/lsie/sdk/topic"
)

// TopicAudioPCM16k is the audio topic: S16LE mono at 16 kHz, lossless.
const TopicAudioPCM16k = topic.AudioPCM16k

// CodeNoAudio is the error code a plugin that needs audio reports for a
// stream without an audio track. The SDK sends it on the plugin's behalf.
const CodeNoAudio = "no_audio"

// Audio is one chunk of a stream's continuous sample line (about 100 ms),
// or a gap in it.
type Audio struct {
	StreamID string
	Seq      uint64
	// FirstSample is the index of Samples[0] on the stream's sample line:
	// sample i sits at media time i/SampleRate seconds, the same time line
	// as video frames' PTS.
	FirstSample int64
	PTS         time.Duration
	SampleRate  int
	// Samples is valid only during ProcessAudio; nil for a gap.
	Samples []int16
	// GapSamples > 0 means samples [FirstSample, FirstSample+GapSamples)
	// will never come (source stall, drop, loop seam).
	GapSamples int64
	// End means the stream's audio is over: emit what is pending (a
	// Hopper's Flush). No samples come with it.
	End bool
}

// AudioProgress is implemented by an AudioStream whose results trail its
// input (windows that need later samples, utterances still open): it returns
// the media time before which every item has been produced. Without it, the
// SDK reports the end of the last chunk processed.
type AudioProgress interface {
	AudioProgress() time.Duration
}

// Item is one time-stamped result, e.g. the features of one 10 ms hop.
type Item struct {
	PTS      time.Duration
	Duration time.Duration
	Fields   Fields
	// Objects of the span, e.g. a speaker turn (Box zero); see Object.
	Objects []Object
}

// AudioStream is implemented by a Stream that consumes audio (its manifest
// lists TopicAudioPCM16k). Chunks arrive in order, one goroutine per stream.
type AudioStream interface {
	ProcessAudio(a *Audio) ([]Item, error)
}

// Hopper cuts a stream's chunks into fixed hops, each with an analysis
// window centred on it that may span chunk boundaries: the plugin sees one
// continuous sample stream. Samples before the stream's start or inside a
// gap read as zeros.
type Hopper struct {
	hop, window int
	rate        int
	buf         []float32 // samples from index base
	base        int64
	next        int64 // start index of the next hop to emit
	end         int64 // index after the last sample received
	started     bool
	win         []float32
}

// NewHopper returns a Hopper with hop and window lengths in samples.
func NewHopper(hop, window int) *Hopper {
	return &Hopper{hop: hop, window: max(window, hop), win: make([]float32, max(window, hop))}
}

// HopFunc receives a hop: its first sample index, its media time, and the
// window centred on it (valid only during the call; normalised to [-1, 1)).
type HopFunc func(start int64, pts time.Duration, window []float32)

// Push adds a chunk (or gap) and calls fn for every hop now complete.
func (h *Hopper) Push(a *Audio, fn HopFunc) {
	h.rate = a.SampleRate
	if h.rate == 0 {
		h.rate = 16000
	}
	if !h.started {
		h.started = true
		h.base, h.end = a.FirstSample, a.FirstSample
		h.next = a.FirstSample - a.FirstSample%int64(h.hop)
	}
	if a.GapSamples > 0 || a.FirstSample > h.end {
		// Finish the hops that started before the gap, then jump over it.
		h.Flush(fn)
		gapEnd := max(a.FirstSample+a.GapSamples, a.FirstSample)
		h.buf, h.base, h.end = h.buf[:0], gapEnd, gapEnd
		h.next = gapEnd - gapEnd%int64(h.hop)
		if a.GapSamples > 0 {
			return
		}
	}
	if a.FirstSample < h.end { // overlap: keep what we have, take the rest
		skip := int(min(h.end-a.FirstSample, int64(len(a.Samples))))
		a = &Audio{Samples: a.Samples[skip:], FirstSample: a.FirstSample + int64(skip), SampleRate: a.SampleRate}
	}
	for _, s := range a.Samples {
		h.buf = append(h.buf, float32(s)/32768)
	}
	h.end += int64(len(a.Samples))
	h.emit(fn, false)
}

// Next returns the media time of the next hop to be emitted: every hop
// before it has been.
func (h *Hopper) Next() time.Duration {
	rate := h.rate
	if rate == 0 {
		rate = 16000
	}
	return time.Duration(h.next) * time.Second / time.Duration(rate)
}

// Flush emits the hops that started before the last sample received,
// padding their windows with zeros (end of stream, or before a gap).
func (h *Hopper) Flush(fn HopFunc) { h.emit(fn, true) }

func (h *Hopper) emit(fn HopFunc, flush bool) {
	half := int64(h.window / 2)
	for {
		centre := h.next + int64(h.hop/2)
		winStart, winEnd := centre-half, centre-half+int64(h.window)
		if flush {
			if h.next >= h.end {
				break
			}
		} else if winEnd > h.end {
			break
		}
		for i := range h.win {
			idx := winStart + int64(i) - h.base
			if idx >= 0 && idx < int64(len(h.buf)) {
				h.win[i] = h.buf[idx]
			} else {
				h.win[i] = 0
			}
		}
		fn(h.next, time.Duration(h.next)*time.Second/time.Duration(h.rate), h.win)
		h.next += int64(h.hop)
	}
	// Drop samples no future window can need.
	keep := h.next + int64(h.hop/2) - half
	if drop := keep - h.base; drop > 0 && drop <= int64(len(h.buf)) {
		n := copy(h.buf, h.buf[drop:])
		h.buf = h.buf[:n]
		h.base = keep
	}
}
