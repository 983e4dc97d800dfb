package api

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/lsie-mlf/lsie/host/events"
)

// rawExchange sends a request as raw bytes, which Go's client would refuse
// to write, and reads the response.
func rawExchange(t *testing.T, addr, raw string) (*http.Response, []byte) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, testWait)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(testWait)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, body
}

// TestUnparsableRequests: what net/http refuses before any handler runs
// still gets the API's JSON error body.
func TestUnparsableRequests(t *testing.T) {
	s := New(Config{Listen: "127.0.0.1:0", Events: events.New()}, newTestStore(t), liveHealth, nil)
	addr, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	doc := loadOpenAPI(t)
	host := "Host: " + addr + "\r\n"
	const generic = "malformed request: its request line or headers could not be parsed (for example an invalid %-escape such as %ZZ in the path)"
	tests := []struct {
		name, raw  string
		status     int
		code, want string
	}{
		{"bad escape", "GET /api/v1/streams/%ZZ HTTP/1.1\r\n" + host + "\r\n", 400, codeBadRequest, generic},
		{"bad escape in segments", "GET /api/v1/streams/%ZZ/segments?limit=1 HTTP/1.1\r\n" + host + "\r\n", 400, codeBadRequest, generic},
		{"truncated escape", "DELETE /api/v1/streams/cam%2 HTTP/1.1\r\n" + host + "\r\n", 400, codeBadRequest, generic},
		{"bad escape outside the API", "GET /%zz HTTP/1.1\r\n" + host + "\r\n", 400, codeBadRequest, generic},
		{"bad header line", "GET /api/v1/health HTTP/1.1\r\n" + host + "Bad Header\r\n\r\n", 400, codeBadRequest, generic},
		{"no Host", "GET /api/v1/health HTTP/1.1\r\n\r\n", 400, codeBadRequest, "malformed request: missing required Host header"},
		{"unknown transfer encoding", "POST /api/v1/streams HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip\r\n\r\n", 501,
			codeNotImplemented, "unsupported Transfer-Encoding"},
		{"HTTP/2.1", "GET /api/v1/health HTTP/2.1\r\n" + host + "\r\n", 505, codeBadRequest, "unsupported protocol version"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := rawExchange(t, addr, tc.raw)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tc.status, body)
			}
			if !resp.Close {
				t.Error("response without Connection: close")
			}
			for k, want := range map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store",
				"X-Content-Type-Options": "nosniff"} {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
			var e errorBody
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			if e.Error.Code != tc.code || e.Error.Message != tc.want {
				t.Errorf("error %+v, want code %q message %q", e.Error, tc.code, tc.want)
			}
			if err := validateJSON(doc, map[string]any{"$ref": "#/components/schemas/Error"}, body); err != nil {
				t.Errorf("body %s is not an Error: %v", body, err)
			}
		})
	}

	// What parses is served as before through the same connections: a
	// handler's own errors and a WebSocket upgrade.
	resp, body := rawExchange(t, addr, "GET /api/v1/streams/a%2Fb/x HTTP/1.1\r\n"+host+"\r\n")
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/json" ||
		!strings.Contains(string(body), `"not_found"`) {
		t.Errorf("unknown path: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	// A body over the limit, read until the limit: the JSON 413 arrives
	// although the server closes with most of the body unread.
	s.SetStreams(&fakeManager{}, t.TempDir(), testPolicy(t))
	big := `{"id":"cam2","source":"test://ball","x":"` + strings.Repeat("a", 1<<20) + `"}`
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/api/v1/streams", io.NopCloser(strings.NewReader(big)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json") // chunked: no Content-Length to refuse it by
	hr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST too large: %v", err)
	}
	body, err = io.ReadAll(hr.Body)
	hr.Body.Close()
	if err != nil || hr.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), `"payload_too_large"`) {
		t.Errorf("POST too large: %d %s %v", hr.StatusCode, body, err)
	}

	// CONNECT names no path, so ServeMux matches no pattern and would
	// answer its plain-text 404.
	resp, body = rawExchange(t, addr, "CONNECT "+addr+" HTTP/1.1\r\n"+host+"\r\n")
	if want := `{"error":{"code":"not_found","message":"no endpoint for CONNECT \"` + addr + `\""}}` + "\n"; resp.StatusCode != http.StatusNotFound ||
		resp.Header.Get("Content-Type") != "application/json" || string(body) != want {
		t.Errorf("CONNECT: %d %v %s, want 404 %s", resp.StatusCode, resp.Header, body, want)
	}
	c, _, err := websocket.Dial(testCtx(t), "ws://"+addr+"/api/v1/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.CloseNow() }()
	send(t, c, map[string]any{"type": "auth", "token": ""})
	if m := recv(t, c); m["type"] != "ready" {
		t.Fatalf("live socket got %v, want ready", m)
	}
}

// TestRewriteNetHTTPError: only net/http's own plain-text answers are
// rewritten, never a response a handler wrote.
func TestRewriteNetHTTPError(t *testing.T) {
	const hdr = netHTTPErrorHeaders
	for _, tc := range []struct {
		name, in string
		status   int // 0: passed through
	}{
		{"400", "HTTP/1.1 400 Bad Request" + hdr + "400 Bad Request", 400},
		{"400 with detail", "HTTP/1.1 400 Bad Request: malformed Host header" + hdr + "400 Bad Request: malformed Host header", 400},
		{"431", "HTTP/1.1 431 Request Header Fields Too Large" + hdr + "431 Request Header Fields Too Large", 431},
		{"501", "HTTP/1.1 501 Not Implemented" + hdr + "Unsupported transfer encoding", 501},
		{"505", "HTTP/1.1 505 HTTP Version Not Supported: unsupported protocol version" + hdr +
			"505 HTTP Version Not Supported: unsupported protocol version", 505},
		{"other body", "HTTP/1.1 400 Bad Request" + hdr + "something else", 0},
		{"body longer", "HTTP/1.1 400 Bad Request" + hdr + "400 Bad Request\n", 0},
		{"handler headers", "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nDate: x\r\nConnection: close\r\n\r\n400 Bad Request", 0},
		{"success", "HTTP/1.1 200 OK" + hdr + "200 OK", 0},
		{"HTTP/1.0", "HTTP/1.0 400 Bad Request" + hdr + "400 Bad Request", 0},
		{"websocket frame", "\x81\x05hello", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, ok := rewriteNetHTTPError([]byte(tc.in))
			if ok != (tc.status != 0) {
				t.Fatalf("rewritten %v, want %v", ok, tc.status != 0)
			}
			if !ok {
				return
			}
			resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(string(out))), nil)
			if err != nil {
				t.Fatalf("%q: %v", out, err)
			}
			body, _ := io.ReadAll(resp.Body)
			var e errorBody
			if resp.StatusCode != tc.status || json.Unmarshal(body, &e) != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Errorf("got %d %q", resp.StatusCode, body)
			}
		})
	}
}
