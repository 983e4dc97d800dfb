package segment

import (
	"math"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
)

// sampleTime is the media time of sample index s at rate.
func sampleTime(s int64, rate int) time.Duration {
	return time.Duration(s * int64(time.Second) / int64(rate))
}

// firstSampleAt is the index of the first sample at or after media time t.
func firstSampleAt(t time.Duration, rate int) int64 {
	num := int64(t) * int64(rate)
	q := num / int64(time.Second)
	if num > 0 && num%int64(time.Second) != 0 {
		q++
	}
	return q
}

// splitSamples calls fn for each open segment that samples [first, first+n)
// fall in, with how many fall there; samples in closed segments go to late.
func (a *Assembler) splitSamples(first, n int64, rate int, fn func(*open, int64), late func(int64)) {
	end := first + n
	for s := first; s < end; {
		k := a.indexOf(sampleTime(s, rate))
		_, segEnd := a.Bounds(k)
		next := min(end, max(firstSampleAt(segEnd, rate), s+1))
		if k < a.next {
			late(next - s)
		} else {
			fn(a.get(k), next-s)
		}
		s = next
	}
}

// AudioCaptured counts audio capture delivered: samples [first, first+n).
func (a *Assembler) AudioCaptured(first, n int64, rate int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.started {
		a.startLocked(a.cfg.Now())
	}
	a.audioSeen = true
	a.splitSamples(first, n, rate, func(s *open, k int64) { s.audio += k }, func(int64) {})
}

// stallGapLocked records as an audio gap the part of a window that the
// source, stalled, never delivered, before it closes as source_stall: the
// gap capture reports once it reconnects comes after the window closed,
// and the hole must be the window's (issue #15: an outage of 10 s read as
// 5.5 s of gap). Only for streams that deliver audio.
func (a *Assembler) stallGapLocked(s *open) {
	rate := a.cfg.AudioRate
	if !a.audioSeen || rate <= 0 {
		return
	}
	start, end := a.Bounds(s.index)
	window := firstSampleAt(end, rate) - firstSampleAt(max(start, 0), rate)
	if missing := window - s.audio - s.audioGap; missing > 0 {
		s.audioGap += missing
		s.addReason(model.ReasonAudioGap)
	}
}

// AudioGap records samples capture reported missing (an explicit gap).
func (a *Assembler) AudioGap(first, n int64, rate int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.started {
		a.startLocked(a.cfg.Now())
	}
	a.splitSamples(first, n, rate, func(s *open, k int64) {
		s.audioGap += k
		s.addReason(model.ReasonAudioGap)
	}, func(int64) {})
}

// AudioDropped records a chunk assigned to plugin that never reached it
// (past the plugin's bound); it settles the chunk like a result would.
func (a *Assembler) AudioDropped(plugin string, first, n int64, rate int) {
	a.mu.Lock()
	a.counters.AudioDropped += sampleTime(n, rate)
	if s := a.segFor(sampleTime(first, rate)); s != nil {
		if p := s.plugins[plugin]; p != nil && p.inFlight > 0 {
			p.inFlight--
		}
	}
	a.splitSamples(first, n, rate, func(s *open, k int64) {
		if p := s.plugins[plugin]; p != nil {
			p.audioDropped += k
			s.addReason(model.ReasonAudioGap)
		}
	}, func(int64) {})
	a.unlockAndEmit(a.closeReadyLocked())
}

// NoAudio marks plugin as unable to work on this stream: it needs audio and
// the stream has none. Every segment, open or future, says so.
func (a *Assembler) NoAudio(plugin string) { a.trackMissing(plugin, model.PluginNoAudio) }

// NoVideo marks plugin as getting no frames on this stream: it takes video
// and the source has none (an audio-only source). Every segment, open or
// future, says so; the plugin holds none open, as it is assigned no frame,
// so segments close on capture's (audio) progress and the other plugins.
func (a *Assembler) NoVideo(plugin string) { a.trackMissing(plugin, model.PluginNoVideo) }

// trackMissing records that plugin's input track is missing (status
// no_audio or no_video) on every segment, open or future; the first
// recorded stands. The plugin holds no segment open for audio any more.
func (a *Assembler) trackMissing(plugin, status string) {
	a.mu.Lock()
	defer func() { a.unlockAndEmit(a.closeReadyLocked()) }()
	if a.missing[plugin] != "" {
		return
	}
	if a.missing == nil {
		a.missing = map[string]string{}
	}
	a.missing[plugin] = status
	if _, ok := a.audioProgress[plugin]; ok && status == model.PluginNoAudio {
		a.audioProgress[plugin] = math.MaxInt64 // nothing to wait for
	}
	for _, s := range a.segs {
		if p := s.plugins[plugin]; p != nil && p.seg.Status == "" {
			p.seg.Status = status
		}
	}
}

// AudioResult records plugin's result for the chunk of samples [first,
// first+n): the chunk's lease on its segment ends, and each item lands in
// the segment where it starts (a result that spans a boundary belongs to the
// segment where it starts).
func (a *Assembler) AudioResult(plugin string, first, n int64, rate int, items []model.Item, errMsg string, progress time.Duration) {
	a.mu.Lock()
	if n == 0 {
		// A gap or end record: it held no segment, only its items count.
	} else if s := a.segFor(sampleTime(first, rate)); s != nil {
		if p := s.plugins[plugin]; p != nil {
			if p.inFlight > 0 {
				p.inFlight--
			}
			if errMsg != "" {
				p.seg.Errors++
			}
		}
	}
	if errMsg == "" {
		a.splitSamples(first, n, rate, func(s *open, k int64) {
			if p := s.plugins[plugin]; p != nil {
				p.audioAnalysed += k
			}
		}, func(int64) {})
	}
	for _, it := range items {
		s := a.segFor(it.PTS)
		if s == nil {
			a.lateLocked(plugin, it)
			continue
		}
		if p := s.plugins[plugin]; p != nil {
			p.seg.Items = append(p.seg.Items, it)
		}
	}
	// Progress moves only once the items it vouches for have landed.
	if cur, ok := a.audioProgress[plugin]; ok && progress > cur {
		a.audioProgress[plugin] = progress
	}
	a.unlockAndEmit(a.closeReadyLocked())
}

func (s *open) addReason(r string) {
	for _, x := range s.reasons {
		if x == r {
			return
		}
	}
	s.reasons = append(s.reasons, r)
}

// Missed records a frame capture produced while plugin was down: it counts
// as skipped for that plugin, and the segment says why.
func (a *Assembler) Missed(plugin string, pts time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.counters.Missed++
	if s := a.segFor(pts); s != nil {
		if p := s.plugins[plugin]; p != nil {
			p.seg.FramesSkipped++
			s.addReason(ReasonPluginDown)
		}
	}
}

// AudioMissed records audio that arrived while plugin was down.
func (a *Assembler) AudioMissed(plugin string, first, n int64, rate int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.counters.AudioDropped += sampleTime(n, rate)
	a.splitSamples(first, n, rate, func(s *open, k int64) {
		if p := s.plugins[plugin]; p != nil {
			p.audioDropped += k
			s.addReason(ReasonPluginDown)
		}
	}, func(int64) {})
}

// PluginRestarted marks the segment being captured now: plugin restarted in it.
func (a *Assembler) PluginRestarted(plugin string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if s := a.segFor(a.progress); s != nil {
		s.addReason(ReasonPluginRestarted)
	}
}

// PluginRestartedAt marks the segment holding pts: plugin restarted while
// it owed a result there (a topic event delivered again after a restart).
func (a *Assembler) PluginRestartedAt(plugin string, pts time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if s := a.segFor(pts); s != nil && s.plugins[plugin] != nil {
		s.addReason(ReasonPluginRestarted)
	}
}

// ResetAudioProgress restarts plugin's progress at t after a restart: the
// new process owes results from there on, not for what its predecessor lost.
func (a *Assembler) ResetAudioProgress(plugin string, t time.Duration) {
	a.mu.Lock()
	if _, ok := a.audioProgress[plugin]; ok {
		a.audioProgress[plugin] = t
	}
	a.mu.Unlock()
}

// Progressed returns capture's progress on the time line.
func (a *Assembler) Progressed() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.progress
}
