package whisper

import (
	"encoding/binary"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/lsie-mlf/lsie/internal/wav"
)

func TestFFTMatchesDFT(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 8, 12, 25, 400, 14, 49} {
		p := newFFT(n)
		in := make([]complex128, n)
		for i := range in {
			in[i] = complex(rng.NormFloat64(), rng.NormFloat64())
		}
		out := make([]complex128, n)
		p.transform(in, out)
		for k := range n {
			var want complex128
			for j := range n {
				want += in[j] * cmplx.Rect(1, -2*math.Pi*float64(j*k)/float64(n))
			}
			if cmplx.Abs(out[k]-want) > 1e-9*float64(n) {
				t.Fatalf("n=%d bin %d: %v, want %v", n, k, out[k], want)
			}
		}
	}
}

func TestMelFilterbankShape(t *testing.T) {
	for _, nm := range []int{80, 128} {
		fb := melFilterbank(nm, sampleRate, nFFT)
		prev := -1
		for m, f := range fb {
			if len(f.weights) == 0 {
				t.Fatalf("%d mels: filter %d is empty", nm, m)
			}
			if f.first < prev || f.first+len(f.weights) > nBins {
				t.Fatalf("%d mels: filter %d at %d+%d", nm, m, f.first, len(f.weights))
			}
			prev = f.first
		}
	}
	// Slaney's scale is linear below 1 kHz and continuous there.
	if d := hzToMel(1000) - 15; math.Abs(d) > 1e-12 {
		t.Fatalf("mel(1 kHz) = %v, want 15", hzToMel(1000))
	}
	for _, f := range []float64{0, 500, 999, 1000, 4000, 8000} {
		if g := melToHz(hzToMel(f)); math.Abs(g-f) > 1e-9 {
			t.Fatalf("melToHz(hzToMel(%v)) = %v", f, g)
		}
	}
}

// numpyLogMel runs testdata/logmel_ref.py on pcm.
func numpyLogMel(t *testing.T, pcm []int16, nMels int) []float32 {
	t.Helper()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.s16"), filepath.Join(dir, "out.f32")
	b := make([]byte, 2*len(pcm))
	for i, s := range pcm {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(s))
	}
	if err := os.WriteFile(in, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if o, err := exec.Command(debianPython, "testdata/logmel_ref.py", in, strconv.Itoa(nMels), out).CombinedOutput(); err != nil {
		t.Fatalf("logmel_ref.py: %v\n%s", err, o)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 4*nMels*nFrames {
		t.Fatalf("reference has %d bytes, want %d", len(b), 4*nMels*nFrames)
	}
	ref := make([]float32, nMels*nFrames)
	for i := range ref {
		ref[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return ref
}

// TestLogMelMatchesNumpy compares the Go front end with an independent
// numpy implementation. Both compute in float64; the outputs are float32,
// whose rounding (≈6e-8 at |x| ≤ 1) bounds the expected difference well
// below the 1e-4 allowed.
func TestLogMelMatchesNumpy(t *testing.T) {
	python(t, "numpy")
	jfk, err := wav.ReadMono16k("../../../var/media/jfk.wav")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		pcm   []int16
		nMels int
	}{
		{"chirp 5s 80", chirp(5*sampleRate, 100, 7000, 0.5), 80},
		{"chirp 5s 128", chirp(5*sampleRate, 100, 7000, 0.5), 128},
		{"jfk 1.5-9.5s 80", jfk[sampleRate*3/2 : sampleRate*19/2], 80},
		{"jfk whole 128", jfk, 128},
		{"chirp 32s (cut to 30)", chirp(32*sampleRate, 50, 7900, 0.9), 80},
		{"quiet 0.3s", chirp(sampleRate*3/10, 440, 440, 0.001), 80},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ref := numpyLogMel(t, c.pcm, c.nMels)
			f := newFrontEnd(c.nMels)
			got := make([]float32, c.nMels*nFrames)
			f.logMel(c.pcm, got)
			worst, at := 0.0, 0
			for i := range got {
				if d := math.Abs(float64(got[i] - ref[i])); d > worst || math.IsNaN(d) {
					worst, at = d, i
				}
			}
			t.Logf("max |Go − numpy| = %.3g (mel %d, frame %d)", worst, at/nFrames, at%nFrames)
			if !(worst <= 1e-4) {
				t.Fatalf("max abs difference %.3g at mel %d frame %d: got %v want %v", worst, at/nFrames, at%nFrames, got[at], ref[at])
			}
		})
	}
}

func TestLogMelReusesBuffers(t *testing.T) {
	// A long utterance then a short one: no trace of the first may remain.
	f := newFrontEnd(80)
	a := make([]float32, 80*nFrames)
	f.logMel(chirp(20*sampleRate, 200, 3000, 0.8), a)
	short := chirp(sampleRate, 300, 600, 0.3)
	f.logMel(short, a)
	b := make([]float32, 80*nFrames)
	newFrontEnd(80).logMel(short, b)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("value %d: %v after a long utterance, %v fresh", i, a[i], b[i])
		}
	}
}

// BenchmarkLogMel30s is the front end on one full window; 30 s divided by
// ns/op is the real-time factor.
func BenchmarkLogMel30s(b *testing.B) {
	pcm := chirp(nSamples, 50, 7900, 0.5)
	f := newFrontEnd(80)
	out := make([]float32, 80*nFrames)
	b.ResetTimer()
	for range b.N {
		f.logMel(pcm, out)
	}
	b.ReportMetric(float64(30*1e9)/(float64(b.Elapsed().Nanoseconds())/float64(b.N)), "x_realtime")
}
