package host

import (
	"fmt"
	"math"
	"slices"
	"unicode/utf8"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
)

// Bounds on one result's objects: what a detector reports per frame stays
// far below them; past them a result is a bug, not data.
const (
	maxObjects    = 1024
	maxObjectText = 4096
	// boxSlack lets a box end a float32 rounding past the frame's edge.
	boxSlack = 1e-6
)

// convertObjects turns a result's objects into the host's, or says why the
// result is malformed (then the item keeps none of its values: errors are
// data, and one lying plugin cannot make a segment unstorable). labels are
// the plugin manifest's Labels.
func convertObjects(labels []string, in []*pluginv1.Object) ([]model.Object, string) {
	if len(in) == 0 {
		return nil, ""
	}
	if len(in) > maxObjects {
		return nil, fmt.Sprintf("malformed_result: %d objects (at most %d)", len(in), maxObjects)
	}
	out := make([]model.Object, len(in))
	for i, o := range in {
		if why := checkObject(labels, o); why != "" {
			return nil, fmt.Sprintf("malformed_result: object %d: %s", i, why)
		}
		m := model.Object{Label: o.GetLabel(), Score: float64(o.GetScore()), TrackID: o.GetTrackId(),
			X: float64(o.GetX()), Y: float64(o.GetY()), W: float64(o.GetW()), H: float64(o.GetH()),
			Attributes: o.GetAttributes(), Text: o.GetText()}
		for _, k := range o.GetKeypoints() {
			m.Keypoints = append(m.Keypoints, model.Keypoint{Name: k.GetName(), X: float64(k.GetX()), Y: float64(k.GetY()), Score: float64(k.GetScore())})
		}
		out[i] = m
	}
	return out, ""
}

func checkObject(labels []string, o *pluginv1.Object) string {
	switch {
	case o.GetLabel() == "":
		return "no label"
	case !slices.Contains(labels, o.GetLabel()):
		return fmt.Sprintf("label %q is not among the manifest's labels %q", o.GetLabel(), labels)
	}
	box := [4]float32{o.GetX(), o.GetY(), o.GetW(), o.GetH()}
	for i, v := range box {
		if !finite32(v) || v < 0 || v > 1 {
			return fmt.Sprintf("box %s = %v, want 0..1", "xywh"[i:i+1], v)
		}
	}
	if float64(box[0])+float64(box[2]) > 1+boxSlack || float64(box[1])+float64(box[3]) > 1+boxSlack {
		return fmt.Sprintf("box %v ends outside the frame", box)
	}
	if s := o.GetScore(); !finite32(s) || s < 0 || s > 1 {
		return fmt.Sprintf("score %v, want 0..1", s)
	}
	if o.GetTrackId() < 0 {
		return fmt.Sprintf("track_id %d is negative", o.GetTrackId())
	}
	if msg := checkFields(o.GetAttributes()); msg != "" {
		return "attributes: " + msg[len("malformed_result: "):]
	}
	if t := o.GetText(); len(t) > maxObjectText || !utf8.ValidString(t) {
		return fmt.Sprintf("text of %d bytes (at most %d, UTF-8)", len(t), maxObjectText)
	}
	for j, k := range o.GetKeypoints() {
		// Keypoints may lie outside the frame (an occluded wrist): finite is enough.
		if !finite32(k.GetX()) || !finite32(k.GetY()) || !finite32(k.GetScore()) || k.GetName() == "" {
			return fmt.Sprintf("keypoint %d (%q): name and finite x, y, score wanted", j, k.GetName())
		}
	}
	return ""
}

func finite32(v float32) bool {
	f := float64(v)
	return !math.IsNaN(f) && !math.IsInf(f, 0)
}
