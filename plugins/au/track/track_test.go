package track

import (
	"math"
	"slices"
	"testing"

	"github.com/lsie-mlf/lsie/plugins/au/internal/img"
)

func box(cx, cy, s float32) img.Rect {
	return img.Rect{X0: cx - s/2, Y0: cy - s/2, X1: cx + s/2, Y1: cy + s/2}
}

func TestMovingBoxesKeepIDs(t *testing.T) {
	tr := New(Config{})
	var first []int
	for f := 0; f < 50; f++ {
		x := float32(f * 8) // 8 px/frame on 100-px faces
		ids, ended := tr.Update([]img.Rect{box(100+x, 100, 100), box(600-x/2, 400, 120)})
		if len(ended) != 0 {
			t.Fatalf("frame %d: ended %v", f, ended)
		}
		if f == 0 {
			first = slices.Clone(ids)
			if !slices.Equal(ids, []int{1, 2}) {
				t.Fatalf("first ids %v", ids)
			}
		} else if !slices.Equal(ids, first) {
			t.Fatalf("frame %d: ids %v, want %v", f, ids, first)
		}
	}
	// Detection order does not matter.
	ids, _ := tr.Update([]img.Rect{box(600-200, 400, 120), box(100+50*8, 100, 100)})
	if !slices.Equal(ids, []int{2, 1}) {
		t.Fatalf("swapped order ids %v", ids)
	}
}

func TestCrossingBoxes(t *testing.T) {
	for _, hide := range []bool{false, true} {
		tr := New(Config{})
		var a, b int
		for f := 0; f <= 40; f++ {
			// A moves right, B left, on the same row: they overlap fully at f = 20.
			xa, xb := float32(100+10*f), float32(500-10*f)
			dets := []img.Rect{box(xa, 200, 80), box(xb, 205, 80)}
			if hide && f >= 18 && f <= 21 { // 4 frames: fewer than MaxMissed
				dets = dets[:1] // B hidden behind A while they cross
			}
			ids, _ := tr.Update(dets)
			if f == 0 {
				a, b = ids[0], ids[1]
				continue
			}
			if ids[0] != a {
				t.Fatalf("hide=%v frame %d: A got id %d, want %d", hide, f, ids[0], a)
			}
			if len(ids) > 1 && ids[1] != b {
				t.Fatalf("hide=%v frame %d: B got id %d, want %d", hide, f, ids[1], b)
			}
		}
	}
}

func TestCrossingWithoutPredictionMaySwap(t *testing.T) {
	// Documents why prediction is on by default: plain last-box IoU keeps ids
	// only while the boxes move less than they overlap.
	tr := New(Config{NoPrediction: true})
	ids, _ := tr.Update([]img.Rect{box(100, 100, 100)})
	for f := 1; f <= 10; f++ {
		ids, _ = tr.Update([]img.Rect{box(100+float32(f)*20, 100, 100)})
	}
	if ids[0] != 1 {
		t.Fatalf("slow mover lost its id: %v", ids)
	}
	ids, _ = tr.Update([]img.Rect{box(100+200+80, 100, 100)}) // a jump of 80%
	if ids[0] == 1 {
		t.Fatal("a jump beyond the threshold kept the id")
	}
}

func TestDisappearAndEnd(t *testing.T) {
	tr := New(Config{MaxMissed: 3})
	ids, _ := tr.Update([]img.Rect{box(100, 100, 50), box(300, 100, 50)})
	if !slices.Equal(ids, []int{1, 2}) {
		t.Fatal(ids)
	}
	// Face 2 disappears for 2 frames and comes back: same id.
	for i := 0; i < 2; i++ {
		if _, ended := tr.Update([]img.Rect{box(100, 100, 50)}); len(ended) != 0 {
			t.Fatalf("ended early %v", ended)
		}
	}
	ids, _ = tr.Update([]img.Rect{box(100, 100, 50), box(302, 101, 50)})
	if !slices.Equal(ids, []int{1, 2}) {
		t.Fatalf("returning face ids %v", ids)
	}
	// Now gone for K = 3 frames: ends on the third.
	for i := 1; i <= 3; i++ {
		_, ended := tr.Update([]img.Rect{box(100, 100, 50)})
		if i < 3 && len(ended) != 0 || i == 3 && !slices.Equal(ended, []int{2}) {
			t.Fatalf("miss %d: ended %v", i, ended)
		}
	}
	if len(tr.Tracks()) != 1 {
		t.Fatalf("tracks %+v", tr.Tracks())
	}
	// Back at the same place after ending: a new, larger id.
	ids, _ = tr.Update([]img.Rect{box(100, 100, 50), box(300, 100, 50)})
	if !slices.Equal(ids, []int{1, 3}) {
		t.Fatalf("ids after end %v", ids)
	}
	// Nothing at all: every track ages out.
	var all []int
	for i := 0; i < 3; i++ {
		_, ended := tr.Update(nil)
		all = append(all, ended...)
	}
	slices.Sort(all)
	if !slices.Equal(all, []int{1, 3}) || len(tr.Tracks()) != 0 {
		t.Fatalf("ended %v, tracks %v", all, tr.Tracks())
	}
}

func TestThresholdAndMonotonicIDs(t *testing.T) {
	tr := New(Config{IoUThreshold: 0.5})
	tr.Update([]img.Rect{box(100, 100, 100)})
	// Shift by 40 px: IoU = 60·100/(2·10000 − 6000) ≈ 0.43 < 0.5 → new id.
	ids, _ := tr.Update([]img.Rect{box(140, 100, 100)})
	if ids[0] != 2 {
		t.Fatalf("ids %v", ids)
	}
	last := 2
	for f := 0; f < 20; f++ {
		// Far-apart new faces every frame: ids strictly increase.
		ids, _ := tr.Update([]img.Rect{box(float32(1000+300*f), 900, 50)})
		if ids[0] <= last {
			t.Fatalf("id %d after %d", ids[0], last)
		}
		last = ids[0]
	}
}

func TestGreedyPrefersBestOverlap(t *testing.T) {
	tr := New(Config{NoPrediction: true})
	tr.Update([]img.Rect{box(100, 100, 100)})
	// Two candidates for track 1: the closer one gets it, listed second.
	ids, _ := tr.Update([]img.Rect{box(140, 100, 100), box(110, 100, 100)})
	if !slices.Equal(ids, []int{2, 1}) {
		t.Fatalf("ids %v", ids)
	}
}

func TestBadBoxes(t *testing.T) {
	tr := New(Config{})
	nan := float32(math.NaN())
	dets := []img.Rect{{}, {X0: nan, Y0: nan, X1: nan, Y1: nan}, {X0: 10, Y0: 10, X1: 5, Y1: 5}}
	for f := 0; f < 3; f++ {
		ids, _ := tr.Update(dets)
		for _, id := range ids {
			if id <= 0 {
				t.Fatalf("id %d", id)
			}
		}
	}
}

func BenchmarkUpdate(b *testing.B) {
	tr := New(Config{})
	dets := make([]img.Rect, 8)
	for i := 0; b.Loop(); i++ {
		for k := range dets {
			dets[k] = box(float32(100+150*k+i%7), 200, 100)
		}
		tr.Update(dets)
	}
}
