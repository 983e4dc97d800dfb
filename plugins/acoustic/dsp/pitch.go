package dsp

import "math"

// PitchConfig parameterises the YIN pitch tracker.
type PitchConfig struct {
	SampleRate int     // Hz
	MinF0      float64 // lowest reportable F0 in Hz; sets the window length
	MaxF0      float64 // highest reportable F0 in Hz; sets the shortest lag searched
	Threshold  float64 // CMNDF absolute threshold: dips above it are not periodic enough
	MinRMSdBFS float64 // energy gate: quieter windows are unvoiced without analysis
	// ContinueThreshold replaces Threshold for a window that follows a
	// voiced one (EstimateNear): voicing starts on clear periodicity and
	// holds through weaker, e.g. jittery or breathy, stretches. 0: Threshold.
	ContinueThreshold float64
	// JumpCost is added to a dip's CMNDF per octave it lies from the
	// previous F0 (EstimateNear), so a voiced stretch does not jump an
	// octave on a slightly deeper dip at a multiple of its period.
	JumpCost float64
}

// DefaultPitchConfig returns settings for 16 kHz speech: 75-600 Hz covers
// low male to high child voices, 0.15 is slightly more permissive than the
// 0.1 of the YIN paper to keep breathy voicing, and -50 dBFS rejects room
// noise while keeping quiet speech.
func DefaultPitchConfig() PitchConfig {
	return PitchConfig{
		SampleRate: 16000,
		MinF0:      75,
		MaxF0:      600,
		Threshold:  0.35,
		MinRMSdBFS: -50,

		ContinueThreshold: 0.55,
		JumpCost:          0.15,
	}
}

// Pitch is one F0 estimate.
type Pitch struct {
	F0          float64 // Hz; 0 when unvoiced, and callers must not report it as a pitch
	Voiced      bool    // a periodic, loud-enough window was found
	Periodicity float64 // 1 - CMNDF at the chosen lag, in [0, 1]; 0 when no lag was chosen
}

// octaveMargin is how much deeper (in CMNDF) a later dip must be before the
// tracker skips an earlier one that already passed the threshold. YIN's
// first-dip rule prevents subharmonic (too low) errors; this margin stops a
// shallow dip at half the period, caused by a strong second harmonic over a
// weak fundamental, from producing an octave-too-high estimate.
const octaveMargin = 0.05

// PitchTracker is a YIN F0 estimator (de Cheveigné & Kawahara, 2002) with
// preallocated buffers so that Estimate never allocates.
type PitchTracker struct {
	cfg    PitchConfig
	minLag int       // shortest lag searched: floor(sr/MaxF0)
	maxLag int       // longest lag searched: ceil(sr/MinF0)
	w      int       // integration window: two periods of MinF0
	buf    []float64 // window converted to float64
	d      []float64 // difference function d(τ), τ in [0, maxLag+1]
	cmndf  []float64 // cumulative mean normalised difference d'(τ)
}

// NewPitchTracker returns a tracker for cfg; zero or inconsistent fields are
// replaced by the DefaultPitchConfig values so that the tracker is always
// usable.
func NewPitchTracker(cfg PitchConfig) *PitchTracker {
	def := DefaultPitchConfig()
	if cfg.SampleRate <= 0 {
		cfg.SampleRate = def.SampleRate
	}
	if !(cfg.MinF0 > 0) {
		cfg.MinF0 = def.MinF0
	}
	if !(cfg.MaxF0 > cfg.MinF0) {
		cfg.MaxF0 = math.Max(def.MaxF0, 2*cfg.MinF0)
	}
	if !(cfg.Threshold > 0) {
		cfg.Threshold = def.Threshold
	}
	if !(cfg.ContinueThreshold > 0) {
		cfg.ContinueThreshold = cfg.Threshold
	}
	if !(cfg.JumpCost >= 0) {
		cfg.JumpCost = 0
	}
	if math.IsNaN(cfg.MinRMSdBFS) {
		cfg.MinRMSdBFS = def.MinRMSdBFS
	}
	sr := float64(cfg.SampleRate)
	p := &PitchTracker{cfg: cfg}
	// The lag search needs a neighbour on each side for interpolation and to
	// tell a true local minimum from a range edge, hence the ±1 margins.
	p.minLag = max(int(math.Floor(sr/cfg.MaxF0)), 2)
	p.maxLag = max(int(math.Ceil(sr/cfg.MinF0)), p.minLag+1)
	p.w = int(math.Ceil(2 * sr / cfg.MinF0))
	p.buf = make([]float64, p.w+p.maxLag+1)
	p.d = make([]float64, p.maxLag+2)
	p.cmndf = make([]float64, p.maxLag+2)
	return p
}

// Config returns the effective configuration after defaults were applied.
func (p *PitchTracker) Config() PitchConfig { return p.cfg }

// WindowSamples returns the window length Estimate needs: an integration
// window of two periods of MinF0 (YIN needs at least one full period inside
// the window at every lag; two make the lowest pitches stable) plus the
// maximum lag ceil(sr/MinF0) plus one sample for the interpolation
// neighbour. At the defaults that is 427+214+1 = 642 samples (40 ms).
func (p *PitchTracker) WindowSamples() int { return len(p.buf) }

// Estimate returns the pitch of x, which should hold WindowSamples samples
// centred on the hop. Longer inputs are cut to their centred part; shorter
// ones cannot hold the longest period and are reported unvoiced.
func (p *PitchTracker) Estimate(x []float32) Pitch { return p.EstimateNear(x, 0) }

// EstimateNear is Estimate for a window that follows one with pitch prevF0
// (Hz; 0 when that one was unvoiced): it applies ContinueThreshold and
// prefers dips near the previous period (see JumpCost). A live stream
// passes its last hop's F0, which makes the voicing decision hysteretic.
func (p *PitchTracker) EstimateNear(x []float32, prevF0 float64) Pitch {
	n := len(p.buf)
	if len(x) < n {
		return Pitch{}
	}
	off := (len(x) - n) / 2
	x = x[off : off+n]
	r := rms(x)
	if math.IsInf(r, 0) || !(levelDBFS(r) >= p.cfg.MinRMSdBFS) {
		return Pitch{}
	}
	for i, v := range x {
		p.buf[i] = float64(v)
	}
	p.difference()
	p.normalise()
	var tau int
	var ok bool
	if prevF0 > 0 && !math.IsInf(prevF0, 0) {
		tau, ok = p.pickNear(float64(p.cfg.SampleRate) / prevF0)
	} else {
		tau, ok = p.pickLag()
	}
	if !ok {
		return Pitch{}
	}
	lag := float64(tau) + p.refine(tau)
	if !(lag > 0) {
		return Pitch{}
	}
	return Pitch{
		F0:          float64(p.cfg.SampleRate) / lag,
		Voiced:      true,
		Periodicity: math.Min(math.Max(1-p.cmndf[tau], 0), 1),
	}
}

// difference computes d(τ) = Σ_{j<w} (x_j - x_{j+τ})² directly. At the
// defaults that is about 92k multiply-adds per window, cheaper in practice
// than the three FFTs of the autocorrelation form and free of its rounding;
// four accumulators break the add dependency chain.
func (p *PitchTracker) difference() {
	a := p.buf[:p.w]
	p.d[0] = 0
	for tau := 1; tau < len(p.d); tau++ {
		b := p.buf[tau : tau+len(a)]
		var s0, s1, s2, s3 float64
		j := 0
		for ; j+3 < len(a); j += 4 {
			e0 := a[j] - b[j]
			e1 := a[j+1] - b[j+1]
			e2 := a[j+2] - b[j+2]
			e3 := a[j+3] - b[j+3]
			s0 += e0 * e0
			s1 += e1 * e1
			s2 += e2 * e2
			s3 += e3 * e3
		}
		for ; j < len(a); j++ {
			e := a[j] - b[j]
			s0 += e * e
		}
		p.d[tau] = (s0 + s1) + (s2 + s3)
	}
}

// normalise computes d'(τ) = d(τ)·τ / Σ_{j=1..τ} d(j), with d'(0) = 1. The
// running mean removes YIN's bias towards lag 0 and makes one threshold work
// at every level.
func (p *PitchTracker) normalise() {
	p.cmndf[0] = 1
	var sum float64
	for tau := 1; tau < len(p.d); tau++ {
		sum += p.d[tau]
		if sum > 0 {
			p.cmndf[tau] = p.d[tau] * float64(tau) / sum
		} else {
			p.cmndf[tau] = 1
		}
	}
}

// pickLag applies YIN's absolute threshold: take the first dip below the
// threshold in [minLag, maxLag] and walk down to its local minimum. A dip is
// skipped when a later one is deeper by more than octaveMargin (see there).
// The window is unvoiced when the minimum sits on a range edge or the lag is
// a multiple of a shorter period (see shorterPeriod): the true period then
// lies outside [1/MaxF0, 1/MinF0] and any in-range answer would be an octave
// error.
func (p *PitchTracker) pickLag() (int, bool) {
	c := p.cmndf
	best := math.Inf(1) // deepest in-range local minimum
	for tau := p.minLag; tau <= p.maxLag; tau++ {
		if c[tau] < best && c[tau] <= c[tau-1] && c[tau] <= c[tau+1] {
			best = c[tau]
		}
	}
	th := p.cfg.Threshold
	if !(best < th) {
		return 0, false
	}
	for tau := p.minLag; tau <= p.maxLag; tau++ {
		if !(c[tau] < th) {
			continue
		}
		for tau < p.maxLag && c[tau+1] < c[tau] {
			tau++
		}
		if c[tau+1] < c[tau] || (tau == p.minLag && c[tau-1] < c[tau]) {
			return 0, false // minimum lies outside the lag range
		}
		if c[tau] <= best+octaveMargin {
			if p.shorterPeriod(tau) {
				return 0, false
			}
			return tau, true
		}
		// Shallow dip: climb out of it before looking for the next one.
		for tau < p.maxLag && c[tau+1] < th {
			tau++
		}
	}
	return 0, false
}

// pickNear chooses, among the in-range local minima of the CMNDF below
// ContinueThreshold, the one whose depth plus JumpCost per octave away from
// prevLag is least. Range edges and multiples of a shorter period are
// refused as in pickLag.
func (p *PitchTracker) pickNear(prevLag float64) (int, bool) {
	c := p.cmndf
	th := p.cfg.ContinueThreshold
	best, bestScore := 0, math.Inf(1)
	for tau := p.minLag; tau <= p.maxLag; tau++ {
		if !(c[tau] < th && c[tau] <= c[tau-1] && c[tau] <= c[tau+1]) {
			continue
		}
		score := c[tau] + p.cfg.JumpCost*math.Abs(math.Log2(float64(tau)/prevLag))
		if score < bestScore {
			best, bestScore = tau, score
		}
	}
	if best == 0 || (best == p.minLag && c[best-1] < c[best]) || (best == p.maxLag && c[best+1] < c[best]) {
		return 0, false
	}
	if p.shorterPeriod(best) {
		return 0, false
	}
	return best, true
}

// shorterPeriod reports whether a lag below minLag that divides tau (within
// a sample) dips about as deeply as tau itself: then tau is a multiple of a
// period above MaxF0, and reporting it would be an octave (or worse) error.
// Only exact sub-multiples are checked, so that an unrelated formant
// resonance at a short lag cannot veto a genuine pitch.
func (p *PitchTracker) shorterPeriod(tau int) bool {
	c := p.cmndf
	limit := c[tau] + octaveMargin
	for k := 2; ; k++ {
		sub := float64(tau) / float64(k)
		if sub < 2 {
			return false
		}
		if sub >= float64(p.minLag) {
			continue
		}
		i := int(math.Round(sub))
		m := min(c[i-1], c[i], c[i+1])
		if m < p.cfg.Threshold && m <= limit {
			return true
		}
	}
}

// dipFraction sets how far up the dip walls refine fits its parabola: to
// where d has climbed this fraction of the way from the dip to the mean of d.
// A twentieth spans ±5% of a sine's period, where its dip departs from a
// parabola by under 1%: wide enough to average noise at low F0, narrow
// enough to keep the fit's own bias below 0.05%.
const dipFraction = 0.05

// refine returns the sub-sample offset of the minimum of the raw difference
// function d near the integer lag tau (YIN's step 5 uses d rather than d',
// because the normalisation skews d' around the dip). It fits a
// least-squares parabola to d over ±h samples, where h grows while both dip
// walls stay low (see dipFraction). Three points (h = 1) suffice for clean
// signals, but at low F0 the dip is wide and flat, and with noise a
// three-point fit can miss by one or two samples; the adaptive width averages
// that out, while for harmonic-rich sounds, whose dips are narrow, it stays
// small by itself.
func (p *PitchTracker) refine(tau int) float64 {
	d := p.d
	var mean float64
	for _, v := range d[1 : tau+1] {
		mean += v
	}
	mean /= float64(tau)
	level := d[tau] + dipFraction*(mean-d[tau])
	hmax := max(min(tau-1, len(d)-1-tau, tau/4), 1)
	h := 1
	for h < hmax && d[tau-h-1] < level && d[tau+h+1] < level {
		h++
	}
	var sy, sxy, sx2y float64
	for x := -h; x <= h; x++ {
		y, fx := d[tau+x], float64(x)
		sy += y
		sxy += fx * y
		sx2y += fx * fx * y
	}
	// Closed-form least squares for y = a·x² + b·x + c on the symmetric grid
	// x = -h..h, where the odd moments of x vanish.
	fh := float64(h)
	n := 2*fh + 1
	s2 := fh * (fh + 1) * n / 3
	s4 := s2 * (3*fh*fh + 3*fh - 1) / 5
	a := (n*sx2y - s2*sy) / (n*s4 - s2*s2)
	b := sxy / s2
	if !(a > 0) {
		return 0
	}
	off := -b / (2 * a)
	return math.Max(-fh, math.Min(fh, off))
}
