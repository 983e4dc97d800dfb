package telemetry

import (
	"math"
	"strconv"
	"time"
)

// unixUnits are the units senders commonly give unix times in, coarsest
// first. A time within MinYear..MaxYear spans less than a factor of 1000 in
// any of them, so the ranges never overlap and the magnitude alone names the
// unit a number was meant in.
var unixUnits = []struct {
	name string
	per  int64 // units per second
}{
	{"seconds", 1},
	{"milliseconds", 1e3},
	{"microseconds", 1e6},
	{"nanoseconds", 1e9},
}

var (
	minUnix = time.Date(MinYear, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	endUnix = time.Date(MaxYear+1, 1, 1, 0, 0, 0, 0, time.UTC).Unix() // exclusive
)

// unixUnit reads a number literal (JSON number or decimal digits) as a unix
// time and returns the unit in which it falls within MinYear..MaxYear and the
// time it then means, or ok false when it is no plausible time in any unit.
// It only serves error messages, so a float's time is rounded to the
// millisecond.
func unixUnit(lit string) (unit string, t time.Time, ok bool) {
	if n, err := strconv.ParseInt(lit, 10, 64); err == nil {
		for _, u := range unixUnits {
			// endUnix*1e9 (about 7.3e18) still fits an int64.
			if n >= minUnix*u.per && n < endUnix*u.per {
				return u.name, time.Unix(n/u.per, n%u.per*(1e9/u.per)).UTC(), true
			}
		}
		return "", time.Time{}, false
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return "", time.Time{}, false
	}
	for _, u := range unixUnits {
		if f >= float64(minUnix*u.per) && f < float64(endUnix*u.per) {
			ms := math.Round(f / float64(u.per) * 1e3)
			return u.name, time.UnixMilli(int64(ms)).UTC(), true
		}
	}
	return "", time.Time{}, false
}

// saturated is what time.Time.Sub returns when the true difference does not
// fit a Duration.
const saturated = time.Duration(math.MaxInt64)

// fmtSkew prints a non-negative clock difference; a saturated one is said
// as a bound rather than as a (wrong) number of hours.
func fmtSkew(d time.Duration) string {
	if d >= saturated {
		return "more than 292 years"
	}
	return d.String()
}

// unixSkew returns how far the unix time n (seconds, n >= 0) is behind and
// ahead of now: one of the two is zero, and both saturate instead of
// overflowing. time.Unix itself overflows its internal seconds near
// math.MaxInt64, so a distance beyond any Duration is decided in seconds
// first.
func unixSkew(n int64, now time.Time) (ts time.Time, behind, ahead time.Duration) {
	// n >= 0 and now is after 1970, so the difference cannot overflow.
	if n-now.Unix() > int64(saturated/time.Second) {
		return time.Time{}, 0, saturated
	}
	ts = time.Unix(n, 0)
	if d := now.Sub(ts); d > 0 {
		return ts, d, 0 // Sub saturates on its own
	}
	return ts, 0, ts.Sub(now)
}
