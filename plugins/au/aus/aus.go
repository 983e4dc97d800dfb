package aus

import (
	"math"

	"github.com/lsie-mlf/lsie/plugins/au/internal/img"
)

// AU indexes the estimated action units; the values index Result's arrays.
type AU int

// The estimated action units, in FACS numbering. AU45 is blink.
const (
	AU1 AU = iota
	AU2
	AU4
	AU5
	AU6
	AU9
	AU12
	AU15
	AU17
	AU20
	AU25
	AU26
	AU45
	NumAU // number of estimated units
)

// Spec is one unit's formula constants: intensity = clamp(5·(g − Neutral)/Span, 0, 5).
// A negative Span means the measure falls as the unit activates.
type Spec struct {
	Name    string  // "AU12"
	Label   string  // FACS name
	Measure string  // what g is
	Neutral float64 // g on the generic neutral face (inter-ocular units)
	Span    float64 // change of g that reads as intensity 5
}

// The Neutral values are g measured on the generic neutral face: dlib's mean
// 68-point shape (the predictor's initial shape) with its slightly parted
// lips closed (lower lip and chin raised by the inner-lip gap), so that face
// reads 0 everywhere. The
// spans are the typical full-intensity excursions in inter-ocular units
// (≈ 63 mm on an adult), chosen so that a strong posed expression reaches 4–5.
var specs = [NumAU]Spec{
	AU1:  {"AU1", "inner brow raiser", "inner brow (21,22) height above inner eye corners (39,42)", 0.2938, 0.12},
	AU2:  {"AU2", "outer brow raiser", "outer brow (17,18 / 25,26) height above outer eye corners (36,45)", 0.2727, 0.12},
	AU4:  {"AU4", "brow lowerer", "mean of brow (17–26) height above the eye line and inner-brow distance |22−21|", 0.3451, -0.10},
	AU5:  {"AU5", "upper lid raiser", "upper lid (37,38 / 43,44) height above its eye's corner midpoint", 0.0856, 0.05},
	AU6:  {"AU6", "cheek raiser", "lower lid (40,41 / 46,47) depth below its eye's corner midpoint", 0.0389, -0.035},
	AU9:  {"AU9", "nose wrinkler", "mean of inner brow (21,22) → nostril wings (31,35) and nose base (33) → upper lip (51) vertical distances", 0.5932, -0.10},
	AU12: {"AU12", "lip corner puller", "lip corners (48,54) elevation above the mouth centre line (62,66)", 0.0096, 0.15},
	AU15: {"AU15", "lip corner depressor", "lip corners (48,54) depression below the mouth centre line (62,66)", -0.0096, 0.10},
	AU17: {"AU17", "chin raiser", "vertical distance nose base (33) → lower lip (57)", 0.4470, -0.08},
	AU20: {"AU20", "lip stretcher", "mouth width |54−48|", 0.8993, 0.30},
	AU25: {"AU25", "lips part", "mean inner lip gap (61–67, 62–66, 63–65)", 0.0000, 0.25},
	AU26: {"AU26", "jaw drop", "vertical distance nose base (33) → chin (8)", 0.9834, 0.45},
	AU45: {"AU45", "blink", "eye aspect ratio (|37−41|+|38−40|)/(2|36−39|), both eyes", 0.3059, -0.25},
}

// Specs is the formula table (a copy).
func Specs() [NumAU]Spec { return specs }

// String is the FACS name, e.g. "AU12".
func (a AU) String() string {
	if a < 0 || a >= NumAU {
		return "AU?"
	}
	return specs[a].Name
}

// Flags report why an estimate is partial or empty.
type Flags uint8

const (
	// FlagNonFinite: some input point was NaN or ±Inf; AUs and pose are zero.
	FlagNonFinite Flags = 1 << iota
	// FlagDegenerate: eyes coincide (or nearly, relative to the face's
	// extent) so there is no scale or roll; AUs and pose are zero.
	FlagDegenerate
	// FlagNoPose: the 3-D fit failed (e.g. collinear points); yaw and pitch are zero.
	FlagNoPose
)

// Pose is head orientation in degrees, rotation R = Rz(roll)·Ry(yaw)·Rx(pitch)
// applied to a head-fixed frame (x image-right, y image-down, z away from
// the camera) under scaled-orthographic projection. Signs: Yaw > 0 turns the
// nose toward image left (the subject's right); Pitch > 0 tips the nose down;
// Roll > 0 turns the eye line clockwise on screen.
type Pose struct {
	Yaw, Pitch, Roll float64
}

// Result is one face's estimate.
type Result struct {
	// G is each unit's raw measure in inter-ocular units after roll alignment.
	G [NumAU]float64
	// Intensity is the 0–5 intensity against the generic neutral constants.
	Intensity [NumAU]float64
	// Corrected is the 0–5 intensity against the subject's baseline; it is
	// meaningful only when HasCorrected (all zeros otherwise, not a reading).
	Corrected    [NumAU]float64
	HasCorrected bool
	Pose         Pose
	// IOD is the inter-ocular distance in pixels (between eye-corner midpoints).
	IOD   float64
	Flags Flags
}

// OK reports whether the AUs were measured (the pose may still be absent).
func (r *Result) OK() bool { return r.Flags&(FlagNonFinite|FlagDegenerate) == 0 }

// CorrectedIntensity is the baseline-corrected intensity, absent until the
// face has a complete baseline.
func (r *Result) CorrectedIntensity(a AU) (float64, bool) {
	if !r.HasCorrected || a < 0 || a >= NumAU {
		return 0, false
	}
	return r.Corrected[a], true
}

type vec struct{ x, y float64 }

func sub(a, b vec) vec      { return vec{a.x - b.x, a.y - b.y} }
func mid(a, b vec) vec      { return vec{(a.x + b.x) / 2, (a.y + b.y) / 2} }
func dist(a, b vec) float64 { return math.Hypot(a.x-b.x, a.y-b.y) }
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
func clamp(v, lo, hi float64) float64 {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

// minIODRatio rejects faces whose eyes are closer than this fraction of the
// landmark bounding-box diagonal: such shapes (collapsed eyes, or profile
// views past ~85° yaw) give no usable scale.
const minIODRatio = 0.02

// align maps the points into the face frame: origin midway between the eye
// centres, x along the eye line, unit inter-ocular distance. Eye centres are
// the eye-corner midpoints, not the six-point means, so lid movement (blinks,
// AU5/AU6) does not shift the frame. It returns the pixel IOD and roll.
func align(pts *[68]img.Point, q *[68]vec) (iod, roll float64, flags Flags) {
	var p [68]vec
	minx, miny := math.Inf(1), math.Inf(1)
	maxx, maxy := math.Inf(-1), math.Inf(-1)
	for i, pt := range pts {
		x, y := float64(pt.X), float64(pt.Y)
		if !finite(x) || !finite(y) {
			return 0, 0, FlagNonFinite
		}
		p[i] = vec{x, y}
		minx, maxx = min(minx, x), max(maxx, x)
		miny, maxy = min(miny, y), max(maxy, y)
	}
	right := mid(p[36], p[39]) // subject's right eye: image left
	left := mid(p[42], p[45])
	d := sub(left, right)
	iod = math.Hypot(d.x, d.y)
	diag := math.Hypot(maxx-minx, maxy-miny)
	if !(iod > 0) || iod < minIODRatio*diag || !finite(iod) {
		return 0, 0, FlagDegenerate
	}
	roll = math.Atan2(d.y, d.x)
	c, s := d.x/iod, d.y/iod // cos, sin of roll
	o := mid(right, left)
	for i := range p {
		v := sub(p[i], o)
		// Rotate by −roll, then scale to IOD units.
		q[i] = vec{(c*v.x + s*v.y) / iod, (-s*v.x + c*v.y) / iod}
	}
	return iod, roll, 0
}

// measure computes each unit's g on aligned points (y grows downward, so a
// height above something is its y minus the point's y).
func measure(q *[68]vec, g *[NumAU]float64) {
	y := func(i int) float64 { return q[i].y }
	ear := func(a, b, c, d, e, f int) float64 {
		w := dist(q[a], q[d])
		if w == 0 {
			return 0
		}
		return (dist(q[b], q[f]) + dist(q[c], q[e])) / (2 * w)
	}

	g[AU1] = ((y(39) - y(21)) + (y(42) - y(22))) / 2
	g[AU2] = ((y(36) - (y(17)+y(18))/2) + (y(45) - (y(25)+y(26))/2)) / 2

	var brow float64
	for i := 17; i <= 26; i++ {
		brow -= y(i) // eye line is y = 0 after alignment
	}
	brow /= 10
	g[AU4] = (brow + dist(q[21], q[22])) / 2

	rc := (y(36) + y(39)) / 2 // corner midpoints per eye
	lc := (y(42) + y(45)) / 2
	g[AU5] = ((rc - (y(37)+y(38))/2) + (lc - (y(43)+y(44))/2)) / 2
	g[AU6] = (((y(40)+y(41))/2 - rc) + ((y(46)+y(47))/2 - lc)) / 2

	browToNostril := (y(31)+y(35))/2 - (y(21)+y(22))/2
	noseToLip := y(51) - y(33)
	g[AU9] = (browToNostril + noseToLip) / 2

	elev := (y(62)+y(66))/2 - (y(48)+y(54))/2
	g[AU12] = elev
	g[AU15] = -elev
	g[AU17] = y(57) - y(33)
	g[AU20] = dist(q[48], q[54])
	g[AU25] = ((y(67) - y(61)) + (y(66) - y(62)) + (y(65) - y(63))) / 3
	g[AU26] = y(8) - y(33)
	g[AU45] = (ear(36, 37, 38, 39, 40, 41) + ear(42, 43, 44, 45, 46, 47)) / 2
}

// intensity applies the table's formula against a neutral g.
func intensity(a AU, g, neutral float64) float64 {
	v := 5 * (g - neutral) / specs[a].Span
	if !finite(v) {
		return 0
	}
	return clamp(v, 0, 5)
}

// Measure returns the raw measures g without intensities; flags as Estimate.
func Measure(pts *[68]img.Point) (g [NumAU]float64, flags Flags) {
	var q [68]vec
	if _, _, flags = align(pts, &q); flags != 0 {
		return g, flags
	}
	measure(&q, &g)
	for _, v := range g {
		if !finite(v) {
			return [NumAU]float64{}, FlagDegenerate
		}
	}
	return g, 0
}

// Estimate measures one face. base, when not nil, is the subject's neutral
// baseline; the corrected intensities are filled only then.
func Estimate(pts *[68]img.Point, base *Neutral) Result {
	var r Result
	var q [68]vec
	iod, roll, flags := align(pts, &q)
	if flags != 0 {
		r.Flags = flags
		return r
	}
	measure(&q, &r.G)
	for _, v := range r.G {
		if !finite(v) {
			// Only reachable with coordinates near float64 overflow; treat
			// like a collapsed face rather than emit NaN.
			return Result{Flags: FlagDegenerate}
		}
	}
	r.IOD = iod
	for a := AU(0); a < NumAU; a++ {
		r.Intensity[a] = intensity(a, r.G[a], specs[a].Neutral)
	}
	if base != nil && base.Frames > 0 {
		r.HasCorrected = true
		for a := AU(0); a < NumAU; a++ {
			r.Corrected[a] = intensity(a, r.G[a], base.G[a])
		}
	}
	r.Pose.Roll = roll * 180 / math.Pi
	yaw, pitch, ok := fitPose(pts, iod)
	if ok {
		r.Pose.Yaw, r.Pose.Pitch = yaw, pitch
	} else {
		r.Flags |= FlagNoPose
	}
	return r
}
