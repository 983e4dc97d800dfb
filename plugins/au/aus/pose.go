package aus

import (
	"math"

	"github.com/lsie-mlf/lsie/plugins/au/internal/img"
)

// poseIdx are the landmarks of the generic 3-D model: outer and inner eye
// corners, nose tip, nose base, mouth corners, chin. These are rigid enough
// (no brow or lid movement) for a rotation fit; the mouth corners move with
// expressions but weigh 2 of 9.
var poseIdx = [...]int{36, 39, 42, 45, 30, 33, 48, 54, 8}

// poseModel is the generic head in inter-ocular units, frontal, x image-right,
// y image-down, z away from the camera. x and y are the generic neutral face (see specs) aligned
// like align does, so the mean face fits with zero rotation. z is depth
// behind the nose tip from generic adult anthropometry (IOD ≈ 63 mm): nose
// base 16 mm, inner eye corners 25 mm, outer 35 mm, mouth corners 28 mm,
// chin 22 mm.
var poseModel = [len(poseIdx)][3]float64{
	{-0.7034, -0.0147, 0.55},
	{-0.2966, 0.0147, 0.40},
	{0.2966, 0.0147, 0.40},
	{0.7034, -0.0147, 0.55},
	{0.0000, 0.5542, 0.00},
	{0.0000, 0.7672, 0.25},
	{-0.4497, 1.0559, 0.45},
	{0.4497, 1.0559, 0.45},
	{0.0000, 1.7506, 0.35},
}

// posePinv is X̃·(X̃ᵀX̃)⁻¹ for the centred model X̃, so the least-squares
// 2×3 projection of centred image points x̃ is M = x̃ᵀ·posePinv.
var posePinv = func() (p [len(poseIdx)][3]float64) {
	var c [3]float64
	for _, m := range poseModel {
		for k := range c {
			c[k] += m[k] / float64(len(poseModel))
		}
	}
	var x [len(poseIdx)][3]float64
	var a [3][3]float64 // X̃ᵀX̃
	for i, m := range poseModel {
		for k := range c {
			x[i][k] = m[k] - c[k]
		}
		for r := 0; r < 3; r++ {
			for s := 0; s < 3; s++ {
				a[r][s] += x[i][r] * x[i][s]
			}
		}
	}
	inv := inv3(a)
	for i := range x {
		for k := 0; k < 3; k++ {
			for s := 0; s < 3; s++ {
				p[i][k] += x[i][s] * inv[s][k]
			}
		}
	}
	return p
}()

func inv3(a [3][3]float64) (r [3][3]float64) {
	det := a[0][0]*(a[1][1]*a[2][2]-a[1][2]*a[2][1]) -
		a[0][1]*(a[1][0]*a[2][2]-a[1][2]*a[2][0]) +
		a[0][2]*(a[1][0]*a[2][1]-a[1][1]*a[2][0])
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			// Cofactor of a[j][i] (transposed) over the determinant.
			i1, i2 := (j+1)%3, (j+2)%3
			j1, j2 := (i+1)%3, (i+2)%3
			r[i][j] = (a[i1][j1]*a[i2][j2] - a[i1][j2]*a[i2][j1]) / det
		}
	}
	return r
}

// HeadPose estimates yaw, pitch and roll in degrees; ok is false (and the
// pose zero) for degenerate or non-finite input.
func HeadPose(pts *[68]img.Point) (p Pose, ok bool) {
	var q [68]vec
	iod, roll, flags := align(pts, &q)
	if flags != 0 {
		return Pose{}, false
	}
	yaw, pitch, ok := fitPose(pts, iod)
	if !ok {
		return Pose{}, false
	}
	return Pose{Yaw: yaw, Pitch: pitch, Roll: roll * 180 / math.Pi}, true
}

// fitPose fits a scaled-orthographic camera to the model points: the
// least-squares affine 2×3 map, whose rows are made orthonormal
// symmetrically (the nearest rotation rows), completed by their cross
// product, and read as R = Rz·Ry(yaw)·Rx(pitch). Roll is left to the eye
// line, which the caller has.
func fitPose(pts *[68]img.Point, iod float64) (yaw, pitch float64, ok bool) {
	var cx, cy float64
	for _, i := range poseIdx {
		cx += float64(pts[i].X)
		cy += float64(pts[i].Y)
	}
	n := float64(len(poseIdx))
	cx, cy = cx/n, cy/n
	var m1, m2 [3]float64
	for j, i := range poseIdx {
		// Centred and scaled by IOD so the numbers stay O(1) whatever the
		// frame size.
		x := (float64(pts[i].X) - cx) / iod
		y := (float64(pts[i].Y) - cy) / iod
		for k := 0; k < 3; k++ {
			m1[k] += x * posePinv[j][k]
			m2[k] += y * posePinv[j][k]
		}
	}
	n1, n2 := norm3(m1), norm3(m2)
	if !(n1 > 1e-9) || !(n2 > 1e-9) || !finite(n1) || !finite(n2) {
		return 0, 0, false
	}
	var e, f [3]float64
	for k := 0; k < 3; k++ {
		u1, u2 := m1[k]/n1, m2[k]/n2
		e[k], f[k] = u1+u2, u1-u2
	}
	ne, nf := norm3(e), norm3(f)
	if !(ne > 1e-9) || !(nf > 1e-9) {
		return 0, 0, false
	}
	var r1, r2 [3]float64
	for k := 0; k < 3; k++ {
		e[k] /= ne
		f[k] /= nf
		r1[k] = (e[k] + f[k]) / math.Sqrt2
		r2[k] = (e[k] - f[k]) / math.Sqrt2
	}
	// Third row of R = r1 × r2.
	r31 := r1[1]*r2[2] - r1[2]*r2[1]
	r32 := r1[2]*r2[0] - r1[0]*r2[2]
	r33 := r1[0]*r2[1] - r1[1]*r2[0]
	yaw = math.Asin(clamp(-r31, -1, 1)) * 180 / math.Pi
	pitch = math.Atan2(r32, r33) * 180 / math.Pi
	if !finite(yaw) || !finite(pitch) {
		return 0, 0, false
	}
	return yaw, pitch, true
}

func norm3(v [3]float64) float64 { return math.Sqrt(v[0]*v[0] + v[1]*v[1] + v[2]*v[2]) }
