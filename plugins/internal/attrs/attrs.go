// Package attrs parses the model plugins' numeric block attributes (all
// strings on the wire) with one message form, so a user reads the same
// "NAME = "VALUE": want ..." whichever plugin refused it.
package attrs

import (
	"fmt"
	"strconv"
)

// Int sets *dst from attrs[name] when present: a whole number in lo..hi.
func Int(attrs map[string]string, name string, lo, hi int, dst *int) error {
	v, ok := attrs[name]
	if !ok {
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return fmt.Errorf("%s = %q: want a whole number %d..%d", name, v, lo, hi)
	}
	*dst = n
	return nil
}

// Float sets *dst from attrs[name] when present: a number in lo..hi.
func Float(attrs map[string]string, name string, lo, hi float64, dst *float64) error {
	v, ok := attrs[name]
	if !ok {
		return nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f >= lo && f <= hi) {
		return fmt.Errorf("%s = %q: want a number %g..%g", name, v, lo, hi)
	}
	*dst = f
	return nil
}
