package source

import (
	"net/url"
	"slices"
	"strings"
	"unicode"
)

// redacted replaces a secret in the shown forms of a URI, as url.URL's own
// Redacted does a userinfo password.
const redacted = "xxxxx"

// credentialWords are parameter names, and last words of names
// (stream_key, X-Api-Key, accessToken), that carry a credential.
var credentialWords = map[string]bool{
	"token": true, "key": true, "sig": true, "signature": true, "password": true, "passwd": true,
	"pwd": true, "secret": true, "auth": true, "apikey": true,
}

// credentialSuffixes end names written as one lower-case word
// (accesstoken, clientsecret) that carry a credential; the short words of
// credentialWords are left out, so "monkey" is not one.
var credentialSuffixes = []string{"token", "secret", "password", "passwd", "signature", "apikey"}

// CredentialParam reports whether a query parameter of this name carries a
// credential, case-insensitively: token, key, sig, signature, password,
// passwd, pwd, secret, auth, apikey, or a name whose last word is one
// (access_token, api_key, stream-key, X-Api-Key, accessToken), or that ends
// in token, secret, password, passwd, signature or apikey, or starts with
// X-Amz- or X-Goog- (the parameters of signed S3 and GCS URLs).
func CredentialParam(name string) bool {
	lower := strings.ToLower(name)
	if strings.HasPrefix(lower, "x-amz-") || strings.HasPrefix(lower, "x-goog-") {
		return true
	}
	if credentialWords[lower] || credentialWords[strings.ToLower(lastWord(name))] {
		return true
	}
	for _, s := range credentialSuffixes {
		if strings.HasSuffix(lower, s) {
			return true
		}
	}
	return false
}

// lastWord is the last word of a parameter name whose words are separated
// by '_', '-' or '.', or written in camel case.
func lastWord(name string) string {
	name = strings.TrimRight(name, "_-.")
	if i := strings.LastIndexAny(name, "_-."); i >= 0 {
		name = name[i+1:]
	}
	r := []rune(name)
	for i := len(r) - 1; i > 0; i-- {
		if unicode.IsUpper(r[i]) && unicode.IsLower(r[i-1]) {
			return string(r[i:])
		}
	}
	return name
}

// RedactQuery returns a raw query with the value of every credential
// parameter (CredentialParam) replaced by "xxxxx". Names, order, other
// values and the separators ('&', ';') stay as written, so the shown URI
// still tells which parameters were there; an empty value stays empty.
func RedactQuery(raw string) string {
	if raw == "" {
		return raw
	}
	var b strings.Builder
	b.Grow(len(raw))
	start := 0
	for i := 0; i <= len(raw); i++ {
		if i < len(raw) && raw[i] != '&' && raw[i] != ';' {
			continue
		}
		b.WriteString(redactParam(raw[start:i]))
		if i < len(raw) {
			b.WriteByte(raw[i])
		}
		start = i + 1
	}
	return b.String()
}

// redactParam redacts one name=value of a raw query when the name, as
// escaped or unescaped, is a credential parameter's.
func redactParam(kv string) string {
	k, v, ok := strings.Cut(kv, "=")
	if !ok || v == "" {
		return kv
	}
	name := k
	if u, err := url.QueryUnescape(k); err == nil {
		name = u
	}
	if !CredentialParam(name) && !CredentialParam(k) {
		return kv
	}
	return k + "=" + redacted
}

// Redact returns uri with the password in its userinfo and the values of
// its credential query parameters (RedactQuery; in the fragment too, where
// some flows put an access_token) replaced by "xxxxx". It
// works on strings url.Parse rejects too, so error messages about a bad URI
// never echo its secrets.
func Redact(uri string) string {
	if u, err := url.Parse(uri); err == nil {
		u.RawQuery = RedactQuery(u.RawQuery)
		if raw := u.EscapedFragment(); raw != "" {
			if red := RedactQuery(raw); red != raw {
				u.RawFragment = red
				u.Fragment = red
				if f, err := url.PathUnescape(red); err == nil {
					u.Fragment = f
				}
			}
		}
		return u.Redacted()
	}
	uri = redactUserinfo(uri)
	frag := ""
	if f := strings.IndexByte(uri, '#'); f >= 0 {
		uri, frag = uri[:f], "#"+RedactQuery(uri[f+1:])
	}
	if q := strings.IndexByte(uri, '?'); q >= 0 {
		uri = uri[:q+1] + RedactQuery(uri[q+1:])
	}
	return uri + frag
}

// redactUserinfo masks the password of a URI url.Parse rejects: the text
// between the first ':' and the last '@' of its authority.
func redactUserinfo(uri string) string {
	i := strings.Index(uri, "://")
	if i < 0 {
		return uri
	}
	rest := uri[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		return uri
	}
	colon := strings.Index(rest[:at], ":")
	if colon < 0 {
		return uri
	}
	return uri[:i+3] + rest[:colon+1] + redacted + rest[at:]
}

// Secrets returns the credentials in the URI as they may appear in a
// message about it (a GStreamer error quoting the location): the userinfo
// password and the values of credential parameters in its query and
// fragment, each as written and unescaped. Text that shows one of them must be masked before it is
// logged or shown; Redacted does that for the URI itself.
func (s Spec) Secrets() []string {
	u, err := url.Parse(s.URI)
	if err != nil {
		return nil
	}
	var out []string
	add := func(raw, plain string) {
		for _, v := range []string{raw, plain} {
			if v != "" && !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	if pw, ok := u.User.Password(); ok {
		_, raw, _ := strings.Cut(u.User.String(), ":")
		add(raw, pw)
	}
	sep := func(r rune) bool { return r == '&' || r == ';' }
	for _, kv := range strings.FieldsFunc(u.RawQuery+"&"+u.EscapedFragment(), sep) {
		k, v, _ := strings.Cut(kv, "=")
		name, plain := k, v
		if un, err := url.QueryUnescape(k); err == nil {
			name = un
		}
		if pv, err := url.QueryUnescape(v); err == nil {
			plain = pv
		}
		if CredentialParam(name) || CredentialParam(k) {
			add(v, plain)
		}
	}
	return out
}
