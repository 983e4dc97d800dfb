package aus

import (
	"math"
	"testing"

	"github.com/lsie-mlf/lsie/plugins/au/internal/img"
)

// testDepth is a synthetic head's depth behind the nose tip (IOD units) for
// every landmark: a profile unlike poseModel's point by point (outer eye
// corners +13%, inner −15%, nose base −20%, mouth corners +11%, chin +20%)
// though of similar overall depth, so the fit meets a head it does not know.
func testDepth(i int) float64 {
	if matchedDepths {
		for j, k := range poseIdx {
			if k == i {
				return poseModel[j][2]
			}
		}
	}
	switch {
	case i <= 16: // jaw: deep at the ears, shallow at the chin
		return 0.42 + 0.75*(1-math.Sin(math.Pi*float64(i)/16))
	case i <= 26: // brows: inner 0.35 … outer 0.65
		k := i - 17
		if k > 4 {
			k = 9 - k
		}
		return 0.65 - 0.075*float64(k)
	case i <= 30:
		return []float64{0.45, 0.3, 0.15, 0}[i-27]
	case i <= 35:
		return []float64{0.3, 0.22, 0.2, 0.22, 0.3}[i-31]
	case i == 48 || i == 54:
		return 0.5
	case i == 36 || i == 45:
		return 0.62
	case i == 39 || i == 42:
		return 0.34
	case i <= 47:
		return 0.55
	case i == 60 || i == 64:
		return 0.5
	case i <= 59:
		return []float64{0, 0.4, 0.3, 0.25, 0.3, 0.4, 0, 0.4, 0.3, 0.25, 0.3, 0.4}[i-48]
	default:
		return 0.3
	}
}

// matchedDepths makes testDepth give the model's depths on the fitted
// points (the head is then the model's, but for perspective and the other 59
// points).
var matchedDepths bool

// rotatedHead renders the neutral face's synthetic head at the given pose
// (R = Rz(roll)·Ry(yaw)·Rx(pitch)) through a pinhole camera dist IOD units
// from the head (orthographic when dist is 0), 150 px per IOD.
func rotatedHead(t testing.TB, yaw, pitch, roll, dist float64) [68]img.Point {
	return scaledHead(t, yaw, pitch, roll, dist, 1)
}

// scaledHead is rotatedHead with every depth multiplied by k.
func scaledHead(t testing.TB, yaw, pitch, roll, dist, k float64) [68]img.Point {
	n := neutralFace(t)
	var q [68]vec
	if _, _, f := align(&n, &q); f != 0 {
		t.Fatal("neutral face degenerate")
	}
	r := func(d float64) (float64, float64) { return math.Sincos(d * math.Pi / 180) }
	sa, ca := r(pitch)
	sb, cb := r(yaw)
	sc, cc := r(roll)
	var p [68]img.Point
	for i := range q {
		// Rotate about a point 0.8 IOD behind the nose, near the head's centre.
		x, y, z := q[i].x, q[i].y-0.6, k*testDepth(i)-0.8
		y, z = ca*y-sa*z, sa*y+ca*z
		x, z = cb*x+sb*z, -sb*x+cb*z
		x, y = cc*x-sc*y, sc*x+cc*y
		if dist > 0 {
			x, y = x*dist/(dist+z), y*dist/(dist+z)
		}
		p[i] = img.Point{X: float32(400 + 150*x), Y: float32(300 + 150*y)}
	}
	return p
}

func TestHeadPoseSynthetic(t *testing.T) {
	defer func() { matchedDepths = false }()
	for _, c := range []struct {
		name    string
		matched bool
		tol     float64
	}{
		{"model-depth head", true, 3},
		{"perturbed-depth head", false, 7},
	} {
		matchedDepths = c.matched
		for _, dist := range []float64{0, 18} { // 18 IOD ≈ 8 face heights
			var worstYaw, worstPitch, worstRoll float64
			for yaw := -30.0; yaw <= 30; yaw += 5 {
				for pitch := -20.0; pitch <= 20; pitch += 5 {
					for _, roll := range []float64{0, 15, -25} {
						p := rotatedHead(t, yaw, pitch, roll, dist)
						got, ok := HeadPose(&p)
						if !ok {
							t.Fatalf("no pose at %v %v %v", yaw, pitch, roll)
						}
						ey, ep, er := math.Abs(got.Yaw-yaw), math.Abs(got.Pitch-pitch), math.Abs(got.Roll-roll)
						worstYaw, worstPitch, worstRoll = max(worstYaw, ey), max(worstPitch, ep), max(worstRoll, er)
						if ey > c.tol || ep > c.tol || er > c.tol {
							t.Errorf("%s, dist %v: want yaw %v pitch %v roll %v, got %+v", c.name, dist, yaw, pitch, roll, got)
						}
					}
				}
			}
			t.Logf("%s, camera at %v IOD (0 = orthographic): max |error| over |yaw| ≤ 30°, |pitch| ≤ 20°, roll ∈ {0,15,−25}: yaw %.2f°, pitch %.2f°, roll %.2f°",
				c.name, dist, worstYaw, worstPitch, worstRoll)
		}
	}
}

func TestHeadPoseSigns(t *testing.T) {
	p := rotatedHead(t, 20, 0, 0, 0)
	if p[30].X >= p[27].X {
		t.Fatal("test head: positive yaw should move the nose tip image-left")
	}
	p = rotatedHead(t, 0, 15, 0, 0)
	n := rotatedHead(t, 0, 0, 0, 0)
	if p[30].Y-p[27].Y <= n[30].Y-n[27].Y {
		t.Fatal("test head: positive pitch should tip the nose down")
	}
	if got, _ := HeadPose(&p); got.Pitch < 10 {
		t.Errorf("pitch %+v", got)
	}
}

// TestHeadPoseDepthScale documents the scaled-orthographic fit's one
// blind spot: a head uniformly deeper or flatter than the model reads as
// more or less yaw and pitch (sin of the angle scales by 1/k).
func TestHeadPoseDepthScale(t *testing.T) {
	for _, k := range []float64{0.85, 1.15} {
		p := scaledHead(t, 30, 15, 0, 0, k)
		got, _ := HeadPose(&p)
		t.Logf("depth ×%.2f: yaw 30 → %.1f, pitch 15 → %.1f", k, got.Yaw, got.Pitch)
		if math.Abs(got.Yaw-30) > 8 || math.Abs(got.Pitch-15) > 6 {
			t.Errorf("depth ×%.2f: %+v", k, got)
		}
	}
}
