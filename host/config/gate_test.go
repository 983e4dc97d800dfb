package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// Gates and zones, from HCL and from JSON: decoded alike, every mistake
// named at its place.
func TestGatesAndZones(t *testing.T) {
	src := `stream "cam" {
  source = "test://ball"
  zone "door" {
    polygon = [[0.1, 0.2], [0.4, 0.2], [0.4, 0.9]]
  }
  plugin "detect" {
    threshold = 0.5
    gate {
      motion = 2.5
      every  = "10s"
      zones  = ["door"]
    }
  }
  plugin "visual" {}
}
`
	c, err := Parse([]byte(src), "t.hcl")
	if err != nil {
		t.Fatal(err)
	}
	s := c.Streams[0]
	wantZones := []Zone{{Name: "door", Polygon: [][2]float64{{0.1, 0.2}, {0.4, 0.2}, {0.4, 0.9}}, Pos: Pos{File: "t.hcl", Line: 3, Column: 3}}}
	if !reflect.DeepEqual(s.Zones, wantZones) {
		t.Errorf("zones %+v", s.Zones)
	}
	wantGate := &Gate{Motion: 2.5, Every: 10 * time.Second, Zones: []string{"door"}, Pos: Pos{File: "t.hcl", Line: 8, Column: 5}}
	if g := s.Plugins[0].Gate; !reflect.DeepEqual(g, wantGate) || s.Plugins[0].Attributes["threshold"] != "0.5" {
		t.Errorf("gate %+v, attributes %v", g, s.Plugins[0].Attributes)
	}
	if s.Plugins[1].Gate != nil {
		t.Errorf("visual: gate %+v, want none", s.Plugins[1].Gate)
	}

	js, err := ParseStream([]byte(`{"id":"cam","source":"test://ball","zones":[{"name":"door","polygon":[[0.1,0.2],[0.4,0.2],[0.4,0.9]]}],`+
		`"plugins":[{"name":"detect","gate":{"motion":2.5,"every":"10s","zones":["door"]}}]}`), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if g := js.Plugins[0].Gate; g == nil || g.Motion != 2.5 || g.Every != 10*time.Second || !reflect.DeepEqual(g.Zones, []string{"door"}) ||
		len(js.Zones) != 1 || !reflect.DeepEqual(js.Zones[0].Polygon, wantZones[0].Polygon) {
		t.Errorf("from JSON: gate %+v, zones %+v", g, js.Zones)
	}

	stream := func(body string) string {
		return "stream \"cam\" {\n  source = \"test://ball\"\n" + body + "\n}\n"
	}
	bad := []struct{ name, src, want string }{
		{"gate without motion", stream(`  plugin "d" {
    gate { every = "10s" }
  }`), `t.hcl:4:5: stream "cam": plugin "d": gate: missing required attribute "motion" (the least motion, luma 0..255, that sends a frame)`},
		{"motion out of range", stream(`  plugin "d" {
    gate { motion = 0 }
  }`), `t.hcl:4:12: stream "cam": plugin "d": gate.motion: must be above 0 and at most 255 (mean luma difference), got 0`},
		{"motion as a string", stream(`  plugin "d" {
    gate { motion = "high" }
  }`), `t.hcl:4:12: stream "cam": plugin "d": gate.motion: must be a number, got string "high"`},
		{"every too short", stream(`  plugin "d" {
    gate {
      motion = 1
      every  = "10ms"
    }
  }`), `t.hcl:6:7: stream "cam": plugin "d": gate.every: must be 0 (never) or 100ms..24h0m0s, got 10ms`},
		{"unknown zone", stream(`  zone "door" {
    polygon = [[0, 0], [1, 0], [1, 1]]
  }
  plugin "d" {
    gate {
      motion = 1
      zones  = ["dor"]
    }
  }`), `t.hcl:9:7: stream "cam": plugin "d": gate.zones[0]: no zone "dor" in this stream (did you mean "door"?)`},
		{"two gates", stream(`  plugin "d" {
    gate { motion = 1 }
    gate { motion = 2 }
  }`), `t.hcl:5:5: stream "cam": plugin "d": gate: duplicate block (first defined at t.hcl:4:5)`},
		{"unknown gate attribute", stream(`  plugin "d" {
    gate {
      motion = 1
      motoin = 2
    }
  }`), `t.hcl:6:7: stream "cam": plugin "d": gate: unknown attribute "motoin" (did you mean "motion"?)`},
		{"polygon too small and outside", stream(`  zone "z" {
    polygon = [[0, 0], [1.5, 0]]
  }`), `t.hcl:4:5: stream "cam": zone "z": polygon: must have 3..64 points, got 2` + "\n" +
			`t.hcl:4:5: stream "cam": zone "z": polygon[1]: must lie in the frame, coordinates 0..1 (x right, y down), got [1.5, 0]`},
		{"polygon of the wrong shape", stream(`  zone "z" {
    polygon = [[0, 0, 1], [1, 0], [1, 1]]
  }`), `t.hcl:4:5: stream "cam": zone "z": polygon[0]: must be a point [x, y], got tuple`},
		{"zone without polygon, duplicate zone", stream(`  zone "z" {}
  zone "z" {
    polygon = [[0, 0], [1, 0], [1, 1]]
  }`), `t.hcl:3:3: stream "cam": zone "z": missing required attribute "polygon"` + "\n" +
			`t.hcl:4:3: stream "cam": zone "z": duplicate zone in this stream (first defined at t.hcl:3:3)`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), "t.hcl")
			if err == nil || err.Error() != tc.want {
				t.Errorf("error:\n got %v\nwant %s", err, tc.want)
			}
		})
	}
	badJSON := []struct{ name, json, want string }{
		{"gate fields", `{"id":"x","source":"test://ball","plugins":[{"name":"p","gate":{"motion":"x","every":"soon","zones":"door"}}]}`,
			`1:74: plugins[0].gate.motion: must be a number, got string "x"` + "\n" +
				`1:86: plugins[0].gate.every: "soon" is not a duration (use e.g. "10s")` + "\n" +
				`1:101: plugins[0].gate.zones: must be an array of zone names, got string "door"`},
		{"zones", `{"id":"x","source":"test://ball","zones":[{"polygon":[[0,0],[1,0]]},{"name":"z","polygon":"all"}]}`,
			`1:43: zones[0]: missing required field "name"` + "\n" +
				`1:54: zones[0].polygon: must have 3..64 points, got 2` + "\n" +
				`1:91: zones[1].polygon: must be a list of [x, y] points, got string "all"`},
	}
	for _, tc := range badJSON {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseStream([]byte(tc.json), t.TempDir(), nil)
			if err == nil || err.Error() != tc.want {
				t.Errorf("error:\n got %v\nwant %s", err, strings.ReplaceAll(tc.want, "\n", "\n     "))
			}
		})
	}
}

// Rules decode with their expression's position; what config can check
// without the plugins is checked here (host/rules compiles the rest).
func TestRules(t *testing.T) {
	src := `rule "crowd_at_door" {
  streams  = ["cam*"]
  when     = "objects.count('person', 'door') >= 3"
  for      = "5s"
  cooldown = "60s"
  severity = "critical"
}
rule "dark" {
  when = <<EOT
segment.visual.brightness.mean < 20
EOT
}
`
	c, err := Parse([]byte(src), "r.hcl")
	if err != nil {
		t.Fatal(err)
	}
	want := []Rule{
		{Name: "crowd_at_door", Streams: []string{"cam*"}, When: "objects.count('person', 'door') >= 3", WhenPos: Pos{File: "r.hcl", Line: 3, Column: 15},
			For: 5 * time.Second, Cooldown: time.Minute, Severity: "critical", Message: "crowd_at_door", Pos: Pos{File: "r.hcl", Line: 1, Column: 1}},
		{Name: "dark", When: "segment.visual.brightness.mean < 20\n", WhenPos: Pos{File: "r.hcl", Line: 10, Column: 1},
			Severity: "warning", Message: "dark", Pos: Pos{File: "r.hcl", Line: 8, Column: 1}},
	}
	if !reflect.DeepEqual(c.Rules, want) {
		t.Errorf("rules\n got %+v\nwant %+v", c.Rules, want)
	}
	bad := []struct{ name, src, want string }{
		{"no when", `rule "r" {}`, `r.hcl:1:1: rule "r": missing required attribute "when" (the condition, a CEL expression)`},
		{"empty when", `rule "r" { when = " " }`, `r.hcl:1:12: rule "r": when: must be a CEL expression, got an empty string`},
		{"severity", `rule "r" {
  when     = "true"
  severity = "fatal"
}`, `r.hcl:3:3: rule "r": severity: must be one of info, warning, critical, got "fatal"`},
		{"for too long", `rule "r" {
  when = "true"
  for  = "25h"
}`, `r.hcl:3:3: rule "r": for: must be 0..24h, got 25h0m0s`},
		{"bad pattern, duplicate", `rule "r" {
  when    = "true"
  streams = ["cam["]
}
rule "r" { when = "true" }`, `r.hcl:3:3: rule "r": streams[0]: "cam[" is not a stream id or pattern` + "\n" +
			`r.hcl:5:1: rule "r": duplicate rule (first defined at r.hcl:1:1)`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), "r.hcl")
			if err == nil || err.Error() != tc.want {
				t.Errorf("error:\n got %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestNotify(t *testing.T) {
	src := `notifications {
  allow = ["http://127.0.0.1", "https://*.example.com"]
}
notify "ops" {
  url          = "http://127.0.0.1:9000/hook"
  secret       = "0123456789abcdef"
  rules        = ["crowd*"]
  retry_min    = "2s"
  max_attempts = 5
}
`
	c, err := Parse([]byte(src), "n.hcl")
	if err != nil {
		t.Fatal(err)
	}
	want := []Notify{{Name: "ops", URL: "http://127.0.0.1:9000/hook", Secret: "0123456789abcdef", Rules: []string{"crowd*"},
		RetryMin: 2 * time.Second, RetryMax: 5 * time.Minute, MaxAttempts: 5, Pos: Pos{File: "n.hcl", Line: 4, Column: 1}}}
	if !reflect.DeepEqual(c.Notify, want) || c.NotifyAllow == nil {
		t.Errorf("notify %+v (allow %v)", c.Notify, c.NotifyAllow)
	}
	bad := []struct{ name, src, want string }{
		{"not allowed", `notifications { allow = ["http://127.0.0.1"] }
notify "x" {
  url    = "https://hooks.elsewhere.net/x"
  secret = "0123456789abcdef"
}`, `n.hcl:3:3: notify "x": url: receiver not allowed by notifications.allow: source not allowed: hls source "https://hooks.elsewhere.net/x" (allowed: http://127.0.0.1)`},
		{"no url, short secret", `notify "x" { secret = "short" }`,
			`n.hcl:1:1: notify "x": missing required attribute "url" (the receiver, http:// or https://)` + "\n" +
				`n.hcl:1:14: notify "x": secret: is required: at least 16 bytes, the HMAC-SHA256 key the receiver verifies with`},
		{"bad url and retries", `notify "x" {
  url       = "ftp://a/b"
  secret    = "0123456789abcdef"
  retry_min = "1s"
  retry_max = "500ms"
}`, `n.hcl:2:3: notify "x": url: "ftp://a/b" is not an http:// or https:// URL` + "\n" +
			`n.hcl:5:3: notify "x": retry_max: must be retry_min (1s)..24h, got 500ms`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), "n.hcl")
			if err == nil || err.Error() != tc.want {
				t.Errorf("error:\n got %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestParseRule(t *testing.T) {
	r, err := ParseRule("crowd", []byte(`{"streams":["cam*"],"when":"objects.count('person') >= 3","for":"5s","severity":"critical"}`))
	if err != nil || r.Name != "crowd" || r.For != 5*time.Second || r.Severity != "critical" || r.Message != "crowd" || r.Streams[0] != "cam*" {
		t.Fatalf("%+v, %v", r, err)
	}
	for _, c := range []struct{ json, want string }{
		{`{"when":"true","severity":"loud"}`, `1:1: severity: must be one of info, warning, critical, got "loud"`},
		{`{"for":"soon"}`, `1:1: when: missing required field "when" (the condition, a CEL expression)` + "\n" + `1:1: for: "soon" is not a duration (use e.g. "10s")`},
		{`{"when":"true","unknown":1}`, `1:28: invalid rule JSON: json: unknown field "unknown"`},
	} {
		if _, err := ParseRule("x", []byte(c.json)); err == nil || err.Error() != c.want {
			t.Errorf("%s:\n got %v\nwant %s", c.json, err, c.want)
		}
	}
}
