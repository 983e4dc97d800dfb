package capture

import (
	"errors"
	"time"

	"github.com/go-gst/go-gst/gst"
	"github.com/go-gst/go-gst/gst/app"
)

// audioTolerance is how far, in samples, a buffer's timestamp may disagree
// with the running sample count (1 ms) before it counts as a gap or an
// overlap. Within it the samples simply continue the count: timestamps
// jitter (Matroska stores milliseconds), the count is exact.
const audioTolerance = AudioRate / 1000

// audioOut receives what an audioLine produces.
type audioOut interface {
	// audioChunk delivers n samples (pcm, valid during the call) from first.
	audioChunk(first int64, pcm []byte, n int)
	// audioGap declares samples [first, first+n) missing.
	audioGap(first, n int64, reason string)
	// audioDiscard counts n decoded samples that are not delivered.
	audioDiscard(n int)
}

// audioLine places decoded S16LE mono 16 kHz buffers on the stream's sample
// line and cuts them into AudioChunkSamples chunks, whatever the buffer
// boundaries. The line is exact and continuous: it counts the samples it
// places, and a buffer's timestamp only matters when it disagrees with the
// count by more than audioTolerance:
//   - ahead: the pending samples are flushed as a short chunk, the missing
//     range is declared a gap, and the count continues at the buffer;
//   - behind (an overlap): the buffer's samples whose places are already
//     taken are dropped (counted as discarded) and the rest continue the
//     count, so the line never goes back.
//
// Chunks and gaps tile the line from sample 0 (a later first buffer gives a
// leading GapStart gap).
type audioLine struct {
	out audioOut
	// base is the sample index of running time 0 in the current pass (or
	// connection attempt of a live source).
	base int64
	// startGap names a gap before the pass's first buffer (GapStart on the
	// first pass, GapLoopSeam after a seam, GapReconnect after a reconnect);
	// "" once a buffer was placed.
	startGap string
	// first is the index of pend's first sample: everything before it was
	// delivered or declared a gap.
	first int64
	n     int // samples pending in pend
	pend  [2 * AudioChunkSamples]byte
}

func newAudioLine(out audioOut) audioLine { return audioLine{out: out, startGap: GapStart} }

// next is the index the next placed sample takes.
func (l *audioLine) next() int64 { return l.first + int64(l.n) }

// end is the end of what was delivered or declared a gap: no chunk or gap
// before it will follow.
func (l *audioLine) end() int64 { return l.first }

// push places a buffer whose first sample is at running time running in the
// current pass. discont is the buffer's DISCONT flag (it names a gap's cause).
func (l *audioLine) push(running time.Duration, pcm []byte, discont bool) {
	pcm = pcm[:len(pcm)&^1]
	at := l.base + sampleIndex(running)
	switch d := at - l.next(); {
	case d > audioTolerance:
		reason := GapDropped
		switch {
		case l.startGap != "":
			reason = l.startGap
		case discont:
			reason = GapDiscont
		}
		l.fill(at, reason)
	case d < -audioTolerance:
		trim := min(-d, int64(len(pcm)/2))
		pcm = pcm[2*trim:]
		l.out.audioDiscard(int(trim))
	}
	if len(pcm) == 0 {
		return
	}
	l.startGap = ""
	for len(pcm) > 0 {
		k := copy(l.pend[2*l.n:], pcm)
		l.n += k / 2
		pcm = pcm[k:]
		if l.n == AudioChunkSamples {
			l.flush()
		}
	}
}

// flush delivers the pending samples as a (possibly short) chunk.
func (l *audioLine) flush() {
	if l.n == 0 {
		return
	}
	n := l.n
	l.out.audioChunk(l.first, l.pend[:2*n], n)
	l.first += int64(n)
	l.n = 0
}

// fill flushes, then declares [end, to) a gap when to is ahead.
func (l *audioLine) fill(to int64, reason string) {
	l.flush()
	if to > l.first {
		l.out.audioGap(l.first, to-l.first, reason)
		l.first = to
	}
}

// rebase starts the next pass of a looping file at sample idx (the seam, on
// a whole sample): a shorter audio track leaves a GapLoopSeam gap up to it.
func (l *audioLine) rebase(idx int64) {
	l.fill(idx, GapLoopSeam)
	l.base = idx
	l.startGap = GapLoopSeam
}

// restart continues the line after a live source reconnected: what is
// pending goes out, [end, to) is declared a gap (GapReconnect, the hole),
// and running time 0 of the new connection is sample base.
func (l *audioLine) restart(base, to int64, reason string) {
	l.fill(to, reason)
	l.base = base
	l.startGap = reason
}

// Capture implements audioOut: it hands chunks and gaps to the AudioHandler
// (under hmu, as every handler call) and counts them.

func (c *Capture) audioChunk(first int64, pcm []byte, n int) {
	if c.stopped() {
		return
	}
	c.ac = AudioChunk{Data: pcm, Samples: n, FirstSample: first, PTS: sampleTime(first)}
	c.ah.Audio(&c.ac)
	c.ac.Data = nil
	c.tl.audioChunk(first, n)
}

func (c *Capture) audioGap(first, n int64, reason string) {
	if c.stopped() {
		return
	}
	c.log.Debug("audio gap", "first_sample", first, "samples", n, "reason", reason)
	c.ah.AudioGap(AudioGap{FirstSample: first, Samples: n, PTS: sampleTime(first), Reason: reason})
	c.tl.audioGap(first, n)
}

func (c *Capture) audioDiscard(n int) { c.tl.audioDiscard(n) }

// onAudioSample runs on the audio streaming thread for each buffer reaching
// the audio appsink: it copies the samples onto the line (one copy into the
// pending chunk) and releases the buffer.
func (c *Capture) onAudioSample(_ *app.Sink) gst.FlowReturn {
	if c.stopped() {
		return gst.FlowFlushing
	}
	g := c.graph()
	if g == nil {
		return gst.FlowFlushing
	}
	b, err := c.ca.pull(g.audioSinkPtr)
	if err != nil {
		if errors.Is(err, errNoSample) {
			return gst.FlowOK
		}
		c.fail(&SourceError{StreamID: c.cfg.StreamID, Element: "audiosink", Message: err.Error()})
		return gst.FlowError
	}
	defer c.ca.release()
	c.hmu.Lock()
	defer c.hmu.Unlock()
	if c.stopped() {
		return gst.FlowFlushing
	}
	if !b.timed {
		c.tl.audioDiscard(len(b.pcm) / 2)
		c.log.Warn("audio buffer without timestamp discarded", "samples", len(b.pcm)/2)
		return gst.FlowOK
	}
	c.firstBuffer(g, b.running)
	c.al.push(b.running, b.pcm, b.discont)
	c.report()
	return gst.FlowOK
}

// onAudioEOS runs on the audio streaming thread when the audio branch ends
// (a pass of a file, or the stream): the last short chunk goes out and audio
// no longer holds progress back.
func (c *Capture) onAudioEOS(_ *app.Sink) {
	// The duration query goes upstream to the demuxer; it takes no stream
	// lock, so it is safe from a streaming thread (and done before hmu).
	d := c.passDuration(c.graph())
	c.hmu.Lock()
	defer c.hmu.Unlock()
	if c.stopped() {
		return
	}
	c.al.flush()
	c.tl.branchEOS(true)
	if d > 0 {
		// The pass lasts at least its duration (see timeline.end): the rest
		// of it has no audio, one gap. Without a known duration, report
		// declares the gap piece by piece as video moves progress on.
		c.al.fill(sampleCeil(c.tl.passOffset()+d), c.tailGap())
	}
	c.report()
}

// onVideoEOS runs on the video streaming thread when the video branch ends:
// video no longer holds progress back.
func (c *Capture) onVideoEOS(_ *app.Sink) {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	if c.stopped() {
		return
	}
	c.tl.branchEOS(false)
	c.report()
}

// noAudio tells the AudioHandler, once, that the source has no audio; from
// then on progress follows video alone.
func (c *Capture) noAudio() {
	if c.ah == nil || !c.noAudioOnce.CompareAndSwap(false, true) {
		return
	}
	c.hmu.Lock()
	defer c.hmu.Unlock()
	c.tl.setAudio(audioOff)
	if c.stopped() {
		return
	}
	c.log.Debug("source has no audio")
	c.ah.NoAudio()
	c.report()
}

// audioLinked runs when an attempt linked its audio branch: audio takes part
// in progress.
func (c *Capture) audioLinked() {
	c.tl.setAudio(audioOn)
	c.audioSeen.Store(true)
}

// audioMissing runs when all of a source's pads are known and none was
// audio. The first time, the source has no audio (NoAudio). A live source
// that had audio and came back without: audio of this attempt counts as
// ended, so video's progress declares it missing (GapNoAudio) as it goes.
func (c *Capture) audioMissing() {
	if !c.audioSeen.Load() {
		c.noAudio()
		return
	}
	c.hmu.Lock()
	defer c.hmu.Unlock()
	c.tl.setAudio(audioOn)
	c.tl.branchEOS(true)
	if c.stopped() {
		return
	}
	c.log.Warn("source came back without audio")
	c.report()
}
