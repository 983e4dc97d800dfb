package dsp

import (
	"math"
	"slices"
)

// This file holds period-level voice measures: glottal pulses placed by
// waveform cross-correlation, and jitter and shimmer over the periods
// between them. They follow the definitions of Praat's "To PointProcess
// (periodic, cc)", "Get jitter (local)" and "Get shimmer (local_dB)" (see the
// Praat manual, "Voice 2. Jitter" and "Voice 3. Shimmer"), so that results
// can be checked against Praat on the same audio. Times are in seconds with
// sample j at j/sampleRate.

// PitchTrack is an F0 contour on a regular frame grid: frame i is centred at
// T0 + i·Step seconds; F0[i] is 0 where the frame is unvoiced.
type PitchTrack struct {
	T0, Step float64
	F0       []float64
	// End is the duration of the signal the track describes (seconds); times
	// after it have no pitch.
	End float64
}

// valueAt returns the F0 at t, interpolated linearly between the two nearest
// frames. It is undefined (ok false) when the nearest frame is unvoiced; when
// only the farther one is, the nearest frame's value is used. This makes a
// pulse walk stop within half a frame of the end of a voiced stretch.
func (tr PitchTrack) valueAt(t float64) (float64, bool) {
	if !(tr.Step > 0) || t < 0 || t > tr.End {
		return 0, false
	}
	pos := (t - tr.T0) / tr.Step
	left := int(math.Floor(pos))
	phase := pos - float64(left)
	near, far := left, left+1
	if phase >= 0.5 {
		near, far = left+1, left
		phase = 1 - phase
	}
	if near < 0 || near >= len(tr.F0) || !(tr.F0[near] > 0) {
		return 0, false
	}
	if far < 0 || far >= len(tr.F0) || !(tr.F0[far] > 0) {
		return tr.F0[near], true
	}
	return tr.F0[near] + phase*(tr.F0[far]-tr.F0[near]), true
}

// voicedIntervalAfter returns the first run of voiced frames that starts at
// or after time after, as the time span the frames cover.
func (tr PitchTrack) voicedIntervalAfter(after float64) (left, right float64, ok bool) {
	i := max(int(math.Ceil((after-tr.T0)/tr.Step)), 0)
	for i < len(tr.F0) && !(tr.F0[i] > 0) {
		i++
	}
	if i >= len(tr.F0) {
		return 0, 0, false
	}
	j := i
	for j+1 < len(tr.F0) && tr.F0[j+1] > 0 {
		j++
	}
	left = tr.T0 + float64(i)*tr.Step - tr.Step/2
	right = tr.T0 + float64(j)*tr.Step + tr.Step/2
	if left >= tr.End-tr.Step/2 {
		return 0, 0, false
	}
	left, right = math.Max(left, 0), math.Min(right, tr.End)
	if right <= after {
		return 0, 0, false
	}
	return left, right, true
}

// absPeak is the largest |x|, the reference for the relative level gates of
// pulse placement.
func absPeak(x []float32) float64 {
	var p float64
	for _, v := range x {
		p = math.Max(p, math.Abs(float64(v)))
	}
	return p
}

// extremumTime returns the time of the largest-magnitude sample in
// [tmin, tmax], refined by a parabola through it and its neighbours; the
// first pulse of a voiced stretch is put there.
func extremumTime(x []float32, sr float64, tmin, tmax float64) float64 {
	lo := max(int(math.Floor(tmin*sr)), 0)
	hi := min(int(math.Ceil(tmax*sr)), len(x)-1)
	if hi < lo {
		return (tmin + tmax) / 2
	}
	imin, imax := lo, lo
	for i := lo + 1; i <= hi; i++ {
		if x[i] < x[imin] {
			imin = i
		}
		if x[i] > x[imax] {
			imax = i
		}
	}
	if x[imin] == x[imax] {
		return (float64(lo) + float64(hi)) / 2 / sr
	}
	i := imax
	if math.Abs(float64(x[imin])) > math.Abs(float64(x[imax])) {
		i = imin
	}
	if i == lo || i == hi {
		return float64(i) / sr
	}
	l, m, r := float64(x[i-1]), float64(x[i]), float64(x[i+1])
	pos := float64(i)
	if d := 2*m - l - r; d != 0 {
		pos += 0.5 * (r - l) / d
	}
	return pos / sr
}

// maxCorrelation finds the time t in [tmin2, tmax2] at which the window of
// length win around t is most similar (normalised cross-correlation) to the
// window around t1. It returns that time, the correlation and the largest
// |x| in the best window. When no interior maximum lies in range, the time
// is the geometric middle of the range, as if the period were unchanged.
// corr is -1 when no lag could be compared at all.
func maxCorrelation(x []float32, sr, t1, win, tmin2, tmax2 float64) (t, corr, peak float64) {
	half := win / 2
	l1 := int(math.Round((t1 - half) * sr))
	r1 := int(math.Round((t1 + half) * sr))
	l2min := int(math.Floor((tmin2 - half) * sr))
	l2max := int(math.Ceil((tmax2 - half) * sr))
	best := -1.0
	var c1, c2, c3, bestLeft, bestRight, bestAt float64
	// Away from the ends of x (the usual case) the reference window's
	// energy is fixed and the other's slides, so each lag costs one product.
	inside := l1 >= 0 && r1 < len(x) && l2min >= 0 && l2max+(r1-l1) < len(x)
	var n1f float64
	if inside {
		for _, a := range x[l1 : r1+1] {
			n1f += float64(a) * float64(a)
		}
	}
	for l2 := l2min; l2 <= l2max; l2++ {
		shift := l2 - l1
		var n1, n2, p float64
		var pk float32
		if inside {
			a, b := x[l1:r1+1], x[l2:l2+r1-l1+1]
			n1 = n1f
			var p0, p1 float64
			i := 0
			for ; i+1 < len(a); i += 2 {
				p0 += float64(a[i]) * float64(b[i])
				p1 += float64(a[i+1]) * float64(b[i+1])
			}
			for ; i < len(a); i++ {
				p0 += float64(a[i]) * float64(b[i])
			}
			p = p0 + p1
			for _, v := range b {
				n2 += float64(v) * float64(v)
				if v < 0 {
					v = -v
				}
				if v > pk {
					pk = v
				}
			}
		} else {
			// Only samples inside x on both sides are compared.
			lo := max(l1, 0, -shift)
			hi := min(r1, len(x)-1, len(x)-1-shift)
			for i := lo; i <= hi; i++ {
				a, b := x[i], x[i+shift]
				n1 += float64(a) * float64(a)
				n2 += float64(b) * float64(b)
				p += float64(a) * float64(b)
				if b < 0 {
					b = -b
				}
				if b > pk {
					pk = b
				}
			}
		}
		c1, c2 = c2, c3
		c3 = 0
		if n1 > 0 && n2 > 0 {
			c3 = p / math.Sqrt(n1*n2)
		}
		// The window one lag back is a local maximum: keep the best one.
		if c2 > best && c2 >= c1 && c2 >= c3 {
			best, bestLeft, bestRight, bestAt, peak = c2, c1, c3, float64(l2-1), float64(pk)
		}
	}
	if best == -1 {
		return (tmin2 + tmax2) / 2, -1, 0
	}
	height := math.NaN()
	if d2 := (best - bestLeft) + (best - bestRight); d2 != 0 {
		d := 0.5 * (bestRight - bestLeft)
		height = best + 0.5*d*d/d2
		bestAt += d / d2
	}
	t = t1 + (bestAt-float64(l1))/sr
	if t >= tmin2 && t <= tmax2 {
		if !math.IsNaN(height) {
			best = height
		}
		return t, best, peak
	}
	mid := math.Sqrt((tmin2 - t1) * (tmax2 - t1))
	if tmin2 < t1 {
		mid = -mid
	}
	return t1 + mid, math.Max(best, c3), peak
}

// Pulse acceptance: a pulse inside a voiced stretch needs a correlation with
// its neighbour above pulseMinCorr and a peak above pulseMinPeak of the
// signal's peak; one found beyond the stretch's edge is kept only if it is
// clearly periodic and loud (edgeMinCorr, edgeMinPeak).
const (
	pulseMinCorr = 0.3
	pulseMinPeak = 0.01
	edgeMinCorr  = 0.7
	edgeMinPeak  = 0.023333
)

// Pulses places glottal pulses (times in seconds, ascending) in each voiced
// stretch of track: the first at the largest excursion within one period of
// the stretch's middle, then period by period to both sides, each at the
// lag (0.8 to 1.25 local periods away) where the waveform best matches the
// one around the previous pulse. This is the period picking of Praat's
// "Sound & Pitch: To PointProcess (cc)", so jitter and shimmer computed on
// these pulses are comparable with Praat's.
func Pulses(x []float32, sampleRate int, track PitchTrack) []float64 {
	return AppendPulses(nil, x, sampleRate, track)
}

// AppendPulses is Pulses appending to dst, so a per-hop caller reuses one
// buffer.
func AppendPulses(dst []float64, x []float32, sampleRate int, track PitchTrack) []float64 {
	sr := float64(sampleRate)
	if sr <= 0 || len(x) == 0 {
		return dst
	}
	gp := absPeak(x)
	if !(gp > 0) || math.IsInf(gp, 0) {
		return dst
	}
	out := dst
	addedRight := math.Inf(-1)
	for t := 0.0; ; {
		left, right, ok := track.voicedIntervalAfter(t)
		if !ok {
			break
		}
		t = right
		mid := (left + right) / 2
		f0, ok := track.valueAt(mid)
		if !ok {
			continue
		}
		first := extremumTime(x, sr, mid-0.5/f0, mid+0.5/f0)
		out = append(out, first)
		for tm := first; ; { // leftwards
			f0, ok := track.valueAt(tm)
			if !ok {
				break
			}
			var c, pk float64
			tm, c, pk = maxCorrelation(x, sr, tm, 1/f0, tm-1.25/f0, tm-0.8/f0)
			if c == -1 {
				tm -= 1 / f0
			}
			if tm < left {
				if c > edgeMinCorr && pk > edgeMinPeak*gp && tm-addedRight > 0.8/f0 {
					out = append(out, tm)
				}
				break
			}
			if c > pulseMinCorr && (pk == 0 || pk > pulseMinPeak*gp) && tm-addedRight > 0.8/f0 {
				out = append(out, tm)
			}
		}
		for tm := first; ; { // rightwards
			f0, ok := track.valueAt(tm)
			if !ok {
				break
			}
			var c, pk float64
			tm, c, pk = maxCorrelation(x, sr, tm, 1/f0, tm+0.8/f0, tm+1.25/f0)
			if c == -1 {
				tm += 1 / f0
			}
			if tm > right {
				if c > edgeMinCorr && pk > edgeMinPeak*gp {
					out = append(out, tm)
					addedRight = tm
				}
				break
			}
			if c > pulseMinCorr && (pk == 0 || pk > pulseMinPeak*gp) {
				out = append(out, tm)
				addedRight = tm
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// PeriodLimits says which intervals between pulses count as periods.
type PeriodLimits struct {
	MinPeriod, MaxPeriod float64 // seconds
	// MaxPeriodFactor: consecutive periods differing by more than this ratio
	// are not compared (one of them is likely a missed or extra pulse).
	MaxPeriodFactor float64
	// MaxAmplitudeFactor: the same for consecutive amplitudes (shimmer).
	MaxAmplitudeFactor float64
}

// DefaultPeriodLimits are Praat's voice-report defaults: periods of 0.1 to
// 20 ms (F0 50 Hz to 10 kHz), factor 1.3 between periods, 1.6 between
// amplitudes.
func DefaultPeriodLimits() PeriodLimits {
	return PeriodLimits{MinPeriod: 0.0001, MaxPeriod: 0.02, MaxPeriodFactor: 1.3, MaxAmplitudeFactor: 1.6}
}

func (l PeriodLimits) inRange(p float64) bool { return p >= l.MinPeriod && p <= l.MaxPeriod }

// pairOK reports whether two adjacent intervals are both periods and alike
// enough to be compared.
func (l PeriodLimits) pairOK(p1, p2 float64) bool {
	return l.inRange(p1) && l.inRange(p2) && math.Max(p1, p2)/math.Min(p1, p2) <= l.MaxPeriodFactor
}

// unlike reports whether interval q exists and differs from p by more than
// MaxPeriodFactor.
func (l PeriodLimits) unlike(p, q float64) bool {
	return q > 0 && math.Max(p, q)/math.Min(p, q) > l.MaxPeriodFactor
}

// MeanPeriod is the mean of the intervals between pulses that count as
// periods: in range and not unlike both of their neighbours.
func MeanPeriod(pulses []float64, l PeriodLimits) (float64, bool) {
	var sum float64
	n := 0
	for i := 0; i+1 < len(pulses); i++ {
		p := pulses[i+1] - pulses[i]
		if !(p > 0) || !l.inRange(p) {
			continue
		}
		// A period unlike both of its neighbours sits between a missed and
		// an extra pulse; one unlike a single neighbour is kept.
		if i > 0 && i+2 < len(pulses) && l.unlike(p, pulses[i]-pulses[i-1]) && l.unlike(p, pulses[i+2]-pulses[i+1]) {
			continue
		}
		sum += p
		n++
	}
	if n == 0 {
		return 0, false
	}
	return sum / float64(n), true
}

// JitterLocal returns the mean absolute difference between consecutive
// periods divided by the mean period (a ratio; ×100 for Praat's percent).
// Pairs that fail the limits are left out of the count, as in Praat's
// definition. ok is false with fewer than two usable periods.
func JitterLocal(pulses []float64, l PeriodLimits) (float64, bool) {
	periods := len(pulses) - 1
	if periods < 2 {
		return 0, false
	}
	var sum float64
	for i := 1; i+1 < len(pulses); i++ {
		p1, p2 := pulses[i]-pulses[i-1], pulses[i+1]-pulses[i]
		if l.pairOK(p1, p2) {
			sum += math.Abs(p1 - p2)
		} else {
			periods--
		}
	}
	if periods < 2 {
		return 0, false
	}
	mp, ok := MeanPeriod(pulses, l)
	if !ok || !(mp > 0) {
		return 0, false
	}
	return sum / float64(periods-1) / mp, true
}

// ShimmerLocalDB returns the mean absolute level difference in dB between
// the amplitudes of consecutive periods. A pulse's amplitude is the RMS of
// a Hann window reaching a fifth of a period to each side of it; pulses
// whose neighbouring intervals are not comparable periods have none, and
// consecutive amplitudes differing by more than MaxAmplitudeFactor are not
// compared. ok is false when no pair was compared.
func ShimmerLocalDB(x []float32, sampleRate int, pulses []float64, l PeriodLimits) (float64, bool) {
	sr := float64(sampleRate)
	if len(pulses) < 3 || sr <= 0 {
		return 0, false
	}
	var sum float64
	n := 0
	prevT, prevA := math.NaN(), 0.0
	for i := 1; i+1 < len(pulses); i++ {
		p1, p2 := pulses[i]-pulses[i-1], pulses[i+1]-pulses[i]
		if !l.pairOK(p1, p2) {
			continue
		}
		a := hannRMS(x, sr, pulses[i], 0.2*p1, 0.2*p2)
		if !(a > 0) || math.IsInf(a, 0) {
			continue
		}
		if !math.IsNaN(prevT) && l.inRange(pulses[i]-prevT) && math.Max(a, prevA)/math.Min(a, prevA) <= l.MaxAmplitudeFactor {
			sum += math.Abs(math.Log10(prevA / a))
			n++
		}
		prevT, prevA = pulses[i], a
	}
	if n == 0 {
		return 0, false
	}
	return 20 * sum / float64(n), true
}

// hannRMS is the RMS of x under a Hann window centred at tmid whose halves
// are wl and wr seconds long, normalised by the window's own energy; NaN
// when fewer than three samples fall inside.
func hannRMS(x []float32, sr, tmid, wl, wr float64) float64 {
	lo := max(int(math.Ceil((tmid-wl)*sr)), 0)
	hi := min(int(math.Floor((tmid+wr)*sr)), len(x)-1)
	if hi-lo+1 < 3 {
		return math.NaN()
	}
	var s, ws float64
	for i := lo; i <= hi; i++ {
		t := float64(i) / sr
		width := wr
		if t < tmid {
			width = wl
		}
		w := 0.5 + 0.5*math.Cos(math.Pi*(t-tmid)/width)
		v := float64(x[i]) * w
		s += v * v
		ws += w * w
	}
	if !(ws > 0) {
		return math.NaN()
	}
	return math.Sqrt(s / ws)
}

// WindowVoice is the per-hop form of jitter and shimmer: pulses are placed
// as by Pulses, but only within x (a window of a few periods around a hop)
// and with the hop's F0 throughout, and the same limits apply. With ~60 ms
// windows it sees 5 to 15 periods, so single values are noisy; their mean
// over a segment approximates the segment's JitterLocal and ShimmerLocalDB.
func WindowVoice(x []float32, sampleRate int, f0 float64) (jitter, shimmerDB float64, okJ, okS bool) {
	var v Voicer
	return v.Measure(x, sampleRate, f0)
}

// Voicer is WindowVoice with its buffers kept across hops: a stream's
// voiced hops then allocate nothing for their pulses.
type Voicer struct {
	pulses []float64
	f0     [1]float64
}

// Measure is WindowVoice.
func (v *Voicer) Measure(x []float32, sampleRate int, f0 float64) (jitter, shimmerDB float64, okJ, okS bool) {
	if !(f0 > 0) || math.IsInf(f0, 0) || sampleRate <= 0 || len(x) == 0 {
		return 0, 0, false, false
	}
	// The walk may look 1.75 periods past its last pulse (a 1.25-period
	// step plus half a period of correlation window). Keeping the stretch
	// that far from the window's ends keeps every correlation inside the
	// window: one cut short by the edge misplaces its pulse and reads as
	// jitter.
	end := float64(len(x)) / float64(sampleRate)
	margin := 1.75 / f0
	if end-2*margin < 1/f0 {
		return 0, 0, false, false
	}
	v.f0[0] = f0
	track := PitchTrack{T0: end / 2, Step: end - 2*margin, F0: v.f0[:], End: end}
	v.pulses = AppendPulses(v.pulses[:0], x, sampleRate, track)
	pulses := v.pulses
	lim := DefaultPeriodLimits()
	jitter, okJ = JitterLocal(pulses, lim)
	shimmerDB, okS = ShimmerLocalDB(x, sampleRate, pulses, lim)
	return jitter, shimmerDB, okJ, okS
}
