package gate

import (
	"fmt"
	"math"
)

// Embedder turns a text into a unit-length vector (a sentence encoder).
type Embedder interface {
	Embed(text string) ([]float32, error)
}

// Encoder is the embedding scorer: cosine similarity of the utterance's
// embedding to each phrase's, best phrase per intent, negatives as 0.
type Encoder struct {
	emb     Embedder
	intents [][][]float32
}

// NewEncoder embeds the intents' phrases once.
func NewEncoder(emb Embedder, intents []Intent) (*Encoder, error) {
	e := &Encoder{emb: emb}
	for _, in := range intents {
		var vs [][]float32
		for i, p := range in.Phrases {
			v, err := emb.Embed(p)
			if err != nil {
				return nil, fmt.Errorf("intents.%s[%d]: %w", in.Name, i, err)
			}
			vs = append(vs, v)
		}
		e.intents = append(e.intents, vs)
	}
	return e, nil
}

// Score embeds text and compares it with every phrase.
func (e *Encoder) Score(text string) (Match, error) {
	u, err := e.emb.Embed(text)
	if err != nil {
		return Match{Intent: -1}, err
	}
	scores := make([]float64, len(e.intents))
	for k, vs := range e.intents {
		for _, v := range vs {
			scores[k] = max(scores[k], min(1, Cosine(u, v)))
		}
	}
	return best(scores), nil
}

// Cosine is the cosine similarity of a and b (0 when either is zero or the
// lengths differ).
func Cosine(a, b []float32) float64 {
	if len(a) != len(b) {
		return 0
	}
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}
