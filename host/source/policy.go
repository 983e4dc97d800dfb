package source

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrNotAllowed is wrapped by Policy.Check when a source is outside the policy.
var ErrNotAllowed = errors.New("source not allowed")

// Policy limits what a stream may open. Entries: "test", "file:/abs/prefix/"
// (path prefix, cleaned, must be absolute), "rtsp://host", "rtsp://host:554",
// "rtsp://*.example.com" (wildcard subdomain), "rtsp://*" (any host), same
// for rtsps/rtmp/rtmps/http/https, "v4l2" (any device) or "v4l2:/dev/video0".
//
// Matching rules:
//   - A file prefix matches on whole path components (file:/media/a allows
//     /media/a and /media/a/x, never /media/ab/x). Both the prefix and the
//     file are resolved through symlinks when Check runs, and the file's real
//     path must lie under the prefix's real path: a symlink inside the
//     prefix pointing elsewhere is refused.
//   - A host rule matches the scheme exactly (rtsp does not allow rtsps),
//     the host case-insensitively (IP addresses in canonical form), and the
//     port only when the rule names one; the URI's port is its explicit port
//     or the scheme's default, so "rtsp://cam:554" allows "rtsp://cam/x".
//     "*.example.com" matches any subdomain, not example.com itself. Names
//     are not resolved: a rule for a name does not allow its address.
//   - Credentials in a URI play no part; entries may not hold any.
//
// A nil *Policy allows everything, like AllowAll.
type Policy struct {
	all     bool
	shown   []string // normalised entries, for messages
	test    bool
	files   []string // cleaned absolute prefixes
	hosts   []hostRule
	v4l2Any bool
	devices []string
}

type hostRule struct {
	scheme string
	host   string // canonical; "*" any; "*.example.com" any subdomain
	port   int    // 0: any port
}

// AllowAll is the policy that allows every source: the default when no
// sources block is configured.
func AllowAll() *Policy { return &Policy{all: true} }

// ParsePolicy parses allow-list entries. An error names the bad entry and its
// index: `allow[2]: "rtsp//x": ...`. An empty list allows nothing.
func ParsePolicy(entries []string) (*Policy, error) {
	p := &Policy{}
	for i, e := range entries {
		if err := p.add(strings.TrimSpace(e)); err != nil {
			return nil, fmt.Errorf("allow[%d]: %q: %w", i, Redact(e), err)
		}
	}
	return p, nil
}

func (p *Policy) add(e string) error {
	switch {
	case e == "":
		return errors.New("empty entry")
	case e == "test":
		p.test = true
		p.shown = append(p.shown, e)
		return nil
	case e == "v4l2":
		p.v4l2Any = true
		p.shown = append(p.shown, e)
		return nil
	case strings.HasPrefix(e, "v4l2:"):
		dev := strings.TrimPrefix(strings.TrimPrefix(e, "v4l2:"), "//")
		if !validDevice(dev) {
			return errors.New("want v4l2 or v4l2:/dev/videoN")
		}
		p.devices = append(p.devices, dev)
		p.shown = append(p.shown, "v4l2:"+dev)
		return nil
	case strings.HasPrefix(e, "file:"):
		rest := strings.TrimPrefix(e, "file:")
		if strings.HasPrefix(rest, "//") && !strings.HasPrefix(rest, "///") {
			return errors.New("file prefix must be file:/absolute/path (no host)")
		}
		if !strings.HasPrefix(rest, "/") || strings.ContainsRune(rest, 0) {
			return errors.New("file prefix must be an absolute path (file:/abs/prefix/)")
		}
		prefix := filepath.Clean(rest)
		p.files = append(p.files, prefix)
		shown := "file:" + prefix
		if prefix != "/" && strings.HasSuffix(rest, "/") {
			shown += "/"
		}
		p.shown = append(p.shown, shown)
		return nil
	}
	scheme, rest, ok := strings.Cut(e, "://")
	if !ok {
		return errors.New("unknown entry (want test, file:/abs/prefix/, v4l2, v4l2:/dev/videoN or scheme://host[:port])")
	}
	scheme = strings.ToLower(scheme)
	if _, known := defaultPorts[scheme]; !known {
		return fmt.Errorf("unknown scheme %q (rtsp, rtsps, rtmp, rtmps, http, https)", scheme)
	}
	rest = strings.TrimSuffix(rest, "/")
	if strings.ContainsAny(rest, "/?#@ \t") {
		return errors.New("a host rule takes a host and an optional port, no path, query or credentials")
	}
	host, port, err := splitHostPort(rest)
	if err != nil {
		return err
	}
	r := hostRule{scheme: scheme, port: port}
	switch {
	case host == "*":
		r.host = host
	case strings.HasPrefix(host, "*."):
		if !validHostname(host[2:]) {
			return fmt.Errorf("bad wildcard host %q (want *.example.com)", host)
		}
		r.host = "*." + canonHost(host[2:])
	case strings.Contains(host, "*"):
		return fmt.Errorf("bad wildcard host %q (only * or a leading *. is allowed)", host)
	case net.ParseIP(host) != nil || validHostname(host):
		r.host = canonHost(host)
	default:
		return fmt.Errorf("bad host %q", host)
	}
	p.hosts = append(p.hosts, r)
	shown := scheme + "://" + r.host
	if strings.Contains(r.host, ":") {
		shown = scheme + "://[" + r.host + "]"
	}
	if port != 0 {
		shown += ":" + strconv.Itoa(port)
	}
	p.shown = append(p.shown, shown)
	return nil
}

// splitHostPort splits "host", "host:port", "[v6]" or "[v6]:port".
func splitHostPort(s string) (host string, port int, err error) {
	if s == "" {
		return "", 0, errors.New("missing host")
	}
	portStr := ""
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]")
		if end < 0 {
			return "", 0, errors.New("unclosed [ in host")
		}
		host = s[1:end]
		if net.ParseIP(host) == nil || !strings.Contains(host, ":") {
			return "", 0, fmt.Errorf("bad IPv6 address %q", host)
		}
		switch tail := s[end+1:]; {
		case tail == "":
		case strings.HasPrefix(tail, ":"):
			portStr = tail[1:]
			if portStr == "" {
				return "", 0, errors.New("empty port")
			}
		default:
			return "", 0, errors.New("junk after ]")
		}
	} else {
		host = s
		if i := strings.LastIndex(s, ":"); i >= 0 {
			host, portStr = s[:i], s[i+1:]
			if strings.Contains(host, ":") {
				return "", 0, errors.New("IPv6 addresses go in brackets: [::1]:554")
			}
			if portStr == "" {
				return "", 0, errors.New("empty port")
			}
		}
		if host == "" {
			return "", 0, errors.New("missing host")
		}
	}
	if portStr != "" {
		n, err := strconv.Atoi(portStr)
		if err != nil || n < 1 || n > 65535 {
			return "", 0, fmt.Errorf("port must be 1..65535, got %q", portStr)
		}
		port = n
	}
	return host, port, nil
}

// validHostname reports whether h is a DNS name: dot-separated labels of
// letters, digits, '-' and '_', none empty (a trailing dot is allowed).
func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_'
			if !ok {
				return false
			}
		}
	}
	return true
}

// canonHost lower-cases a name without its trailing dot, or gives an IP
// address in canonical form.
func canonHost(h string) string {
	if ip := net.ParseIP(h); ip != nil {
		return ip.String()
	}
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// Check returns nil when s is allowed, else an error wrapping ErrNotAllowed
// that names the URI (redacted) and what the policy allows.
func (p *Policy) Check(s Spec) error {
	if p == nil || p.all || p.allows(s) {
		return nil
	}
	allowed := "nothing"
	if len(p.shown) > 0 {
		allowed = strings.Join(p.shown, ", ")
	}
	return fmt.Errorf("%w: %s source %q (allowed: %s)", ErrNotAllowed, s.Kind, s.Redacted(), allowed)
}

func (p *Policy) allows(s Spec) bool {
	switch s.Kind {
	case KindTest:
		return p.test
	case KindFile:
		return p.fileAllowed(s.Path)
	case KindRTSP, KindRTMP, KindHLS:
		host := canonHost(s.Host)
		for _, r := range p.hosts {
			if r.match(s.Scheme, host, s.Port) {
				return true
			}
		}
	case KindV4L2:
		if p.v4l2Any {
			return validDevice(s.Device)
		}
		for _, d := range p.devices {
			if d == s.Device {
				return true
			}
		}
	}
	return false
}

func (r hostRule) match(scheme, host string, port int) bool {
	if r.scheme != scheme || r.port != 0 && r.port != port || host == "" {
		return false
	}
	switch {
	case r.host == "*":
		return true
	case strings.HasPrefix(r.host, "*."):
		suffix := r.host[1:] // ".example.com"
		return len(host) > len(suffix) && strings.HasSuffix(host, suffix)
	default:
		return host == r.host
	}
}

// fileAllowed reports whether path lies under one of the prefixes, both
// resolved through symlinks (each as far as it exists) and compared on whole
// path components.
func (p *Policy) fileAllowed(path string) bool {
	if !filepath.IsAbs(path) {
		return false
	}
	real := resolve(filepath.Clean(path))
	for _, prefix := range p.files {
		if underPrefix(real, resolve(prefix)) {
			return true
		}
	}
	return false
}

// resolve returns the absolute path with symlinks evaluated. Where the path
// does not exist (yet), its longest existing ancestor is resolved and the
// rest joined to it, so a symlinked directory is seen through even then.
func resolve(path string) string {
	path = filepath.Clean(path)
	var rest []string
	for {
		if r, err := filepath.EvalSymlinks(path); err == nil {
			if abs, err := filepath.Abs(r); err == nil {
				return filepath.Join(append([]string{abs}, rest...)...)
			}
		}
		parent := filepath.Dir(path)
		if parent == path {
			return filepath.Join(append([]string{path}, rest...)...)
		}
		rest = append([]string{filepath.Base(path)}, rest...)
		path = parent
	}
}

// underPrefix reports whether path is prefix or inside it, component-wise.
func underPrefix(path, prefix string) bool {
	if prefix == "/" {
		return strings.HasPrefix(path, "/")
	}
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}
