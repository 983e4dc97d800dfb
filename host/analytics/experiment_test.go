package analytics

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lsie-mlf/lsie/host/model"
)

func outcome(arm string, r any) model.ArmOutcome {
	o := model.ArmOutcome{Arm: arm}
	if v, ok := r.(float64); ok {
		o.Reward = &v
	}
	return o
}

func TestPosteriorExact(t *testing.T) {
	outs := []model.ArmOutcome{
		outcome("A", 0.5), outcome("A", 1.0), outcome("A", nil),
		outcome("B", 0.2), outcome("B", 1.7), // clamped to 1
		outcome("C", 1.0), // not an arm: ignored
	}
	s := Posterior([]string{"A", "B", "A", "D"}, outs, 1, 1)
	if len(s) != 3 || s[0].Arm != "A" || s[1].Arm != "B" || s[2].Arm != "D" {
		t.Fatalf("arms = %+v", s)
	}
	a, b, d := s[0], s[1], s[2]
	if a.N != 2 || a.NoReward != 1 || a.RewardSum != 1.5 || a.Alpha != 2.5 || a.Beta != 1.5 || a.PosteriorMean != 0.625 {
		t.Errorf("A = %+v", a)
	}
	eqPtr(t, "A mean", a.MeanReward, 0.75)
	if b.N != 2 || b.NoReward != 0 || !near(b.Alpha, 2.2, 1e-12) || !near(b.Beta, 1.8, 1e-12) {
		t.Errorf("B = %+v", b)
	}
	eqPtr(t, "B mean", b.MeanReward, 0.6)
	if d.N != 0 || d.MeanReward != nil || d.Alpha != 1 || d.Beta != 1 || d.PosteriorMean != 0.5 {
		t.Errorf("D = %+v", d)
	}
	// Beta(1,1) is uniform: the 95 % interval is [0.025, 0.975].
	if !near(d.CILow, 0.025, 1e-9) || !near(d.CIHigh, 0.975, 1e-9) {
		t.Errorf("D ci = %v %v", d.CILow, d.CIHigh)
	}
	// Beta(2.5, 1.5)'s interval, checked through the CDF.
	if !near(BetaCDF(a.CILow, 2.5, 1.5), 0.025, 1e-9) || !near(BetaCDF(a.CIHigh, 2.5, 1.5), 0.975, 1e-9) {
		t.Errorf("A ci = %v %v", a.CILow, a.CIHigh)
	}
	if sum := a.PBest + b.PBest + d.PBest; !near(sum, 1, 1e-9) {
		t.Errorf("p_best sums to %v", sum)
	}
	// Deterministic for equal inputs.
	again := Posterior([]string{"A", "B", "A", "D"}, outs, 1, 1)
	for i := range s {
		if s[i].PBest != again[i].PBest {
			t.Errorf("p_best differs: %v vs %v", s[i].PBest, again[i].PBest)
		}
	}
}

func TestPosteriorPriorAndEdgeCases(t *testing.T) {
	s := Posterior([]string{"A"}, []model.ArmOutcome{outcome("A", 0.0)}, 2, 3)
	if s[0].Alpha != 2 || s[0].Beta != 4 || s[0].PBest != 1 {
		t.Errorf("A = %+v", s[0])
	}
	s = Posterior([]string{"A"}, nil, 0, math.NaN())
	if s[0].Alpha != 1 || s[0].Beta != 1 {
		t.Errorf("defaulted prior = %+v", s[0])
	}
	if s := Posterior(nil, []model.ArmOutcome{outcome("A", 1.0)}, 1, 1); len(s) != 0 {
		t.Errorf("no arms = %+v", s)
	}
}

func TestPosteriorPBestSeparatedArms(t *testing.T) {
	var outs []model.ArmOutcome
	for range 50 {
		outs = append(outs, outcome("good", 0.9), outcome("bad", 0.1))
	}
	s := Posterior([]string{"bad", "good"}, outs, 1, 1)
	if s[1].PBest < 0.999 || s[0].PBest > 0.001 {
		t.Errorf("p_best = %v %v", s[0].PBest, s[1].PBest)
	}
}

func TestBetaQuantileKnownValues(t *testing.T) {
	// Beta(2,3) median: root of 6x²(1-x)² + 4x³(1-x) + x⁴ = 1/2.
	if got := BetaQuantile(0.5, 2, 3); !near(got, 0.38572756813238945, 1e-10) {
		t.Errorf("Beta(2,3) median = %.15f", got)
	}
	for _, p := range []float64{0.01, 0.025, 0.3, 0.5, 0.9, 0.975} {
		cases := []struct {
			name string
			a, b float64
			want float64
		}{
			{"uniform", 1, 1, p},
			{"Beta(2,1)", 2, 1, math.Sqrt(p)},
			{"Beta(1,2)", 1, 2, 1 - math.Sqrt(1-p)},
			{"arcsine", 0.5, 0.5, math.Pow(math.Sin(math.Pi*p/2), 2)},
		}
		for _, c := range cases {
			if got := BetaQuantile(p, c.a, c.b); !near(got, c.want, 1e-10) {
				t.Errorf("%s q(%v) = %.15f, want %.15f", c.name, p, got, c.want)
			}
		}
	}
	// Large, asymmetric parameters: the CDF at the quantile returns p.
	for _, ab := range [][2]float64{{101, 51}, {3.5, 900}, {0.3, 7}} {
		for _, p := range []float64{0.025, 0.5, 0.975} {
			q := BetaQuantile(p, ab[0], ab[1])
			if !near(BetaCDF(q, ab[0], ab[1]), p, 1e-9) {
				t.Errorf("Beta%v q(%v) = %v: cdf %v", ab, p, q, BetaCDF(q, ab[0], ab[1]))
			}
		}
	}
	if BetaQuantile(0, 2, 3) != 0 || BetaQuantile(1, 2, 3) != 1 || !math.IsNaN(BetaQuantile(0.5, 0, 1)) {
		t.Error("edge cases")
	}
}

func TestBetaCDFClosedForm(t *testing.T) {
	for _, x := range []float64{0.05, 0.2, 0.385, 0.5, 0.7, 0.95} {
		want := 6*x*x*(1-x)*(1-x) + 4*x*x*x*(1-x) + x*x*x*x
		if got := BetaCDF(x, 2, 3); !near(got, want, 1e-13) {
			t.Errorf("I_%v(2,3) = %v, want %v", x, got, want)
		}
	}
}

func TestBetaDrawMoments(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, ab := range [][2]float64{{2, 3}, {0.5, 0.5}, {30, 5}} {
		const n = 40000
		var sum, sq float64
		for range n {
			v := BetaDraw(rng, ab[0], ab[1])
			sum += v
			sq += v * v
		}
		a, b := ab[0], ab[1]
		mean, vr := sum/n, sq/n-(sum/n)*(sum/n)
		wantMean, wantVar := a/(a+b), a*b/((a+b)*(a+b)*(a+b+1))
		// Tolerances are several standard errors wide; the seed is fixed.
		if !near(mean, wantMean, 0.01) || !near(vr, wantVar, 0.01) {
			t.Errorf("Beta%v: mean %v var %v, want %v %v", ab, mean, vr, wantMean, wantVar)
		}
	}
	if !math.IsNaN(BetaDraw(rng, 0, 1)) {
		t.Error("invalid shape must give NaN")
	}
}

func TestThompsonPickConverges(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	var outs []model.ArmOutcome
	for range 100 {
		outs = append(outs,
			outcome("A", 0.85+0.1*rng.Float64()),
			outcome("B", 0.05+0.1*rng.Float64()))
	}
	s := Posterior([]string{"B", "A"}, outs, 1, 1)
	picks := map[string]int{}
	for range 1000 {
		picks[ThompsonPick(s, rng)]++
	}
	if picks["A"] <= 950 {
		t.Errorf("picks = %v", picks)
	}
	if ThompsonPick(nil, rng) != "" {
		t.Error("empty")
	}
	if got := ThompsonPick(s[:1], nil); got != "B" {
		t.Errorf("single arm = %q", got)
	}
}

// TestThompsonSimulation plays 3 Bernoulli arms (p 0.2, 0.5, 0.7) for 1000
// rounds: Thompson sampling must put most pulls on the best arm, and the
// incrementally kept posterior must equal Posterior over the outcomes.
func TestThompsonSimulation(t *testing.T) {
	rng := rand.New(rand.NewPCG(2024, 5))
	arms := []string{"low", "mid", "high"}
	p := map[string]float64{"low": 0.2, "mid": 0.5, "high": 0.7}
	s := make([]ArmSummary, len(arms))
	for i, a := range arms {
		s[i] = ArmSummary{Arm: a, Alpha: 1, Beta: 1}
	}
	var outs []model.ArmOutcome
	pulls := map[string]int{}
	for range 1000 {
		arm := ThompsonPick(s, rng)
		pulls[arm]++
		r := 0.0
		if rng.Float64() < p[arm] {
			r = 1
		}
		outs = append(outs, outcome(arm, r))
		for i := range s {
			if s[i].Arm == arm {
				s[i].Alpha += r
				s[i].Beta += 1 - r
			}
		}
	}
	if pulls["high"] < 700 {
		t.Errorf("pulls = %v", pulls)
	}
	post := Posterior(arms, outs, 1, 1)
	for i := range s {
		if post[i].Alpha != s[i].Alpha || post[i].Beta != s[i].Beta || post[i].N != pulls[arms[i]] {
			t.Errorf("%s: posterior %+v, incremental %+v", arms[i], post[i], s[i])
		}
	}
	if post[2].PBest < 0.9 {
		t.Errorf("p_best(high) = %v", post[2].PBest)
	}
}

func TestScheduleArm(t *testing.T) {
	sched := []string{"a", "b", "c"}
	want := []string{"a", "b", "c", "a", "b"}
	for m, w := range want {
		if got := ScheduleArm(sched, m); got != w {
			t.Errorf("markers %d: %q, want %q", m, got, w)
		}
	}
	if ScheduleArm(sched, -1) != "c" || ScheduleArm(nil, 3) != "" {
		t.Error("edge cases")
	}
}
