package dsp

import (
	"math"
	"math/rand/v2"
)

// vowel describes a synthetic sustained vowel: a Rosenberg glottal pulse
// train whose periods and amplitudes are perturbed cycle by cycle, through a
// cascade of formant resonators.
type vowel struct {
	f0       float64      // mean F0, Hz
	jitter   float64      // std of the relative period perturbation
	shimmer  float64      // std of the per-cycle amplitude perturbation, dB
	formants [][2]float64 // (frequency, bandwidth) Hz
	seconds  float64
	noiseDB  float64 // aspiration noise level re the signal, dB; 0: none
	seed     uint64
}

// vowelA is an /a/-like formant set (Peterson & Barney, male).
var vowelA = [][2]float64{{730, 90}, {1090, 110}, {2440, 160}, {3400, 250}, {4500, 300}}

// vowelI is /i/-like.
var vowelI = [][2]float64{{270, 60}, {2290, 120}, {3010, 180}, {3700, 250}, {4500, 300}}

// synthVowel returns the signal (peak 0.5) and the true glottal periods (s)
// and cycle amplitudes, from which the true jitter and shimmer follow.
func synthVowel(v vowel) (x []float32, periods, amps []float64) {
	rng := rand.New(rand.NewPCG(v.seed, 99))
	n := int(v.seconds * sr)
	e := make([]float64, n)
	t0 := 1 / v.f0
	start, T, A := 0.0, t0, 1.0
	next := func() {
		T = t0 * (1 + v.jitter*rng.NormFloat64())
		A = math.Pow(10, v.shimmer*rng.NormFloat64()/20)
		periods = append(periods, T)
		amps = append(amps, A)
	}
	next()
	prev := 0.0
	for i := range e {
		t := float64(i) / sr
		for t >= start+T {
			start += T
			next()
		}
		// Each cycle ends with the glottal closure, so that closures (the
		// excitation the analyses lock onto) are exactly the periods apart:
		// closed phase, then 40 % opening, 16 % closing.
		ph := (t - start) / T
		var flow float64
		const tc, tp, tn = 0.44, 0.40, 0.16
		switch {
		case ph < tc:
		case ph < tc+tp:
			flow = 0.5 * (1 - math.Cos(math.Pi*(ph-tc)/tp))
		default:
			flow = math.Cos(math.Pi / 2 * (ph - tc - tp) / tn)
		}
		flow *= A
		e[i] = flow - prev // radiation: differentiated flow
		prev = flow
	}
	if v.noiseDB != 0 {
		var p float64
		for _, s := range e {
			p += s * s
		}
		sigma := math.Sqrt(p / float64(n) * math.Pow(10, v.noiseDB/10))
		for i := range e {
			e[i] += sigma * rng.NormFloat64()
		}
	}
	for _, f := range v.formants {
		r := math.Exp(-math.Pi * f[1] / sr)
		a1, a2 := 2*r*math.Cos(2*math.Pi*f[0]/sr), -r*r
		g := 1 - a1 - a2
		var y1, y2 float64
		for i, s := range e {
			y := g*s + a1*y1 + a2*y2
			y2, y1 = y1, y
			e[i] = y
		}
	}
	var peak float64
	for _, s := range e {
		peak = math.Max(peak, math.Abs(s))
	}
	x = make([]float32, n)
	for i, s := range e {
		x[i] = float32(0.5 * s / peak)
	}
	// The last cycle is cut off by the end of the signal.
	return x, periods[:len(periods)-1], amps[:len(amps)-1]
}

// trueJitter is local jitter of the generated periods.
func trueJitter(p []float64) float64 {
	var d, s float64
	for i := range p {
		s += p[i]
		if i > 0 {
			d += math.Abs(p[i] - p[i-1])
		}
	}
	return d / float64(len(p)-1) / (s / float64(len(p)))
}

// trueShimmerDB is local shimmer (dB) of the generated cycle amplitudes.
func trueShimmerDB(a []float64) float64 {
	var d float64
	for i := 1; i < len(a); i++ {
		d += math.Abs(20 * math.Log10(a[i]/a[i-1]))
	}
	return d / float64(len(a)-1)
}
