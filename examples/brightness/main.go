// Command brightness is an example third-party lsie plugin in its own
// module: the mean luma of each frame's centre third, and a "dark" flag
// against a per-stream threshold set in the host config:
//
//	plugin "brightness" { threshold = 60 }
//
// It shows attributes, errors as data, per-stream state and sdk.Logger.
package main

import (
	"strconv"
	"time"

	"github.com/lsie-mlf/lsie/sdk"
)

// version is this plugin's own semver, independent of the host's.
const version = "0.1.0"

// defaultThreshold is the luma below which a frame counts as dark.
const defaultThreshold = 40

func main() { sdk.Serve(plugin{}) }

type plugin struct{}

// Manifest tells the host what the plugin consumes and produces.
func (plugin) Manifest() sdk.Manifest {
	return sdk.Manifest{
		Name:        "brightness",
		Version:     version,
		Description: "mean luma of the frame's centre third and a dark flag",
		Inputs:      []string{sdk.TopicVideoRGB24},
		Outputs:     []string{"brightness.frame@1"},
		Fields: []sdk.Field{
			{Name: "centre_luma", Unit: "luma 0..255", Description: "mean Rec.601 luma of the centre third of the frame"},
			{Name: "dark", Unit: "0|1", Description: "1 when centre_luma is below the stream's threshold (attribute, default 40)"},
		},
		// What a stream's plugin block may set: the host refuses anything
		// else, or a value out of range, before the stream starts.
		Attributes: []sdk.Attribute{
			{Name: "threshold", Type: sdk.AttrNumber, Default: strconv.Itoa(defaultThreshold), Min: "0", Max: "255",
				Description: "centre luma below which a frame is dark"},
		},
	}
}

// OpenStream reads the stream's attributes, already checked against the
// manifest's schema, with the default filled in.
func (plugin) OpenStream(info sdk.StreamInfo) (sdk.Stream, error) {
	threshold := info.Attrs.Float("threshold")
	sdk.Logger().Info("stream opened", "stream", info.ID, "threshold", threshold)
	// Its own metrics, on the host's /metrics with plugin and stream labels.
	return &stream{id: info.ID, threshold: threshold,
		seconds:    info.Metrics.Histogram("brightness_frame_seconds", "time to measure one frame", []float64{1e-5, 1e-4, 1e-3, 1e-2}),
		darkFrames: info.Metrics.Counter("brightness_dark_frames_total", "frames below the stream's threshold")}, nil
}

// stream is one stream's state: one plugin process serves every stream,
// so nothing per-stream may live in globals.
type stream struct {
	id        string
	threshold float64
	dark      bool // the previous frame's flag, to log changes only
	frames    int

	seconds    *sdk.Histogram
	darkFrames *sdk.Counter
}

// ProcessFrame reads the shared-memory pixels in place; they are read-only
// and valid only until it returns.
func (s *stream) ProcessFrame(f *sdk.Frame) (sdk.Fields, error) {
	if f.Format != sdk.FormatRGB24 {
		return nil, sdk.Errorf("bad_input", "want %s frames, got %s", sdk.FormatRGB24, f.Format)
	}
	if f.Width < 1 || f.Height < 1 || f.Stride < 3*f.Width || len(f.Pixels) < f.Stride*(f.Height-1)+3*f.Width {
		return nil, sdk.Errorf("bad_input", "frame %dx%d stride %d does not fit %d bytes", f.Width, f.Height, f.Stride, len(f.Pixels))
	}
	start := time.Now()
	luma := centreLuma(f.Pixels, f.Width, f.Height, f.Stride)
	s.seconds.Observe(time.Since(start).Seconds())
	dark := luma < s.threshold
	if dark {
		s.darkFrames.Inc()
	}
	if s.frames > 0 && dark != s.dark {
		sdk.Logger().Info("light changed", "stream", s.id, "dark", dark, "luma", luma, "pts", f.PTS)
	}
	s.dark = dark
	s.frames++
	flag := 0.0
	if dark {
		flag = 1
	}
	return sdk.Fields{"centre_luma": luma, "dark": flag}, nil
}

func (s *stream) Close() error {
	sdk.Logger().Debug("stream closed", "stream", s.id, "frames", s.frames)
	return nil
}

// centreLuma is the mean Rec.601 luma of the middle third of the frame in
// both directions (at least one pixel).
func centreLuma(px []byte, w, h, stride int) float64 {
	x0, y0 := w/3, h/3
	x1, y1 := max(2*w/3, x0+1), max(2*h/3, y0+1)
	var sum float64
	for y := y0; y < y1; y++ {
		row := px[y*stride:]
		for x := x0; x < x1; x++ {
			r, g, b := float64(row[3*x]), float64(row[3*x+1]), float64(row[3*x+2])
			sum += 0.299*r + 0.587*g + 0.114*b
		}
	}
	return sum / float64((x1-x0)*(y1-y0))
}
