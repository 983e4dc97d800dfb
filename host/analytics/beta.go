package analytics

import (
	"math"
	"math/rand/v2"
)

// BetaCDF is the regularized incomplete beta function I_x(a, b), the CDF of
// Beta(a, b) at x (a, b > 0), by Lentz's continued fraction.
func BetaCDF(x, a, b float64) float64 {
	switch {
	case math.IsNaN(x) || a <= 0 || b <= 0:
		return math.NaN()
	case x <= 0:
		return 0
	case x >= 1:
		return 1
	}
	la, _ := math.Lgamma(a)
	lb, _ := math.Lgamma(b)
	lab, _ := math.Lgamma(a + b)
	front := math.Exp(lab - la - lb + a*math.Log(x) + b*math.Log1p(-x))
	// The continued fraction converges fast for x < (a+1)/(a+b+2); use the
	// symmetry I_x(a,b) = 1 - I_{1-x}(b,a) on the other side.
	if x < (a+1)/(a+b+2) {
		return front * betaCF(x, a, b) / a
	}
	return 1 - front*betaCF(1-x, b, a)/b
}

// betaCF evaluates the continued fraction of I_x(a, b) by the modified
// Lentz method: the terms alternate between an even and an odd form, and
// each term updates the running ratios c and d (kept away from zero) whose
// product scales the result.
func betaCF(x, a, b float64) float64 {
	const tiny, eps = 1e-300, 1e-15
	nonzero := func(v float64) float64 {
		if math.Abs(v) < tiny {
			return tiny
		}
		return v
	}
	c, d := 1.0, 1/nonzero(1-(a+b)*x/(a+1))
	h := d
	// step applies one term with numerator coefficient k and returns the
	// factor it changed the result by.
	step := func(k float64) float64 {
		d = 1 / nonzero(1+k*d)
		c = nonzero(1 + k/c)
		h *= d * c
		return d * c
	}
	for m := 1.0; m <= 1000; m++ {
		step(m * (b - m) * x / ((a + 2*m - 1) * (a + 2*m)))
		if del := step(-(a + m) * (a + b + m) * x / ((a + 2*m) * (a + 2*m + 1))); math.Abs(del-1) < eps {
			break
		}
	}
	return h
}

// BetaQuantile is the p-quantile of Beta(a, b): the x with I_x(a, b) = p,
// found by bisection (the CDF is monotone, so this cannot fail to converge)
// to a relative width of 1e-14 (relative, as small shapes put quantiles
// near 0 where the CDF is steep).
func BetaQuantile(p, a, b float64) float64 {
	switch {
	case math.IsNaN(p) || a <= 0 || b <= 0:
		return math.NaN()
	case p <= 0:
		return 0
	case p >= 1:
		return 1
	}
	lo, hi := 0.0, 1.0
	for i := 0; i < 1200 && hi-lo > 1e-14*hi; i++ {
		mid := (lo + hi) / 2
		if BetaCDF(mid, a, b) < p {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// gammaDraw samples Gamma(shape, 1) by Marsaglia and Tsang (2000); for
// shape < 1 it boosts: Gamma(a) = Gamma(a+1)·U^(1/a).
func gammaDraw(rng *rand.Rand, shape float64) float64 {
	if shape < 1 {
		return gammaDraw(rng, shape+1) * math.Pow(rng.Float64(), 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		if u < 1-0.0331*x*x*x*x {
			return d * v
		}
		if math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}

// BetaDraw samples Beta(a, b) as X/(X+Y) with X ~ Gamma(a), Y ~ Gamma(b).
// Invalid parameters (not > 0, or infinite) give NaN, which never wins an
// argmax.
func BetaDraw(rng *rand.Rand, a, b float64) float64 {
	if !(a > 0) || !(b > 0) || math.IsInf(a, 0) || math.IsInf(b, 0) {
		return math.NaN()
	}
	x, y := gammaDraw(rng, a), gammaDraw(rng, b)
	if x+y == 0 {
		// Both underflowed (tiny shapes): the mass sits at the ends, in
		// proportion a : b.
		if rng.Float64() < a/(a+b) {
			return 1
		}
		return 0
	}
	return x / (x + y)
}
