package aus

import (
	"errors"
	"slices"
	"time"
)

// Neutral is a subject's neutral baseline (baseline_b_neutral): the per-unit
// g of their resting face and how many frames it was taken from. Frames == 0
// means no baseline.
type Neutral struct {
	G      [NumAU]float64 `json:"g"`
	Frames int            `json:"frames"`
}

// Baseline defaults.
const (
	DefaultBaselineWindow    = 10 * time.Second
	DefaultBaselineMinFrames = 10
	// maxBaselineFrames bounds memory per face for long windows at high
	// frame rates; later frames in the window are ignored.
	maxBaselineFrames = 4096
)

// ErrNoFrames is returned when a baseline is set from no usable frames.
var ErrNoFrames = errors.New("aus: no usable frames for a baseline")

// Baseline accumulates one face's g over the first Window of its session
// (from its first frame) and then holds their per-unit median. The median,
// not the mean, so that a brief expression during the window (a smile, a
// blink) does not shift the neutral. It completes at the first frame at or
// past Window once it has MinFrames; until then Neutral reports false.
type Baseline struct {
	window    time.Duration
	minFrames int
	start     time.Duration
	started   bool
	samples   [][NumAU]float64
	neutral   Neutral
}

// NewBaseline makes an empty baseline; non-positive arguments take the defaults.
func NewBaseline(window time.Duration, minFrames int) *Baseline {
	if window <= 0 {
		window = DefaultBaselineWindow
	}
	if minFrames <= 0 {
		minFrames = DefaultBaselineMinFrames
	}
	return &Baseline{window: window, minFrames: minFrames}
}

// Add offers one frame's measures at stream time t; it reports whether the
// baseline is complete (after this frame). Frames after completion are ignored.
func (b *Baseline) Add(t time.Duration, g *[NumAU]float64) bool {
	if b.neutral.Frames > 0 {
		return true
	}
	if !allFinite(g) {
		return false
	}
	if !b.started {
		b.start, b.started = t, true
	}
	if t-b.start >= b.window && len(b.samples) >= b.minFrames {
		b.finish()
		return true
	}
	if len(b.samples) < maxBaselineFrames {
		b.samples = append(b.samples, *g)
	}
	return false
}

// Set makes the baseline at once from the given frames' measures,
// replacing any earlier state.
func (b *Baseline) Set(gs [][NumAU]float64) error {
	b.samples = b.samples[:0]
	for i := range gs {
		if allFinite(&gs[i]) {
			b.samples = append(b.samples, gs[i])
		}
	}
	if len(b.samples) == 0 {
		return ErrNoFrames
	}
	b.started = true
	b.finish()
	return nil
}

// SetNeutral installs a baseline computed elsewhere (e.g. a stored one).
func (b *Baseline) SetNeutral(n Neutral) {
	b.samples = nil
	b.started = true
	b.neutral = n
}

// Neutral is the completed baseline; ok is false while it is accumulating.
func (b *Baseline) Neutral() (n Neutral, ok bool) {
	return b.neutral, b.neutral.Frames > 0
}

// Frames is how many frames the baseline holds so far.
func (b *Baseline) Frames() int {
	if b.neutral.Frames > 0 {
		return b.neutral.Frames
	}
	return len(b.samples)
}

// Reset empties the baseline so it accumulates afresh.
func (b *Baseline) Reset() {
	b.samples = b.samples[:0]
	b.started = false
	b.neutral = Neutral{}
}

func (b *Baseline) finish() {
	n := len(b.samples)
	col := make([]float64, n)
	for a := AU(0); a < NumAU; a++ {
		for i := range b.samples {
			col[i] = b.samples[i][a]
		}
		slices.Sort(col)
		if n%2 == 1 {
			b.neutral.G[a] = col[n/2]
		} else {
			b.neutral.G[a] = (col[n/2-1] + col[n/2]) / 2
		}
	}
	b.neutral.Frames = n
	b.samples = nil
}

func allFinite(g *[NumAU]float64) bool {
	for _, v := range g {
		if !finite(v) {
			return false
		}
	}
	return true
}
