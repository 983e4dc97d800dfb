package centernet

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// groundTruth is testdata/groundtruth.json: hand-drawn boxes for the
// accuracy set (docs/DETECT.md).
type groundTruth struct {
	Images []gtImage `json:"images"`
	// Renders are frames made from an image of the list, scaled and
	// placed on a flat background.
	Renders []renderSpec `json:"renders"`
}

type gtImage struct {
	Name    string     `json:"name"`
	File    string     `json:"file"`
	Objects []gtObject `json:"objects"`
	Ignore  []string   `json:"ignore"`
}

type gtObject struct {
	Label string     `json:"label"`
	Box   [4]float32 `json:"box"`
}

func (o gtObject) box() Box { return Box{o.Box[0], o.Box[1], o.Box[2], o.Box[3]} }

// renderSpec: image From scaled by Scale, its top left corner at (X, Y) of
// a Width×Height frame of colour Background.
type renderSpec struct {
	Name       string  `json:"name"`
	From       string  `json:"from"`
	Width      int     `json:"width"`
	Height     int     `json:"height"`
	Background [3]byte `json:"background"`
	Scale      float32 `json:"scale"`
	X          int     `json:"x"`
	Y          int     `json:"y"`
}

// sample is one image of the set with its boxes.
type sample struct {
	name    string
	im      Image
	objects []gtObject
	ignore  []string
}

// loadSet reads the ground truth, the images and the renders.
func loadSet(tb testing.TB) []sample {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "groundtruth.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var gt groundTruth
	if err := json.Unmarshal(b, &gt); err != nil {
		tb.Fatalf("groundtruth.json: %v", err)
	}
	var set []sample
	byName := map[string]sample{}
	for _, g := range gt.Images {
		src, file, _ := strings.Cut(g.File, ":")
		var path, what string
		switch src {
		case "skimage":
			path, what = filepath.Join(skimageDir, file), "apt-get install python3-skimage"
		case "faces":
			path, what = filepath.Join(facesDir, file), "scripts/fetch-media.sh"
		default:
			tb.Fatalf("groundtruth.json: %s: unknown source %q", g.Name, src)
		}
		s := sample{name: g.Name, im: loadImage(tb, path, what), objects: g.Objects, ignore: g.Ignore}
		for _, o := range g.Objects {
			if Class(o.Label) < 0 {
				tb.Fatalf("groundtruth.json: %s: label %q is not a COCO label", g.Name, o.Label)
			}
		}
		set = append(set, s)
		byName[g.Name] = s
	}
	for _, r := range gt.Renders {
		src, ok := byName[r.From]
		if !ok {
			tb.Fatalf("groundtruth.json: render %s: no image %q", r.Name, r.From)
		}
		s := sample{name: r.Name, ignore: src.ignore,
			im: render(src.im, r.Width, r.Height, r.Background, r.Scale, r.X, r.Y)}
		for _, o := range src.objects {
			b := o.box()
			s.objects = append(s.objects, gtObject{Label: o.Label, Box: [4]float32{
				b.X0*r.Scale + float32(r.X), b.Y0*r.Scale + float32(r.Y),
				b.X1*r.Scale + float32(r.X), b.Y1*r.Scale + float32(r.Y)}})
		}
		set = append(set, s)
	}
	return set
}

// render scales src by s (area average) onto a w×h frame of colour bg,
// its top left corner at (x, y).
func render(src Image, w, h int, bg [3]byte, s float32, x, y int) Image {
	out := Image{W: w, H: h, Stride: 3 * w, Channels: 3, Pix: make([]byte, 3*w*h)}
	for i := 0; i < w*h; i++ {
		copy(out.Pix[3*i:], bg[:])
	}
	sw, sh := int(float32(src.W)*s), int(float32(src.H)*s)
	inv := 1 / float64(s)
	for oy := range sh {
		for ox := range sw {
			tx, ty := x+ox, y+oy
			if tx < 0 || ty < 0 || tx >= w || ty >= h {
				continue
			}
			x0, x1 := int(float64(ox)*inv), max(int(float64(ox+1)*inv), int(float64(ox)*inv)+1)
			y0, y1 := int(float64(oy)*inv), max(int(float64(oy+1)*inv), int(float64(oy)*inv)+1)
			var sum [3]int
			n := 0
			for sy := y0; sy < min(y1, src.H); sy++ {
				for sx := x0; sx < min(x1, src.W); sx++ {
					p := src.Pix[sy*src.Stride+sx*src.Channels:]
					for c := range 3 {
						sum[c] += int(p[c])
					}
					n++
				}
			}
			for c := range 3 {
				out.Pix[ty*out.Stride+3*tx+c] = byte((sum[c] + n/2) / n)
			}
		}
	}
	return out
}

// counts are one label's matches over the set.
type counts struct{ tp, fp, fn int }

func (c counts) precision() float64 {
	if c.tp+c.fp == 0 {
		return 1
	}
	return float64(c.tp) / float64(c.tp+c.fp)
}

func (c counts) recall() float64 {
	if c.tp+c.fn == 0 {
		return 1
	}
	return float64(c.tp) / float64(c.tp+c.fn)
}

// score matches detections (best first) to the sample's boxes of the same
// label at IoU ≥ 0.5, each box at most once, and adds to per-label counts;
// detections of an ignored label count for nothing.
func score(s sample, dets []Detection, per map[string]*counts) {
	used := make([]bool, len(s.objects))
	get := func(l string) *counts {
		if per[l] == nil {
			per[l] = &counts{}
		}
		return per[l]
	}
	for _, d := range dets {
		best, bi := float32(0.5), -1
		for i, o := range s.objects {
			if used[i] || o.Label != d.Label() {
				continue
			}
			if v := IoU(o.box(), d.Box); v >= best {
				best, bi = v, i
			}
		}
		switch {
		case bi >= 0:
			used[bi] = true
			get(d.Label()).tp++
		case slices.Contains(s.ignore, d.Label()):
		default:
			get(d.Label()).fp++
		}
	}
	for i, o := range s.objects {
		if !used[i] {
			get(o.Label).fn++
		}
	}
}

// evaluate runs the set at one setting and returns per-label counts.
// With stretch, frames are prepared as @vladmandic/human prepares them
// instead of letterboxed.
func evaluate(tb testing.TB, m *Model, set []sample, opts Options, stretch, verbose bool) map[string]*counts {
	tb.Helper()
	per := map[string]*counts{}
	for _, s := range set {
		var dets []Detection
		var err error
		if stretch {
			dets, err = m.detectStretched(s.im, opts)
		} else {
			dets, err = m.Detect(s.im, opts)
		}
		if err != nil {
			tb.Fatalf("%s: %v", s.name, err)
		}
		if verbose {
			var parts []string
			for _, d := range dets {
				parts = append(parts, fmt.Sprintf("%s %.2f [%.0f %.0f %.0f %.0f]", d.Label(), d.Score, d.Box.X0, d.Box.Y0, d.Box.X1, d.Box.Y1))
			}
			tb.Logf("%-16s %s", s.name, strings.Join(parts, "; "))
		}
		score(s, dets, per)
	}
	return per
}

// detectStretched is Detect with human's preparation: the frame stretched
// to Size×Size by tf.image.resizeBilinear's defaults (source position
// o·in/out, no half-pixel centres). A Letterbox filling the whole input
// maps its boxes back.
func (m *Model) detectStretched(im Image, opts Options) ([]Detection, error) {
	if err := im.check(); err != nil {
		return nil, err
	}
	dst := m.input.GetData()
	at := func(x, y, c int) float64 {
		if im.Channels == 1 {
			c = 0
		}
		return float64(im.Pix[y*im.Stride+x*im.Channels+c])
	}
	for oy := range Size {
		sy := float64(im.H) / Size * float64(oy)
		y0 := int(sy)
		y1, fy := min(y0+1, im.H-1), sy-float64(y0)
		for ox := range Size {
			sx := float64(im.W) / Size * float64(ox)
			x0 := int(sx)
			x1, fx := min(x0+1, im.W-1), sx-float64(x0)
			for c := range 3 {
				t := at(x0, y0, c) + (at(x1, y0, c)-at(x0, y0, c))*fx
				b := at(x0, y1, c) + (at(x1, y1, c)-at(x0, y1, c))*fx
				dst[(oy*Size+ox)*3+c] = float32(t + (b-t)*fy)
			}
		}
	}
	if err := m.session.Run(); err != nil {
		return nil, err
	}
	lb := Letterbox{W: im.W, H: im.H, NW: Size, NH: Size}
	return Decode(m.outputs[0].GetData(), lb, opts, nil), nil
}

// table formats per-label counts as docs/DETECT.md's table rows; a ratio
// of nothing is "–" (precision without detections, recall without boxes).
func table(per map[string]*counts) string {
	var b strings.Builder
	ratio := func(n, d int) string {
		if d == 0 {
			return "–"
		}
		return fmt.Sprintf("%.2f", float64(n)/float64(d))
	}
	row := func(l string, c counts) {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %s | %s |\n", l, c.tp+c.fn, c.tp, c.fp, ratio(c.tp, c.tp+c.fp), ratio(c.tp, c.tp+c.fn))
	}
	var all counts
	for _, l := range slices.Sorted(maps.Keys(per)) {
		c := *per[l]
		row(l, c)
		all.tp, all.fp, all.fn = all.tp+c.tp, all.fp+c.fp, all.fn+c.fn
	}
	row("all", all)
	return b.String()
}

// TestAccuracy measures precision and recall at IoU 0.5 per label on the
// hand-labelled set (testdata/groundtruth.json) at the plugin's default
// settings, logs the table for other thresholds and for human's stretched
// preparation, and checks that letterboxing finds more of the people. The
// floors are a little below the figures docs/DETECT.md reports, so a
// change that loses people fails.
func TestAccuracy(t *testing.T) {
	m := openModel(t)
	set := loadSet(t)
	const head = "| label | boxes | right | wrong | precision | recall |\n|---|--:|--:|--:|--:|--:|\n"
	per := evaluate(t, m, set, DefaultOptions(), false, testing.Verbose())
	t.Logf("letterbox, threshold %.2f (default):\n%s%s", DefaultThreshold, head, table(per))
	for _, th := range []float32{0.2, 0.25, 0.4} {
		t.Logf("letterbox, threshold %.2f:\n%s%s", th, head, table(evaluate(t, m, set, Options{Threshold: th, NMSIoU: DefaultNMSIoU}, false, false)))
	}
	stretched := evaluate(t, m, set, DefaultOptions(), true, false)
	t.Logf("stretched as human does, threshold %.2f:\n%s%s", DefaultThreshold, head, table(stretched))

	p, sp := per["person"], stretched["person"]
	if p == nil || p.recall() < 0.9 || p.precision() < 0.95 {
		t.Errorf("person at the default threshold: %+v, want precision ≥ 0.95 and recall ≥ 0.9", p)
	}
	if sp != nil && sp.recall() >= p.recall() {
		t.Errorf("person recall: letterbox %.2f, stretched %.2f: the letterbox is no longer better", p.recall(), sp.recall())
	}
}

// BenchmarkDetect640: one 640×427 frame (a demo photo scaled as the host
// scales to max_width 640) through Prepare, the model on one thread and
// Decode.
func BenchmarkDetect640(b *testing.B) {
	m := openModel(b)
	src := loadImage(b, filepath.Join(facesDir, "sample1.jpg"), "scripts/fetch-media.sh")
	im := render(src, 640, 427, [3]byte{}, 640/float32(src.W), 0, 0)
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.Detect(im, DefaultOptions()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/float64(b.N), "ms/frame")
}

// BenchmarkPrepare640: the letterbox alone for the same frame.
func BenchmarkPrepare640(b *testing.B) {
	src := loadImage(b, filepath.Join(facesDir, "sample1.jpg"), "scripts/fetch-media.sh")
	im := render(src, 640, 427, [3]byte{}, 640/float32(src.W), 0, 0)
	in := make([]float32, Size*Size*3)
	for b.Loop() {
		if _, err := Prepare(im, in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/float64(b.N), "ms/frame")
}
