// Package paddle reads text in images with PaddleOCR's v4 models on ONNX
// Runtime: DB text detection (a probability map, binarised into regions
// grown into line boxes), the angle classifier (a line upside down is
// turned before it is read) and SVTR-LCNet recognition decoded greedily
// with CTC over the model's dictionary. Inputs are prepared as PaddleOCR's
// inference tools prepare them (tools/infer: BGR planes, the detector's
// sides multiples of 32 under a limit, lines at height 48), so the models
// see what they were trained on.
package paddle

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/lsie-mlf/lsie/plugins/internal/models"
	"github.com/lsie-mlf/lsie/plugins/internal/onnx"
)

// The model files inside the model folder (scripts/models.d/ocr.sh).
const (
	DetFile  = "ocr/ch_PP-OCRv4_det_infer.onnx"
	ClsFile  = "ocr/ch_ppocr_mobile_v2.0_cls_infer.onnx"
	RecFile  = "ocr/ch_PP-OCRv4_rec_infer.onnx"
	DictFile = "ocr/ppocr_keys_v1.txt"
)

// Model input geometry (PaddleOCR's rec_image_shape 3,48,320 and
// cls_image_shape 3,48,192).
const (
	lineH     = 48
	recMinW   = 320  // narrower lines are padded to it, as in training
	recMaxW   = 3200 // wider ones are squeezed: a cap on one line's cost
	clsW      = 192
	clsThresh = 0.9 // the classifier must be this sure to turn a line
	recBatch  = 6   // lines per recognition run (PaddleOCR's rec_batch_num)
	multiple  = 32  // the detector's input sides are multiples of this
	tallRatio = 1.5 // a box this much taller than wide may be vertical text
)

// Config is what a reading may change; DefaultConfig holds PaddleOCR's
// values.
type Config struct {
	DB DBParams
	// MaxSide bounds the detector input's longer side (det_limit_side_len,
	// limit type "max"): larger images are scaled down.
	MaxSide int
	// MinSide scales smaller images up until their shorter side is this
	// long, within MaxSide: the detector misses text only a few pixels tall.
	MinSide int
	// MinHeight drops boxes less tall than this, in image pixels, before
	// they are read.
	MinHeight float64
	// MinConfidence drops lines read with less (drop_score).
	MinConfidence float32
	// Angle runs the angle classifier (use_angle_cls).
	Angle bool
	// MaxLines bounds the lines read per image, the detector's most
	// confident first; 0 means no bound.
	MaxLines int
	// SpaceThreshold puts a space where the recogniser's space class
	// reached it on a blank between two characters (see decode); 0 is
	// PaddleOCR's plain greedy decoding.
	SpaceThreshold float32
	// MergeGap joins horizontal boxes of one row whose gap is at most
	// this many line heights into one line (see mergeLines); 0 keeps
	// PaddleOCR's boxes.
	MergeGap float64
}

// DefaultConfig is PaddleOCR's inference defaults, with this package's
// space recovery and line merging (docs/OCR.md measures both).
var DefaultConfig = Config{DB: DefaultDB, MaxSide: 960, MinConfidence: 0.5, Angle: true, SpaceThreshold: 0.15, MergeGap: 1}

// Line is one line of text read.
type Line struct {
	// Quad is where the line is in the image, corners in reading order.
	Quad       Quad
	Text       string
	Confidence float32 // mean probability of the line's characters
	DetScore   float32 // the detector's mean probability inside the box
	// Turned is how far (degrees anticlockwise: 0, 90, 180, 270) the crop
	// was turned to be read.
	Turned int
}

// Timing is where a reading spent its time.
type Timing struct{ Det, Cls, Rec time.Duration }

// Engine holds the three sessions. It is not safe for concurrent use: a
// reading reuses its buffers.
type Engine struct {
	det, cls, rec *ort.DynamicAdvancedSession
	dict          Dictionary
	buf           []float32
}

// Open loads the models from attrs' model folder (models.Dir) on ONNX
// Runtime with threads intra-op threads.
func Open(attrs map[string]string, threads int) (*Engine, error) {
	dir := models.Dir(attrs)
	path := func(name string) (string, error) {
		return models.Require("PaddleOCR "+filepath.Base(name), filepath.Join(dir, name), models.FetchHint)
	}
	var paths [4]string
	for i, name := range []string{DetFile, ClsFile, RecFile, DictFile} {
		p, err := path(name)
		if err != nil {
			return nil, err
		}
		paths[i] = p
	}
	dict, err := LoadDictionary(paths[3])
	if err != nil {
		return nil, err
	}
	opts, err := onnx.Prepare(attrs, threads)
	if err != nil {
		return nil, err
	}
	defer opts.Destroy()
	e := &Engine{dict: dict}
	for i, s := range []struct {
		dst **ort.DynamicAdvancedSession
		out string
	}{{&e.det, "sigmoid_0.tmp_0"}, {&e.cls, "softmax_0.tmp_0"}, {&e.rec, "softmax_11.tmp_0"}} {
		if *s.dst, err = ort.NewDynamicAdvancedSession(paths[i], []string{"x"}, []string{s.out}, opts); err != nil {
			e.Close()
			return nil, fmt.Errorf("open %s: %w", paths[i], err)
		}
	}
	return e, nil
}

// Close frees the sessions; a half-opened Engine is fine.
func (e *Engine) Close() error {
	for _, s := range []*ort.DynamicAdvancedSession{e.det, e.cls, e.rec} {
		if s != nil {
			s.Destroy()
		}
	}
	*e = Engine{}
	return nil
}

// input returns the reused buffer holding n zeroed values.
func (e *Engine) input(n int) []float32 {
	if cap(e.buf) < n {
		e.buf = make([]float32, n)
	}
	e.buf = e.buf[:n]
	clear(e.buf)
	return e.buf
}

// run feeds data as shape to s and hands its one output's values and
// shape to use, valid only during the call.
func run(s *ort.DynamicAdvancedSession, data []float32, use func(out []float32, shape ort.Shape) error, shape ...int64) error {
	in, err := ort.NewTensor(ort.NewShape(shape...), data)
	if err != nil {
		return err
	}
	defer in.Destroy()
	outs := []ort.Value{nil}
	if err := s.Run([]ort.Value{in}, outs); err != nil {
		return err
	}
	defer outs[0].Destroy()
	t, ok := outs[0].(*ort.Tensor[float32])
	if !ok {
		return fmt.Errorf("model output is %T, want a float32 tensor", outs[0])
	}
	return use(t.GetData(), t.GetShape())
}

// Read finds and reads the text lines of im, in reading order (rows top
// to bottom, left to right within a row).
func (e *Engine) Read(im Image, cfg Config) ([]Line, Timing, error) {
	var tm Timing
	if err := im.check(); err != nil {
		return nil, tm, err
	}
	t0 := time.Now()
	boxes, err := e.Detect(im, cfg)
	tm.Det = time.Since(t0)
	if err != nil || len(boxes) == 0 {
		return nil, tm, err
	}
	lines, err := e.recognize(im, boxes, cfg, &tm)
	return mergeLines(lines, cfg.MergeGap), tm, err
}

// Box is a detected text box in image coordinates.
type Box struct {
	Quad  Quad
	Score float32
}

// Detect finds text boxes in im (cfg's DB settings, MaxSide, MinHeight
// and MaxLines), in reading order.
func (e *Engine) Detect(im Image, cfg Config) ([]Box, error) {
	if err := im.check(); err != nil {
		return nil, err
	}
	ratio := 1.0
	if cfg.MinSide > 0 && min(im.W, im.H) < cfg.MinSide {
		ratio = float64(cfg.MinSide) / float64(min(im.W, im.H))
	}
	if cfg.MaxSide > 0 && float64(max(im.W, im.H))*ratio > float64(cfg.MaxSide) {
		ratio = float64(cfg.MaxSide) / float64(max(im.W, im.H))
	}
	side := func(n int) int { return max(int(math.Round(float64(n)*ratio/multiple))*multiple, multiple) }
	w, h := side(im.W), side(im.H)
	data := e.input(3 * w * h)
	resizeInto(im, w, h, planes{data: data, stride: w, plane: w * h}, &detNorm)
	var found []detBox
	err := run(e.det, data, func(prob []float32, shape ort.Shape) error {
		if len(prob) != w*h {
			return fmt.Errorf("output shape %v for a %d×%d input", shape, w, h)
		}
		found = dbBoxes(prob, w, h, cfg.DB)
		return nil
	}, 1, 3, int64(h), int64(w))
	if err != nil {
		return nil, fmt.Errorf("text detection: %w", err)
	}
	sx, sy := float64(im.W)/float64(w), float64(im.H)/float64(h)
	var out []Box
	for _, b := range found {
		var q Quad
		for i, p := range b.r.quad() {
			q[i] = Point{(p.X+0.5)*sx - 0.5, (p.Y+0.5)*sy - 0.5}
		}
		// PaddleOCR drops boxes of 3 pixels or less either way.
		if q.Width() <= 3 || q.Height() <= 3 || q.Height() < cfg.MinHeight {
			continue
		}
		out = append(out, Box{Quad: q, Score: b.score})
	}
	if cfg.MaxLines > 0 && len(out) > cfg.MaxLines {
		slices.SortStableFunc(out, func(a, b Box) int { return cmpF(float64(b.Score), float64(a.Score)) })
		out = out[:cfg.MaxLines]
	}
	readingOrder(out)
	return out, nil
}

// readingOrder sorts boxes top to bottom, and left to right among boxes
// whose tops are within half a line of each other (PaddleOCR's
// sorted_boxes, with the tolerance scaled to the text).
func readingOrder(bs []Box) {
	sort.SliceStable(bs, func(i, j int) bool {
		a, b := bs[i].Quad[0], bs[j].Quad[0]
		if a.Y != b.Y {
			return a.Y < b.Y
		}
		return a.X < b.X
	})
	for i := 0; i+1 < len(bs); i++ {
		for j := i; j >= 0; j-- {
			a, b := bs[j].Quad, bs[j+1].Quad
			tol := min(a.Height(), b.Height()) / 2
			if math.Abs(b[0].Y-a[0].Y) < tol && b[0].X < a[0].X {
				bs[j], bs[j+1] = bs[j+1], bs[j]
				continue
			}
			break
		}
	}
}

// candidate is one way of reading a box.
type candidate struct {
	line   int
	quad   Quad
	turned int
	width  int // at height lineH
	text   string
	conf   float32
}

func lineWidth(q Quad, limit int) int {
	if q.Height() <= 0 {
		return 1
	}
	return min(max(int(math.Ceil(lineH*q.Width()/q.Height())), 1), limit)
}

func (e *Engine) recognize(im Image, boxes []Box, cfg Config, tm *Timing) ([]Line, error) {
	// Each box is read as it lies or, when much taller than wide, turned
	// 90° (PaddleOCR's guess at vertical text); the classifier may then
	// turn it upside down. Tall boxes are also read as they lie and the
	// more confident reading wins: on screens, a tall box is more often
	// a short word or a digit than vertical text.
	cands := make([]candidate, 0, len(boxes))
	for i, b := range boxes {
		c := candidate{line: i, quad: b.Quad}
		if b.Quad.Height() >= tallRatio*b.Quad.Width() {
			c.quad, c.turned = b.Quad.turned90(), 90
		}
		cands = append(cands, c)
	}
	if cfg.Angle {
		t0 := time.Now()
		if err := e.classify(im, cands); err != nil {
			return nil, err
		}
		tm.Cls = time.Since(t0)
	}
	for i, b := range boxes {
		if b.Quad.Height() >= tallRatio*b.Quad.Width() {
			cands = append(cands, candidate{line: i, quad: b.Quad})
		}
	}
	t0 := time.Now()
	for i := range cands {
		cands[i].width = lineWidth(cands[i].quad, recMaxW)
	}
	order := make([]int, len(cands))
	for i := range order {
		order[i] = i
	}
	// A batch is padded to its widest line, and padding costs as much as
	// text: lines are batched in order of width, a batch closed when the
	// next line would widen it by more than a quarter.
	slices.SortStableFunc(order, func(a, b int) int { return cands[a].width - cands[b].width })
	for s := 0; s < len(order); {
		first := max(cands[order[s]].width, recMinW)
		n := 1
		for s+n < len(order) && n < recBatch && 4*cands[order[s+n]].width <= 5*first {
			n++
		}
		if err := e.read(im, cands, order[s:s+n], cfg.SpaceThreshold); err != nil {
			return nil, err
		}
		s += n
	}
	tm.Rec = time.Since(t0)
	best := make([]*candidate, len(boxes))
	for i := range cands {
		c := &cands[i]
		if best[c.line] == nil || c.conf > best[c.line].conf {
			best[c.line] = c
		}
	}
	var out []Line
	for i, c := range best {
		text := strings.Trim(c.text, " ")
		if text == "" || c.conf < cfg.MinConfidence {
			continue
		}
		out = append(out, Line{Quad: c.quad, Text: text, Confidence: c.conf, DetScore: boxes[i].Score, Turned: c.turned})
	}
	return out, nil
}

// classify turns the candidates the angle classifier finds upside down.
func (e *Engine) classify(im Image, cands []candidate) error {
	if len(cands) == 0 {
		return nil
	}
	n := len(cands)
	plane := lineH * clsW
	data := e.input(n * 3 * plane)
	for i, c := range cands {
		w := lineWidth(c.quad, clsW)
		warpInto(im, c.quad, w, lineH, planes{data: data[i*3*plane:], stride: clsW, plane: plane}, &recNorm)
	}
	err := run(e.cls, data, func(probs []float32, shape ort.Shape) error {
		if len(probs) != 2*n {
			return fmt.Errorf("output shape %v for %d lines", shape, n)
		}
		for i := range cands {
			// Classes: 0°, 180°.
			if p := probs[2*i+1]; p > probs[2*i] && p > clsThresh {
				cands[i].quad = cands[i].quad.turned180()
				cands[i].turned = (cands[i].turned + 180) % 360
			}
		}
		return nil
	}, int64(n), 3, lineH, clsW)
	if err != nil {
		return fmt.Errorf("angle classifier: %w", err)
	}
	return nil
}

// read recognises the candidates idx (one batch) in place.
func (e *Engine) read(im Image, cands []candidate, idx []int, spaceThresh float32) error {
	w := recMinW
	for _, i := range idx {
		w = max(w, cands[i].width)
	}
	plane := lineH * w
	data := e.input(len(idx) * 3 * plane)
	for k, i := range idx {
		warpInto(im, cands[i].quad, cands[i].width, lineH, planes{data: data[k*3*plane:], stride: w, plane: plane}, &recNorm)
	}
	err := run(e.rec, data, func(probs []float32, shape ort.Shape) error {
		if len(shape) != 3 || shape[0] != int64(len(idx)) || shape[2] != int64(e.dict.Classes()) {
			return fmt.Errorf("output shape %v, want [%d steps %d] (the dictionary's classes)", shape, len(idx), e.dict.Classes())
		}
		steps, classes := int(shape[1]), int(shape[2])
		for k, i := range idx {
			cands[i].text, cands[i].conf = e.dict.decode(probs[k*steps*classes:(k+1)*steps*classes], steps, classes, spaceThresh)
		}
		return nil
	}, int64(len(idx)), 3, lineH, int64(w))
	if err != nil {
		return fmt.Errorf("text recognition: %w", err)
	}
	return nil
}
