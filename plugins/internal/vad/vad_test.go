package vad

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/internal/testenv"
	"github.com/lsie-mlf/lsie/internal/wav"
	"github.com/lsie-mlf/lsie/plugins/internal/onnx"
)

// openModel opens Silero from the repository's model folder.
func openModel(t testing.TB) *Model {
	t.Helper()
	dir, err := filepath.Abs("../../../var/models")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{ModelFile, onnx.LibraryName} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			testenv.Missing(t, "%s in var/models (scripts/fetch-models.sh)", f)
		}
	}
	m, err := Open(map[string]string{"model_dir": dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// seg runs a Segmenter over probabilities, one per window, and returns
// every event, then those of a Flush at the last window's end.
func seg(cfg Config, probs ...float32) []Event {
	s := NewSegmenter(cfg, 0)
	var out []Event
	for _, p := range probs {
		out = append(out, s.Push(p)...)
	}
	return append(out, s.Flush(s.Position())...)
}

// windows repeats p n times.
func windows(n int, p float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = p
	}
	return out
}

func cat(parts ...[]float32) []float32 {
	var out []float32
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// testCfg has round numbers of windows: min speech 4, min silence 5, pad 2.
func testCfg() Config {
	return Config{Threshold: 0.5, NegThreshold: 0.35, MinSpeech: 4 * Window, MinSilence: 5 * Window, SpeechPad: 2 * Window}
}

const W = WindowSamples

func TestSegmenterBasicWithPadding(t *testing.T) {
	got := seg(testCfg(), cat(windows(10, 0.1), windows(8, 0.9), windows(10, 0.1))...)
	want := []Event{{Kind: Start, Sample: 8 * W, Speech: 10 * W}, {Kind: End, Sample: 20 * W, Speech: 18 * W}}
	if !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

func TestSegmenterHysteresis(t *testing.T) {
	// 0.4 is below the start threshold but above the end threshold: it
	// neither starts speech nor ends it.
	if got := seg(testCfg(), cat(windows(10, 0.1), windows(20, 0.4), windows(10, 0.1))...); len(got) != 0 {
		t.Fatalf("0.4 alone started speech: %v", got)
	}
	got := seg(testCfg(), cat(windows(5, 0.1), windows(4, 0.9), windows(20, 0.4), windows(10, 0.1))...)
	if len(got) != 2 || got[1].Speech != 29*W {
		t.Fatalf("speech held by 0.4 should end at window 29: %v", got)
	}
}

func TestSegmenterMinSpeechDropsBursts(t *testing.T) {
	got := seg(testCfg(), cat(windows(5, 0.1), windows(3, 0.9), windows(10, 0.1), windows(2, 0.9), windows(10, 0.0))...)
	if len(got) != 0 {
		t.Fatalf("bursts of 3 and 2 windows (min 4) made utterances: %v", got)
	}
}

func TestSegmenterShortPauseStaysInside(t *testing.T) {
	// A 4-window pause (min silence 5) does not split; a 5-window one does.
	one := seg(testCfg(), cat(windows(4, 0.9), windows(4, 0.1), windows(4, 0.9), windows(10, 0.1))...)
	if len(one) != 2 {
		t.Fatalf("4-window pause split the utterance: %v", one)
	}
	cfg := testCfg()
	cfg.SpeechPad = 3 * Window
	two := seg(cfg, cat(windows(4, 0.9), windows(5, 0.1), windows(4, 0.9), windows(10, 0.1))...)
	if len(two) != 4 {
		t.Fatalf("5-window pause did not split: %v", two)
	}
	// Padded, the first would end at 7 and the second start at 6: the
	// second start is clamped, so they touch but do not overlap.
	if two[0].Sample != 0 || two[1].Sample != 7*W || two[2].Sample != 7*W || two[2].Speech != 9*W {
		t.Fatalf("bounds %v", two)
	}
}

func TestSegmenterMaxSpeechTruncates(t *testing.T) {
	cfg := testCfg()
	cfg.MaxSpeech = 10 * Window
	got := seg(cfg, cat(windows(25, 0.9), windows(10, 0.1))...)
	// 0..10 (truncated), 10..20 (truncated), 20..(25+2 pad).
	want := []Event{
		{Kind: Start, Sample: 0, Speech: 0},
		{Kind: End, Sample: 10 * W, Speech: 10 * W, Truncated: true}, {Kind: Start, Sample: 10 * W, Speech: 10 * W},
		{Kind: End, Sample: 20 * W, Speech: 20 * W, Truncated: true}, {Kind: Start, Sample: 20 * W, Speech: 20 * W},
		{Kind: End, Sample: 27 * W, Speech: 25 * W},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("events\n%v, want\n%v", got, want)
	}
}

func TestSegmenterMaxSpeechCutsAtAPause(t *testing.T) {
	cfg := testCfg()
	cfg.MaxSpeech = 10 * Window
	// The limit falls in a 3-window pause (shorter than min silence 5):
	// the utterance ends at the pause, and the next starts afresh.
	got := seg(cfg, cat(windows(8, 0.9), windows(3, 0.1), windows(4, 0.9), windows(10, 0.1))...)
	want := []Event{
		{Kind: Start, Sample: 0, Speech: 0}, {Kind: End, Sample: 10 * W, Speech: 8 * W, Truncated: true},
		{Kind: Start, Sample: 10 * W, Speech: 11 * W}, {Kind: End, Sample: 17 * W, Speech: 15 * W},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("events\n%v, want\n%v", got, want)
	}
}

func TestSegmenterFlushEndsOpenSpeech(t *testing.T) {
	s := NewSegmenter(testCfg(), 0)
	for range 6 {
		s.Push(0.9)
	}
	// Flush inside the last window: the padded end may not pass it.
	ev := s.Flush(5*W + 100)
	if len(ev) != 1 || ev[0].Kind != End || ev[0].Sample != 5*W+100 {
		t.Fatalf("flush: %v", ev)
	}
	// Too short to announce at flush: dropped.
	s.Reset(100 * W)
	s.Push(0.9)
	if ev := s.Flush(101 * W); len(ev) != 0 {
		t.Fatalf("one window of speech flushed as %v", ev)
	}
}

func TestSegmenterPendingNeverPassesUnreportedSpeech(t *testing.T) {
	// A burst too short to count, then an utterance.
	probs := cat(windows(10, 0.1), windows(3, 0.9), windows(6, 0.1), windows(8, 0.9), windows(10, 0.1))
	s := NewSegmenter(testCfg(), 0)
	var start, end int64 = -1, -1
	var pend []int64
	for _, p := range probs {
		for _, e := range s.Push(p) {
			if e.Kind == Start {
				start = e.Sample
			} else {
				end = e.Sample
			}
		}
		pend = append(pend, s.Pending())
	}
	if start != 17*W || end != 29*W {
		t.Fatalf("utterance %d..%d windows, want 17..29", start/W, end/W)
	}
	// Until the utterance ended, pending never passed its start, even
	// before the start was announced (window 19+4).
	for i, p := range pend {
		if i < 31 && p > start {
			t.Fatalf("after window %d pending %d passed the utterance start %d", i, p/W, start/W)
		}
	}
	if last := pend[len(pend)-1]; last < end {
		t.Fatalf("pending %d windows after the end at %d", last/W, end/W)
	}
}

func TestSegmenterTentative(t *testing.T) {
	cfg := testCfg()
	cfg.Tentative = true
	got := seg(cfg, cat(windows(5, 0.1), windows(3, 0.9), windows(10, 0.1), windows(6, 0.9), windows(10, 0.1))...)
	want := []Event{
		{Kind: Onset, Sample: 3 * W, Speech: 5 * W}, {Kind: Drop, Sample: 8 * W, Speech: 8 * W},
		{Kind: Onset, Sample: 16 * W, Speech: 18 * W}, {Kind: Start, Sample: 16 * W, Speech: 18 * W},
		{Kind: End, Sample: 26 * W, Speech: 24 * W},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("events\n%v, want\n%v", got, want)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := DefaultConfig()
	bad.NegThreshold = 0.6
	if bad.Validate() == nil {
		t.Fatal("negative threshold above threshold accepted")
	}
	bad = DefaultConfig()
	bad.MaxSpeech = 100 * time.Millisecond
	if bad.Validate() == nil {
		t.Fatal("max speech below min speech accepted")
	}
}

// run scores pcm with Silero and returns the events and the share of
// windows at or above the threshold.
func run(t *testing.T, m *Model, pcm []int16) ([]Event, float64) {
	t.Helper()
	m.Reset()
	d := NewDetector(m, DefaultConfig(), 0)
	var n, speech int
	d.Probs = func(_ int64, p float32) {
		n++
		if p >= 0.5 {
			speech++
		}
	}
	// Uneven chunks: windows must span chunk boundaries.
	var ev []Event
	for len(pcm) > 0 {
		k := min(len(pcm), 1000+len(ev)*7)
		e, err := d.Push(pcm[:k])
		if err != nil {
			t.Fatal(err)
		}
		ev = append(ev, e...)
		pcm = pcm[k:]
	}
	e, err := d.Flush()
	if err != nil {
		t.Fatal(err)
	}
	return append(ev, e...), float64(speech) / float64(max(n, 1))
}

func TestSileroJFK(t *testing.T) {
	m := openModel(t)
	pcm, err := wav.ReadMono16k("../../../var/media/jfk.wav")
	if err != nil {
		testenv.Missing(t, "var/media/jfk.wav (scripts/fetch-media.sh): %v", err)
	}
	ev, share := run(t, m, pcm)
	// The four phrases, by ear and waveform: "And so my fellow Americans",
	// "ask not", "what your country can do for you", "ask what you can do
	// for your country", with pauses of 0.6 s or more between them.
	phrases := [][2]float64{{0.35, 2.15}, {3.3, 4.35}, {5.4, 7.55}, {8.2, 10.55}}
	if len(ev) != 2*len(phrases) {
		t.Fatalf("events %v, want %d utterances", ev, len(phrases))
	}
	for i, p := range phrases {
		start, end := float64(ev[2*i].Speech)/SampleRate, float64(ev[2*i+1].Speech)/SampleRate
		if ev[2*i].Kind != Start || ev[2*i+1].Kind != End || math.Abs(start-p[0]) > 0.12 || math.Abs(end-p[1]) > 0.2 {
			t.Errorf("utterance %d: speech %.2f..%.2f s, want %.2f..%.2f (±0.12/0.2)", i+1, start, end, p[0], p[1])
		}
		if ev[2*i].Sample > ev[2*i].Speech || ev[2*i+1].Sample < ev[2*i+1].Speech {
			t.Errorf("utterance %d: padding shrinks it: %v %v", i+1, ev[2*i], ev[2*i+1])
		}
	}
	t.Logf("%.0f %% of windows speech; utterances %v", 100*share, ev)
	// The phrases above cover 67 % of the file; the windows scoring 0.5 or
	// more, 62 % (soft word edges score lower).
	if share < 0.55 || share > 0.8 {
		t.Errorf("%.0f %% of windows speech; jfk.wav is about 65 %% speech", 100*share)
	}
}

func TestSileroSilenceAndNoise(t *testing.T) {
	m := openModel(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, amp := range []float64{0, 0.001, 0.01, 0.1} {
		pcm := make([]int16, 5*SampleRate)
		for i := range pcm {
			pcm[i] = int16(amp * 32767 * (2*rng.Float64() - 1))
		}
		if ev, share := run(t, m, pcm); len(ev) != 0 || share > 0 {
			t.Errorf("noise at %v of full scale: events %v, %.1f %% speech windows", amp, ev, 100*share)
		}
	}
}

func TestSileroTones(t *testing.T) {
	m := openModel(t)
	for _, f := range []float64{100, 220, 440, 1000, 3000} {
		for _, amp := range []float64{0.05, 0.5, 1} {
			pcm := make([]int16, 5*SampleRate)
			for i := range pcm {
				pcm[i] = int16(amp * 32767 * math.Sin(2*math.Pi*f*float64(i)/SampleRate))
			}
			// A steady tone may score above the threshold now and then
			// (220 Hz sits in the voice range) but never for MinSpeech.
			if ev, share := run(t, m, pcm); len(ev) != 0 || share > 0.1 {
				t.Errorf("%v Hz at %v: events %v, %.1f %% speech windows", f, amp, ev, 100*share)
			}
		}
	}
}

func TestDetectorGapReset(t *testing.T) {
	m := openModel(t)
	pcm, err := wav.ReadMono16k("../../../var/media/jfk.wav")
	if err != nil {
		testenv.Missing(t, "var/media/jfk.wav: %v", err)
	}
	d := NewDetector(m, DefaultConfig(), 0)
	// Cut in the middle of "what your country can do for you" (5.4..7.6 s).
	ev, err := d.Push(pcm[:6*SampleRate])
	if err != nil {
		t.Fatal(err)
	}
	fl, err := d.Flush()
	if err != nil {
		t.Fatal(err)
	}
	ev = append(ev, fl...)
	if len(ev) != 6 || ev[5].Kind != End || ev[5].Sample != 6*SampleRate {
		t.Fatalf("events up to the gap %v: the open utterance should end at the gap (sample %d)", ev, 6*SampleRate)
	}
	d.Reset(20 * SampleRate)
	if p := d.Pending(); p != 20*SampleRate {
		t.Fatalf("pending after reset %d", p)
	}
	ev, _ = d.Push(pcm[8*SampleRate:])
	fl, _ = d.Flush()
	ev = append(ev, fl...)
	if len(ev) != 2 || ev[0].Sample < 20*SampleRate {
		t.Fatalf("after the gap %v: one utterance at or after sample %d", ev, 20*SampleRate)
	}
}

// BenchmarkWindow is one 32 ms window through Silero (the VAD's whole cost
// per window; real time needs under 32 ms).
func BenchmarkWindow(b *testing.B) {
	m := openModel(b)
	w := make([]float32, WindowSamples)
	for i := range w {
		w[i] = float32(math.Sin(float64(i) / 7))
	}
	for b.Loop() {
		if _, err := m.Prob(w); err != nil {
			b.Fatal(err)
		}
	}
}
