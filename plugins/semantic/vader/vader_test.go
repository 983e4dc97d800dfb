package vader

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lsie-mlf/lsie/internal/testenv"
)

// modelDir is the repository's model folder (scripts/fetch-models.sh).
func modelDir(t testing.TB) string {
	d, err := filepath.Abs("../../../var/models/vader")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func analyzer(t testing.TB) *Analyzer {
	t.Helper()
	p := filepath.Join(modelDir(t), "vader_lexicon.txt")
	if _, err := os.Stat(p); err != nil {
		testenv.Missing(t, "VADER lexicon %s (scripts/fetch-models.sh)", p)
	}
	lex, err := LoadLexicon(p)
	if err != nil {
		t.Fatal(err)
	}
	return New(lex)
}

// referenceSentences are the examples published with VADER: the npm
// package's README and tests, and the Python original's README (sentences
// and tricky sentences).
var referenceSentences = []string{
	"VADER is smart, handsome, and funny.",
	"VADER is not smart, handsome, nor funny.",
	"VADER is smart, handsome, and funny!",
	"VADER is very smart, handsome, and funny.",
	"VADER is VERY SMART, handsome, and FUNNY.",
	"VADER is VERY SMART, handsome, and FUNNY!!!",
	"VADER is VERY SMART, uber handsome, and FRIGGIN FUNNY!!!",
	"The book was good.",
	"The book was kind of good.",
	"The book was only kind of good.",
	"The plot was good, but the characters are uncompelling and the dialog is not great.",
	"At least it isn't a horrible book.",
	"Make sure you :) or :D today!",
	"Today SUX!",
	"Today only kinda sux! But I'll get by, lol",
	"Catch utf-8 emoji such as 💘 and 💋 and 😁",
	"Not bad at all",
	"Sentiment analysis has never been good.",
	"Sentiment analysis has never been this good!",
	"Most automated sentiment analysis tools are shit.",
	"With VADER, sentiment analysis is the shit!",
	"Other sentiment analysis tools can be quite bad.",
	"On the other hand, VADER is quite bad ass",
	"VADER is such a badass!",
	"Without a doubt, excellent idea.",
	"Roger Dodger is one of the most compelling variations on this theme.",
	"Roger Dodger is at least compelling as a variation on the theme.",
	"Roger Dodger is one of the least compelling variations on this theme.",
	"Not such a badass after all.",
	"Without a doubt, an excellent idea.",
}

// ruleSentences exercise each rule, singly and in combination.
var ruleSentences = []string{
	// negation, near and far, contractions with and without apostrophe
	"This stream is not good.",
	"This stream is not very good.",
	"This is not a really good idea at all.",
	"I don't like this game.",
	"I dont like this game.",
	"The chat isn't toxic today.",
	"Nobody said it was never fun.",
	"Without any doubt the best run ever.",
	"It was seldom boring.",
	"Not great, not terrible.",
	// never so / never this
	"I have never been so happy.",
	"I have never been this happy in my life!",
	"That was never so bad.",
	"We never so much as smiled.",
	// boosters and dampeners, with distance
	"The graphics are extremely beautiful.",
	"The graphics are extremely very beautiful.",
	"It is barely acceptable.",
	"The ending was somewhat disappointing.",
	"That was kind of awesome.",
	"That was sort of awful, honestly.",
	"It was a little sad.",
	"This is a totally, utterly, completely horrible mess.",
	// but
	"The start was slow but the finale was amazing.",
	"I love the music but hate the commentary.",
	"Great stream BUT terrible audio.",
	// capitals
	"This is AMAZING.",
	"THIS IS AMAZING.",
	"I am SO happy right now.",
	"The lag is REALLY bad tonight.",
	// punctuation emphasis
	"Good game!",
	"Good game!!!",
	"Good game!!!!!!!",
	"Is this good??",
	"Is this really good????",
	"What a terrible play?!?",
	// emoticons and slang from the lexicon
	"gg wp :)",
	"that clutch was lit lol",
	"this is so lame :(",
	"lmao that fail xD",
	"omg <3 <3",
	"meh, kinda mid tbh",
	// least
	"This is the least fun level.",
	"At least the boss was fun.",
	"He is least happy on Mondays.",
	"Very least helpful advice.",
	// idioms
	"Yeah right, like that will work.",
	"That new map is the bomb!",
	"This build cannot cut the mustard.",
	// neutral, odd and mixed input
	"The match starts at eight.",
	"a b c d",
	"",
	"!!!???",
	"Das ist wirklich sehr gut.",
	"C'est magnifique!",
	"良い試合でした",
	"I'm not sure, but it's probably fine.",
	"You are the BEST!!! :D",
	"Worst. Stream. Ever.",
}

// nodeScores runs the npm package's own implementation on the sentences.
func nodeScores(t *testing.T, sentences []string) []Scores {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Missing(t, "node (the reference implementation runs on it)")
	}
	bundle := filepath.Join(modelDir(t), "vaderSentiment.bundle.js")
	if _, err := os.Stat(bundle); err != nil {
		testenv.Missing(t, "%s (scripts/fetch-models.sh)", bundle)
	}
	const script = `const v = require(process.argv[1]); let s = '';
process.stdin.on('data', d => s += d).on('end', () => {
  console.log(JSON.stringify(JSON.parse(s).map(t => v.SentimentIntensityAnalyzer.polarity_scores(t))));
});`
	in, _ := json.Marshal(sentences)
	cmd := exec.Command(node, "-e", script, bundle)
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	var got []struct{ Neg, Neu, Pos, Compound float64 }
	if err := json.Unmarshal(out, &got); err != nil || len(got) != len(sentences) {
		t.Fatalf("node output %q: %v", out, err)
	}
	res := make([]Scores, len(got))
	for i, g := range got {
		res[i] = Scores{Compound: g.Compound, Pos: g.Pos, Neu: g.Neu, Neg: g.Neg}
	}
	return res
}

// compare checks every sentence within tol of the reference and returns the
// largest differences (compound, pos, neu, neg).
func compare(t *testing.T, a *Analyzer, sentences []string, tol float64) [4]float64 {
	t.Helper()
	ref := nodeScores(t, sentences)
	var worst [4]float64
	for i, s := range sentences {
		g := a.Score(s)
		d := [4]float64{
			math.Abs(g.Compound - ref[i].Compound), math.Abs(g.Pos - ref[i].Pos),
			math.Abs(g.Neu - ref[i].Neu), math.Abs(g.Neg - ref[i].Neg),
		}
		for k := range d {
			worst[k] = max(worst[k], d[k])
			if d[k] > tol {
				t.Errorf("%q: got %+v, node gives %+v", s, g, ref[i])
				break
			}
		}
	}
	t.Logf("%d sentences: max |diff| compound %.4f pos %.4f neu %.4f neg %.4f", len(sentences), worst[0], worst[1], worst[2], worst[3])
	return worst
}

func TestReferenceSentencesAgreeWithNode(t *testing.T) {
	compare(t, analyzer(t), referenceSentences, 0.05)
}

func TestRuleSentencesAgreeWithNode(t *testing.T) {
	if len(ruleSentences) < 40 {
		t.Fatalf("only %d rule sentences", len(ruleSentences))
	}
	compare(t, analyzer(t), ruleSentences, 0.05)
}

// TestPublishedScores pins the scores the npm package's tests publish, so
// the rules are checked even where node is missing.
func TestPublishedScores(t *testing.T) {
	a := analyzer(t)
	for _, c := range []struct {
		text string
		want Scores
	}{
		{"VADER is smart, handsome, and funny.", Scores{Neg: 0, Neu: 0.254, Pos: 0.746, Compound: 0.8316}},
		{"VADER is not smart, handsome, nor funny.", Scores{Neg: 0.646, Neu: 0.354, Pos: 0, Compound: -0.7424}},
		{"VADER is VERY SMART, uber handsome, and FRIGGIN FUNNY!!!", Scores{Neg: 0, Neu: 0.294, Pos: 0.706, Compound: 0.9469}},
		{"The book was kind of good.", Scores{Neg: 0, Neu: 0.657, Pos: 0.343, Compound: 0.3832}},
		{"The plot was good, but the characters are uncompelling and the dialog is not great.", Scores{Neg: 0.327, Neu: 0.579, Pos: 0.094, Compound: -0.7042}},
		{"At least it isn't a horrible book.", Scores{Neg: 0, Neu: 0.637, Pos: 0.363, Compound: 0.431}},
		{"Make sure you :) or :D today!", Scores{Neg: 0, Neu: 0.294, Pos: 0.706, Compound: 0.8633}},
		{"Today SUX!", Scores{Neg: 0.779, Neu: 0.221, Pos: 0, Compound: -0.5461}},
		{"Today only kinda sux! But I'll get by, lol", Scores{Neg: 0.179, Neu: 0.569, Pos: 0.251, Compound: 0.2228}},
	} {
		g := a.Score(c.text)
		g.Tokens = 0
		if g != c.want {
			t.Errorf("%q: got %+v, want %+v", c.text, g, c.want)
		}
	}
}

func TestRulesMoveScores(t *testing.T) {
	a := analyzer(t)
	c := func(s string) float64 { return a.Score(s).Compound }
	if !(c("The food is good.") > 0 && c("The food is not good.") < 0) {
		t.Error("negation does not flip")
	}
	if !(c("The food is very good.") > c("The food is good.") && c("The food is good.") > c("The food is kind of good.")) {
		t.Error("booster/dampener order")
	}
	if !(c("The food is GOOD.") > c("The food is good.")) {
		t.Error("caps emphasis")
	}
	if !(c("The food is good!!!") > c("The food is good!") && c("The food is good!") > c("The food is good.")) {
		t.Error("exclamation emphasis")
	}
	if !(c("The food is bad but the service is good.") > 0 && c("The food is good but the service is bad.") < 0) {
		t.Error("but weighting")
	}
}

func TestEmptyAndForeign(t *testing.T) {
	a := analyzer(t)
	for _, s := range []string{"", "   ", "a", "良い試合でした", "Ceci n'est pas une pipe"} {
		g := a.Score(s)
		if g.Compound != 0 || g.Pos != 0 || g.Neg != 0 {
			t.Errorf("%q: %+v, want neutral", s, g)
		}
	}
}

func TestParseLexiconErrors(t *testing.T) {
	for _, in := range []string{"", "good", "good\tx\t0.1", "\t1.9\t0.1"} {
		if _, err := ParseLexicon(strings.NewReader(in)); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	lex, err := ParseLexicon(strings.NewReader("good\t1.9\t0.9\t[2, 2]\n\n:)\t2.0\t0.5\t[2]\n"))
	if err != nil || lex["good"] != 1.9 || lex[":)"] != 2 {
		t.Fatalf("%v %v", lex, err)
	}
}

func FuzzSentiment(f *testing.F) {
	a := analyzer(f)
	for _, s := range append(referenceSentences[:5:5], "", "!!!", "never so", "least", "kind of", "but", "BUT but") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g := a.Score(s)
		for _, v := range []float64{g.Compound, g.Pos, g.Neu, g.Neg} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("%q: %+v", s, g)
			}
		}
		if g.Compound < -1 || g.Compound > 1 || g.Pos < 0 || g.Neg < 0 || g.Neu < 0 {
			t.Fatalf("%q: out of range %+v", s, g)
		}
		if g.Tokens > 0 && math.Abs(g.Pos+g.Neu+g.Neg-1) > 0.003 {
			t.Fatalf("%q: shares sum to %v", s, g.Pos+g.Neu+g.Neg)
		}
	})
}

func BenchmarkSentiment(b *testing.B) {
	a := analyzer(b)
	s := "The plot was good, but the characters are uncompelling and the dialog is not great!"
	b.ReportAllocs()
	for b.Loop() {
		a.Score(s)
	}
}
