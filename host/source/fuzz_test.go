package source

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that what it accepts is
// consistent, and that neither a Spec's shown forms nor an error leak the
// URI's password. Seeds: testdata/fuzz/FuzzParse and the f.Add calls.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"test://ball?fps=5", "rtsp://u:p@cam:554/x?transport=tcp&latency=100", "rtmp://h/app/key",
		"https://cdn/x.m3u8", "v4l2:///dev/video0", "file:///nonexistent", "rtsp://[::1]:80/", "http://h/x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		pw := ""
		if u, err := url.Parse(uri); err == nil && u.User != nil {
			pw, _ = u.User.Password()
		}
		secret := len(pw) >= 4 && !strings.Contains(Redact(uri), pw)
		s, err := Parse(uri)
		if err != nil {
			if secret && strings.Contains(err.Error(), pw) {
				t.Fatalf("error %q leaks the password", err)
			}
			return
		}
		if s.URI != uri {
			t.Fatalf("URI %q, want %q", s.URI, uri)
		}
		switch s.Kind {
		case KindFile, KindTest:
			if s.Live() {
				t.Fatal("file or test source is live")
			}
		case KindRTSP, KindRTMP, KindHLS:
			if !s.Live() || s.Host == "" || s.Port < 1 || s.Port > 65535 {
				t.Fatalf("bad network spec %+v", s)
			}
			if s.Kind == KindRTSP && (s.Latency < 0 || s.Latency > MaxRTSPLatency || s.Transport == "") {
				t.Fatalf("bad rtsp spec %+v", s)
			}
			if loc, err := url.Parse(s.Location()); err != nil || loc.User != nil {
				t.Fatalf("Location %q: %v", s.Location(), err)
			}
		case KindV4L2:
			if !validDevice(s.Device) {
				t.Fatalf("bad device %q", s.Device)
			}
		default:
			t.Fatalf("unknown kind %q", s.Kind)
		}
		if secret {
			if strings.Contains(s.Redacted(), pw) || strings.Contains(s.Location(), pw) {
				t.Fatalf("Redacted %q or Location %q leaks the password", s.Redacted(), s.Location())
			}
		}
		if err := AllowAll().Check(s); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzParsePolicy checks that ParsePolicy never panics, names the entry in
// its errors, and that Check on a parsed policy answers nil or ErrNotAllowed.
// The input holds newline-separated entries.
func FuzzParsePolicy(f *testing.F) {
	for _, s := range []string{"test\nfile:/media/", "rtsp://*.example.com\nrtsp://h:554", "v4l2\nrtmps://*", "https://[::1]:8443"} {
		f.Add(s)
	}
	specs := []Spec{
		{Kind: KindTest}, {Kind: KindFile, Path: "/media/x.mp4"}, {Kind: KindFile, Path: "/"},
		{Kind: KindRTSP, Scheme: "rtsp", Host: "a.example.com", Port: 554},
		{Kind: KindRTMP, Scheme: "rtmps", Host: "::1", Port: 443},
		{Kind: KindHLS, Scheme: "https", Host: "cdn", Port: 8443},
		{Kind: KindV4L2, Device: "/dev/video0"},
	}
	f.Fuzz(func(t *testing.T, in string) {
		entries := strings.Split(in, "\n")
		p, err := ParsePolicy(entries)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "allow[") {
				t.Fatalf("error %q does not name the entry", err)
			}
			return
		}
		for _, s := range specs {
			if err := p.Check(s); err != nil && !errors.Is(err, ErrNotAllowed) {
				t.Fatalf("Check(%+v) = %v", s, err)
			}
		}
	})
}
