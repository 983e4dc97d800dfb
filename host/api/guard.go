package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// guard checks every request before routing, in this order:
//
//  1. Host must be one the API is reached by (hostSet), else 421: a page
//     on evil.example whose name the attacker re-points at 127.0.0.1 (DNS
//     rebinding) sends Host: evil.example.
//  2. Origin, when present, must name an accepted host, else 403: a browser
//     sends it on cross-site requests, so a page elsewhere cannot drive the
//     API (CSRF). Clients that send no Origin (curl, Go) pass.
//
// The token is checked per route after it (requireToken): most routes need
// it, a few authenticate otherwise (see authMode).
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hosts := s.hosts.Load()
		if !hosts.allows(r.Host) {
			s.log.Warn("refused request for a host not served", "host", r.Host, "method", r.Method,
				"path", r.URL.Path, "remote", r.RemoteAddr)
			writeError(w, http.StatusMisdirectedRequest, codeMisdirected, fmt.Sprintf(
				"host %q is not served here: use localhost or the listen address, or add it to api.allowed_hosts", r.Host))
			return
		}
		if origins, ok := r.Header["Origin"]; ok && !originAllowed(hosts, origins) {
			s.log.Warn("refused cross-origin request", "origin", strings.Join(origins, ", "), "method", r.Method,
				"path", r.URL.Path, "remote", r.RemoteAddr)
			writeError(w, http.StatusForbidden, codeForbidden, fmt.Sprintf(
				"origin %q is not allowed: cross-site requests are refused; add its host to api.allowed_hosts to allow it",
				strings.Join(origins, ", ")))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requireToken refuses a request without the configured bearer token, when
// one is configured, with 401 and WWW-Authenticate: Bearer. Reads need it
// too: segments, transcripts and telemetry are personal data.
func (s *Server) requireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Token != "" {
			if msg := s.checkToken(r); msg != "" {
				s.log.Warn("refused request without a valid token", "method", r.Method, "path", r.URL.Path,
					"remote", r.RemoteAddr)
				w.Header().Set("WWW-Authenticate", "Bearer")
				writeError(w, http.StatusUnauthorized, codeUnauthorized, msg)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// checkToken returns why the request's bearer token is not the configured
// one, or "" when it is.
func (s *Server) checkToken(r *http.Request) string {
	auth := r.Header.Get("Authorization")
	scheme, token, _ := strings.Cut(auth, " ")
	if auth == "" || !strings.EqualFold(scheme, "Bearer") {
		return fmt.Sprintf("%s %s needs a bearer token: send Authorization: Bearer TOKEN, with the token set as api.token or LSIE_API_TOKEN",
			r.Method, r.URL.Path)
	}
	if !s.tokenMatches(token) {
		return "invalid bearer token"
	}
	return ""
}

// tokenMatches compares token with the configured one as sha256 digests in
// constant time, so neither its content nor its length leaks through
// timing. Every way in that takes the token (header, WebSocket message)
// uses it.
func (s *Server) tokenMatches(token string) bool {
	got := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return subtle.ConstantTimeCompare(got[:], s.tokenHash[:]) == 1
}

// originAllowed reports whether a request's Origin header (one value, an
// http or https origin) names an accepted host.
func originAllowed(hosts *hostSet, origins []string) bool {
	if len(origins) != 1 {
		return false
	}
	u, err := url.Parse(origins[0])
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return false // includes "null", sent by sandboxed pages and file:// URLs
	}
	return hosts.allows(u.Host)
}

// hostSet is the Host header values the API accepts.
type hostSet struct {
	// port is the port the API listens on; the loopback names and the
	// allowed hosts given without a port match without one or with it.
	port string
	// names are host names (lower case, IPv6 without brackets) accepted
	// without a port or with port.
	names map[string]bool
	// exact are host:port values accepted as they are (lower case, as
	// net.JoinHostPort writes them).
	exact map[string]bool
}

// newHostSet accepts the loopback names, the listen address as configured
// and, once bound, as bound, and the allowed hosts. Entries that are not a
// host or host:port are ignored (config validation reports them).
func newHostSet(listen, bound string, allowed []string) *hostSet {
	h := &hostSet{
		names: map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true},
		exact: map[string]bool{},
	}
	for _, addr := range []string{listen, bound} {
		host, port, ok := splitHost(addr)
		if !ok || port == "" {
			continue
		}
		h.port = port // the bound port wins: it comes last
		if host != "" {
			h.exact[net.JoinHostPort(host, port)] = true
		}
	}
	for _, a := range allowed {
		host, port, ok := splitHost(a)
		switch {
		case !ok || host == "":
		case port == "":
			h.names[host] = true
		default:
			h.exact[net.JoinHostPort(host, port)] = true
		}
	}
	return h
}

// allows reports whether hostport, a Host header value, is accepted.
func (h *hostSet) allows(hostport string) bool {
	host, port, ok := splitHost(hostport)
	if !ok || host == "" {
		return false
	}
	if port != "" && h.exact[net.JoinHostPort(host, port)] {
		return true
	}
	return h.names[host] && (port == "" || port == h.port)
}

// splitHost splits a Host value into a lower-case host (IPv6 without
// brackets) and a port, which may be empty; ok is false when it is neither
// host nor host:port.
func splitHost(hostport string) (host, port string, ok bool) {
	hostport = strings.ToLower(hostport)
	if strings.ContainsAny(hostport, "/@?#\\ \t\r\n") {
		return "", "", false
	}
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		return h, p, p != ""
	}
	if strings.HasPrefix(hostport, "[") && strings.HasSuffix(hostport, "]") {
		return hostport[1 : len(hostport)-1], "", true
	}
	if strings.Contains(hostport, ":") {
		return "", "", false
	}
	return hostport, "", true
}
