package validate

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
)

func TestVersion(t *testing.T) {
	for _, v := range []string{"0.0.0", "1.2.3", "10.20.30", "1.3.0-rc.1", "1.0.0+linux.amd64", "1.0.0-0.3.7", "1.0.0-x-y.1+b-2"} {
		if err := Version(v); err != nil {
			t.Errorf("Version(%q): %v", v, err)
		}
	}
	for _, tc := range []struct{ v, want string }{
		{"", "empty version: want MAJOR.MINOR.PATCH like 1.2.3"},
		{"v1.0", `version "v1.0": drop the leading v (want MAJOR.MINOR.PATCH like 1.2.3)`},
		{"1", `version "1": want all three numbers, MAJOR.MINOR.PATCH like 1.2.3`},
		{"1.2", `version "1.2": want all three numbers`},
		{"1.2.3.4", `version "1.2.3.4": want all three numbers`},
		{"latest", `version "latest": number 1 "latest" is not a number`},
		{"1.2.x", `version "1.2.x": wildcards are not versions`},
		{"01.2.3", `version "01.2.3": number 01 has a leading zero`},
		{"1.2.3-", `version "1.2.3-": pre-release: want an identifier`},
		{"1.2.3-01", `version "1.2.3-01": pre-release: numeric identifier 01 has a leading zero`},
		{"1.2.3+", `version "1.2.3+": build metadata: want an identifier`},
		{"1.2.3 ", `version "1.2.3 ": number 3 "3 " is not a number`},
		{"1.2.3,", `version "1.2.3,": number 3 "3," is not a number`},
		{"1.2.3-rc_1", `version "1.2.3-rc_1": pre-release: character '_' in "rc_1"`},
		{"99999999999999999999.0.0", `number 99999999999999999999 is too large`},
	} {
		err := Version(tc.v)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Version(%q) = %v, want %q", tc.v, err, tc.want)
		}
	}
}

func manifest(edit func(m *pluginv1.Manifest)) *pluginv1.Manifest {
	m := &pluginv1.Manifest{Name: "detect", Version: "1.2.0", ProtocolVersion: pluginv1.ProtocolVersion,
		Inputs: []string{"video.rgb24", "transcript.final@1"}, Outputs: []string{"detect.frame@1"},
		Fields: []*pluginv1.FieldSpec{{Name: "count", Type: "float64"}, {Name: "faceN.score"}, {Name: "intent_NAME"}, {Name: "F0"}}, Labels: []string{"face", "person"}}
	if edit != nil {
		edit(m)
	}
	return m
}

func TestManifest(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    *pluginv1.Manifest
		file File
		want string // "" accepted
	}{
		{name: "good", m: manifest(nil), file: File{Name: "detect"}},
		{name: "good, version from the file", m: manifest(nil), file: File{Name: "detect", Version: "1.2.0", VersionFrom: "its file name"}},
		{name: "no file name known", m: manifest(func(m *pluginv1.Manifest) { m.Name = "other" })},
		{name: "protocol", m: manifest(func(m *pluginv1.Manifest) { m.ProtocolVersion = 2; m.Version = "v1" }),
			want: "speaks protocol 2; this host speaks protocol 1"},
		{name: "file name", m: manifest(func(m *pluginv1.Manifest) { m.Name = "faulty" }), file: File{Name: "edgy"},
			want: `its manifest names plugin "faulty" but its file name says "edgy"`},
		{name: "bad name", m: manifest(func(m *pluginv1.Manifest) { m.Name = "de tect" }), file: File{Name: "detect"},
			want: `manifest name "de tect": character ' ' at 3: want 1..64 characters of [A-Za-z0-9_-]`},
		{name: "empty name", m: manifest(func(m *pluginv1.Manifest) { m.Name = "" }),
			want: `manifest name "": want 1..64 characters of [A-Za-z0-9_-]`},
		{name: "v version", m: manifest(func(m *pluginv1.Manifest) { m.Version = "v1.0" }),
			want: `manifest version "v1.0": drop the leading v (want MAJOR.MINOR.PATCH like 1.2.3)`},
		{name: "version mismatch", m: manifest(nil), file: File{Name: "detect", Version: "1.3.0", VersionFrom: "its file name"},
			want: `its manifest says version "1.2.0" but its file name says "1.3.0"`},
		{name: "upper-case input", m: manifest(func(m *pluginv1.Manifest) { m.Inputs = []string{"Transcript.final@1"} }),
			want: `manifest input: topic "Transcript.final@1": name part 1 "Transcript": character 'T' at 1: use [a-z][a-z0-9_]*`},
		{name: "unversioned output", m: manifest(func(m *pluginv1.Manifest) { m.Outputs = []string{"detect.frame"} }),
			want: `manifest output: topic "detect.frame": a plugin topic needs a major version, e.g. "detect.frame@1"`},
		{name: "host output", m: manifest(func(m *pluginv1.Manifest) { m.Outputs = []string{"video.rgb24"} }),
			want: `manifest output "video.rgb24" is a host topic`},
		{name: "field twice", m: manifest(func(m *pluginv1.Manifest) { m.Fields = append(m.Fields, &pluginv1.FieldSpec{Name: "count"}) }),
			want: `manifest field "count" is declared twice`},
		{name: "field type", m: manifest(func(m *pluginv1.Manifest) { m.Fields[0].Type = "int" }),
			want: `manifest field "count": type "int"; fields are float64`},
		{name: "empty label", m: manifest(func(m *pluginv1.Manifest) { m.Labels = []string{""} }),
			want: `manifest label "": want 1..128 bytes`},
		{name: "several", m: manifest(func(m *pluginv1.Manifest) { m.Version = "1.0"; m.Name = "faulty" }), file: File{Name: "edgy", Version: "1.0.0", VersionFrom: "plugins.lock"},
			want: `its manifest names plugin "faulty" but its file name says "edgy"; manifest version "1.0": want all three numbers, MAJOR.MINOR.PATCH like 1.2.3; its manifest says version "1.0" but plugins.lock says "1.0.0"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Manifest(tc.m, tc.file)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
		})
	}
	// Typed problems stay reachable inside a list.
	err := Manifest(manifest(func(m *pluginv1.Manifest) { m.Version = "1.0" }), File{Version: "1.0.0", VersionFrom: "its file name"})
	var vm *VersionMismatchError
	if !errors.As(err, &vm) || vm.Manifest != "1.0" {
		t.Errorf("errors.As(%v) found no VersionMismatchError", err)
	}
}

func TestResults(t *testing.T) {
	r := NewResults(manifest(nil))
	nan, inf := math.NaN(), math.Inf(1)
	obj := func(edit func(o *pluginv1.Object)) []*pluginv1.Object {
		o := &pluginv1.Object{X: 0.25, Y: 0.25, W: 0.5, H: 0.75, Label: "face", Score: 0.9, TrackId: 3,
			Attributes: map[string]float64{"yaw": -12}, Keypoints: []*pluginv1.Keypoint{{Name: "eye", X: 0.3, Y: 0.4, Score: 1}}}
		if edit != nil {
			edit(o)
		}
		return []*pluginv1.Object{o}
	}
	many := map[string]float64{}
	for i := range MaxFields + 1 {
		many["count"+strings.Repeat("x", i%100)+string(rune('a'+i/100))] = 1
	}
	for _, tc := range []struct {
		name string
		res  *pluginv1.Result
		want string
	}{
		{"good", &pluginv1.Result{Fields: map[string]float64{"count": 2, "face0.score": 0.5, "face12.score": 1, "intent_Greeting_2": 1, "F0": 1}, Objects: obj(nil)}, ""},
		{"placeholders", &pluginv1.Result{Fields: map[string]float64{"facex.score": 1, "face1.score.x": 1, "intent_a.b": 1, "intent_": 1}},
			`malformed_result: field "face1.score.x" is not declared in the manifest; field "facex.score" is not declared in the manifest; field "intent_" is not declared in the manifest; field "intent_a.b" is not declared in the manifest`},
		{"box on the edges", &pluginv1.Result{Objects: obj(func(o *pluginv1.Object) { o.X, o.Y, o.W, o.H = 0.7, 0.9, 0.3, 0.1 })}, ""},
		{"empty box (an audio span)", &pluginv1.Result{Objects: obj(func(o *pluginv1.Object) { o.X, o.Y, o.W, o.H = 0, 0, 0, 0 })}, ""},
		{"NaN", &pluginv1.Result{Fields: map[string]float64{"count": nan}}, `malformed_result: field "count" is NaN`},
		{"Inf and undeclared", &pluginv1.Result{Fields: map[string]float64{"count": inf, "bogus": 1}},
			`malformed_result: field "bogus" is not declared in the manifest; field "count" is +Inf`},
		{"placeholder needs digits", &pluginv1.Result{Fields: map[string]float64{"face.score": 1}}, `malformed_result: field "face.score" is not declared in the manifest`},
		{"empty name", &pluginv1.Result{Fields: map[string]float64{"": 1}}, `malformed_result: field name is empty`},
		{"long name", &pluginv1.Result{Fields: map[string]float64{strings.Repeat("n", 129): 1}}, `malformed_result: field name "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn…" is longer than 128 bytes`},
		{"too many", &pluginv1.Result{Fields: many}, `malformed_result: 1025 fields (at most 1024)`},
		{"box outside", &pluginv1.Result{Objects: obj(func(o *pluginv1.Object) { o.X = 0.8 })}, `malformed_result: object 0: box [0.800000011920929 0.25 0.5 0.75] ends outside the frame`},
		{"pixel box", &pluginv1.Result{Objects: obj(func(o *pluginv1.Object) { o.X, o.W = 320, 40 })},
			`malformed_result: object 0: box x = 320, want 0..1 (normalised to the frame); object 0: box w = 40, want 0..1`},
		{"box negative", &pluginv1.Result{Objects: obj(func(o *pluginv1.Object) { o.Y = -0.1 })}, `malformed_result: object 0: box y = -0.10000000149011612, want 0..1`},
		{"box NaN", &pluginv1.Result{Objects: obj(func(o *pluginv1.Object) { o.W = float32(nan) })}, `malformed_result: object 0: box w = NaN, want 0..1`},
		{"label", &pluginv1.Result{Objects: obj(func(o *pluginv1.Object) { o.Label = "cat" })}, `malformed_result: object 0: label "cat" is not among the manifest's labels ["face" "person"]`},
		{"no label", &pluginv1.Result{Objects: obj(func(o *pluginv1.Object) { o.Label = "" })}, `malformed_result: object 0: no label`},
		{"score", &pluginv1.Result{Objects: obj(func(o *pluginv1.Object) { o.Score = 1.5 })}, `malformed_result: object 0: score 1.5, want 0..1`},
		{"track", &pluginv1.Result{Objects: obj(func(o *pluginv1.Object) { o.TrackId = -1 })}, `malformed_result: object 0: track_id -1 is negative`},
		{"attribute", &pluginv1.Result{Objects: obj(func(o *pluginv1.Object) { o.Attributes["roll"] = inf })}, `malformed_result: object 0: attribute "roll" is +Inf`},
		{"text", &pluginv1.Result{Objects: obj(func(o *pluginv1.Object) { o.Text = "\xff" })}, `malformed_result: object 0: text of 1 bytes (at most 4096, UTF-8)`},
		{"keypoint outside the frame", &pluginv1.Result{Objects: obj(func(o *pluginv1.Object) { o.Keypoints[0].X = -0.1 })}, ""},
		{"keypoint NaN", &pluginv1.Result{Objects: obj(func(o *pluginv1.Object) { o.Keypoints[0].Y = float32(nan) })}, `malformed_result: object 0: keypoint 0 ("eye"): want a name`},
		{"keypoint without a name", &pluginv1.Result{Objects: obj(func(o *pluginv1.Object) { o.Keypoints[0].Name = "" })}, `malformed_result: object 0: keypoint 0 (""): want a name`},
		{"too many objects", &pluginv1.Result{Objects: make([]*pluginv1.Object, MaxObjects+1)}, `malformed_result: 1025 objects (at most 1024)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := r.Frame(tc.res)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
			if err := r.Item(&pluginv1.Item{Fields: tc.res.Fields, Objects: tc.res.Objects}); (err == nil) != (tc.want == "") {
				t.Errorf("Item disagrees with Frame: %v", err)
			}
		})
	}

	if err := NewResults(manifest(func(m *pluginv1.Manifest) { m.Labels = nil })).Frame(&pluginv1.Result{Objects: obj(nil)}); err == nil ||
		!strings.Contains(err.Error(), `label "face" is not among the manifest's labels []`) {
		t.Errorf("object of a manifest without labels: %v", err)
	}
	// A manifest that declares no fields does not have its names checked.
	if err := NewResults(manifest(func(m *pluginv1.Manifest) { m.Fields = nil })).Frame(&pluginv1.Result{Fields: map[string]float64{"any": 1}}); err != nil {
		t.Errorf("undeclared manifest: %v", err)
	}
	if err := r.Answer(&pluginv1.Result{Fields: map[string]float64{"count": 1}, Payload: []byte("{")}); err == nil || err.Error() != "bad_result: answer payload is not valid JSON" {
		t.Errorf("answer payload: %v", err)
	}
	for _, tc := range []struct {
		m    *pluginv1.Message
		want string
	}{
		{&pluginv1.Message{Topic: "detect.frame@1", Fields: map[string]float64{"undeclared": 1}, Payload: []byte(`{"a":1}`)}, ""},
		{&pluginv1.Message{Topic: "other@1"}, `published message: topic "other@1" is not one of the manifest's outputs ["detect.frame@1"]`},
		{&pluginv1.Message{Topic: "video.rgb24"}, `published message: topic "video.rgb24" is not one of the manifest's outputs`},
		{&pluginv1.Message{Topic: "Detect@1"}, `published message: topic "Detect@1": name part 1`},
		{&pluginv1.Message{Topic: "detect.frame@1", Payload: []byte("nope"), Fields: map[string]float64{"x": nan}},
			`published message: payload is not valid JSON; field "x" is NaN`},
	} {
		err := r.Message(tc.m)
		if (tc.want == "") != (err == nil) || err != nil && !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Message(%v) = %v, want %q", tc.m, err, tc.want)
		}
	}
}
