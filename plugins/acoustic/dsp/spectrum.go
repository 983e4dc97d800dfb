package dsp

import "math"

// Spectrum holds reusable FFT state for one analysis window length so that
// per-hop spectral features allocate nothing.
type Spectrum struct {
	n      int       // analysis window length
	size   int       // FFT size: next power of two >= n
	cos    []float64 // twiddle factors cos(2πk/size), k < size/2
	sin    []float64 // twiddle factors sin(2πk/size), k < size/2
	rev    []int     // bit-reversal permutation
	re, im []float64 // FFT work buffers
	win    []float64 // Hann window for winLen samples (capacity n)
	winLen int
	pow    []float64 // power spectrum from Power, reused
}

// NewSpectrum returns FFT state for windows of up to n samples (n < 1 is
// treated as 1); the FFT size is n rounded up to a power of two (at least 2).
func NewSpectrum(n int) *Spectrum {
	if n < 1 {
		n = 1
	}
	size := 2
	for size < n {
		size <<= 1
	}
	s := &Spectrum{
		n:    n,
		size: size,
		cos:  make([]float64, size/2),
		sin:  make([]float64, size/2),
		rev:  make([]int, size),
		re:   make([]float64, size),
		im:   make([]float64, size),
		win:  make([]float64, n),
	}
	for k := range s.cos {
		a := 2 * math.Pi * float64(k) / float64(size)
		s.cos[k] = math.Cos(a)
		s.sin[k] = math.Sin(a)
	}
	bits := 0
	for 1<<bits < size {
		bits++
	}
	for i := range s.rev {
		r := 0
		for b := 0; b < bits; b++ {
			r |= (i >> b & 1) << (bits - 1 - b)
		}
		s.rev[i] = r
	}
	s.setWindow(n)
	return s
}

// Size returns the FFT length, which fixes the bin spacing sampleRate/Size.
func (s *Spectrum) Size() int { return s.size }

// setWindow builds a Hann window of length l as sin²(π(i+1)/(l+1)), the form
// without zero end points, so that very short windows still carry energy.
// It is cached because the caller normally uses one length throughout.
func (s *Spectrum) setWindow(l int) {
	s.win = s.win[:l]
	for i := range s.win {
		v := math.Sin(math.Pi * float64(i+1) / float64(l+1))
		s.win[i] = v * v
	}
	s.winLen = l
}

// Centroid returns the magnitude-weighted mean frequency of x in Hz over the
// bins 0..Size/2 of its Hann-windowed, zero-padded spectrum. Inputs longer
// than the construction length are cut to their centred part. ok is false
// when the window has no energy (or the input was not finite), so callers can
// omit the feature instead of reporting a meaningless 0 Hz.
func (s *Spectrum) Centroid(x []float32, sampleRate int) (hz float64, ok bool) {
	if len(x) > s.n {
		off := (len(x) - s.n) / 2
		x = x[off : off+s.n]
	}
	if len(x) == 0 || sampleRate <= 0 {
		return 0, false
	}
	if len(x) != s.winLen {
		s.setWindow(len(x))
	}
	re, im := s.re, s.im
	for i, v := range x {
		re[i] = float64(v) * s.win[i]
	}
	for i := len(x); i < len(re); i++ {
		re[i] = 0
	}
	for i := range im {
		im[i] = 0
	}
	s.fft()
	var num, den float64
	half := s.size / 2
	for k := 0; k <= half; k++ {
		m := math.Sqrt(re[k]*re[k] + im[k]*im[k])
		num += float64(k) * m
		den += m
	}
	if !(den > 0) || math.IsInf(den, 0) {
		return 0, false
	}
	hz = num / den * float64(sampleRate) / float64(s.size)
	if math.IsNaN(hz) || math.IsInf(hz, 0) {
		return 0, false
	}
	return hz, true
}

// fft transforms re/im in place: an iterative radix-2 decimation-in-time
// FFT with precomputed twiddles and bit reversal, so it never allocates.
func (s *Spectrum) fft() {
	re, im := s.re, s.im
	for i, j := range s.rev {
		if i < j {
			re[i], re[j] = re[j], re[i]
			im[i], im[j] = im[j], im[i]
		}
	}
	n := s.size
	im = im[:len(re)]
	for span := 1; span < n; span <<= 1 {
		step := n / (span << 1)
		// Twiddle outermost so each factor is loaded once per stage.
		for k := 0; k < span; k++ {
			wr, wi := s.cos[k*step], -s.sin[k*step]
			for a := k; a+span < n; a += span << 1 {
				b := a + span
				tr := re[b]*wr - im[b]*wi
				ti := re[b]*wi + im[b]*wr
				re[b], im[b] = re[a]-tr, im[a]-ti
				re[a], im[a] = re[a]+tr, im[a]+ti
			}
		}
	}
}
