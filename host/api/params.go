package api

import (
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// paramError is a user's mistake in a request parameter: a 400 whose
// message names the parameter and quotes the bad value.
type paramError struct {
	kind  string // "query parameter" or "path parameter"
	name  string
	value string
	want  string
}

func (e *paramError) Error() string {
	return fmt.Sprintf("%s %q: %s, got %q", e.kind, e.name, e.want, e.value)
}

// queryInt reads an optional integer query parameter within [lo, hi]; absent
// gives def. want describes the accepted values for the error message.
func queryInt(q url.Values, name string, def, lo, hi int64, want string) (int64, error) {
	vals, ok := q[name]
	if !ok {
		return def, nil
	}
	if len(vals) != 1 {
		return 0, fmt.Errorf("query parameter %q: given %d times, want it once", name, len(vals))
	}
	return parseInt("query parameter", name, vals[0], lo, hi, want)
}

// parseInt parses a decimal integer within [lo, hi].
func parseInt(kind, name, raw string, lo, hi int64, want string) (int64, error) {
	v, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || v < lo || v > hi {
		return 0, &paramError{kind: kind, name: name, value: raw, want: want}
	}
	return v, nil
}

// queryRun reads the optional run query parameter: a stream run id as the
// host makes them, 16 lowercase hex characters. Absent gives "" (the run
// stored last); present, it must be given once and be well formed.
func queryRun(q url.Values) (string, error) {
	vals, ok := q["run"]
	if !ok {
		return "", nil
	}
	if len(vals) != 1 {
		return "", fmt.Errorf("query parameter %q: given %d times, want it once", "run", len(vals))
	}
	if !isRunID(vals[0]) {
		return "", &paramError{kind: "query parameter", name: "run", value: vals[0],
			want: "must be a run id of 16 lowercase hex characters"}
	}
	return vals[0], nil
}

// isRunID reports whether s is 16 lowercase hex characters.
func isRunID(s string) bool {
	if len(s) != 16 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// queryTimes reads the optional RFC 3339 time query parameters from and to.
func queryTimes(q url.Values, from, to *time.Time) error {
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", from}, {"to", to}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return fmt.Errorf("query parameter %s: must be an RFC 3339 time such as 2026-01-02T15:04:05Z, got %q", p.name, v)
			}
			*p.dst = t
		}
	}
	return nil
}
