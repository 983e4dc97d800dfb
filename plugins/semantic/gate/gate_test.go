package gate

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lsie-mlf/lsie/internal/testenv"
	"github.com/lsie-mlf/lsie/plugins/semantic/wordnet"
)

const exampleIntents = `{"greeting":["hello everyone","hi there"],"thanks":["thank you for the donation"],"farewell":["goodbye, see you tomorrow"]}`

func TestParseIntents(t *testing.T) {
	in, err := ParseIntents(exampleIntents)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, i := range in {
		names = append(names, i.Name)
	}
	if !slices.Equal(names, []string{"farewell", "greeting", "thanks"}) || !slices.Equal(in[1].Phrases, []string{"hello everyone", "hi there"}) {
		t.Fatalf("%+v", in)
	}
	if in, err := ParseIntents(`{"hype":"let's go"}`); err != nil || len(in) != 1 || in[0].Phrases[0] != "let's go" {
		t.Fatalf("single string: %+v %v", in, err)
	}
	if in, err := ParseIntents("  "); in != nil || err != nil {
		t.Fatalf("empty: %v %v", in, err)
	}
}

func TestParseIntentsErrors(t *testing.T) {
	for attr, want := range map[string]string{
		`["hello"]`:                   "intents: want an object",
		`hello`:                       "intents: want an object",
		`null`:                        "intents: want an object",
		`{}`:                          "intents: no intents",
		`{"greeting":["hello","  "]}`: "intents.greeting[1]: empty phrase",
		`{"greeting":["hello",3]}`:    "intents.greeting[1]: want a string, got a number",
		`{"greeting":[]}`:             "intents.greeting: no phrases",
		`{"greeting":{"a":"b"}}`:      "intents.greeting: want a list of phrases, got an object",
		`{"greeting":true}`:           "intents.greeting: want a list of phrases, got a bool",
		`{"9lives":["x"]}`:            `intents: name "9lives"`,
		`{"a b":["x"]}`:               `intents: name "a b"`,
		`{"long":["` + strings.Repeat("x", 1001) + `"]}`: "intents.long[0]: phrase of 1001 bytes",
	} {
		_, err := ParseIntents(attr)
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%.40s: err %v, want %q...", attr, err, want)
		}
	}
}

func TestWords(t *testing.T) {
	for in, want := range map[string][]string{
		"Hello, everyone!":              {"hello", "everyone"},
		"Don't stop: the streamer's PC": {"don't", "stop", "the", "streamer", "pc"},
		"  '' ...":                      nil,
		"über-cool Café":                {"über", "cool", "café"},
		"良い試合でした":                       {"良い試合でした"},
	} {
		if got := Words(in); !slices.Equal(got, want) {
			t.Errorf("Words(%q) = %q, want %q", in, got, want)
		}
	}
}

func lexical(t testing.TB, attr string) *Lexical {
	t.Helper()
	if _, err := os.Stat(filepath.Join(wordnet.DefaultDir, "index.noun")); err != nil {
		testenv.Missing(t, "WordNet in %s (Debian wordnet-base)", wordnet.DefaultDir)
	}
	wn, err := wordnet.Shared(wordnet.DefaultDir)
	if err != nil {
		t.Fatal(err)
	}
	in, err := ParseIntents(attr)
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewLexical(wn, in)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLexicalExamples(t *testing.T) {
	l := lexical(t, exampleIntents)
	for _, c := range []struct {
		text   string
		intent int // -1: gate closed at 0.5
		score  float64
	}{
		{"Hello everyone, welcome back to the stream", 1, 1},
		{"hi guys", 1, 1},                               // "hi" exact, from "hi there"
		{"hullo everybody", 1, 0.8},                     // synonyms: hullo~hello, everybody~everyone (0.8 each)
		{"thanks so much for donating", 2, 0.9},         // thanks→thank (1), donating→donate, derived from donation (0.8)
		{"Thank you for the generous donations!", 2, 1}, // thank, donations→donation
		{"thanks for the contribution", 2, 0.9},         // contribution ~ donation (0.8)
		{"goodbye everyone, see you tomorrow", 0, 1},    // farewell beats greeting's 0.5
		{"the boss fight starts in ten minutes", -1, 0}, // nothing
		{"", -1, 0},                           // empty
		{"Das Spiel war wirklich gut", -1, 0}, // German
		{"良い試合でした", -1, 0},                    // Japanese
	} {
		m, err := l.Score(c.text)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%q → score %.3f intent %d %v", c.text, m.Score, m.Intent, m.Intents)
		if c.intent >= 0 && m.Intent != c.intent || c.intent < 0 && m.Score >= 0.5 {
			t.Errorf("%q: intent %d (score %.3f), want %d", c.text, m.Intent, m.Score, c.intent)
		}
		if math.Abs(m.Score-c.score) > 1e-9 {
			t.Errorf("%q: score %.3f, want %.3f", c.text, m.Score, c.score)
		}
	}
}

func TestLexicalStopwordPhrase(t *testing.T) {
	l := lexical(t, `{"checkin":["how are you"]}`)
	if m, _ := l.Score("How are you doing today?"); m.Score != 1 {
		t.Errorf("all-stopword phrase: %+v", m)
	}
	if m, _ := l.Score("you are here"); m.Score >= 1 {
		t.Errorf("partial all-stopword phrase: %+v", m)
	}
	in, _ := ParseIntents(`{"x":["ok","!!!"]}`)
	wn, _ := wordnet.Shared(wordnet.DefaultDir)
	if _, err := NewLexical(wn, in); err == nil || !strings.HasPrefix(err.Error(), "intents.x[1]: no words") {
		t.Errorf("punctuation phrase: %v", err)
	}
}

func TestLexicalHugeText(t *testing.T) {
	l := lexical(t, exampleIntents)
	m, err := l.Score(strings.Repeat("lorem ipsum dolor ", 5000) + "thank you for the donation")
	if err != nil || m.Intent != 2 || m.Score != 1 {
		t.Fatalf("%+v %v", m, err)
	}
}

// fakeEmbedder maps texts to fixed vectors.
type fakeEmbedder map[string][]float32

func (f fakeEmbedder) Embed(s string) ([]float32, error) { return f[s], nil }

func TestEncoderScorer(t *testing.T) {
	in, _ := ParseIntents(`{"a":["x","y"],"b":["z"]}`)
	e, err := NewEncoder(fakeEmbedder{"x": {1, 0}, "y": {0.6, 0.8}, "z": {-1, 0}, "u": {0.8, 0.6}}, in)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := e.Score("u")
	if m.Intent != 0 || math.Abs(m.Score-0.96) > 1e-6 || m.Intents[1] != 0 {
		t.Fatalf("%+v", m)
	}
}

func FuzzGate(f *testing.F) {
	l := lexical(f, exampleIntents)
	for _, s := range []string{"hello everyone", "", "'''", "thanks's's", "ÄÖÜ ß", "\xff\xfe", "don't'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := l.Score(s)
		if err != nil {
			t.Fatal(err)
		}
		if !(m.Score >= 0 && m.Score <= 1) || m.Intent < -1 || m.Intent >= 3 || (m.Intent == -1) != (m.Score == 0) {
			t.Fatalf("%q: %+v", s, m)
		}
	})
}

func BenchmarkGateLexical(b *testing.B) {
	l := lexical(b, exampleIntents)
	s := "thanks so much for the donation everyone, see you all tomorrow"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Score(s); err != nil {
			b.Fatal(err)
		}
	}
}
