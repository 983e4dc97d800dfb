package host

import (
	"math"
	"strings"
	"testing"

	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
	"github.com/lsie-mlf/lsie/sdk/validate"
)

// Objects reach the store through the SDK's result rules (validate.Results)
// and are converted as they were sent.
func TestConvertObjects(t *testing.T) {
	checks := validate.NewResults(&pluginv1.Manifest{Labels: []string{"person", "car"}})
	good := func() *pluginv1.Object {
		return &pluginv1.Object{X: 0.5, Y: 0.25, W: 0.5, H: 0.75, Label: "person", Score: 0.9, TrackId: 4,
			Attributes: map[string]float64{"speed": 1}, Text: "ok",
			Keypoints: []*pluginv1.Keypoint{{Name: "nose", X: -0.1, Y: 1.2, Score: 0.3}}}
	}
	nan := float32(math.NaN())
	cases := []struct {
		name string
		edit func(o *pluginv1.Object)
		want string // "" accepted, else a substring of the message
	}{
		{"good", func(*pluginv1.Object) {}, ""},
		{"undeclared label", func(o *pluginv1.Object) { o.Label = "dog" }, `label "dog" is not among`},
		{"no label", func(o *pluginv1.Object) { o.Label = "" }, "no label"},
		{"nan x", func(o *pluginv1.Object) { o.X = nan }, "box x"},
		{"negative w", func(o *pluginv1.Object) { o.W = -0.1 }, "box w"},
		{"pixel box", func(o *pluginv1.Object) { o.X, o.W = 320, 40 }, "box x"},
		{"past the edge", func(o *pluginv1.Object) { o.X, o.W = 0.6, 0.5 }, "ends outside the frame"},
		{"score above 1", func(o *pluginv1.Object) { o.Score = 1.5 }, "score"},
		{"negative track", func(o *pluginv1.Object) { o.TrackId = -1 }, "track_id"},
		{"inf attribute", func(o *pluginv1.Object) { o.Attributes["speed"] = math.Inf(1) }, `attribute "speed" is +Inf`},
		{"bad utf-8", func(o *pluginv1.Object) { o.Text = "\xff" }, "UTF-8"},
		{"nan keypoint", func(o *pluginv1.Object) { o.Keypoints[0].Y = nan }, "keypoint 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := good()
			tc.edit(o)
			_, got, msg := frameOutcome(checks, &pluginv1.Result{Objects: []*pluginv1.Object{good(), o}})
			if tc.want == "" {
				if msg != "" || len(got) != 2 || got[1].Label != "person" || got[1].TrackID != 4 || got[1].Keypoints[0].X != float64(float32(-0.1)) {
					t.Fatalf("refused or mangled: %q %+v", msg, got)
				}
				return
			}
			if !strings.HasPrefix(msg, "malformed_result: object 1: ") || !strings.Contains(msg, tc.want) || got != nil {
				t.Fatalf("message %q, want object 1 and %q", msg, tc.want)
			}
		})
	}
	if _, _, msg := frameOutcome(checks, &pluginv1.Result{Objects: make([]*pluginv1.Object, validate.MaxObjects+1)}); !strings.Contains(msg, "objects (at most") {
		t.Errorf("too many objects: %q", msg)
	}
}
