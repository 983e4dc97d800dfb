package analytics

import (
	"testing"

	"github.com/lsie-mlf/lsie/host/model"
)

// agg is an aggregate summarising n items with the given mean, p90 and max.
func agg(n int, mean, p90, maxv float64) model.Aggregate {
	return model.Aggregate{N: n, Mean: mean, P90: p90, Max: maxv}
}

func segWith(au map[string]model.Aggregate, semantic map[string]model.Aggregate) model.Segment {
	seg := model.Segment{StreamID: "s", Plugins: map[string]model.PluginSegment{}}
	if au != nil {
		seg.Plugins["au"] = model.PluginSegment{Plugin: "au", Aggregates: au}
	}
	if semantic != nil {
		seg.Plugins["semantic"] = model.PluginSegment{Plugin: "semantic", Aggregates: semantic}
	}
	return seg
}

func gateAgg(maxv float64) map[string]model.Aggregate {
	return map[string]model.Aggregate{"semantic_gate": agg(2, maxv/2, maxv, maxv), "gate_score": agg(2, 0.4, 0.7, 0.8)}
}

func eqPtr(t *testing.T, name string, got *float64, want any) {
	t.Helper()
	switch w := want.(type) {
	case nil:
		if got != nil {
			t.Errorf("%s = %v, want nil", name, *got)
		}
	case float64:
		if got == nil {
			t.Errorf("%s = nil, want %v", name, w)
		} else if !near(*got, w, 1e-12) {
			t.Errorf("%s = %v, want %v", name, *got, w)
		}
	}
}

func TestRewardsBaselineIntensity(t *testing.T) {
	seg := segWith(map[string]model.Aggregate{
		"face0.present": agg(10, 1, 1, 1),
		"face0.au12":    agg(10, 1, 4.5, 5),
		"face0.au12_c":  agg(8, 1, 2.5, 3),
		"face0.au12_b":  agg(8, 0.125, 0.125, 0.125),
		"face0.au06":    agg(10, 1, 4, 4),
	}, gateAgg(1))
	faces, reward := Rewards(seg, RewardConfig{})
	if len(faces) != 1 {
		t.Fatalf("faces = %+v", faces)
	}
	f := faces[0]
	if f.Face != 0 || f.NFramesInWindow != 10 || f.IntensitySource != SourceBaseline || f.NullReason != "" {
		t.Errorf("face = %+v", f)
	}
	eqPtr(t, "p90", f.P90Intensity, 2.5)
	eqPtr(t, "b_neutral", f.BaselineBNeutral, 0.125)
	eqPtr(t, "gate", f.SemanticGate, 1.0)
	eqPtr(t, "gated", f.GatedReward, 0.5)
	eqPtr(t, "reward", reward, 0.5)
}

func TestRewardsGenericIntensityAndGateZero(t *testing.T) {
	seg := segWith(map[string]model.Aggregate{
		"face3.present": agg(3, 1, 1, 1),
		"face3.au12":    agg(3, 1, 2, 2),
	}, gateAgg(0))
	faces, reward := Rewards(seg, RewardConfig{})
	f := faces[0]
	if f.Face != 3 || f.IntensitySource != SourceGeneric || f.NullReason != "" {
		t.Errorf("face = %+v", f)
	}
	eqPtr(t, "p90", f.P90Intensity, 2.0)
	eqPtr(t, "b_neutral", f.BaselineBNeutral, nil)
	eqPtr(t, "gate", f.SemanticGate, 0.0)
	// A closed gate is a zero reward, not a missing one.
	eqPtr(t, "gated", f.GatedReward, 0.0)
	eqPtr(t, "reward", reward, 0.0)
}

func TestRewardsNoSemantic(t *testing.T) {
	au := map[string]model.Aggregate{"face0.present": agg(5, 1, 1, 1), "face0.au12": agg(5, 1, 3, 3)}
	for name, tc := range map[string]struct {
		seg    model.Segment
		reason string
	}{
		"plugin absent": {segWith(au, nil), NullNoSemantic},
		"field absent":  {segWith(au, map[string]model.Aggregate{"gate_score": agg(1, 0.2, 0.2, 0.2)}), NullNoUtterance},
		"field empty":   {segWith(au, map[string]model.Aggregate{"semantic_gate": {}}), NullNoUtterance},
	} {
		faces, reward := Rewards(tc.seg, RewardConfig{})
		if len(faces) != 1 || faces[0].NullReason != tc.reason {
			t.Errorf("%s: faces = %+v", name, faces)
		}
		eqPtr(t, name+" gate", faces[0].SemanticGate, nil)
		eqPtr(t, name+" gated", faces[0].GatedReward, nil)
		eqPtr(t, name+" p90", faces[0].P90Intensity, 3.0)
		eqPtr(t, name+" reward", reward, nil)
	}
}

func TestRewardsTooFewFramesAndNoIntensity(t *testing.T) {
	seg := segWith(map[string]model.Aggregate{
		"face0.present": agg(2, 1, 1, 1),
		"face0.au12":    agg(2, 1, 3, 3),
		"face1.present": agg(4, 1, 1, 1),
		"face1.au06":    agg(4, 1, 3, 3), // the configured AU is missing
		"face2.au12":    agg(4, 1, 3, 3), // never present
	}, gateAgg(1))
	faces, reward := Rewards(seg, RewardConfig{})
	want := []struct {
		face   int
		n      int
		reason string
	}{{0, 2, NullTooFewFrames}, {1, 4, NullNoIntensity}, {2, 0, NullTooFewFrames}}
	if len(faces) != len(want) {
		t.Fatalf("faces = %+v", faces)
	}
	for i, w := range want {
		f := faces[i]
		if f.Face != w.face || f.NFramesInWindow != w.n || f.NullReason != w.reason || f.GatedReward != nil {
			t.Errorf("face %d = %+v, want %+v", i, f, w)
		}
	}
	eqPtr(t, "reward", reward, nil)

	// MinFrames is configurable: 2 frames suffice at MinFrames 2.
	faces, reward = Rewards(seg, RewardConfig{MinFrames: 2})
	if faces[0].NullReason != "" {
		t.Errorf("face0 = %+v", faces[0])
	}
	eqPtr(t, "reward at MinFrames 2", reward, 0.6)
}

func TestRewardsMultipleFacesClampAndOrder(t *testing.T) {
	seg := segWith(map[string]model.Aggregate{
		"face10.present": agg(6, 1, 1, 1),
		"face10.au12_c":  agg(6, 1, 7, 7), // above the scale: clamped to 1
		"face2.present":  agg(6, 1, 1, 1),
		"face2.au12_c":   agg(6, 1, -1, 0), // below: clamped to 0
		"face1.present":  agg(6, 1, 1, 1),
		"face1.au12":     agg(6, 1, 1, 1),
		"face1.au12_b":   agg(6, 0.3, 0.3, 0.3),
		"face1.au04_c":   agg(6, 1, 5, 5), // another AU's baseline: not ours
		"faceX.present":  agg(6, 1, 1, 1), // not a face id
		"face.present":   agg(6, 1, 1, 1),
		"present":        agg(6, 1, 1, 1),
	}, gateAgg(1))
	faces, reward := Rewards(seg, RewardConfig{})
	if len(faces) != 3 || faces[0].Face != 1 || faces[1].Face != 2 || faces[2].Face != 10 {
		t.Fatalf("faces = %+v", faces)
	}
	if faces[0].IntensitySource != SourceGeneric || faces[1].IntensitySource != SourceBaseline {
		t.Errorf("sources = %q %q", faces[0].IntensitySource, faces[1].IntensitySource)
	}
	eqPtr(t, "face1 b", faces[0].BaselineBNeutral, 0.3)
	eqPtr(t, "face1", faces[0].GatedReward, 0.2)
	eqPtr(t, "face2", faces[1].GatedReward, 0.0)
	eqPtr(t, "face10", faces[2].GatedReward, 1.0)
	eqPtr(t, "reward", reward, 0.4)
}

func TestRewardsConfigured(t *testing.T) {
	seg := model.Segment{Plugins: map[string]model.PluginSegment{
		"faces": {Aggregates: map[string]model.Aggregate{"face0.present": agg(3, 1, 1, 1), "face0.au06": agg(3, 1, 4, 4)}},
		"gate":  {Aggregates: gateAgg(1)},
	}}
	faces, reward := Rewards(seg, RewardConfig{AUPlugin: "faces", AU: "au06", SemanticPlugin: "gate"})
	if len(faces) != 1 {
		t.Fatalf("faces = %+v", faces)
	}
	eqPtr(t, "reward", reward, 0.8)
	if faces, reward := Rewards(seg, RewardConfig{}); faces != nil || reward != nil {
		t.Errorf("no au plugin: %+v %v", faces, reward)
	}
}

func TestRewardConfigDefaults(t *testing.T) {
	got := RewardConfig{}.WithDefaults()
	if got != (RewardConfig{AUPlugin: "au", AU: "au12", SemanticPlugin: "semantic", MinFrames: 3}) {
		t.Errorf("defaults = %+v", got)
	}
}
