package api

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// request sends method target to h with the given Host and extra headers.
func request(h http.Handler, method, target, host string, headers map[string]string, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Host = host
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestHostGuard(t *testing.T) {
	s := New(Config{Listen: "127.0.0.1:8080", AllowedHosts: []string{"lsie.example.com", "Proxy.example:8443", "[fd00::1]", "bad/entry"}},
		newTestStore(t), liveHealth, nil)
	h := s.Handler()
	for _, tc := range []struct {
		host string
		ok   bool
	}{
		{"localhost", true},
		{"localhost:8080", true},
		{"LocalHost:8080", true},
		{"127.0.0.1", true},
		{"127.0.0.1:8080", true},
		{"[::1]", true},
		{"[::1]:8080", true},
		{"lsie.example.com", true},
		{"lsie.example.com:8080", true},
		{"proxy.example:8443", true},
		{"[fd00::1]:8080", true},
		{"localhost:9999", false},
		{"127.0.0.1:80", false},
		{"[::1]:9999", false},
		{"127.0.0.2:8080", false},
		{"evil.example", false},
		{"evil.example:8080", false},
		{"localhost.", false},
		{"lsie.example.com:443", false},
		{"proxy.example", false},
		{"proxy.example:8080", false},
		{"::1", false},
		{"localhost:", false},
		{"bad/entry", false},
		{"", false},
	} {
		t.Run(tc.host, func(t *testing.T) {
			rec := request(h, http.MethodGet, "/api/v1/streams", tc.host, nil, "")
			if tc.ok {
				if rec.Code != http.StatusOK {
					t.Errorf("status %d, want 200; body %s", rec.Code, rec.Body)
				}
				return
			}
			if rec.Code != http.StatusMisdirectedRequest {
				t.Fatalf("status %d, want 421; body %s", rec.Code, rec.Body)
			}
			checkHeaders(t, rec)
			want := fmt.Sprintf(`{"error":{"code":"misdirected_request","message":"host %s is not served here: use localhost or the listen address, or add it to api.allowed_hosts"}}`+"\n",
				jsonQuoted(t, tc.host))
			if rec.Body.String() != want {
				t.Errorf("body\n%s\nwant\n%s", rec.Body, want)
			}
		})
	}
}

func TestHostGuardExactBody(t *testing.T) {
	h := New(Config{Listen: "127.0.0.1:8080"}, newTestStore(t), liveHealth, nil).Handler()
	rec := request(h, http.MethodGet, "/api/v1/health", "evil.example", nil, "")
	want := `{"error":{"code":"misdirected_request","message":"host \"evil.example\" is not served here: use localhost or the listen address, or add it to api.allowed_hosts"}}` + "\n"
	if rec.Code != http.StatusMisdirectedRequest || rec.Body.String() != want {
		t.Errorf("got %d %s\nwant 421 %s", rec.Code, rec.Body, want)
	}
}

// TestHostGuardBoundPort checks that after Start the loopback names are
// accepted with the port actually bound (":0" asked for any), not the one
// configured.
func TestHostGuardBoundPort(t *testing.T) {
	s := New(Config{Listen: "127.0.0.1:0"}, newTestStore(t), liveHealth, nil)
	addr, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	_, port, _ := net.SplitHostPort(addr)
	for _, tc := range []struct {
		host string
		want int
	}{
		{addr, 200},
		{"localhost:" + port, 200},
		{"[::1]:" + port, 200},
		{"localhost", 200},
		{"localhost:0", 421},
		{"localhost:7700", 421},
		{"evil.example:" + port, 421},
	} {
		t.Run(tc.host, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/api/v1/health", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = tc.host
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}

func TestOriginGuard(t *testing.T) {
	h := New(Config{Listen: "127.0.0.1:8080", AllowedHosts: []string{"lsie.example.com"}}, newTestStore(t), liveHealth, nil).Handler()
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"http://localhost:8080", true},
		{"http://localhost", true},
		{"http://127.0.0.1:8080", true},
		{"http://[::1]:8080", true},
		{"https://lsie.example.com", true},
		{"http://127.0.0.1:8080/", true},
		{"http://evil.example", false},
		{"http://evil.example:8080", false},
		{"http://localhost:9999", false},
		{"null", false},
		{"", false},
		{"file://", false},
		{"ftp://localhost:8080", false},
		{"http://user@localhost:8080", false},
		{"http://localhost:8080/page", false},
		{"localhost:8080", false},
	} {
		t.Run(tc.origin, func(t *testing.T) {
			rec := request(h, http.MethodGet, "/api/v1/streams", "localhost:8080", map[string]string{"Origin": tc.origin}, "")
			if tc.ok {
				if rec.Code != http.StatusOK {
					t.Errorf("status %d, want 200; body %s", rec.Code, rec.Body)
				}
				return
			}
			if rec.Code != http.StatusForbidden {
				t.Fatalf("status %d, want 403; body %s", rec.Code, rec.Body)
			}
			checkHeaders(t, rec)
			want := fmt.Sprintf(`{"error":{"code":"forbidden","message":"origin %s is not allowed: cross-site requests are refused; add its host to api.allowed_hosts to allow it"}}`+"\n",
				jsonQuoted(t, tc.origin))
			if rec.Body.String() != want {
				t.Errorf("body\n%s\nwant\n%s", rec.Body, want)
			}
		})
	}

	t.Run("two Origin headers", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/streams", nil)
		req.Host = "localhost"
		req.Header.Add("Origin", "http://localhost")
		req.Header.Add("Origin", "http://evil.example")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		want := `{"error":{"code":"forbidden","message":"origin \"http://localhost, http://evil.example\" is not allowed: cross-site requests are refused; add its host to api.allowed_hosts to allow it"}}` + "\n"
		if rec.Code != http.StatusForbidden || rec.Body.String() != want {
			t.Errorf("got %d %s\nwant 403 %s", rec.Code, rec.Body, want)
		}
	})
}

// jsonQuoted is s as %q puts it inside a JSON string: each \" of Go's
// quoting escaped once more.
func jsonQuoted(t *testing.T, s string) string {
	t.Helper()
	q := fmt.Sprintf("%q", s)
	return `\"` + q[1:len(q)-1] + `\"`
}

func TestAuth(t *testing.T) {
	const token = "s3cret-Token_1"
	fm := &fakeManager{}
	s := New(Config{Listen: "127.0.0.1:8080", Token: token}, newTestStore(t), liveHealth, nil)
	s.SetStreams(fm, t.TempDir(), nil)
	h := s.Handler()
	body := `{"id":"cam9","source":"test://ball"}`
	jsonCT := map[string]string{"Content-Type": "application/json"}
	with := func(auth string) map[string]string {
		return map[string]string{"Content-Type": "application/json", "Authorization": auth}
	}
	missing := func(method, path string) string {
		return `{"error":{"code":"unauthorized","message":"` + method + ` ` + path +
			` needs a bearer token: send Authorization: Bearer TOKEN, with the token set as api.token or LSIE_API_TOKEN"}}`
	}
	invalid := `{"error":{"code":"unauthorized","message":"invalid bearer token"}}`
	for _, tc := range []struct {
		name    string
		method  string
		target  string
		host    string
		headers map[string]string
		status  int
		body    string // exact, without the newline; "" skips the check
	}{
		{"POST without token", "POST", "/api/v1/streams", "localhost", jsonCT, 401, missing("POST", "/api/v1/streams")},
		{"POST with basic auth", "POST", "/api/v1/streams", "localhost", with("Basic dXNlcjpwYXNz"), 401, missing("POST", "/api/v1/streams")},
		{"POST with wrong token", "POST", "/api/v1/streams", "localhost", with("Bearer nope"), 401, invalid},
		{"POST with a longer token", "POST", "/api/v1/streams", "localhost", with("Bearer " + token + "x"), 401, invalid},
		{"POST with a prefix of the token", "POST", "/api/v1/streams", "localhost", with("Bearer " + token[:5]), 401, invalid},
		{"POST with empty bearer", "POST", "/api/v1/streams", "localhost", with("Bearer "), 401, invalid},
		{"DELETE without token", "DELETE", "/api/v1/streams/cam1", "localhost", nil, 401, missing("DELETE", "/api/v1/streams/cam1")},
		{"GET of data without token", "GET", "/api/v1/streams", "localhost", nil, 401, missing("GET", "/api/v1/streams")},
		{"GET of a segment without token", "GET", "/api/v1/segments/cam1/0", "localhost", nil, 401, missing("GET", "/api/v1/segments/cam1/0")},
		{"GET of data with wrong token", "GET", "/api/v1/streams/cam1/segments", "localhost", with("Bearer nope"), 401, invalid},
		{"PUT on health is not allowed", "PUT", "/api/v1/health", "localhost", nil, 405, ""},
		{"unknown path", "PATCH", "/nowhere", "localhost", nil, 404, ""},
		{"bad host before auth", "POST", "/api/v1/streams", "evil.example", with("Bearer nope"), 421, ""},
		{"POST with right token", "POST", "/api/v1/streams", "localhost", with("Bearer " + token), 201, ""},
		{"scheme is case-insensitive", "DELETE", "/api/v1/streams/cam9", "localhost", with("bearer " + token), 204, ""},
		{"GET with token", "GET", "/api/v1/streams", "localhost", with("Bearer " + token), 200, ""},
		{"health without token", "HEAD", "/api/v1/health", "localhost", nil, 200, ""},
		{"health with wrong token", "GET", "/api/v1/health", "localhost", with("Bearer nope"), 200, ""},
		{"API description without token", "GET", "/api/v1/openapi.json", "localhost", nil, 200, ""},
		{"metrics without token", "GET", "/metrics", "localhost", nil, 503, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := request(h, tc.method, tc.target, tc.host, tc.headers, body)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tc.status, rec.Body)
			}
			wantAuth := ""
			if tc.status == http.StatusUnauthorized {
				wantAuth = "Bearer"
				checkHeaders(t, rec)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != wantAuth {
				t.Errorf("WWW-Authenticate = %q, want %q", got, wantAuth)
			}
			if tc.body != "" && rec.Body.String() != tc.body+"\n" {
				t.Errorf("body\n%s\nwant\n%s", rec.Body, tc.body)
			}
		})
	}
	if got, want := fm.calls(), []string{"add cam9", "remove cam9"}; strings.Join(got, ";") != strings.Join(want, ";") {
		t.Errorf("manager calls %q, want %q", got, want)
	}
}

// TestNoTokenAllowsMutations: without a token (config allows that only on
// loopback) mutating routes need no Authorization.
func TestNoTokenAllowsMutations(t *testing.T) {
	fm := &fakeManager{}
	s := New(Config{}, newTestStore(t), liveHealth, nil)
	s.SetStreams(fm, t.TempDir(), nil)
	rec := request(s.Handler(), "POST", "/api/v1/streams", "127.0.0.1:7700",
		map[string]string{"Content-Type": "application/json"}, `{"id":"cam9","source":"test://ball"}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("status %d, body %s", rec.Code, rec.Body)
	}
	rec = request(s.Handler(), "DELETE", "/api/v1/streams/cam9", "localhost", nil, "")
	if rec.Code != http.StatusNoContent {
		t.Fatalf("status %d, body %s", rec.Code, rec.Body)
	}
}

// TestConsoleMounted: with a console, paths outside the API are its own
// (no token needed for the static files), while unknown API paths keep the
// JSON 404 and API routes keep their token.
func TestConsoleMounted(t *testing.T) {
	console := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<!doctype html>console " + r.URL.Path))
	})
	h := New(Config{Token: "tok", Console: console}, newTestStore(t), liveHealth, nil).Handler()
	for _, tc := range []struct {
		method, target string
		status         int
		contains       string
	}{
		{"GET", "/", 200, "console /"},
		{"GET", "/js/main.js", 200, "console /js/main.js"},
		{"HEAD", "/", 200, ""},
		{"GET", "/api/v1/nothing", 404, `"not_found"`},
		{"GET", "/api/v1/streams", 401, `"unauthorized"`},
		{"POST", "/", 405, ""},
	} {
		rec := request(h, tc.method, tc.target, "localhost", nil, "")
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.contains) {
			t.Errorf("%s %s: %d %s", tc.method, tc.target, rec.Code, rec.Body)
		}
	}
}
