// Package aus estimates facial action unit (AU) intensities and head pose
// from dlib's 68 face landmarks (iBUG 300-W indexing, 0-based; "right" is
// the subject's right, i.e. image left).
//
// # Alignment
//
// Each eye's centre is the midpoint of its two corners (36,39 and 42,45),
// which lid movement does not shift. The points are translated so the eye
// centres' midpoint is the origin, rotated by minus the head roll (the eye
// line's angle) and divided by the inter-ocular distance (IOD, between the
// eye centres). All measures g below are in these IOD units (y downward),
// so they do not depend on translation, scale or roll. Yaw foreshortens
// the IOD, so vertical measures grow by about 1/cos(yaw): compare faces
// within |yaw| ≲ 20°, or rely on the baseline-corrected values.
//
// # Formulas
//
// For every unit, intensity = clamp(5·(g − g₀)/span, 0, 5): 0 at the
// neutral, 5 at a full-span excursion in the unit's direction (a negative
// span means g falls as the unit activates). g₀ is the generic neutral
// (the table) for Result.Intensity, and the subject's baseline g for
// Result.Corrected. The generic g₀ are g measured on dlib's mean shape with
// its lips closed; spans are typical full-intensity excursions.
//
//	AU    name                  g (IOD units unless noted)                              g₀      span
//	AU1   inner brow raiser     inner brow (21,22) height above inner eye corners        0.2938  +0.12
//	                            (39,42), mean of both sides
//	AU2   outer brow raiser     outer brow (mean of 17,18 / 25,26) height above outer    0.2727  +0.12
//	                            eye corners (36 / 45), mean of both sides
//	AU4   brow lowerer          ½·(mean height of brow points 17–26 above the eye line   0.3451  −0.10
//	                            + inner-brow distance |p22 − p21|)
//	AU5   upper lid raiser      upper lid (mean of 37,38 / 43,44) height above its eye's 0.0856  +0.05
//	                            corner midpoint, mean of both eyes
//	AU6   cheek raiser          lower lid (mean of 40,41 / 46,47) depth below its eye's  0.0389  −0.035
//	                            corner midpoint (the cheek pushes it up), both eyes
//	AU9   nose wrinkler         ½·(inner brow 21,22 → nostril wings 31,35 vertical       0.5932  −0.10
//	                            + nose base 33 → upper lip 51 vertical)
//	AU12  lip corner puller     lip corners (48,54) elevation above the mouth centre     0.0096  +0.15
//	                            line, the midpoint of inner lips 62 and 66
//	AU15  lip corner depressor  minus the AU12 measure (corner depression)              −0.0096  +0.10
//	AU17  chin raiser           nose base 33 → lower lip 57, vertical (the chin boss     0.4470  −0.08
//	                            pushes the lower lip up)
//	AU20  lip stretcher         mouth width |p54 − p48|                                  0.8993  +0.30
//	AU25  lips part             inner lip gap, mean of 61–67, 62–66, 63–65 (vertical)    0       +0.25
//	AU26  jaw drop              nose base 33 → chin 8, vertical                          0.9834  +0.45
//	AU45  blink                 eye aspect ratio (|p37−p41| + |p38−p40|)/(2·|p36−p39|),  0.3059  −0.25
//	                            mean of both eyes (a ratio, unitless)
//
// The measures overlap as the muscles do: AU4 also lowers AU1/AU2's g, a
// smile (AU12) widens the mouth (AU20) and lifts the upper lip a little
// (AU9), a jaw drop parts the lips (AU25). They are landmark geometry, not
// appearance: wrinkles and furrows (AU6's crow's feet, AU9's nose
// wrinkles) are invisible to them, so those units read only their shape
// component.
//
// # Baseline
//
// People's resting faces differ by more than many AU spans, so a per-subject
// neutral is the better zero. A Baseline accumulates a face's g over the
// first Window of its appearance (default 10 s, at least MinFrames frames)
// and keeps the per-unit median (baseline_b_neutral, type Neutral: G and
// Frames); or it is set at once from chosen frames. Until it is complete
// Result.HasCorrected is false and Result.Corrected is not a reading.
// Estimator keeps one baseline per face id (see package track).
//
// # Head pose
//
// Roll is the eye line's angle. Yaw and pitch come from a scaled-orthographic
// fit of a generic 3-D model of nine rigid-ish landmarks (eye corners, nose
// tip and base, mouth corners, chin): the least-squares affine projection,
// made a rotation by symmetric orthonormalisation of its rows. Accuracy on
// synthetic heads over |yaw| ≤ 30°, |pitch| ≤ 20°, roll 0/15/−25°
// (TestHeadPoseSynthetic), maximum absolute error:
//
//	head depths                        projection           yaw    pitch  roll
//	model's, on the 9 fitted points    orthographic         0.0°   0.0°   0.0°
//	model's, on the 9 fitted points    camera at 18 IOD     2.0°   1.9°   1.2°
//	perturbed −20…+20% per point       orthographic         4.4°   3.7°   0.0°
//	perturbed −20…+20% per point       camera at 18 IOD     6.3°   5.1°   1.2°
//
// So the fit is within 3° when the subject's face depth matches the model;
// a face uniformly deeper reads as more rotated (sin of the angle scales by
// 1/depth factor: ×1.15 depth turns 30° yaw into 37.7°).
//
// # Degenerate input
//
// Non-finite points, or eyes closer than 2% of the landmarks' extent, give
// a zero Result with FlagNonFinite or FlagDegenerate; a failed pose fit sets
// FlagNoPose. No output is ever NaN.
package aus
