package segment

import (
	"math"
	"sort"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
)

// Aggregate summarises every numeric field over items, which are in PTS
// order. Items with an error are left out: they carry no values; so are
// unfinished partials: their values are tentative.
func Aggregate(items []model.Item) map[string]model.Aggregate {
	series := map[string][]sample{}
	for _, it := range items {
		if it.Error != "" || isPartial(it) {
			continue
		}
		for k, v := range it.Fields {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				series[k] = append(series[k], sample{pts: it.PTS, dur: it.Duration, v: v})
			}
		}
	}
	out := make(map[string]model.Aggregate, len(series))
	for k, ss := range series {
		out[k] = summarise(ss)
	}
	return out
}

// sample is one item's value of one field.
type sample struct {
	pts, dur time.Duration
	v        float64
}

func summarise(ss []sample) model.Aggregate {
	vs := make([]float64, len(ss))
	var sum float64
	for i, s := range ss {
		vs[i] = s.v
		sum += s.v
	}
	rise, fall := slopes(ss)
	sort.Float64s(vs)
	n := float64(len(vs))
	mean := sum / n
	var sq float64
	for _, v := range vs {
		sq += (v - mean) * (v - mean)
	}
	a := model.Aggregate{
		N: len(vs), Mean: mean, Std: math.Sqrt(sq / n),
		Min: vs[0], Max: vs[len(vs)-1],
		P10: Percentile(vs, 0.10), P20: Percentile(vs, 0.20), P50: Percentile(vs, 0.50),
		P80: Percentile(vs, 0.80), P90: Percentile(vs, 0.90),
		RisingSlope: rise, FallingSlope: fall,
	}
	if mean != 0 {
		cv := a.Std / math.Abs(mean)
		a.CV = &cv
	}
	return a
}

// slopes returns the mean rate of change (per second, as magnitudes) of the
// rising and of the falling parts of ss, as eGeMAPS' slope functionals do.
// Parts are found within runs of consecutive items (the next starts within
// 1.5 durations of the previous; items without a duration never form a
// run), on values smoothed by a 3-point moving average within the run, as
// eGeMAPS smooths its descriptors (sma3), so that frame-to-frame noise does
// not cut a rise into many tiny parts. A part runs from a local extremum to
// the next one; flat steps end it.
func slopes(ss []sample) (rise, fall *float64) {
	var riseSum, fallSum float64
	var nRise, nFall int
	smooth := make([]float64, 0, len(ss))
	for start := 0; start < len(ss); {
		end := start + 1
		for end < len(ss) && ss[end-1].dur > 0 && ss[end].pts-ss[end-1].pts <= ss[end-1].dur*3/2 && ss[end].pts > ss[end-1].pts {
			end++
		}
		run := ss[start:end]
		start = end
		if len(run) < 2 {
			continue
		}
		smooth = smooth[:0]
		for i := range run {
			if i == 0 || i == len(run)-1 {
				smooth = append(smooth, run[i].v) // ends kept: a half window would bias them inwards
				continue
			}
			smooth = append(smooth, (run[i-1].v+run[i].v+run[i+1].v)/3)
		}
		// Walk the run, closing a part whenever the direction changes.
		from, dir := 0, 0
		closePart := func(to int) {
			if dir == 0 || to == from {
				return
			}
			rate := math.Abs(smooth[to]-smooth[from]) / (run[to].pts - run[from].pts).Seconds()
			if dir > 0 {
				riseSum += rate
				nRise++
			} else {
				fallSum += rate
				nFall++
			}
		}
		for i := 1; i < len(run); i++ {
			d := 0
			switch {
			case smooth[i] > smooth[i-1]:
				d = 1
			case smooth[i] < smooth[i-1]:
				d = -1
			}
			if d != dir {
				closePart(i - 1)
				from, dir = i-1, d
			}
		}
		closePart(len(run) - 1)
	}
	if nRise > 0 {
		r := riseSum / float64(nRise)
		rise = &r
	}
	if nFall > 0 {
		f := fallSum / float64(nFall)
		fall = &f
	}
	return rise, fall
}

// Percentile of sorted values by linear interpolation between closest ranks
// (the definition numpy uses by default), so p90 of a window is reproducible.
func Percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	pos := p * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	frac := pos - float64(lo)
	return sorted[lo] + (sorted[hi]-sorted[lo])*frac
}
