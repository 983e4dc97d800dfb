package wordnet

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/lsie-mlf/lsie/internal/testenv"
)

func load(t testing.TB) *WordNet {
	t.Helper()
	if _, err := os.Stat(filepath.Join(DefaultDir, "index.noun")); err != nil {
		testenv.Missing(t, "WordNet in %s (Debian wordnet-base)", DefaultDir)
	}
	w, err := Shared(DefaultDir)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestMorphy(t *testing.T) {
	w := load(t)
	for _, c := range []struct {
		word string
		pos  POS
		want []string
	}{
		{"dogs", Noun, []string{"dog"}},
		{"churches", Noun, []string{"church"}},
		{"boxes", Noun, []string{"box"}},
		{"women", Noun, []string{"woman"}},     // rule men→man
		{"geese", Noun, []string{"goose"}},     // exception list
		{"mice", Noun, []string{"mouse"}},      // exception list
		{"glass", Noun, []string{"glass"}},     // "ss" is not detached
		{"boxesful", Noun, []string{"boxful"}}, // "ful" rule
		{"running", Verb, []string{"run"}},     // exception (doubled consonant)
		{"ran", Verb, []string{"run"}},
		{"donating", Verb, []string{"donate"}}, // ing → e
		{"thanked", Verb, []string{"thank"}},   // ed → ""
		{"carries", Verb, []string{"carry"}},   // ies → y
		{"happier", Adj, []string{"happy"}},    // exception
		{"nicest", Adj, []string{"nice"}},      // est → e
		{"better", Adj, []string{"better", "good", "well"}},
		{"best", Adv, []string{"best", "well"}},
		{"xyzzyqq", Noun, nil},
		{"", Noun, nil},
	} {
		if got := w.Morphy(c.word, c.pos); !slices.Equal(got, c.want) {
			t.Errorf("Morphy(%q, %v) = %q, want %q", c.word, c.pos, got, c.want)
		}
	}
}

func TestLemmasAcrossPOS(t *testing.T) {
	w := load(t)
	got := w.Lemmas("thanks")
	if !slices.Contains(got, "thanks") || !slices.Contains(got, "thank") {
		t.Errorf("Lemmas(thanks) = %q", got)
	}
	if got := w.Lemmas("Dogs"); !slices.Contains(got, "dog") {
		t.Errorf("Lemmas(Dogs) = %q", got)
	}
	if !w.Known("hello") || w.Known("qwrtzp") {
		t.Error("Known")
	}
}

func TestSynonyms(t *testing.T) {
	w := load(t)
	syn, err := w.Synonyms("hello", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"hullo", "hi", "howdy", "how-do-you-do"} {
		if !slices.Contains(syn, want) {
			t.Errorf("synonyms of hello %q lack %q", syn, want)
		}
	}
	if slices.Contains(syn, "hello") {
		t.Error("lemma among its synonyms")
	}
	syn, _ = w.Synonyms("donation", 0)
	if !slices.Contains(syn, "contribution") {
		t.Errorf("synonyms of donation: %q", syn)
	}
	// The first sense per part of speech only: the noun's domestic_dog and
	// the verb's chase, not the noun's second sense (frump).
	syn, _ = w.Synonyms("dog", 1)
	if !slices.Equal(syn[:2], []string{"domestic_dog", "canis_familiaris"}) || !slices.Contains(syn, "chase") || slices.Contains(syn, "frump") {
		t.Errorf("first-sense synonyms of dog: %q", syn)
	}
	// Adjective markers are stripped: "good(a)"-style entries.
	syn, _ = w.Synonyms("great", 0)
	if !slices.Contains(syn, "outstanding") || slices.ContainsFunc(syn, func(s string) bool { return s[len(s)-1] == ')' }) {
		t.Errorf("synonyms of great: %q", syn)
	}
}

func TestDerived(t *testing.T) {
	w := load(t)
	for lemma, want := range map[string]string{"donation": "donate", "donate": "donation", "subscribe": "subscriber", "happy": "happiness"} {
		d, err := w.Derived(lemma, 0)
		if err != nil || !slices.Contains(d, want) {
			t.Errorf("Derived(%q) = %q, %v; want %q among them", lemma, d, err, want)
		}
	}
}

func TestMissingFolder(t *testing.T) {
	_, err := Load(t.TempDir())
	var me *MissingFileError
	if !errors.As(err, &me) || filepath.Base(me.Path) != "index.noun" {
		t.Fatalf("err = %v", err)
	}
}

func TestSharedConcurrent(t *testing.T) {
	load(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			w, err := Shared(DefaultDir)
			if err != nil {
				t.Error(err)
				return
			}
			if s, err := w.Synonyms("happy", 0); err != nil || len(s) == 0 {
				t.Error(s, err)
			}
		})
	}
	wg.Wait()
}
