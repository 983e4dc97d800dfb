// Package telemetry authenticates and decodes the telemetry webhook
// (POST /api/v1/telemetry): external sources post batches of physiology,
// stimulus and stream events, signed with a per-source HMAC secret. The
// package is pure (no storage, no HTTP server) so the handler stays thin and
// every rule is unit-testable with an injected clock.
package telemetry

import (
	"container/heap"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Path is the webhook's route.
const Path = "/api/v1/telemetry"

// Request headers of the webhook.
const (
	HeaderSource    = "X-LSIE-Source"
	HeaderTimestamp = "X-LSIE-Timestamp"
	HeaderSignature = "X-LSIE-Signature"
)

// Defaults of Config's zero fields.
const (
	DefaultTolerance = 5 * time.Minute
	DefaultMaxEvents = 1000
	DefaultMaxBody   = 1 << 20
	DefaultMaxReplay = 1 << 16
)

// sigPrefix names the MAC algorithm, so another can be added later without
// ambiguity.
const sigPrefix = "sha256="

// Source is one sender allowed to post telemetry.
type Source struct {
	// Name is what the sender puts in X-LSIE-Source; it becomes the events'
	// Source.
	Name string
	// Secret is the HMAC-SHA256 key. A source with an empty secret never
	// authenticates (an empty key would be no protection).
	Secret string
	// ClockOffset is added to an event's time to get the host clock's time
	// (the sender's clock runs ClockOffset behind the host's).
	ClockOffset time.Duration
	// Stream is the stream of events that carry no stream_id ("" = none:
	// stream_id is then required).
	Stream string
}

// Config is the webhook's authentication and size policy.
type Config struct {
	Sources []Source
	// Tolerance is how far X-LSIE-Timestamp may be from the host clock, on
	// either side (<= 0: DefaultTolerance). It also bounds how long a
	// signature is remembered against replays.
	Tolerance time.Duration
	// MaxEvents caps the events of one request (<= 0: DefaultMaxEvents).
	MaxEvents int
	// MaxBody caps the body in bytes (<= 0: DefaultMaxBody).
	MaxBody int64
	// MaxReplay caps the replay cache's entries (<= 0: DefaultMaxReplay);
	// when it is full of unexpired signatures new requests are refused
	// (429) rather than forgetting one, which would let it be replayed.
	MaxReplay int
}

// Check reports a configuration that cannot work as meant: a source without
// a name or secret, or two sources with the same name. NewVerifier does not
// call it (it never fails); the config loader should.
func (c Config) Check() error {
	seen := make(map[string]bool, len(c.Sources))
	for i, s := range c.Sources {
		switch {
		case s.Name == "":
			return fmt.Errorf("telemetry source %d: empty name", i)
		case s.Secret == "":
			return fmt.Errorf("telemetry source %q: empty secret", s.Name)
		case seen[s.Name]:
			return fmt.Errorf("telemetry source %q: duplicate name", s.Name)
		}
		seen[s.Name] = true
	}
	if c.Tolerance < 0 || c.MaxEvents < 0 || c.MaxBody < 0 || c.MaxReplay < 0 {
		return fmt.Errorf("telemetry: negative tolerance or limit")
	}
	return nil
}

// AuthError is a refused request: Status is the HTTP status to answer (401
// unauthenticated, 409 replayed, 413 body too large, 429 replay cache full)
// and Reason says why without revealing any secret.
type AuthError struct {
	Status int
	Reason string
}

func (e *AuthError) Error() string { return e.Reason }

func unauthorized(format string, args ...any) *AuthError {
	return &AuthError{Status: http.StatusUnauthorized, Reason: fmt.Sprintf(format, args...)}
}

// Verifier authenticates webhook requests. It is safe for concurrent use.
type Verifier struct {
	sources   map[string]Source
	tolerance time.Duration
	maxEvents int
	maxBody   int64
	maxReplay int
	now       func() time.Time

	mu     sync.Mutex
	seen   map[string]time.Time // replay key -> expiry
	expiry expiryHeap
}

// NewVerifier returns a Verifier for cfg reading the clock from now
// (nil: time.Now). Sources with an empty name or secret are ignored; of two
// with the same name the first wins (Config.Check reports both).
func NewVerifier(cfg Config, now func() time.Time) *Verifier {
	if now == nil {
		now = time.Now
	}
	v := &Verifier{
		sources:   make(map[string]Source, len(cfg.Sources)),
		tolerance: cfg.Tolerance,
		maxEvents: cfg.MaxEvents,
		maxBody:   cfg.MaxBody,
		maxReplay: cfg.MaxReplay,
		now:       now,
		seen:      make(map[string]time.Time),
	}
	if v.tolerance <= 0 {
		v.tolerance = DefaultTolerance
	}
	if v.maxEvents <= 0 {
		v.maxEvents = DefaultMaxEvents
	}
	if v.maxBody <= 0 {
		v.maxBody = DefaultMaxBody
	}
	if v.maxReplay <= 0 {
		v.maxReplay = DefaultMaxReplay
	}
	for _, s := range cfg.Sources {
		if _, dup := v.sources[s.Name]; s.Name == "" || s.Secret == "" || dup {
			continue
		}
		v.sources[s.Name] = s
	}
	return v
}

// MaxBody is the body limit in bytes; the handler should read at most
// MaxBody()+1 bytes (http.MaxBytesReader) before calling Verify.
func (v *Verifier) MaxBody() int64 { return v.maxBody }

// MaxEvents is the per-request event limit, for Validator.MaxEvents.
func (v *Verifier) MaxEvents() int { return v.maxEvents }

// Tolerance is the accepted clock skew of X-LSIE-Timestamp.
func (v *Verifier) Tolerance() time.Duration { return v.tolerance }

// Sign returns the X-LSIE-Timestamp and X-LSIE-Signature header values for
// body sent at ts with secret.
func Sign(secret string, ts time.Time, body []byte) (tsHeader, sigHeader string) {
	tsHeader = strconv.FormatInt(ts.Unix(), 10)
	return tsHeader, sigPrefix + hex.EncodeToString(mac(secret, tsHeader, body))
}

// mac signs the timestamp header as sent (not a re-formatted number), so the
// sender and the host agree byte for byte.
func mac(secret, tsHeader string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(tsHeader))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify authenticates a request from its headers and its whole body and
// returns its source, or an *AuthError. An accepted signature is remembered
// until its timestamp leaves the tolerance window, so the same request
// cannot be accepted twice.
func (v *Verifier) Verify(h http.Header, body []byte) (Source, error) {
	if int64(len(body)) > v.maxBody {
		return Source{}, &AuthError{Status: http.StatusRequestEntityTooLarge,
			Reason: fmt.Sprintf("request body exceeds %d bytes", v.maxBody)}
	}
	name, err := header(h, HeaderSource)
	if err != nil {
		return Source{}, err
	}
	src, ok := v.sources[name]
	if !ok {
		return Source{}, unauthorized("unknown source %s in %s header", quote(name), HeaderSource)
	}
	tsHeader, err := header(h, HeaderTimestamp)
	if err != nil {
		return Source{}, err
	}
	n, ok := parseUnix(tsHeader)
	if !ok {
		return Source{}, unauthorized("malformed %s header: want unix seconds (decimal digits)", HeaderTimestamp)
	}
	// A sender in the wrong unit would otherwise read as centuries ahead;
	// naming the unit tells it what to fix.
	if unit, t, ok := unixUnit(tsHeader); ok && unit != "seconds" {
		return Source{}, unauthorized("%s header %s looks like unix %s (%s); want unix seconds, e.g. %d",
			HeaderTimestamp, tsHeader, unit, t.Format(time.RFC3339Nano), t.Unix())
	}
	now := v.now()
	ts, behind, ahead := unixSkew(n, now)
	if behind > v.tolerance {
		return Source{}, unauthorized("%s header is %s behind the host clock, beyond the %v tolerance", HeaderTimestamp, fmtSkew(behind), v.tolerance)
	} else if ahead > v.tolerance {
		return Source{}, unauthorized("%s header is %s ahead of the host clock, beyond the %v tolerance", HeaderTimestamp, fmtSkew(ahead), v.tolerance)
	}
	sigHeader, err := header(h, HeaderSignature)
	if err != nil {
		return Source{}, err
	}
	sig, ok := parseSig(sigHeader)
	if !ok {
		return Source{}, unauthorized("malformed %s header: want %s<64 hex digits>", HeaderSignature, sigPrefix)
	}
	if !hmac.Equal(sig, mac(src.Secret, tsHeader, body)) {
		return Source{}, unauthorized("%s header does not match the request (wrong secret, or body or timestamp altered)", HeaderSignature)
	}
	// Checked last: only authentic requests may occupy the cache.
	if err := v.remember(src.Name+"\x00"+string(sig), ts.Add(v.tolerance), now); err != nil {
		return Source{}, err
	}
	return src, nil
}

// remember records key until exp, or says it is a replay. exp is the
// timestamp plus the tolerance: after it the timestamp check refuses the
// request anyway, so the entry is no longer needed.
func (v *Verifier) remember(key string, exp, now time.Time) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	for len(v.expiry) > 0 && now.After(v.expiry[0].exp) {
		e := heap.Pop(&v.expiry).(expiryEntry)
		delete(v.seen, e.key)
	}
	if _, dup := v.seen[key]; dup {
		return &AuthError{Status: http.StatusConflict,
			Reason: fmt.Sprintf("replayed request: this %s was already accepted", HeaderSignature)}
	}
	if len(v.seen) >= v.maxReplay {
		return &AuthError{Status: http.StatusTooManyRequests, Reason: "replay cache full; retry later"}
	}
	v.seen[key] = exp
	heap.Push(&v.expiry, expiryEntry{key: key, exp: exp})
	return nil
}

// replayEntries is the replay cache's size (tests check expiry with it).
func (v *Verifier) replayEntries() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.seen)
}

// header returns the single value of a header. Get canonicalises the name,
// the fallback also finds keys set directly in the map in another case.
func header(h http.Header, name string) (string, error) {
	vals := h.Values(name)
	if len(vals) == 0 {
		for k, vs := range h {
			if strings.EqualFold(k, name) {
				vals = append(vals, vs...)
			}
		}
	}
	switch {
	case len(vals) > 1:
		return "", unauthorized("%s header given more than once", name)
	case len(vals) == 0 || strings.TrimSpace(vals[0]) == "":
		return "", unauthorized("missing %s header", name)
	}
	return strings.TrimSpace(vals[0]), nil
}

// parseUnix accepts only decimal digits: a sign, spaces or exponents would
// let two header strings mean one time and complicate the signed bytes. Up
// to 19 digits, so that nanoseconds are read and can be named as such.
func parseUnix(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 19 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

func parseSig(s string) ([]byte, bool) {
	if len(s) != len(sigPrefix)+2*sha256.Size || !strings.EqualFold(s[:len(sigPrefix)], sigPrefix) {
		return nil, false
	}
	b, err := hex.DecodeString(s[len(sigPrefix):])
	return b, err == nil
}

// quote bounds what an error echoes of a client's input.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}

type expiryEntry struct {
	key string
	exp time.Time
}

// expiryHeap orders cache entries by expiry, so pruning pops only what is
// due instead of scanning the whole cache on every request.
type expiryHeap []expiryEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].exp.Before(h[j].exp) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiryEntry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
