package dsp

import (
	"math"
	"testing"
)

// TestFormantsSyntheticVowels checks F1–F3 against the resonators the
// vowel was synthesised with (within 10 %), at two male pitches. Higher
// pitches are left out on purpose: with harmonics 180 Hz apart, LPC pulls an
// F1 of 270 Hz to the 360 Hz harmonic (26 % off), a limit of the method.
func TestFormantsSyntheticVowels(t *testing.T) {
	ft := NewFormantTracker(sr, 400)
	for _, c := range []struct {
		name string
		fm   [][2]float64
	}{{"a", vowelA}, {"i", vowelI}} {
		for _, f0 := range []float64{100, 140} {
			x, _, _ := synthVowel(vowel{f0: f0, formants: c.fm, seconds: 0.5, seed: 5})
			worst := 0.0
			for off := 1000; off+400 <= len(x)-1000; off += 480 {
				got := ft.Estimate(x[off : off+400])
				if len(got) < 3 {
					t.Fatalf("%s f0=%v off=%d: %d formants %v", c.name, f0, off, len(got), got)
				}
				for i := 0; i < 3; i++ {
					e := math.Abs(got[i].Hz-c.fm[i][0]) / c.fm[i][0]
					worst = math.Max(worst, e)
					if e > 0.10 {
						t.Errorf("%s f0=%v off=%d: F%d = %.0f Hz, want %.0f ±10%% (all %v)", c.name, f0, off, i+1, got[i].Hz, c.fm[i][0], got)
					}
					if !(got[i].BandwidthHz > 0 && got[i].BandwidthHz <= maxBandwidthHz) {
						t.Errorf("%s: F%d bandwidth %v", c.name, i+1, got[i].BandwidthHz)
					}
				}
			}
			t.Logf("/%s/ f0=%v: worst F1–F3 error %.1f%%", c.name, f0, 100*worst)
		}
	}
	if got := ft.Estimate(make([]float32, 400)); got != nil {
		t.Errorf("silence: %v", got)
	}
	if got := ft.Estimate(make([]float32, 10)); got != nil {
		t.Errorf("short: %v", got)
	}
}
