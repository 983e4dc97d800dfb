// Package wordnet reads the WordNet 3.0 database files (Debian's
// wordnet-base in /usr/share/wordnet) for the two things the semantic gate
// needs: base forms of inflected words (WordNet's morphy: exception lists,
// then detachment rules, keeping forms the index knows) and synonyms (the
// other words of the synsets a lemma belongs to).
//
// The index files are loaded into memory once (Shared); synset lines are
// read from the data files on demand with ReadAt, which is safe for
// concurrent use, so a loaded WordNet serves every stream of the process.
package wordnet

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// POS is a WordNet part of speech.
type POS int

// Parts of speech, in the order Lemmas tries them.
const (
	Noun POS = iota
	Verb
	Adj
	Adv
	numPOS
)

var posNames = [numPOS]string{"noun", "verb", "adj", "adv"}

func (p POS) String() string { return posNames[p] }

// DefaultDir is where Debian's wordnet-base installs the database.
const DefaultDir = "/usr/share/wordnet"

// WordNet is a loaded database.
type WordNet struct {
	dir   string
	index [numPOS]map[string][]int64 // lemma → synset offsets in data.POS, most frequent sense first
	exc   [numPOS]map[string][]string
	data  [numPOS]*os.File
}

// Files are the database files Load needs, relative to its folder.
func Files() []string {
	var fs []string
	for _, n := range posNames {
		fs = append(fs, "index."+n, "data."+n)
	}
	return append(fs, "noun.exc", "verb.exc", "adj.exc", "adv.exc")
}

// MissingFileError names a database file Load could not open.
type MissingFileError struct{ Path string }

func (e *MissingFileError) Error() string { return "WordNet file not found: " + e.Path }

// Load reads the index and exception files in dir and opens the data files.
func Load(dir string) (*WordNet, error) {
	w := &WordNet{dir: dir}
	for _, f := range Files() {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || !st.Mode().IsRegular() {
			return nil, &MissingFileError{Path: filepath.Join(dir, f)}
		}
	}
	for p := Noun; p < numPOS; p++ {
		var err error
		if w.index[p], err = loadIndex(filepath.Join(dir, "index."+posNames[p])); err != nil {
			w.Close()
			return nil, err
		}
		if w.exc[p], err = loadExceptions(filepath.Join(dir, posNames[p]+".exc")); err != nil {
			w.Close()
			return nil, err
		}
		if w.data[p], err = os.Open(filepath.Join(dir, "data."+posNames[p])); err != nil {
			w.Close()
			return nil, err
		}
	}
	return w, nil
}

// Close closes the data files.
func (w *WordNet) Close() error {
	for _, f := range w.data {
		if f != nil {
			f.Close()
		}
	}
	return nil
}

var (
	sharedMu sync.Mutex
	shared   = map[string]*WordNet{}
)

// Shared returns the process's WordNet for dir, loading it on first use;
// a failed load is retried on the next call.
func Shared(dir string) (*WordNet, error) {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if w := shared[dir]; w != nil {
		return w, nil
	}
	w, err := Load(dir)
	if err != nil {
		return nil, err
	}
	shared[dir] = w
	return w, nil
}

// loadIndex reads index.POS: "lemma pos synset_cnt p_cnt [ptr...]
// sense_cnt tagsense_cnt offset...". The licence header lines start with
// spaces.
func loadIndex(path string) (map[string][]int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := make(map[string][]int64, 1<<16)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || line[0] == ' ' {
			continue
		}
		fs := strings.Fields(line)
		bad := func() error { return fmt.Errorf("%s:%d: malformed index line", path, n) }
		if len(fs) < 6 {
			return nil, bad()
		}
		cnt, err1 := strconv.Atoi(fs[2])
		ptrs, err2 := strconv.Atoi(fs[3])
		first := 4 + ptrs + 2
		if err1 != nil || err2 != nil || cnt < 0 || ptrs < 0 || first+cnt != len(fs) {
			return nil, bad()
		}
		offs := make([]int64, cnt)
		for i := range offs {
			if offs[i], err1 = strconv.ParseInt(fs[first+i], 10, 64); err1 != nil {
				return nil, bad()
			}
		}
		m[fs[0]] = offs
	}
	return m, sc.Err()
}

// loadExceptions reads POS.exc: "inflected base [base...]".
func loadExceptions(path string) (map[string][]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := map[string][]string{}
	for line := range strings.SplitSeq(string(b), "\n") {
		if fs := strings.Fields(line); len(fs) >= 2 {
			m[fs[0]] = fs[1:]
		}
	}
	return m, nil
}

// rules are WordNet's detachment rules: suffix → replacement, per POS.
var rules = [numPOS][][2]string{
	Noun: {{"s", ""}, {"ses", "s"}, {"xes", "x"}, {"zes", "z"}, {"ches", "ch"}, {"shes", "sh"}, {"men", "man"}, {"ies", "y"}},
	Verb: {{"s", ""}, {"ies", "y"}, {"es", "e"}, {"es", ""}, {"ed", "e"}, {"ed", ""}, {"ing", "e"}, {"ing", ""}},
	Adj:  {{"er", ""}, {"est", ""}, {"er", "e"}, {"est", "e"}},
	Adv:  {},
}

// normalize is WordNet's spelling of a search string: lower case, spaces
// as underscores.
func normalize(word string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(word)), " ", "_")
}

// Morphy returns the base forms of word as pos that are in WordNet: the
// word itself when it is a lemma, the exception list's bases for an
// irregular form, else the forms the detachment rules give. A noun ending
// in "ful" is reduced on the part before it ("boxesful" → "boxful"); nouns
// ending in "ss" and words of two letters or fewer are not detached.
func (w *WordNet) Morphy(word string, pos POS) []string {
	word = normalize(word)
	if word == "" || pos < 0 || pos >= numPOS {
		return nil
	}
	var out []string
	add := func(s string) {
		if _, ok := w.index[pos][s]; ok && !contains(out, s) {
			out = append(out, s)
		}
	}
	add(word)
	if bases, ok := w.exc[pos][word]; ok {
		for _, b := range bases {
			add(b)
		}
		return out
	}
	if pos == Noun {
		if stem, ok := strings.CutSuffix(word, "ful"); ok && stem != "" {
			for _, b := range w.Morphy(stem, Noun) {
				add(b + "ful")
			}
			return out
		}
		if strings.HasSuffix(word, "ss") || len(word) <= 2 {
			return out
		}
	}
	for _, r := range rules[pos] {
		if stem, ok := strings.CutSuffix(word, r[0]); ok && stem != "" {
			add(stem + r[1])
		}
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// Lemmas returns word's base forms over all parts of speech (nouns first),
// without repeats; nil when WordNet does not know the word.
func (w *WordNet) Lemmas(word string) []string {
	var out []string
	for p := Noun; p < numPOS; p++ {
		for _, l := range w.Morphy(word, p) {
			if !contains(out, l) {
				out = append(out, l)
			}
		}
	}
	return out
}

// Known reports whether lemma is in the index of any part of speech.
func (w *WordNet) Known(lemma string) bool {
	lemma = normalize(lemma)
	for p := Noun; p < numPOS; p++ {
		if _, ok := w.index[p][lemma]; ok {
			return true
		}
	}
	return false
}

// Synonyms returns the words (lower case, multi-word ones joined by "_")
// sharing a synset with lemma, over every part of speech, taking at most
// senses synsets per part of speech in WordNet's frequency order (0: all).
// lemma itself is not included.
func (w *WordNet) Synonyms(lemma string, senses int) ([]string, error) {
	lemma = normalize(lemma)
	var out []string
	err := w.eachSense(lemma, senses, func(s synsetLine) error {
		for _, word := range s.words {
			if word != lemma && !contains(out, word) {
				out = append(out, word)
			}
		}
		return nil
	})
	return out, err
}

// Derived returns the words WordNet links to lemma as derivationally
// related forms ("donation" ↔ "donate", "subscriber" ↔ "subscribe"), from
// the "+" pointers of at most senses synsets per part of speech (0: all).
func (w *WordNet) Derived(lemma string, senses int) ([]string, error) {
	lemma = normalize(lemma)
	var out []string
	err := w.eachSense(lemma, senses, func(s synsetLine) error {
		for _, ptr := range s.ptrs {
			if ptr.symbol != "+" || ptr.source < 1 || ptr.source > len(s.words) || s.words[ptr.source-1] != lemma {
				continue
			}
			t, err := w.synset(ptr.pos, ptr.offset)
			if err != nil {
				return err
			}
			if ptr.target >= 1 && ptr.target <= len(t.words) {
				if d := t.words[ptr.target-1]; d != lemma && !contains(out, d) {
					out = append(out, d)
				}
			}
		}
		return nil
	})
	return out, err
}

// eachSense calls fn with each synset of lemma (normalised), at most senses
// per part of speech in frequency order (0: all).
func (w *WordNet) eachSense(lemma string, senses int, fn func(synsetLine) error) error {
	for p := Noun; p < numPOS; p++ {
		offs := w.index[p][lemma]
		if senses > 0 && len(offs) > senses {
			offs = offs[:senses]
		}
		for _, off := range offs {
			s, err := w.synset(p, off)
			if err != nil {
				return err
			}
			if err := fn(s); err != nil {
				return err
			}
		}
	}
	return nil
}

// synsetLine is the part of a data file line the package uses.
type synsetLine struct {
	words []string
	ptrs  []pointer
}

// pointer is a relation to another synset; source and target number the
// words for a lexical relation (0: the whole synset).
type pointer struct {
	symbol         string
	offset         int64
	pos            POS
	source, target int
}

var posLetter = map[string]POS{"n": Noun, "v": Verb, "a": Adj, "s": Adj, "r": Adv}

// synset reads the synset at off in data.POS:
// "offset lex_filenum ss_type w_cnt word lex_id [word lex_id...] p_cnt
// [symbol offset pos source/target...] ...", w_cnt and source/target in
// hex; adjectives may carry a marker such as "(a)".
func (w *WordNet) synset(p POS, off int64) (synsetLine, error) {
	var s synsetLine
	line, err := readLine(w.data[p], off)
	if err != nil {
		return s, fmt.Errorf("data.%s at %d: %w", posNames[p], off, err)
	}
	fs := strings.Fields(line)
	bad := func(what string) error { return fmt.Errorf("data.%s at %d: %s", posNames[p], off, what) }
	if len(fs) < 4 || fs[0] != fmt.Sprintf("%08d", off) {
		return s, bad("not a synset line")
	}
	n, err := strconv.ParseInt(fs[3], 16, 32)
	if err != nil || n < 1 || len(fs) < 5+2*int(n) {
		return s, bad("bad word count")
	}
	for i := range int(n) {
		word := fs[4+2*i]
		if j := strings.IndexByte(word, '('); j > 0 {
			word = word[:j]
		}
		s.words = append(s.words, strings.ToLower(word))
	}
	at := 4 + 2*int(n)
	np, err := strconv.Atoi(fs[at])
	if err != nil || np < 0 || len(fs) < at+1+4*np {
		return s, bad("bad pointer count")
	}
	for i := range np {
		f := fs[at+1+4*i : at+5+4*i]
		o, err1 := strconv.ParseInt(f[1], 10, 64)
		st, err2 := strconv.ParseUint(f[3], 16, 16)
		pp, ok := posLetter[f[2]]
		if err1 != nil || err2 != nil || !ok {
			return s, bad("bad pointer")
		}
		s.ptrs = append(s.ptrs, pointer{symbol: f[0], offset: o, pos: pp, source: int(st >> 8), target: int(st & 0xff)})
	}
	return s, nil
}

// maxLine bounds a synset line read (the longest in WordNet 3.0 is ~30 kB).
const maxLine = 1 << 20

// readLine reads the line starting at off.
func readLine(f *os.File, off int64) (string, error) {
	buf := make([]byte, 0, 1024)
	chunk := make([]byte, 1024)
	for len(buf) < maxLine {
		n, err := f.ReadAt(chunk, off+int64(len(buf)))
		if i := bytes.IndexByte(chunk[:n], '\n'); i >= 0 {
			return string(append(buf, chunk[:i]...)), nil
		}
		buf = append(buf, chunk[:n]...)
		if err != nil {
			if len(buf) > 0 {
				return string(buf), nil
			}
			return "", err
		}
	}
	return "", fmt.Errorf("line longer than %d bytes", maxLine)
}
