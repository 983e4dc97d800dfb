package config

import (
	"errors"
	"testing"

	"github.com/lsie-mlf/lsie/host/source"
)

// FuzzParse checks that Parse never panics, that it returns either a config
// or diagnostics, that every diagnostic is positioned in the file, and that
// an accepted config satisfies the validation rules. The seed corpus is in
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`stream "s" { source = "test://ball" }`))
	f.Fuzz(func(t *testing.T, src []byte) {
		c, err := Parse(src, "fuzz.hcl")
		if err != nil {
			if c != nil {
				t.Fatalf("Parse returned a config and an error")
			}
			var ds Diagnostics
			if !errors.As(err, &ds) || len(ds) == 0 {
				t.Fatalf("error is %T (%v), want non-empty Diagnostics", err, err)
			}
			for _, d := range ds {
				if d.Pos.File != "fuzz.hcl" || d.Pos.Line < 1 || d.Pos.Column < 1 || d.Message == "" {
					t.Fatalf("diagnostic without position or message: %#v", d)
				}
			}
			return
		}
		if c == nil {
			t.Fatal("Parse returned neither config nor error")
		}
		ids := map[string]bool{}
		for _, s := range c.Streams {
			if !validName(s.ID) || ids[s.ID] {
				t.Fatalf("accepted bad or duplicate stream id %q", s.ID)
			}
			ids[s.ID] = true
			if s.Source.Kind == "" {
				t.Fatalf("stream %q accepted without a parsed source", s.ID)
			}
			if s.Video.FPS < minFPS || s.Video.FPS > maxFPS || s.Video.MaxWidth < minWidth || s.Video.MaxWidth > maxWidth {
				t.Fatalf("stream %q accepted with video %+v", s.ID, s.Video)
			}
			names := map[string]bool{}
			for _, p := range s.Plugins {
				if !validName(p.Name) || names[p.Name] || p.Window < minWindow || p.Window > maxWindow || p.Attributes == nil {
					t.Fatalf("stream %q accepted bad plugin %+v", s.ID, p)
				}
				names[p.Name] = true
			}
		}
	})
}

// FuzzParseStream checks that ParseStream never panics, that it returns
// either a stream or diagnostics positioned inside the input (Line 1, Column
// the byte offset + 1), that only refusals by the policy unwrap to
// source.ErrNotAllowed, and that an accepted stream satisfies the same rules
// as one from HCL. The seed corpus is in testdata/fuzz/FuzzParseStream.
func FuzzParseStream(f *testing.F) {
	f.Add([]byte(`{"id":"cam2","source":"test://ball","realtime":true,"loop":false,"video":{"fps":5,"max_width":640},` +
		`"plugins":[{"name":"visual","window":2,"attributes":{"threshold":"0.5"}}]}`))
	f.Add([]byte(`{"id":"x","source":"rtsp://cam.other.example/live"}`))
	policy, err := source.ParsePolicy([]string{"test", "rtsp://*.cams.example"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseStream(data, "", policy)
		if err != nil {
			var ds Diagnostics
			if !errors.As(err, &ds) || len(ds) == 0 {
				t.Fatalf("error is %T (%v), want non-empty Diagnostics", err, err)
			}
			for _, d := range ds {
				if d.Pos.File != "" || d.Pos.Line != 1 || d.Pos.Column < 1 || d.Pos.Column > len(data)+1 || d.Message == "" {
					t.Fatalf("diagnostic outside the input or without message: %#v (input %d bytes)", d, len(data))
				}
				if d.err != nil && errors.Is(d.err, source.ErrNotAllowed) && d.Field != "source" {
					t.Fatalf("refusal on a field other than source: %#v", d)
				}
			}
			return
		}
		if !validName(s.ID) || s.Source.Kind == "" || policy.Check(s.Source) != nil {
			t.Fatalf("accepted bad id or source: %+v", s)
		}
		if s.Video.FPS < minFPS || s.Video.FPS > maxFPS || s.Video.MaxWidth < minWidth || s.Video.MaxWidth > maxWidth {
			t.Fatalf("accepted video %+v", s.Video)
		}
		names := map[string]bool{}
		for _, p := range s.Plugins {
			if !validName(p.Name) || names[p.Name] || p.Window < minWindow || p.Window > maxWindow || p.Attributes == nil {
				t.Fatalf("accepted bad plugin %+v", p)
			}
			names[p.Name] = true
			for k := range p.Attributes {
				if !validName(k) || k == "window" {
					t.Fatalf("accepted bad attribute name %q", k)
				}
			}
		}
	})
}

// FuzzParseRule checks that ParseRule (a rule added through the API) never
// panics and returns a valid rule or diagnostics.
func FuzzParseRule(f *testing.F) {
	f.Add([]byte(`{"streams":["cam*"],"when":"objects.count('person') >= 3","for":"5s","cooldown":"1m","severity":"critical","message":"m"}`))
	f.Add([]byte(`{"when":"true","for":"-1s","streams":["["]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRule("r", data)
		if err != nil {
			var ds Diagnostics
			if !errors.As(err, &ds) || len(ds) == 0 {
				t.Fatalf("error is %T (%v), want non-empty Diagnostics", err, err)
			}
			return
		}
		if r.Name != "r" || r.For < 0 || r.Cooldown < 0 || r.Message == "" {
			t.Fatalf("accepted rule %+v", r)
		}
	})
}
