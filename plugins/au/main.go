// Command au is an lsie plugin that reads video frames from the host's
// shared memory and reports, per analysed frame and per face, facial
// action unit intensities (0–5), head pose and expression probabilities.
//
// Per frame: BlazeFace finds the faces (package blazeface), dlib's
// 68-point cascade places the landmarks (package landmarks, in Go), the
// AU formulas and head pose read the landmarks (package aus), the 7-class
// expression CNN reads the face crop (package expression), and IoU
// tracking gives each face a stable id in the stream (plugins/internal/track).
//
// Output. The frame's fields carry the face count and, for each tracked
// face N, fields named "faceN.<name>" — so the host's segment aggregates
// are per face id: faceN.present's count is the face's frames in the
// window (n_frames_in_window), faceN.au12's p90 its AU12 p90 intensity.
// AU fields: faceN.auX (0–5, against a generic neutral face),
// faceN.auX_c (0–5, against this face's own neutral baseline, once it is
// complete), faceN.auX_g (the raw geometric measure, inter-ocular units),
// faceN.auX_b (the baseline's measure: baseline_b_neutral). Expression:
// faceN.<label> probabilities. Pose: faceN.yaw/pitch/roll in degrees.
// The baseline is each face's first baseline_seconds (default 10 s), or
// what the "baseline" command sets (sdk.Commander; the host's
// POST /api/v1/streams/{id}/plugins/au/commands).
// Attributes (the manifest's schema; `lsie-host plugins inspect` lists
// them): max_faces, baseline_seconds, baseline_min_frames,
// landmarks_model; the detector's face_model and detect_* (package
// blazeface), emotion_model (package expression), and model_dir,
// ort_library, execution_provider.
// Each frame also publishes face.frame@1 with a JSON payload of the boxes,
// landmarks and flags ({"faces": []} when there are none), which the host
// stores with the segment.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lsie-mlf/lsie/plugins/au/aus"
	"github.com/lsie-mlf/lsie/plugins/au/blazeface"
	"github.com/lsie-mlf/lsie/plugins/au/expression"
	"github.com/lsie-mlf/lsie/plugins/au/internal/img"
	"github.com/lsie-mlf/lsie/plugins/au/landmarks"
	"github.com/lsie-mlf/lsie/plugins/internal/attrs"
	"github.com/lsie-mlf/lsie/plugins/internal/models"
	"github.com/lsie-mlf/lsie/plugins/internal/onnx"
	"github.com/lsie-mlf/lsie/plugins/internal/track"
	"github.com/lsie-mlf/lsie/sdk"
)

const version = "0.1.0"

// TopicFrame carries each analysed frame's faces as JSON.
const TopicFrame = "face.frame@1"

// defaultMaxFaces bounds the faces analysed per frame (largest first): the
// host takes at most 1024 fields per result, ~50 per face.
const defaultMaxFaces = 8

func main() { sdk.Serve(&plugin{}) }

// plugin holds what streams share: the landmark model is 64 MiB and read
// only, so one copy serves every stream.
type plugin struct {
	once  sync.Once
	pred  *landmarks.Predictor
	lmErr error
}

func (p *plugin) Manifest() sdk.Manifest {
	fields := []sdk.Field{
		{Name: "faces", Unit: "count", Description: "faces analysed in the frame"},
		{Name: "faces_too_small", Unit: "count", Description: "faces found but smaller than detect_min_face_px: counted, not analysed"},
		{Name: "detect_ms", Unit: "ms", Description: "face detection time for the frame"},
		{Name: "landmarks_ms", Unit: "ms", Description: "landmark time for the frame's faces"},
		{Name: "expression_ms", Unit: "ms", Description: "expression time for the frame's faces"},
		{Name: "total_ms", Unit: "ms", Description: "whole frame time in the plugin"},
		{Name: "faceN.present", Unit: "1", Description: "1 on each frame face N (a track id) is analysed; its segment count is n_frames_in_window"},
		{Name: "faceN.score", Unit: "0..1", Description: "detection score"},
		{Name: "faceN.yaw", Unit: "deg", Description: "head yaw from the 68 points (positive: subject turns to their left)"},
		{Name: "faceN.pitch", Unit: "deg", Description: "head pitch"},
		{Name: "faceN.roll", Unit: "deg", Description: "head roll (eye line)"},
		{Name: "faceN.baseline_frames", Unit: "count", Description: "frames the face's neutral baseline was taken from (once complete)"},
	}
	for _, s := range aus.Specs() {
		n := auField(s.Name)
		fields = append(fields,
			sdk.Field{Name: "faceN." + n, Unit: "0..5", Description: s.Label + ": " + s.Measure + " (generic neutral)"},
			sdk.Field{Name: "faceN." + n + "_c", Unit: "0..5", Description: s.Label + " against the face's own neutral baseline (absent until it is complete)"},
			sdk.Field{Name: "faceN." + n + "_g", Unit: "IOD", Description: "raw measure in inter-ocular units"},
			sdk.Field{Name: "faceN." + n + "_b", Unit: "IOD", Description: "the neutral baseline's measure (baseline_b_neutral)"},
		)
	}
	for _, l := range expression.Labels {
		fields = append(fields, sdk.Field{Name: "faceN." + l, Unit: "0..1", Description: "expression probability (7-class CNN)"})
	}
	return sdk.Manifest{
		Name:        "au",
		Version:     version,
		Description: "facial action units (0–5), head pose and expression per face: BlazeFace, dlib 68-point landmarks, 7-class expression CNN",
		Inputs:      []string{sdk.TopicVideoRGB24},
		Outputs:     []string{TopicFrame},
		Fields:      fields,
		// Each face is also an object: its box, track id, score, its
		// numbers as attributes (the faceN.* fields without the prefix)
		// and five landmarks as keypoints, so overlays and the API see one
		// shape for every detector.
		Labels:     []string{"face"},
		Attributes: attrs.Join(attributes(), blazeface.Attributes(), expression.Attributes(), models.Attributes(), onnx.Attributes()),
	}
}

// attributes are the plugin's own attributes (the models declare theirs).
func attributes() []sdk.Attribute {
	return []sdk.Attribute{
		{Name: "max_faces", Type: sdk.AttrInteger, Default: fmt.Sprint(defaultMaxFaces), Min: "1", Max: "16",
			Description: "faces analysed per frame, largest first (each adds ~50 fields)"},
		{Name: "baseline_seconds", Type: sdk.AttrNumber, Default: fmt.Sprint(aus.DefaultBaselineWindow.Seconds()), Min: "0.01", Max: "3600",
			Description: "each face's first seconds make its neutral baseline (the auX_c fields); the baseline command restarts it"},
		{Name: "baseline_min_frames", Type: sdk.AttrInteger, Default: fmt.Sprint(aus.DefaultBaselineMinFrames), Min: "1", Max: "4096",
			Description: "least frames of a face within baseline_seconds for its baseline"},
		{Name: "landmarks_model", Type: sdk.AttrString, Default: landmarks.DefaultPath,
			Description: "dlib's 68-point shape predictor (Debian's libdlib-data); the first stream's choice holds for the process"},
	}
}

// auField is an AU's field name: "AU12" → "au12".
func auField(name string) string { return "au" + name[2:] }

// predictor loads the landmark model the first time a stream opens; later
// streams share it.
func (p *plugin) predictor(path string) (*landmarks.Predictor, error) {
	p.once.Do(func() {
		if path == "" {
			path = landmarks.DefaultPath
		}
		p.pred, p.lmErr = landmarks.Load(path)
	})
	return p.pred, p.lmErr
}

func (p *plugin) OpenStream(info sdk.StreamInfo) (sdk.Stream, error) {
	cfg := parseConfig(info.Attrs) // the schema checked the values
	pred, err := p.predictor(info.Attrs.String("landmarks_model"))
	if err != nil {
		return nil, sdk.Errorf("model_error", "landmarks: %v", err)
	}
	det, err := blazeface.Open(info.Attributes)
	if err != nil {
		return nil, sdk.Errorf("model_error", "face detector: %v", err)
	}
	expr, err := expression.Open(info.Attributes)
	if err != nil {
		det.Close()
		return nil, sdk.Errorf("model_error", "expression: %v", err)
	}
	return &stream{cfg: cfg, pub: info.Publisher, det: det, pred: pred, expr: expr,
		tracks: track.New(track.Config{}), est: aus.New(aus.Config{BaselineWindow: cfg.baselineWindow, BaselineMinFrames: cfg.baselineMinFrames})}, nil
}

// config is a stream's parsed attributes (the models read their own).
type config struct {
	maxFaces          int
	baselineWindow    time.Duration
	baselineMinFrames int
}

func parseConfig(a sdk.Attrs) config {
	return config{maxFaces: a.Int("max_faces"), baselineMinFrames: a.Int("baseline_min_frames"),
		baselineWindow: time.Duration(a.Float("baseline_seconds") * float64(time.Second))}
}

// stream is one stream's models and state; frames arrive one at a time.
type stream struct {
	cfg    config
	pub    sdk.Publisher
	det    *blazeface.Detector
	pred   *landmarks.Predictor
	expr   *expression.Model
	tracks *track.Tracker
	est    *aus.Estimator
	// rgb and gray are conversion buffers reused across frames.
	rgb, gray []byte
	// recent holds each live face's last landmark sets, for the
	// "baseline" command's mode "now".
	recent map[int][][68]img.Point
}

// recentFrames is how many of a face's latest frames "baseline now" uses.
const recentFrames = 16

// remember keeps pts as face id's latest landmarks.
func (s *stream) remember(id int, pts *[68]img.Point) {
	if s.recent == nil {
		s.recent = map[int][][68]img.Point{}
	}
	r := s.recent[id]
	if len(r) == recentFrames {
		r = append(r[:0], r[1:]...)
	}
	s.recent[id] = append(r, *pts)
}

// baselineArgs are the "baseline" command's arguments.
type baselineArgs struct {
	// Mode "now" makes each face's neutral baseline from its latest frames
	// (up to 16) at once; "restart" (the default) starts a new
	// baseline_seconds window from the next frame.
	Mode string `json:"mode"`
	// Face limits the command to one face id; 0 means every live face.
	Face int `json:"face"`
}

// Command implements sdk.Commander: "baseline" sets or restarts the
// per-face neutral baselines (baseline_b_neutral).
func (s *stream) Command(name string, args []byte) ([]byte, error) {
	if name != "baseline" {
		return nil, sdk.Errorf("bad_input", "unknown command %q (au takes \"baseline\")", name)
	}
	a := baselineArgs{Mode: "restart"}
	if len(args) > 0 && string(args) != "null" {
		dec := json.NewDecoder(bytes.NewReader(args))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&a); err != nil {
			return nil, sdk.Errorf("bad_input", "baseline args: %v", err)
		}
	}
	if a.Mode != "now" && a.Mode != "restart" {
		return nil, sdk.Errorf("bad_input", "baseline args: mode = %q: want \"now\" or \"restart\"", a.Mode)
	}
	type faceResult struct {
		ID     int `json:"id"`
		Frames int `json:"frames,omitempty"`
	}
	out := struct {
		Mode  string       `json:"mode"`
		Faces []faceResult `json:"faces"`
	}{Mode: a.Mode, Faces: []faceResult{}}
	for _, id := range slices.Sorted(maps.Keys(s.recent)) {
		if a.Face != 0 && id != a.Face {
			continue
		}
		if a.Mode == "restart" {
			s.est.Forget(id)
			out.Faces = append(out.Faces, faceResult{ID: id})
			continue
		}
		if err := s.est.SetBaseline(id, s.recent[id]); err != nil {
			continue // no usable frame of this face: left as it was
		}
		n, _ := s.est.Neutral(id)
		out.Faces = append(out.Faces, faceResult{ID: id, Frames: n.Frames})
	}
	if a.Face != 0 && len(out.Faces) == 0 {
		return nil, sdk.Errorf("bad_input", "baseline args: face %d is not in view", a.Face)
	}
	return json.Marshal(out)
}

// faceOut is one face in the face.frame@1 payload.
type faceOut struct {
	ID        int                `json:"id"`
	Box       [4]float32         `json:"box"` // x0, y0, x1, y1 in frame pixels
	Score     float32            `json:"score"`
	TooSmall  bool               `json:"too_small,omitempty"`
	Landmarks [][2]float32       `json:"landmarks,omitempty"`
	Pose      *aus.Pose          `json:"pose,omitempty"`
	Flags     []string           `json:"flags,omitempty"`
	Expr      map[string]float32 `json:"expression,omitempty"`
}

type frameOut struct {
	Width  int       `json:"width"`
	Height int       `json:"height"`
	Faces  []faceOut `json:"faces"`
	Flags  []string  `json:"flags,omitempty"`
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func (s *stream) ProcessFrameObjects(f *sdk.Frame) (sdk.Fields, []sdk.Object, error) {
	start := time.Now()
	rgb, gray, err := s.views(f)
	if err != nil {
		return nil, nil, sdk.Errorf("bad_input", "%v", err)
	}
	out := frameOut{Width: f.Width, Height: f.Height, Faces: []faceOut{}}
	var objects []sdk.Object
	fields := sdk.Fields{"faces": 0, "faces_too_small": 0}
	faces, err := s.det.Detect(rgb)
	if err != nil {
		// A frame the detector cannot read (1 px wide, ...) has no faces.
		out.Flags = append(out.Flags, "undetectable")
		faces = nil
	}
	tDetect := time.Since(start)

	// Analyse the largest faces; count the rest.
	var boxes []track.Detection
	var analysed []blazeface.Face
	for _, fc := range faces {
		if fc.TooSmall {
			fields["faces_too_small"]++
			out.Faces = append(out.Faces, faceOut{ID: -1, Box: box4(fc.Box), Score: fc.Score, TooSmall: true})
			objects = append(objects, sdk.Object{Box: normBox(fc.Box, f.Width, f.Height), Label: "face",
				Score: clamp01(float64(fc.Score)), Attributes: sdk.Fields{"too_small": 1}})
			continue
		}
		if len(analysed) < s.cfg.maxFaces {
			analysed = append(analysed, fc)
			boxes = append(boxes, track.Detection{Box: track.Box(fc.Box), Label: "face"})
		}
	}
	ids, ended := s.tracks.Update(boxes)
	for _, gone := range ended {
		s.est.Forget(gone)
		delete(s.recent, gone)
	}
	var tLand, tExpr time.Duration
	for i, fc := range analysed {
		id := ids[i]
		p := "face" + strconv.Itoa(id) + "."
		fo := faceOut{ID: id, Box: box4(fc.Box), Score: fc.Score}
		t0 := time.Now()
		pts := s.pred.Predict(gray, landmarkBox(fc.Box))
		tLand += time.Since(t0)
		s.remember(id, &pts)
		fo.Landmarks = make([][2]float32, len(pts))
		for k, pt := range pts {
			fo.Landmarks[k] = [2]float32{pt.X, pt.Y}
		}
		fields[p+"present"] = 1
		fields[p+"score"] = float64(fc.Score)
		r := s.est.Estimate(id, f.PTS, &pts)
		if r.OK() {
			for a := aus.AU(0); a < aus.NumAU; a++ {
				n := p + auField(a.String())
				fields[n] = r.Intensity[a]
				fields[n+"_g"] = r.G[a]
				if c, ok := r.CorrectedIntensity(a); ok {
					fields[n+"_c"] = c
				}
			}
			if nb, ok := s.est.Neutral(id); ok {
				fields[p+"baseline_frames"] = float64(nb.Frames)
				for a := aus.AU(0); a < aus.NumAU; a++ {
					fields[p+auField(a.String())+"_b"] = nb.G[a]
				}
			}
			if r.Flags&aus.FlagNoPose == 0 {
				fields[p+"yaw"], fields[p+"pitch"], fields[p+"roll"] = r.Pose.Yaw, r.Pose.Pitch, r.Pose.Roll
				pose := r.Pose
				fo.Pose = &pose
			} else {
				fo.Flags = append(fo.Flags, "no_pose")
			}
		} else {
			fo.Flags = append(fo.Flags, "degenerate_landmarks")
		}
		t1 := time.Now()
		probs, err := s.expr.Classify(gray, expression.FaceBox(fc.Box))
		tExpr += time.Since(t1)
		if err == nil {
			fo.Expr = make(map[string]float32, len(probs))
			for k, l := range expression.Labels {
				fields[p+l] = float64(probs[k])
				fo.Expr[l] = probs[k]
			}
		} else {
			fo.Flags = append(fo.Flags, "no_expression")
		}
		out.Faces = append(out.Faces, fo)
		objects = append(objects, faceObject(id, fc, &pts, fields, p, f.Width, f.Height))
	}
	fields["faces"] = float64(len(analysed))
	fields["detect_ms"], fields["landmarks_ms"], fields["expression_ms"] = ms(tDetect), ms(tLand), ms(tExpr)
	fields["total_ms"] = ms(time.Since(start))
	payload, err := json.Marshal(out)
	if err != nil {
		return nil, nil, err
	}
	if err := s.pub.Publish(sdk.Message{Topic: TopicFrame, PTS: f.PTS, Payload: payload}); err != nil {
		return nil, nil, err
	}
	for k, v := range fields {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			delete(fields, k) // never a non-finite result: the host would refuse the frame
		}
	}
	return fields, objects, nil
}

// faceObject is an analysed face as an object: the face's fields (prefix
// p, "faceN.") as attributes, without the prefix; five landmarks (eye
// centres, nose tip, mouth corners of dlib's 68) as keypoints.
func faceObject(id int, fc blazeface.Face, pts *[landmarks.NumParts]img.Point, fields sdk.Fields, p string, w, h int) sdk.Object {
	o := sdk.Object{Box: normBox(fc.Box, w, h), Label: "face", Score: clamp01(float64(fc.Score)), TrackID: int64(id),
		Attributes: sdk.Fields{}}
	for k, v := range fields {
		if name, ok := strings.CutPrefix(k, p); ok && name != "present" && !math.IsNaN(v) && !math.IsInf(v, 0) {
			o.Attributes[name] = v
		}
	}
	mean := func(from, to int) (x, y float64) {
		for i := from; i <= to; i++ {
			x += float64(pts[i].X)
			y += float64(pts[i].Y)
		}
		n := float64(to - from + 1)
		return x / n / float64(w), y / n / float64(h)
	}
	for _, kp := range []struct {
		name     string
		from, to int
	}{{"right_eye", 36, 41}, {"left_eye", 42, 47}, {"nose_tip", 30, 30}, {"mouth_right", 48, 48}, {"mouth_left", 54, 54}} {
		x, y := mean(kp.from, kp.to)
		o.Keypoints = append(o.Keypoints, sdk.Keypoint{Name: kp.name, X: x, Y: y})
	}
	return o
}

// normBox is a pixel box as sdk.Box: normalised to the frame and clipped
// to it (BlazeFace's boxes may reach past the edge for a face cut by it).
func normBox(r img.Rect, w, h int) sdk.Box {
	x0, x1 := clamp01(float64(r.X0)/float64(w)), clamp01(float64(r.X1)/float64(w))
	y0, y1 := clamp01(float64(r.Y0)/float64(h)), clamp01(float64(r.Y1)/float64(h))
	return sdk.Box{X: x0, Y: y0, W: max(x1-x0, 0), H: max(y1-y0, 0)}
}

func clamp01(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return min(max(v, 0), 1)
}

// landmarkBox is the box dlib's predictor expects for a BlazeFace box:
// dlib's cascade is trained on its own detector's square boxes, which on
// the demo photos are ~1.2× BlazeFace's width about the same centre.
func landmarkBox(b img.Rect) img.Rect {
	c := b.Center()
	half := 0.6 * max(b.W(), b.H())
	return img.Rect{X0: c.X - half, Y0: c.Y - half, X1: c.X + half, Y1: c.Y + half}
}

func box4(r img.Rect) [4]float32 { return [4]float32{r.X0, r.Y0, r.X1, r.Y1} }

// views returns the frame as the RGB view the detector reads and the gray
// view the landmarks and expression read: RGB24 frames are read in place
// (the host's shared memory), NV12's luma is the gray view as is.
func (s *stream) views(f *sdk.Frame) (img.RGB, img.Gray, error) {
	if f.Width <= 0 || f.Height <= 0 {
		return img.RGB{}, img.Gray{}, fmt.Errorf("frame %dx%d", f.Width, f.Height)
	}
	need := f.Stride * f.Format.Rows(f.Height)
	if f.Stride < f.Width*f.Format.BytesPerPixel() || len(f.Pixels) < need || f.Format.BytesPerPixel() == 0 {
		return img.RGB{}, img.Gray{}, fmt.Errorf("frame %dx%d %s: stride %d, %d bytes", f.Width, f.Height, f.Format, f.Stride, len(f.Pixels))
	}
	var rgb img.RGB
	var gray img.Gray
	switch f.Format {
	case sdk.FormatRGB24:
		rgb = img.RGB{W: f.Width, H: f.Height, Stride: f.Stride, Pix: f.Pixels}
		gray, s.gray = img.GrayFromRGB(rgb, s.gray)
	case sdk.FormatRGBA:
		rgb, s.rgb = img.RGBFromRGBA(f.Width, f.Height, f.Stride, f.Pixels, s.rgb)
		gray, s.gray = img.GrayFromRGB(rgb, s.gray)
	case sdk.FormatGray8:
		gray = img.Gray{W: f.Width, H: f.Height, Stride: f.Stride, Pix: f.Pixels}
		rgb, s.rgb = img.RGBFromGray(gray, s.rgb)
	case sdk.FormatNV12:
		nv := img.NV12{W: f.Width, H: f.Height, Stride: f.Stride, Pix: f.Pixels}
		gray = nv.Luma()
		rgb, s.rgb = nv.RGB(s.rgb)
	default:
		return img.RGB{}, img.Gray{}, fmt.Errorf("frame format %s is not handled", f.Format)
	}
	return rgb, gray, nil
}

func (s *stream) Close() error {
	err := s.det.Close()
	if e := s.expr.Close(); err == nil {
		err = e
	}
	return err
}
