// Package vader scores the sentiment of a short English text with the rules
// of VADER (Hutto & Gilbert, ICWSM 2014) and the lexicon published with the
// npm package vader-sentiment 1.1.3, so that its scores agree with that
// package's implementation (the plugin's reference test runs it with node).
//
// A text is split on white space; tokens of one character are dropped and a
// token that is a word with one punctuation mark (or run such as "!!!")
// before or after it loses the mark, so emoticons and contractions survive.
// Each token found in the lexicon starts from its mean rating, then:
//
//   - ALL-CAPS emphasis: when some but not all tokens are in capitals, a
//     capitalised word moves 0.733 away from zero;
//   - boosters/dampeners ("very", "kind of", "barely", ...) among the three
//     tokens before it add ±0.293 (scaled 1, 0.95, 0.9 with distance; ±0.733
//     more when the booster itself is capitalised);
//   - negation ("not", "never", any "n't" word, ...) among the three tokens
//     before it multiplies by -0.74, except "never so/this", which
//     intensifies (×1.5 at distance two, ×1.25 at three);
//   - "least" just before it negates unless preceded by "at" or "very";
//   - a few idioms ("the shit", "bad ass", "yeah right", ...) replace the
//     valence, and a two-word dampener three tokens back adds -0.293.
//
// Tokens that are not in the lexicon, and boosters themselves, count 0. After
// the pass, "but" halves what comes before it and multiplies what follows by
// 1.5. The sum gets the punctuation emphasis (0.292 per "!", at most 4; 0.18
// per "?" for two or three, 0.96 for more) away from zero and is normalised
// to compound = s/sqrt(s²+15) in [-1, 1]. pos, neu and neg are the shares of
// positive valence (+1 each), neutral tokens (1 each) and negative valence
// (-1 each), with the emphasis added to the larger of pos and neg.
//
// Where the npm package differs from the Python original, this package
// follows the npm package, which the tests compare against: negation words
// and "but" match case-sensitively ("Not" does not negate), and idioms are
// recognised only from the fourth token on.
package vader

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// Empirical constants from the VADER paper and its implementations.
const (
	boostIncr   = 0.293 // booster word: mean rating increase
	boostDecr   = -0.293
	capsIncr    = 0.733 // ALL-CAPS word among lower-case ones
	negScalar   = -0.74
	exclaimIncr = 0.292 // per "!", at most maxExclaims
	maxExclaims = 4
	questIncr   = 0.18 // per "?" when there are 2 or 3
	questMax    = 0.96 // for more than 3
	normAlpha   = 15   // approximates the largest expected sum
)

// Lexicon maps a lower-case token (word, emoticon, slang) to its mean
// valence rating, -4..4.
type Lexicon map[string]float64

// LoadLexicon reads vader_lexicon.txt: TOKEN<TAB>MEAN<TAB>SD<TAB>RATINGS.
func LoadLexicon(path string) (Lexicon, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	lex, err := ParseLexicon(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return lex, nil
}

// ParseLexicon reads the lexicon's text form.
func ParseLexicon(r io.Reader) (Lexicon, error) {
	lex := Lexicon{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		tok, rest, ok := strings.Cut(line, "\t")
		if !ok || tok == "" {
			return nil, fmt.Errorf("line %d: want TOKEN<TAB>MEAN", n)
		}
		mean, _, _ := strings.Cut(rest, "\t")
		v, err := strconv.ParseFloat(mean, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("line %d: mean %q is not a number", n, mean)
		}
		lex[tok] = v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(lex) == 0 {
		return nil, fmt.Errorf("no entries")
	}
	return lex, nil
}

// Scores are VADER's outputs for one text.
type Scores struct {
	Compound float64 // normalised sum, -1..1 (4 decimals)
	Pos      float64 // 0..1 (3 decimals)
	Neu      float64
	Neg      float64
	// Tokens is the number of tokens scored; 0 gives all-zero scores (as
	// the npm package does).
	Tokens int
}

// Analyzer scores texts against a lexicon. It is safe for concurrent use.
type Analyzer struct{ lex Lexicon }

// New returns an Analyzer over lex.
func New(lex Lexicon) *Analyzer { return &Analyzer{lex: lex} }

// token is one scored unit: as written (case matters for caps and for the
// npm package's case-sensitive rules) and lower-cased for lookups.
type token struct{ raw, low string }

// Score returns the scores of text.
func (a *Analyzer) Score(text string) Scores {
	toks := tokenize(text)
	if len(toks) == 0 {
		return Scores{}
	}
	capDiff := capsDifferential(toks)
	vals := make([]float64, len(toks))
	for i := range toks {
		vals[i] = a.valence(toks, i, capDiff)
	}
	applyBut(toks, vals)
	return finish(vals, punctuationEmphasis(text))
}

// valence is token i's valence after the rules that look at its neighbours.
func (a *Analyzer) valence(toks []token, i int, capDiff bool) float64 {
	t := toks[i]
	if _, ok := boosters[t.low]; ok {
		return 0 // a booster modifies the next words; it carries nothing itself
	}
	if t.low == "kind" && i+1 < len(toks) && toks[i+1].low == "of" {
		return 0
	}
	v, ok := a.lex[t.low]
	if !ok {
		return 0
	}
	if capDiff && isUpper(t.raw) {
		if v > 0 {
			v += capsIncr
		} else {
			v -= capsIncr
		}
	}
	for d := 1; d <= 3 && i-d >= 0; d++ {
		prev := toks[i-d]
		if _, inLex := a.lex[prev.low]; inLex {
			continue // a sentiment word in between is scored on its own
		}
		v += boosterScalar(prev, v, capDiff) * distanceDamp[d-1]
		v = negationRule(toks, i, d, v)
		if d == 3 {
			v = idiomRule(toks, i, v)
		}
	}
	return a.leastRule(toks, i, v)
}

// distanceDamp scales a booster's effect by its distance (1, 2, 3 tokens).
var distanceDamp = [3]float64{1, 0.95, 0.9}

// boosterScalar is what the booster t adds to a word of valence v: away
// from zero for an intensifier, towards it for a dampener.
func boosterScalar(t token, v float64, capDiff bool) float64 {
	s, ok := boosters[t.low]
	if !ok {
		return 0
	}
	if v < 0 {
		s = -s
	}
	if capDiff && isUpper(t.raw) {
		if v > 0 {
			s += capsIncr
		} else {
			s -= capsIncr
		}
	}
	return s
}

// negationRule applies the negation found d tokens before token i, with
// "never so/this" intensifying instead.
func negationRule(toks []token, i, d int, v float64) float64 {
	raw := func(k int) string { return toks[i-k].raw }
	soThis := func(s string) bool { return s == "so" || s == "this" }
	switch d {
	case 1:
		if isNegation(raw(1)) {
			return v * negScalar
		}
	case 2:
		if raw(2) == "never" && soThis(raw(1)) {
			return v * 1.5
		}
		if isNegation(raw(2)) {
			return v * negScalar
		}
	case 3:
		// As in the original: "so/this" right before the word also counts.
		if raw(3) == "never" && soThis(raw(2)) || soThis(raw(1)) {
			return v * 1.25
		}
		if isNegation(raw(3)) {
			return v * negScalar
		}
	}
	return v
}

// idiomRule replaces v with an idiom's valence when token i is part of one,
// and dampens a word three tokens after a two-word dampener.
func idiomRule(toks []token, i int, v float64) float64 {
	w := func(k int) string { return toks[k].raw }
	before := []string{
		w(i-1) + " " + w(i),
		w(i-2) + " " + w(i-1) + " " + w(i),
		w(i-2) + " " + w(i-1),
		w(i-3) + " " + w(i-2) + " " + w(i-1),
		w(i-3) + " " + w(i-2),
	}
	for _, s := range before {
		if iv, ok := idioms[s]; ok {
			v = iv
			break
		}
	}
	if i+1 < len(toks) {
		if iv, ok := idioms[w(i)+" "+w(i+1)]; ok {
			v = iv
		}
	}
	if i+2 < len(toks) {
		if iv, ok := idioms[w(i)+" "+w(i+1)+" "+w(i+2)]; ok {
			v = iv
		}
	}
	_, a := boosters[before[4]]
	_, b := boosters[before[2]]
	if a || b {
		v += boostDecr
	}
	return v
}

// leastRule negates a word right after "least", unless it reads "at least"
// or "very least".
func (a *Analyzer) leastRule(toks []token, i int, v float64) float64 {
	if i < 1 || toks[i-1].low != "least" {
		return v
	}
	if _, inLex := a.lex["least"]; inLex {
		return v
	}
	if i >= 2 && (toks[i-2].low == "at" || toks[i-2].low == "very") {
		return v
	}
	return v * negScalar
}

// applyBut weights the clause after the first "but" up and the one before
// it down.
func applyBut(toks []token, vals []float64) {
	at := -1
	for _, w := range []string{"but", "BUT"} {
		for i, t := range toks {
			if t.raw == w {
				at = i
				break
			}
		}
		if at >= 0 {
			break
		}
	}
	if at < 0 {
		return
	}
	for i := range vals {
		switch {
		case i < at:
			vals[i] *= 0.5
		case i > at:
			vals[i] *= 1.5
		}
	}
}

// punctuationEmphasis is the emphasis that "!" and "??" add.
func punctuationEmphasis(text string) float64 {
	ex := min(strings.Count(text, "!"), maxExclaims)
	amp := float64(ex) * exclaimIncr
	switch q := strings.Count(text, "?"); {
	case q > 3:
		amp += questMax
	case q > 1:
		amp += float64(q) * questIncr
	}
	return amp
}

// finish turns the token valences into the four scores.
func finish(vals []float64, amp float64) Scores {
	var sum, pos, neg float64
	neu := 0
	for _, v := range vals {
		sum += v
		switch {
		case v > 0:
			pos += v + 1 // +1: a neutral token counts 1 in the total
		case v < 0:
			neg += v - 1
		default:
			neu++
		}
	}
	if sum > 0 {
		sum += amp
	} else if sum < 0 {
		sum -= amp
	}
	compound := math.Max(-1, math.Min(1, sum/math.Sqrt(sum*sum+normAlpha)))
	if pos > -neg {
		pos += amp
	} else if pos < -neg {
		neg -= amp
	}
	total := pos - neg + float64(neu)
	return Scores{
		Compound: round(compound, 1e4),
		Pos:      round(pos/total, 1e3),
		Neu:      round(float64(neu)/total, 1e3),
		Neg:      round(math.Abs(neg)/total, 1e3),
		Tokens:   len(vals),
	}
}

func round(x, scale float64) float64 { return math.Round(x*scale) / scale }

// isUpper is Python's str.isupper as the npm package implements it: at
// least one capital A-Z and no small a-z (":)WORD" is upper, ":)" is not).
func isUpper(s string) bool {
	upper := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' {
			return false
		}
		if c >= 'A' && c <= 'Z' {
			upper = true
		}
	}
	return upper
}

// capsDifferential reports whether some, but not all, tokens are in caps:
// only then is capitalisation emphasis.
func capsDifferential(toks []token) bool {
	caps := 0
	for _, t := range toks {
		if isUpper(t.raw) {
			caps++
		}
	}
	return caps > 0 && caps < len(toks)
}

// isNegation reports whether the token, as written, negates.
func isNegation(s string) bool {
	if _, ok := negations[s]; ok {
		return true
	}
	return strings.Contains(s, "n't")
}

// tokenize splits text into VADER's tokens.
func tokenize(text string) []token {
	var toks []token
	start := -1
	emit := func(end int) {
		if s := text[start:end]; jsLen(s) > 1 {
			s = stripPunct(s)
			toks = append(toks, token{raw: s, low: strings.ToLower(s)})
		}
		start = -1
	}
	for i, r := range text {
		if isSpace(r) {
			if start >= 0 {
				emit(i)
			}
		} else if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		emit(len(text))
	}
	return toks
}

// stripPunct removes one leading or trailing punctuation mark (or a listed
// run like "!!!" or "?!?") from a token that is otherwise a plain word of
// two or more characters, keeping emoticons (":)") and contractions ("don't").
func stripPunct(s string) string {
	for _, p := range puncList {
		if w, ok := strings.CutPrefix(s, p); ok && plainWord(w) {
			return w
		}
		if w, ok := strings.CutSuffix(s, p); ok && plainWord(w) {
			return w
		}
	}
	return s
}

// plainWord: no ASCII punctuation, and longer than one character.
func plainWord(s string) bool {
	if jsLen(s) < 2 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(asciiPunct, s[i]) >= 0 {
			return false
		}
	}
	return true
}

const asciiPunct = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"

// jsLen is the string's length in UTF-16 code units, the measure the
// reference uses for its one-character rule (an emoji counts 2).
func jsLen(s string) int {
	n := 0
	for _, r := range s {
		if r > 0xFFFF {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// isSpace is JavaScript's \s: Unicode space separators, the ASCII controls
// \t\n\v\f\r, line/paragraph separators and the byte-order mark.
func isSpace(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\v', '\f', '\r', 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF:
		return true
	}
	return r >= 0x2000 && r <= 0x200A
}
