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

// Source kinds.
const (
	KindFile Kind = "file"
	KindTest Kind = "test"
	// KindRTSP is an rtsp:// or rtsps:// camera or server.
	KindRTSP Kind = "rtsp"
	// KindRTMP is an rtmp:// or rtmps:// stream (played, not published).
	KindRTMP Kind = "rtmp"
	// KindHLS is an http:// or https:// HLS playlist (.m3u8).
	KindHLS Kind = "hls"
	// KindV4L2 is a local Video4Linux2 device.
	KindV4L2 Kind = "v4l2"
)

// Transport is the RTSP lower transport.
type Transport string

// RTSP transports: auto tries UDP first and falls back to TCP (interleaved)
// when no UDP packet arrives; tcp and udp use only that one.
const (
	TransportAuto Transport = "auto"
	TransportTCP  Transport = "tcp"
	TransportUDP  Transport = "udp"
)

// DefaultRTSPLatency is the RTSP jitter buffer latency when the URI sets none.
const DefaultRTSPLatency = 200 * time.Millisecond

// MaxRTSPLatency bounds the latency= parameter.
const MaxRTSPLatency = 10 * time.Second

// defaultPorts are the ports of network schemes whose URI names none.
var defaultPorts = map[string]int{
	"rtsp": 554, "rtsps": 322, "rtmp": 1935, "rtmps": 443, "http": 80, "https": 443,
}

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
//
// URI may hold credentials (rtsp://user:pass@cam/..., ?token=...): log,
// show and store Redacted(), never URI.
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

	// Scheme, Host and Port locate a network source (rtsp, rtsps, rtmp,
	// rtmps, http, https). Host is lower case, an IPv6 address without
	// brackets; Port is the URI's or the scheme's default (554, 322, 1935,
	// 443, 80, 443).
	Scheme string
	Host   string
	Port   int
	// Transport and Latency configure an RTSP source (query parameters
	// transport=tcp|udp|auto, latency=MS; defaults auto and 200 ms). They
	// are not sent to the server.
	Transport Transport
	Latency   time.Duration
	// Device is the device path of a V4L2 source (/dev/videoN).
	Device string

	// ImageFPS, for a file source that is a still image (PNG, JPEG, ...),
	// is the rate of the endless video capture makes of it; 0 refuses a
	// still image. It is not part of the URI: a stream's image block sets
	// it (host/config).
	ImageFPS int
}

// Live reports whether the source is a live network stream or a device:
// it runs in real time, may fail and come back, and is never replayed.
// (Whether a test source runs live is the capture's choice.)
func (s Spec) Live() bool {
	switch s.Kind {
	case KindRTSP, KindRTMP, KindHLS, KindV4L2:
		return true
	}
	return false
}

// Redacted is the URI with its password and the values of its credential
// query parameters replaced by "xxxxx" (see Redact): what logs, errors, APIs
// and the store show.
func (s Spec) Redacted() string { return Redact(s.URI) }

// Credentials returns the user name and password in the URI's userinfo.
func (s Spec) Credentials() (user, password string, ok bool) {
	u, err := url.Parse(s.URI)
	if err != nil || u.User == nil {
		return "", "", false
	}
	p, _ := u.User.Password()
	return u.User.Username(), p, true
}

// Location is the URI a network source element opens: without userinfo
// (credentials go to the element separately, so GStreamer's own messages
// never hold them) and, for RTSP, without lsie's own transport= and
// latency= parameters. Other query parameters are kept for the server.
func (s Spec) Location() string {
	u, err := url.Parse(s.URI)
	if err != nil {
		return ""
	}
	u.User = nil
	if s.Kind == KindRTSP && u.RawQuery != "" {
		u.RawQuery = stripParams(u.RawQuery, "transport", "latency")
	}
	return u.String()
}

// stripParams removes keys from a raw query, keeping the rest as written.
func stripParams(raw string, keys ...string) string {
	var kept []string
	for _, kv := range strings.Split(raw, "&") {
		k, _, _ := strings.Cut(kv, "=")
		if uk, err := url.QueryUnescape(k); err == nil {
			k = uk
		}
		drop := false
		for _, key := range keys {
			if k == key {
				drop = true
			}
		}
		if !drop && kv != "" {
			kept = append(kept, kv)
		}
	}
	return strings.Join(kept, "&")
}

// ErrUnsupportedScheme is returned for schemes this build cannot open.
var ErrUnsupportedScheme = errors.New("unsupported source scheme")

// Parse validates uri and returns its Spec. It checks that a file source
// exists and can be opened, so a bad path fails at start, not mid-run.
// A relative "file:dir/clip.mp4" is taken relative to the working directory.
// Errors show the URI redacted.
func Parse(uri string) (Spec, error) { return ParseIn(uri, "") }

// ParseIn is Parse with relative file sources ("file:media/clip.mp4", no
// slashes after the colon) resolved against baseDir, which config uses to
// make paths relative to the config file, so a repo's configs travel with it.
func ParseIn(uri, baseDir string) (Spec, error) {
	if rest, ok := strings.CutPrefix(uri, "file:"); ok && rest != "" && !strings.HasPrefix(rest, "/") {
		p, err := filepath.Abs(filepath.Join(baseDir, filepath.FromSlash(rest)))
		if err != nil {
			return Spec{}, fmt.Errorf("file source %q: %w", Redact(uri), err)
		}
		s, err := parseFile(uri, &url.URL{Scheme: "file", Path: p})
		s.URI = uri
		return s, err
	}
	u, err := url.Parse(uri)
	if err != nil {
		// url.Error repeats the URI unredacted: keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Spec{}, fmt.Errorf("invalid URI %q: %w", Redact(uri), err)
	}
	switch u.Scheme {
	case "file":
		return parseFile(uri, u)
	case "test":
		return parseTest(uri, u)
	case "rtsp", "rtsps":
		return parseRTSP(uri, u)
	case "rtmp", "rtmps":
		return parseRTMP(uri, u)
	case "http", "https":
		return parseHLS(uri, u)
	case "v4l2":
		return parseV4L2(uri, u)
	case "":
		return Spec{}, fmt.Errorf("%w: %q has no scheme (use file:///abs/path, test://pattern, rtsp://, rtmp://, https://.../x.m3u8 or v4l2:///dev/videoN)", ErrUnsupportedScheme, Redact(uri))
	default:
		return Spec{}, fmt.Errorf("%w %q", ErrUnsupportedScheme, u.Scheme)
	}
}

// parseNet checks the parts every network URI shares: a host and a port
// 1..65535 (the scheme's default when the URI names none).
func parseNet(uri string, u *url.URL, kind Kind) (Spec, error) {
	s := Spec{URI: uri, Kind: kind, Scheme: u.Scheme}
	if u.Opaque != "" {
		return Spec{}, fmt.Errorf("%s source %q: want %s://host[:port]/path", kind, Redact(uri), u.Scheme)
	}
	s.Host = strings.ToLower(u.Hostname())
	if s.Host == "" {
		return Spec{}, fmt.Errorf("%s source %q: missing host", kind, Redact(uri))
	}
	s.Port = defaultPorts[u.Scheme]
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Spec{}, fmt.Errorf("%s source %q: port must be 1..65535, got %q", kind, Redact(uri), p)
		}
		s.Port = n
	} else if strings.HasSuffix(u.Host, ":") {
		return Spec{}, fmt.Errorf("%s source %q: empty port", kind, Redact(uri))
	}
	return s, nil
}

func parseRTSP(uri string, u *url.URL) (Spec, error) {
	s, err := parseNet(uri, u, KindRTSP)
	if err != nil {
		return Spec{}, err
	}
	s.Transport, s.Latency = TransportAuto, DefaultRTSPLatency
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Spec{}, fmt.Errorf("rtsp source %q: bad query: %v", Redact(uri), err)
	}
	if v, ok := q["transport"]; ok {
		switch t := Transport(strings.ToLower(v[0])); {
		case len(v) > 1:
			return Spec{}, fmt.Errorf("rtsp source %q: transport given %d times", Redact(uri), len(v))
		case t == TransportAuto || t == TransportTCP || t == TransportUDP:
			s.Transport = t
		default:
			return Spec{}, fmt.Errorf("rtsp source %q: transport must be tcp, udp or auto, got %q", Redact(uri), v[0])
		}
	}
	if v, ok := q["latency"]; ok {
		n, err := strconv.Atoi(v[0])
		if len(v) > 1 || err != nil || n < 0 || time.Duration(n)*time.Millisecond > MaxRTSPLatency {
			return Spec{}, fmt.Errorf("rtsp source %q: latency must be milliseconds 0..%d, got %q", Redact(uri), MaxRTSPLatency.Milliseconds(), strings.Join(v, ","))
		}
		s.Latency = time.Duration(n) * time.Millisecond
	}
	return s, nil
}

func parseRTMP(uri string, u *url.URL) (Spec, error) {
	s, err := parseNet(uri, u, KindRTMP)
	if err != nil {
		return Spec{}, err
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) < 2 || parts[0] == "" || parts[len(parts)-1] == "" {
		return Spec{}, fmt.Errorf("rtmp source %q: want %s://host[:port]/application/stream", Redact(uri), u.Scheme)
	}
	return s, nil
}

func parseHLS(uri string, u *url.URL) (Spec, error) {
	if !strings.HasSuffix(strings.ToLower(u.Path), ".m3u8") {
		return Spec{}, fmt.Errorf("%w: %s source %q: only HLS playlists (a path ending in .m3u8) are supported over http(s)", ErrUnsupportedScheme, u.Scheme, Redact(uri))
	}
	return parseNet(uri, u, KindHLS)
}

// parseV4L2 takes v4l2:///dev/videoN (or v4l2:/dev/videoN).
func parseV4L2(uri string, u *url.URL) (Spec, error) {
	p := u.Path
	if u.Opaque != "" {
		p = u.Opaque
	}
	if u.Host != "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || !validDevice(p) {
		return Spec{}, fmt.Errorf("v4l2 source %q: want v4l2:///dev/videoN", Redact(uri))
	}
	return Spec{URI: uri, Kind: KindV4L2, Device: p}, nil
}

// validDevice reports whether p is /dev/video followed by digits only.
func validDevice(p string) bool {
	n, ok := strings.CutPrefix(p, "/dev/video")
	if !ok || n == "" {
		return false
	}
	for _, r := range n {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func parseFile(uri string, u *url.URL) (Spec, error) {
	if u.Host != "" && u.Host != "localhost" {
		return Spec{}, fmt.Errorf("file URI %q must be file:///absolute/path", Redact(uri))
	}
	p := u.Path
	if !filepath.IsAbs(p) {
		return Spec{}, fmt.Errorf("file URI %q must hold an absolute path", Redact(uri))
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
		return Spec{}, fmt.Errorf("test source %q: unknown pattern %q (one of %s)", Redact(uri), s.Pattern, strings.Join(TestPatterns, ", "))
	}
	q := u.Query()
	for key := range q {
		switch key {
		case "width", "height", "fps", "duration", "audio":
		default:
			return Spec{}, fmt.Errorf("test source %q: unknown parameter %q (width, height, fps, duration, audio)", Redact(uri), key)
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
			return Spec{}, fmt.Errorf("test source %q: %s must be an integer %d..%d, got %q", Redact(uri), p.key, p.min, p.max, v)
		}
		*p.dst = n
	}
	if v := q.Get("duration"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return Spec{}, fmt.Errorf("test source %q: duration must be a positive duration like 3s, got %q", Redact(uri), v)
		}
		s.Duration = d
	}
	if v := q.Get("audio"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 20 || f > 8000 {
			return Spec{}, fmt.Errorf("test source %q: audio must be a frequency 20..8000 Hz, got %q", Redact(uri), v)
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
