package sqlite

import (
	"database/sql"
	"encoding/json"
	"time"
)

// unixNS encodes t as unix nanoseconds; the zero time is NULL, since its
// UnixNano is out of range.
func unixNS(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}
}

// fromUnixNS decodes what unixNS encoded, in UTC.
func fromUnixNS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.Unix(0, v.Int64).UTC()
}

// jsonText encodes v for a JSON column. nil encodes as "null", so a nil
// slice or map comes back nil and an empty one comes back empty.
func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}
