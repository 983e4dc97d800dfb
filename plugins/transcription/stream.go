package main

import (
	"fmt"
	"time"

	"github.com/lsie-mlf/lsie/plugins/internal/memtrim"
	"github.com/lsie-mlf/lsie/plugins/internal/vad"
	"github.com/lsie-mlf/lsie/plugins/transcription/engine"
	"github.com/lsie-mlf/lsie/sdk"
	"github.com/lsie-mlf/lsie/sdk/transcript"
)

// stream is one stream's detector, recogniser and open utterance.
type stream struct {
	cfg         config
	det         *vad.Detector // nil until the first chunk fixes the sample line
	prober      vad.Prober
	closeProber func() error
	rec         engine.Recognizer
	pub         sdk.Publisher

	next int64 // the sample after the last one received

	// hist holds the recent samples from histStart: those an utterance not
	// yet announced may start with (the VAD announces it MinSpeech after
	// its padded start) and those not yet fed to the recogniser.
	hist      []int16
	histStart int64

	n   int64 // utterances so far
	utt *utterance
}

// utterance is the one being spoken.
type utterance struct {
	start, onset int64 // padded start; first speech sample
	fed          int64 // the sample after the last one given to the recogniser
	clipped      int64 // samples at full scale among those fed
	// lastCheck is where the partial hypothesis was last read; published
	// is the text last published as a partial.
	lastCheck int64
	published string
	// tentative: decoding began at the VAD's onset and the utterance is
	// not announced yet; nothing is published for it until it is.
	tentative bool
}

func newStream(cfg config, p vad.Prober, closeProber func() error, rec engine.Recognizer, pub sdk.Publisher) *stream {
	return &stream{cfg: cfg, prober: p, closeProber: closeProber, rec: rec, pub: pub}
}

func (s *stream) ProcessAudio(a *sdk.Audio) ([]sdk.Item, error) {
	if a.SampleRate != 0 && a.SampleRate != sampleRate {
		return nil, sdk.Errorf("bad_input", "audio at %d Hz; transcription needs %d Hz", a.SampleRate, sampleRate)
	}
	if a.End {
		if s.det != nil {
			return nil, s.flush()
		}
		return nil, nil
	}
	if s.det == nil {
		s.det = vad.NewDetector(s.prober, s.cfg.vad, a.FirstSample)
		s.next, s.histStart = a.FirstSample, a.FirstSample
	}
	if a.GapSamples > 0 || a.FirstSample > s.next {
		// Missing audio ends the utterance: the recogniser cannot bridge
		// it, and the words after it may belong to another context.
		if err := s.flush(); err != nil {
			return nil, err
		}
		gapEnd := a.FirstSample + a.GapSamples
		s.det.Reset(gapEnd)
		s.next, s.hist, s.histStart = gapEnd, s.hist[:0], gapEnd
		if a.GapSamples > 0 {
			return nil, nil
		}
	}
	pcm := a.Samples
	if a.FirstSample < s.next { // a resent overlap: keep what we have
		pcm = pcm[min(int(s.next-a.FirstSample), len(pcm)):]
	}
	if len(pcm) == 0 {
		return nil, nil
	}
	s.hist = append(s.hist, pcm...)
	s.next += int64(len(pcm))
	events, vadErr := s.det.Push(pcm)
	if err := s.handle(events); err != nil {
		return nil, err
	}
	if vadErr != nil {
		return nil, sdk.Errorf("model_error", "%v", vadErr)
	}
	if s.utt != nil {
		if err := s.feed(s.next); err != nil {
			return nil, err
		}
		if err := s.partial(); err != nil {
			return nil, err
		}
	}
	s.trim()
	return nil, nil
}

// AudioProgress holds the segments at the start of the open utterance, or
// of one the VAD may still announce, so every final lands in its segment.
func (s *stream) AudioProgress() time.Duration {
	switch {
	case s.utt != nil:
		return mediaTime(s.utt.start)
	case s.det != nil:
		return mediaTime(s.det.Pending())
	}
	return 0
}

// flush ends the audio (stream end or gap): open speech becomes a final.
func (s *stream) flush() error {
	events, vadErr := s.det.Flush()
	if err := s.handle(events); err != nil {
		return err
	}
	if err := s.drop(); err != nil { // the VAD drops it itself; be sure
		return err
	}
	if s.utt != nil { // the VAD always ends what it announced; be sure
		if err := s.end(s.next, false); err != nil {
			return err
		}
	}
	if vadErr != nil {
		return sdk.Errorf("model_error", "%v", vadErr)
	}
	return nil
}

func (s *stream) handle(events []vad.Event) error {
	for _, e := range events {
		switch e.Kind {
		case vad.Onset:
			if s.utt != nil { // cannot happen: onsets come between utterances
				continue
			}
			if err := s.begin(e); err != nil {
				return err
			}
			s.utt.tentative = true
		case vad.Drop:
			if err := s.drop(); err != nil {
				return err
			}
		case vad.Start:
			if s.utt != nil && s.utt.tentative && s.utt.start == e.Sample {
				s.utt.tentative = false
				s.n++
				continue
			}
			if err := s.drop(); err != nil {
				return err
			}
			if s.utt != nil {
				if err := s.end(e.Sample, false); err != nil {
					return err
				}
			}
			if err := s.begin(e); err != nil {
				return err
			}
			s.n++
		case vad.End:
			if s.utt != nil && !s.utt.tentative {
				if err := s.end(e.Sample, e.Truncated); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// drop abandons a tentative utterance's decoding, if one is open.
func (s *stream) drop() error {
	if s.utt == nil || !s.utt.tentative {
		return nil
	}
	s.utt = nil
	if _, err := s.rec.End(); err != nil {
		return sdk.Errorf("engine_error", "%v", err)
	}
	return nil
}

// begin starts decoding at the event's (padded) start.
func (s *stream) begin(e vad.Event) error {
	if err := s.rec.Begin(); err != nil {
		return sdk.Errorf("engine_error", "%v", err)
	}
	start := max(e.Sample, s.histStart) // hist always reaches back this far; be safe
	s.utt = &utterance{start: start, onset: e.Speech, fed: start, lastCheck: -1}
	return nil
}

// feed gives the recogniser the utterance's samples up to (not including)
// sample to.
func (s *stream) feed(to int64) error {
	u := s.utt
	to = min(to, s.next)
	if to <= u.fed {
		return nil
	}
	pcm := s.hist[u.fed-s.histStart : to-s.histStart]
	for _, v := range pcm {
		if v == 32767 || v <= -32767 {
			u.clipped++
		}
	}
	u.fed = to
	if err := s.rec.Accept(pcm); err != nil {
		return sdk.Errorf("engine_error", "%v", err)
	}
	return nil
}

// partial publishes the hypothesis so far when it changed: read on every
// chunk until the utterance's first words (their latency is what a live
// caption shows), then at most every partial interval.
func (s *stream) partial() error {
	u := s.utt
	if u.tentative {
		return nil
	}
	interval := int64(s.cfg.partialInterval * sampleRate / time.Second)
	if u.published != "" && u.fed-u.lastCheck < interval {
		return nil
	}
	u.lastCheck = u.fed
	h, err := s.rec.Partial()
	if err != nil {
		return sdk.Errorf("engine_error", "%v", err)
	}
	if h.Text == "" || h.Text == u.published {
		return nil
	}
	u.published = h.Text
	p := s.payload(h, u.start, u.fed, false, nil)
	return s.pub.Publish(sdk.Message{Topic: transcript.TopicPartial, PTS: mediaTime(u.start), Duration: mediaTime(u.fed) - mediaTime(u.start),
		Text: h.Text, Fields: sdk.Fields{"utterance": float64(s.n), "words": float64(len(p.Words)), "onset_s": mediaTime(u.onset).Seconds()},
		Payload: p.Marshal()})
}

// end finishes the open utterance at sample end and publishes its final.
func (s *stream) end(end int64, truncated bool) error {
	u := s.utt
	err := s.feed(end)
	s.utt = nil
	if err != nil {
		return err
	}
	end = max(end, u.start)
	h, err := s.rec.End()
	if err != nil {
		return sdk.Errorf("engine_error", "%v", err)
	}
	var flags []string
	if truncated {
		flags = append(flags, "truncated")
	}
	p := s.payload(h, u.start, end, true, flags)
	if p.Text == "" {
		p.Flags = append(p.Flags, "no_words")
	}
	fedN := u.fed - u.start
	if fedN > 0 && u.clipped*1000 > fedN {
		p.Flags = append(p.Flags, "clipped")
	}
	// The host stores the published final as this plugin's item in its
	// segment, so its fields are the utterance's numbers there (and
	// aggregate per segment); no separate item is returned.
	fields := sdk.Fields{
		"utterance":      float64(s.n),
		"words":          float64(len(p.Words)),
		"confidence":     p.Confidence,
		"speech_seconds": (p.End - p.Start).Seconds(),
		"onset_s":        mediaTime(u.onset).Seconds(),
		"truncated":      flag(truncated),
		"no_words":       flag(p.Text == ""),
		"clipped":        flag(fedN > 0 && u.clipped*1000 > fedN),
	}
	if err := s.pub.Publish(sdk.Message{Topic: transcript.TopicFinal, PTS: p.Start, Duration: p.End - p.Start,
		Text: p.Text, Fields: fields, Payload: p.Marshal()}); err != nil {
		return fmt.Errorf("publish final: %w", err)
	}
	return nil
}

func flag(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// payload converts an engine hypothesis to media time, clamping word times
// into the utterance: an engine may place a word's edge in the padding
// beyond the audio it was given.
func (s *stream) payload(h engine.Hypothesis, start, end int64, final bool, flags []string) *transcript.Payload {
	t0, t1 := mediaTime(start), mediaTime(end)
	p := &transcript.Payload{Utterance: s.n, Final: final, Engine: s.cfg.engine, Start: t0, End: t1, Flags: flags, Words: []transcript.Word{}}
	var sum float64
	texts := make([]byte, 0, len(h.Text))
	for _, w := range h.Words {
		if w.Text == "" {
			continue
		}
		ws := min(max(t0+w.Start, t0), t1)
		we := min(max(t0+w.End, ws), t1)
		p.Words = append(p.Words, transcript.Word{Text: w.Text, Start: ws, End: we, Confidence: w.Confidence})
		sum += w.Confidence
		if len(texts) > 0 {
			texts = append(texts, ' ')
		}
		texts = append(texts, w.Text...)
	}
	p.Text = string(texts)
	if len(h.Words) == 0 { // an engine without word times
		p.Text = h.Text
	}
	if len(p.Words) > 0 {
		p.Confidence = sum / float64(len(p.Words))
	}
	return p
}

// trim drops the samples no utterance can need any more.
func (s *stream) trim() {
	keep := s.det.Pending()
	if s.utt != nil {
		keep = min(keep, s.utt.fed)
	}
	if drop := keep - s.histStart; drop > 0 {
		drop = min(drop, int64(len(s.hist)))
		n := copy(s.hist, s.hist[drop:])
		s.hist = s.hist[:n]
		s.histStart += drop
	}
}

func (s *stream) Close() error {
	err := s.rec.Close()
	if s.closeProber != nil {
		if e := s.closeProber(); err == nil {
			err = e
		}
	}
	// The decoder and the VAD session are ~100 MB of C memory per stream.
	memtrim.Trim()
	return err
}
