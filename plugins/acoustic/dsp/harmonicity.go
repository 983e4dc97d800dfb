package dsp

import "math"

// Harmonicity measures the harmonics-to-noise ratio of short frames by
// forward cross-correlation, following the definition of Praat's "To
// Harmonicity (cc)" (one period of the pitch floor per window, every local
// maximum of the correlation a candidate, the strongest one taken): a frame
// whose best normalised correlation at some lag is r has HNR
// 10·log10(r/(1-r)) dB. It keeps its buffers, so Frame does not allocate.
type Harmonicity struct {
	sr         float64
	minPitch   float64
	period     int       // longest period in samples: floor(sr/minPitch)
	halfWin    int       // half the correlation window
	win        int       // correlation window, ≈ one longest period
	maxLag     int       // longest lag correlated (= win)
	buf        []float64 // demeaned samples of the frame
	r          []float64 // correlation by lag, r[win+i] for i in [-win, win]
	candidates []int
}

// HNR silence handling as in Praat's "To Harmonicity (cc)": a frame whose
// peak is below silenceThreshold of the signal's peak needs a correlation
// above 2 - (relative peak)/silenceThreshold to count (so below half the
// threshold it never does).
const silenceThreshold = 0.1

// NewHarmonicity returns an analyser for the sample rate and pitch floor
// (Hz; 75 for speech). Rates or floors that would leave a window shorter
// than four samples fall back to 16 kHz and 75 Hz.
func NewHarmonicity(sampleRate int, minPitch float64) *Harmonicity {
	if sampleRate <= 0 || !(minPitch > 0) || float64(sampleRate)/minPitch < 8 {
		sampleRate, minPitch = 16000, 75
	}
	h := &Harmonicity{sr: float64(sampleRate), minPitch: minPitch}
	h.period = int(math.Floor(h.sr / minPitch))
	h.halfWin = h.period/2 - 1
	h.win = 2 * h.halfWin
	h.maxLag = h.win
	h.buf = make([]float64, h.win+h.maxLag)
	h.r = make([]float64, 2*h.win+1)
	h.candidates = make([]int, 0, h.win)
	return h
}

// Reach is how many samples to each side of a frame's centre Frame reads:
// a window must hold the centre ±Reach samples.
func (h *Harmonicity) Reach() int { return h.period + 2 }

// Frame analyses the frame centred at sample position u of x (0-based, may
// be fractional). It returns the strength r of the best periodicity
// candidate (0 when there is none, e.g. in digital silence) and the peak
// |x - local mean| near the centre, which callers compare with the signal's
// peak for the silence rule (see Voiced). Samples outside x count as zeros.
func (h *Harmonicity) Frame(x []float32, u float64) (r, localPeak float64) {
	at := func(i int) float64 {
		if i < 0 || i >= len(x) {
			return 0
		}
		v := float64(x[i])
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0
		}
		return v
	}
	left := int(math.Floor(u))
	right := left + 1
	// Remove the local mean (one longest period to each side) so that a DC
	// offset does not read as periodicity.
	var mean float64
	for i := right - h.period; i <= left+h.period; i++ {
		mean += at(i)
	}
	mean /= float64(2 * h.period)
	for i := right - h.halfWin; i < right+h.halfWin; i++ {
		localPeak = math.Max(localPeak, math.Abs(at(i)-mean))
	}
	if localPeak == 0 {
		return 0, 0
	}
	// The correlation window starts one longest period before the centre
	// and the lagged one slides forward from there.
	start := int(math.Floor(u - h.sr/h.minPitch))
	for i := range h.buf {
		h.buf[i] = at(start+i) - mean
	}
	a := h.buf[:h.win]
	var sx float64
	for _, v := range a {
		sx += v * v
	}
	sy := sx
	c := h.r[h.win:]
	c[0] = 1
	for lag := 1; lag <= h.maxLag; lag++ {
		if lag+h.win-1 < len(h.buf) {
			y0, yz := h.buf[lag-1], h.buf[lag+h.win-1]
			sy += yz*yz - y0*y0
		}
		b := h.buf[lag:]
		var p0, p1 float64
		j := 0
		n := min(len(a), len(b))
		for ; j+1 < n; j += 2 {
			p0 += a[j] * b[j]
			p1 += a[j+1] * b[j+1]
		}
		for ; j < n; j++ {
			p0 += a[j] * b[j]
		}
		v := 0.0
		if d := sx * sy; d > 0 {
			v = (p0 + p1) / math.Sqrt(d)
		}
		c[lag] = v
		h.r[h.win-lag] = v
	}
	// Candidates are positive local maxima; screen them by a parabola and
	// refine the two best with band-limited interpolation, which is what
	// decides the reported strength.
	h.candidates = h.candidates[:0]
	var best1, best2 int
	var b1, b2 float64
	for i := 2; i < h.win; i++ {
		if !(c[i] > 0 && c[i] > c[i-1] && c[i] >= c[i+1]) {
			continue
		}
		d := 0.5 * (c[i+1] - c[i-1])
		d2 := (c[i] - c[i-1]) + (c[i] - c[i+1])
		est := c[i]
		if d2 > 0 {
			est += 0.5 * d * d / d2
		}
		est = reflect(est)
		switch {
		case est > b1:
			best2, b2 = best1, b1
			best1, b1 = i, est
		case est > b2:
			best2, b2 = i, est
		}
	}
	for _, i := range []int{best1, best2} {
		if i == 0 {
			continue
		}
		r = math.Max(r, h.refine(i))
	}
	return r, localPeak
}

// reflect maps correlations above 1, which short windows can produce, back
// below it.
func reflect(v float64) float64 {
	if v > 1 {
		return 1 / v
	}
	return v
}

// sincDepth is how many correlation values each side enter the band-limited
// interpolation of a peak.
const sincDepth = 30

// refine returns the height of the correlation peak near lag i, maximised
// by golden-section search over a windowed-sinc interpolation of r in
// [i-1, i+1].
func (h *Harmonicity) refine(i int) float64 {
	f := func(lag float64) float64 { return h.interp(lag + float64(h.win)) }
	const g = 0.6180339887498949
	a, b := float64(i-1), float64(i+1)
	x1, x2 := b-g*(b-a), a+g*(b-a)
	f1, f2 := f(x1), f(x2)
	for b-a > 1e-4 {
		if f1 < f2 {
			a, x1, f1 = x1, x2, f2
			x2 = a + g*(b-a)
			f2 = f(x2)
		} else {
			b, x2, f2 = x2, x1, f1
			x1 = b - g*(b-a)
			f1 = f(x1)
		}
	}
	return reflect(math.Max(math.Max(f1, f2), h.r[h.win+i]))
}

// interp is windowed-sinc interpolation of h.r at real index x; the depth
// shrinks near the ends of the array so that only real values enter.
func (h *Harmonicity) interp(x float64) float64 {
	y := h.r
	ml := int(math.Floor(x))
	if ml < 0 || ml+1 >= len(y) {
		return y[max(0, min(len(y)-1, int(math.Round(x))))]
	}
	if x == float64(ml) {
		return y[ml]
	}
	depth := min(sincDepth, ml+1, len(y)-1-ml)
	// sin(π(x-k)) alternates sign with k, so one sine serves all terms.
	s := math.Sin(math.Pi * (x - float64(ml)))
	span := float64(depth) + 0.5
	// The window 0.5+0.5·cos(π(x-k)/span) steps by a constant angle per k:
	// a Chebyshev recurrence gives its cosines without calling cos.
	k0 := ml - depth + 1
	step := -math.Pi / span
	c2 := 2 * math.Cos(step)
	cPrev := math.Cos(math.Pi*(x-float64(k0))/span - step)
	cCur := math.Cos(math.Pi * (x - float64(k0)) / span)
	var sum float64
	for k := k0; k <= ml+depth; k++ {
		d := x - float64(k)
		sk := s
		if (ml-k)%2 != 0 {
			sk = -s
		}
		sum += y[k] * sk / (math.Pi * d) * (0.5 + 0.5*cCur)
		cPrev, cCur = cCur, c2*cCur-cPrev
	}
	return sum
}

// Voiced reports whether a frame with strength r and local peak localPeak
// has an HNR at all in a signal whose peak is globalPeak: it needs some
// periodicity, and more of it the quieter the frame is.
func Voiced(r, localPeak, globalPeak float64) bool {
	if !(globalPeak > 0) || !(r > 0) {
		return false
	}
	intensity := math.Min(localPeak/globalPeak, 1)
	return r > math.Max(0, 2-intensity/silenceThreshold)
}

// HNRdB converts a correlation strength to a harmonics-to-noise ratio,
// clamped to ±150 dB at the ends.
func HNRdB(r float64) float64 {
	switch {
	case !(r > 1e-15):
		return -150
	case r > 1-1e-15:
		return 150
	}
	return 10 * math.Log10(r/(1-r))
}

// NoHNR marks a frame without an HNR (silent or aperiodic) in HNRTrack's
// output, as Praat's -200.
const NoHNR = -200.0

// HNRTrack returns the HNR (dB) of every 10 ms frame of x, or NoHNR, and
// the time of the first frame; frames are fitted symmetrically into the
// signal as far as whole windows allow, as Praat does, so that frame i of
// both analyses looks at the same samples.
func HNRTrack(x []float32, sampleRate int, minPitch float64) (t0 float64, hnr []float64) {
	h := NewHarmonicity(sampleRate, minPitch)
	sr, step := h.sr, 0.01
	dur := float64(len(x)) / sr
	winDur := 2 / h.minPitch
	if dur < winDur {
		return 0, nil
	}
	n := int(math.Floor((dur-winDur)/step)) + 1
	t0 = dur/2 - float64(n)*step/2 + step/2
	var mean float64
	for _, v := range x {
		mean += float64(v)
	}
	mean /= float64(len(x))
	var gp float64
	for _, v := range x {
		gp = math.Max(gp, math.Abs(float64(v)-mean))
	}
	hnr = make([]float64, n)
	for i := range hnr {
		// Frame times put sample j at (j+0.5)/sr, the convention of the
		// frame grid above.
		u := (t0+float64(i)*step)*sr - 0.5
		r, lp := h.Frame(x, u)
		hnr[i] = NoHNR
		if Voiced(r, lp, gp) {
			hnr[i] = HNRdB(r)
		}
	}
	return t0, hnr
}

// MeanHNR is the mean over the frames that have an HNR.
func MeanHNR(hnr []float64) (float64, bool) {
	var s float64
	n := 0
	for _, v := range hnr {
		if v != NoHNR {
			s += v
			n++
		}
	}
	if n == 0 {
		return 0, false
	}
	return s / float64(n), true
}
