// Command visual is an lsie plugin that measures a frame's visual
// properties: brightness, contrast, saturation and motion. Motion is cheap
// and is meant to gate heavier models later.
package main

import "github.com/lsie-mlf/lsie/sdk"

// version is this plugin's own semver, independent of the host's.
const version = "0.1.0"

func main() { sdk.Serve(plugin{}) }

type plugin struct{}

func (plugin) Manifest() sdk.Manifest {
	return sdk.Manifest{
		Name:        "visual",
		Version:     version,
		Description: "brightness, RMS contrast, saturation and motion of each analysis frame",
		Inputs:      []string{sdk.TopicVideoRGB24},
		Outputs:     []string{"visual.frame@1"},
		Fields: []sdk.Field{
			{Name: "brightness", Unit: "luma 0..255", Description: "mean Rec.601 luma"},
			{Name: "contrast", Unit: "luma 0..255", Description: "RMS contrast: standard deviation of luma"},
			{Name: "saturation", Unit: "0..1", Description: "mean HSV saturation"},
			{Name: "motion", Unit: "luma 0..255", Description: "mean absolute difference of the downscaled gray frame from the previous one; absent on a stream's first frame"},
		},
		Attributes: []sdk.Attribute{}, // none: a block that sets one is refused
	}
}

func (plugin) OpenStream(sdk.StreamInfo) (sdk.Stream, error) { return &stream{}, nil }

// stream keeps the previous downscaled frame for motion.
type stream struct {
	prev, cur grid
	havePrev  bool
}

func (s *stream) ProcessFrame(f *sdk.Frame) (sdk.Fields, error) {
	if f.Format != sdk.FormatRGB24 {
		return nil, sdk.Errorf("bad_input", "visual needs %s frames, got %s", sdk.FormatRGB24, f.Format)
	}
	if f.Width <= 0 || f.Height <= 0 || f.Stride < 3*f.Width || len(f.Pixels) < f.Stride*(f.Height-1)+3*f.Width {
		return nil, sdk.Errorf("bad_input", "frame %dx%d stride %d does not fit %d bytes", f.Width, f.Height, f.Stride, len(f.Pixels))
	}
	st := measure(f.Pixels, f.Width, f.Height, f.Stride, &s.cur)
	out := sdk.Fields{"brightness": st.brightness, "contrast": st.contrast, "saturation": st.saturation}
	if s.havePrev && s.prev.w == s.cur.w && s.prev.h == s.cur.h {
		out["motion"] = s.cur.meanAbsDiff(&s.prev)
	}
	s.prev, s.cur = s.cur, s.prev
	s.havePrev = true
	return out, nil
}

func (s *stream) Close() error { return nil }
