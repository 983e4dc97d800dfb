// Package dsp computes frame-level speech features for the acoustic plugin:
// level, zero-crossing rate, spectral centroid, YIN pitch, the eGeMAPS-like
// spectral descriptors (spectral.go), LPC formants (formant.go), and the
// period measures jitter, shimmer and HNR (voice.go, harmonicity.go), which
// also come in whole-signal forms (report.go) that follow Praat's
// definitions for checking against it.
//
// Audio is mono float32 in [-1, 1]. The plugin calls these functions once per
// 10 ms hop on an analysis window centred on the hop; framing is the caller's
// job. The per-hop analysers keep their buffers so that they allocate nothing
// in steady state on a live stream's hot path (Voicer for the per-hop pulse
// measures; the whole-signal Pulses and WindowVoice allocate per call).
package dsp

import "math"

// FloorDBFS is the level reported for silence, so callers never see -Inf.
const FloorDBFS = -120.0

// floorRMS is FloorDBFS as a linear amplitude (10^(-120/20)).
const floorRMS = 1e-6

// RMSdBFS returns the RMS level of x in dB relative to a full-scale square
// wave (so a full-scale sine reads about -3.01 dBFS), clamped below at
// FloorDBFS; empty and all-zero windows, and NaN input, give the floor.
func RMSdBFS(x []float32) float64 {
	return levelDBFS(rms(x))
}

// rms accumulates in float64 so long windows and large values neither lose
// precision nor overflow.
func rms(x []float32) float64 {
	if len(x) == 0 {
		return 0
	}
	var s0, s1 float64
	i := 0
	for ; i+1 < len(x); i += 2 {
		a, b := float64(x[i]), float64(x[i+1])
		s0 += a * a
		s1 += b * b
	}
	if i < len(x) {
		a := float64(x[i])
		s0 += a * a
	}
	return math.Sqrt((s0 + s1) / float64(len(x)))
}

// levelDBFS converts a linear RMS to dBFS; the negated comparison also maps
// NaN to the floor.
func levelDBFS(r float64) float64 {
	if !(r > floorRMS) {
		return FloorDBFS
	}
	return 20 * math.Log10(r)
}

// ZeroCrossingRate returns the fraction of the len(x)-1 adjacent sample pairs
// across which the signal changes sign, in [0, 1].
//
// A sample that is exactly zero (or NaN) carries the sign of the last
// non-zero sample before it, so a signal that touches zero and turns back
// does not count, a pass through zero (1, 0, -1) counts once, and leading
// zeros count nothing. Counting zeros as positive instead would make digital
// silence with one-LSB dither flicker between 0 and high rates.
func ZeroCrossingRate(x []float32) float64 {
	if len(x) < 2 {
		return 0
	}
	var sign int8 // 0 until the first non-zero sample
	n := 0
	for _, v := range x {
		var s int8
		switch {
		case v > 0:
			s = 1
		case v < 0:
			s = -1
		default:
			continue
		}
		if s != sign {
			if sign != 0 {
				n++
			}
			sign = s
		}
	}
	return float64(n) / float64(len(x)-1)
}
