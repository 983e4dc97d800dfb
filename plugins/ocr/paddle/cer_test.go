package paddle

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"
)

// Overlay looks: textoverlay's default (white, black outline and shadow),
// a shaded band behind the text, and plain coloured text.
var (
	shaded = []string{"shaded-background=true"}
	black  = []string{"color=0xff000000", "draw-outline=false", "draw-shadow=false"}
	yellow = []string{"color=0xffffff00"}
)

// overlaySet is the textoverlay half of the set: lower thirds,
// scoreboards, titles, tickers and captions in the six faces of
// fonts-dejavu-core, 8 to 40 points, at the nine textoverlay positions,
// on ten videotestsrc patterns and three frame sizes.
var overlaySet = []scene{
	{"lower-third", "smpte", 640, 360, []overlay{{"BREAKING NEWS", "DejaVu Sans Bold 28", "bottom", "left", shaded}}, nil},
	{"name-and-title", "colors", 640, 360, []overlay{
		{"Economy Today", "DejaVu Serif Bold 22", "top", "left", nil},
		{"Jane Doe, Chief Economist", "DejaVu Sans 18", "bottom", "left", shaded}}, nil},
	{"scoreboard", "ball", 640, 360, []overlay{{"HOME 3 - 1 AWAY", "DejaVu Sans Mono Bold 16", "top", "right", shaded}}, nil},
	{"dateline", "smpte", 640, 360, []overlay{{"Live from Berlin", "DejaVu Serif 22", "top", "left", nil}}, nil},
	{"slide-figure", "gradient", 640, 360, []overlay{{"Q3 revenue up 12%", "DejaVu Sans 20", "center", "center", nil}}, nil},
	{"url", "smpte", 640, 360, []overlay{{"www.example.com/live", "DejaVu Sans Mono 14", "bottom", "right", nil}}, nil},
	{"next-up", "ball", 640, 360, []overlay{{"Next: Weather at 18:45", "DejaVu Serif 18", "top", "center", nil}}, nil},
	{"logo", "checkers-8", 640, 360, []overlay{{"LSIE CHANNEL 7", "DejaVu Sans Bold 36", "center", "center", nil}}, nil},
	{"caption", "black", 640, 360, []overlay{{"The quick brown fox jumps over the lazy dog", "DejaVu Sans 14", "bottom", "center", nil}}, nil},
	{"headline", "blue", 640, 360, []overlay{{"ELECTION RESULTS 2026", "DejaVu Serif Bold 26", "top", "left", nil}}, nil},
	{"weather", "smpte", 640, 360, []overlay{{"Temperature 21 C, wind 12 km/h", "DejaVu Sans 12", "bottom", "left", nil}}, nil},
	{"slide-number", "white", 640, 360, []overlay{{"Slide 4 of 12", "DejaVu Sans 10", "bottom", "right", black}}, nil},
	{"goal", "green", 640, 360, []overlay{{"GOAL! 2-1", "DejaVu Sans Bold 32", "center", "center", yellow}}, nil},
	{"press", "gradient", 640, 360, []overlay{{"Press conference, 10:30 CET", "DejaVu Serif 16", "bottom", "center", shaded}}, nil},
	{"ticker", "pinwheel", 640, 360, []overlay{{"Stock ACME +1.25%", "DejaVu Sans Mono 16", "bottom", "left", shaded}}, nil},
	{"basketball", "smpte75", 640, 360, []overlay{
		{"LAKERS 98", "DejaVu Sans Mono Bold 18", "top", "left", shaded},
		{"CELTICS 101", "DejaVu Sans Mono Bold 18", "top", "right", shaded},
		{"4th QTR 2:31", "DejaVu Sans 14", "bottom", "center", nil}}, nil},
	{"keynote-720p", "smpte", 1280, 720, []overlay{
		{"Welcome to the keynote", "DejaVu Sans Bold 40", "top", "center", nil},
		{"Speaker: Dr. Maria Lopez", "DejaVu Sans 24", "bottom", "left", shaded}}, nil},
	{"small-240p", "colors", 320, 240, []overlay{
		{"LIVE", "DejaVu Sans Bold 16", "top", "right", nil},
		{"Channel 5 News", "DejaVu Sans 12", "bottom", "left", shaded}}, nil},
	{"tiny", "smpte", 640, 360, []overlay{{"Source: Reuters", "DejaVu Sans 8", "bottom", "left", nil}}, nil},
	// The whole frame turned: the angle classifier's case, and a box
	// that is not axis-aligned.
	{"upside-down", "gradient", 640, 360, []overlay{{"Upside down caption", "DejaVu Sans Bold 24", "center", "center", nil}},
		[]string{"!", "videoflip", "video-direction=180"}},
	{"tilted", "colors", 640, 360, []overlay{{"Tilted by seven degrees", "DejaVu Sans Bold 22", "center", "center", shaded}},
		[]string{"!", "videoconvert", "!", "rotate", "angle=0.12", "!", "videoconvert"}},
}

// renderScene renders sc for reading (all texts, through H.264) and, for
// each text, where it was drawn.
func renderScene(dir string, sc scene) (Image, []truthLine, error) {
	base, err := render(dir, sc.name+"-base", sc, nil, false)
	if err != nil {
		return Image{}, nil, err
	}
	truths := make([]truthLine, len(sc.texts))
	for i, o := range sc.texts {
		// The text alone, without its shaded band: the band would make
		// the box larger than what a reader should find.
		o.props = slices.DeleteFunc(slices.Clone(o.props), func(p string) bool { return p == "shaded-background=true" })
		one, err := render(dir, fmt.Sprintf("%s-%d", sc.name, i), sc, []overlay{o}, false)
		if err != nil {
			return Image{}, nil, err
		}
		truths[i] = truthLine{text: o.text, box: drawn(base, one)}
		if truths[i].box.area() <= 0 {
			return Image{}, nil, fmt.Errorf("%s: %q changed no pixel", sc.name, o.text)
		}
	}
	im, err := render(dir, sc.name, sc, sc.texts, true)
	return im, truths, err
}

// variant is a reader setting the set is also read with, for the
// table in docs/OCR.md.
type variant struct {
	name string
	set  func(*Config)
}

var variants = []variant{
	{"defaults", func(*Config) {}},
	{"space_threshold = 0 (PaddleOCR's greedy decoding)", func(c *Config) { c.SpaceThreshold = 0 }},
	{"min_side = 480", func(c *Config) { c.MinSide = 480 }},
	{"angle = false", func(c *Config) { c.Angle = false }},
}

// Bounds on the defaults' figures, measured on this set (docs/OCR.md:
// CER 0.045, 0.044 without spaces, 25 of 26 strings found, least share
// of a line inside its text 0.63, mean IoU 0.83), with a margin for
// another CPU's float rounding flipping a character or two.
const (
	overlayMaxCER    = 0.08
	overlayMaxCERNS  = 0.08
	overlayMinFound  = 24
	overlayMinInside = 0.5
	overlayMinIoU    = 0.75 // mean over the strings found
)

// TestOverlayCER reads the textoverlay set (see overlaySet) with each
// variant, logs its table and holds the defaults to the bounds above.
func TestOverlayCER(t *testing.T) {
	needGStreamer(t)
	e := testEngine(t)
	dir := t.TempDir()
	type rendered struct {
		im     Image
		truths []truthLine
		err    error
	}
	out := make([]rendered, len(overlaySet))
	var wg sync.WaitGroup
	for i, sc := range overlaySet {
		wg.Go(func() { out[i].im, out[i].truths, out[i].err = renderScene(dir, sc) })
	}
	wg.Wait()
	for _, r := range out {
		if r.err != nil {
			t.Fatal(r.err)
		}
	}
	for k, v := range variants {
		cfg := DefaultConfig
		v.set(&cfg)
		var s score
		var spent time.Duration
		for i, sc := range overlaySet {
			lines, tm, err := e.Read(out[i].im, cfg)
			if err != nil {
				t.Fatalf("%s: %v", sc.name, err)
			}
			spent += tm.Det + tm.Cls + tm.Rec
			s.add(t, sc.name, out[i].truths, lines)
			if k == 0 {
				checkTurned(t, sc.name, lines)
			}
		}
		s.report(t, fmt.Sprintf("textoverlay set, %s (%v in the models)", v.name, spent.Round(time.Millisecond)))
		if k == 0 && (s.cer() > overlayMaxCER || s.cerNS() > overlayMaxCERNS || s.found < overlayMinFound || s.spurious > 0 ||
			s.minInside < overlayMinInside || s.meanIoU() < overlayMinIoU) {
			t.Errorf("CER %.4f (bound %v), without spaces %.4f (bound %v), %d strings found (bound %d), %d spurious lines, "+
				"least share inside %.2f (bound %v), mean IoU %.2f (bound %v)", s.cer(), overlayMaxCER, s.cerNS(), overlayMaxCERNS,
				s.found, overlayMinFound, s.spurious, s.minInside, overlayMinInside, s.meanIoU(), overlayMinIoU)
		}
	}
}

// checkTurned holds the two turned scenes to what was done to them: the
// upside-down caption is read after the classifier turned it, the tilted
// one in a box whose top edge follows the rotation (0.12 rad).
func checkTurned(t *testing.T, name string, lines []Line) {
	t.Helper()
	switch name {
	case "upside-down":
		if len(lines) != 1 || lines[0].Turned != 180 {
			t.Errorf("%s: lines %+v, want one turned 180°", name, lines)
		}
	case "tilted":
		if len(lines) != 1 {
			t.Fatalf("%s: lines %+v, want one", name, lines)
		}
		d := lines[0].Quad[1].sub(lines[0].Quad[0])
		if a := math.Atan2(d.Y, d.X); math.Abs(math.Abs(a)-0.12) > 0.03 {
			t.Errorf("%s: top edge at %.3f rad, want ±0.12", name, a)
		}
	}
}
