package dsp

import (
	"math"
	"math/cmplx"
	"slices"
)

// Formant is one vocal-tract resonance.
type Formant struct {
	Hz, BandwidthHz float64
}

// FormantTracker estimates formants by linear prediction: pre-emphasis,
// a Gaussian-like window, autocorrelation LPC (Levinson–Durbin) and the
// roots of the predictor polynomial, each complex pole pair giving a
// frequency (its angle) and a bandwidth (its distance from the unit circle).
// Buffers are kept; Estimate allocates nothing.
type FormantTracker struct {
	sr    float64
	order int
	win   []float64
	buf   []float64
	ac    []float64
	a     []float64
	tmp   []float64
	roots []complex128
	out   []Formant
}

// Formant search limits: poles below minFormantHz model the spectral tilt
// and those wider than maxBandwidthHz are not resonances one can hear as a
// formant; both are skipped, so F1 is the lowest sharp resonance.
const (
	minFormantHz   = 90
	maxBandwidthHz = 600
)

// NewFormantTracker returns a tracker for windows of n samples; the LPC
// order is 2 + sampleRate/1000 (one pole pair per kHz of bandwidth plus
// two for the glottal and radiation tilt), 18 at 16 kHz.
func NewFormantTracker(sampleRate, n int) *FormantTracker {
	if sampleRate <= 0 {
		sampleRate = 16000
	}
	n = max(n, 32)
	order := 2 + sampleRate/1000
	f := &FormantTracker{
		sr:    float64(sampleRate),
		order: order,
		win:   make([]float64, n),
		buf:   make([]float64, n),
		ac:    make([]float64, order+1),
		a:     make([]float64, order+1),
		tmp:   make([]float64, order+1),
		roots: make([]complex128, order),
	}
	// Gaussian window (σ = n/6): low side lobes keep strong low harmonics
	// from leaking into the higher formants' regions.
	for i := range f.win {
		d := (float64(i) - float64(n-1)/2) / (float64(n) / 6)
		f.win[i] = math.Exp(-0.5 * d * d)
	}
	return f
}

// Estimate returns the formants of x (centred part if longer than the
// window), lowest first; it returns nil for silence or a degenerate fit.
func (f *FormantTracker) Estimate(x []float32) []Formant {
	n := len(f.win)
	if len(x) < n {
		return nil
	}
	x = x[(len(x)-n)/2:]
	// Pre-emphasis from 50 Hz flattens the glottal roll-off so that the
	// upper formants get poles of their own.
	alpha := math.Exp(-2 * math.Pi * 50 / f.sr)
	prev := 0.0
	for i := range f.buf {
		v := float64(x[i])
		if math.IsNaN(v) || math.IsInf(v, 0) {
			v = 0
		}
		f.buf[i] = (v - alpha*prev) * f.win[i]
		prev = v
	}
	for lag := range f.ac {
		var s float64
		for i := lag; i < n; i++ {
			s += f.buf[i] * f.buf[i-lag]
		}
		f.ac[lag] = s
	}
	if !(f.ac[0] > 1e-12) {
		return nil
	}
	f.ac[0] *= 1 + 1e-9 // white-noise floor keeps the recursion stable
	if !f.levinson() {
		return nil
	}
	if !f.findRoots() {
		return nil
	}
	f.out = f.out[:0]
	for _, z := range f.roots {
		if imag(z) <= 0 {
			continue
		}
		hz := cmplx.Phase(z) * f.sr / (2 * math.Pi)
		bw := -math.Log(cmplx.Abs(z)) * f.sr / math.Pi
		if hz < minFormantHz || hz > f.sr/2-minFormantHz || !(bw > 0) || bw > maxBandwidthHz {
			continue
		}
		f.out = append(f.out, Formant{Hz: hz, BandwidthHz: bw})
	}
	slices.SortFunc(f.out, func(a, b Formant) int {
		switch {
		case a.Hz < b.Hz:
			return -1
		case a.Hz > b.Hz:
			return 1
		}
		return 0
	})
	return f.out
}

// levinson solves the normal equations for a[1..order] (a[0] = 1) of the
// predictor A(z) = Σ a_k z^-k; false when the autocorrelation is not
// positive definite (e.g. NaN).
func (f *FormantTracker) levinson() bool {
	a, r := f.a, f.ac
	clear(a)
	a[0] = 1
	e := r[0]
	for i := 1; i <= f.order; i++ {
		acc := r[i]
		for j := 1; j < i; j++ {
			acc += a[j] * r[i-j]
		}
		k := -acc / e
		if !(math.Abs(k) < 1) {
			return false
		}
		copy(f.tmp, a)
		for j := 1; j < i; j++ {
			a[j] = f.tmp[j] + k*f.tmp[i-j]
		}
		a[i] = k
		e *= 1 - k*k
	}
	return e > 0
}

// findRoots finds the zeros of z^p + a1 z^(p-1) + … + ap by the
// Durand–Kerner iteration, which refines all roots at once and needs no
// deflation; false if it does not converge.
func (f *FormantTracker) findRoots() bool {
	p := f.order
	z := f.roots
	seed := complex(0.4, 0.9)
	z[0] = seed
	for i := 1; i < p; i++ {
		z[i] = z[i-1] * seed
	}
	eval := func(x complex128) complex128 {
		v := complex(1, 0)
		for _, c := range f.a[1:] {
			v = v*x + complex(c, 0)
		}
		return v
	}
	for iter := 0; iter < 500; iter++ {
		var moved float64
		for i := range z {
			den := complex(1, 0)
			for j := range z {
				if j != i {
					den *= z[i] - z[j]
				}
			}
			if den == 0 {
				den = complex(1e-12, 0)
			}
			d := eval(z[i]) / den
			z[i] -= d
			moved = math.Max(moved, cmplx.Abs(d))
		}
		if moved < 1e-10 {
			return true
		}
		if math.IsNaN(moved) || math.IsInf(moved, 0) {
			return false
		}
	}
	return true // close enough for Hz-level formants after 500 sweeps
}
