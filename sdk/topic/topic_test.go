package topic

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	good := map[string]Topic{
		"video.rgb24":          {Name: "video.rgb24"},
		"audio.pcm16k":         {Name: "audio.pcm16k"},
		"video.nv12.cuda":      {Name: "video.nv12.cuda"},
		"video.rgbf32.cuda":    {Name: "video.rgbf32.cuda"},
		"transcript.final@1":   {Name: "transcript.final", Major: 1},
		"transcript.partial@2": {Name: "transcript.partial", Major: 2},
		"au.frame_stats@12":    {Name: "au.frame_stats", Major: 12},
	}
	for in, want := range good {
		got, err := Parse(in)
		if err != nil || got != want || got.String() != in {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	bad := map[string]string{
		"":                    "1..128 bytes",
		"transcript.final":    "needs a major version",
		"transcript.final@0":  "major version 1..9999",
		"transcript.final@01": "major version",
		"transcript.final@x":  "major version",
		"Transcript.final@1":  "name part 1",
		"transcript..x@1":     "name part 2",
		"t.9x@1":              "name part 2",
		"video.rgb24@1@2":     "major version",
	}
	for in, want := range bad {
		_, err := Parse(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) error = %v; want it to mention %q", in, err, want)
		}
	}
}

func TestCoalesces(t *testing.T) {
	for s, want := range map[string]bool{"transcript.partial@1": true, "partial@1": true, "transcript.final@1": false, "x.partials@1": false} {
		tp, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		if tp.Coalesces() != want {
			t.Errorf("%s coalesces = %v, want %v", s, !want, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"video.rgb24", "transcript.final@1", "a.b@9999", "x@", "@1", "a..b@1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := Parse(s)
		if err != nil {
			return
		}
		// What parses renders back to the same text, and parses to itself.
		if tp.String() != s {
			t.Fatalf("Parse(%q).String() = %q", s, tp.String())
		}
		if again, err := Parse(tp.String()); err != nil || again != tp {
			t.Fatalf("re-parse of %q: %+v, %v", s, again, err)
		}
	})
}
