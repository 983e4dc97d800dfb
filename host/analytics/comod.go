package analytics

import (
	"math"
	"sort"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
)

// Sample is one point of a time series.
type Sample struct {
	T time.Time
	V float64
}

// CoModConfig sets the window and binning of CoModulate. Zero fields take
// the defaults.
type CoModConfig struct {
	// Window is how far back samples count (120 s).
	Window time.Duration
	// Bin is the width of the bins both series are averaged into (1 s).
	Bin time.Duration
	// MinSamples is the fewest paired bins for a correlation (10; at least 2).
	MinSamples int
}

// WithDefaults returns c with zero fields set to their defaults.
func (c CoModConfig) WithDefaults() CoModConfig {
	if c.Window <= 0 {
		c.Window = 120 * time.Second
	}
	if c.Bin <= 0 {
		c.Bin = time.Second
	}
	if c.MinSamples <= 0 {
		c.MinSamples = 10
	}
	// A correlation of fewer than two points is undefined.
	c.MinSamples = max(c.MinSamples, 2)
	return c
}

// CoModulate correlates series a (samples sa) and b (sb) over the window
// (at-Window, at]: both are averaged into Bin-wide bins aligned to at, bins
// holding samples of both are paired, and the value is their Pearson
// correlation. A null value comes with a reason: stale_source (either series
// is stale), too_few_samples or zero_variance.
func CoModulate(a, b string, sa, sb []Sample, staleA, staleB bool, at time.Time, cfg CoModConfig) model.CoModulation {
	cfg = cfg.WithDefaults()
	out := model.CoModulation{A: a, B: b}
	ba, bb := bins(sa, at, cfg), bins(sb, at, cfg)
	keys := make([]int64, 0, len(ba))
	for k := range ba {
		if _, ok := bb[k]; ok {
			keys = append(keys, k)
		}
	}
	// Summation order fixed so the value is reproducible bit for bit.
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	out.Samples = len(keys)
	switch {
	case staleA || staleB:
		out.NullReason = model.NullStaleSource
		return out
	case len(keys) < cfg.MinSamples:
		out.NullReason = model.NullTooFewSamples
		return out
	}
	xs, ys := make([]float64, len(keys)), make([]float64, len(keys))
	for i, k := range keys {
		xs[i], ys[i] = ba[k].mean(), bb[k].mean()
	}
	r, ok := pearson(xs, ys)
	if !ok {
		out.NullReason = model.NullZeroVariance
		return out
	}
	out.Value = &r
	return out
}

type acc struct {
	sum float64
	n   int
}

func (a acc) mean() float64 { return a.sum / float64(a.n) }

// bins averages the finite samples within (at-Window, at] into bins keyed by
// k = floor((at-T)/Bin), bin k covering (at-(k+1)·Bin, at-k·Bin].
func bins(s []Sample, at time.Time, cfg CoModConfig) map[int64]acc {
	out := map[int64]acc{}
	for _, p := range s {
		d := at.Sub(p.T)
		if d < 0 || d >= cfg.Window || !finite(p.V) {
			continue
		}
		k := int64(d / cfg.Bin)
		a := out[k]
		a.sum += p.V
		a.n++
		out[k] = a
	}
	return out
}

// pearson is the correlation of xs and ys; false when either is constant.
func pearson(xs, ys []float64) (float64, bool) {
	if constant(xs) || constant(ys) {
		return 0, false
	}
	n := float64(len(xs))
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx, my = mx/n, my/n
	var sxy, sxx, syy float64
	for i := range xs {
		dx, dy := xs[i]-mx, ys[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return 0, false
	}
	return clamp(sxy/math.Sqrt(sxx*syy), -1, 1), true
}

// constant is exact: a mean of equal values may differ from them by
// rounding, so the variance of a constant series is not reliably 0.
func constant(v []float64) bool {
	for _, x := range v[1:] {
		if x != v[0] {
			return false
		}
	}
	return true
}

// HeartRateSamples turns physiology events into a heart-rate series (bpm),
// oldest first: an event's hr_bpm at its Time, or, for an event without
// one, 60000/rr at the end time of each of its in-range RR intervals. The
// caller selects the subject; events of other kinds are ignored.
func HeartRateSamples(evs []model.TelemetryEvent) []Sample {
	var out []Sample
	for _, ev := range evs {
		if ev.Kind != model.TelemetryPhysiology {
			continue
		}
		if ev.HeartRate != nil && validHR(*ev.HeartRate) {
			out = append(out, Sample{T: ev.Time, V: *ev.HeartRate})
			continue
		}
		for _, iv := range intervals(ev) {
			if validRR(iv.ms) {
				out = append(out, Sample{T: iv.end, V: 60000 / iv.ms})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].T.Before(out[j].T) })
	return out
}
