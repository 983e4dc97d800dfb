package source

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustSpec(t *testing.T, uri string) Spec {
	t.Helper()
	s, err := Parse(uri)
	if err != nil {
		t.Fatalf("Parse(%q): %v", uri, err)
	}
	return s
}

func TestParsePolicyErrors(t *testing.T) {
	tests := []struct {
		entries []string
		want    string
	}{
		{[]string{"test", "file:/m/", "rtsp//x"}, `allow[2]: "rtsp//x": unknown entry`},
		{[]string{""}, `allow[0]: "": empty entry`},
		{[]string{"file:relative/dir"}, `allow[0]: "file:relative/dir": file prefix must be an absolute path`},
		{[]string{"file://host/dir"}, "no host"},
		{[]string{"ftp://x"}, `unknown scheme "ftp"`},
		{[]string{"rtsp://"}, "missing host"},
		{[]string{"rtsp://cam/path"}, "no path, query or credentials"},
		{[]string{"rtsp://u:pw@cam"}, `allow[0]: "rtsp://u:xxxxx@cam": a host rule takes`},
		{[]string{"rtsp://cam:0"}, "port must be 1..65535"},
		{[]string{"rtsp://cam:70000"}, "port must be 1..65535"},
		{[]string{"rtsp://cam:"}, "empty port"},
		{[]string{"rtsp://a*.example.com"}, "only * or a leading *."},
		{[]string{"rtsp://*."}, "bad wildcard host"},
		{[]string{"rtsp://*.*.com"}, "bad wildcard host"},
		{[]string{"rtsp://::1"}, "IPv6 addresses go in brackets"},
		{[]string{"rtsp://[zz]"}, "bad IPv6 address"},
		{[]string{"rtsp://[::1"}, "unclosed ["},
		{[]string{"rtsp://bad_host!"}, "bad host"},
		{[]string{"v4l2:/dev/sda"}, "want v4l2 or v4l2:/dev/videoN"},
		{[]string{"camera"}, "unknown entry"},
	}
	for _, tc := range tests {
		_, err := ParsePolicy(tc.entries)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParsePolicy(%q) = %v, want it to contain %q", tc.entries, err, tc.want)
		}
	}
}

func TestPolicyCheck(t *testing.T) {
	dir := t.TempDir()
	mk := func(rel string) string {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	inA := mk("media/a/clip.mp4")
	inAB := mk("media/ab/x.mp4")
	secret := mk("secret/key.mp4")
	// A symlink inside the allowed tree pointing out of it, and a symlinked
	// prefix whose target holds the file.
	escape := filepath.Join(dir, "media/a/escape.mp4")
	if err := os.Symlink(secret, escape); err != nil {
		t.Fatal(err)
	}
	alias := filepath.Join(dir, "alias")
	if err := os.Symlink(filepath.Join(dir, "media/a"), alias); err != nil {
		t.Fatal(err)
	}

	p, err := ParsePolicy([]string{
		"test",
		"file:" + dir + "/media/a/",
		"rtsp://cam1.local",
		"rtsp://cam2.local:8554",
		"RTSP://*.Cams.Example.com",
		"rtmp://*",
		"https://cdn.example.com:443",
		"rtsps://[::1]:322",
		"v4l2:/dev/video0",
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		spec Spec
		ok   bool
	}{
		{"test", mustSpec(t, "test://ball"), true},
		{"file in prefix", mustSpec(t, "file://"+inA), true},
		{"file via dotdot stays in", Spec{Kind: KindFile, Path: dir + "/media/a/../a/clip.mp4"}, true},
		{"file in sibling with common prefix", mustSpec(t, "file://"+inAB), false},
		{"file dotdot escape", Spec{Kind: KindFile, Path: dir + "/media/a/../../secret/key.mp4"}, false},
		{"file symlink escape", mustSpec(t, "file://"+escape), false},
		{"file outside", mustSpec(t, "file://"+secret), false},
		{"file through symlinked dir", mustSpec(t, "file://"+filepath.Join(alias, "clip.mp4")), true},
		{"relative path", Spec{Kind: KindFile, Path: "media/a/clip.mp4"}, false},
		{"rtsp host any port", mustSpec(t, "rtsp://CAM1.local:9000/x"), true},
		{"rtsp host default port", mustSpec(t, "rtsp://cam2.local:8554/x"), true},
		{"rtsp host wrong port", mustSpec(t, "rtsp://cam2.local/x"), false},
		{"rtsps not rtsp", mustSpec(t, "rtsps://cam1.local/x"), false},
		{"wildcard subdomain", mustSpec(t, "rtsp://a.b.cams.example.com/x"), true},
		{"wildcard not apex", mustSpec(t, "rtsp://cams.example.com/x"), false},
		{"wildcard not suffix trick", mustSpec(t, "rtsp://evilcams.example.com/x"), false},
		{"credentials ignored", mustSpec(t, "rtsp://u:p@x.cams.example.com/x"), true},
		{"rtmp any host", mustSpec(t, "rtmp://anything:1935/live/x"), true},
		{"rtmps not covered", mustSpec(t, "rtmps://anything/live/x"), false},
		{"hls default port", mustSpec(t, "https://cdn.example.com/x.m3u8"), true},
		{"hls other port", mustSpec(t, "https://cdn.example.com:8443/x.m3u8"), false},
		{"hls http", mustSpec(t, "http://cdn.example.com/x.m3u8"), false},
		{"ipv6 canonical", mustSpec(t, "rtsps://[0:0::1]/x"), true},
		{"v4l2 listed", mustSpec(t, "v4l2:///dev/video0"), true},
		{"v4l2 other", mustSpec(t, "v4l2:///dev/video1"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := p.Check(tc.spec)
			if tc.ok && err != nil {
				t.Fatalf("Check = %v, want allowed", err)
			}
			if !tc.ok && !errors.Is(err, ErrNotAllowed) {
				t.Fatalf("Check = %v, want ErrNotAllowed", err)
			}
		})
	}

	err = p.Check(mustSpec(t, "rtsp://admin:hunter22@other.local/x"))
	msg := err.Error()
	if strings.Contains(msg, "hunter22") || !strings.Contains(msg, `"rtsp://admin:xxxxx@other.local/x"`) ||
		!strings.Contains(msg, "allowed: test, file:"+dir+"/media/a/, rtsp://cam1.local, rtsp://cam2.local:8554, rtsp://*.cams.example.com, rtmp://*, https://cdn.example.com:443, rtsps://[::1]:322, v4l2:/dev/video0") {
		t.Errorf("message %q", msg)
	}
}

func TestPolicyDefaults(t *testing.T) {
	specs := []Spec{mustSpec(t, "test://ball"), mustSpec(t, "rtsp://cam/x"), mustSpec(t, "v4l2:///dev/video3")}
	var nilPolicy *Policy
	for _, s := range specs {
		if err := AllowAll().Check(s); err != nil {
			t.Errorf("AllowAll: %v", err)
		}
		if err := nilPolicy.Check(s); err != nil {
			t.Errorf("nil policy: %v", err)
		}
	}
	empty, err := ParsePolicy(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := empty.Check(specs[0]); !errors.Is(err, ErrNotAllowed) || !strings.Contains(err.Error(), "allowed: nothing") {
		t.Errorf("empty policy: %v", err)
	}
	anyDev, err := ParsePolicy([]string{"v4l2", "file:/"})
	if err != nil {
		t.Fatal(err)
	}
	if err := anyDev.Check(specs[2]); err != nil {
		t.Errorf("v4l2 any: %v", err)
	}
	if err := anyDev.Check(Spec{Kind: KindFile, Path: "/etc/hostname"}); err != nil {
		t.Errorf("file:/ allows everything: %v", err)
	}
}
