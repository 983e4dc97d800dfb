package paddle

// The measurement set of docs/OCR.md: what the tests render, how they
// score it. Text is drawn on videotestsrc patterns by GStreamer's
// textoverlay (Pango, fonts-dejavu-core) and passed through H.264
// (x264enc, avdec_h264) as a stream would be; where it was drawn is the
// box around the pixels it changed, measured on the same frame rendered
// without it, before encoding.

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/lsie-mlf/lsie/internal/testenv"
	"github.com/lsie-mlf/lsie/plugins/internal/models"
)

// modelDir is the folder holding the models (LSIE_PLUGIN_MODEL_DIR, else
// the repository's var/models); a missing file is testenv.Missing.
func modelDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(models.EnvDir)
	if dir == "" {
		dir = "../../../var/models"
	}
	for _, f := range []string{DetFile, ClsFile, RecFile, DictFile, "onnxruntime/libonnxruntime.so.1"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			testenv.Missing(t, "%s (scripts/fetch-models.sh)", filepath.Join(dir, f))
		}
	}
	return dir
}

var (
	engineOnce sync.Once
	engine     *Engine
	engineErr  error
)

// testEngine is one engine for the package's tests, on one thread (the
// cost the docs quote is one core's).
func testEngine(t testing.TB) *Engine {
	t.Helper()
	dir := modelDir(t)
	engineOnce.Do(func() { engine, engineErr = Open(map[string]string{"model_dir": dir}, 1) })
	if engineErr != nil {
		t.Fatal(engineErr)
	}
	return engine
}

// needGStreamer checks for gst-launch-1.0 and textoverlay (Debian's
// gstreamer1.0-x).
func needGStreamer(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("gst-launch-1.0"); err != nil {
		testenv.Missing(t, "gst-launch-1.0 (gstreamer1.0-tools)")
	}
	if err := exec.Command("gst-inspect-1.0", "textoverlay").Run(); err != nil {
		testenv.Missing(t, "GStreamer's textoverlay (gstreamer1.0-x)")
	}
}

// overlay is one textoverlay: a string, its Pango font and where it goes.
type overlay struct {
	text, font     string
	valign, halign string
	props          []string // more textoverlay properties
}

// scene is one frame of the set: a videotestsrc pattern and its texts,
// then post (elements applied to the whole frame: a flip, a rotation).
type scene struct {
	name    string
	pattern string
	w, h    int
	texts   []overlay
	post    []string
}

func (o overlay) element() []string {
	return append([]string{"!", "textoverlay", fmt.Sprintf("text=%q", o.text), fmt.Sprintf("font-desc=%q", o.font),
		"auto-resize=false", "valignment=" + o.valign, "halignment=" + o.halign}, o.props...)
}

// render writes sc with texts as an RGB24 file and returns its pixels;
// encode passes it through H.264 first.
func render(dir, name string, sc scene, texts []overlay, encode bool) (Image, error) {
	path := filepath.Join(dir, name+".rgb")
	// I420 before the overlays, so that frames with and without text are
	// converted alike and differ only where text was drawn.
	args := []string{"-q", "videotestsrc", "pattern=" + sc.pattern, "num-buffers=1",
		"!", fmt.Sprintf("video/x-raw,format=I420,width=%d,height=%d", sc.w, sc.h)}
	for _, o := range texts {
		args = append(args, o.element()...)
	}
	args = append(args, sc.post...)
	if encode {
		args = append(args, "!", "x264enc", "speed-preset=ultrafast", "!", "avdec_h264")
	}
	args = append(args, "!", "videoconvert", "!", "video/x-raw,format=RGB", "!", "filesink", "location="+path)
	if out, err := exec.Command("gst-launch-1.0", args...).CombinedOutput(); err != nil {
		return Image{}, fmt.Errorf("gst-launch-1.0 %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	pix, err := os.ReadFile(path)
	if err != nil {
		return Image{}, err
	}
	if len(pix) != 3*sc.w*sc.h {
		return Image{}, fmt.Errorf("%s: %d bytes, want %d", path, len(pix), 3*sc.w*sc.h)
	}
	return Image{W: sc.w, H: sc.h, Stride: 3 * sc.w, Pix: pix}, nil
}

// rectF is an axis-aligned box in pixel-edge coordinates: [X0, X1) × [Y0, Y1).
type rectF struct{ X0, Y0, X1, Y1 float64 }

func (r rectF) area() float64 { return max(r.X1-r.X0, 0) * max(r.Y1-r.Y0, 0) }

func (r rectF) intersect(o rectF) rectF {
	return rectF{max(r.X0, o.X0), max(r.Y0, o.Y0), min(r.X1, o.X1), min(r.Y1, o.Y1)}
}

func (r rectF) union(o rectF) rectF {
	if r.area() == 0 {
		return o
	}
	return rectF{min(r.X0, o.X0), min(r.Y0, o.Y0), max(r.X1, o.X1), max(r.Y1, o.Y1)}
}

func iou(a, b rectF) float64 {
	i := a.intersect(b).area()
	if i == 0 {
		return 0
	}
	return i / (a.area() + b.area() - i)
}

func (r rectF) String() string { return fmt.Sprintf("%.0f,%.0f–%.0f,%.0f", r.X0, r.Y0, r.X1, r.Y1) }

// quadRect is the box around q in pixel-edge coordinates.
func quadRect(q Quad) rectF {
	lo, hi := q.Bounds()
	return rectF{lo.X + 0.5, lo.Y + 0.5, hi.X + 0.5, hi.Y + 0.5}
}

// drawn is the box around the pixels where a and b differ visibly (a sum
// of channel differences over 48).
func drawn(a, b Image) rectF {
	r := rectF{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)}
	for y := 0; y < a.H; y++ {
		for x := 0; x < a.W; x++ {
			d := 0
			for c := 0; c < 3; c++ {
				v := int(a.Pix[y*a.Stride+3*x+c]) - int(b.Pix[y*b.Stride+3*x+c])
				d += max(v, -v)
			}
			if d > 48 {
				r.X0, r.Y0 = min(r.X0, float64(x)), min(r.Y0, float64(y))
				r.X1, r.Y1 = max(r.X1, float64(x+1)), max(r.Y1, float64(y+1))
			}
		}
	}
	return r
}

// edits is the Levenshtein distance between a and b in characters.
func edits(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			sub := prev[j-1]
			if ra[i-1] != rb[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

func noSpaces(s string) string { return strings.ReplaceAll(s, " ", "") }

// truthLine is one string of a test image and where it was drawn.
type truthLine struct {
	text string
	box  rectF
}

// score is a set's tally: character edits against the truth (strict, and
// with spaces removed from both sides), strings found (some line read on
// them), lines read where no text was drawn, and how well boxes lie:
// the least share of a line's box inside the box its text was drawn in,
// and the least IoU of a found string's lines (their union) with it.
type score struct {
	chars, edits     int
	charsNS, editsNS int
	strings, found   int
	split            int // strings read as more than one line
	spurious         int
	minInside        float64
	minIoU, sumIoU   float64
	rows             []string // one table row per string, for the docs
}

func (s *score) cer() float64   { return float64(s.edits) / float64(s.chars) }
func (s *score) cerNS() float64 { return float64(s.editsNS) / float64(s.charsNS) }

// meanIoU is the mean box IoU of the strings found.
func (s *score) meanIoU() float64 { return s.sumIoU / float64(max(s.found, 1)) }

// add scores the lines read from one image against its truths: each line
// goes to the truth it overlaps most, a truth's lines are joined with
// spaces in reading order; a line overlapping no truth counts as
// spurious, its characters as insertions.
func (s *score) add(t testing.TB, image string, truths []truthLine, lines []Line) {
	t.Helper()
	if s.strings == 0 {
		s.minInside, s.minIoU = 1, 1
	}
	got := make([][]string, len(truths))
	boxes := make([]rectF, len(truths))
	for _, l := range lines {
		r := quadRect(l.Quad)
		best, bestArea := -1, 0.0
		for i, tr := range truths {
			if a := r.intersect(tr.box).area(); a > bestArea {
				best, bestArea = i, a
			}
		}
		if best < 0 {
			s.spurious++
			s.edits += len([]rune(l.Text))
			s.editsNS += len([]rune(noSpaces(l.Text)))
			t.Logf("%s: spurious line %q at %v", image, l.Text, r)
			continue
		}
		got[best] = append(got[best], l.Text)
		boxes[best] = boxes[best].union(r)
		s.minInside = min(s.minInside, bestArea/r.area())
	}
	for i, tr := range truths {
		g := strings.Join(got[i], " ")
		e, ens := edits(g, tr.text), edits(noSpaces(g), noSpaces(tr.text))
		s.chars += len([]rune(tr.text))
		s.charsNS += len([]rune(noSpaces(tr.text)))
		s.edits += e
		s.editsNS += ens
		s.strings++
		ov := iou(boxes[i], tr.box)
		if len(got[i]) > 1 {
			s.split++
		}
		if len(got[i]) > 0 {
			s.found++
			s.minIoU = min(s.minIoU, ov)
			s.sumIoU += ov
		}
		s.rows = append(s.rows, fmt.Sprintf("| %s | %s | %.0f | %s | %d | %d | %d | %.2f |", image, tr.text, tr.box.Y1-tr.box.Y0, g, len(got[i]), e, ens, ov))
	}
}

func (s *score) report(t testing.TB, title string) {
	t.Helper()
	t.Logf("%s: %d strings (%d found, %d in several lines), %d characters: CER %.4f (%d edits), without spaces %.4f (%d of %d); %d spurious lines; least share of a line inside its text %.2f, IoU of a found string: least %.2f, mean %.2f",
		title, s.strings, s.found, s.split, s.chars, s.cer(), s.edits, s.cerNS(), s.editsNS, s.charsNS, s.spurious, s.minInside, s.minIoU, s.meanIoU())
	t.Logf("| image | string | height px | read | lines | edits | edits, spaces ignored | box IoU |\n|---|---|---|---|---|---|---|---|\n%s", strings.Join(s.rows, "\n"))
}
