// Command ocr is an lsie plugin that reads on-screen text in video frames:
// logos, lower thirds, scoreboards, slides.
//
// A run: PaddleOCR v4's models on ONNX Runtime (package paddle) find the
// text lines, turn upside-down ones and read them. Each line is an
// sdk.Object labelled "text": the string in Text, the recognition
// confidence as its score, its box normalised to the frame, its four
// corners as keypoints (tl, tr, br, bl: rotated text), and a track id that
// stays while the same text stays in place (see tracker).
//
// every: the models run at most once per `every` of media time (the
// stream's first frame, then the first frame at least `every` after the
// last run). A frame in between is answered at once with the last run's
// lines again (same text, boxes, scores, track ids) and ran = 0, age_s =
// the media time since that run: on-screen text changes slowly, and the
// segment's per-frame counts and rules stay continuous. every = "0s"
// reads every frame.
//
// Fields: lines, chars, confidence, ran, age_s, detect_ms, angle_ms,
// read_ms, total_ms. Attributes (the manifest's schema; `lsie-host
// plugins inspect ocr`): every, min_height (pixels of the analysed frame),
// threshold, det_threshold, box_threshold, unclip_ratio, max_side,
// min_side, angle, space_threshold, merge_gap, max_lines, threads; model_dir,
// ort_library, execution_provider. docs/OCR.md has the measurements.
package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lsie-mlf/lsie/plugins/internal/attrs"
	"github.com/lsie-mlf/lsie/plugins/internal/models"
	"github.com/lsie-mlf/lsie/plugins/internal/onnx"
	"github.com/lsie-mlf/lsie/plugins/ocr/paddle"
	"github.com/lsie-mlf/lsie/sdk"
)

const version = "0.1.0"

// Label is the one object label the plugin reports.
const Label = "text"

// Defaults of the plugin's own attributes (the rest are paddle's).
const (
	defaultEvery     = time.Second
	defaultMinHeight = 8
	defaultMaxLines  = 32
)

func main() { sdk.Serve(plugin{}) }

type plugin struct{}

func (plugin) Manifest() sdk.Manifest {
	return sdk.Manifest{
		Name:    "ocr",
		Version: version,
		Description: "on-screen text (logos, lower thirds, scoreboards, slides): PaddleOCR v4 text detection, angle classifier " +
			"and recognition on ONNX Runtime; one object labelled text per line",
		Inputs:  []string{sdk.TopicVideoRGB24},
		Outputs: []string{},
		Fields: []sdk.Field{
			{Name: "lines", Unit: "count", Description: "text lines read (repeated from the last run on frames between runs)"},
			{Name: "chars", Unit: "count", Description: "characters read, spaces not counted"},
			{Name: "confidence", Unit: "0..1", Description: "mean recognition confidence of the lines; absent without lines"},
			{Name: "ran", Unit: "0|1", Description: "1 when the models read this frame, 0 when it is answered from the last run (every)"},
			{Name: "age_s", Unit: "s", Description: "media time since the run the lines come from (0 when ran)"},
			{Name: "detect_ms", Unit: "ms", Description: "text detection time (runs only)"},
			{Name: "angle_ms", Unit: "ms", Description: "angle classifier time (runs only)"},
			{Name: "read_ms", Unit: "ms", Description: "recognition time (runs only)"},
			{Name: "total_ms", Unit: "ms", Description: "the frame's time in the plugin"},
		},
		Labels:     []string{Label},
		Attributes: attrs.Join(attributes(), models.Attributes(), onnx.Attributes()),
	}
}

// attributes are the plugin's schema besides the model folder's and ONNX
// Runtime's.
func attributes() []sdk.Attribute {
	d := paddle.DefaultConfig
	return []sdk.Attribute{
		{Name: "every", Type: sdk.AttrDuration, Default: defaultEvery.String(), Min: "0s", Max: "1h",
			Description: "read at most once per this much media time; frames in between repeat the last run's lines (ran = 0); 0s reads every frame"},
		{Name: "min_height", Type: sdk.AttrNumber, Default: fmt.Sprint(defaultMinHeight), Min: "0", Max: "4096",
			Description: "least height of a text line's box in pixels of the analysed frame (after the host's max_width); smaller lines are not read"},
		{Name: "threshold", Type: sdk.AttrNumber, Default: fmt.Sprint(d.MinConfidence), Min: "0", Max: "1",
			Description: "least recognition confidence of a line reported (PaddleOCR's drop_score)"},
		{Name: "det_threshold", Type: sdk.AttrNumber, Default: fmt.Sprint(d.DB.Thresh), Min: "0", Max: "1",
			Description: "text probability above which a pixel is text (det_db_thresh)"},
		{Name: "box_threshold", Type: sdk.AttrNumber, Default: fmt.Sprint(d.DB.BoxThresh), Min: "0", Max: "1",
			Description: "least mean text probability inside a line's box (det_db_box_thresh)"},
		{Name: "unclip_ratio", Type: sdk.AttrNumber, Default: fmt.Sprint(d.DB.UnclipRatio), Min: "0.5", Max: "4",
			Description: "how far the detector's shrunk regions grow back into line boxes (det_db_unclip_ratio)"},
		{Name: "max_side", Type: sdk.AttrInteger, Default: fmt.Sprint(d.MaxSide), Min: "32", Max: "4096",
			Description: "the detector's input: frames with a longer side are scaled down to it (det_limit_side_len)"},
		{Name: "min_side", Type: sdk.AttrInteger, Default: "0", Min: "0", Max: "4096",
			Description: "frames whose shorter side is under this are scaled up for the detector (within max_side): small frames' text is found better, at more cost"},
		{Name: "angle", Type: sdk.AttrBool, Default: "true",
			Description: "run the angle classifier, which turns upside-down lines before they are read"},
		{Name: "space_threshold", Type: sdk.AttrNumber, Default: fmt.Sprint(d.SpaceThreshold), Min: "0", Max: "1",
			Description: "put a space between two characters where the recogniser's space class reached this under a blank; 0: PaddleOCR's plain greedy decoding"},
		{Name: "merge_gap", Type: sdk.AttrNumber, Default: fmt.Sprint(d.MergeGap), Min: "0", Max: "10",
			Description: "join level boxes of one row (words of large type) into one line when their gap is at most this many line heights; 0: the detector's boxes"},
		{Name: "max_lines", Type: sdk.AttrInteger, Default: fmt.Sprint(defaultMaxLines), Min: "1", Max: "256",
			Description: "boxes read per run, the detector's surest first"},
		{Name: "threads", Type: sdk.AttrInteger, Default: "1", Min: "1", Max: "16",
			Description: "ONNX Runtime threads per stream (docs/OCR.md quotes one)"},
	}
}

// config is a stream's parsed attributes.
type config struct {
	every   time.Duration
	read    paddle.Config
	threads int
}

func parseConfig(a sdk.Attrs) config {
	r := paddle.Config{
		DB: paddle.DBParams{Thresh: float32(a.Float("det_threshold")), BoxThresh: float32(a.Float("box_threshold")),
			UnclipRatio: a.Float("unclip_ratio"), MaxCandidates: paddle.DefaultDB.MaxCandidates},
		MaxSide: a.Int("max_side"), MinSide: a.Int("min_side"), MinHeight: a.Float("min_height"),
		MinConfidence: float32(a.Float("threshold")), Angle: a.Bool("angle"), MaxLines: a.Int("max_lines"),
		SpaceThreshold: float32(a.Float("space_threshold")), MergeGap: a.Float("merge_gap"),
	}
	return config{every: a.Duration("every"), read: r, threads: a.Int("threads")}
}

func (plugin) OpenStream(info sdk.StreamInfo) (sdk.Stream, error) {
	cfg := parseConfig(info.Attrs) // the schema checked the values
	e, err := paddle.Open(info.Attributes, cfg.threads)
	if err != nil {
		return nil, sdk.Errorf("model_error", "ocr models: %v", err)
	}
	sdk.Logger().Debug("stream opened", "stream", info.ID, "every", cfg.every, "min_height", cfg.read.MinHeight)
	return &stream{cfg: cfg, engine: e,
		runTime: info.Metrics.Histogram("ocr_run_seconds", "time per run of the ocr models", nil)}, nil
}

// stream is one stream's models and its last run; frames arrive one at a
// time.
type stream struct {
	cfg     config
	engine  *paddle.Engine
	runTime *sdk.Histogram
	tracks  tracker

	ran     bool          // a run has happened
	lastPTS time.Duration // the last run's frame
	last    []sdk.Object  // its lines
	fields  sdk.Fields    // its lines, chars, confidence
}

func (s *stream) Close() error { return s.engine.Close() }

func (s *stream) ProcessFrameObjects(f *sdk.Frame) (sdk.Fields, []sdk.Object, error) {
	start := time.Now()
	if f.Format != sdk.FormatRGB24 {
		return nil, nil, sdk.Errorf("bad_input", "frame format %v: ocr reads RGB24", f.Format)
	}
	// Media time never goes back on a stream; if it does (a new time
	// line), the cached lines are no longer about the present.
	if s.ran && f.PTS >= s.lastPTS && f.PTS-s.lastPTS < s.cfg.every {
		out := sdk.Fields{"ran": 0, "age_s": (f.PTS - s.lastPTS).Seconds()}
		for k, v := range s.fields {
			out[k] = v
		}
		out["total_ms"] = ms(time.Since(start))
		return out, s.last, nil
	}
	im := paddle.Image{W: f.Width, H: f.Height, Stride: f.Stride, Pix: f.Pixels}
	lines, tm, err := s.engine.Read(im, s.cfg.read)
	if errors.Is(err, paddle.ErrBadImage) {
		return nil, nil, sdk.Errorf("bad_input", "frame %d×%d: %v", f.Width, f.Height, err)
	}
	if err != nil {
		return nil, nil, sdk.Errorf("model_error", "%v", err)
	}
	objs := make([]sdk.Object, len(lines))
	var conf float64
	chars := 0
	for i, l := range lines {
		objs[i] = lineObject(l, f.Width, f.Height)
		conf += float64(l.Confidence)
		chars += len([]rune(strings.ReplaceAll(l.Text, " ", "")))
	}
	s.tracks.assign(objs)
	s.fields = sdk.Fields{"lines": float64(len(lines)), "chars": float64(chars)}
	if len(lines) > 0 {
		s.fields["confidence"] = conf / float64(len(lines))
	}
	s.ran, s.lastPTS, s.last = true, f.PTS, objs
	out := sdk.Fields{"ran": 1, "age_s": 0, "detect_ms": ms(tm.Det), "angle_ms": ms(tm.Cls), "read_ms": ms(tm.Rec)}
	for k, v := range s.fields {
		out[k] = v
	}
	total := time.Since(start)
	out["total_ms"] = ms(total)
	s.runTime.Observe(total.Seconds())
	return out, objs, nil
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// lineObject is a line as an object: its box the axis-aligned rectangle
// around its corners, clipped to the frame and normalised; the corners as
// keypoints (they may lie just outside the frame).
func lineObject(l paddle.Line, w, h int) sdk.Object {
	fw, fh := float64(w), float64(h)
	lo, hi := l.Quad.Bounds()
	// Corners are in pixel-centre coordinates; the box's edges are half a
	// pixel further out.
	x0, y0 := clamp01((lo.X+0.5)/fw), clamp01((lo.Y+0.5)/fh)
	x1, y1 := clamp01((hi.X+0.5)/fw), clamp01((hi.Y+0.5)/fh)
	kp := make([]sdk.Keypoint, 4)
	for i, name := range [4]string{"tl", "tr", "br", "bl"} {
		kp[i] = sdk.Keypoint{Name: name, X: (l.Quad[i].X + 0.5) / fw, Y: (l.Quad[i].Y + 0.5) / fh}
	}
	return sdk.Object{
		Box:   sdk.Box{X: x0, Y: y0, W: x1 - x0, H: y1 - y0},
		Label: Label, Score: clamp01(float64(l.Confidence)), Text: l.Text, Keypoints: kp,
		Attributes: sdk.Fields{"height_px": l.Quad.Height(), "det_score": float64(l.DetScore), "turned": float64(l.Turned)},
	}
}

func clamp01(v float64) float64 { return min(max(v, 0), 1) }
