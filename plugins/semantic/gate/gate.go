// Package gate scores an utterance against target intents, each given as
// exemplar phrases, for the semantic plugin's gate.
//
// Two scorers implement Scorer. Lexical needs no model:
//
//   - Words are lower-cased runs of letters and digits (an inner apostrophe
//     kept, a possessive "'s" dropped). Stopwords (a fixed English list,
//     including "not"/"no": negation is not modelled) are left out of both
//     sides ("thank you for the donation" → thank, donation); a phrase made
//     only of stopwords ("how are you") keeps all its words instead and is
//     matched against all the utterance's words.
//   - Each word stands for its WordNet lemmas over all parts of speech
//     (morphy: "thanks" → thanks, thank; "donating" → donate) plus its own
//     spelling, so names and words WordNet lacks still match exactly.
//   - A phrase word e matches an utterance word u with 1 when their lemma
//     sets meet, with SynonymWeight (0.8) when one of u's lemmas is a WordNet
//     synonym of one of e's (same synset, any sense: "hi" ~ "hello") or a
//     derivationally related form ("donate" ~ "donation"), else 0.
//   - phrase score = (1/m) Σ over the phrase's m words of the best match in
//     the utterance: the share of the phrase the utterance says, whatever
//     else it says (an intent counts as said inside a longer utterance).
//   - intent score = max over its phrases; gate_score = max over intents,
//     and the gate opens when gate_score >= the threshold (default 0.5)
//     and gate_score > 0.
//
// Encoder embeds the utterance with a sentence encoder and takes, per
// intent, the highest cosine similarity to its phrases' embeddings; negative
// cosines count as 0, so the score stays in 0..1.
package gate

// Match is an utterance's result.
type Match struct {
	// Score is the best intent's score, 0..1.
	Score float64
	// Intent is the index of the best intent in the intents (sorted by
	// name), -1 when every score is 0.
	Intent int
	// Intents are the per-intent scores, in the intents' order.
	Intents []float64
}

// Scorer scores utterances; it is used by one stream at a time.
type Scorer interface {
	Score(text string) (Match, error)
}

// best fills Score and Intent from Intents; ties go to the first intent.
func best(scores []float64) Match {
	m := Match{Intent: -1, Intents: scores}
	for i, s := range scores {
		if s > m.Score {
			m.Score, m.Intent = s, i
		}
	}
	return m
}
