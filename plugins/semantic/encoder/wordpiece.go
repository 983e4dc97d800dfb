// Package encoder runs a user-supplied sentence-embedding model (ONNX, BERT
// family) for the semantic gate: BERT's WordPiece tokenisation from the
// model's vocab.txt, the model's own inputs, mean pooling over the
// attention mask and L2 normalisation.
package encoder

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Special tokens of a BERT vocabulary.
const (
	tokUNK = "[UNK]"
	tokCLS = "[CLS]"
	tokSEP = "[SEP]"
)

// maxWordChars: longer words become [UNK], as in BERT (bounds the greedy
// match's quadratic cost too).
const maxWordChars = 100

// Tokenizer is BERT's uncased tokenizer over a WordPiece vocabulary. It is
// safe for concurrent use.
type Tokenizer struct {
	vocab         map[string]int32
	unk, cls, sep int32
}

// LoadVocab reads vocab.txt: one token per line, its id the line number.
func LoadVocab(path string) (*Tokenizer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var toks []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		toks = append(toks, strings.TrimRight(sc.Text(), "\r"))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t, err := NewTokenizer(toks)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// NewTokenizer builds a tokenizer from the vocabulary in id order; it must
// hold [UNK], [CLS] and [SEP].
func NewTokenizer(vocab []string) (*Tokenizer, error) {
	t := &Tokenizer{vocab: make(map[string]int32, len(vocab))}
	for i, v := range vocab {
		if _, dup := t.vocab[v]; !dup && v != "" {
			t.vocab[v] = int32(i)
		}
	}
	for _, s := range []struct {
		name string
		id   *int32
	}{{tokUNK, &t.unk}, {tokCLS, &t.cls}, {tokSEP, &t.sep}} {
		id, ok := t.vocab[s.name]
		if !ok {
			return nil, fmt.Errorf("vocabulary has no %s token", s.name)
		}
		*s.id = id
	}
	return t, nil
}

// Tokenize returns text's WordPiece tokens, without [CLS]/[SEP].
func (t *Tokenizer) Tokenize(text string) []string {
	var out []string
	for _, w := range basicTokens(text) {
		out = t.wordPiece(w, out)
	}
	return out
}

// Encode returns the ids of [CLS] tokens [SEP], at most maxLen of them
// (maxLen >= 3; tokens past it are dropped, truncated reports it).
func (t *Tokenizer) Encode(text string, maxLen int) (ids []int32, truncated bool) {
	maxLen = max(maxLen, 3)
	ids = append(ids, t.cls)
	for _, w := range basicTokens(text) {
		for _, p := range t.wordPiece(w, nil) {
			if len(ids) == maxLen-1 {
				return append(ids, t.sep), true
			}
			ids = append(ids, t.vocab[p])
		}
	}
	return append(ids, t.sep), false
}

// wordPiece appends word's pieces: greedy longest match from the left,
// continuations marked "##"; a word with an unmatched rest is one [UNK].
func (t *Tokenizer) wordPiece(word string, out []string) []string {
	rs := []rune(word)
	if len(rs) > maxWordChars {
		return append(out, tokUNK)
	}
	n := len(out)
	for start := 0; start < len(rs); {
		end := len(rs)
		found := ""
		for ; end > start; end-- {
			s := string(rs[start:end])
			if start > 0 {
				s = "##" + s
			}
			if _, ok := t.vocab[s]; ok {
				found = s
				break
			}
		}
		if found == "" {
			return append(out[:n], tokUNK)
		}
		out = append(out, found)
		start = end
	}
	return out
}

// basicTokens is BERT's basic tokenisation for uncased models: drop
// control characters, split on white space, put spaces around CJK
// ideographs and punctuation, lower-case and strip accents.
func basicTokens(text string) []string {
	var b strings.Builder
	for _, r := range norm.NFD.String(text) {
		switch {
		case r == 0 || r == unicode.ReplacementChar || isControl(r):
		case unicode.IsSpace(r):
			b.WriteByte(' ')
		case unicode.Is(unicode.Mn, r): // accents, after NFD
		case isPunct(r) || isCJK(r):
			b.WriteByte(' ')
			b.WriteRune(r)
			b.WriteByte(' ')
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return strings.Fields(b.String())
}

func isControl(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	return unicode.In(r, unicode.Cc, unicode.Cf)
}

// isPunct is BERT's punctuation: every non-alphanumeric printable ASCII
// character, and Unicode's P categories.
func isPunct(r rune) bool {
	if r >= 33 && r <= 47 || r >= 58 && r <= 64 || r >= 91 && r <= 96 || r >= 123 && r <= 126 {
		return true
	}
	return unicode.IsPunct(r)
}

// isCJK is BERT's CJK Unified Ideographs blocks.
func isCJK(r rune) bool {
	return r >= 0x4E00 && r <= 0x9FFF || r >= 0x3400 && r <= 0x4DBF || r >= 0x20000 && r <= 0x2A6DF ||
		r >= 0x2A700 && r <= 0x2B73F || r >= 0x2B740 && r <= 0x2B81F || r >= 0x2B820 && r <= 0x2CEAF ||
		r >= 0xF900 && r <= 0xFAFF || r >= 0x2F800 && r <= 0x2FA1F
}
