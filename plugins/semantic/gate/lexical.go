package gate

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/lsie-mlf/lsie/plugins/semantic/wordnet"
)

// SynonymWeight is what a WordNet synonym or derivationally related form
// counts for, against 1 for the same lemma: usually, not always, the same
// sense.
const SynonymWeight = 0.8

// Lexical is the lemma-and-synonym scorer (see the package doc).
type Lexical struct {
	wn      *wordnet.WordNet
	intents [][]phrase
}

// phrase is one exemplar, prepared: its words with their lemmas and
// synonyms, looked up once when the stream opens.
type phrase struct {
	terms   []term
	allStop bool // made of stopwords only: match against every word
}

type term struct {
	lemmas []string
	syns   map[string]struct{} // synonyms and derived forms of the lemmas
}

// NewLexical prepares the intents' phrases. A phrase without a word to
// match ("!!!") is an error naming it, as intents.NAME[i].
func NewLexical(wn *wordnet.WordNet, intents []Intent) (*Lexical, error) {
	l := &Lexical{wn: wn}
	for _, in := range intents {
		var ps []phrase
		for i, text := range in.Phrases {
			words := Words(text)
			if len(words) == 0 {
				return nil, fmt.Errorf("intents.%s[%d]: no words to match in %q", in.Name, i, text)
			}
			p := phrase{}
			content := contentWords(words)
			if len(content) == 0 {
				p.allStop, content = true, words
			}
			for _, w := range content {
				t := term{lemmas: l.lemmas(w), syns: map[string]struct{}{}}
				for _, lem := range t.lemmas {
					syn, err := wn.Synonyms(lem, 0)
					if err != nil {
						return nil, fmt.Errorf("intents.%s[%d]: WordNet: %w", in.Name, i, err)
					}
					der, err := wn.Derived(lem, 0)
					if err != nil {
						return nil, fmt.Errorf("intents.%s[%d]: WordNet: %w", in.Name, i, err)
					}
					for _, s := range append(syn, der...) {
						t.syns[s] = struct{}{}
					}
				}
				p.terms = append(p.terms, t)
			}
			ps = append(ps, p)
		}
		l.intents = append(l.intents, ps)
	}
	return l, nil
}

// lemmas are w's WordNet base forms plus w itself.
func (l *Lexical) lemmas(w string) []string {
	ls := l.wn.Lemmas(w)
	for _, x := range ls {
		if x == w {
			return ls
		}
	}
	return append(ls, w)
}

// Score scores text against every intent.
func (l *Lexical) Score(text string) (Match, error) {
	words := Words(text)
	all := make([][]string, len(words))
	var content [][]string
	for i, w := range words {
		all[i] = l.lemmas(w)
		if !isStopword(w) {
			content = append(content, all[i])
		}
	}
	scores := make([]float64, len(l.intents))
	for k, ps := range l.intents {
		for _, p := range ps {
			against := content
			if p.allStop {
				against = all
			}
			scores[k] = max(scores[k], p.score(against))
		}
	}
	return best(scores), nil
}

// score is the share of the phrase's words the utterance matches.
func (p phrase) score(utt [][]string) float64 {
	if len(utt) == 0 {
		return 0
	}
	sum := 0.0
	for _, t := range p.terms {
		bestMatch := 0.0
		for _, u := range utt {
			bestMatch = max(bestMatch, t.match(u))
			if bestMatch == 1 {
				break
			}
		}
		sum += bestMatch
	}
	return sum / float64(len(p.terms))
}

func (t term) match(u []string) float64 {
	syn := false
	for _, a := range u {
		for _, b := range t.lemmas {
			if a == b {
				return 1
			}
		}
		if _, ok := t.syns[a]; ok {
			syn = true
		}
	}
	if syn {
		return SynonymWeight
	}
	return 0
}

// Words splits text into lower-case words: runs of letters and digits,
// with an apostrophe inside a word kept ("don't") and a possessive "'s"
// dropped ("streamer's" → "streamer").
func Words(text string) []string {
	var out []string
	var b strings.Builder
	flush := func() {
		w := strings.Trim(b.String(), "'")
		b.Reset()
		if w == "" {
			return
		}
		if s, ok := strings.CutSuffix(w, "'s"); ok && !isStopword(w) {
			w = s
		}
		out = append(out, w)
	}
	for _, r := range text {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r):
			b.WriteRune(unicode.ToLower(r))
		case (r == '\'' || r == '’') && b.Len() > 0:
			b.WriteByte('\'')
		default:
			flush()
		}
	}
	flush()
	return out
}

func contentWords(words []string) []string {
	var out []string
	for _, w := range words {
		if !isStopword(w) {
			out = append(out, w)
		}
	}
	return out
}

func isStopword(w string) bool {
	_, ok := stopwords[w]
	return ok
}

// stopwords are function words that say nothing about an intent (NLTK's
// English list plus common contractions).
var stopwords = func() map[string]struct{} {
	m := map[string]struct{}{}
	for w := range strings.FieldsSeq(`
		i me my myself we our ours ourselves you your yours yourself yourselves
		he him his himself she her hers herself it its itself they them their
		theirs themselves what which who whom this that these those am is are was
		were be been being have has had having do does did doing a an the and but
		if or because as until while of at by for with about against between into
		through during before after above below to from up down in out on off over
		under again further then once here there when where why how all any both
		each few more most other some such no nor not only own same so than too
		very s t can will just don should now d ll m o re ve y ain aren couldn
		didn doesn hadn hasn haven isn ma mightn mustn needn shan shouldn wasn
		weren won wouldn
		i'm i've i'll i'd you're you've you'll you'd he's she's it's we're we've
		we'll we'd they're they've they'll they'd that's there's here's what's
		let's who's don't doesn't didn't can't won't isn't aren't wasn't weren't
		haven't hasn't hadn't shouldn't wouldn't couldn't ain't gonna wanna
		`) {
		m[w] = struct{}{}
	}
	return m
}()
