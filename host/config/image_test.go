package config

import (
	"os"
	"path/filepath"
	"testing"
)

// The image block: a still image runs at its rate (1 unless given), the
// rate reaches capture through the parsed source, and a video file with
// the block is left alone.
func TestImageBlock(t *testing.T) {
	dir := t.TempDir()
	png, err := os.ReadFile(filepath.Join("testdata", "bad", "still.png"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"still.png": png, "clip.mp4": []byte("not really a video")} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, hcl, json string
		want            int // Image.FPS and Source.ImageFPS
	}{
		{name: "rate given", hcl: `image { fps = 2 }`, json: `"image": {"fps": 2}`, want: 2},
		{name: "default rate", hcl: `image {}`, json: `"image": {}`, want: 1},
		{name: "bounds inclusive", hcl: `image { fps = 60 }`, json: `"image": {"fps": 60}`, want: 60},
	}
	for _, tc := range tests {
		for _, file := range []string{"still.png", "clip.mp4"} {
			t.Run(tc.name+" "+file, func(t *testing.T) {
				c, err := Parse([]byte(`stream "s" {
  source = "file:`+file+`"
  `+tc.hcl+`
}`), filepath.Join(dir, "t.hcl"))
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				s, err := ParseStream([]byte(`{"id": "s", "source": "file:`+file+`", `+tc.json+`}`), dir, nil)
				if err != nil {
					t.Fatalf("ParseStream: %v", err)
				}
				for _, got := range []Stream{c.Streams[0], s} {
					if got.Image.FPS != tc.want || got.Source.ImageFPS != tc.want {
						t.Errorf("image fps %d, source's %d; want %d", got.Image.FPS, got.Source.ImageFPS, tc.want)
					}
				}
			})
		}
	}
	// Without the block a video file is fine, a still image refused (the
	// golden files hold the messages).
	c, err := Parse([]byte(`stream "s" { source = "file:clip.mp4" }`), filepath.Join(dir, "t.hcl"))
	if err != nil || c.Streams[0].Source.ImageFPS != 0 || c.Streams[0].Image != (Image{}) {
		t.Errorf("video without image block: %v, %+v", err, c)
	}
	if _, err := Parse([]byte(`stream "s" { source = "file:still.png" }`), filepath.Join(dir, "t.hcl")); err == nil {
		t.Error("still image without image block accepted")
	}
}

func TestStillImageFormat(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, head, want string
	}{
		{"png", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG"},
		{"jpeg", "\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG"},
		{"gif", "GIF89a\x10\x00", "GIF"},
		{"webp", "RIFF\x24\x00\x00\x00WEBPVP8 ", "WebP"},
		{"wav", "RIFF\x24\x00\x00\x00WAVEfmt ", ""},
		{"mp4", "\x00\x00\x00\x20ftypisom", ""},
		{"short", "\x89P", ""},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			if err := os.WriteFile(p, []byte(tc.head), 0o600); err != nil {
				t.Fatal(err)
			}
			if got := stillImageFormat(p); got != tc.want {
				t.Errorf("stillImageFormat = %q, want %q", got, tc.want)
			}
		})
	}
	if got := stillImageFormat(filepath.Join(dir, "gone")); got != "" {
		t.Errorf("missing file: %q", got)
	}
}
