package dsp

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/lsie-mlf/lsie/internal/testenv"
	"github.com/lsie-mlf/lsie/internal/wav"
	"github.com/lsie-mlf/lsie/plugins/acoustic/internal/praattest"
)

func writeWAV(t *testing.T, name string, x []float32) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := wav.WriteFile(p, wav.Sound{Rate: sr, Samples: x}); err != nil {
		t.Fatal(err)
	}
	return p
}

// quantise rounds x to 16 bits as the WAV that Praat reads does, so that
// both analyses see the same samples.
func quantise(x []float32) {
	for i, v := range x {
		x[i] = float32(math.Max(-32768, math.Min(32767, math.Round(float64(v)*32768)))) / 32768
	}
}

// padded puts x between 0.1 s of silence on each side with 20 ms fades,
// so that both analyses see a vowel's onset and offset rather than a cut.
func padded(x []float32) []float32 {
	const pad, fade = sr / 10, sr / 50
	out := make([]float32, len(x)+2*pad)
	for i, v := range x {
		g := 1.0
		if d := min(i, len(x)-1-i); d < fade {
			g = 0.5 - 0.5*math.Cos(math.Pi*float64(d)/fade)
		}
		out[pad+i] = float32(g * float64(v))
	}
	return out
}

// agreementVowels are the synthetic vowels of the Praat agreement tests:
// two perturbation levels (and a breathy one) at male and female pitches,
// 2 s long as sustained-vowel recordings are: at 1 s, the one or two pulses
// by which the two pulse pickers differ at the onset and offset already move
// a low jitter by ~10 %.
var agreementVowels = []struct {
	name string
	v    vowel
}{
	{"a-120Hz-low", vowel{f0: 120, jitter: 0.005, shimmer: 0.3, formants: vowelA, seconds: 2, seed: 1}},
	{"a-120Hz-high", vowel{f0: 120, jitter: 0.02, shimmer: 1.0, formants: vowelA, seconds: 2, seed: 2}},
	{"i-210Hz-low", vowel{f0: 210, jitter: 0.004, shimmer: 0.3, formants: vowelI, seconds: 2, seed: 3}},
	{"i-210Hz-high", vowel{f0: 210, jitter: 0.015, shimmer: 0.8, formants: vowelI, seconds: 2, seed: 6}},
	{"a-150Hz-breathy", vowel{f0: 150, jitter: 0.01, shimmer: 0.5, formants: vowelA, seconds: 2, noiseDB: -25, seed: 4}},
}

// checkAgreement compares the whole-signal measures (dsp.Report on the
// plugin's own pitch track) with Praat's voice report on the same samples:
// mean F0 over voiced frames (2 %), jitter (local) and shimmer (local, dB)
// over cc pulses (10 % relative), mean Harmonicity (cc) (1 dB).
func checkAgreement(t *testing.T, name string, x []float32, pr praattest.Report) {
	t.Helper()
	r := Report(x, sr, TrackPitch(x, sr, NewPitchTracker(DefaultPitchConfig())))
	rel := func(a, b float64) float64 { return math.Abs(a-b) / math.Abs(b) }
	t.Logf("%s: meanF0 %.3f / %.3f Hz (%+.2f%%); jitter %.5f / %.5f (%+.1f%%); shimmer %.4f / %.4f dB (%+.1f%%); HNR %.3f / %.3f dB (%+.3f); voiced frames %d / %d; pulses %d / %d  [ours / Praat]",
		name, r.MeanF0, pr.MeanF0, 100*(r.MeanF0/pr.MeanF0-1), r.Jitter, pr.Jitter, 100*(r.Jitter/pr.Jitter-1),
		r.ShimmerDB, pr.ShimmerDB, 100*(r.ShimmerDB/pr.ShimmerDB-1), r.HNR, pr.HNR, r.HNR-pr.HNR, r.VoicedFrames, pr.VoicedFrames, r.Pulses, pr.Pulses)
	if !(rel(r.MeanF0, pr.MeanF0) <= 0.02) {
		t.Errorf("%s: mean F0 %.3f Hz, Praat %.3f: more than 2%% apart", name, r.MeanF0, pr.MeanF0)
	}
	if !(rel(r.Jitter, pr.Jitter) <= 0.10) {
		t.Errorf("%s: jitter (local) %.5f, Praat %.5f: more than 10%% apart", name, r.Jitter, pr.Jitter)
	}
	if !(rel(r.ShimmerDB, pr.ShimmerDB) <= 0.10) {
		t.Errorf("%s: shimmer (local, dB) %.4f, Praat %.4f: more than 10%% apart", name, r.ShimmerDB, pr.ShimmerDB)
	}
	if !(math.Abs(r.HNR-pr.HNR) <= 1) {
		t.Errorf("%s: mean HNR (cc) %.3f dB, Praat %.3f: more than 1 dB apart", name, r.HNR, pr.HNR)
	}
}

// TestSegmentMeasuresAgreeWithPraatSynthetic: whole-signal measures on
// synthetic vowels of known perturbation, against Praat's.
func TestSegmentMeasuresAgreeWithPraatSynthetic(t *testing.T) {
	for _, c := range agreementVowels {
		x, per, amps := synthVowel(c.v)
		x = padded(x)
		quantise(x)
		pr := praattest.Run(t, writeWAV(t, c.name+".wav", x))
		t.Logf("%s: true jitter %.5f, true shimmer %.4f dB", c.name, trueJitter(per), trueShimmerDB(amps))
		checkAgreement(t, c.name, x, pr)
	}
}

const jfkPath = "../../../var/media/jfk.wav"

func readJFK(t *testing.T) []float32 {
	t.Helper()
	s, err := wav.ReadFile(jfkPath)
	if err != nil {
		testenv.Missing(t, "%v (scripts/fetch-media.sh fetches it)", err)
	}
	if s.Rate != sr {
		t.Fatalf("jfk.wav at %d Hz", s.Rate)
	}
	return s.Samples
}

// TestSegmentMeasuresAgreeWithPraatJFK: the same whole-signal measures on
// real speech (11 s, one male speaker).
func TestSegmentMeasuresAgreeWithPraatJFK(t *testing.T) {
	x := readJFK(t)
	checkAgreement(t, "jfk", x, praattest.Run(t, jfkPath))
}

// TestVoicedFramesAgreeWithPraatJFK: the plugin's voicing decision (the
// tracker with hysteresis, as TrackPitch runs it) against Praat's pitch
// track (To Pitch, 75–600 Hz) frame by frame.
func TestVoicedFramesAgreeWithPraatJFK(t *testing.T) {
	x := readJFK(t)
	pr := praattest.Run(t, jfkPath)
	tr := TrackPitch(x, sr, NewPitchTracker(DefaultPitchConfig()))
	agree, recall, _ := praattest.VoicedAgreement(func(k int) (bool, bool) {
		if k < 0 || k >= len(tr.F0) {
			return false, false
		}
		return tr.F0[k] > 0, true
	}, pr.Frames)
	t.Logf("jfk: voicing agrees on %.1f%% of Praat's frames; %.1f%% of Praat's voiced frames are voiced here", 100*agree, 100*recall)
	if agree < 0.85 {
		t.Errorf("voiced-frame agreement %.1f%% < 85%%", 100*agree)
	}
	if recall < 0.80 {
		t.Errorf("only %.1f%% of Praat's voiced frames voiced", 100*recall)
	}
}
