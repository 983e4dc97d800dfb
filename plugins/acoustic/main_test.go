package main

import (
	"math"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/sdk"
)

// tone returns n samples of a sine at f Hz starting at sample first.
func tone(first int64, n int, f, amp float64) *sdk.Audio {
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(amp * 32767 * math.Sin(2*math.Pi*f*float64(first+int64(i))/sampleRate))
	}
	return &sdk.Audio{FirstSample: first, PTS: time.Duration(first) * time.Second / sampleRate, SampleRate: sampleRate, Samples: s}
}

func openStream(t testing.TB) *stream {
	st, err := plugin{}.OpenStream(sdk.StreamInfo{ID: "t"})
	if err != nil {
		t.Fatal(err)
	}
	return st.(*stream)
}

// feed pushes one second in 100 ms chunks and returns the hops' items.
func feed(t testing.TB, st *stream, f, amp float64) []sdk.Item {
	var all []sdk.Item
	for c := int64(0); c < 10; c++ {
		items, err := st.ProcessAudio(tone(c*1600, 1600, f, amp))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, items...)
	}
	return all
}

func TestToneHops(t *testing.T) {
	for _, f := range []float64{80, 150, 220, 440, 500} {
		st := openStream(t)
		items := feed(t, st, f, 0.5)
		// Hops whose window is complete: all but the last few of the second.
		if len(items) < 95 || len(items) > 100 {
			t.Fatalf("%v Hz: %d hops", f, len(items))
		}
		for i, it := range items {
			if it.PTS != time.Duration(i)*10*time.Millisecond {
				t.Fatalf("hop %d at %v", i, it.PTS)
			}
			if i < 3 {
				continue // the first windows reach before the stream's start (zeros)
			}
			if it.Fields["voiced"] != 1 || math.Abs(it.Fields["f0_hz"]-f)/f > 0.01 {
				t.Fatalf("%v Hz hop %d: %v", f, i, it.Fields)
			}
			if l := it.Fields["loudness_dbfs"]; math.Abs(l-(-9.03)) > 0.2 {
				t.Fatalf("%v Hz hop %d: loudness %v, want -9.03 for a half-scale sine", f, i, l)
			}
		}
	}
}

func TestSilenceIsUnvoicedNotZeroPitch(t *testing.T) {
	st := openStream(t)
	for _, it := range feed(t, st, 220, 0) {
		if _, ok := it.Fields["f0_hz"]; ok || it.Fields["voiced"] != 0 || it.Fields["loudness_dbfs"] != -120 {
			t.Fatalf("silence hop: %v", it.Fields)
		}
		if _, ok := it.Fields["centroid_hz"]; ok {
			t.Fatalf("silence has a centroid: %v", it.Fields)
		}
	}
}

func TestRejectsOtherRates(t *testing.T) {
	st := openStream(t)
	a := tone(0, 1600, 220, 0.5)
	a.SampleRate = 44100
	if _, err := st.ProcessAudio(a); err == nil {
		t.Fatal("44.1 kHz accepted")
	}
}

// BenchmarkPerAudioSecond is the plugin's whole cost for one second of
// speech-like audio (10 chunks, 100 hops).
func BenchmarkPerAudioSecond(b *testing.B) {
	chunks := make([]*sdk.Audio, 10)
	for c := range chunks {
		chunks[c] = tone(int64(c)*1600, 1600, 180, 0.3)
	}
	st := openStream(b)
	b.ReportAllocs()
	hops := 0
	for i := int64(0); b.Loop(); i++ {
		for c, ch := range chunks {
			// 180 Hz has whole cycles per second, so shifting by seconds keeps
			// the signal continuous while the sample line moves on.
			ch.FirstSample = i*sampleRate + int64(c)*1600
			items, err := st.ProcessAudio(ch)
			if err != nil {
				b.Fatal(err)
			}
			hops += len(items)
		}
	}
	if hops < 90*b.N {
		b.Fatalf("%d hops in %d audio seconds", hops, b.N)
	}
}

func TestManifestDocumentsEveryField(t *testing.T) {
	m := plugin{}.Manifest()
	if m.Version != "0.2.0" {
		t.Errorf("version %s", m.Version)
	}
	doc := map[string]bool{}
	for _, f := range m.Fields {
		if doc[f.Name] || f.Unit == "" || f.Description == "" {
			t.Errorf("field %+v: duplicate or undocumented", f)
		}
		doc[f.Name] = true
	}
	// Speech (a vowel), noise after silence, a tone: between them every
	// field appears at least once, and none that the manifest lacks.
	pcm := append(make([]int16, 8000), noisePCM(16000, 0.1, 1)...)
	pcm = append(pcm, tonePCM(16000, 220, 0.5)...)
	seen := map[string]bool{}
	for _, it := range run(t, pcm) {
		for k, v := range it.Fields {
			if !doc[k] {
				t.Errorf("field %q not in the manifest", k)
			}
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Errorf("field %q = %v", k, v)
			}
			seen[k] = true
		}
	}
	for name := range doc {
		if !seen[name] {
			t.Errorf("field %q never produced", name)
		}
	}
}

func tonePCM(n int, f, amp float64) []int16 {
	return tone(0, n, f, amp).Samples
}

// noisePCM is white noise, uniform in ±amp of full scale.
func noisePCM(n int, amp float64, seed uint64) []int16 {
	r := seed*2654435761 + 1
	out := make([]int16, n)
	for i := range out {
		r ^= r << 13
		r ^= r >> 7
		r ^= r << 17
		out[i] = int16(amp * 32767 * (float64(r%20001)/10000 - 1))
	}
	return out
}

// speechOnly are the fields that must be absent on non-speech hops.
var speechOnly = []string{"f0_hz", "f0_semitones", "jitter_local", "shimmer_local_db", "hnr_db", "f1_hz", "f1_bw_hz",
	"f2_hz", "f3_hz", "alpha_ratio_v_db", "alpha_ratio_uv_db", "hammarberg_v_db", "hammarberg_uv_db",
	"slope_0_500_v", "slope_0_500_uv", "slope_500_1500_v", "slope_500_1500_uv", "mfcc1", "mfcc4", "mfcc1_v"}

// TestGating checks the speech/voicing gate: silence has no speech-only
// field, noise louder than the floor it followed is unvoiced speech with
// only "_uv" variants, a tone is voiced speech with only "_v" variants.
func TestGating(t *testing.T) {
	pcm := append(make([]int16, 16000), noisePCM(16000, 0.1, 2)...)
	pcm = append(pcm, tonePCM(16000, 220, 0.5)...)
	items := run(t, pcm)
	if len(items) != 300 {
		t.Fatalf("%d hops for 3 s", len(items))
	}
	has := func(it sdk.Item, k string) bool { _, ok := it.Fields[k]; return ok }
	for i, it := range items[:95] {
		if it.Fields["speech"] != 0 || it.Fields["voiced"] != 0 {
			t.Fatalf("silence hop %d: %v", i, it.Fields)
		}
		for _, k := range speechOnly {
			if has(it, k) {
				t.Fatalf("silence hop %d has %s", i, k)
			}
		}
	}
	for i, it := range items[105:195] {
		if it.Fields["speech"] != 1 || it.Fields["voiced"] != 0 || !has(it, "alpha_ratio_uv_db") || !has(it, "mfcc1") ||
			has(it, "alpha_ratio_v_db") || has(it, "mfcc1_v") || has(it, "f0_hz") || has(it, "hnr_db") {
			t.Fatalf("noise hop %d: %v", i+105, it.Fields)
		}
		if a := it.Fields["alpha_ratio_uv_db"]; a > -3 {
			t.Fatalf("white noise alpha ratio %.1f dB: 1-5 kHz is 4.2x as wide as 50-1000 Hz (-6.2 dB expected), want < -3", a)
		}
	}
	for i, it := range items[205:295] {
		if it.Fields["speech"] != 1 || it.Fields["voiced"] != 1 || !has(it, "alpha_ratio_v_db") || !has(it, "mfcc1_v") ||
			has(it, "alpha_ratio_uv_db") || !has(it, "hnr_db") {
			t.Fatalf("tone hop %d: %v", i+205, it.Fields)
		}
		// 220 Hz is exactly three octaves above 27.5 Hz.
		if st := it.Fields["f0_semitones"]; math.Abs(st-36) > 0.1 {
			t.Fatalf("tone hop %d: %.3f semitones, want 36", i+205, st)
		}
		if h := it.Fields["hnr_db"]; h < 30 {
			t.Fatalf("tone hop %d: HNR %.1f dB for a pure tone", i+205, h)
		}
	}
}

// TestBadInput: empty chunks, clipped audio and an end without audio give
// defined output and no error.
func TestBadInput(t *testing.T) {
	st := openStream(t)
	for _, a := range []*sdk.Audio{
		{SampleRate: sampleRate},
		{SampleRate: sampleRate, Samples: []int16{}},
		{SampleRate: 0, Samples: nil, FirstSample: 0},
	} {
		items, err := st.ProcessAudio(a)
		if err != nil || len(items) != 0 {
			t.Fatalf("empty chunk: %v items, err %v", len(items), err)
		}
	}
	if items, err := openStream(t).ProcessAudio(&sdk.Audio{End: true}); err != nil || len(items) != 0 {
		t.Fatalf("end without audio: %v, %v", items, err)
	}
	// A 150 Hz sine at 4x full scale, clipped: a square-ish wave.
	clip := make([]int16, 16000)
	for i := range clip {
		v := 4 * 32767 * math.Sin(2*math.Pi*150*float64(i)/sampleRate)
		clip[i] = int16(math.Max(-32768, math.Min(32767, v)))
	}
	items := run(t, clip)
	if len(items) != 100 {
		t.Fatalf("%d hops", len(items))
	}
	voiced := 0
	for _, it := range items {
		for k, v := range it.Fields {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("clipped: %s = %v", k, v)
			}
		}
		if it.Fields["voiced"] == 1 {
			voiced++
			if f := it.Fields["f0_hz"]; math.Abs(f-150) > 1.5 {
				t.Fatalf("clipped: F0 %.2f", f)
			}
		}
	}
	if voiced < 90 {
		t.Errorf("clipped 150 Hz: %d of 100 hops voiced", voiced)
	}
}
