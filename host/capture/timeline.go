package capture

import (
	"math"
	"sync"
	"time"
)

// dims is a raw video size with its pixel aspect ratio.
type dims struct{ W, H, ParN, ParD int }

// outputSize returns the analysis frame size for a source of size d: square
// pixels, at most maxWidth wide (0 = no limit), never wider than the source's
// display width, both sides even, display aspect kept.
func outputSize(d dims, maxWidth int) (int, int) {
	parN, parD := d.ParN, d.ParD
	if parN <= 0 || parD <= 0 {
		parN, parD = 1, 1
	}
	dispW := float64(d.W) * float64(parN) / float64(parD)
	if dispW < 2 || d.H < 2 {
		return evenAtLeast2(int(math.Round(dispW))), evenAtLeast2(d.H)
	}
	w := int(math.Round(dispW))
	if maxWidth > 0 && w > maxWidth {
		w = maxWidth
	}
	w = evenAtLeast2(w &^ 1)
	h := int(math.Round(float64(d.H)*float64(w)/dispW/2)) * 2
	return w, evenAtLeast2(h)
}

func evenAtLeast2(v int) int {
	v &^= 1
	if v < 2 {
		return 2
	}
	return v
}

// sampleNanos is the length of one audio sample: 1e9/AudioRate ns, exact.
const sampleNanos = int64(time.Second) / AudioRate

// sampleTime is the media time of sample i on the stream's sample line.
func sampleTime(i int64) time.Duration { return time.Duration(i * sampleNanos) }

// sampleIndex is the sample nearest to media (or running) time d.
func sampleIndex(d time.Duration) int64 {
	q, r := int64(d)/sampleNanos, int64(d)%sampleNanos
	switch {
	case r >= sampleNanos/2:
		q++
	case r < -sampleNanos/2:
		q--
	}
	return q
}

// sampleCeil is the first sample at or after media time d >= 0.
func sampleCeil(d time.Duration) int64 { return (int64(d) + sampleNanos - 1) / sampleNanos }

// audioMode says how the audio branch takes part in progress.
type audioMode int

const (
	// audioOff: no audio is delivered (the handler wants none, or the source
	// has none); progress follows video alone.
	audioOff audioMode = iota
	// audioWait: a file whose audio pad may still appear; progress waits.
	audioWait
	// audioOn: audio is delivered; progress is the smaller of both branches.
	audioOn
)

// timeline maps GStreamer running time onto the stream's media time line
// (Contract 0): media = running + offset, where offset grows by the played
// length of each pass of a looping file so media time never goes back.
// With audio, seams fall on whole samples so the offset is a whole number of
// samples too (offset×AudioRate is the first sample of the next pass).
type timeline struct {
	period time.Duration // one analysis frame period

	mu         sync.Mutex
	offset     time.Duration // added to running time in the current pass
	passEnd    time.Duration // running time reached in the current pass (last frame end)
	haveFrame  bool
	lastPTS    time.Duration // media time of the last accepted frame
	floor      time.Duration // no frame before it (a live source's reconnect hole)
	progress   time.Duration // last progress reported
	loops      int
	frames     uint64
	discarded  uint64
	lastWidth  int
	lastHeight int

	// Progress components; reported progress is their minimum.
	videoAt   time.Duration // no frame before this will follow (in this pass)
	videoDone bool          // the video branch reached EOS in this pass
	// videoOff: the current pipeline has no video (an audio-only source);
	// progress follows audio alone.
	videoOff  bool
	audio     audioMode
	audioAt   int64 // end of the samples delivered or declared gaps
	audioDone bool  // the audio branch reached EOS in this pass

	audioSamples, audioChunks, audioGaps, audioGapSamples, audioDiscarded uint64
	stalls, reconnects                                                    uint64
}

// frame maps a frame's running time to media time. ok is false when the frame
// would not move the time line forward; the frame must then be discarded.
func (t *timeline) frame(running time.Duration, w, h int) (pts time.Duration, seq uint64, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	pts = t.offset + running
	if t.haveFrame && pts <= t.lastPTS || pts < t.progress || pts < t.floor {
		t.discarded++
		return pts, 0, false
	}
	seq = t.frames
	t.frames++
	t.haveFrame = true
	t.lastPTS = pts
	t.lastWidth, t.lastHeight = w, h
	if end := running + t.period; end > t.passEnd {
		t.passEnd = end
	}
	t.videoAt = pts + t.period
	return pts, seq, true
}

// setVideoOff says whether the current pipeline lacks video: progress then
// follows audio alone.
func (t *timeline) setVideoOff(off bool) {
	t.mu.Lock()
	t.videoOff = off
	t.mu.Unlock()
}

// setAudio sets how audio takes part in progress.
func (t *timeline) setAudio(m audioMode) {
	t.mu.Lock()
	t.audio = m
	t.mu.Unlock()
}

func (t *timeline) audioMode() audioMode {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.audio
}

// audioChunk records a chunk of n samples delivered from sample first.
func (t *timeline) audioChunk(first int64, n int) {
	t.mu.Lock()
	t.audioAt = first + int64(n)
	t.audioSamples += uint64(n)
	t.audioChunks++
	t.mu.Unlock()
}

// audioGap records a gap of n samples from sample first.
func (t *timeline) audioGap(first, n int64) {
	t.mu.Lock()
	t.audioAt = first + n
	t.audioGaps++
	t.audioGapSamples += uint64(n)
	t.mu.Unlock()
}

// audioDiscard counts n decoded samples that were not delivered.
func (t *timeline) audioDiscard(n int) {
	t.mu.Lock()
	t.audioDiscarded += uint64(n)
	t.mu.Unlock()
}

// branchEOS records that the video or audio branch reached EOS in this pass:
// it no longer holds progress back.
func (t *timeline) branchEOS(audio bool) {
	t.mu.Lock()
	if audio {
		t.audioDone = true
	} else {
		t.videoDone = true
	}
	t.mu.Unlock()
}

// next returns the progress both branches allow (the smaller of video's and
// audio's) when it is ahead of the progress reported; the caller reports it
// with advance. A branch that reached EOS, or video the source does not
// have, no longer holds progress back (the caller declares the audio it
// passes a gap first: see audioBehind). Once both branches reached EOS it
// returns nothing: the EOS handling reports the media time reached.
func (t *timeline) next() (time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	const open = time.Duration(math.MaxInt64)
	p := t.videoAt
	if t.videoDone || t.videoOff {
		p = open
	}
	switch t.audio {
	case audioWait:
		return 0, false
	case audioOn:
		if !t.audioDone {
			p = min(p, sampleTime(t.audioAt))
		}
	}
	if p == open || p <= t.progress {
		return 0, false
	}
	return p, true
}

// audioBehind reports whether progress p would pass audio that ended: its
// samples up to p must be declared a gap before p is reported.
func (t *timeline) audioBehind(p time.Duration) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.audio == audioOn && t.audioDone && sampleTime(t.audioAt) < p
}

// passOffset is the media time at which the current pass started.
func (t *timeline) passOffset() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.offset
}

// discard counts a frame dropped before it reached the time line.
func (t *timeline) discard() {
	t.mu.Lock()
	t.discarded++
	t.mu.Unlock()
}

// advance records that the time line has reached p; it reports whether that
// moved progress forward (and so should be reported).
func (t *timeline) advance(p time.Duration) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p <= t.progress {
		return false
	}
	t.progress = p
	return true
}

// end closes the current pass at EOS. played is the pass length the pipeline
// reports (its duration; 0 if unknown); the pass is at least as long as its
// last frame's end and, with audio, its last sample's end, and then ends on a
// whole sample. It returns the media time the time line has reached.
func (t *timeline) end(played time.Duration) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if played < t.passEnd {
		played = t.passEnd
	}
	reached := max(t.offset+played, t.progress)
	if t.audio == audioOn {
		reached = max(reached, sampleTime(t.audioAt))
		reached = sampleTime(sampleCeil(reached))
	}
	return reached
}

// seam starts a new pass whose running time restarts at 0 from media time
// reached (as returned by end).
func (t *timeline) seam(reached time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.offset = reached
	t.passEnd = 0
	t.loops++
	t.videoAt = reached
	t.videoDone, t.audioDone = false, false
}

// reached is how far the time line got: no later item may start before it
// (the end of the last frame or audio delivered, or the progress reported).
func (t *timeline) reached() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := max(t.progress, sampleTime(t.audioAt))
	if t.haveFrame {
		r = max(r, t.videoAt)
	}
	return r
}

// restart starts a live source's new connection attempt whose running time
// maps to media time offset+running; at is the media time of its first
// buffer: no frame before it will follow.
func (t *timeline) restart(offset, at time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.offset = offset
	t.passEnd = 0
	t.floor = at
	t.videoAt = max(t.videoAt, at)
	t.videoDone, t.audioDone = false, false
}

func (t *timeline) countStall() {
	t.mu.Lock()
	t.stalls++
	t.mu.Unlock()
}

func (t *timeline) countReconnect() {
	t.mu.Lock()
	t.reconnects++
	t.mu.Unlock()
}

func (t *timeline) stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return Stats{
		Frames:    t.frames,
		Discarded: t.discarded,
		Loops:     t.loops,
		LastPTS:   t.lastPTS,
		Progress:  t.progress,
		Width:     t.lastWidth,
		Height:    t.lastHeight,

		AudioSamples:    t.audioSamples,
		AudioChunks:     t.audioChunks,
		AudioGaps:       t.audioGaps,
		AudioGapSamples: t.audioGapSamples,
		AudioDiscarded:  t.audioDiscarded,
		Stalls:          t.stalls,
		Reconnects:      t.reconnects,
	}
}
