package source

import (
	"slices"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	tests := []struct {
		name, uri, want string
	}{
		{"rtsp user-info and token",
			"rtsp://admin:s3cr%40t@cam:554/h264?transport=tcp&token=abc123&channel=2",
			"rtsp://admin:xxxxx@cam:554/h264?transport=tcp&token=xxxxx&channel=2"},
		{"rtsp query only",
			"rtsp://cam/x?latency=50&auth=Zm9vOmJhcg%3D%3D",
			"rtsp://cam/x?latency=50&auth=xxxxx"},
		{"rtmp stream key parameter",
			"rtmp://live.example/app/stream?key=sk_live_123&quality=hd",
			"rtmp://live.example/app/stream?key=xxxxx&quality=hd"},
		{"rtmps user-info and query",
			"rtmps://bob:pw@live.example:443/app/s?streamKey=abc&Passwd=p2",
			"rtmps://bob:xxxxx@live.example:443/app/s?streamKey=xxxxx&Passwd=xxxxx"},
		{"hls S3 presigned",
			"https://b.s3.amazonaws.com/live/index.m3u8?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20250101%2Fus-east-1&X-Amz-Date=20250101T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=deadbeef&x-id=GetObject",
			"https://b.s3.amazonaws.com/live/index.m3u8?X-Amz-Algorithm=xxxxx&X-Amz-Credential=xxxxx&X-Amz-Date=xxxxx&X-Amz-Expires=xxxxx&X-Amz-SignedHeaders=xxxxx&X-Amz-Signature=xxxxx&x-id=GetObject"},
		{"hls lower-case amz and goog",
			"https://cdn/x.m3u8?x-amz-security-token=t&X-Goog-Signature=s&Expires=9",
			"https://cdn/x.m3u8?x-amz-security-token=xxxxx&X-Goog-Signature=xxxxx&Expires=9"},
		{"hls Azure SAS",
			"https://acct.blob.core.windows.net/c/x.m3u8?sv=2020-08-04&se=2025-01-01&sig=abc%2Bdef%3D",
			"https://acct.blob.core.windows.net/c/x.m3u8?sv=2020-08-04&se=2025-01-01&sig=xxxxx"},
		{"hls user-info and query",
			"https://u:p@cdn/x.m3u8?token=t1&latency=9",
			"https://u:xxxxx@cdn/x.m3u8?token=xxxxx&latency=9"},
		{"names case-insensitively",
			"https://h/x.m3u8?TOKEN=a&Key=b&SIG=c&Signature=d&PASSWORD=e&pwd=f&Secret=g&AUTH=h&Access_Token=i&APIKEY=j&Api_Key=k",
			"https://h/x.m3u8?TOKEN=xxxxx&Key=xxxxx&SIG=xxxxx&Signature=xxxxx&PASSWORD=xxxxx&pwd=xxxxx&Secret=xxxxx&AUTH=xxxxx&Access_Token=xxxxx&APIKEY=xxxxx&Api_Key=xxxxx"},
		{"names by last word or suffix",
			"https://h/x.m3u8?auth_token=a&client-secret=b&X-Api-Key=c&accessToken=d&accesstoken=e&upload.sig=f&hdnts_token=g",
			"https://h/x.m3u8?auth_token=xxxxx&client-secret=xxxxx&X-Api-Key=xxxxx&accessToken=xxxxx&accesstoken=xxxxx&upload.sig=xxxxx&hdnts_token=xxxxx"},
		{"look-alikes kept",
			"https://h/x.m3u8?monkey=1&keyframe=2&author=3&tokens=4&signed=5&key_id=6&authority=7",
			"https://h/x.m3u8?monkey=1&keyframe=2&author=3&tokens=4&signed=5&key_id=6&authority=7"},
		{"escaped name",
			"https://h/x.m3u8?%74oken=abc&a%5Fkey=def",
			"https://h/x.m3u8?%74oken=xxxxx&a%5Fkey=xxxxx"},
		{"plus and escapes in the value",
			"rtsp://cam/x?token=a+b%2Fc%3D&n=1",
			"rtsp://cam/x?token=xxxxx&n=1"},
		{"repeated parameter",
			"rtsp://cam/x?token=a&token=b",
			"rtsp://cam/x?token=xxxxx&token=xxxxx"},
		{"empty value and no value kept",
			"rtsp://cam/x?token=&key&x=1",
			"rtsp://cam/x?token=&key&x=1"},
		{"value with '='",
			"rtsp://cam/x?sig=a=b==&x=1",
			"rtsp://cam/x?sig=xxxxx&x=1"},
		{"semicolon separator",
			"rtsp://cam/x?a=1;token=abc",
			"rtsp://cam/x?a=1;token=xxxxx"},
		{"fragment",
			"https://h/x.m3u8?n=1#access_token=abc&scope=x",
			"https://h/x.m3u8?n=1#access_token=xxxxx&scope=x"},
		{"user name without password kept",
			"rtmp://bob@host/app/key?x=1",
			"rtmp://bob@host/app/key?x=1"},
		{"no query",
			"rtsp://admin:pw@cam/x",
			"rtsp://admin:xxxxx@cam/x"},
		{"test source untouched",
			"test://ball?fps=5&width=320",
			"test://ball?fps=5&width=320"},
		{"opaque file URI",
			"file:media/clip.mp4?token=abc",
			"file:media/clip.mp4?token=xxxxx"},
		{"unparseable: user-info and query",
			"rtsp://u:topsecret@cam:99x/?token=abc&n=1",
			"rtsp://u:xxxxx@cam:99x/?token=xxxxx&n=1"},
		{"unparseable: query and fragment",
			"rtsp://cam:99x/p?key=abc#sig=def",
			"rtsp://cam:99x/p?key=xxxxx#sig=xxxxx"},
		{"unparseable: invalid escape in the value",
			"rtsp://cam:99x/p?token=%zz",
			"rtsp://cam:99x/p?token=xxxxx"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Redact(tc.uri); got != tc.want {
				t.Errorf("Redact(%q)\n got %q\nwant %q", tc.uri, got, tc.want)
			}
			if got := (Spec{URI: tc.uri}).Redacted(); got != tc.want {
				t.Errorf("Redacted() = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestRedactParsed: the sources Parse accepts show their credentials
// redacted, and keep them where the connection needs them (Location).
func TestRedactParsed(t *testing.T) {
	tests := []struct {
		uri, redacted, location string
	}{
		{"rtsp://admin:pw@cam/h264?token=abc&transport=tcp", "rtsp://admin:xxxxx@cam/h264?token=xxxxx&transport=tcp",
			"rtsp://cam/h264?token=abc"},
		{"rtmp://live.example/app/s?key=k1", "rtmp://live.example/app/s?key=xxxxx", "rtmp://live.example/app/s?key=k1"},
		{"https://cdn.example.com/a/index.m3u8?token=t1&n=2", "https://cdn.example.com/a/index.m3u8?token=xxxxx&n=2",
			"https://cdn.example.com/a/index.m3u8?token=t1&n=2"},
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
	}
	// Errors about a URI quote it redacted.
	for _, uri := range []string{
		"rtsp://cam:0/x?token=topsecret", "rtsp://cam/x?token=topsecret&transport=x",
		"https://cdn/x.mp4?sig=topsecret", "rtmp://h?key=topsecret", "rtsp://cam:99x/?token=topsecret",
		"test://nope?token=topsecret",
	} {
		_, err := Parse(uri)
		if err == nil || strings.Contains(err.Error(), "topsecret") {
			t.Errorf("Parse(%q) error %v shows the token", uri, err)
		}
	}
}

func TestSecrets(t *testing.T) {
	tests := []struct {
		uri  string
		want []string
	}{
		{"rtsp://cam/x", nil},
		{"rtsp://u:p%40ss@cam/x?token=a%2Bb&n=1", []string{"p%40ss", "p@ss", "a%2Bb", "a+b"}},
		{"https://cdn/x.m3u8?X-Amz-Signature=abc&sig=abc#access_token=frag", []string{"abc", "frag"}},
		{"rtsp://cam/x?token=&key", nil},
		{"rtsp://cam:99x/?token=a", nil}, // url.Parse refuses it: Parse would too
	}
	for _, tc := range tests {
		if got := (Spec{URI: tc.uri}).Secrets(); !slices.Equal(got, tc.want) {
			t.Errorf("Secrets(%q) = %q, want %q", tc.uri, got, tc.want)
		}
	}
}
