package plugintest

import (
	"github.com/lsie-mlf/lsie/sdk"
	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
)

// manifestFromProto is the SDK's view of what a plugin described.
func manifestFromProto(m *pluginv1.Manifest) sdk.Manifest {
	out := sdk.Manifest{Name: m.GetName(), Version: m.GetVersion(), Description: m.GetDescription(),
		Inputs: m.GetInputs(), Outputs: m.GetOutputs(), Labels: m.GetLabels()}
	for _, f := range m.GetFields() {
		out.Fields = append(out.Fields, sdk.Field{Name: f.GetName(), Unit: f.GetUnit(), Description: f.GetDescription()})
	}
	if m.GetAttributeSchema() || len(m.GetAttributes()) > 0 {
		out.Attributes = []sdk.Attribute{}
	}
	for _, a := range m.GetAttributes() {
		out.Attributes = append(out.Attributes, sdk.Attribute{Name: a.GetName(), Type: sdk.AttrType(a.GetType()), Description: a.GetDescription(),
			Default: a.GetDefault(), Required: a.GetRequired(), Min: a.GetMin(), Max: a.GetMax(), Choices: a.GetChoices()})
	}
	if d := m.GetDeviceInput(); d != nil {
		in := &sdk.DeviceInput{Width: int(d.GetWidth()), Height: int(d.GetHeight())}
		copy(in.Mean[:], d.GetMean())
		copy(in.Std[:], d.GetStd())
		out.DeviceInput = in
	}
	return out
}

// objectsFromProto converts objects as the plugin sent them.
func objectsFromProto(in []*pluginv1.Object) []sdk.Object {
	if len(in) == 0 {
		return nil
	}
	out := make([]sdk.Object, len(in))
	for i, o := range in {
		obj := sdk.Object{Box: sdk.Box{X: float64(o.GetX()), Y: float64(o.GetY()), W: float64(o.GetW()), H: float64(o.GetH())},
			Label: o.GetLabel(), Score: float64(o.GetScore()), TrackID: o.GetTrackId(), Attributes: o.GetAttributes(), Text: o.GetText()}
		for _, k := range o.GetKeypoints() {
			obj.Keypoints = append(obj.Keypoints, sdk.Keypoint{Name: k.GetName(), X: float64(k.GetX()), Y: float64(k.GetY()), Score: float64(k.GetScore())})
		}
		out[i] = obj
	}
	return out
}
