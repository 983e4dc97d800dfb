// Package expression scores a face's expression with the 7-class CNN of
// @vladmandic/human (oarriaga's face_classification, trained on FER2013),
// converted from TF.js to ONNX by scripts/convert-emotion.py. The face is
// prepared as human prepares it, so scores match human's for the same box.
package expression

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/lsie-mlf/lsie/plugins/au/internal/img"
	"github.com/lsie-mlf/lsie/plugins/internal/models"
	"github.com/lsie-mlf/lsie/plugins/internal/onnx"
	"github.com/lsie-mlf/lsie/sdk"
)

// ModelFile is the model's path inside the model folder.
const ModelFile = "emotion/emotion.onnx"

// Size is the model's input side: 64×64 gray.
const Size = 64

// Indices into Probs, in the model's output order.
const (
	Angry = iota
	Disgust
	Fear
	Happy
	Sad
	Surprise
	Neutral
)

// Labels names the classes in output order: human's list for this (gray,
// oarriaga) model in src/gear/emotion.ts.
var Labels = [7]string{"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"}

// Probs is the softmax over Labels; it sums to 1.
type Probs [7]float32

// Top is the most probable class's index.
func (p Probs) Top() int {
	best := 0
	for i, v := range p {
		if v > p[best] {
			best = i
		}
	}
	return best
}

// Errors for inputs that hold no face to score; Classify wraps them.
var (
	ErrBadImage = errors.New("image too small or its pixels too short")
	ErrBadBox   = errors.New("face box empty, not finite, or outside the image")
)

// Model is one ONNX session with its input and output tensors. It is not
// safe for concurrent use: Classify writes the shared input tensor.
type Model struct {
	session *ort.AdvancedSession
	input   *ort.Tensor[float32] // [1, 64, 64, 1], NHWC as converted
	output  *ort.Tensor[float32] // [1, 7]
}

// Attributes declares what Open reads besides models' and onnx's
// attributes: emotion_model.
func Attributes() []sdk.Attribute {
	return []sdk.Attribute{{Name: "emotion_model", Type: sdk.AttrString,
		Description: "expression CNN ONNX file (scripts/convert-emotion.py); default " + ModelFile + " in the model folder"}}
}

// Open loads attrs' emotion_model, else the model folder's ModelFile (see
// models.Dir), on one CPU thread: a face costs about a millisecond, and the
// plugin shares the machine with the host and other plugins.
func Open(attrs map[string]string) (*Model, error) {
	const what = "expression model (emotion.onnx)"
	var path string
	var err error
	if p := attrs["emotion_model"]; p != "" {
		path, err = models.Require(what, p, "set emotion_model to the output of scripts/convert-emotion.py")
	} else {
		path, err = models.Require(what, filepath.Join(models.Dir(attrs), ModelFile),
			"run scripts/fetch-models.sh, which makes it with scripts/convert-emotion.py, or set model_dir / "+models.EnvDir)
	}
	if err != nil {
		return nil, err
	}
	opts, err := onnx.Prepare(attrs, 1)
	if err != nil {
		return nil, err
	}
	defer opts.Destroy()
	m := &Model{}
	fail := func(err error) (*Model, error) {
		m.Close()
		return nil, fmt.Errorf("expression model %s: %w", path, err)
	}
	if m.input, err = ort.NewEmptyTensor[float32](ort.NewShape(1, Size, Size, 1)); err != nil {
		return fail(err)
	}
	if m.output, err = ort.NewEmptyTensor[float32](ort.NewShape(1, 7)); err != nil {
		return fail(err)
	}
	m.session, err = ort.NewAdvancedSession(path, []string{"input"}, []string{"emotion"},
		[]ort.Value{m.input}, []ort.Value{m.output}, opts)
	if err != nil {
		return fail(err)
	}
	return m, nil
}

// Classify scores the face in box of im. The box is the crop human feeds
// the model (FaceBox of a detector's box); parts outside the frame read as
// black, as in human. An image under 2×2, or a box that is empty or misses
// the frame, gives an error wrapping ErrBadImage or ErrBadBox.
func (m *Model) Classify(im img.Gray, box img.Rect) (Probs, error) {
	if err := Prepare(im, box, m.input.GetData()); err != nil {
		return Probs{}, fmt.Errorf("expression: %w", err)
	}
	return m.run()
}

// run scores the input tensor as it is.
func (m *Model) run() (Probs, error) {
	if err := m.session.Run(); err != nil {
		return Probs{}, fmt.Errorf("expression: %w", err)
	}
	var p Probs
	copy(p[:], m.output.GetData())
	return p, nil
}

// Close frees the session and its tensors; a half-opened Model is fine.
func (m *Model) Close() error {
	if m.session != nil {
		m.session.Destroy()
	}
	for _, t := range []*ort.Tensor[float32]{m.input, m.output} {
		if t != nil {
			t.Destroy()
		}
	}
	*m = Model{}
	return nil
}

// FaceBox turns a face detector's box into the crop human takes around it
// (BlazeFace's box grown 1.4× about its centre, then squared on its longer
// side with corners rounded to pixels: human's enlargeBox and squarifyBox).
func FaceBox(det img.Rect) img.Rect {
	const scale = 1.4
	c := det.Center()
	half := max(det.W(), det.H()) * scale / 2
	r := func(v float32) float32 { return float32(math.Round(float64(v))) }
	return img.Rect{X0: r(c.X - half), Y0: r(c.Y - half), X1: r(c.X + half), Y1: r(c.Y + half)}
}

// cropSize is the side of the crop human cuts from the frame (its face
// mesh model's input) and then resizes to Size.
const cropSize = 192

// Prepare writes the model input for box of im into dst (Size×Size),
// reproducing human's two steps in one: tf.image.cropAndResize of the box
// to 192×192 (bilinear, corner-aligned to the box's edges scaled by
// (side-1)/side, 0 outside the frame), then tf.image.resizeBilinear to
// 64×64 without corner alignment. The second step reads every third crop
// pixel exactly (192/64 = 3), so one bilinear sample per output pixel at
// the crop's positions 0, 3, …, 189 gives the same values. Pixels are then
// human's weighted RGB sum (for gray, luma × the weights' sum) scaled from
// [0, 1] to [-1, 1].
func Prepare(im img.Gray, box img.Rect, dst []float32) error {
	if im.W < 2 || im.H < 2 || im.Stride < im.W || len(im.Pix) < im.Stride*(im.H-1)+im.W {
		return ErrBadImage
	}
	if len(dst) < Size*Size {
		return fmt.Errorf("input buffer of %d values, want %d", len(dst), Size*Size)
	}
	for _, v := range []float32{box.X0, box.Y0, box.X1, box.Y1} {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return ErrBadBox
		}
	}
	if box.W() <= 0 || box.H() <= 0 ||
		box.X1 <= 0 || box.Y1 <= 0 || box.X0 >= float32(im.W) || box.Y0 >= float32(im.H) {
		return ErrBadBox
	}
	// Positions as TF.js's cropAndResize computes them (box normalised by
	// the image side, then scaled to [0, side-1]; JS numbers are float64).
	w, h := float64(im.W), float64(im.H)
	x1, y1 := float64(box.X0)/w, float64(box.Y0)/h
	xs := (float64(box.X1)/w - x1) * (w - 1) / (cropSize - 1)
	ys := (float64(box.Y1)/h - y1) * (h - 1) / (cropSize - 1)
	const step = cropSize / Size
	const weights = float32(0.2989 + 0.5870 + 0.1140) // human's constants.rgb
	const black = (0 - 0.5) * 2
	var xi [Size]int
	var xf [Size]float32
	var xok [Size]bool
	for c := range Size {
		x := x1*(w-1) + float64(c*step)*xs
		xok[c] = x >= 0 && x <= w-1
		if xok[c] {
			xi[c] = int(x)
			xf[c] = float32(x - float64(xi[c]))
		}
	}
	for r := range Size {
		row := dst[r*Size : (r+1)*Size]
		y := y1*(h-1) + float64(r*step)*ys
		if y < 0 || y > h-1 {
			for c := range row {
				row[c] = black
			}
			continue
		}
		top := int(y)
		bot := min(top+1, im.H-1)
		fy := float32(y - float64(top))
		pt := im.Pix[top*im.Stride:]
		pb := im.Pix[bot*im.Stride:]
		for c := range row {
			if !xok[c] {
				row[c] = black
				continue
			}
			l := xi[c]
			rr := min(l+1, im.W-1)
			t := float32(pt[l]) + (float32(pt[rr])-float32(pt[l]))*xf[c]
			b := float32(pb[l]) + (float32(pb[rr])-float32(pb[l]))*xf[c]
			v := (t + (b-t)*fy) / 255 * weights
			row[c] = (v - 0.5) * 2
		}
	}
	return nil
}
