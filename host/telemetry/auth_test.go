package telemetry

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const secret = "s3cr3t-value"

// clock is an injectable, settable now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func newTestVerifier(cfg Config) (*Verifier, *clock) {
	c := &clock{t: testNow}
	if cfg.Sources == nil {
		cfg.Sources = []Source{{Name: "polar", Secret: secret, Stream: "main"}, {Name: "obs", Secret: "other"}}
	}
	return NewVerifier(cfg, c.now), c
}

func signed(src, key string, ts time.Time, body []byte) http.Header {
	tsh, sig := Sign(key, ts, body)
	h := http.Header{}
	h.Set(HeaderSource, src)
	h.Set(HeaderTimestamp, tsh)
	h.Set(HeaderSignature, sig)
	return h
}

func wantAuth(t *testing.T, err error, status int, frag string) {
	t.Helper()
	var ae *AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("err %v; want *AuthError %d", err, status)
	}
	if ae.Status != status || !strings.Contains(ae.Reason, frag) || ae.Error() != ae.Reason {
		t.Errorf("got %d %q; want %d containing %q", ae.Status, ae.Reason, status, frag)
	}
	if strings.Contains(ae.Reason, secret) {
		t.Errorf("reason leaks the secret: %q", ae.Reason)
	}
}

func TestSignFormat(t *testing.T) {
	tsh, sig := Sign("key", time.Unix(1714564800, 999), []byte(`{"events":[]}`))
	if tsh != "1714564800" {
		t.Errorf("timestamp %q", tsh)
	}
	// Independent of the package: printf '1714564800.{"events":[]}' | openssl dgst -sha256 -hmac key
	if want := "sha256=8448b0a062b3ca1e9743ea150a13ef5398f49d1195b7b4b8d6b234a40c02c2e6"; sig != want {
		t.Errorf("signature %q", sig)
	}
}

func TestVerifyGood(t *testing.T) {
	v, _ := newTestVerifier(Config{})
	body := batch(physio)
	src, err := v.Verify(signed("polar", secret, testNow, body), body)
	if err != nil || src.Name != "polar" || src.Stream != "main" {
		t.Fatalf("src %+v err %v", src, err)
	}
	src, err = v.Verify(signed("obs", "other", testNow, body), body)
	if err != nil || src.Name != "obs" {
		t.Fatalf("second source: %+v %v", src, err)
	}
}

func TestVerifyRefusals(t *testing.T) {
	body := batch(physio)
	good := func() http.Header { return signed("polar", secret, testNow, body) }
	edit := func(f func(h http.Header)) http.Header { h := good(); f(h); return h }
	tests := []struct {
		name   string
		h      http.Header
		body   []byte
		status int
		frag   string
	}{
		{"wrong secret", signed("polar", "guess", testNow, body), body, 401, "X-LSIE-Signature header does not match the request"},
		{"other source's secret", signed("polar", "other", testNow, body), body, 401, "does not match"},
		{"unknown source", signed("nobody", secret, testNow, body), body, 401, `unknown source "nobody" in X-LSIE-Source header`},
		{"missing source", edit(func(h http.Header) { h.Del(HeaderSource) }), body, 401, "missing X-LSIE-Source header"},
		{"blank source", edit(func(h http.Header) { h.Set(HeaderSource, " ") }), body, 401, "missing X-LSIE-Source header"},
		{"two sources", edit(func(h http.Header) { h.Add(HeaderSource, "obs") }), body, 401, "X-LSIE-Source header given more than once"},
		{"missing timestamp", edit(func(h http.Header) { h.Del(HeaderTimestamp) }), body, 401, "missing X-LSIE-Timestamp header"},
		{"malformed timestamp", edit(func(h http.Header) { h.Set(HeaderTimestamp, "2024-05-01T12:00:00Z") }), body, 401, "malformed X-LSIE-Timestamp header: want unix seconds"},
		{"negative timestamp", edit(func(h http.Header) { h.Set(HeaderTimestamp, "-1") }), body, 401, "malformed X-LSIE-Timestamp"},
		{"fractional timestamp", edit(func(h http.Header) { h.Set(HeaderTimestamp, "1714564800.5") }), body, 401, "malformed X-LSIE-Timestamp"},
		{"huge timestamp", edit(func(h http.Header) { h.Set(HeaderTimestamp, strings.Repeat("9", 30)) }), body, 401, "malformed X-LSIE-Timestamp"},
		{"timestamp in ms", edit(func(h http.Header) { h.Set(HeaderTimestamp, fmt.Sprint(testNow.UnixMilli())) }), body, 401, "X-LSIE-Timestamp header 1714564830000 looks like unix milliseconds (2024-05-01T12:00:30Z); want unix seconds"},
		{"timestamp in us", edit(func(h http.Header) { h.Set(HeaderTimestamp, fmt.Sprint(testNow.UnixMicro())) }), body, 401, "looks like unix microseconds (2024-05-01T12:00:30Z); want unix seconds"},
		{"timestamp in ns", edit(func(h http.Header) { h.Set(HeaderTimestamp, fmt.Sprint(testNow.UnixNano())) }), body, 401, "looks like unix nanoseconds (2024-05-01T12:00:30Z); want unix seconds"},
		{"timestamp far ahead", edit(func(h http.Header) { h.Set(HeaderTimestamp, "99999999999999999") }), body, 401, "X-LSIE-Timestamp header is more than 292 years ahead of the host clock"},
		{"timestamp far behind", edit(func(h http.Header) { h.Set(HeaderTimestamp, "0") }), body, 401, "X-LSIE-Timestamp header is 476268h0m30s behind the host clock"},
		{"timestamp behind", signed("polar", secret, testNow.Add(-5*time.Minute-time.Second), body), body, 401, "X-LSIE-Timestamp header is 5m1s behind the host clock, beyond the 5m0s tolerance"},
		{"timestamp ahead", signed("polar", secret, testNow.Add(6*time.Minute), body), body, 401, "X-LSIE-Timestamp header is 6m0s ahead of the host clock, beyond the 5m0s tolerance"},
		{"missing signature", edit(func(h http.Header) { h.Del(HeaderSignature) }), body, 401, "missing X-LSIE-Signature header"},
		{"signature no prefix", edit(func(h http.Header) { h.Set(HeaderSignature, strings.TrimPrefix(h.Get(HeaderSignature), "sha256=")) }), body, 401, "malformed X-LSIE-Signature header: want sha256=<64 hex digits>"},
		{"signature not hex", edit(func(h http.Header) { h.Set(HeaderSignature, "sha256="+strings.Repeat("zz", 32)) }), body, 401, "malformed X-LSIE-Signature"},
		{"signature short", edit(func(h http.Header) { h.Set(HeaderSignature, h.Get(HeaderSignature)[:40]) }), body, 401, "malformed X-LSIE-Signature"},
		{"body modified", good(), batch(stim), 401, "does not match"},
		{"body appended", good(), append(batch(physio), ' '), 401, "does not match"},
		{"timestamp modified", edit(func(h http.Header) { h.Set(HeaderTimestamp, fmt.Sprint(testNow.Unix()+1)) }), body, 401, "does not match"},
		{"body too large", good(), make([]byte, DefaultMaxBody+1), 413, "request body exceeds 1048576 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, _ := newTestVerifier(Config{})
			_, err := v.Verify(tc.h, tc.body)
			wantAuth(t, err, tc.status, tc.frag)
			if v.replayEntries() != 0 {
				t.Errorf("a refused request entered the replay cache")
			}
		})
	}
}

func TestVerifyToleranceEdges(t *testing.T) {
	v, _ := newTestVerifier(Config{Tolerance: time.Minute})
	body := batch(physio)
	for _, d := range []time.Duration{-time.Minute, time.Minute} {
		if _, err := v.Verify(signed("polar", secret, testNow.Add(d), body), body); err != nil {
			t.Errorf("skew %v at the tolerance: %v", d, err)
		}
	}
	_, err := v.Verify(signed("polar", secret, testNow.Add(-61*time.Second), body), body)
	wantAuth(t, err, 401, "beyond the 1m0s tolerance")
}

func TestVerifyHeaderCase(t *testing.T) {
	v, _ := newTestVerifier(Config{})
	body := batch(physio)
	tsh, sig := Sign(secret, testNow, body)
	// Set directly in the map, bypassing canonicalisation, as a hand-built
	// header (or an HTTP/2 lower-case one copied verbatim) would be.
	h := http.Header{"x-lsie-source": {"polar"}, "X-LSIE-TIMESTAMP": {tsh}, "x-Lsie-Signature": {strings.ToUpper(sig[:7]) + sig[7:]}}
	if _, err := v.Verify(h, body); err != nil {
		t.Fatalf("raw-case keys: %v", err)
	}
	h2 := http.Header{}
	h2.Set("x-lsie-source", "polar")
	h2.Set("x-lsie-timestamp", tsh)
	h2.Set("X-LSIE-SIGNATURE", strings.ToUpper(sig))
	_, err := v.Verify(h2, body)
	wantAuth(t, err, 409, "replayed request") // same signature, upper-case hex: still the same request
}

func TestVerifyReplay(t *testing.T) {
	v, c := newTestVerifier(Config{})
	body := batch(physio)
	h := signed("polar", secret, testNow, body)
	if _, err := v.Verify(h, body); err != nil {
		t.Fatal(err)
	}
	c.set(testNow.Add(4 * time.Minute))
	_, err := v.Verify(h, body)
	wantAuth(t, err, 409, "replayed request: this X-LSIE-Signature was already accepted")
	// A new timestamp is a new request.
	if _, err := v.Verify(signed("polar", secret, testNow.Add(time.Second), body), body); err != nil {
		t.Errorf("re-signed request: %v", err)
	}
	// The same body and second from another source is not a replay.
	if _, err := v.Verify(signed("obs", "other", testNow, body), body); err != nil {
		t.Errorf("other source: %v", err)
	}
}

// An entry lives exactly as long as its timestamp is acceptable: until then
// a replay is 409, afterwards the timestamp check refuses it (401) and the
// cache has forgotten it, so the cache holds only what can still be
// replayed.
func TestVerifyReplayExpiry(t *testing.T) {
	v, c := newTestVerifier(Config{})
	body := batch(physio)
	ts := testNow.Add(2 * time.Minute) // a sender clock ahead of ours
	h := signed("polar", secret, ts, body)
	if _, err := v.Verify(h, body); err != nil {
		t.Fatal(err)
	}
	c.set(ts.Add(5 * time.Minute)) // last acceptable instant
	_, err := v.Verify(h, body)
	wantAuth(t, err, 409, "replayed request")

	c.set(ts.Add(5*time.Minute + time.Nanosecond))
	_, err = v.Verify(h, body)
	wantAuth(t, err, 401, "behind the host clock")
	// Any accepted request prunes what expired.
	if _, err := v.Verify(signed("obs", "other", c.now(), body), body); err != nil {
		t.Fatal(err)
	}
	if n := v.replayEntries(); n != 1 {
		t.Errorf("replay cache holds %d entries; want only the fresh one", n)
	}
}

// The brief's "accepted again after expiry": a signature remembered under a
// short tolerance is forgotten once expired, and a verifier that accepts
// the same timestamp again (a later, wider window) takes it.
func TestVerifyReplayAcceptedAfterExpiry(t *testing.T) {
	v, c := newTestVerifier(Config{Tolerance: 10 * time.Second})
	body := batch(physio)
	ts := testNow
	h := signed("polar", secret, ts, body)
	if _, err := v.Verify(h, body); err != nil {
		t.Fatal(err)
	}
	c.set(ts.Add(10 * time.Second))
	_, err := v.Verify(h, body)
	wantAuth(t, err, 409, "replayed")
	c.set(ts.Add(11 * time.Second))
	_, err = v.Verify(h, body)
	wantAuth(t, err, 401, "beyond the 10s tolerance")
	// Prune, then show the entry is gone by moving the clock back into the
	// window (a stepped host clock): the request is accepted again.
	if _, err := v.Verify(signed("obs", "other", c.now(), body), body); err != nil {
		t.Fatal(err)
	}
	c.set(ts)
	if _, err := v.Verify(h, body); err != nil {
		t.Errorf("after expiry: %v", err)
	}
}

func TestVerifyReplayCacheFull(t *testing.T) {
	v, c := newTestVerifier(Config{MaxReplay: 2})
	body := batch(physio)
	for i := 0; i < 2; i++ {
		if _, err := v.Verify(signed("polar", secret, testNow.Add(time.Duration(i)*time.Second), body), body); err != nil {
			t.Fatal(err)
		}
	}
	_, err := v.Verify(signed("polar", secret, testNow.Add(2*time.Second), body), body)
	wantAuth(t, err, 429, "replay cache full")
	c.set(testNow.Add(5*time.Minute + 1500*time.Millisecond)) // the first entry expired
	if _, err := v.Verify(signed("polar", secret, c.now(), body), body); err != nil {
		t.Errorf("after an entry expired: %v", err)
	}
}

func TestVerifyConcurrent(t *testing.T) {
	v, c := newTestVerifier(Config{})
	body := batch(physio)
	const distinct, copies = 20, 8
	var accepted, replayed atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < distinct; i++ {
		h := signed("polar", secret, testNow.Add(time.Duration(i)*time.Second), body)
		for j := 0; j < copies; j++ {
			wg.Add(1)
			go func(h http.Header) {
				defer wg.Done()
				_, err := v.Verify(h.Clone(), body)
				var ae *AuthError
				switch {
				case err == nil:
					accepted.Add(1)
				case errors.As(err, &ae) && ae.Status == 409:
					replayed.Add(1)
				default:
					t.Errorf("unexpected %v", err)
				}
			}(h)
		}
	}
	wg.Add(1)
	go func() { defer wg.Done(); c.set(testNow.Add(time.Second)) }() // clock moves meanwhile
	wg.Wait()
	if accepted.Load() != distinct || replayed.Load() != distinct*(copies-1) {
		t.Errorf("accepted %d replayed %d; want %d and %d", accepted.Load(), replayed.Load(), distinct, distinct*(copies-1))
	}
}

func TestNewVerifierDefaultsAndIgnoredSources(t *testing.T) {
	cfg := Config{Sources: []Source{{Name: "a", Secret: "x"}, {Name: "a", Secret: "y"}, {Name: "nosecret"}, {Secret: "noname"}}}
	if err := cfg.Check(); err == nil || !strings.Contains(err.Error(), `"a": duplicate name`) {
		t.Errorf("Check: %v", err)
	}
	if v := NewVerifier(cfg, nil); v.MaxBody() != DefaultMaxBody || v.MaxEvents() != DefaultMaxEvents || v.Tolerance() != DefaultTolerance || v.now == nil {
		t.Errorf("defaults %d %d %v", v.MaxBody(), v.MaxEvents(), v.Tolerance())
	}
	if v := NewVerifier(Config{MaxBody: 10, MaxEvents: 3, Tolerance: time.Second}, nil); v.MaxBody() != 10 || v.MaxEvents() != 3 || v.Tolerance() != time.Second {
		t.Errorf("configured limits %d %d %v", v.MaxBody(), v.MaxEvents(), v.Tolerance())
	}
	now := testNow
	v := NewVerifier(cfg, func() time.Time { return now })
	body := []byte(`{"events":[]}`)
	if _, err := v.Verify(signed("a", "x", now, body), body); err != nil {
		t.Errorf("first of duplicates: %v", err)
	}
	_, err := v.Verify(signed("a", "y", now, body), body)
	wantAuth(t, err, 401, "does not match")
	_, err = v.Verify(signed("nosecret", "", now, body), body)
	wantAuth(t, err, 401, `unknown source "nosecret"`)

	for _, bad := range []Config{
		{Sources: []Source{{Secret: "x"}}},
		{Sources: []Source{{Name: "a"}}},
		{Tolerance: -1},
	} {
		if bad.Check() == nil {
			t.Errorf("Check(%+v) = nil", bad)
		}
	}
	if err := (Config{Sources: []Source{{Name: "a", Secret: "x"}}}).Check(); err != nil {
		t.Errorf("good config: %v", err)
	}
}
