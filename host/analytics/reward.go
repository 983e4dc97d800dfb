package analytics

import (
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/lsie-mlf/lsie/host/model"
)

// Null reasons of a FaceReward.
const (
	NullTooFewFrames = "too_few_frames"
	NullNoSemantic   = "no_semantic"
	// NullNoUtterance: the semantic plugin ran but judged no utterance in
	// the segment (nobody spoke), so there is no gate to apply.
	NullNoUtterance = "no_utterance"
	NullNoIntensity = "no_intensity"
)

// Intensity sources of a FaceReward.
const (
	SourceBaseline = "baseline"
	SourceGeneric  = "generic"
)

// RewardConfig names the plugins and AU a reward is computed from.
type RewardConfig struct {
	// AUPlugin is the plugin emitting faceN.* fields (default "au").
	AUPlugin string
	// AU is the action unit field stem (default "au12").
	AU string
	// SemanticPlugin emits the semantic_gate field (default "semantic").
	SemanticPlugin string
	// MinFrames is the fewest analysed frames a face needs for a reward
	// (default 3; <= 0 means the default).
	MinFrames int
}

// WithDefaults returns c with empty fields set to their defaults.
func (c RewardConfig) WithDefaults() RewardConfig {
	if c.AUPlugin == "" {
		c.AUPlugin = "au"
	}
	if c.AU == "" {
		c.AU = "au12"
	}
	if c.SemanticPlugin == "" {
		c.SemanticPlugin = "semantic"
	}
	if c.MinFrames <= 0 {
		c.MinFrames = 3
	}
	return c
}

// maxIntensity is the top of the AU intensity scale (FACS A..E = 1..5).
const maxIntensity = 5.0

// Rewards computes one FaceReward per face found in the AU plugin's
// aggregates (ordered by face id) and the segment reward: the mean of the
// faces' non-nil gated rewards, nil when there is none.
func Rewards(seg model.Segment, cfg RewardConfig) (faces []model.FaceReward, reward *float64) {
	cfg = cfg.WithDefaults()
	gate := semanticGate(seg, cfg.SemanticPlugin)
	au, ok := seg.Plugins[cfg.AUPlugin]
	if !ok {
		return nil, nil
	}
	aggs := au.Aggregates
	var sum float64
	var n int
	for _, id := range faceIDs(aggs) {
		prefix := "face" + strconv.Itoa(id) + "."
		fr := model.FaceReward{Face: id, SemanticGate: gate}
		if a, ok := aggs[prefix+"present"]; ok {
			fr.NFramesInWindow = a.N
		}
		if a, ok := present(aggs, prefix+cfg.AU+"_c"); ok && finite(a.P90) {
			fr.P90Intensity, fr.IntensitySource = ptr(a.P90), SourceBaseline
		} else if a, ok := present(aggs, prefix+cfg.AU); ok && finite(a.P90) {
			fr.P90Intensity, fr.IntensitySource = ptr(a.P90), SourceGeneric
		}
		if a, ok := present(aggs, prefix+cfg.AU+"_b"); ok && finite(a.Mean) {
			fr.BaselineBNeutral = ptr(a.Mean)
		}
		switch {
		case fr.NFramesInWindow < cfg.MinFrames:
			fr.NullReason = NullTooFewFrames
		case gate == nil:
			fr.NullReason = NullNoSemantic
			if _, ran := seg.Plugins[cfg.SemanticPlugin]; ran {
				fr.NullReason = NullNoUtterance
			}
		case fr.P90Intensity == nil:
			fr.NullReason = NullNoIntensity
		default:
			r := *gate * clamp(*fr.P90Intensity/maxIntensity, 0, 1)
			fr.GatedReward = &r
			sum += r
			n++
		}
		faces = append(faces, fr)
	}
	if n > 0 {
		reward = ptr(sum / float64(n))
	}
	return faces, reward
}

// semanticGate is the Max of the semantic plugin's semantic_gate aggregate
// clamped to [0, 1]; nil when the plugin or the field has no value.
func semanticGate(seg model.Segment, plugin string) *float64 {
	p, ok := seg.Plugins[plugin]
	if !ok {
		return nil
	}
	a, ok := present(p.Aggregates, "semantic_gate")
	if !ok || !finite(a.Max) {
		return nil
	}
	return ptr(clamp(a.Max, 0, 1))
}

// faceIDs returns the sorted distinct N of all faceN.* aggregate keys.
func faceIDs(aggs map[string]model.Aggregate) []int {
	seen := map[int]bool{}
	for k := range aggs {
		rest, ok := strings.CutPrefix(k, "face")
		if !ok {
			continue
		}
		num, _, ok := strings.Cut(rest, ".")
		if !ok || num == "" {
			continue
		}
		id, err := strconv.Atoi(num)
		if err != nil || id < 0 {
			continue
		}
		seen[id] = true
	}
	ids := make([]int, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	return ids
}

// present returns the aggregate for key when it summarises at least one item.
func present(aggs map[string]model.Aggregate, key string) (model.Aggregate, bool) {
	a, ok := aggs[key]
	return a, ok && a.N > 0
}

func ptr(v float64) *float64 { return &v }

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }
