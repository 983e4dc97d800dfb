package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/source"
)

func mustSpec(t *testing.T, uri string) source.Spec {
	t.Helper()
	s, err := source.Parse(uri)
	if err != nil {
		t.Fatalf("source.Parse(%q): %v", uri, err)
	}
	return s
}

func mustPolicy(t *testing.T, entries ...string) *source.Policy {
	t.Helper()
	p, err := source.ParsePolicy(entries)
	if err != nil {
		t.Fatalf("source.ParsePolicy(%q): %v", entries, err)
	}
	return p
}

func TestParseValid(t *testing.T) {
	clip := filepath.Join(t.TempDir(), "clip.mp4")
	if err := os.WriteFile(clip, []byte("not really a video"), 0o600); err != nil {
		t.Fatal(err)
	}
	clipURI := "file://" + clip

	tests := []struct {
		name string
		src  string
		want func() *Config
	}{
		{
			name: "empty file gives the defaults",
			src:  "",
			want: Default,
		},
		{
			name: "comments only",
			src:  "# nothing here\n// nor here\n",
			want: Default,
		},
		{
			name: "every field set",
			src: `
segment {
  duration        = "30s"
  max_close_delay = "250ms"
}
store { sqlite = "/data/lsie.db" }
api   {
  listen        = ":9090"
  token         = "s3cret-Token_1"
  allowed_hosts = ["lsie.example.com", "10.0.0.5:9090", "[fd00::1]"]
}
sources { allow = ["file:/", "test"] }
stream "cam_1-a" {
  source   = "` + clipURI + `"
  realtime = false
  loop     = true
  video {
    fps       = 60
    max_width = 16
  }
  plugin "visual" {
    window = 64
  }
}
`,
			want: func() *Config {
				c := Default()
				c.Segment = Segment{Duration: 30 * time.Second, MaxCloseDelay: 250 * time.Millisecond}
				c.Store.SQLite = "/data/lsie.db"
				c.API = API{Listen: ":9090", Token: "s3cret-Token_1", AllowedHosts: []string{"lsie.example.com", "10.0.0.5:9090", "[fd00::1]"}}
				c.Sources = mustPolicy(t, "file:/", "test")
				c.Streams = []Stream{{
					ID: "cam_1-a", Source: mustSpec(t, clipURI), Realtime: false, Loop: true,
					Video: Video{FPS: 60, MaxWidth: 16, Memory: MemoryHost},
					Plugins: []PluginRef{{
						Name: "visual", Window: 64, EventBound: 256, Attributes: map[string]string{},
						Pos: Pos{File: "t.hcl", Line: 21, Column: 3},
					}},
					Pos: Pos{File: "t.hcl", Line: 13, Column: 1},
				}}
				return c
			},
		},
		{
			name: "stream defaults and plugin attributes rendered as strings",
			src: `stream "s" {
  source = "test://ball?duration=3s"
  plugin "visual" {
    threshold = 0.5
    count     = 12
    big       = 1000000
    neg       = -3
    tiny      = 0.00001
    on        = true
    off       = false
    label     = "faces"
    templ     = "a-${"b"}"
  }
  plugin "audio" {}
}`,
			want: func() *Config {
				c := Default()
				c.Streams = []Stream{{
					ID: "s", Source: mustSpec(t, "test://ball?duration=3s"), Realtime: true,
					Video: Video{FPS: 5, MaxWidth: 640, Memory: MemoryHost},
					Plugins: []PluginRef{
						{
							Name: "visual", Window: 2, EventBound: 256,
							Attributes: map[string]string{
								"threshold": "0.5", "count": "12", "big": "1e+06", "neg": "-3",
								"tiny": "1e-05", "on": "true", "off": "false", "label": "faces", "templ": "a-b",
							},
							AttrPos: func() map[string]Pos {
								m := map[string]Pos{}
								for i, k := range []string{"threshold", "count", "big", "neg", "tiny", "on", "off", "label", "templ"} {
									m[k] = Pos{File: "t.hcl", Line: 4 + i, Column: 5}
								}
								return m
							}(),
							Pos: Pos{File: "t.hcl", Line: 3, Column: 3},
						},
						{Name: "audio", Window: 2, EventBound: 256, Attributes: map[string]string{}, Pos: Pos{File: "t.hcl", Line: 14, Column: 3}},
					},
					Pos: Pos{File: "t.hcl", Line: 1, Column: 1},
				}}
				return c
			},
		},
		{
			name: "empty listen disables the API; relative sqlite stays relative",
			src:  `api { listen = "" }` + "\n" + `store { sqlite = "./rel/x.db" }`,
			want: func() *Config {
				c := Default()
				c.API.Listen = ""
				c.Store.SQLite = "./rel/x.db"
				return c
			},
		},
		{
			name: "bounds are inclusive",
			src: `segment {
  duration        = "300s"
  max_close_delay = "10m"
}
stream "lo" {
  source = "test://snow"
  video {
    fps       = 1
    max_width = 7680
    gpu       = 63
  }
  plugin "p" { window = 1 }
}`,
			want: func() *Config {
				c := Default()
				c.Segment = Segment{Duration: 300 * time.Second, MaxCloseDelay: 10 * time.Minute}
				c.Streams = []Stream{{
					ID: "lo", Source: mustSpec(t, "test://snow"), Realtime: true,
					Video:   Video{FPS: 1, MaxWidth: 7680, Memory: MemoryHost, GPU: 63},
					Plugins: []PluginRef{{Name: "p", Window: 1, EventBound: 256, Attributes: map[string]string{}, Pos: Pos{File: "t.hcl", Line: 12, Column: 3}}},
					Pos:     Pos{File: "t.hcl", Line: 5, Column: 1},
				}}
				return c
			},
		},
		{
			name: "same plugin on two streams, streams in file order",
			src: `stream "b" {
  source = "test://ball"
  plugin "visual" {}
}
stream "a" {
  source = "test://smpte"
  plugin "visual" {}
}`,
			want: func() *Config {
				c := Default()
				c.Streams = []Stream{
					{
						ID: "b", Source: mustSpec(t, "test://ball"), Realtime: true, Video: Video{FPS: 5, MaxWidth: 640, Memory: MemoryHost},
						Plugins: []PluginRef{{Name: "visual", Window: 2, EventBound: 256, Attributes: map[string]string{}, Pos: Pos{File: "t.hcl", Line: 3, Column: 3}}},
						Pos:     Pos{File: "t.hcl", Line: 1, Column: 1},
					},
					{
						ID: "a", Source: mustSpec(t, "test://smpte"), Realtime: true, Video: Video{FPS: 5, MaxWidth: 640, Memory: MemoryHost},
						Plugins: []PluginRef{{Name: "visual", Window: 2, EventBound: 256, Attributes: map[string]string{}, Pos: Pos{File: "t.hcl", Line: 7, Column: 3}}},
						Pos:     Pos{File: "t.hcl", Line: 5, Column: 1},
					},
				}
				return c
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse([]byte(tc.src), "t.hcl")
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := tc.want()
			want.file = "t.hcl"
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Parse:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	stream := func(body string) string {
		return "stream \"cam1\" {\n  source = \"test://ball\"\n" + body + "\n}\n"
	}
	tests := []struct {
		name string
		src  string
		want string
	}{
		{
			name: "duration without unit",
			src:  `segment { duration = "10" }`,
			want: `t.hcl:1:11: segment.duration: "10" is not a duration (use e.g. "10s")`,
		},
		{
			name: "duration too short",
			src:  `segment { duration = "500ms" }`,
			want: `t.hcl:1:11: segment.duration: must be 1s..300s, got 500ms`,
		},
		{
			name: "duration too long",
			src:  `segment { duration = "301s" }`,
			want: `t.hcl:1:11: segment.duration: must be 1s..300s, got 5m1s`,
		},
		{
			name: "negative duration",
			src:  `segment { duration = "-5s" }`,
			want: `t.hcl:1:11: segment.duration: must be 1s..300s, got -5s`,
		},
		{
			name: "max_close_delay too short",
			src:  `segment { max_close_delay = "99ms" }`,
			want: `t.hcl:1:11: segment.max_close_delay: must be 100ms..10m, got 99ms`,
		},
		{
			name: "max_close_delay too long",
			src:  `segment { max_close_delay = "1h" }`,
			want: `t.hcl:1:11: segment.max_close_delay: must be 100ms..10m, got 1h0m0s`,
		},
		{
			name: "duration as a number",
			src:  `segment { duration = 10 }`,
			want: `t.hcl:1:11: segment.duration: must be a string, got number 10`,
		},
		{
			name: "fps zero",
			src:  stream("  video {\n    fps = 0\n  }"),
			want: `t.hcl:4:5: stream "cam1": video.fps: must be 1..60, got 0`,
		},
		{
			name: "fps too high",
			src:  stream("  video { fps = 61 }"),
			want: `t.hcl:3:11: stream "cam1": video.fps: must be 1..60, got 61`,
		},
		{
			name: "fps as a string",
			src:  stream(`  video { fps = "five" }`),
			want: `t.hcl:3:11: stream "cam1": video.fps: must be a whole number, got string "five"`,
		},
		{
			name: "fps numeric string is still a string",
			src:  stream(`  video { fps = "5" }`),
			want: `t.hcl:3:11: stream "cam1": video.fps: must be a whole number, got string "5"`,
		},
		{
			name: "fps fractional",
			src:  stream(`  video { fps = 2.5 }`),
			want: `t.hcl:3:11: stream "cam1": video.fps: must be a whole number, got number 2.5`,
		},
		{
			name: "fps huge",
			src:  stream(`  video { fps = 1e100 }`),
			want: `t.hcl:3:11: stream "cam1": video.fps: out of range, got number 1e+100`,
		},
		{
			name: "fps beyond float64",
			src:  stream(`  video { fps = 1e100000000 }`),
			want: `t.hcl:3:11: stream "cam1": video.fps: out of range, got number >1.8e+308`,
		},
		{
			name: "duration as a tiny number",
			src:  `segment { duration = 1e-100000000 }`,
			want: `t.hcl:1:11: segment.duration: must be a string, got number ≈0 (not 0)`,
		},
		{
			name: "max_width too small",
			src:  stream(`  video { max_width = 15 }`),
			want: `t.hcl:3:11: stream "cam1": video.max_width: must be 16..7680, got 15`,
		},
		{
			name: "gpu out of range",
			src:  stream(`  video { gpu = 64 }`),
			want: `t.hcl:3:11: stream "cam1": video.gpu: must be 0..63, got 64`,
		},
		{
			name: "max_width too large",
			src:  stream(`  video { max_width = 7681 }`),
			want: `t.hcl:3:11: stream "cam1": video.max_width: must be 16..7680, got 7681`,
		},
		{
			name: "window zero",
			src:  stream(`  plugin "visual" { window = 0 }`),
			want: `t.hcl:3:21: stream "cam1": plugin "visual": window: must be 1..64, got 0`,
		},
		{
			name: "event bound zero",
			src:  stream(`  plugin "visual" { event_bound = 0 }`),
			want: `t.hcl:3:21: stream "cam1": plugin "visual": event_bound: must be 1..65536, got 0`,
		},
		{
			name: "window too large",
			src:  stream(`  plugin "visual" { window = 65 }`),
			want: `t.hcl:3:21: stream "cam1": plugin "visual": window: must be 1..64, got 65`,
		},
		{
			name: "realtime as a string",
			src:  stream(`  realtime = "yes"`),
			want: `t.hcl:3:3: stream "cam1": realtime: must be true or false, got string "yes"`,
		},
		{
			name: "loop null",
			src:  stream(`  loop = null`),
			want: `t.hcl:3:3: stream "cam1": loop: must be true or false, got null`,
		},
		{
			name: "source as a number",
			src:  "stream \"cam1\" {\n  source = 5\n}",
			want: `t.hcl:2:3: stream "cam1": source: must be a string, got number 5`,
		},
		{
			name: "sqlite empty",
			src:  `store { sqlite = "" }`,
			want: `t.hcl:1:9: store.sqlite: must not be empty`,
		},
		{
			name: "sqlite as a bool",
			src:  `store { sqlite = true }`,
			want: `t.hcl:1:9: store.sqlite: must be a string, got bool true`,
		},
		{
			name: "listen without port",
			src:  `api { listen = "localhost" }`,
			want: `t.hcl:1:7: api.listen: "localhost" is not host:port (e.g. "127.0.0.1:8080"; "" disables the API)`,
		},
		{
			name: "listen bad port",
			src:  `api { listen = "localhost:http8" }`,
			want: `t.hcl:1:7: api.listen: port "http8" must be a number 0..65535`,
		},
		{
			name: "listen port out of range",
			src:  `api { listen = ":65536" }`,
			want: `t.hcl:1:7: api.listen: port "65536" must be a number 0..65535`,
		},
		{
			name: "listen on every interface without a token",
			src:  `api { listen = "0.0.0.0:8080" }`,
			want: `t.hcl:1:7: api.listen: "0.0.0.0:8080" is not a loopback address; set api.token (or LSIE_API_TOKEN) to expose the API`,
		},
		{
			name: "listen without host without a token",
			src:  `api { listen = ":8080" }`,
			want: `t.hcl:1:7: api.listen: ":8080" is not a loopback address; set api.token (or LSIE_API_TOKEN) to expose the API`,
		},
		{
			name: "listen on a name other than localhost without a token",
			src:  `api { listen = "lsie.example.com:8080" }`,
			want: `t.hcl:1:7: api.listen: "lsie.example.com:8080" is not a loopback address; set api.token (or LSIE_API_TOKEN) to expose the API`,
		},
		{
			name: "token with a space, not quoted back",
			src:  "api {\n  token = \"two words\"\n}",
			want: `t.hcl:2:3: api.token: must be printable ASCII without spaces (it is sent in an Authorization header)`,
		},
		{
			name: "token with a non-ASCII character",
			src:  `api { token = "pässword" }`,
			want: `t.hcl:1:7: api.token: must be printable ASCII without spaces (it is sent in an Authorization header)`,
		},
		{
			name: "token as a number",
			src:  `api { token = 12345 }`,
			want: `t.hcl:1:7: api.token: must be a string, got number 12345`,
		},
		{
			name: "allowed_hosts as a string",
			src:  `api { allowed_hosts = "lsie.example.com" }`,
			want: `t.hcl:1:7: api.allowed_hosts: must be a list of strings, got string "lsie.example.com"`,
		},
		{
			name: "allowed_hosts element not a string, at the element",
			src:  `api { allowed_hosts = ["ok.example", 5, null] }`,
			want: `t.hcl:1:38: api.allowed_hosts[1]: must be a string, got number 5` + "\n" +
				`t.hcl:1:41: api.allowed_hosts[2]: must be a string, got null`,
		},
		{
			name: "allowed_hosts entries that are not hosts, each at its element",
			src: "api {\n  allowed_hosts = [\n    \"ok.example\",\n    \"https://x.example\",\n    \"x.example:99999\",\n" +
				"    \"fd00::1\",\n    \"\",\n    \"a b\",\n    \"[fd00::1]:8443\",\n  ]\n}",
			want: `t.hcl:4:5: api.allowed_hosts[1]: "https://x.example" is not a host or host:port (e.g. "lsie.example.com" or "lsie.example.com:8443")` + "\n" +
				`t.hcl:5:5: api.allowed_hosts[2]: port "99999" must be a number 1..65535` + "\n" +
				`t.hcl:6:5: api.allowed_hosts[3]: "fd00::1" is not a host or host:port (e.g. "lsie.example.com" or "lsie.example.com:8443")` + "\n" +
				`t.hcl:7:5: api.allowed_hosts[4]: "" is not a host or host:port (e.g. "lsie.example.com" or "lsie.example.com:8443")` + "\n" +
				`t.hcl:8:5: api.allowed_hosts[5]: "a b" is not a host or host:port (e.g. "lsie.example.com" or "lsie.example.com:8443")`,
		},
		{
			name: "allowed_hosts from an expression: positioned at the attribute",
			src:  `api { allowed_hosts = concat(["a"]) }`,
			want: `t.hcl:1:23: api.allowed_hosts: Function calls not allowed: Functions may not be called here.`,
		},
		{
			name: "sources allow as a string",
			src:  `sources { allow = "test" }`,
			want: `t.hcl:1:11: sources.allow: must be a list of strings, got string "test"`,
		},
		{
			name: "sources allow element a number",
			src:  `sources { allow = ["test", 1] }`,
			want: `t.hcl:1:28: sources.allow[1]: must be a string, got number 1`,
		},
		{
			name: "unknown sources attribute",
			src:  `sources { alow = ["test"] }`,
			want: `t.hcl:1:11: sources: unknown attribute "alow" (did you mean "allow"?)`,
		},
		{
			name: "allow outside sources",
			src:  `allow = ["test"]`,
			want: `t.hcl:1:1: unknown attribute "allow" (it belongs in a sources block)`,
		},
		{
			name: "token outside api",
			src:  `token = "x"`,
			want: `t.hcl:1:1: unknown attribute "token" (it belongs in a api block)`,
		},
		{
			name: "sources with a label",
			src:  `sources "main" {}`,
			want: `t.hcl:1:9: sources: block takes no labels, got "main"`,
		},
		{
			name: "sources twice",
			src:  "sources {}\nsources {}",
			want: `t.hcl:2:1: sources: duplicate block (first defined at t.hcl:1:1)`,
		},
		{
			name: "block inside sources",
			src:  "sources {\n  rule {}\n}",
			want: `t.hcl:2:3: sources: unknown block "rule"`,
		},
		{
			name: "misspelt sources block",
			src:  `source { allow = [] }`,
			want: `t.hcl:1:1: unknown block "source" (did you mean "sources"?)`,
		},
		{
			name: "unknown top-level attribute",
			src:  `debug = true`,
			want: `t.hcl:1:1: unknown attribute "debug"`,
		},
		{
			name: "unknown top-level block with suggestion",
			src:  `streams "x" {}`,
			want: `t.hcl:1:1: unknown block "streams" (did you mean "stream"?)`,
		},
		{
			name: "unknown stream attribute",
			src:  stream("  fsp = 5"),
			want: `t.hcl:3:3: stream "cam1": unknown attribute "fsp"`,
		},
		{
			name: "unknown video attribute with suggestion",
			src:  stream("  video { fsp = 5 }"),
			want: `t.hcl:3:11: stream "cam1": video: unknown attribute "fsp" (did you mean "fps"?)`,
		},
		{
			name: "attribute in the wrong block",
			src:  stream("  window = 4"),
			want: `t.hcl:3:3: stream "cam1": unknown attribute "window" (it belongs in a plugin block)`,
		},
		{
			name: "unknown segment attribute",
			src:  `segment { lenght = "1s" }`,
			want: `t.hcl:1:11: segment: unknown attribute "lenght"`,
		},
		{
			name: "unknown block in stream",
			src:  stream("  audio {}"),
			want: `t.hcl:3:3: stream "cam1": unknown block "audio"`,
		},
		{
			name: "block inside a plugin",
			src:  stream("  plugin \"visual\" {\n    model {}\n  }"),
			want: `t.hcl:4:5: stream "cam1": plugin "visual": unknown block "model"`,
		},
		{
			name: "block inside video",
			src:  stream("  video {\n    scale {}\n  }"),
			want: `t.hcl:4:5: stream "cam1": video: unknown block "scale"`,
		},
		{
			name: "block inside api",
			src:  "api {\n  tls {}\n}",
			want: `t.hcl:2:3: api: unknown block "tls"`,
		},
		{
			name: "duplicate stream id",
			src:  "stream \"cam1\" { source = \"test://ball\" }\nstream \"cam1\" { source = \"test://snow\" }",
			want: `t.hcl:2:1: stream "cam1": duplicate stream id (first defined at t.hcl:1:1)`,
		},
		{
			name: "duplicate plugin",
			src:  stream("  plugin \"visual\" {}\n  plugin \"visual\" { window = 3 }"),
			want: `t.hcl:4:3: stream "cam1": plugin "visual": duplicate plugin in this stream (first defined at t.hcl:3:3)`,
		},
		{
			name: "duplicate segment block",
			src:  "segment {}\nsegment {}",
			want: `t.hcl:2:1: segment: duplicate block (first defined at t.hcl:1:1)`,
		},
		{
			name: "duplicate video block",
			src:  stream("  video {}\n  video {}"),
			want: `t.hcl:4:3: stream "cam1": video: duplicate block (first defined at t.hcl:3:3)`,
		},
		{
			name: "stream id with a space",
			src:  `stream "cam 1" { source = "test://ball" }`,
			want: `t.hcl:1:8: stream "cam 1": id must be 1..64 characters of A-Z a-z 0-9 _ -`,
		},
		{
			name: "stream id empty",
			src:  `stream "" { source = "test://ball" }`,
			want: `t.hcl:1:8: stream "": id must be 1..64 characters of A-Z a-z 0-9 _ -`,
		},
		{
			name: "stream id too long",
			src:  `stream "` + strings.Repeat("a", 65) + `" { source = "test://ball" }`,
			want: `t.hcl:1:8: stream "` + strings.Repeat("a", 65) + `": id must be 1..64 characters of A-Z a-z 0-9 _ -`,
		},
		{
			name: "plugin name with a dot",
			src:  stream(`  plugin "vis.ual" {}`),
			want: `t.hcl:3:10: stream "cam1": plugin "vis.ual": name must be 1..64 characters of A-Z a-z 0-9 _ -`,
		},
		{
			name: "stream without label",
			src:  `stream { source = "test://ball" }`,
			want: `t.hcl:1:1: stream: needs one label, the stream id: stream "cam1" { ... }`,
		},
		{
			name: "plugin with two labels",
			src:  stream(`  plugin "a" "b" {}`),
			want: `t.hcl:3:3: stream "cam1": plugin: needs one label, the plugin name: plugin "visual" { ... }`,
		},
		{
			name: "segment with a label",
			src:  `segment "main" {}`,
			want: `t.hcl:1:9: segment: block takes no labels, got "main"`,
		},
		{
			name: "missing source",
			src:  `stream "cam1" {}`,
			want: `t.hcl:1:1: stream "cam1": missing required attribute "source"`,
		},
		{
			name: "source without scheme",
			src:  "stream \"cam1\" {\n  source = \"/tmp/clip.mp4\"\n}",
			want: `t.hcl:2:3: stream "cam1": source: unsupported source scheme: "/tmp/clip.mp4" has no scheme ` +
				`(use file:///abs/path, test://pattern, rtsp://, rtmp://, https://.../x.m3u8 or v4l2:///dev/videoN)`,
		},
		{
			name: "source file missing",
			src:  "stream \"cam1\" {\n  source = \"file:///nonexistent/lsie/clip.mp4\"\n}",
			want: `t.hcl:2:3: stream "cam1": source: cannot open /nonexistent/lsie/clip.mp4: open /nonexistent/lsie/clip.mp4: no such file or directory`,
		},
		{
			name: "source refused by the sources policy",
			src:  "sources { allow = [\"test\"] }\nstream \"cam1\" {\n  source = \"rtsp://10.0.0.2/live\"\n}",
			want: `t.hcl:3:3: stream "cam1": source: source not allowed: rtsp source "rtsp://10.0.0.2/live" (allowed: test)`,
		},
		{
			name: "empty allow list refuses every source",
			src:  "sources { allow = [] }\nstream \"cam1\" {\n  source = \"test://ball\"\n}",
			want: `t.hcl:3:3: stream "cam1": source: source not allowed: test source "test://ball" (allowed: nothing)`,
		},
		{
			name: "refused file source is not opened",
			src:  "sources { allow = [\"file:/media/\"] }\nstream \"cam1\" {\n  source = \"file:///nonexistent/lsie/clip.mp4\"\n}",
			want: `t.hcl:3:3: stream "cam1": source: source not allowed: file source "file:///nonexistent/lsie/clip.mp4" (allowed: file:/media/)`,
		},
		{
			name: "allowed file source is still opened",
			src:  "sources { allow = [\"file:/nonexistent/\"] }\nstream \"cam1\" {\n  source = \"file:///nonexistent/lsie/clip.mp4\"\n}",
			want: `t.hcl:3:3: stream "cam1": source: cannot open /nonexistent/lsie/clip.mp4: open /nonexistent/lsie/clip.mp4: no such file or directory`,
		},
		{
			name: "bad sources entry, at the element, with the URI's password redacted",
			src:  `sources { allow = ["test", "rtsp://u:pw@cam.example"] }`,
			want: `t.hcl:1:28: sources.allow[1]: "rtsp://u:xxxxx@cam.example": a host rule takes a host and an optional port, no path, query or credentials`,
		},
		{
			name: "plugin attribute null",
			src:  stream(`  plugin "visual" { x = null }`),
			want: `t.hcl:3:21: stream "cam1": plugin "visual": x: must be a string, number, bool, list or object, got null`,
		},
		{
			name: "variable reference",
			src:  stream(`  realtime = var.rt`),
			want: `t.hcl:3:14: stream "cam1": realtime: Variables not allowed: Variables may not be used here.`,
		},
		{
			name: "function call",
			src:  `store { sqlite = upper("x") }`,
			want: `t.hcl:1:18: store.sqlite: Function calls not allowed: Functions may not be called here.`,
		},
		{
			name: "syntax error",
			src:  "segment {\n  duration = \n}",
			want: `t.hcl:2:14: Invalid expression: Expected the start of an expression, but found an invalid expression token.`,
		},
		{
			name: "attribute set twice",
			src:  "segment {\n  duration = \"2s\"\n  duration = \"3s\"\n}",
			want: `t.hcl:3:3: Attribute redefined: The argument "duration" was already set at t.hcl:2,3-11. Each argument may be set only once.`,
		},
		{
			name: "several problems, in file order",
			src:  "stream \"cam1\" {\n  source = \"test://nope\"\n  video { fps = 0 }\n}\nsegment { duration = \"1\" }\n",
			want: `t.hcl:2:3: stream "cam1": source: test source "test://nope": unknown pattern "nope" (one of ` +
				strings.Join(source.TestPatterns, ", ") + ")\n" +
				`t.hcl:3:11: stream "cam1": video.fps: must be 1..60, got 0` + "\n" +
				`t.hcl:5:11: segment.duration: "1" is not a duration (use e.g. "10s")`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.src), "t.hcl")
			if err == nil {
				t.Fatalf("Parse succeeded, want error:\n%s", tc.want)
			}
			if c != nil {
				t.Errorf("Parse returned a config with an error")
			}
			var ds Diagnostics
			if !errors.As(err, &ds) {
				t.Fatalf("error is %T, want Diagnostics", err)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("error:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.hcl")
	if err := os.WriteFile(good, []byte(`stream "s" { source = "test://ball" }`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(good)
	if err != nil {
		t.Fatalf("Load(%s): %v", good, err)
	}
	if len(c.Streams) != 1 || c.Streams[0].Pos.File != good {
		t.Errorf("Load(%s) = %+v", good, c)
	}

	missing := filepath.Join(dir, "missing.hcl")
	_, err = Load(missing)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load(missing) error %v, want fs.ErrNotExist", err)
	}
	if want := "load config: open " + missing + ": no such file or directory"; err.Error() != want {
		t.Errorf("Load(missing) error:\n got %s\nwant %s", err, want)
	}
}

func TestValidateRunnable(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(t *testing.T) *Config
		want string
	}{
		{
			name: "defaults have no streams",
			cfg:  func(*testing.T) *Config { return Default() },
			want: `no stream blocks: at least one is needed to run (e.g. stream "cam1" { source = "test://ball" })`,
		},
		{
			name: "parsed file without streams",
			cfg: func(t *testing.T) *Config {
				c, err := Parse([]byte(`segment { duration = "2s" }`), "nostreams.hcl")
				if err != nil {
					t.Fatal(err)
				}
				return c
			},
			want: `nostreams.hcl: no stream blocks: at least one is needed to run (e.g. stream "cam1" { source = "test://ball" })`,
		},
		{
			name: "one stream",
			cfg: func(t *testing.T) *Config {
				c, err := Parse([]byte(`stream "s" { source = "test://ball" }`), "one.hcl")
				if err != nil {
					t.Fatal(err)
				}
				return c
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg(t).ValidateRunnable()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("ValidateRunnable:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestDiagnosticString(t *testing.T) {
	tests := []struct {
		name string
		d    Diagnostic
		want string
	}{
		{"full", Diagnostic{Pos: Pos{"a.hcl", 7, 5}, Field: `stream "cam1": video.fps`, Message: "must be 1..60, got 0"}, `a.hcl:7:5: stream "cam1": video.fps: must be 1..60, got 0`},
		{"no field", Diagnostic{Pos: Pos{"a.hcl", 1, 1}, Message: `unknown block "x"`}, `a.hcl:1:1: unknown block "x"`},
		{"whole file", Diagnostic{Pos: Pos{File: "a.hcl"}, Message: "empty"}, "a.hcl: empty"},
		{"no file name", Diagnostic{Pos: Pos{"", 2, 3}, Field: "f", Message: "m"}, "2:3: f: m"},
		{"no position", Diagnostic{Message: "m"}, "m"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.d.String(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	ds := Diagnostics{tests[0].d, tests[1].d}
	if want := tests[0].want + "\n" + tests[1].want; ds.Error() != want {
		t.Errorf("Diagnostics.Error() = %q, want %q", ds.Error(), want)
	}
}

func TestDefaultIsValid(t *testing.T) {
	d := &decoder{file: "default", at: map[string]Pos{}}
	c := Default()
	c.Streams = []Stream{defaultStream("s", Pos{})}
	c.Streams[0].Plugins = []PluginRef{defaultPlugin("p", Pos{})}
	c.Streams[0].Source = source.Spec{URI: "test://ball"}
	d.at["stream.0.source"] = Pos{}
	d.validate(c)
	if len(d.diags) != 0 {
		t.Errorf("defaults do not validate:\n%v", d.diags)
	}
}
