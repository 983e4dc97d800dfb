package dsp

import (
	"math"
	"math/rand/v2"
	"testing"
)

const sr = 16000

// sine returns n samples of amp·sin(2πft+phase) at the test sample rate.
func sine(n int, f, amp, phase float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(amp * math.Sin(2*math.Pi*f*float64(i)/sr+phase))
	}
	return x
}

// addNoise adds white Gaussian noise at snrDB below the signal's power.
func addNoise(x []float32, snrDB float64, rng *rand.Rand) {
	var p float64
	for _, v := range x {
		p += float64(v) * float64(v)
	}
	p /= float64(len(x))
	sigma := math.Sqrt(p / math.Pow(10, snrDB/10))
	for i := range x {
		x[i] += float32(sigma * rng.NormFloat64())
	}
}

// noise returns Gaussian white noise with the given RMS level in dBFS.
func noise(n int, dBFS float64, rng *rand.Rand) []float32 {
	sigma := math.Pow(10, dBFS/20)
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(sigma * rng.NormFloat64())
	}
	return x
}

// sawtooth is band-limited (additive up to Nyquist) so that the test
// measures the estimator, not aliasing.
func sawtooth(n int, f, amp float64) []float32 {
	x := make([]float32, n)
	for k := 1; float64(k)*f < sr/2; k++ {
		for i := range x {
			x[i] += float32(amp * 2 / math.Pi * math.Sin(2*math.Pi*float64(k)*f*float64(i)/sr) / float64(k))
		}
	}
	return x
}

// glottal is a Rosenberg glottal-flow pulse train (40 % opening, 16 %
// closing, closed phase after), differentiated to resemble radiated speech.
func glottal(n int, f, amp float64) []float32 {
	flow := func(ph float64) float64 {
		const tp, tn = 0.40, 0.16
		switch {
		case ph < tp:
			return 0.5 * (1 - math.Cos(math.Pi*ph/tp))
		case ph < tp+tn:
			return math.Cos(math.Pi / 2 * (ph - tp) / tn)
		}
		return 0
	}
	x := make([]float32, n)
	prev := 0.0
	var peak float64
	y := make([]float64, n)
	for i := range y {
		ph := math.Mod(f*float64(i)/sr, 1)
		v := flow(ph)
		y[i] = v - prev
		prev = v
		peak = math.Max(peak, math.Abs(y[i]))
	}
	for i := range x {
		x[i] = float32(amp * y[i] / peak)
	}
	return x
}

// pitchWindows runs the tracker on windows at several offsets through x and
// returns the worst relative F0 error; it fails the test on any unvoiced
// window.
func pitchWindows(t *testing.T, p *PitchTracker, x []float32, f float64) float64 {
	t.Helper()
	w := p.WindowSamples()
	worst := 0.0
	for off := 0; off+w <= len(x); off += 160 * 7 {
		got := p.Estimate(x[off : off+w])
		if !got.Voiced {
			t.Fatalf("f=%.2f off=%d: unvoiced (%+v)", f, off, got)
		}
		worst = math.Max(worst, math.Abs(got.F0-f)/f)
	}
	return worst
}

func TestPitchSines(t *testing.T) {
	freqs := []float64{80, 100, 110, 150, 196, 220, 261.63, 300, 350, 440, 500}
	cases := []struct {
		name  string
		phase bool
		snrDB float64 // 0: clean
		tol   float64
	}{
		{"clean", false, 0, 0.002},
		{"random-phase", true, 0, 0.002},
		{"snr20", true, 20, 0.01},
	}
	p := NewPitchTracker(DefaultPitchConfig())
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range cases {
		worst := 0.0
		for _, f := range freqs {
			phase := 0.0
			if c.phase {
				phase = rng.Float64() * 2 * math.Pi
			}
			x := sine(sr/2, f, 0.5, phase)
			if c.snrDB != 0 {
				addNoise(x, c.snrDB, rng)
			}
			e := pitchWindows(t, p, x, f)
			if e > c.tol {
				t.Errorf("%s f=%.2f: relative error %.4f%% > %.2f%%", c.name, f, 100*e, 100*c.tol)
			}
			worst = math.Max(worst, e)
		}
		t.Logf("%s: max F0 error %.4f%%", c.name, 100*worst)
	}
}

func TestPitchHarmonic(t *testing.T) {
	p := NewPitchTracker(DefaultPitchConfig())
	cases := []struct {
		name string
		gen  func(n int, f, amp float64) []float32
	}{
		{"sawtooth", sawtooth},
		{"glottal", glottal},
		{"weak-fundamental", func(n int, f, amp float64) []float32 {
			// A strong second harmonic over a weak fundamental makes plain
			// YIN dip below threshold at half the period (octave too high).
			x := sine(n, 2*f, amp, 0)
			for i, v := range sine(n, f, 0.2*amp, 0.3) {
				x[i] += v
			}
			return x
		}},
	}
	for _, c := range cases {
		for _, f := range []float64{120, 150, 220} {
			e := pitchWindows(t, p, c.gen(sr/2, f, 0.5), f)
			if e > 0.01 {
				t.Errorf("%s f=%v: relative error %.4f%%", c.name, f, 100*e)
			}
			t.Logf("%s f=%v: max F0 error %.4f%%", c.name, f, 100*e)
		}
	}
}

func TestPitchUnvoiced(t *testing.T) {
	p := NewPitchTracker(DefaultPitchConfig())
	w := p.WindowSamples()
	rng := rand.New(rand.NewPCG(3, 4))
	cases := []struct {
		name string
		x    []float32
	}{
		{"zeros", make([]float32, sr)},
		{"quiet-noise-70dBFS", noise(sr, -70, rng)},
		{"white-noise-10dBFS", noise(sr, -10, rng)},
		{"sine-below-MinF0", sine(sr, 55, 0.5, 0)},
		{"sine-above-MaxF0", sine(sr, 1000, 0.5, 0)},
		{"sine-far-above-MaxF0", sine(sr, 1500, 0.5, 0)},
		{"quiet-sine-60dBFS", sine(sr, 200, 0.001, 0)},
	}
	for _, c := range cases {
		maxPer, analysed := 0.0, false
		for off := 0; off+w <= len(c.x); off += 160 {
			got := p.Estimate(c.x[off : off+w])
			if got.Voiced || got.F0 != 0 {
				t.Fatalf("%s off=%d: got %+v, want unvoiced", c.name, off, got)
			}
			if RMSdBFS(c.x[off:off+w]) >= p.cfg.MinRMSdBFS {
				analysed = true
				// Best periodicity anywhere in range, from the tracker's
				// internal CMNDF: how close the window came to voicing.
				for _, v := range p.cmndf[p.minLag : p.maxLag+1] {
					maxPer = math.Max(maxPer, 1-v)
				}
			}
		}
		if analysed {
			t.Logf("%s: unvoiced in all windows, best in-range 1-CMNDF %.3f", c.name, maxPer)
		} else {
			t.Logf("%s: unvoiced in all windows (energy gate)", c.name)
		}
	}
	if got := p.Estimate(make([]float32, w-1)); got != (Pitch{}) {
		t.Errorf("short window: got %+v, want zero Pitch", got)
	}
}

func TestPitchWindowSamples(t *testing.T) {
	p := NewPitchTracker(DefaultPitchConfig())
	if got, want := p.WindowSamples(), 427+214+1; got != want {
		t.Errorf("WindowSamples = %d, want %d", got, want)
	}
	// Zero config falls back to defaults rather than producing a broken tracker.
	if got := NewPitchTracker(PitchConfig{}).WindowSamples(); got != 642 {
		t.Errorf("zero config WindowSamples = %d, want 642", got)
	}
	// A longer input is analysed on its centred part.
	x := sine(2*p.WindowSamples(), 200, 0.5, 0)
	if got := p.Estimate(x); !got.Voiced || math.Abs(got.F0-200) > 0.4 {
		t.Errorf("long input: %+v", got)
	}
}

func TestRMSdBFS(t *testing.T) {
	square := make([]float32, sr)
	for i := range square {
		square[i] = 1
		if (i/40)%2 == 1 {
			square[i] = -1
		}
	}
	cases := []struct {
		name string
		x    []float32
		want float64
	}{
		{"square-full-scale", square, 0},
		{"sine-full-scale", sine(sr, 440, 1, 0), -3.0103},
		{"sine-half", sine(sr, 440, 0.5, 0), -9.0309},
		{"zeros", make([]float32, 400), -120},
		{"empty", nil, -120},
	}
	for _, c := range cases {
		if got := RMSdBFS(c.x); math.Abs(got-c.want) > 0.01 {
			t.Errorf("%s: RMSdBFS = %.4f, want %.4f", c.name, got, c.want)
		}
	}
}

func TestZeroCrossingRate(t *testing.T) {
	dc := make([]float32, sr)
	for i := range dc {
		dc[i] = 0.3
	}
	cases := []struct {
		name string
		x    []float32
		want float64
		tol  float64
	}{
		{"sine-1kHz", sine(sr, 1000, 0.5, 0), 0.125, 0.00125},
		{"sine-1kHz-phase", sine(sr, 1000, 0.5, 1), 0.125, 0.00125},
		{"dc", dc, 0, 0},
		{"zeros", make([]float32, 100), 0, 0},
		{"alternating", []float32{1, -1, 1, -1, 1}, 1, 0},
		{"touch-zero", []float32{1, 0, 1, 0, 1}, 0, 0},
		{"through-zero", []float32{1, 0, -1, -1, -1}, 0.25, 0},
		{"leading-zeros", []float32{0, 0, -1, 1, 1}, 0.25, 0},
		{"single", []float32{1}, 0, 0},
	}
	for _, c := range cases {
		if got := ZeroCrossingRate(c.x); math.Abs(got-c.want) > c.tol {
			t.Errorf("%s: ZCR = %.5f, want %.5f", c.name, got, c.want)
		}
	}
}

func TestCentroid(t *testing.T) {
	s := NewSpectrum(400)
	if s.Size() != 512 {
		t.Fatalf("Size = %d, want 512", s.Size())
	}
	mix := sine(400, 500, 0.3, 0)
	for i, v := range sine(400, 1500, 0.3, 0.7) {
		mix[i] += v
	}
	cases := []struct {
		name   string
		x      []float32
		want   float64
		wantOK bool
	}{
		{"sine-1kHz", sine(400, 1000, 0.5, 0), 1000, true},
		{"sine-1kHz-short", sine(300, 1000, 0.5, 0.4), 1000, true},
		{"sine-3kHz", sine(400, 3000, 0.5, 0), 3000, true},
		{"two-tone-500-1500", mix, 1000, true},
		{"zeros", make([]float32, 400), 0, false},
		{"empty", nil, 0, false},
	}
	for _, c := range cases {
		got, ok := s.Centroid(c.x, sr)
		if ok != c.wantOK {
			t.Errorf("%s: ok = %v, want %v", c.name, ok, c.wantOK)
			continue
		}
		if ok && math.Abs(got-c.want)/c.want > 0.03 {
			t.Errorf("%s: centroid = %.1f Hz, want %.1f ±3%%", c.name, got, c.want)
		}
		if ok {
			t.Logf("%s: centroid %.1f Hz (want %.0f)", c.name, got, c.want)
		}
	}
}

// TestFFT checks the transform itself against a direct DFT.
func TestFFT(t *testing.T) {
	s := NewSpectrum(64)
	rng := rand.New(rand.NewPCG(5, 6))
	in := make([]float64, 64)
	for i := range in {
		in[i] = rng.Float64()*2 - 1
		s.re[i], s.im[i] = in[i], 0
	}
	s.fft()
	for k := range in {
		var re, im float64
		for n, v := range in {
			a := -2 * math.Pi * float64(k*n) / 64
			re += v * math.Cos(a)
			im += v * math.Sin(a)
		}
		if math.Abs(re-s.re[k]) > 1e-9 || math.Abs(im-s.im[k]) > 1e-9 {
			t.Fatalf("bin %d: got (%g,%g), want (%g,%g)", k, s.re[k], s.im[k], re, im)
		}
	}
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// TestRobustness feeds random windows of random shape and scale (fixed seed)
// through every feature and checks that outputs stay finite and in range.
func TestRobustness(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	p := NewPitchTracker(DefaultPitchConfig())
	s := NewSpectrum(400)
	pw := p.WindowSamples()
	buf := make([]float32, pw)
	for iter := 0; iter < 3000; iter++ {
		scale := math.Pow(10, -8*rng.Float64()) // up to 0 dBFS
		if iter%50 == 0 {
			scale = 1e30 // far out of range, must still not produce NaN
		}
		kind := rng.IntN(4)
		for i := range buf {
			var v float64
			switch kind {
			case 0:
				v = rng.Float64()*2 - 1
			case 1:
				v = rng.NormFloat64()
			case 2: // sparse clicks
				if rng.IntN(50) == 0 {
					v = rng.Float64()*2 - 1
				}
			case 3: // random periodic-ish
				v = math.Sin(float64(i)*0.05*float64(1+iter%17)) + 0.1*rng.NormFloat64()
			}
			buf[i] = float32(v * scale)
		}
		n := rng.IntN(len(buf) + 1)
		if r := RMSdBFS(buf[:n]); !finite(r) || r < FloorDBFS {
			t.Fatalf("iter %d: RMSdBFS = %v", iter, r)
		}
		if z := ZeroCrossingRate(buf[:n]); !finite(z) || z < 0 || z > 1 {
			t.Fatalf("iter %d: ZCR = %v", iter, z)
		}
		if c, ok := s.Centroid(buf[:min(n, 400)], sr); ok && (!finite(c) || c < 0 || c > sr/2) {
			t.Fatalf("iter %d: centroid = %v", iter, c)
		}
		got := p.Estimate(buf)
		if !finite(got.F0) || !finite(got.Periodicity) || got.Periodicity < 0 || got.Periodicity > 1 ||
			(!got.Voiced && got.F0 != 0) || (got.Voiced && (got.F0 < 70 || got.F0 > 700)) {
			t.Fatalf("iter %d: pitch = %+v", iter, got)
		}
	}
}

// TestNonFinite checks that NaN/Inf samples, which S16LE conversion never
// produces, still cannot leak NaN into reported features.
func TestNonFinite(t *testing.T) {
	p := NewPitchTracker(DefaultPitchConfig())
	s := NewSpectrum(400)
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		x := sine(p.WindowSamples(), 200, 0.5, 0)
		x[100] = bad
		if r := RMSdBFS(x); math.IsNaN(r) {
			t.Errorf("%v: RMSdBFS NaN", bad)
		}
		if z := ZeroCrossingRate(x); !finite(z) {
			t.Errorf("%v: ZCR = %v", bad, z)
		}
		if c, ok := s.Centroid(x[:400], sr); ok && !finite(c) {
			t.Errorf("%v: centroid = %v", bad, c)
		}
		if got := p.Estimate(x); !finite(got.F0) || !finite(got.Periodicity) {
			t.Errorf("%v: pitch = %+v", bad, got)
		}
	}
}

func TestNoAllocs(t *testing.T) {
	p := NewPitchTracker(DefaultPitchConfig())
	s := NewSpectrum(400)
	x := glottal(p.WindowSamples(), 130, 0.5)
	if a := testing.AllocsPerRun(20, func() { p.Estimate(x) }); a != 0 {
		t.Errorf("Estimate allocates %v times", a)
	}
	if a := testing.AllocsPerRun(20, func() { s.Centroid(x[:400], sr) }); a != 0 {
		t.Errorf("Centroid allocates %v times", a)
	}
}

func BenchmarkPitch(b *testing.B) {
	p := NewPitchTracker(DefaultPitchConfig())
	x := glottal(p.WindowSamples(), 130, 0.5)
	for b.Loop() {
		p.Estimate(x)
	}
}

func BenchmarkCentroid(b *testing.B) {
	s := NewSpectrum(400)
	x := glottal(400, 130, 0.5)
	for b.Loop() {
		s.Centroid(x, sr)
	}
}

// BenchmarkAllFeaturesPerAudioSecond runs every feature for the 100 hops of
// one second of audio, as the plugin does; one op is one audio second.
func BenchmarkAllFeaturesPerAudioSecond(b *testing.B) {
	p := NewPitchTracker(DefaultPitchConfig())
	s := NewSpectrum(400)
	pw := p.WindowSamples()
	x := glottal(sr+pw, 130, 0.5)
	addNoise(x, 25, rand.New(rand.NewPCG(9, 10)))
	for b.Loop() {
		for hop := 0; hop < 100; hop++ {
			c := hop*160 + pw/2 // hop centre
			w := x[c-200 : c+200]
			RMSdBFS(w)
			ZeroCrossingRate(w)
			s.Centroid(w, sr)
			p.Estimate(x[c-pw/2 : c-pw/2+pw])
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/audio-s")
}
