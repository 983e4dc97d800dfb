package aus

import (
	"math"
	"testing"

	"github.com/lsie-mlf/lsie/plugins/au/internal/img"
)

func TestNeutralReadsZero(t *testing.T) {
	p := neutralFace(t)
	r := Estimate(&p, nil)
	if !r.OK() || r.Flags != 0 {
		t.Fatalf("flags %b", r.Flags)
	}
	for a := AU(0); a < NumAU; a++ {
		if r.Intensity[a] > 0.01 {
			t.Errorf("%s = %.3f on the neutral face (g %.4f)", a, r.Intensity[a], r.G[a])
		}
	}
	if r.HasCorrected {
		t.Error("corrected values without a baseline")
	}
	if math.Abs(r.Pose.Yaw) > 0.5 || math.Abs(r.Pose.Pitch) > 0.5 || math.Abs(r.Pose.Roll) > 0.01 {
		t.Errorf("neutral pose %+v", r.Pose)
	}
}

// expressions are synthetic single-unit shapes: landmark moves in IOD units
// (y down) on the neutral face, and the unit they must raise.
func expressions(t testing.TB) map[AU][68]img.Point {
	n := neutralFace(t)
	closedEyes := move(n, 0, 0.11, 37, 38, 43, 44)
	jaw := move(n, 0, 0.2, append(rng(5, 11), 55, 56, 57, 58, 59, 65, 66, 67)...)
	jaw = move(jaw, 0, 0.1, 4, 12)
	return map[AU][68]img.Point{
		AU1:  move(move(n, 0, -0.06, 21, 22), 0, -0.03, 20, 23),
		AU2:  move(move(n, 0, -0.06, 17, 18, 25, 26), 0, -0.03, 19, 24),
		AU4:  move(move(move(n, 0, 0.05, rng(17, 26)...), 0.04, 0, 21, 20), -0.04, 0, 22, 23),
		AU5:  move(n, 0, -0.03, 37, 38, 43, 44),
		AU6:  move(n, 0, -0.02, 40, 41, 46, 47),
		AU9:  move(move(move(n, 0, -0.04, rng(31, 35)...), 0, -0.07, 49, 50, 51, 52, 53, 61, 62, 63), 0, 0.02, 21, 22),
		AU12: move(move(n, -0.04, -0.06, 48, 60), 0.04, -0.06, 54, 64),
		AU15: move(n, 0, 0.05, 48, 54, 60, 64),
		AU17: move(move(n, 0, -0.04, 55, 56, 57, 58, 59, 65, 66, 67), 0, -0.02, 49, 50, 51, 52, 53, 61, 62, 63),
		AU20: move(move(n, -0.06, 0, 48, 60), 0.06, 0, 54, 64),
		AU25: move(n, 0, 0.08, 55, 56, 57, 58, 59, 65, 66, 67),
		AU26: jaw,
		AU45: closedEyes,
	}
}

func TestDirections(t *testing.T) {
	n := neutralFace(t)
	base := Estimate(&n, nil)
	for a, p := range expressions(t) {
		r := Estimate(&p, nil)
		if r.Flags != 0 {
			t.Fatalf("%s: flags %b", a, r.Flags)
		}
		if r.Intensity[a] < 1 || r.G[a] == base.G[a] {
			t.Errorf("%s: intensity %.2f (g %.4f → %.4f)", a, r.Intensity[a], base.G[a], r.G[a])
		}
		t.Logf("%s: %.2f", a, r.Intensity[a])
	}
	// The opposite movements read 0.
	for _, c := range []struct {
		a AU
		p [68]img.Point
	}{
		{AU1, move(n, 0, 0.05, 21, 22)},
		{AU12, move(n, 0, 0.04, 48, 54)},
		{AU15, move(n, 0, -0.04, 48, 54)},
		{AU5, move(n, 0, 0.03, 37, 38, 43, 44)},
		{AU20, move(move(n, 0.05, 0, 48), -0.05, 0, 54)},
	} {
		if r := Estimate(&c.p, nil); r.Intensity[c.a] != 0 {
			t.Errorf("%s opposite movement reads %.2f", c.a, r.Intensity[c.a])
		}
	}
}

func TestBlink(t *testing.T) {
	p := expressions(t)[AU45]
	r := Estimate(&p, nil)
	if r.Intensity[AU45] < 4.5 {
		t.Errorf("closed eyes: AU45 = %.2f (EAR %.3f)", r.Intensity[AU45], r.G[AU45])
	}
	if r.Intensity[AU5] != 0 {
		t.Errorf("closed eyes: AU5 = %.2f", r.Intensity[AU5])
	}
	half := move(neutralFace(t), 0, 0.055, 37, 38, 43, 44)
	h := Estimate(&half, nil)
	if !(h.Intensity[AU45] > 1 && h.Intensity[AU45] < r.Intensity[AU45]) {
		t.Errorf("half-closed AU45 = %.2f, closed %.2f", h.Intensity[AU45], r.Intensity[AU45])
	}
}

func TestInvariance(t *testing.T) {
	shapes := expressions(t)
	shapes[-1] = neutralFace(t)
	for a, p := range shapes {
		r0 := Estimate(&p, nil)
		for _, tr := range []struct{ deg, s, tx, ty float64 }{
			{20, 1, 0, 0}, {-20, 1, 0, 0}, {0, 0.3, 0, 0}, {0, 3.5, 0, 0},
			{0, 1, 1234.5, -321.25}, {20, 2.2, 500, 700}, {-35, 0.6, -90, 40},
		} {
			q := similarity(p, img.Point{X: 300, Y: 300}, tr.deg, tr.s, tr.tx, tr.ty)
			r := Estimate(&q, nil)
			for u := AU(0); u < NumAU; u++ {
				if d := math.Abs(r.Intensity[u] - r0.Intensity[u]); d > 1e-3 {
					t.Errorf("shape %s %+v: %s intensity %.5f vs %.5f", a, tr, u, r.Intensity[u], r0.Intensity[u])
				}
				if d := math.Abs(r.G[u] - r0.G[u]); d > 1e-4 {
					t.Errorf("shape %s %+v: %s g %.6f vs %.6f", a, tr, u, r.G[u], r0.G[u])
				}
			}
			if d := math.Abs(r.Pose.Roll - r0.Pose.Roll - tr.deg); d > 1e-3 {
				t.Errorf("shape %s %+v: roll %.4f, want %.4f", a, tr, r.Pose.Roll, r0.Pose.Roll+tr.deg)
			}
			if math.Abs(r.Pose.Yaw-r0.Pose.Yaw) > 1e-3 || math.Abs(r.Pose.Pitch-r0.Pose.Pitch) > 1e-3 {
				t.Errorf("shape %s %+v: pose %+v vs %+v", a, tr, r.Pose, r0.Pose)
			}
		}
	}
}

// noNaN checks every number of r is finite and intensities are in range.
func noNaN(t testing.TB, r *Result) {
	t.Helper()
	all := []float64{r.Pose.Yaw, r.Pose.Pitch, r.Pose.Roll, r.IOD}
	all = append(all, r.G[:]...)
	all = append(all, r.Intensity[:]...)
	all = append(all, r.Corrected[:]...)
	for i, v := range all {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("non-finite output %d: %v (%+v)", i, v, r)
		}
	}
	for a := AU(0); a < NumAU; a++ {
		if r.Intensity[a] < 0 || r.Intensity[a] > 5 || r.Corrected[a] < 0 || r.Corrected[a] > 5 {
			t.Fatalf("%s out of range: %v %v", a, r.Intensity[a], r.Corrected[a])
		}
	}
	if !r.OK() && (r.G != [NumAU]float64{} || r.Intensity != [NumAU]float64{} || r.HasCorrected) {
		t.Fatalf("flagged result carries values: %+v", r)
	}
}

func TestDegenerate(t *testing.T) {
	n := neutralFace(t)
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	var same [68]img.Point
	for i := range same {
		same[i] = img.Point{X: 5, Y: 7}
	}
	eyes := n
	for _, i := range []int{36, 39, 42, 45} {
		eyes[i] = img.Point{X: 300, Y: 250}
	}
	withNaN := n
	withNaN[30].X = nan
	withInf := n
	withInf[8].Y = -inf
	allNaN := n
	for i := range allNaN {
		allNaN[i] = img.Point{X: nan, Y: nan}
	}
	huge := similarity(n, img.Point{}, 0, 1e35, 0, 0)
	tiny := similarity(n, img.Point{}, 0, 1e-30, 0, 0)
	line := n
	for i := range line {
		line[i].Y = 10 // all on one horizontal line: no pose
	}
	for _, c := range []struct {
		name string
		p    [68]img.Point
		want Flags
	}{
		{"all equal", same, FlagDegenerate},
		{"eyes together", eyes, FlagDegenerate},
		{"one NaN", withNaN, FlagNonFinite},
		{"one Inf", withInf, FlagNonFinite},
		{"all NaN", allNaN, FlagNonFinite},
		{"zero", [68]img.Point{}, FlagDegenerate},
		{"huge", huge, 0},
		{"tiny", tiny, 0},
		{"collinear", line, FlagNoPose},
	} {
		for _, base := range []*Neutral{nil, {Frames: 1}} {
			r := Estimate(&c.p, base)
			noNaN(t, &r)
			if r.Flags&c.want != c.want || (c.want == 0 && r.Flags != 0) {
				t.Errorf("%s: flags %b, want %b", c.name, r.Flags, c.want)
			}
			if _, ok := HeadPose(&c.p); ok != (r.Flags == 0) {
				t.Errorf("%s: HeadPose ok = %v with flags %b", c.name, ok, r.Flags)
			}
		}
	}
}
