package analytics

import (
	"math"
	"math/rand/v2"

	"github.com/lsie-mlf/lsie/host/model"
)

// ArmSummary is one arm's outcomes and Beta posterior (docs/ANALYTICS.md).
type ArmSummary struct {
	Arm string `json:"arm"`
	// N counts the arm's outcomes that have a reward; NoReward those whose
	// segment had none (they do not move the posterior).
	N          int      `json:"n"`
	NoReward   int      `json:"no_reward"`
	RewardSum  float64  `json:"reward_sum"`
	MeanReward *float64 `json:"mean_reward"`
	// Alpha and Beta are the posterior's parameters: the prior plus the
	// summed rewards and the summed 1-rewards.
	Alpha         float64 `json:"alpha"`
	Beta          float64 `json:"beta"`
	PosteriorMean float64 `json:"posterior_mean"`
	// CILow and CIHigh bound the central 95 % credible interval (exact
	// Beta quantiles 0.025 and 0.975).
	CILow  float64 `json:"ci_low"`
	CIHigh float64 `json:"ci_high"`
	// PBest is the probability that this arm's draw is the highest
	// (Monte Carlo, PBestDraws draws, fixed seed).
	PBest float64 `json:"p_best"`
}

// PBestDraws is the number of Monte Carlo rounds behind ArmSummary.PBest
// (standard error at most 0.005).
const PBestDraws = 10000

// pBestSeed fixes the Monte Carlo stream so equal inputs give equal p_best.
const pBestSeed1, pBestSeed2 = 0x6c736965, 0x70626573

// Posterior summarises each arm (in the given order, duplicates dropped)
// from the outcomes; outcomes of arms not listed are ignored. Rewards are
// clamped to [0, 1]. Priors <= 0 (or NaN) mean 1 (uniform).
func Posterior(arms []string, outcomes []model.ArmOutcome, priorAlpha, priorBeta float64) []ArmSummary {
	if !(priorAlpha > 0) || math.IsInf(priorAlpha, 0) {
		priorAlpha = 1
	}
	if !(priorBeta > 0) || math.IsInf(priorBeta, 0) {
		priorBeta = 1
	}
	idx := map[string]int{}
	out := make([]ArmSummary, 0, len(arms))
	for _, a := range arms {
		if _, dup := idx[a]; dup {
			continue
		}
		idx[a] = len(out)
		out = append(out, ArmSummary{Arm: a, Alpha: priorAlpha, Beta: priorBeta})
	}
	for _, o := range outcomes {
		i, ok := idx[o.Arm]
		if !ok {
			continue
		}
		s := &out[i]
		if o.Reward == nil || math.IsNaN(*o.Reward) {
			s.NoReward++
			continue
		}
		r := clamp(*o.Reward, 0, 1)
		s.N++
		s.RewardSum += r
		s.Alpha += r
		s.Beta += 1 - r
	}
	for i := range out {
		s := &out[i]
		if s.N > 0 {
			s.MeanReward = ptr(s.RewardSum / float64(s.N))
		}
		s.PosteriorMean = s.Alpha / (s.Alpha + s.Beta)
		s.CILow = BetaQuantile(0.025, s.Alpha, s.Beta)
		s.CIHigh = BetaQuantile(0.975, s.Alpha, s.Beta)
	}
	pBest(out)
	return out
}

// pBest estimates each arm's probability of the highest draw; ties go to
// the earliest arm, as in ThompsonPick.
func pBest(s []ArmSummary) {
	if len(s) == 0 {
		return
	}
	if len(s) == 1 {
		s[0].PBest = 1
		return
	}
	rng := rand.New(rand.NewPCG(pBestSeed1, pBestSeed2))
	wins := make([]int, len(s))
	for range PBestDraws {
		wins[argmaxDraw(s, rng)]++
	}
	for i := range s {
		s[i].PBest = float64(wins[i]) / PBestDraws
	}
}

func argmaxDraw(s []ArmSummary, rng *rand.Rand) int {
	best, bestV := 0, math.Inf(-1)
	for i := range s {
		if v := BetaDraw(rng, s[i].Alpha, s[i].Beta); v > bestV {
			best, bestV = i, v
		}
	}
	return best
}

// ThompsonPick draws once from each arm's Beta(Alpha, Beta) and returns the
// arm with the highest draw (the earliest on a tie); "" when s is empty. A
// nil rng uses a randomly seeded one.
func ThompsonPick(s []ArmSummary, rng *rand.Rand) string {
	if len(s) == 0 {
		return ""
	}
	if rng == nil {
		rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	return s[argmaxDraw(s, rng)].Arm
}

// ScheduleArm is round robin: the arm for the next marker when markers have
// been seen already, schedule[markers mod len]; "" for an empty schedule.
func ScheduleArm(schedule []string, markers int) string {
	n := len(schedule)
	if n == 0 {
		return ""
	}
	return schedule[((markers%n)+n)%n]
}
