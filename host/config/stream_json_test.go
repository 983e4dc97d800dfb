package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/lsie-mlf/lsie/host/source"
)

// boundsJSON sets every field at a bound, and plugin attributes of every
// scalar type.
const boundsJSON = `{"id":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","source":"test://ball",` +
	`"realtime":false,"loop":true,"video":{"fps":60,"max_width":16},` +
	`"plugins":[{"name":"a","window":64,"attributes":{"n":12,"f":0.5,"big":1000000,"neg":-3,"b":true,"s":"x","e":1e-5}},` +
	`{"window":1,"name":"b","attributes":{}}]}`

func TestParseStreamValid(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "clip.mp4"), []byte("not really a video"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		json   string
		policy *source.Policy
		want   func() Stream
	}{
		{
			name: "every field",
			json: `{"id":"cam2","source":"test://ball","realtime":true,"loop":false,"video":{"fps":5,"max_width":640,"memory":"cuda","gpu":3},` +
				`"plugins":[{"name":"visual","window":2,"attributes":{"threshold":"0.5"}}]}`,
			want: func() Stream {
				return Stream{
					ID: "cam2", Source: mustSpec(t, "test://ball"), Realtime: true, Loop: false,
					Video: Video{FPS: 5, MaxWidth: 640, Memory: MemoryCUDA, GPU: 3},
					Plugins: []PluginRef{{Name: "visual", Window: 2, EventBound: 256, Attributes: map[string]string{"threshold": "0.5"},
						Pos: Pos{Line: 1, Column: 135}}},
					Pos: Pos{Line: 1, Column: 1},
				}
			},
		},
		{
			name: "defaults as in HCL",
			json: "\n  {\"source\": \"test://snow\", \"id\": \"s\"}\n",
			want: func() Stream {
				s := defaultStream("s", Pos{Line: 1, Column: 4})
				s.Source = mustSpec(t, "test://snow")
				return s
			},
		},
		{
			name: "attributes rendered as HCL renders them, bounds inclusive",
			json: boundsJSON,
			want: func() Stream {
				return Stream{
					ID: strings.Repeat("x", 64), Source: mustSpec(t, "test://ball"), Realtime: false, Loop: true,
					Video: Video{FPS: 60, MaxWidth: 16, Memory: MemoryHost},
					Plugins: []PluginRef{
						{Name: "a", Window: 64, EventBound: 256, Attributes: map[string]string{
							"n": "12", "f": "0.5", "big": "1e+06", "neg": "-3", "b": "true", "s": "x", "e": "1e-05"},
							Pos: Pos{Line: 1, Column: strings.Index(boundsJSON, `{"name":"a"`) + 1}},
						{Name: "b", Window: 1, EventBound: 256, Attributes: map[string]string{}, Pos: Pos{Line: 1, Column: strings.Index(boundsJSON, `{"window":1`) + 1}},
					},
					Pos: Pos{Line: 1, Column: 1},
				}
			},
		},
		{
			name:   "relative file source against baseDir, allowed by the policy",
			json:   `{"id":"f","source":"file:clip.mp4"}`,
			policy: mustPolicy(t, "file:"+dir),
			want: func() Stream {
				s := defaultStream("f", Pos{Line: 1, Column: 1})
				s.Source = source.Spec{URI: "file:clip.mp4", Kind: source.KindFile, Path: filepath.Join(dir, "clip.mp4")}
				return s
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseStream([]byte(tc.json), dir, tc.policy)
			if err != nil {
				t.Fatalf("ParseStream: %v", err)
			}
			// The stream keeps the JSON it came as, to be restored from.
			if string(got.Spec) != tc.json || !got.FromAPI() {
				t.Errorf("Spec = %q, want the input %q", got.Spec, tc.json)
			}
			got.Spec = nil
			if want := tc.want(); !reflect.DeepEqual(got, want) {
				t.Errorf("ParseStream:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestParseStreamInvalid(t *testing.T) {
	policy := mustPolicy(t, "test", "rtsp://*.cams.example")
	tests := []struct {
		name    string
		json    string
		want    string
		refused bool // errors.Is(err, source.ErrNotAllowed)
	}{
		{"empty", ``, `1:1: empty input: want a JSON object with the stream's fields`, false},
		{"white space", " \n", `1:3: empty input: want a JSON object with the stream's fields`, false},
		{"null", `null`, `1:1: must be a JSON object with the stream's fields, got null`, false},
		{"array", ` [{}]`, `1:2: must be a JSON object with the stream's fields, got array`, false},
		{"string", `"cam"`, `1:1: must be a JSON object with the stream's fields, got string "cam"`, false},
		{"truncated", `{"id":"x","source":"test://ball"`, `1:33: invalid JSON: unexpected end of JSON input`, false},
		{"trailing comma", `{"id":"x",}`, `1:11: invalid JSON: invalid character '}' looking for beginning of object key string`, false},
		{"trailing data", `{"id":"x","source":"test://ball"} {}`, `1:35: invalid JSON: invalid character '{' after top-level value`, false},
		{"missing id and source", `{}`, `1:1: missing required field "id"` + "\n" + `1:1: missing required field "source"`, false},
		{"unknown field", `{"id":"cam2","source":"test://ball","plugins":[{"name":"visual","windw":2}]}`,
			`1:65: plugins[0].windw: unknown field`, false},
		{"unknown fields with odd names", `{"id":"x","source":"test://ball","":1,"a.b":2,"video":{"FPS":5}}`,
			`1:34: [""]: unknown field` + "\n" + `1:39: ["a.b"]: unknown field` + "\n" + `1:56: video.FPS: unknown field`, false},
		{"duplicate field", `{"id":"x","id":"y","source":"test://ball"}`,
			`1:11: id: duplicate field (first defined at offset 1)`, false},
		{"id of the wrong type", `{"id":7,"source":"test://ball"}`, `1:7: id: must be a string, got number 7`, false},
		{"bad id", `{"id":"cam 1","source":"test://ball"}`, `1:7: id must be 1..64 characters of A-Z a-z 0-9 _ -`, false},
		{"bad source", `{"id":"x","source":"test://nope?x=1"}`,
			`1:20: source: test source "test://nope?x=1": unknown pattern "nope" (one of ` + strings.Join(source.TestPatterns, ", ") + ")", false},
		{"refused source", `{"id":"x","source":"rtsp://cams.example/a"}`,
			`1:20: source: source not allowed: rtsp source "rtsp://cams.example/a" (allowed: test, rtsp://*.cams.example)`, true},
		{"refused file is not opened", `{"id":"x","source":"file:///nonexistent/x.mp4"}`,
			`1:20: source: source not allowed: file source "file:///nonexistent/x.mp4" (allowed: test, rtsp://*.cams.example)`, true},
		{"refused source and a bad fps", `{"id":"x","source":"file:///etc/passwd","video":{"fps":0}}`,
			`1:20: source: source not allowed: file source "file:///etc/passwd" (allowed: test, rtsp://*.cams.example)` + "\n" +
				`1:56: video.fps: must be 1..60, got 0`, true},
		{"types as in HCL", `{"id":"x","source":"test://ball","realtime":"yes","loop":null,"video":{"fps":2.5,"max_width":"640"}}`,
			`1:45: realtime: must be true or false, got string "yes"` + "\n" +
				`1:58: loop: must be true or false, got null` + "\n" +
				`1:78: video.fps: must be a whole number, got number 2.5` + "\n" +
				`1:94: video.max_width: must be a whole number, got string "640"`, false},
		{"numbers out of range", `{"id":"x","source":"test://ball","video":{"fps":1e100,"max_width":1e100000000}}`,
			`1:49: video.fps: out of range, got number 1e+100` + "\n" + `1:67: video.max_width: out of range, got number >1.8e+308`, false},
		{"ranges as in HCL", `{"id":"x","source":"test://ball","video":{"fps":61,"max_width":15},"plugins":[{"name":"p","window":0}]}`,
			`1:49: video.fps: must be 1..60, got 61` + "\n" + `1:64: video.max_width: must be 16..7680, got 15` + "\n" +
				`1:100: plugins[0].window: must be 1..64, got 0`, false},
		{"structure of the wrong type", `{"id":"x","source":"test://ball","video":[],"plugins":{}}`,
			`1:42: video: must be an object, got array` + "\n" + `1:55: plugins: must be an array of plugin objects, got object`, false},
		{"plugins", `{"id":"x","source":"test://ball","plugins":[1,{},{"name":"v.1"},{"name":"a"},{"name":"a","attributes":[]}]}`,
			`1:45: plugins[0]: must be a plugin object, got number 1` + "\n" +
				`1:47: plugins[1]: missing required field "name"` + "\n" +
				`1:58: plugins[2]: name must be 1..64 characters of A-Z a-z 0-9 _ -` + "\n" +
				`1:78: plugins[4]: duplicate plugin in this stream (first defined at offset 64)` + "\n" +
				`1:103: plugins[4].attributes: must be an object of plugin-specific values, got array`, false},
		{"attributes", `{"id":"x","source":"test://ball","plugins":[{"name":"p","attributes":{"a b":1,"window":2,"o":{},"n":null}}]}`,
			`1:71: plugins[0].attributes["a b"]: name must be 1..64 characters of A-Z a-z 0-9 _ -` + "\n" +
				`1:79: plugins[0].attributes.window: window is a field of the plugin, not an attribute` + "\n" +
				`1:101: plugins[0].attributes.n: must be a string, number, bool, list or object, got null`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseStream([]byte(tc.json), t.TempDir(), policy)
			if err == nil {
				t.Fatalf("ParseStream succeeded: %+v\nwant %s", s, tc.want)
			}
			if !reflect.DeepEqual(s, Stream{}) {
				t.Errorf("ParseStream returned a stream with an error: %+v", s)
			}
			var ds Diagnostics
			if !errors.As(err, &ds) {
				t.Fatalf("error is %T, want Diagnostics", err)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("error:\n got %s\nwant %s", got, tc.want)
			}
			if got := errors.Is(err, source.ErrNotAllowed); got != tc.refused {
				t.Errorf("errors.Is(err, source.ErrNotAllowed) = %v, want %v", got, tc.refused)
			}
		})
	}
}

// TestParseStreamPolicyNil checks that a nil policy allows every source.
func TestParseStreamPolicyNil(t *testing.T) {
	s, err := ParseStream([]byte(`{"id":"x","source":"file:///dev/null"}`), "", nil)
	if err != nil || s.Source.Path != "/dev/null" {
		t.Fatalf("ParseStream = %+v, %v", s, err)
	}
}

// TestGoldenStreamDiagnostics parses every testdata/bad-stream/*.json and
// compares its diagnostics with the matching .golden file; -update
// rewrites them.
func TestGoldenStreamDiagnostics(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "bad-stream", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/bad-stream/*.json files")
	}
	policy := mustPolicy(t, "test", "file:/media/", "rtsp://*.cams.example")
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			s, err := ParseStream(data, "testdata", policy)
			if err == nil {
				t.Fatalf("ParseStream(%s) succeeded: %+v", file, s)
			}
			checkGoldenText(t, strings.TrimSuffix(file, ".json")+".golden", err.Error()+"\n")
		})
	}
}

// checkGoldenText compares got with the golden file, or rewrites it with
// -update.
func checkGoldenText(t *testing.T, golden, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("differs from %s:\n--- got\n%s--- want\n%s", golden, got, want)
	}
}

func TestDiagnosticsUnwrap(t *testing.T) {
	_, err := Parse([]byte("sources { allow = [\"test\"] }\nstream \"a\" { source = \"rtsp://x.example/\" }\n"+
		"stream \"b\" {\n  source = \"test://ball\"\n  video { fps = 0 }\n}"), "t.hcl")
	if !errors.Is(err, source.ErrNotAllowed) {
		t.Errorf("errors.Is(%v, ErrNotAllowed) = false", err)
	}
	var ds Diagnostics
	if !errors.As(err, &ds) || len(ds) != 2 {
		t.Fatalf("diagnostics %v", err)
	}
	if !errors.Is(ds[0].Unwrap(), source.ErrNotAllowed) || ds[1].Unwrap() != nil {
		t.Errorf("per-diagnostic Unwrap: %#v", ds)
	}
	_, err = Parse([]byte(`stream "b" { source = "test://nope" }`), "t.hcl")
	if errors.Is(err, source.ErrNotAllowed) {
		t.Errorf("a bad source is not a refused one: %v", err)
	}
}
