package dsp

import "math"

// Power fills and returns the one-sided power spectrum (bins 0..Size/2, bin
// k at k·sampleRate/Size Hz) of x under the same Hann window as Centroid.
// The slice is reused by the next call. It is nil for empty input.
func (s *Spectrum) Power(x []float32) []float64 {
	if len(x) > s.n {
		off := (len(x) - s.n) / 2
		x = x[off : off+s.n]
	}
	if len(x) == 0 {
		return nil
	}
	if len(x) != s.winLen {
		s.setWindow(len(x))
	}
	for i, v := range x {
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			f = 0
		}
		s.re[i] = f * s.win[i]
	}
	clear(s.re[len(x):])
	clear(s.im)
	s.fft()
	if cap(s.pow) < s.size/2+1 {
		s.pow = make([]float64, s.size/2+1)
	}
	p := s.pow[:s.size/2+1]
	for k := range p {
		p[k] = s.re[k]*s.re[k] + s.im[k]*s.im[k]
	}
	return p
}

// powerFloor keeps logarithms of empty bands finite (-200 dB re full scale
// power per bin at a 512-point FFT is far below 16-bit quantisation).
const powerFloor = 1e-20

// bandRange returns the bins covering [lo, hi) Hz.
func bandRange(n, sampleRate int, size int, lo, hi float64) (int, int) {
	df := float64(sampleRate) / float64(size)
	a := max(int(math.Ceil(lo/df)), 0)
	b := min(int(math.Ceil(hi/df)), n)
	return a, b
}

// AlphaRatio is the energy in 50–1000 Hz over that in 1–5 kHz, in dB
// (eGeMAPS): positive for low-frequency-heavy (lax, voiced) spectra.
func AlphaRatio(pow []float64, sampleRate, size int) float64 {
	lo := bandSum(pow, sampleRate, size, 50, 1000)
	hi := bandSum(pow, sampleRate, size, 1000, 5000)
	return 10 * math.Log10((lo+powerFloor)/(hi+powerFloor))
}

func bandSum(pow []float64, sampleRate, size int, lo, hi float64) float64 {
	a, b := bandRange(len(pow), sampleRate, size, lo, hi)
	var s float64
	for _, v := range pow[a:b] {
		s += v
	}
	return s
}

func bandMax(pow []float64, sampleRate, size int, lo, hi float64) float64 {
	a, b := bandRange(len(pow), sampleRate, size, lo, hi)
	var m float64
	for _, v := range pow[a:b] {
		m = math.Max(m, v)
	}
	return m
}

// HammarbergIndex is the strongest bin in 0–2 kHz over the strongest in
// 2–5 kHz, in dB (eGeMAPS).
func HammarbergIndex(pow []float64, sampleRate, size int) float64 {
	lo := bandMax(pow, sampleRate, size, 0, 2000)
	hi := bandMax(pow, sampleRate, size, 2000, 5000)
	return 10 * math.Log10((lo+powerFloor)/(hi+powerFloor))
}

// SpectralSlope is the least-squares slope, in dB/Hz, of the power
// spectrum in dB over the bins in [lo, hi] Hz (eGeMAPS uses 0–500 and
// 500–1500 Hz).
func SpectralSlope(pow []float64, sampleRate, size int, lo, hi float64) float64 {
	df := float64(sampleRate) / float64(size)
	a, b := bandRange(len(pow), sampleRate, size, lo, hi+df/2)
	n := float64(b - a)
	if n < 2 {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for k := a; k < b; k++ {
		x := float64(k) * df
		y := 10 * math.Log10(pow[k]+powerFloor)
		sx += x
		sy += y
		sxx += x * x
		sxy += x * y
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}

// MelBank is a triangular mel filterbank on a power spectrum, with the DCT
// that turns its log energies into MFCCs.
type MelBank struct {
	lo, hi  []int       // bin range of each filter
	weights [][]float64 // weight per bin in range
	energy  []float64
	dct     [][]float64 // dct[c][b], c = 0..nCeps
	lifter  []float64
}

// NewMelBank returns bands triangular filters spaced evenly on the mel
// scale over [fmin, fmax] Hz for an FFT of size at sampleRate, and the DCT
// for cepstra 0..nCeps with HTK's sinusoidal lifter 22 (as openSMILE's
// eGeMAPS MFCCs: 26 bands, 20 Hz – 8 kHz).
func NewMelBank(sampleRate, size, bands int, fmin, fmax float64, nCeps int) *MelBank {
	mel := func(f float64) float64 { return 1127 * math.Log(1+f/700) }
	hz := func(m float64) float64 { return 700 * (math.Exp(m/1127) - 1) }
	fmax = math.Min(fmax, float64(sampleRate)/2)
	m0, m1 := mel(fmin), mel(fmax)
	edges := make([]float64, bands+2)
	for i := range edges {
		edges[i] = hz(m0 + (m1-m0)*float64(i)/float64(bands+1))
	}
	df := float64(sampleRate) / float64(size)
	mb := &MelBank{energy: make([]float64, bands)}
	for b := 0; b < bands; b++ {
		l, c, r := edges[b], edges[b+1], edges[b+2]
		lo := int(math.Ceil(l / df))
		hi := min(int(math.Floor(r/df)), size/2)
		var w []float64
		for k := lo; k <= hi; k++ {
			f := float64(k) * df
			v := (f - l) / (c - l)
			if f > c {
				v = (r - f) / (r - c)
			}
			w = append(w, math.Max(v, 0))
		}
		mb.lo = append(mb.lo, lo)
		mb.hi = append(mb.hi, hi)
		mb.weights = append(mb.weights, w)
	}
	const lift = 22.0
	for c := 0; c <= nCeps; c++ {
		row := make([]float64, bands)
		for b := range row {
			row[b] = math.Sqrt(2/float64(bands)) * math.Cos(math.Pi*float64(c)*(float64(b)+0.5)/float64(bands))
		}
		mb.dct = append(mb.dct, row)
		mb.lifter = append(mb.lifter, 1+lift/2*math.Sin(math.Pi*float64(c)/lift))
	}
	return mb
}

// Energies fills and returns each band's weighted power (reused).
func (mb *MelBank) Energies(pow []float64) []float64 {
	for b := range mb.energy {
		var s float64
		for i, w := range mb.weights[b] {
			if k := mb.lo[b] + i; k < len(pow) {
				s += w * pow[k]
			}
		}
		mb.energy[b] = s
	}
	return mb.energy
}

// MFCC writes cepstra 0..len(out)-1 of the band energies e (natural log,
// floored) into out.
func (mb *MelBank) MFCC(e []float64, out []float64) {
	for c := range out {
		if c >= len(mb.dct) {
			out[c] = 0
			continue
		}
		var s float64
		for b, v := range e {
			s += mb.dct[c][b] * math.Log(v+powerFloor)
		}
		out[c] = s * mb.lifter[c]
	}
}

// Loudness is an auditory loudness estimate from band energies: the sum of
// each band's energy raised to Stevens' power 0.3 (loudness grows as
// intensity^0.3), as eGeMAPS sums its auditory spectrum. Unitless; it rises
// about 2× for every +10 dB, and is 0 for silence.
func Loudness(e []float64) float64 {
	var s float64
	for _, v := range e {
		if v > 0 {
			s += math.Pow(v, 0.3)
		}
	}
	return s
}
