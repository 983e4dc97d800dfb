package source

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	dir := t.TempDir()
	clip := filepath.Join(dir, "clip.mp4")
	if err := os.WriteFile(clip, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, uri string
		want      Spec
		err       string
	}{
		{"file", "file://" + clip, Spec{Kind: KindFile, Path: clip}, ""},
		{"file missing", "file:///no/such.mp4", Spec{}, "cannot open /no/such.mp4"},
		{"file relative URL", "file://clip.mp4", Spec{}, "must be file:///absolute/path"},
		{"directory", "file://" + dir, Spec{}, "is a directory"},
		{"test defaults", "test://ball", Spec{Kind: KindTest, Pattern: "ball", Width: 640, Height: 480, FPS: 30}, ""},
		{"test params", "test://smpte?width=320&height=240&fps=10&duration=2s&audio=440",
			Spec{Kind: KindTest, Pattern: "smpte", Width: 320, Height: 240, FPS: 10, Duration: 2 * time.Second, AudioFreq: 440}, ""},
		{"test bad pattern", "test://nope", Spec{}, `unknown pattern "nope"`},
		{"test bad param", "test://ball?speed=3", Spec{}, `unknown parameter "speed"`},
		{"test bad width", "test://ball?width=1", Spec{}, "width must be an integer 16..7680"},
		{"test bad duration", "test://ball?duration=-1s", Spec{}, "duration must be a positive duration"},
		{"rtsp not yet", "rtsp://cam/stream", Spec{}, "not supported yet"},
		{"no scheme", "/abs/clip.mp4", Spec{}, "has no scheme"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.uri)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want it to contain %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.want.URI = tc.uri
			if got != tc.want {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
	if _, err := Parse("rtmp://x/y"); !errors.Is(err, ErrUnsupportedScheme) {
		t.Fatalf("rtmp: %v", err)
	}
}

func TestParseInRelative(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "media"), 0o755); err != nil {
		t.Fatal(err)
	}
	clip := filepath.Join(dir, "media", "c.mp4")
	if err := os.WriteFile(clip, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := ParseIn("file:media/c.mp4", dir)
	if err != nil || s.Path != clip || s.Kind != KindFile || s.URI != "file:media/c.mp4" {
		t.Fatalf("got %+v, %v", s, err)
	}
	if _, err := ParseIn("file:media/none.mp4", dir); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "media", "none.mp4")) {
		t.Fatalf("missing relative file: %v", err)
	}
}
