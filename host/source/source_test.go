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
		{"no scheme", "/abs/clip.mp4", Spec{}, "has no scheme"},
		{"unknown scheme", "srt://cam:9000", Spec{}, `unsupported source scheme "srt"`},

		{"rtsp defaults", "rtsp://Cam.local/stream",
			Spec{Kind: KindRTSP, Scheme: "rtsp", Host: "cam.local", Port: 554, Transport: TransportAuto, Latency: 200 * time.Millisecond}, ""},
		{"rtsp params", "rtsp://user:secret@10.0.0.5:8554/live?transport=TCP&latency=0&channel=1",
			Spec{Kind: KindRTSP, Scheme: "rtsp", Host: "10.0.0.5", Port: 8554, Transport: TransportTCP}, ""},
		{"rtsps udp", "rtsps://cam/x?transport=udp&latency=10000",
			Spec{Kind: KindRTSP, Scheme: "rtsps", Host: "cam", Port: 322, Transport: TransportUDP, Latency: 10 * time.Second}, ""},
		{"rtsp ipv6", "rtsp://[::1]:8554/x", Spec{Kind: KindRTSP, Scheme: "rtsp", Host: "::1", Port: 8554, Transport: TransportAuto, Latency: 200 * time.Millisecond}, ""},
		{"rtsp bad transport", "rtsp://cam/x?transport=quic", Spec{}, "transport must be tcp, udp or auto"},
		{"rtsp latency too big", "rtsp://cam/x?latency=10001", Spec{}, "latency must be milliseconds 0..10000"},
		{"rtsp latency negative", "rtsp://cam/x?latency=-1", Spec{}, "latency must be milliseconds 0..10000"},
		{"rtsp latency twice", "rtsp://cam/x?latency=1&latency=2", Spec{}, "latency must be milliseconds"},
		{"rtsp no host", "rtsp:///stream", Spec{}, "missing host"},
		{"rtsp port 0", "rtsp://cam:0/x", Spec{}, "port must be 1..65535"},
		{"rtsp port too big", "rtsp://cam:65536/x", Spec{}, "port must be 1..65535"},
		{"rtsp bad port", "rtsp://u:hunter22@cam:x/", Spec{}, `invalid URI "rtsp://u:xxxxx@cam:x/"`},
		{"rtsp opaque", "rtsp:cam/x", Spec{}, "want rtsp://host[:port]/path"},

		{"rtmp", "rtmp://127.0.0.1:19350/live/test", Spec{Kind: KindRTMP, Scheme: "rtmp", Host: "127.0.0.1", Port: 19350}, ""},
		{"rtmps default port", "rtmps://a.example.com/app/key", Spec{Kind: KindRTMP, Scheme: "rtmps", Host: "a.example.com", Port: 443}, ""},
		{"rtmp no stream", "rtmp://host/live", Spec{}, "want rtmp://host[:port]/application/stream"},
		{"rtmp no host", "rtmp:///live/x", Spec{}, "missing host"},

		{"hls", "https://cdn.example.com/a/index.M3U8?token=1", Spec{Kind: KindHLS, Scheme: "https", Host: "cdn.example.com", Port: 443}, ""},
		{"hls http port", "http://127.0.0.1:8080/playlist.m3u8", Spec{Kind: KindHLS, Scheme: "http", Host: "127.0.0.1", Port: 8080}, ""},
		{"http not hls", "http://cam/video.mjpg", Spec{}, "only HLS playlists (a path ending in .m3u8) are supported"},
		{"hls no host", "https:///x.m3u8", Spec{}, "missing host"},

		{"v4l2", "v4l2:///dev/video0", Spec{Kind: KindV4L2, Device: "/dev/video0"}, ""},
		{"v4l2 short", "v4l2:/dev/video12", Spec{Kind: KindV4L2, Device: "/dev/video12"}, ""},
		{"v4l2 other device", "v4l2:///dev/sda", Spec{}, "want v4l2:///dev/videoN"},
		{"v4l2 traversal", "v4l2:///dev/video0/../sda", Spec{}, "want v4l2:///dev/videoN"},
		{"v4l2 host", "v4l2://host/dev/video0", Spec{}, "want v4l2:///dev/videoN"},
		{"v4l2 no number", "v4l2:///dev/video", Spec{}, "want v4l2:///dev/videoN"},
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
	if _, err := Parse("ftp://x/y"); !errors.Is(err, ErrUnsupportedScheme) {
		t.Fatalf("ftp: %v", err)
	}
	if _, err := Parse("http://x/y.mp4"); !errors.Is(err, ErrUnsupportedScheme) {
		t.Fatalf("http non-HLS: %v", err)
	}
}

func TestLive(t *testing.T) {
	for k, want := range map[Kind]bool{KindFile: false, KindTest: false, KindRTSP: true, KindRTMP: true, KindHLS: true, KindV4L2: true} {
		if got := (Spec{Kind: k}).Live(); got != want {
			t.Errorf("%s: Live() = %v", k, got)
		}
	}
}

func TestRedactAndLocation(t *testing.T) {
	tests := []struct {
		uri, redacted, location string
		user, pass              string
	}{
		{"rtsp://admin:s3cr%40t@cam:554/h264?transport=tcp&latency=50&channel=2", "rtsp://admin:xxxxx@cam:554/h264?transport=tcp&latency=50&channel=2",
			"rtsp://cam:554/h264?channel=2", "admin", "s3cr@t"},
		{"rtsp://cam/x?latency=5", "rtsp://cam/x?latency=5", "rtsp://cam/x", "", ""},
		{"rtmp://bob@host/app/key?x=1", "rtmp://bob@host/app/key?x=1", "rtmp://host/app/key?x=1", "bob", ""},
		{"https://u:p@cdn/x.m3u8?latency=9", "https://u:xxxxx@cdn/x.m3u8?latency=9", "https://cdn/x.m3u8?latency=9", "u", "p"},
	}
	for _, tc := range tests {
		s, err := Parse(tc.uri)
		if err != nil {
			t.Fatalf("%s: %v", tc.uri, err)
		}
		if got := s.Redacted(); got != tc.redacted {
			t.Errorf("Redacted() = %q, want %q", got, tc.redacted)
		}
		if got := s.Location(); got != tc.location {
			t.Errorf("Location() = %q, want %q", got, tc.location)
		}
		u, p, _ := s.Credentials()
		if u != tc.user || p != tc.pass {
			t.Errorf("Credentials() = %q, %q, want %q, %q", u, p, tc.user, tc.pass)
		}
	}
	// A URI url.Parse rejects is still redacted, and so are errors about it.
	bad := "rtsp://u:topsecret@cam:99x/"
	if got := Redact(bad); got != "rtsp://u:xxxxx@cam:99x/" {
		t.Errorf("Redact(%q) = %q", bad, got)
	}
	for _, uri := range []string{bad, "rtsp://u:topsecret@cam:0/", "rtsp://u:topsecret@cam/x?transport=x", "http://u:topsecret@h/x", "test://u:topsecret@nope"} {
		_, err := Parse(uri)
		if err == nil || strings.Contains(err.Error(), "topsecret") {
			t.Errorf("Parse(%q) error %v shows the password", uri, err)
		}
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
