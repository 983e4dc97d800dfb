package segment

import (
	"math"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
)

// hops returns 10 ms items of field "f" with values vs starting at pts.
func hops(pts time.Duration, vs ...float64) []model.Item {
	out := make([]model.Item, len(vs))
	for i, v := range vs {
		out[i] = model.Item{PTS: pts + time.Duration(i)*10*time.Millisecond, Duration: 10 * time.Millisecond, Fields: map[string]float64{"f": v}}
	}
	return out
}

func near(t *testing.T, what string, got *float64, want, tol float64) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s absent, want %v", what, want)
	}
	if math.Abs(*got-want) > tol {
		t.Fatalf("%s = %v, want %v ± %v", what, *got, want, tol)
	}
}

// A triangle that rises by 1 per 10 ms hop (100/s) for 0.5 s and falls by
// 0.5 per hop (50/s) for 1 s: the slopes are its two rates.
func TestAggregateSlopes(t *testing.T) {
	var vs []float64
	for i := 0; i <= 50; i++ {
		vs = append(vs, float64(i))
	}
	for i := 1; i <= 100; i++ {
		vs = append(vs, 50-0.5*float64(i))
	}
	a := Aggregate(hops(0, vs...))["f"]
	// Smoothing rounds the peak, which shortens each part by one hop's
	// worth of height: within 3 %.
	near(t, "rising", a.RisingSlope, 100, 3)
	near(t, "falling", a.FallingSlope, 50, 1.5)

	// The same rise cut by a gap longer than 1.5 hops is two runs: the jump
	// across the gap is no slope at all.
	gapped := append(hops(0, 0, 1, 2, 3, 4), hops(time.Second, 100, 101, 102, 103, 104)...)
	g := Aggregate(gapped)["f"]
	near(t, "rising across gap", g.RisingSlope, 100, 1e-9)
	if g.FallingSlope != nil {
		t.Fatalf("falling slope %v on rising runs", *g.FallingSlope)
	}

	// Items without a duration (e.g. one per utterance) have no runs.
	if s := Aggregate([]model.Item{{PTS: 0, Fields: map[string]float64{"f": 1}}, {PTS: time.Second, Fields: map[string]float64{"f": 2}}})["f"]; s.RisingSlope != nil || s.FallingSlope != nil {
		t.Fatalf("slopes without durations: %+v", s)
	}
}

func TestAggregateFunctionals(t *testing.T) {
	vs := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	a := Aggregate(hops(0, vs...))["f"]
	if a.P20 != 2.8 || a.P50 != 5.5 || math.Abs(a.P80-8.2) > 1e-12 || a.N != 10 {
		t.Fatalf("percentiles %+v", a)
	}
	near(t, "cv", a.CV, math.Sqrt(8.25)/5.5, 1e-12)
	if z := Aggregate(hops(0, -1, 1))["f"]; z.CV != nil {
		t.Fatalf("cv of zero mean = %v, want absent", *z.CV)
	}
}
