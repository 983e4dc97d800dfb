package host

import (
	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
)

// convertObjects turns a result's objects, checked already by the SDK's
// rules (validate.Results: a declared label, a box in the frame, a score in
// 0..1, finite numbers), into the host's.
func convertObjects(in []*pluginv1.Object) []model.Object {
	if len(in) == 0 {
		return nil
	}
	out := make([]model.Object, len(in))
	for i, o := range in {
		m := model.Object{Label: o.GetLabel(), Score: float64(o.GetScore()), TrackID: o.GetTrackId(),
			X: float64(o.GetX()), Y: float64(o.GetY()), W: float64(o.GetW()), H: float64(o.GetH()),
			Attributes: o.GetAttributes(), Text: o.GetText()}
		for _, k := range o.GetKeypoints() {
			m.Keypoints = append(m.Keypoints, model.Keypoint{Name: k.GetName(), X: float64(k.GetX()), Y: float64(k.GetY()), Score: float64(k.GetScore())})
		}
		out[i] = m
	}
	return out
}
