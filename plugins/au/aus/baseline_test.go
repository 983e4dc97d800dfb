package aus

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/plugins/au/internal/img"
)

func TestEstimatorBaseline(t *testing.T) {
	// A subject whose resting brows sit high: the generic AU1/AU2 read
	// raised, the corrected ones read 0 once the baseline completes.
	rest := move(neutralFace(t), 0, -0.05, rng(17, 26)...)
	e := New(Config{BaselineWindow: time.Second, BaselineMinFrames: 5})
	const fps = 10
	var i int
	for ; i < 30; i++ {
		ts := time.Duration(i) * time.Second / fps
		p := rest
		if i == 3 {
			p = expressions(t)[AU12] // a brief smile inside the window
		}
		r := e.Estimate(7, ts, &p)
		if ts < time.Second {
			if r.HasCorrected {
				t.Fatalf("frame %d: corrected before the window ended", i)
			}
			if _, ok := r.CorrectedIntensity(AU1); ok {
				t.Fatal("CorrectedIntensity present")
			}
			continue
		}
		if !r.HasCorrected {
			t.Fatalf("frame %d: no corrected values after the window", i)
		}
		if r.Intensity[AU1] < 1 || r.Corrected[AU1] != 0 || r.Corrected[AU12] != 0 {
			t.Fatalf("frame %d: AU1 generic %.2f corrected %.2f, AU12 corrected %.2f", i, r.Intensity[AU1], r.Corrected[AU1], r.Corrected[AU12])
		}
	}
	n, ok := e.Neutral(7)
	if !ok || n.Frames != fps {
		t.Fatalf("neutral %+v %v", n, ok)
	}
	// The median ignores the smile frame.
	g, _ := Measure(&rest)
	for a := AU(0); a < NumAU; a++ {
		if math.Abs(n.G[a]-g[a]) > 1e-9 {
			t.Errorf("%s: baseline g %.4f, rest %.4f", a, n.G[a], g[a])
		}
	}
	// A raised brow above this subject's rest reads in corrected terms.
	up := move(rest, 0, -0.06, 21, 22)
	r := e.Estimate(7, 5*time.Second, &up)
	if v, ok := r.CorrectedIntensity(AU1); !ok || v < 2 {
		t.Errorf("corrected AU1 %.2f %v", v, ok)
	}
	// Another face has its own, empty baseline.
	if r := e.Estimate(8, 5*time.Second, &up); r.HasCorrected {
		t.Error("face 8 has a baseline")
	}
	e.Forget(7)
	if _, ok := e.Neutral(7); ok {
		t.Error("Forget kept the baseline")
	}
}

func TestBaselineMinFramesAndBadFrames(t *testing.T) {
	b := NewBaseline(time.Second, 3)
	g, _ := Measure(&[68]img.Point{}) // zeros
	nan := g
	nan[AU4] = math.NaN()
	if b.Add(0, &nan) || b.Frames() != 0 {
		t.Fatal("NaN frame accepted")
	}
	b.Add(0, &g)
	if b.Add(2*time.Second, &g) { // window passed but only 1 frame
		t.Fatal("completed with too few frames")
	}
	b.Add(2100*time.Millisecond, &g)
	if !b.Add(2200*time.Millisecond, &g) {
		t.Fatal("not complete with enough frames past the window")
	}
	if n, ok := b.Neutral(); !ok || n.Frames != 3 {
		t.Fatalf("%+v", n)
	}
	b.Reset()
	if _, ok := b.Neutral(); ok || b.Frames() != 0 {
		t.Fatal("Reset kept state")
	}
}

func TestSetBaseline(t *testing.T) {
	e := New(Config{})
	var bad [68]img.Point
	if err := e.SetBaseline(1, [][68]img.Point{bad}); !errors.Is(err, ErrNoFrames) {
		t.Fatalf("err %v", err)
	}
	if _, ok := e.Neutral(1); ok {
		t.Fatal("baseline from no usable frames")
	}
	n := neutralFace(t)
	open := expressions(t)[AU25]
	if err := e.SetBaseline(1, [][68]img.Point{open, n, n, bad}); err != nil {
		t.Fatal(err)
	}
	got, ok := e.Neutral(1)
	if !ok || got.Frames != 3 {
		t.Fatalf("%+v %v", got, ok)
	}
	r := e.Estimate(1, 0, &open)
	if v, ok := r.CorrectedIntensity(AU25); !ok || v < 1 {
		t.Errorf("AU25 corrected %.2f %v", v, ok)
	}
	e.SetNeutral(2, got)
	if r := e.Estimate(2, 0, &n); !r.HasCorrected {
		t.Error("SetNeutral not used")
	}
}
