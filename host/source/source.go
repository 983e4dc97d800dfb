// Package source parses and validates the source URI of a stream. It is a
// leaf shared by config validation and capture, so both agree on what a URI
// means without capture depending on config.
package source

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Kind is the family of a source.
type Kind string

// Source kinds supported now. Network kinds (rtsp, rtmp, hls, v4l2) follow.
const (
	KindFile Kind = "file"
	KindTest Kind = "test"
)

// TestPatterns are the videotestsrc patterns a test:// source may name.
var TestPatterns = []string{
	"smpte", "snow", "black", "white", "red", "green", "blue",
	"checkers-1", "checkers-2", "checkers-4", "checkers-8", "circular",
	"blink", "smpte75", "zone-plate", "gamut", "chroma-zone-plate",
	"solid-color", "ball", "smpte100", "bar", "pinwheel", "spokes",
	"gradient", "colors",
}

// Spec is a parsed, validated source description. Pipelines are built from
// its fields, never by pasting the user's string into a launch line.
type Spec struct {
	URI  string
	Kind Kind
	// Path is the absolute file path of a file source.
	Path string
	// Pattern, Width, Height, FPS and Duration describe a test source.
	// Duration zero means endless.
	Pattern  string
	Width    int
	Height   int
	FPS      int
	Duration time.Duration
	// AudioFreq is the sine frequency of a test source's audio; 0 = no audio.
	AudioFreq float64
}

// ErrUnsupportedScheme is returned for schemes this build cannot open yet.
var ErrUnsupportedScheme = errors.New("unsupported source scheme")

// Parse validates uri and returns its Spec. It checks that a file source
// exists and can be opened, so a bad path fails at start, not mid-run.
// A relative "file:dir/clip.mp4" is taken relative to the working directory.
func Parse(uri string) (Spec, error) { return ParseIn(uri, "") }

// ParseIn is Parse with relative file sources ("file:media/clip.mp4", no
// slashes after the colon) resolved against baseDir, which config uses to
// make paths relative to the config file, so a repo's configs travel with it.
func ParseIn(uri, baseDir string) (Spec, error) {
	if rest, ok := strings.CutPrefix(uri, "file:"); ok && rest != "" && !strings.HasPrefix(rest, "/") {
		p, err := filepath.Abs(filepath.Join(baseDir, filepath.FromSlash(rest)))
		if err != nil {
			return Spec{}, fmt.Errorf("file source %q: %w", uri, err)
		}
		s, err := parseFile(uri, &url.URL{Scheme: "file", Path: p})
		s.URI = uri
		return s, err
	}
	u, err := url.Parse(uri)
	if err != nil {
		return Spec{}, fmt.Errorf("invalid URI %q: %w", uri, err)
	}
	switch u.Scheme {
	case "file":
		return parseFile(uri, u)
	case "test":
		return parseTest(uri, u)
	case "rtsp", "rtsps", "rtmp", "http", "https", "v4l2":
		return Spec{}, fmt.Errorf("%w %q (network and device sources are not supported yet; use file:// or test://)", ErrUnsupportedScheme, u.Scheme)
	case "":
		return Spec{}, fmt.Errorf("%w: %q has no scheme (use file:///abs/path or test://pattern)", ErrUnsupportedScheme, uri)
	default:
		return Spec{}, fmt.Errorf("%w %q", ErrUnsupportedScheme, u.Scheme)
	}
}

func parseFile(uri string, u *url.URL) (Spec, error) {
	if u.Host != "" && u.Host != "localhost" {
		return Spec{}, fmt.Errorf("file URI %q must be file:///absolute/path", uri)
	}
	p := u.Path
	if !filepath.IsAbs(p) {
		return Spec{}, fmt.Errorf("file URI %q must hold an absolute path", uri)
	}
	f, err := os.Open(p)
	if err != nil {
		return Spec{}, fmt.Errorf("cannot open %s: %w", p, err)
	}
	st, err := f.Stat()
	f.Close()
	if err != nil {
		return Spec{}, fmt.Errorf("cannot stat %s: %w", p, err)
	}
	if st.IsDir() {
		return Spec{}, fmt.Errorf("%s is a directory, not a media file", p)
	}
	return Spec{URI: uri, Kind: KindFile, Path: filepath.Clean(p)}, nil
}

func parseTest(uri string, u *url.URL) (Spec, error) {
	s := Spec{URI: uri, Kind: KindTest, Pattern: u.Host, Width: 640, Height: 480, FPS: 30}
	if s.Pattern == "" {
		s.Pattern = strings.TrimPrefix(u.Opaque, "//")
	}
	if s.Pattern == "" {
		s.Pattern = "smpte"
	}
	if !validPattern(s.Pattern) {
		return Spec{}, fmt.Errorf("test source %q: unknown pattern %q (one of %s)", uri, s.Pattern, strings.Join(TestPatterns, ", "))
	}
	q := u.Query()
	for key := range q {
		switch key {
		case "width", "height", "fps", "duration", "audio":
		default:
			return Spec{}, fmt.Errorf("test source %q: unknown parameter %q (width, height, fps, duration, audio)", uri, key)
		}
	}
	ints := []struct {
		key      string
		dst      *int
		min, max int
	}{{"width", &s.Width, 16, 7680}, {"height", &s.Height, 16, 4320}, {"fps", &s.FPS, 1, 240}}
	for _, p := range ints {
		v := q.Get(p.key)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < p.min || n > p.max {
			return Spec{}, fmt.Errorf("test source %q: %s must be an integer %d..%d, got %q", uri, p.key, p.min, p.max, v)
		}
		*p.dst = n
	}
	if v := q.Get("duration"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return Spec{}, fmt.Errorf("test source %q: duration must be a positive duration like 3s, got %q", uri, v)
		}
		s.Duration = d
	}
	if v := q.Get("audio"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 20 || f > 8000 {
			return Spec{}, fmt.Errorf("test source %q: audio must be a frequency 20..8000 Hz, got %q", uri, v)
		}
		s.AudioFreq = f
	}
	return s, nil
}

func validPattern(p string) bool {
	for _, t := range TestPatterns {
		if t == p {
			return true
		}
	}
	return false
}
