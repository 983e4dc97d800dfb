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
