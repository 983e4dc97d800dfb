package plugintest

import (
	"math"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/sdk"
)

// SampleRate is the audio rate plugins receive (topic audio.pcm16k).
const SampleRate = 16000

// Frame is one frame to send, RGB24 unless Format says otherwise: Pixels
// has Width times the format's bytes per pixel per row and no padding (NV12:
// the luma rows, then (Height+1)/2 rows of interleaved U, V).
type Frame struct {
	Width, Height int
	// Format is the pixels' layout; 0 means sdk.FormatRGB24. Rows are
	// packed: the stride is Width times the format's bytes per pixel.
	Format sdk.PixelFormat
	Pixels []byte
	PTS    time.Duration
}

// Result is what the plugin answered for one frame or audio record.
type Result struct {
	Fields  map[string]float64 // a frame's or message's fields
	Objects []sdk.Object       // a frame's objects (sdk.ObjectStream)
	Items   []Item             // an audio record's items
	// Text and Payload of a message's answer.
	Text    string
	Payload []byte
	ErrCode string // "" unless the plugin (or its SDK) reported an error
	ErrMsg  string
	// Progress (audio): every item before this media time has been produced;
	// math.MaxInt64 after EndAudio.
	Progress time.Duration
}

// Item is one time-stamped result, e.g. one 10 ms audio hop.
type Item struct {
	PTS, Duration time.Duration
	Fields        map[string]float64
	Objects       []sdk.Object
	// ErrCode and ErrMsg are set, and Fields and Objects not, when the
	// host would store the item as an error (malformed_result).
	ErrCode, ErrMsg string
}

// SolidFrame returns a w×h frame of one colour.
func SolidFrame(w, h int, r, g, b byte) Frame {
	px := make([]byte, 3*w*h)
	for i := 0; i < len(px); i += 3 {
		px[i], px[i+1], px[i+2] = r, g, b
	}
	return Frame{Width: w, Height: h, Pixels: px}
}

// Tone returns seconds of a sine at freqHz, 16 kHz mono, with amplitude a
// fraction (0..1) of full scale.
func Tone(freqHz, seconds, amplitude float64) []int16 {
	n := int(math.Round(seconds * SampleRate))
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(math.Round(amplitude * 32767 * math.Sin(2*math.Pi*freqHz*float64(i)/SampleRate)))
	}
	return out
}

// Build runs `go build -o DIR/NAME pkg` in the test's working directory and
// returns the binary's path; DIR is a temporary directory of tb's. pkg is
// what go build takes: ".", "../../plugins/visual", an import path.
func Build(tb testing.TB, pkg string) string {
	tb.Helper()
	name := filepath.Base(pkg)
	if abs, err := filepath.Abs(pkg); err == nil && (pkg == "." || pkg == "..") {
		name = filepath.Base(abs)
	}
	out := filepath.Join(tb.TempDir(), name)
	cmd := exec.Command("go", "build", "-o", out, pkg)
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("plugintest: go build %s: %v\n%s", pkg, err, b)
	}
	return out
}
