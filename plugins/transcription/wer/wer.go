// Package wer scores transcripts: word error rate by word-level
// Levenshtein distance after normalisation.
package wer

import (
	"strings"
	"unicode"
)

// Normalize lower-cases s and keeps only letters, digits and apostrophes
// inside words, so "Americans," and "americans" match.
func Normalize(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\''
	}) {
		if f = strings.Trim(f, "'"); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// Distance is the least number of substitutions, insertions and deletions
// that turn hyp into ref.
func Distance(ref, hyp []string) int {
	prev := make([]int, len(hyp)+1)
	cur := make([]int, len(hyp)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ref); i++ {
		cur[0] = i
		for j := 1; j <= len(hyp); j++ {
			sub := prev[j-1]
			if ref[i-1] != hyp[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(hyp)]
}

// Score returns the edits and reference words of one pair of texts; sum
// both over a set and divide for the set's WER.
func Score(ref, hyp string) (edits, words int) {
	r := Normalize(ref)
	return Distance(r, Normalize(hyp)), len(r)
}

// Rate is the WER of one pair; 0 for an empty reference and hypothesis.
func Rate(ref, hyp string) float64 {
	e, n := Score(ref, hyp)
	if n == 0 {
		if e == 0 {
			return 0
		}
		return 1
	}
	return float64(e) / float64(n)
}
