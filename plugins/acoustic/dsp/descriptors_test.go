package dsp

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestJitterShimmerConstructed checks the definitions on hand-made pulses:
// periods alternating 10.0 / 10.2 ms give jitter 0.2/10.1; a 30 ms gap is
// not a period and its pairs drop out.
func TestJitterShimmerConstructed(t *testing.T) {
	var pulses []float64
	tm := 0.01
	for i := 0; i < 21; i++ {
		pulses = append(pulses, tm)
		tm += 0.010 + 0.0002*float64(i%2)
	}
	tm += 0.030
	for i := 0; i < 10; i++ {
		pulses = append(pulses, tm)
		tm += 0.010 + 0.0002*float64(i%2)
	}
	lim := DefaultPeriodLimits()
	j, ok := JitterLocal(pulses, lim)
	if want := 0.0002 / 0.0101; !ok || math.Abs(j-want) > 1e-3*want {
		t.Errorf("jitter %v (%v), want %v", j, ok, want)
	}
	if _, ok := JitterLocal(pulses[:2], lim); ok {
		t.Error("jitter from one period")
	}

	// Clicks with amplitudes alternating 1 and 0.8: |20 log10 0.8| dB; the
	// Hann-windowed RMS around each click is proportional to its height.
	x := make([]float32, int(tm*sr)+100)
	for i, p := range pulses {
		a := float32(1)
		if i%2 == 1 {
			a = 0.8
		}
		k := int(math.Round(p * sr))
		x[k], x[k+1], x[k-1] = 0.5*a, 0.25*a, 0.25*a
	}
	// Put the pulses on the sample grid, where the clicks are.
	grid := make([]float64, len(pulses))
	for i, p := range pulses {
		grid[i] = math.Round(p*sr) / sr
	}
	s, ok := ShimmerLocalDB(x, sr, grid, lim)
	if want := -20 * math.Log10(0.8); !ok || math.Abs(s-want) > 0.01 {
		t.Errorf("shimmer %v dB (%v), want %v", s, ok, want)
	}
	if _, ok := ShimmerLocalDB(make([]float32, len(x)), sr, grid, lim); ok {
		t.Error("shimmer of silence")
	}
}

// TestJitterShimmerSyntheticKnown measures synthetic vowels of known
// perturbation (true values from the generated periods and amplitudes).
// The measures see closure-to-closure intervals of the filtered waveform,
// so they are within 25 % of the truth (the resonators' ringing carries
// energy from one cycle into the next, which shifts both ways), not
// exact; and a stronger perturbation must read stronger.
func TestJitterShimmerSyntheticKnown(t *testing.T) {
	type res struct{ j, s float64 }
	for _, c := range []struct {
		f0  float64
		fm  [][2]float64
		lvl [2][2]float64 // (jitter, shimmer dB) low and high
	}{
		{120, vowelA, [2][2]float64{{0.005, 0.3}, {0.02, 1.0}}},
		{210, vowelI, [2][2]float64{{0.004, 0.3}, {0.015, 0.8}}},
	} {
		var got [2]res
		for l, lv := range c.lvl {
			x, per, amps := synthVowel(vowel{f0: c.f0, jitter: lv[0], shimmer: lv[1], formants: c.fm, seconds: 2, seed: uint64(10 + l)})
			x = padded(x)
			r := Report(x, sr, TrackPitch(x, sr, NewPitchTracker(DefaultPitchConfig())))
			tj, ts := trueJitter(per), trueShimmerDB(amps)
			t.Logf("f0 %v level %d: jitter %.5f (true %.5f), shimmer %.4f dB (true %.4f)", c.f0, l, r.Jitter, tj, r.ShimmerDB, ts)
			if math.Abs(r.Jitter/tj-1) > 0.25 {
				t.Errorf("f0 %v level %d: jitter %.5f, true %.5f", c.f0, l, r.Jitter, tj)
			}
			if math.Abs(r.ShimmerDB/ts-1) > 0.25 {
				t.Errorf("f0 %v level %d: shimmer %.4f dB, true %.4f", c.f0, l, r.ShimmerDB, ts)
			}
			if math.Abs(r.MeanF0/c.f0-1) > 0.02 {
				t.Errorf("f0 %v: mean F0 %.2f", c.f0, r.MeanF0)
			}
			got[l] = res{r.Jitter, r.ShimmerDB}
		}
		if !(got[1].j > 2*got[0].j && got[1].s > 2*got[0].s) {
			t.Errorf("f0 %v: high perturbation %+v not above low %+v", c.f0, got[1], got[0])
		}
	}
}

// TestHNR: a sine is nearly all harmonic, white noise nearly none, and
// adding noise to a vowel lowers its HNR by about as much.
func TestHNR(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	mean := func(x []float32) float64 {
		_, h := HNRTrack(x, sr, 75)
		m, ok := MeanHNR(h)
		if !ok {
			return math.Inf(-1)
		}
		return m
	}
	if h := mean(sine(sr, 200, 0.5, 0)); h < 40 {
		t.Errorf("sine HNR %.1f dB", h)
	}
	if h := mean(noise(sr, -20, rng)); h > 0 {
		t.Errorf("white noise HNR %.1f dB", h)
	}
	v := vowel{f0: 140, formants: vowelA, seconds: 1, seed: 7}
	var prev = math.Inf(1)
	for _, nd := range []float64{-30, -20, -10} {
		v.noiseDB = nd
		x, _, _ := synthVowel(v)
		h := mean(x)
		t.Logf("vowel with noise at %v dB: HNR %.1f dB", nd, h)
		if !(h < prev) {
			t.Errorf("noise %v dB: HNR %.1f not below %.1f", nd, h, prev)
		}
		prev = h
	}
	if _, h := HNRTrack(make([]float32, sr), sr, 75); len(h) == 0 || h[0] != NoHNR {
		t.Errorf("silence: %v", h[:1])
	}
	if _, h := HNRTrack(make([]float32, 10), sr, 75); h != nil {
		t.Errorf("short: %v", h)
	}
	if HNRdB(0.5) != 0 || HNRdB(0) != -150 || HNRdB(1) != 150 {
		t.Error("HNRdB end points")
	}
}

// TestSpectralDescriptors checks alpha ratio, Hammarberg index, slopes,
// MFCCs and loudness on signals whose values follow from their spectra.
func TestSpectralDescriptors(t *testing.T) {
	s := NewSpectrum(400)
	size := s.Size()
	alpha := func(x []float32) float64 { return AlphaRatio(s.Power(x), sr, size) }
	if a := alpha(sine(400, 300, 0.5, 0)); a < 20 {
		t.Errorf("300 Hz alpha ratio %.1f dB", a)
	}
	if a := alpha(sine(400, 3000, 0.5, 0)); a > -20 {
		t.Errorf("3 kHz alpha ratio %.1f dB", a)
	}
	// Two tones 20 dB apart: Hammarberg reads their level difference.
	mix := sine(400, 1000, 0.5, 0)
	for i, v := range sine(400, 3000, 0.05, 0.3) {
		mix[i] += v
	}
	if h := HammarbergIndex(s.Power(mix), sr, size); math.Abs(h-20) > 1.5 {
		t.Errorf("Hammarberg %.2f dB, want 20", h)
	}
	// White noise is flat: slopes near 0; a vowel falls from 500 to 1500.
	rng := rand.New(rand.NewPCG(13, 14))
	var sl float64
	for i := 0; i < 50; i++ {
		sl += SpectralSlope(s.Power(noise(400, -20, rng)), sr, size, 500, 1500) / 50
	}
	if math.Abs(sl) > 0.003 {
		t.Errorf("white-noise slope %.4f dB/Hz", sl)
	}
	x, _, _ := synthVowel(vowel{f0: 120, formants: vowelI, seconds: 0.2, seed: 8})
	if sl := SpectralSlope(s.Power(x[1000:1400]), sr, size, 500, 1500); sl > -0.01 {
		t.Errorf("/i/ slope 500-1500 Hz %.4f dB/Hz, want falling", sl)
	}
	mb := NewMelBank(sr, size, 26, 20, 8000, 4)
	c := make([]float64, 5)
	mb.MFCC(mb.Energies(s.Power(noise(400, -20, rng))), c)
	low := make([]float64, 5)
	mb.MFCC(mb.Energies(s.Power(sine(400, 200, 0.5, 0))), low)
	// A flat spectrum has little cepstral shape; a low tone a large c1.
	if math.Abs(c[1]) > 0.3*math.Abs(low[1]) || low[1] < 10 {
		t.Errorf("mfcc1 noise %.2f, 200 Hz %.2f", c[1], low[1])
	}
	mb.MFCC(mb.Energies(s.Power(make([]float32, 400))), c)
	for i, v := range c {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Errorf("silence mfcc%d = %v", i, v)
		}
	}
	// Loudness doubles (10^0.3) per +10 dB.
	l1 := Loudness(mb.Energies(s.Power(sine(400, 1000, 0.05, 0))))
	l2 := Loudness(mb.Energies(s.Power(sine(400, 1000, 0.05*math.Sqrt(10), 0))))
	if r := l2 / l1; math.Abs(r-math.Pow(10, 0.3)) > 0.01 {
		t.Errorf("loudness ratio for +10 dB %.3f", r)
	}
	if l := Loudness(mb.Energies(s.Power(make([]float32, 400)))); l != 0 {
		t.Errorf("silence loudness %v", l)
	}
	if s.Power(nil) != nil {
		t.Error("empty power spectrum")
	}
}

// TestWindowVoice: per-hop jitter over a 60 ms window of a perturbed vowel
// is in the range of the segment value; an unvoiced call gives nothing.
func TestWindowVoice(t *testing.T) {
	x, per, _ := synthVowel(vowel{f0: 150, jitter: 0.01, shimmer: 0.5, formants: vowelA, seconds: 1, seed: 9})
	var sum float64
	n := 0
	for c := 1000; c+480 < len(x)-1000; c += 160 {
		j, _, ok, _ := WindowVoice(x[c-480:c+480], sr, 150)
		if ok {
			sum += j
			n++
		}
	}
	if n < 80 {
		t.Fatalf("%d windows with jitter", n)
	}
	m, tj := sum/float64(n), trueJitter(per)
	t.Logf("mean jitter over %d 60 ms windows %.5f, true %.5f", n, m, tj)
	if math.Abs(m/tj-1) > 0.25 {
		t.Errorf("mean window jitter %.5f, true %.5f", m, tj)
	}
	if _, _, okJ, okS := WindowVoice(x[:960], sr, 0); okJ || okS {
		t.Error("voice measures with F0 0")
	}
	if _, _, okJ, _ := WindowVoice(make([]float32, 960), sr, 150); okJ {
		t.Error("jitter of silence")
	}
}
