package host

import (
	"encoding/base64"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/plugin"
	"github.com/lsie-mlf/lsie/sdk"
	"github.com/lsie-mlf/lsie/sdk/plugintest"
	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
	"google.golang.org/protobuf/proto"
)

// The harness and the host refuse the same results with the same message:
// testdata/echoplugin sends each case's values through the SDK to a
// plugintest harness, and the host's checks (those onResult, onAudioResult
// and onMessageResult apply, with the manifest plugin.Start read) judge
// the same values.
func TestHarnessAndHostAgreeOnMalformedResults(t *testing.T) {
	bin := plugintest.Build(t, "./testdata/echoplugin")
	h := plugintest.Start(t, bin)
	b, err := plugin.Load(bin)
	if err != nil {
		t.Fatal(err)
	}
	proc, err := plugin.Start(b, plugin.Options{StartTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Close()
	checks := proc.Results()

	face := func(edit func(o *pluginv1.Object)) []*pluginv1.Object {
		o := &pluginv1.Object{X: 0.25, Y: 0.5, W: 0.5, H: 0.5, Label: "face", Score: 0.75, TrackId: 1}
		if edit != nil {
			edit(o)
		}
		return []*pluginv1.Object{o}
	}
	many := map[string]float64{}
	for i := range 1025 {
		many[fmt.Sprintf("face%d.score", i)] = 0.5
	}
	if len(many) != 1025 {
		t.Fatalf("%d fields", len(many))
	}
	nan, inf := math.NaN(), math.Inf(-1)
	for _, tc := range []struct {
		name    string
		fields  map[string]float64
		objects []*pluginv1.Object
		payload string
		want    string // a prefix of the error both store; "" kept
	}{
		{name: "good", fields: map[string]float64{"count": 2, "face3.score": 0.5}, objects: face(nil)},
		{name: "NaN", fields: map[string]float64{"count": nan}, want: `malformed_result: field "count" is NaN`},
		{name: "-Inf and undeclared", fields: map[string]float64{"count": inf, "speed": 1},
			want: `malformed_result: field "count" is -Inf; field "speed" is not declared in the manifest`},
		{name: "placeholder without a number", fields: map[string]float64{"face.score": 1}, want: `malformed_result: field "face.score" is not declared`},
		{name: "empty name", fields: map[string]float64{"": 1}, want: `malformed_result: field name is empty`},
		{name: "too many fields", fields: many, want: `malformed_result: 1025 fields (at most 1024)`},
		{name: "undeclared label", objects: face(func(o *pluginv1.Object) { o.Label = "car" }), want: `malformed_result: object 0: label "car" is not among`},
		{name: "box outside", objects: face(func(o *pluginv1.Object) { o.X = 0.75 }), want: `malformed_result: object 0: box [0.75 0.5 0.5 0.5] ends outside the frame`},
		{name: "pixel box", objects: face(func(o *pluginv1.Object) { o.W = 64 }), want: `malformed_result: object 0: box w = 64`},
		{name: "NaN score", objects: face(func(o *pluginv1.Object) { o.Score = float32(nan) }), want: `malformed_result: object 0: score NaN`},
		{name: "object attribute", objects: face(func(o *pluginv1.Object) { o.Attributes = map[string]float64{"yaw": nan} }),
			want: `malformed_result: object 0: attribute "yaw" is NaN`},
		{name: "answer payload", fields: map[string]float64{"count": 1}, payload: "{nope", want: `bad_result: answer payload is not valid JSON`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := &pluginv1.Result{Fields: tc.fields, Objects: tc.objects, Payload: []byte(tc.payload),
				Items: []*pluginv1.Item{{Fields: tc.fields, Objects: tc.objects}}}
			enc, err := proto.Marshal(res)
			if err != nil {
				t.Fatal(err)
			}
			s := h.Open("s", map[string]string{"result": base64.StdEncoding.EncodeToString(enc)})
			defer s.Close()
			harnessErr := func(code, msg string) string {
				if code == "" {
					return ""
				}
				return code + ": " + msg
			}
			var got []string
			compare := func(what, harness, host string) {
				if harness != host {
					t.Errorf("%s: the harness says %q, the host %q", what, harness, host)
				}
				got = append(got, host)
			}
			if tc.payload == "" {
				r := s.Frame(plugintest.SolidFrame(8, 8, 1, 2, 3))
				_, _, hostErr := frameOutcome(checks, res)
				compare("frame", harnessErr(r.ErrCode, r.ErrMsg), hostErr)
				if hostErr == "" && (len(r.Fields) != len(tc.fields) || len(r.Objects) != len(tc.objects)) {
					t.Errorf("frame: kept %v %v, sent %v %v", r.Fields, r.Objects, tc.fields, tc.objects)
				}
				a := s.Audio(make([]int16, 160), 0)
				if len(a.Items) != 1 {
					t.Fatalf("audio: %+v", a)
				}
				_, _, hostErr = itemOutcome(checks, res.Items[0])
				compare("audio item", harnessErr(a.Items[0].ErrCode, a.Items[0].ErrMsg), hostErr)
			}
			if tc.objects == nil { // an answer carries no objects
				m := s.Message(sdk.Message{Topic: "source.event@1", Producer: "source", PTS: time.Second})
				compare("answer", harnessErr(m.ErrCode, m.ErrMsg), answerError(checks, res))
			}
			for _, e := range got {
				if tc.want == "" && e != "" || !strings.HasPrefix(e, tc.want) {
					t.Errorf("stored error %q, want %q", e, tc.want)
				}
			}
		})
	}
}
