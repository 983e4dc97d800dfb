package segment

import (
	"math"
	"sort"

	"github.com/lsie-mlf/lsie/host/model"
)

// Aggregate summarises every numeric field over items. Items with an error
// are left out: they carry no values.
func Aggregate(items []model.Item) map[string]model.Aggregate {
	values := map[string][]float64{}
	for _, it := range items {
		if it.Error != "" {
			continue
		}
		for k, v := range it.Fields {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				values[k] = append(values[k], v)
			}
		}
	}
	out := make(map[string]model.Aggregate, len(values))
	for k, vs := range values {
		out[k] = summarise(vs)
	}
	return out
}

func summarise(vs []float64) model.Aggregate {
	sort.Float64s(vs)
	var sum float64
	for _, v := range vs {
		sum += v
	}
	n := float64(len(vs))
	mean := sum / n
	var ss float64
	for _, v := range vs {
		ss += (v - mean) * (v - mean)
	}
	return model.Aggregate{
		N: len(vs), Mean: mean, Std: math.Sqrt(ss / n),
		Min: vs[0], Max: vs[len(vs)-1],
		P10: Percentile(vs, 0.10), P50: Percentile(vs, 0.50), P90: Percentile(vs, 0.90),
	}
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
