package sdk

import (
	"testing"
	"time"
)

// ramp returns a chunk whose sample i holds (FirstSample+i) mod 30000, so a
// window's content tells exactly which samples it holds.
func ramp(first int64, n int) *Audio {
	s := make([]int16, n)
	for i := range s {
		s[i] = int16((first + int64(i)) % 30000)
	}
	return &Audio{FirstSample: first, PTS: time.Duration(first) * time.Second / 16000, SampleRate: 16000, Samples: s}
}

func sampleAt(v float32) int64 { return int64(v*32768 + 0.5) }

func TestHopperContinuousAcrossChunks(t *testing.T) {
	const hop, window = 160, 640
	h := NewHopper(hop, window)
	var starts []int64
	const total = 1600 + 1000 + 37 + 2563 + 1600
	check := func(start int64, pts time.Duration, w []float32) {
		starts = append(starts, start)
		if pts != time.Duration(start)*time.Second/16000 {
			t.Fatalf("hop %d: pts %v", start, pts)
		}
		centre := start + hop/2
		for i, v := range w {
			idx := centre - window/2 + int64(i)
			want := int64(0)
			if idx >= 0 && idx < total { // outside the stream reads as zeros
				want = idx % 30000
			}
			if sampleAt(v) != want {
				t.Fatalf("hop %d window[%d] = sample %d, want %d", start, i, sampleAt(v), want)
			}
		}
	}
	// Uneven chunk sizes: boundaries must not matter.
	first := int64(0)
	for _, n := range []int{1600, 1000, 37, 2563, 1600} {
		h.Push(ramp(first, n), check)
		first += int64(n)
	}
	h.Flush(check)
	// Flush emits every hop that starts before the end: ceil, not floor.
	if want := int((first + hop - 1) / hop); len(starts) != want {
		t.Fatalf("%d hops for %d samples, want %d", len(starts), first, want)
	}
	for i, s := range starts {
		if s != int64(i)*hop {
			t.Fatalf("hop %d starts at %d", i, s)
		}
	}
}

func TestHopperGap(t *testing.T) {
	h := NewHopper(160, 400)
	var starts []int64
	fn := func(start int64, _ time.Duration, w []float32) { starts = append(starts, start) }
	h.Push(ramp(0, 1600), fn)
	h.Push(&Audio{FirstSample: 1600, GapSamples: 3200, SampleRate: 16000}, fn)
	h.Push(ramp(4800, 1600), fn)
	h.Flush(fn)
	// 10 hops before the gap, none inside it, 10 after.
	if len(starts) != 20 || starts[9] != 1440 || starts[10] != 4800 {
		t.Fatalf("hops %v", starts)
	}
}

func TestHopperImplicitGapAndOverlap(t *testing.T) {
	h := NewHopper(160, 160)
	var starts []int64
	fn := func(start int64, _ time.Duration, w []float32) {
		starts = append(starts, start)
		if sampleAt(w[0]) != start%30000 {
			t.Fatalf("hop %d starts with sample %d", start, sampleAt(w[0]))
		}
	}
	h.Push(ramp(0, 320), fn)
	h.Push(ramp(160, 320), fn) // overlaps by 160: the overlap is ignored
	h.Push(ramp(960, 160), fn) // jumps over 480..960
	h.Flush(fn)
	want := []int64{0, 160, 320, 960}
	if len(starts) != len(want) {
		t.Fatalf("hops %v, want %v", starts, want)
	}
	for i := range want {
		if starts[i] != want[i] {
			t.Fatalf("hops %v, want %v", starts, want)
		}
	}
}
