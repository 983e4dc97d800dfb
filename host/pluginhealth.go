package host

import (
	"fmt"
	"math/bits"

	"github.com/lsie-mlf/lsie/host/model"
)

// A stream's health names a plugin that fails it even while capture is
// fine: a plugin in error, one that closed this stream, or one that drops
// audio or answers mostly errors on most recent segments. Otherwise an
// operator reads "ok" while a model sees nothing.
const (
	// outcomeSegments is how many recent segments are judged.
	outcomeSegments = 10
	// outcomeBad is how many of them must be bad for "degraded".
	outcomeBad = outcomeSegments/2 + 1
)

// outcomes is a consumer's record of its last segments: bit set = bad.
type outcomes struct {
	bits, n uint16
	why     string // the last bad segment's reason
}

func (o *outcomes) add(bad bool, why string) {
	o.bits <<= 1
	if bad {
		o.bits |= 1
		o.why = why
	}
	o.bits &= 1<<outcomeSegments - 1
	o.n = min(o.n+1, outcomeSegments)
}

func (o *outcomes) bad() int { return bits.OnesCount16(o.bits) }

// segmentOutcome judges what plugin ps did in one closed segment.
func segmentOutcome(ps model.PluginSegment) (bad bool, why string) {
	switch {
	case ps.AudioDroppedSeconds > 0:
		return true, fmt.Sprintf("dropped %.1f s of audio (it falls behind)", ps.AudioDroppedSeconds)
	case ps.Errors > 0 && ps.Errors >= ps.FramesAnalysed+ps.Messages && ps.AudioSeconds == 0:
		return true, fmt.Sprintf("answered %d inputs with errors and analysed none", ps.Errors)
	}
	return false, ""
}

// noteOutcomes records each plugin's outcome of a closed segment.
func (s *streamRunner) noteOutcomes(seg *model.Segment) {
	for _, c := range s.consumers {
		ps, ok := seg.Plugins[c.name]
		if !ok || ps.Status != "" { // no_audio and the like are the stream's shape, not a fault
			continue
		}
		bad, why := segmentOutcome(ps)
		c.mu.Lock()
		c.outcomes.add(bad, why)
		c.mu.Unlock()
	}
}

// pluginTrouble is the first plugin problem of the stream, as a hint, or "".
func (s *streamRunner) pluginTrouble() string {
	for _, c := range s.consumers {
		if why := c.failure(); why != "" {
			return fmt.Sprintf("plugin %q closed this stream: %s", c.name, why)
		}
		if sup := s.h.supervisor(c.name); sup != nil {
			if health, hint, _ := sup.Status(); health == model.HealthError {
				return fmt.Sprintf("plugin %q is in error: %s", c.name, hint)
			}
		}
		if c.slowLease.Load() {
			return fmt.Sprintf("plugin %q holds frames past their %s lease: too slow for this stream", c.name, s.h.opts.LeaseTimeout)
		}
		c.mu.Lock()
		o := c.outcomes
		c.mu.Unlock()
		if o.bad() >= outcomeBad {
			return fmt.Sprintf("plugin %q failed %d of the last %d segments: %s", c.name, o.bad(), o.n, o.why)
		}
	}
	return ""
}
