package console

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func serve(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, "http://localhost"+"/", nil)
	r.URL.Path = target // raw, so ".." segments reach the handler as a client could send them
	r.RequestURI = target
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestContentTypesAndHeaders(t *testing.T) {
	h := Handler()
	for _, tc := range []struct{ path, ctype, contains string }{
		{"/", "text/html; charset=utf-8", `<script type="module" src="/js/main.js">`},
		{"/index.html", "text/html; charset=utf-8", "<nav"},
		{"/css/console.css", "text/css; charset=utf-8", ".state-fresh"},
		{"/js/main.js", "text/javascript; charset=utf-8", "import"},
		{"/js/pages/live.js", "text/javascript; charset=utf-8", "segment_closed"},
		{"/favicon.svg", "image/svg+xml", "<svg"},
	} {
		w := serve(t, h, http.MethodGet, tc.path, nil)
		if w.Code != http.StatusOK {
			t.Errorf("GET %s: %d", tc.path, w.Code)
			continue
		}
		if got := w.Header().Get("Content-Type"); got != tc.ctype {
			t.Errorf("GET %s: Content-Type %q, want %q", tc.path, got, tc.ctype)
		}
		if !strings.Contains(w.Body.String(), tc.contains) {
			t.Errorf("GET %s: body lacks %q", tc.path, tc.contains)
		}
		checkSecurityHeaders(t, tc.path, w)
		if got := w.Header().Get("Cache-Control"); got != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q, want no-cache", tc.path, got)
		}
		if w.Header().Get("ETag") == "" {
			t.Errorf("GET %s: no ETag", tc.path)
		}
	}
}

func checkSecurityHeaders(t *testing.T, what string, w *httptest.ResponseRecorder) {
	t.Helper()
	if got := w.Header().Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options %q, want nosniff", what, got)
	}
	csp := w.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "connect-src 'self' ws: wss:",
		"img-src 'self' data:", "frame-ancestors 'none'", "object-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: CSP %q lacks %q", what, csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("%s: CSP %q allows inline or eval", what, csp)
	}
}

func TestIndexFallback(t *testing.T) {
	h := Handler()
	index := serve(t, h, http.MethodGet, "/", nil).Body.String()
	for _, p := range []string{"/overview", "/live/speech", "/sessions/x/segment/3", "/some/deep/client/route"} {
		w := serve(t, h, http.MethodGet, p, nil)
		if w.Code != http.StatusOK || w.Body.String() != index {
			t.Errorf("GET %s: %d, index %v; want 200 with index.html", p, w.Code, w.Body.String() == index)
		}
		if got := w.Header().Get("Content-Type"); got != "text/html; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q", p, got)
		}
	}
	// Not the page: the API's paths, missing assets, folders.
	for _, p := range []string{"/api", "/api/", "/api/v1/nothing", "/api/v2/streams", "/js/missing.js", "/favicon.ico",
		"/js/", "/js", "/css/", "/js/pages", "/js/pages/"} {
		w := serve(t, h, http.MethodGet, p, nil)
		if w.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, w.Code)
		}
		if strings.Contains(w.Body.String(), "<") {
			t.Errorf("GET %s: body %q looks like HTML (a listing or the page)", p, w.Body)
		}
		checkSecurityHeaders(t, p, w)
	}
}

func TestPathTraversalRefused(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/../console.go", "/js/../../console.go", "/js/../index.html", "/./index.html",
		"/..", "/js/..", `/js\..\index.html`, "/..%2fconsole.go", "/web/index.html", "/console.go"} {
		w := serve(t, h, http.MethodGet, p, nil)
		if w.Code != http.StatusNotFound {
			t.Errorf("GET %q: %d, want 404", p, w.Code)
		}
		if strings.Contains(w.Body.String(), "package console") {
			t.Errorf("GET %q: served Go source", p)
		}
	}
}

func TestMethodsAndConditional(t *testing.T) {
	h := Handler()
	w := serve(t, h, http.MethodPost, "/", nil)
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /: %d Allow %q", w.Code, w.Header().Get("Allow"))
	}
	w = serve(t, h, http.MethodHead, "/js/main.js", nil)
	if w.Code != http.StatusOK || w.Body.Len() != 0 || w.Header().Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Errorf("HEAD /js/main.js: %d, %d bytes, %q", w.Code, w.Body.Len(), w.Header().Get("Content-Type"))
	}
	etag := serve(t, h, http.MethodGet, "/js/main.js", nil).Header().Get("ETag")
	w = serve(t, h, http.MethodGet, "/js/main.js", map[string]string{"If-None-Match": etag})
	if w.Code != http.StatusNotModified {
		t.Errorf("GET with If-None-Match: %d, want 304", w.Code)
	}
}

// The pages load nothing from elsewhere and run no inline script or style:
// the CSP would block them, so they must not be there at all.
func TestNoInlineOrRemote(t *testing.T) {
	err := fs.WalkDir(webFS, "web", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := fs.ReadFile(webFS, p)
		s := string(b)
		for _, bad := range []string{"http://", "https://", "innerHTML", "outerHTML", "insertAdjacentHTML", "eval(", "new Function", "localStorage"} {
			if strings.Contains(s, bad) && !(bad == "http://" && strings.HasSuffix(p, ".svg")) {
				t.Errorf("%s contains %q", p, bad)
			}
		}
		if strings.HasSuffix(p, ".html") {
			for _, bad := range []string{"<script>", " style=", "<style", " onclick=", " onload="} {
				if strings.Contains(s, bad) {
					t.Errorf("%s contains inline %q", p, bad)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestNewHandlerNeedsIndex(t *testing.T) {
	if _, err := newHandler(fstest.MapFS{"web/a.js": {Data: []byte("x")}}, "web"); err == nil {
		t.Error("no error without index.html")
	}
}
