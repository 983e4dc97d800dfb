// Command echoplugin answers every input with the result its stream's
// "result" attribute gives (a pluginv1.Result, marshalled, base64): the
// test that the harness and the host refuse the same malformed results
// (host/validate_test.go) makes it send exactly those values through the
// SDK.
package main

import (
	"encoding/base64"

	"github.com/lsie-mlf/lsie/sdk"
	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
	"google.golang.org/protobuf/proto"
)

func main() { sdk.Serve(plugin{}) }

type plugin struct{}

func (plugin) Manifest() sdk.Manifest {
	return sdk.Manifest{
		Name:    "echoplugin",
		Version: "0.1.0",
		Inputs:  []string{sdk.TopicVideoRGB24, sdk.TopicAudioPCM16k, "source.event@1"},
		Outputs: []string{"echoplugin.frame@1"},
		Fields:  []sdk.Field{{Name: "count", Unit: "count"}, {Name: "faceN.score", Unit: "0..1"}},
		Labels:  []string{"face"},
	}
}

func (plugin) OpenStream(info sdk.StreamInfo) (sdk.Stream, error) {
	b, err := base64.StdEncoding.DecodeString(info.Attributes["result"])
	if err != nil {
		return nil, sdk.Errorf("bad_input", "result: %v", err)
	}
	var r pluginv1.Result
	if err := proto.Unmarshal(b, &r); err != nil {
		return nil, sdk.Errorf("bad_input", "result: %v", err)
	}
	return stream{r: &r}, nil
}

type stream struct{ r *pluginv1.Result }

func (s stream) ProcessFrameObjects(*sdk.Frame) (sdk.Fields, []sdk.Object, error) {
	return s.r.GetFields(), objects(s.r.GetObjects()), nil
}

func (s stream) ProcessAudio(a *sdk.Audio) ([]sdk.Item, error) {
	var items []sdk.Item
	for _, it := range s.r.GetItems() {
		items = append(items, sdk.Item{PTS: a.PTS, Fields: it.GetFields(), Objects: objects(it.GetObjects())})
	}
	return items, nil
}

func (s stream) ProcessMessage(*sdk.Message) (sdk.Answer, error) {
	return sdk.Answer{Fields: s.r.GetFields(), Text: s.r.GetText(), Payload: s.r.GetPayload()}, nil
}

func (stream) Close() error { return nil }

func objects(in []*pluginv1.Object) []sdk.Object {
	var out []sdk.Object
	for _, o := range in {
		obj := sdk.Object{Box: sdk.Box{X: float64(o.GetX()), Y: float64(o.GetY()), W: float64(o.GetW()), H: float64(o.GetH())},
			Label: o.GetLabel(), Score: float64(o.GetScore()), TrackID: o.GetTrackId(), Attributes: o.GetAttributes(), Text: o.GetText()}
		for _, k := range o.GetKeypoints() {
			obj.Keypoints = append(obj.Keypoints, sdk.Keypoint{Name: k.GetName(), X: float64(k.GetX()), Y: float64(k.GetY()), Score: float64(k.GetScore())})
		}
		out = append(out, obj)
	}
	return out
}
