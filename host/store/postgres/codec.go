package postgres

import (
	"encoding/json"
	"time"
)

// unixNS encodes t as unix nanoseconds; the zero time is NULL, since its
// UnixNano is out of range.
func unixNS(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	ns := t.UnixNano()
	return &ns
}

// fromUnixNS decodes what unixNS encoded, in UTC.
func fromUnixNS(v *int64) time.Time {
	if v == nil {
		return time.Time{}
	}
	return time.Unix(0, *v).UTC()
}

// jsonText encodes v for a jsonb column. nil encodes as "null", so a nil
// slice or map comes back nil and an empty one comes back empty. The bytes
// are passed to pgx as a string: it sends a string to a json or jsonb
// parameter as the JSON text itself.
func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}
