package track

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func box(cx, cy, s float32) Box {
	return Box{X0: cx - s/2, Y0: cy - s/2, X1: cx + s/2, Y1: cy + s/2}
}

// person is a tall box (w × 2.5w) centred at (cx, cy).
func person(cx, cy, w float32) Detection {
	return Detection{Box: Box{X0: cx - w/2, Y0: cy - 1.25*w, X1: cx + w/2, Y1: cy + 1.25*w}, Label: "person"}
}

func faces(boxes ...Box) []Detection {
	out := make([]Detection, len(boxes))
	for i, b := range boxes {
		out[i] = Detection{Box: b, Label: "face"}
	}
	return out
}

func TestIoU(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	for _, c := range []struct {
		name string
		a, b Box
		want float32
	}{
		{"same", box(0, 0, 10), box(0, 0, 10), 1},
		{"half shifted", Box{0, 0, 10, 10}, Box{5, 0, 15, 10}, 50.0 / 150},
		{"apart", box(0, 0, 10), box(20, 0, 10), 0},
		{"touching", Box{0, 0, 10, 10}, Box{10, 0, 20, 10}, 0},
		{"empty", Box{}, Box{}, 0},
		{"inverted", Box{10, 10, 0, 0}, Box{0, 0, 10, 10}, 0},
		{"NaN", Box{nan, nan, nan, nan}, box(0, 0, 10), 0},
		{"infinite", Box{-inf, -inf, inf, inf}, box(0, 0, 10), 0},
	} {
		if got := IoU(c.a, c.b); math.Abs(float64(got-c.want)) > 1e-6 {
			t.Errorf("%s: IoU = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestMovingBoxesKeepIDs(t *testing.T) {
	tr := New(Config{})
	var first []int
	for f := 0; f < 50; f++ {
		x := float32(f * 8) // 8 px/frame on 100-px objects
		ids, ended := tr.Update(faces(box(100+x, 100, 100), box(600-x/2, 400, 120)))
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
	ids, _ := tr.Update(faces(box(600-200, 400, 120), box(100+50*8, 100, 100)))
	if !slices.Equal(ids, []int{2, 1}) {
		t.Fatalf("swapped order ids %v", ids)
	}
}

// TestCrossing: two objects of one label pass through each other, seen
// throughout or with one hidden behind the other while they overlap.
func TestCrossing(t *testing.T) {
	for _, hide := range []bool{false, true} {
		tr := New(Config{})
		var a, b int
		for f := 0; f <= 40; f++ {
			// A moves right, B left, on the same row: they overlap fully at f = 20.
			xa, xb := float32(100+10*f), float32(500-10*f)
			dets := faces(box(xa, 200, 80), box(xb, 205, 80))
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

// TestLabelsNeverMatch: a dog and a cat swapping places at the same spot
// keep their own ids, and a detection of another label where a track is
// starts a track of its own.
func TestLabelsNeverMatch(t *testing.T) {
	tr := New(Config{})
	ids, _ := tr.Update([]Detection{{Box: box(100, 100, 80), Label: "dog"}, {Box: box(300, 100, 80), Label: "cat"}})
	dog, cat := ids[0], ids[1]
	// Each moves onto the other's last place, overlapping it more than its own.
	ids, _ = tr.Update([]Detection{{Box: box(290, 100, 80), Label: "dog"}, {Box: box(110, 100, 80), Label: "cat"}})
	if ids[0] == cat || ids[1] == dog {
		t.Fatalf("labels crossed: dog got %d, cat got %d (were %d, %d)", ids[0], ids[1], dog, cat)
	}
	// Same place, new label: a new track; the old ones age out.
	tr = New(Config{MaxMissed: 2})
	ids, _ = tr.Update([]Detection{{Box: box(100, 100, 80), Label: "dog"}})
	ids2, _ := tr.Update([]Detection{{Box: box(100, 100, 80), Label: "cat"}})
	if ids2[0] == ids[0] {
		t.Fatalf("a cat continued the dog's track %d", ids[0])
	}
	_, ended := tr.Update([]Detection{{Box: box(100, 100, 80), Label: "cat"}})
	if !slices.Equal(ended, []int{ids[0]}) {
		t.Fatalf("ended %v, want the dog's %d", ended, ids[0])
	}
	for _, tk := range tr.Tracks() {
		if tk.Label != "cat" || tk.ID != ids2[0] {
			t.Fatalf("tracks %+v, want the cat alone", tr.Tracks())
		}
	}
}

// TestWalkThrough: a person walks across a 640-px frame at 5 frames a
// second (about 1.3 m/s at this scale: 26 px a frame on a 70-px wide box),
// the detector's boxes jittering by a few pixels, its size growing as they
// near the camera, one or two frames missed now and then (detections are
// not perfect). One id from entry to exit, and it ends once they are gone.
func TestWalkThrough(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	tr := New(Config{MaxMissed: 3})
	missed := map[int]bool{7: true, 15: true, 16: true, 21: true}
	var id int
	frames := 0
	for f := 0; ; f++ {
		cx := float32(-20 + 26*f)
		if cx > 660 {
			break
		}
		frames++
		var dets []Detection
		if !missed[f] {
			w := 60 + float32(f)*0.5
			j := func() float32 { return (rng.Float32() - 0.5) * 8 }
			d := person(cx+j(), 200+j(), w+j())
			// Clipped by the frame's edges, as a detector's boxes are.
			d.Box.X0, d.Box.X1 = max(d.Box.X0, 0), min(d.Box.X1, 640)
			dets = append(dets, d)
		}
		ids, ended := tr.Update(dets)
		if len(ended) != 0 {
			t.Fatalf("frame %d: track %v ended mid-walk", f, ended)
		}
		if len(ids) == 1 {
			if id == 0 {
				id = ids[0]
			} else if ids[0] != id {
				t.Fatalf("frame %d: id %d, want %d (x %.0f)", f, ids[0], id, cx)
			}
		}
	}
	if frames < 20 {
		t.Fatalf("walk of %d frames", frames)
	}
	// Gone: the track survives two empty frames and ends on the third.
	for i := 1; i <= 3; i++ {
		_, ended := tr.Update(nil)
		if i < 3 && len(ended) != 0 || i == 3 && !slices.Equal(ended, []int{id}) {
			t.Fatalf("empty frame %d: ended %v", i, ended)
		}
	}
}

func TestCrossingWithoutPredictionMaySwap(t *testing.T) {
	// Documents why prediction is on by default: plain last-box IoU keeps ids
	// only while the boxes move less than they overlap.
	tr := New(Config{NoPrediction: true})
	ids, _ := tr.Update(faces(box(100, 100, 100)))
	for f := 1; f <= 10; f++ {
		ids, _ = tr.Update(faces(box(100+float32(f)*20, 100, 100)))
	}
	if ids[0] != 1 {
		t.Fatalf("slow mover lost its id: %v", ids)
	}
	ids, _ = tr.Update(faces(box(100+200+80, 100, 100))) // a jump of 80%
	if ids[0] == 1 {
		t.Fatal("a jump beyond the threshold kept the id")
	}
}

func TestDisappearAndEnd(t *testing.T) {
	tr := New(Config{MaxMissed: 3})
	ids, _ := tr.Update(faces(box(100, 100, 50), box(300, 100, 50)))
	if !slices.Equal(ids, []int{1, 2}) {
		t.Fatal(ids)
	}
	// Object 2 disappears for 2 frames and comes back: same id.
	for i := 0; i < 2; i++ {
		if _, ended := tr.Update(faces(box(100, 100, 50))); len(ended) != 0 {
			t.Fatalf("ended early %v", ended)
		}
	}
	ids, _ = tr.Update(faces(box(100, 100, 50), box(302, 101, 50)))
	if !slices.Equal(ids, []int{1, 2}) {
		t.Fatalf("returning object ids %v", ids)
	}
	// Now gone for K = 3 frames: ends on the third.
	for i := 1; i <= 3; i++ {
		_, ended := tr.Update(faces(box(100, 100, 50)))
		if i < 3 && len(ended) != 0 || i == 3 && !slices.Equal(ended, []int{2}) {
			t.Fatalf("miss %d: ended %v", i, ended)
		}
	}
	if len(tr.Tracks()) != 1 {
		t.Fatalf("tracks %+v", tr.Tracks())
	}
	// Back at the same place after ending: a new, larger id.
	ids, _ = tr.Update(faces(box(100, 100, 50), box(300, 100, 50)))
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
	tr.Update(faces(box(100, 100, 100)))
	// Shift by 40 px: IoU = 60·100/(2·10000 − 6000) ≈ 0.43 < 0.5 → new id.
	ids, _ := tr.Update(faces(box(140, 100, 100)))
	if ids[0] != 2 {
		t.Fatalf("ids %v", ids)
	}
	last := 2
	for f := 0; f < 20; f++ {
		// Far-apart new objects every frame: ids strictly increase.
		ids, _ := tr.Update(faces(box(float32(1000+300*f), 900, 50)))
		if ids[0] <= last {
			t.Fatalf("id %d after %d", ids[0], last)
		}
		last = ids[0]
	}
}

func TestGreedyPrefersBestOverlap(t *testing.T) {
	tr := New(Config{NoPrediction: true})
	tr.Update(faces(box(100, 100, 100)))
	// Two candidates for track 1: the closer one gets it, listed second.
	ids, _ := tr.Update(faces(box(140, 100, 100), box(110, 100, 100)))
	if !slices.Equal(ids, []int{2, 1}) {
		t.Fatalf("ids %v", ids)
	}
}

func TestBadBoxes(t *testing.T) {
	tr := New(Config{})
	nan := float32(math.NaN())
	dets := faces(Box{}, Box{X0: nan, Y0: nan, X1: nan, Y1: nan}, Box{X0: 10, Y0: 10, X1: 5, Y1: 5})
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
	dets := make([]Detection, 8)
	for i := 0; b.Loop(); i++ {
		for k := range dets {
			dets[k] = Detection{Box: box(float32(100+150*k+i%7), 200, 100), Label: "person"}
		}
		tr.Update(dets)
	}
}
