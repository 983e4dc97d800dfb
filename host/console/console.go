// Package console serves the web operator console: static HTML, CSS and
// JavaScript modules embedded in the binary, with no build step and nothing
// loaded from elsewhere. The pages read the REST API under /api/v1 and its
// WebSocket; the API server mounts Handler for every path it does not route
// itself.
//
// Serving rules:
//   - a path naming a file under web/ serves it, with its content type;
//   - "/" and any other path without a file extension serve index.html, so a
//     reload on a client route still opens the console (routes are hash
//     routes, so this matters only for hand-typed paths);
//   - /api/... paths, paths with an extension that name no file, folders and
//     paths with "." or ".." segments answer 404: no directory listing, no
//     path traversal, and a missing script never comes back as HTML;
//   - only GET and HEAD (405 otherwise).
//
// Every answer carries X-Content-Type-Options: nosniff and a strict
// Content-Security-Policy (scripts, styles and connections from the host
// itself; WebSocket to any host, which the API's Origin check narrows; no
// inline script or style, no framing). Files are revalidated on every load
// (Cache-Control: no-cache, ETag): their names carry no version, so an
// upgraded host must not run beside cached modules of the previous one.
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed web
var webFS embed.FS

// CSP is the Content-Security-Policy of every console answer.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self' ws: wss:; font-src 'self'; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// contentTypes maps the extensions the console uses to their types; a file
// with another extension is served as application/octet-stream.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".mjs":  "text/javascript; charset=utf-8",
	".json": "application/json",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
	".txt":  "text/plain; charset=utf-8",
}

type file struct {
	body  []byte
	ctype string
	etag  string
}

// Handler returns the console's handler. It reads the embedded files once.
func Handler() http.Handler {
	h, err := newHandler(webFS, "web")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return h
}

type handler struct {
	files map[string]*file // by path below the root, "index.html", "js/main.js"
	index *file
	start time.Time
}

func newHandler(fsys fs.FS, root string) (*handler, error) {
	sub, err := fs.Sub(fsys, root)
	if err != nil {
		return nil, err
	}
	h := &handler{files: map[string]*file{}, start: time.Now()}
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ct, ok := contentTypes[strings.ToLower(path.Ext(p))]
		if !ok {
			ct = "application/octet-stream"
		}
		h.files[p] = &file{body: b, ctype: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if h.index = h.files["index.html"]; h.index == nil {
		return nil, fmt.Errorf("console: %s/index.html is missing", root)
	}
	return h, nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	f := h.lookup(r.URL.Path)
	if f == nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	hd.Set("Content-Type", f.ctype)
	hd.Set("Cache-Control", "no-cache")
	hd.Set("ETag", f.etag)
	// ServeContent answers If-None-Match with 304 and HEAD without a body.
	http.ServeContent(w, r, "", h.start, bytes.NewReader(f.body))
}

// lookup returns the file a request path serves, or nil for a 404.
func (h *handler) lookup(p string) *file {
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	if p == "/api" || strings.HasPrefix(p, "/api/") {
		return nil // the API's own paths never fall back to the page
	}
	rel := p[1:]
	if rel == "" {
		return h.index
	}
	for _, seg := range strings.Split(rel, "/") {
		if seg == "." || seg == ".." || strings.ContainsRune(seg, '\\') || strings.ContainsRune(seg, 0) {
			return nil
		}
	}
	if strings.HasSuffix(rel, "/") {
		return nil // a folder: nothing is listed
	}
	if f := h.files[rel]; f != nil {
		return f
	}
	if path.Ext(rel) != "" {
		return nil // an asset that is not there
	}
	if h.isDir(rel) {
		return nil
	}
	return h.index
}

func (h *handler) isDir(rel string) bool {
	prefix := rel + "/"
	for p := range h.files {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}
