// Package blazeface finds faces in RGB frames with MediaPipe's BlazeFace
// front (short-range) model on ONNX Runtime: a whole-frame pass on the
// letterboxed frame, and a pass over overlapping zoomed tiles for faces too
// small for the whole-frame pass to see (see tiles.go for why and what it
// costs). Faces narrower than a minimum size are reported with TooSmall set,
// never dropped.
package blazeface

import (
	"fmt"
	"strconv"
	"strings"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/lsie-mlf/lsie/plugins/au/internal/img"
	plugattrs "github.com/lsie-mlf/lsie/plugins/internal/attrs"
	"github.com/lsie-mlf/lsie/plugins/internal/models"
	"github.com/lsie-mlf/lsie/plugins/internal/onnx"
	"github.com/lsie-mlf/lsie/sdk"
)

// ModelFile is the model's path inside the model folder.
const ModelFile = "blazeface/face_detection_front_128x128.onnx"

// Defaults of the attributes Open reads.
const (
	// DefaultThreshold is the minimum face score. MediaPipe's short-range
	// graph uses 0.5 and keijiro's port 0.75. On the six test photos
	// (TestPhotos, at 1920 and 640 px, tiles on) every counted face scores
	// ≥ 0.70 while non-faces peak at 0.49 (the tile pass shows the model
	// many face-sized patches of hair and clothing), so 0.6 keeps a margin
	// of 0.1 both ways.
	DefaultThreshold = 0.6
	// DefaultMinFacePx is the box width below which a face is TooSmall:
	// at 24 px the landmark and AU models downstream get a crop with a few
	// pixels per facial feature, which they upscale into guesswork.
	DefaultMinFacePx = 24
	// AutoTileMin is the frame's longer side from which tiling is on by
	// default: from 480 px a zoom-2 tile (240 px) holds more pixels than
	// the model's input, so tiles add resolution, and the analysis sizes
	// used for faces (≥ 640) are covered.
	AutoTileMin = 480
	// DefaultTileZoom is the tile pass's zoom (tile side = longer side /
	// zoom).
	DefaultTileZoom = 2
)

// Options are the detector's settings; Open parses them from attributes.
type Options struct {
	Threshold float32   // detect_threshold
	MinFacePx float32   // detect_min_face_px
	Tiles     TileMode  // detect_tiles
	TileZooms []float32 // detect_tile_zoom: comma-separated zooms > 1
	Threads   int       // detect_threads: ONNX Runtime intra-op threads
}

// TileMode says when the tile pass runs.
type TileMode int

const (
	// TilesAuto tiles frames whose longer side is ≥ AutoTileMin.
	TilesAuto TileMode = iota
	// TilesOn tiles whenever a tile holds at least InputSize pixels, i.e.
	// upscaling it adds resolution over the whole-frame pass.
	TilesOn
	// TilesOff runs only the whole-frame pass: one model run per frame,
	// faces below ~20 % of the frame's longer side are not found.
	TilesOff
)

// Attributes declares what Open reads besides models' and onnx's
// attributes: face_model and the detect_* settings, with ParseOptions'
// defaults.
func Attributes() []sdk.Attribute {
	return []sdk.Attribute{
		{Name: "face_model", Type: sdk.AttrString, Description: "BlazeFace front ONNX file; default " + ModelFile + " in the model folder"},
		{Name: "detect_threshold", Type: sdk.AttrNumber, Default: fmt.Sprint(DefaultThreshold), Min: "0", Max: "1",
			Description: "least face score, strictly between 0 and 1"},
		{Name: "detect_min_face_px", Type: sdk.AttrNumber, Default: fmt.Sprint(DefaultMinFacePx), Min: "0", Max: "999999",
			Description: "box width in pixels below which a face is counted as too small (faces_too_small), not analysed"},
		{Name: "detect_tiles", Type: sdk.AttrEnum, Choices: []string{"auto", "true", "false"}, Default: "auto",
			Description: fmt.Sprintf("the zoomed tile pass for small faces: auto (frames from %d px on the longer side), true or false", AutoTileMin)},
		{Name: "detect_tile_zoom", Type: sdk.AttrString, Default: fmt.Sprint(DefaultTileZoom),
			Description: `the tile pass's zooms, comma-separated, each in (1, 16] ("2" or "2,4"); tile side = longer side / zoom`},
		{Name: "detect_threads", Type: sdk.AttrInteger, Default: "1", Min: "1", Max: "64", Description: "ONNX Runtime intra-op threads of the detector"},
	}
}

// ParseOptions reads the detect_* attributes, defaulting the missing ones.
func ParseOptions(attrs map[string]string) (Options, error) {
	o := Options{Threshold: DefaultThreshold, MinFacePx: DefaultMinFacePx, TileZooms: []float32{DefaultTileZoom}, Threads: 1}
	if v := attrs["detect_threshold"]; v != "" {
		f, err := strconv.ParseFloat(v, 32)
		if err != nil || !(f > 0 && f < 1) {
			return o, fmt.Errorf("detect_threshold = %q: want a number in (0, 1)", v)
		}
		o.Threshold = float32(f)
	}
	if v := attrs["detect_min_face_px"]; v != "" {
		f, err := strconv.ParseFloat(v, 32)
		if err != nil || !(f >= 0 && f < 1e6) {
			return o, fmt.Errorf("detect_min_face_px = %q: want a number of pixels ≥ 0", v)
		}
		o.MinFacePx = float32(f)
	}
	switch v := attrs["detect_tiles"]; v {
	case "", "auto":
		o.Tiles = TilesAuto
	case "true":
		o.Tiles = TilesOn
	case "false":
		o.Tiles = TilesOff
	default:
		return o, fmt.Errorf("detect_tiles = %q: want true, false or auto", v)
	}
	if v := attrs["detect_tile_zoom"]; v != "" {
		o.TileZooms = nil
		for _, s := range strings.Split(v, ",") {
			f, err := strconv.ParseFloat(strings.TrimSpace(s), 32)
			if err != nil || !(f > 1 && f <= 16) {
				return o, fmt.Errorf("detect_tile_zoom = %q: want zooms in (1, 16], comma-separated", v)
			}
			o.TileZooms = append(o.TileZooms, float32(f))
		}
	}
	if err := plugattrs.Int(attrs, "detect_threads", 1, 64, &o.Threads); err != nil {
		return o, err
	}
	return o, nil
}

// Detector runs the model; one per goroutine (it owns its tensors).
type Detector struct {
	opts    Options
	session *ort.AdvancedSession
	input   *ort.Tensor[float32] // [1, 128, 128, 3]
	// The model splits its outputs by anchor layer: scores and regressors
	// of the 16×16 layer (512 anchors), then of the 8×8 layer (384).
	scores1, scores2 *ort.Tensor[float32]
	regs1, regs2     *ort.Tensor[float32]
	scores, regs     []float32 // both layers, in anchor order
	sampler          sampler
	pass, cands      []Face // scratch: one pass's faces, all passes' faces
}

// Open loads the model named by attrs' face_model, else the model folder's
// ModelFile, on Options.Threads intra-op threads (default 1: one run is a
// few milliseconds, and the plugin shares the machine with the host and the
// other models).
func Open(attrs map[string]string) (*Detector, error) {
	opts, err := ParseOptions(attrs)
	if err != nil {
		return nil, err
	}
	path, err := models.Resolve(attrs, "face_model", "BlazeFace model", ModelFile)
	if err != nil {
		return nil, err
	}
	so, err := onnx.Prepare(attrs, opts.Threads)
	if err != nil {
		return nil, err
	}
	defer so.Destroy()
	d := &Detector{opts: opts}
	fail := func(err error) (*Detector, error) {
		d.Close()
		return nil, fmt.Errorf("blazeface %s: %w", path, err)
	}
	if d.input, err = ort.NewEmptyTensor[float32](ort.NewShape(1, InputSize, InputSize, 3)); err != nil {
		return fail(err)
	}
	if d.scores1, err = ort.NewEmptyTensor[float32](ort.NewShape(1, 512, 1)); err != nil {
		return fail(err)
	}
	if d.scores2, err = ort.NewEmptyTensor[float32](ort.NewShape(1, 384, 1)); err != nil {
		return fail(err)
	}
	if d.regs1, err = ort.NewEmptyTensor[float32](ort.NewShape(1, 512, regWidth)); err != nil {
		return fail(err)
	}
	if d.regs2, err = ort.NewEmptyTensor[float32](ort.NewShape(1, 384, regWidth)); err != nil {
		return fail(err)
	}
	d.session, err = ort.NewAdvancedSession(path, []string{"input:0"},
		[]string{"Identity:0", "Identity_1:0", "Identity_2:0", "Identity_3:0"},
		[]ort.Value{d.input}, []ort.Value{d.scores1, d.scores2, d.regs1, d.regs2}, so)
	if err != nil {
		return fail(err)
	}
	d.scores = make([]float32, NumAnchors)
	d.regs = make([]float32, NumAnchors*regWidth)
	return d, nil
}

// Options are the settings the detector was opened with.
func (d *Detector) Options() Options { return d.opts }

// Close frees the session and its tensors; a half-opened Detector is fine.
func (d *Detector) Close() error {
	if d.session != nil {
		d.session.Destroy()
	}
	for _, t := range []*ort.Tensor[float32]{d.input, d.scores1, d.scores2, d.regs1, d.regs2} {
		if t != nil {
			t.Destroy()
		}
	}
	*d = Detector{}
	return nil
}

// Tiles lists the crops Detect runs the model on for a w×h frame: the
// letterboxed frame first, then the tiles. len(Tiles) is the model runs per
// frame, the detector's cost.
func (d *Detector) Tiles(w, h int) []img.Rect {
	cs := d.plan(w, h)
	out := make([]img.Rect, len(cs))
	for i, c := range cs {
		out[i] = img.Rect{X0: c.X0, Y0: c.Y0, X1: c.X0 + c.Side, Y1: c.Y0 + c.Side}
	}
	return out
}

// MinVisible is the width in pixels of the smallest face the configured
// passes can find in a w×h frame (the model needs a face ≥ ~20 % of its
// input); smaller faces are not detected at all.
func (d *Detector) MinVisible(w, h int) float32 {
	cs := d.plan(w, h)
	side := cs[0].Side
	for _, c := range cs {
		side = min(side, c.Side)
	}
	return minVisibleFraction * side
}

// minVisibleFraction is the face-width-to-input ratio below which the model
// stops finding faces at DefaultThreshold (measured in
// TestMinVisibleFraction: a face of 12 % scores ~0.7, of 10 % ~0.4).
const minVisibleFraction = 0.12

func (d *Detector) plan(w, h int) []crop {
	cs := []crop{letterbox(w, h)}
	l := max(w, h)
	if d.opts.Tiles == TilesOff || (d.opts.Tiles == TilesAuto && l < AutoTileMin) {
		return cs
	}
	for _, z := range d.opts.TileZooms {
		if float32(l)/z < InputSize {
			continue // the tile would be upscaled from fewer pixels than the input: no gain
		}
		cs = append(cs, tilePlan(w, h, z)...)
	}
	return cs
}

// Detect finds the faces in im, best score first. A frame with no pixels
// is ErrEmpty; a view whose stride or Pix cannot hold W×H RGB pixels is an
// error. Boxes may extend past the frame for faces cut by its edge.
func (d *Detector) Detect(im img.RGB) ([]Face, error) {
	if d.session == nil {
		return nil, fmt.Errorf("blazeface: detector closed")
	}
	if err := check(im); err != nil {
		return nil, err
	}
	d.cands = d.cands[:0]
	for i, c := range d.plan(im.W, im.H) {
		d.sampler.fill(d.input.GetData(), im, c)
		if err := d.session.Run(); err != nil {
			return nil, fmt.Errorf("blazeface: %w", err)
		}
		copy(d.scores, d.scores1.GetData())
		copy(d.scores[512:], d.scores2.GetData())
		copy(d.regs, d.regs1.GetData())
		copy(d.regs[512*regWidth:], d.regs2.GetData())
		d.pass = decode(d.scores, d.regs, c, d.opts.Threshold, d.pass[:0])
		for _, f := range weightedNMS(d.pass, nmsIoU) {
			if i > 0 && edgeCut(f, c, im.W, im.H) {
				continue // a tile saw part of a face
			}
			d.cands = append(d.cands, f)
		}
	}
	faces := mergePasses(d.cands, nmsIoU)
	for i := range faces {
		faces[i].TooSmall = faces[i].Box.W() < d.opts.MinFacePx
	}
	return faces, nil
}
