package wer

import (
	"slices"
	"testing"
)

func TestNormalize(t *testing.T) {
	got := Normalize("And so, my fellow Americans: ask NOT -- what 'your' country's can")
	want := []string{"and", "so", "my", "fellow", "americans", "ask", "not", "what", "your", "country's", "can"}
	if !slices.Equal(got, want) {
		t.Fatalf("%q", got)
	}
}

func TestDistance(t *testing.T) {
	for _, c := range []struct {
		ref, hyp string
		want     int
	}{
		{"a b c", "a b c", 0},
		{"a b c", "a x c", 1},   // substitution
		{"a b c", "a c", 1},     // deletion
		{"a b c", "a b b c", 1}, // insertion
		{"a b c", "", 3},
		{"", "a b", 2},
		{"ask not what your country", "and not what you're country can", 3},
	} {
		if e, _ := Score(c.ref, c.hyp); e != c.want {
			t.Errorf("%q vs %q: %d edits, want %d", c.ref, c.hyp, e, c.want)
		}
	}
	if r := Rate("a b c d", "a b"); r != 0.5 {
		t.Errorf("rate %v", r)
	}
}
