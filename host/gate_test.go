package host

import (
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/motion"
)

func TestGatePass(t *testing.T) {
	ms := time.Millisecond
	still := motion.Scores{Valid: true, Frame: 0.1, Zones: []float64{0.1, 0.2}}
	moved := motion.Scores{Valid: true, Frame: 3, Zones: []float64{0.1, 9}}
	steps := []struct {
		pts  time.Duration
		sc   motion.Scores
		pass bool
	}{
		{0, motion.Scores{}, true},        // the first frame
		{200 * ms, still, false},          // nothing moved
		{400 * ms, moved, true},           // moved
		{600 * ms, motion.Scores{}, true}, // no score (a new size): goes
		{800 * ms, still, false},
		{2600 * ms, still, true}, // `every` since the last frame let through
		{2800 * ms, still, false},
	}
	g := &gate{motion: 2.5, every: 2 * time.Second}
	for i, s := range steps {
		if got := g.pass(s.pts, s.sc); got != s.pass {
			t.Errorf("step %d (%v): pass %v, want %v", i, s.pts, got, s.pass)
		}
	}
	// Zones: only the watched zone's motion counts.
	z := &gate{motion: 2.5, zones: []int{0}, sent: true}
	if z.pass(time.Second, moved) {
		t.Error("zone 0 did not move, yet the frame passed")
	}
	z.zones = []int{0, 1}
	if !z.pass(time.Second, moved) {
		t.Error("zone 1 moved, yet the frame was held back")
	}
}
