package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lsie-mlf/lsie/host/semver"
	"github.com/lsie-mlf/lsie/host/source"
)

// Limits on configured values; the field comments in config.go and
// configs/example.hcl state the same ranges.
const (
	minSegmentDuration = time.Second
	maxSegmentDuration = 300 * time.Second
	minMaxCloseDelay   = 100 * time.Millisecond
	maxMaxCloseDelay   = 10 * time.Minute
	minFPS, maxFPS     = 1, 60
	minWidth, maxWidth = 16, 7680
	maxGPU             = 63
	minWindow          = 1
	maxWindow          = 64
	minEventBound      = 1
	maxEventBound      = 65536
	maxNameLen         = 64
)

// validate checks the decoded configuration, defaults included, and parses
// every stream's source. It runs after decoding, so it sees the final values.
func (d *decoder) validate(c *Config) {
	top := path{}
	d.durationIn(top.attr("segment").attr("duration"), c.Segment.Duration,
		minSegmentDuration, maxSegmentDuration, "1s..300s")
	d.durationIn(top.attr("segment").attr("max_close_delay"), c.Segment.MaxCloseDelay,
		minMaxCloseDelay, maxMaxCloseDelay, "100ms..10m")
	d.validateStore(&c.Store)
	d.validateAPI(&c.API)
	d.validateSources(c)
	firstStream := map[string]Pos{}
	for i := range c.Streams {
		s := &c.Streams[i]
		p := top.block("stream", s.ID, i)
		if first, dup := firstStream[s.ID]; dup {
			d.add(s.Pos, p.show, fmt.Sprintf("duplicate stream id (first defined at %s)", first))
		} else {
			firstStream[s.ID] = s.Pos
		}
		d.validateStream(s, p)
	}
	d.validateAnalytics(c)
	d.validateRules(c)
	d.validateNotify(c)
}

// receiverSpec describes a receiver's URL as the allow-list reads an
// http(s) source: scheme, host and port.
func receiverSpec(raw string, u *url.URL) source.Spec {
	port, _ := strconv.Atoi(u.Port())
	if port == 0 {
		port = map[string]int{"http": 80, "https": 443}[u.Scheme]
	}
	return source.Spec{URI: raw, Kind: source.KindHLS, Scheme: u.Scheme, Host: strings.ToLower(u.Hostname()), Port: port}
}

// validateNotify checks the receivers: a URL the allow-list passes, a
// secret, patterns and retry bounds.
func (d *decoder) validateNotify(c *Config) {
	if _, set := d.at["notifications.allow"]; set {
		ap := path{}.attr("notifications").attr("allow")
		if pol, err := source.ParsePolicy(d.notifyAllow); err != nil {
			d.addErr(d.where(ap, d.fileStart()), ap.show, err.Error(), err)
		} else {
			c.NotifyAllow = pol
		}
	}
	first := map[string]Pos{}
	for i := range c.Notify {
		n := &c.Notify[i]
		p := path{}.block("notify", n.Name, i)
		d.uniqueName(p, n.Name, n.Pos, first, "duplicate notify block")
		up := p.attr("url")
		if _, ok := d.at[up.key]; !ok {
			if !d.reported(up) {
				d.add(n.Pos, p.show, `missing required attribute "url" (the receiver, http:// or https://)`)
			}
		} else if u, err := url.Parse(n.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			d.add(d.where(up, n.Pos), up.show, fmt.Sprintf("%s is not an http:// or https:// URL", quoteShort(n.URL)))
		} else if err := c.NotifyAllow.Check(receiverSpec(n.URL, u)); err != nil {
			d.add(d.where(up, n.Pos), up.show, "receiver not allowed by notifications.allow: "+err.Error())
		}
		sp := p.attr("secret")
		if len(n.Secret) < 16 {
			d.add(d.where(sp, n.Pos), sp.show, "is required: at least 16 bytes, the HMAC-SHA256 key the receiver verifies with")
		}
		for j, r := range n.Rules {
			if _, err := filepath.Match(r, ""); err != nil || r == "" {
				rp := p.attr("rules")
				d.add(d.where(rp, n.Pos), rp.index(j).show, fmt.Sprintf("%s is not a rule name or pattern", quoteShort(r)))
			}
		}
		d.durationIn(p.attr("retry_min"), n.RetryMin, 100*time.Millisecond, time.Hour, "100ms..1h")
		if n.RetryMax < n.RetryMin || n.RetryMax > 24*time.Hour {
			rp := p.attr("retry_max")
			d.add(d.where(rp, n.Pos), rp.show, fmt.Sprintf("must be retry_min (%s)..24h, got %s", n.RetryMin, n.RetryMax))
		}
		d.intIn(p.attr("max_attempts"), n.Pos, n.MaxAttempts, 1, 1000)
	}
}

// validateRules checks what can be checked of the rules without the
// plugins: names, stream patterns, ranges, severity. host/rules compiles
// the expressions.
func (d *decoder) validateRules(c *Config) {
	first := map[string]Pos{}
	for i := range c.Rules {
		r := &c.Rules[i]
		p := path{}.block("rule", r.Name, i)
		d.uniqueName(p, r.Name, r.Pos, first, "duplicate rule")
		for j, s := range r.Streams {
			if _, err := filepath.Match(s, ""); err != nil || s == "" {
				sp := p.attr("streams")
				d.add(d.where(sp, r.Pos), sp.index(j).show, fmt.Sprintf("%s is not a stream id or pattern", quoteShort(s)))
			}
		}
		if wp := p.attr("when"); d.at[wp.key] != (Pos{}) && strings.TrimSpace(r.When) == "" {
			d.add(d.where(wp, r.Pos), wp.show, "must be a CEL expression, got an empty string")
		}
		d.durationIn(p.attr("for"), r.For, 0, maxRuleDuration, "0..24h")
		d.durationIn(p.attr("cooldown"), r.Cooldown, 0, maxRuleDuration, "0..24h")
		if sp := p.attr("severity"); !slices.Contains(Severities, r.Severity) {
			d.add(d.where(sp, r.Pos), sp.show, fmt.Sprintf("must be one of %s, got %s", strings.Join(Severities, ", "), quoteShort(r.Severity)))
		}
		if r.Message == "" {
			r.Message = r.Name
		}
	}
}

// validateAPI checks the api block. An API reachable from other machines
// must have a token: without one, anyone who can reach it could add streams.
func (d *decoder) validateAPI(api *API) {
	p := path{}.attr("api")
	listen, token := p.attr("listen"), p.attr("token")
	if api.Listen != "" {
		if msg := checkListen(api.Listen); msg != "" {
			d.add(d.where(listen, d.fileStart()), listen.show, msg)
		} else if api.Token == "" && !loopback(api.Listen) {
			d.add(d.where(listen, d.fileStart()), listen.show, fmt.Sprintf(
				"%s is not a loopback address; set api.token (or LSIE_API_TOKEN) to expose the API", quoteShort(api.Listen)))
		}
	}
	if api.Token != "" && !visibleASCII(api.Token) {
		// The message never quotes the token: it is a secret.
		d.add(d.where(token, d.fileStart()), token.show,
			"must be printable ASCII without spaces (it is sent in an Authorization header)")
	}
	hosts := p.attr("allowed_hosts")
	for i, h := range api.AllowedHosts {
		if msg := checkAllowedHost(h); msg != "" {
			ep := hosts.index(i)
			d.add(d.where(ep, d.where(hosts, d.fileStart())), ep.show, msg)
		}
	}
}

// validateSources builds the sources policy from sources.allow. Each entry
// is parsed on its own first, so a bad one is reported at its own position.
func (d *decoder) validateSources(c *Config) {
	if !d.allowSet {
		return
	}
	p := path{}.attr("sources").attr("allow")
	bad := false
	for i, entry := range d.allow {
		if _, err := source.ParsePolicy([]string{entry}); err != nil {
			ep := p.index(i)
			d.addErr(d.where(ep, d.where(p, d.fileStart())), ep.show, policyEntryMessage(err), err)
			bad = true
		}
	}
	if bad {
		return
	}
	policy, err := source.ParsePolicy(d.allow)
	if err != nil {
		// Entries that are fine alone but not together.
		d.addErr(d.where(p, d.fileStart()), p.show, err.Error(), err)
		return
	}
	c.Sources = policy
	d.policy = policy
}

// policyEntryMessage is the message of ParsePolicy's error for a list of
// one entry, without its "allow[0]: " prefix: the diagnostic's field names
// the entry.
func policyEntryMessage(err error) string {
	msg, _ := strings.CutPrefix(err.Error(), "allow[0]: ")
	return msg
}

// validateStream checks one stream, from HCL or JSON: its id and plugin
// names (when given: a missing one is reported by the decoder), its source
// (parsed, then checked against the sources policy), and every range.
func (d *decoder) validateStream(s *Stream, p path) {
	if pos, ok := d.at[p.attr("id").key]; ok && !validName(s.ID) {
		d.add(pos, p.show, fmt.Sprintf("id must be 1..%d characters of A-Z a-z 0-9 _ -", maxNameLen))
	}
	if pos, ok := d.at[p.attr("source").key]; ok {
		spec, err := d.parseSource(s.Source.URI)
		if err != nil {
			d.addErr(pos, p.attr("source").show, err.Error(), err)
		} else {
			s.Source = spec
		}
	}
	d.validateImage(s, p)
	vp := p.attr("video")
	d.intIn(vp.attr("fps"), s.Pos, s.Video.FPS, minFPS, maxFPS)
	d.intIn(vp.attr("max_width"), s.Pos, s.Video.MaxWidth, minWidth, maxWidth)
	if m := vp.attr("memory"); s.Video.Memory != MemoryHost && s.Video.Memory != MemoryCUDA {
		d.add(d.where(m, s.Pos), m.show, fmt.Sprintf(`must be "host" or "cuda", got %s`, quoteShort(s.Video.Memory)))
	}
	d.intIn(vp.attr("gpu"), s.Pos, s.Video.GPU, 0, maxGPU)
	zones := d.validateZones(s, p)
	firstPlugin := map[string]Pos{}
	for j := range s.Plugins {
		pr := &s.Plugins[j]
		pp := p.block("plugin", pr.Name, j)
		if pos, ok := d.at[pp.attr("name").key]; ok {
			if !validName(pr.Name) {
				d.add(pos, pp.show, fmt.Sprintf("name must be 1..%d characters of A-Z a-z 0-9 _ -", maxNameLen))
			}
			if first, dup := firstPlugin[pr.Name]; dup {
				d.add(pr.Pos, pp.show, fmt.Sprintf("duplicate plugin in this stream (first defined at %s)", d.posText(first)))
			} else {
				firstPlugin[pr.Name] = pr.Pos
			}
		}
		d.intIn(pp.attr("window"), pr.Pos, pr.Window, minWindow, maxWindow)
		d.intIn(pp.attr("event_bound"), pr.Pos, pr.EventBound, minEventBound, maxEventBound)
		if _, err := semver.ParseConstraint(pr.Version); err != nil {
			vp := pp.attr("version")
			msg := err.Error()
			var ce *semver.ConstraintError
			if errors.As(err, &ce) {
				msg = fmt.Sprintf("%s is not a version constraint: column %d: %s", quoteShort(pr.Version), ce.Column, ce.Msg)
			}
			d.add(d.where(vp, pr.Pos), vp.show, msg)
		}
		if pr.Gate != nil {
			d.validateGate(pr.Gate, pp.attr("gate"), zones)
		}
	}
}

// uniqueName checks the name of the labelled block at p (given: a missing
// one the decoder reported) and that no earlier block in first has it.
func (d *decoder) uniqueName(p path, name string, pos Pos, first map[string]Pos, dupMsg string) {
	at, ok := d.at[p.attr("name").key]
	if !ok {
		return
	}
	switch prev, dup := first[name]; {
	case !validName(name):
		d.add(at, p.show, fmt.Sprintf("name must be 1..%d characters of A-Z a-z 0-9 _ -", maxNameLen))
	case dup:
		d.add(pos, p.show, fmt.Sprintf("%s (first defined at %s)", dupMsg, d.posText(prev)))
	default:
		first[name] = pos
	}
}

// validateZones checks a stream's zones and returns their names.
func (d *decoder) validateZones(s *Stream, p path) []string {
	var names []string
	first := map[string]Pos{}
	for i, z := range s.Zones {
		zp := p.block("zone", z.Name, i)
		d.uniqueName(zp, z.Name, z.Pos, first, "duplicate zone in this stream")
		names = append(names, z.Name)
		pp := zp.attr("polygon")
		pos, ok := d.at[pp.key]
		if !ok {
			continue // missing or malformed: reported by the decoder
		}
		if len(z.Polygon) < 3 || len(z.Polygon) > maxZonePoints {
			d.add(pos, pp.show, fmt.Sprintf("must have 3..%d points, got %d", maxZonePoints, len(z.Polygon)))
		}
		for j, pt := range z.Polygon {
			if pt[0] < 0 || pt[0] > 1 || pt[1] < 0 || pt[1] > 1 {
				d.add(pos, pp.index(j).show, fmt.Sprintf("must lie in the frame, coordinates 0..1 (x right, y down), got [%g, %g]", pt[0], pt[1]))
			}
		}
	}
	return names
}

// validateGate checks a plugin's motion gate against the stream's zones.
func (d *decoder) validateGate(g *Gate, p path, zones []string) {
	mp := p.attr("motion")
	if _, ok := d.at[mp.key]; !ok {
		if !d.reported(mp) {
			d.add(g.Pos, p.show, `missing required attribute "motion" (the least motion, luma 0..255, that sends a frame)`)
		}
	} else if g.Motion <= 0 || g.Motion > 255 {
		d.add(d.where(mp, g.Pos), mp.show, fmt.Sprintf("must be above 0 and at most 255 (mean luma difference), got %g", g.Motion))
	}
	if ep := p.attr("every"); g.Every != 0 && (g.Every < minGateEvery || g.Every > maxGateEvery) {
		d.add(d.where(ep, g.Pos), ep.show, fmt.Sprintf("must be 0 (never) or %s..%s, got %s", minGateEvery, maxGateEvery, g.Every))
	}
	for i, z := range g.Zones {
		if !slices.Contains(zones, z) {
			zp := p.attr("zones").index(i)
			d.add(d.where(p.attr("zones"), g.Pos), zp.show, fmt.Sprintf("no zone %q in this stream%s", z, suggest(z, zones)))
		}
	}
}

// parseSource parses a stream's source URI and checks it against the
// sources policy. A file source is checked before source.ParseIn opens it,
// so a path the policy refuses is never opened and whoever submitted it
// (through the API) cannot learn whether it exists.
func (d *decoder) parseSource(uri string) (source.Spec, error) {
	if d.policy != nil {
		if path, ok := filePath(uri, d.baseDir); ok {
			if err := d.policy.Check(source.Spec{URI: uri, Kind: source.KindFile, Path: path}); err != nil {
				return source.Spec{}, err
			}
		}
	}
	spec, err := source.ParseIn(uri, d.baseDir)
	if err == nil && d.policy != nil {
		err = d.policy.Check(spec)
	}
	return spec, err
}

// filePath is the path a file source names, resolved as source.ParseIn
// resolves it but without touching the file system; ok is false for other
// sources and for file URIs ParseIn refuses before opening anything.
func filePath(uri, baseDir string) (string, bool) {
	if rest, ok := strings.CutPrefix(uri, "file:"); ok && rest != "" && !strings.HasPrefix(rest, "/") {
		p, err := filepath.Abs(filepath.Join(baseDir, filepath.FromSlash(rest)))
		return p, err == nil
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "file" || (u.Host != "" && u.Host != "localhost") || !filepath.IsAbs(u.Path) {
		return "", false
	}
	return u.Path, true
}

// posText renders a position for a message: FILE:LINE:COL, or in JSON the
// byte offset, as a reader of a JSON body counts.
func (d *decoder) posText(p Pos) string {
	if d.json {
		return fmt.Sprintf("offset %d", p.Column-1)
	}
	return p.String()
}

// where is the position the file gave the value at p, or fallback when the
// value is a default.
func (d *decoder) where(p path, fallback Pos) Pos {
	if pos, ok := d.at[p.key]; ok {
		return pos
	}
	return fallback
}

func (d *decoder) intIn(p path, fallback Pos, v, lo, hi int) {
	if v < lo || v > hi {
		d.add(d.where(p, fallback), p.show, fmt.Sprintf("must be %d..%d, got %d", lo, hi, v))
	}
}

func (d *decoder) durationIn(p path, v, lo, hi time.Duration, bounds string) {
	if v < lo || v > hi {
		d.add(d.where(p, d.fileStart()), p.show, fmt.Sprintf("must be %s, got %s", bounds, v))
	}
}

// checkListen returns what is wrong with a host:port listen address, or "".
func checkListen(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Sprintf(`%s is not host:port (e.g. "127.0.0.1:8080"; "" disables the API)`, quoteShort(addr))
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Sprintf("port %s must be a number 0..65535", quoteShort(port))
	}
	return ""
}

// validName reports whether s is a valid stream id or plugin name:
// 1..64 characters of [A-Za-z0-9_-].
// ValidName reports whether s may name a stream, plugin, zone, rule or
// receiver: 1..64 characters of [A-Za-z0-9_-].
func ValidName(s string) bool { return validName(s) }

func validName(s string) bool {
	if len(s) == 0 || len(s) > maxNameLen {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
		default:
			return false
		}
	}
	return true
}

// loopback reports whether the host of a host:port listen address is a
// loopback address: localhost, 127.0.0.0/8 or ::1. A name other than
// localhost is not resolved and counts as not loopback.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// visibleASCII reports whether s is made only of printable ASCII other than
// space, the characters a token in an HTTP header can carry as is.
func visibleASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// checkAllowedHost returns what is wrong with an api.allowed_hosts entry, a
// Host header value: a host name or IP, optionally with :port; or "".
func checkAllowedHost(h string) string {
	bad := fmt.Sprintf(`%s is not a host or host:port (e.g. "lsie.example.com" or "lsie.example.com:8443")`, quoteShort(h))
	if h == "" || strings.ContainsAny(h, "/@?#%\\ \t\r\n") {
		return bad
	}
	host, port, err := net.SplitHostPort(h)
	switch {
	case err == nil:
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Sprintf("port %s must be a number 1..65535", quoteShort(port))
		}
	case strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]"):
		host = h[1 : len(h)-1]
	case strings.Contains(h, ":"):
		return bad
	default:
		host = h
	}
	if host == "" || (strings.Contains(host, ":") && net.ParseIP(host) == nil) {
		return bad
	}
	return ""
}

// validateStore checks the store block: SQLite (the default) or PostgreSQL,
// never both, since a host writes to exactly one store.
func (d *decoder) validateStore(st *Store) {
	p := path{}.attr("store")
	sqlite, pg := p.attr("sqlite"), p.attr("postgres")
	d.intIn(p.attr("spool_max_mb"), d.fileStart(), st.SpoolMaxMB, 1, 1<<20)
	if sp := p.attr("spool"); st.Spool == "" {
		if _, set := d.at[sp.key]; set {
			d.add(d.where(sp, d.fileStart()), sp.show, "must not be empty (leave it out for the default next to the store)")
		}
	}
	pgPos, pgSet := d.at[pg.key]
	if !pgSet {
		if st.SQLite == "" {
			d.add(d.where(sqlite, d.fileStart()), sqlite.show, "must not be empty")
		}
		return
	}
	if sqlitePos, both := d.at[sqlite.key]; both {
		d.add(pgPos, pg.show, fmt.Sprintf("cannot be set together with store.sqlite (set at %s): choose one store", sqlitePos))
	}
	st.SQLite = "" // the default no longer applies
	if msg := checkPostgres(st.Postgres); msg != "" {
		d.add(pgPos, pg.show, msg)
	}
}

// checkPostgres returns what is wrong with a PostgreSQL URL, or "". The
// message never quotes the URL: it may hold a password.
func checkPostgres(s string) string {
	if s == "" {
		return "must not be empty"
	}
	u, err := url.Parse(s)
	if err != nil {
		return "must be a URL like postgres://user@host:5432/db (it does not parse)"
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return "must be a URL like postgres://user@host:5432/db (scheme postgres or postgresql)"
	}
	if u.Opaque != "" {
		return "must be a URL like postgres://user@host:5432/db (missing //)"
	}
	return ""
}
