package whisper

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lsie-mlf/lsie/plugins/transcription/engine"
)

// maxInitialTimestamp bounds the first timestamp (Whisper's default 1 s):
// a transcript that claims to begin late in the window is usually a
// hallucination.
const maxInitialTimestamp = 1.0

// textContext is Whisper's decoder context (positions) for every published
// model; prompt plus output must fit.
const textContext = 448

// stepFunc runs the decoder on the whole token sequence (no key/value
// cache) and returns the logits of the last position and, when asked, of
// the first.
type stepFunc func(ids []int, wantFirst bool) (first, last []float32, err error)

// token is one emitted token with the model's probability for it.
type token struct {
	id   int
	prob float64 // softmax of the raw logits, before the rules' masks
}

// decodeResult is the greedy decode of one window.
type decodeResult struct {
	tokens       []token // after the prompt, <|endoftext|> excluded
	hitEOT       bool    // stopped at <|endoftext|>, not at the token limit
	noSpeechProb float64 // p(<|nospeech|>) after <|startoftranscript|>; 0 without that token
	avgLogProb   float64 // mean log-probability of the emitted tokens
}

// greedy decodes with timestamps: the prompt <|startoftranscript|>
// [<|lang|>] <|transcribe|>, then the most probable token allowed by the
// timestamp rules, until <|endoftext|> or maxTokens tokens.
func greedy(v *vocab, step stepFunc, maxTokens int) (decodeResult, error) {
	var res decodeResult
	ids := v.prompt()
	sampleBegin := len(ids)
	maxTokens = min(maxTokens, textContext-sampleBegin)
	var sumLog float64
	for len(res.tokens) < maxTokens {
		firstStep := len(res.tokens) == 0
		first, last, err := step(ids, firstStep)
		if err != nil {
			return res, err
		}
		if vs := len(last); vs < v.tsBegin+numTimestamps {
			return res, fmt.Errorf("decoder has %d logits, but the vocabulary's timestamps end at %d — do the vocabulary files belong to this model?", vs, v.tsBegin+numTimestamps-1)
		}
		if firstStep && v.nospeech >= 0 && v.nospeech < len(first) {
			// Whisper reads "no speech" at the position after
			// <|startoftranscript|>, where a language would be predicted.
			res.noSpeechProb = math.Exp(float64(first[v.nospeech]) - logSumExp(first))
		}
		vs := len(last)
		logits := make([]float64, vs)
		for i, x := range last {
			logits[i] = float64(x)
		}
		lse := logSumExp(last)
		applyRules(v, logits, ids[sampleBegin:])
		best := -1
		for i, x := range logits {
			if !math.IsInf(x, -1) && !math.IsNaN(x) && (best < 0 || x > logits[best]) {
				best = i
			}
		}
		if best < 0 {
			return res, fmt.Errorf("decoder: every token is ruled out at step %d (NaN logits?)", len(res.tokens))
		}
		lp := float64(last[best]) - lse
		if best == v.eot {
			res.hitEOT = true
			break
		}
		sumLog += lp
		res.tokens = append(res.tokens, token{id: best, prob: math.Exp(lp)})
		ids = append(ids, best)
	}
	if len(res.tokens) > 0 {
		res.avgLogProb = sumLog / float64(len(res.tokens))
	}
	return res, nil
}

func logSumExp(x []float32) float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, float64(v))
	}
	if math.IsInf(m, 0) || math.IsNaN(m) {
		return m
	}
	var s float64
	for _, v := range x {
		s += math.Exp(float64(v) - m)
	}
	return m + math.Log(s)
}

// applyRules masks (sets to −Inf) the tokens Whisper's timestamp decoding
// forbids after the sampled tokens seq:
//   - control tokens (start, language, task, no-speech, <|notimestamps|>)
//     are never emitted;
//   - the first token is a timestamp no later than 1 s, and the first text
//     token is neither a blank nor <|endoftext|>;
//   - timestamps come in pairs: after text-then-timestamp (a segment's end)
//     the next is a timestamp (the next segment's start) or the end; after
//     two timestamps the next is text;
//   - timestamps never decrease, and a segment's end is after its start;
//   - when the timestamps together outweigh the likeliest text token, a
//     timestamp is taken (Whisper's rule; it keeps segments short).
func applyRules(v *vocab, logits []float64, seq []int) {
	ninf := math.Inf(-1)
	mask := func(lo, hi int) {
		for i := max(lo, 0); i < min(hi, len(logits)); i++ {
			logits[i] = ninf
		}
	}
	for _, id := range v.special {
		mask(id, id+1)
	}
	tsEnd := v.tsBegin + numTimestamps
	// Ids past the last timestamp (padding rows of some exports) are no
	// tokens at all.
	mask(tsEnd, len(logits))
	if len(seq) == 0 {
		mask(0, v.tsBegin)
		mask(v.tsBegin+int(math.Round(maxInitialTimestamp/timestampStep))+1, tsEnd)
		return
	}
	if len(seq) == 1 {
		mask(v.eot, v.eot+1)
		if v.blank >= 0 {
			mask(v.blank, v.blank+1)
		}
	}
	lastTS := v.isTimestamp(seq[len(seq)-1])
	penultTS := len(seq) < 2 || v.isTimestamp(seq[len(seq)-2])
	if lastTS {
		if penultTS {
			mask(v.tsBegin, tsEnd)
		} else {
			mask(0, v.eot)
		}
	}
	for i := len(seq) - 1; i >= 0; i-- {
		if !v.isTimestamp(seq[i]) {
			continue
		}
		floor := seq[i] + 1 // a segment's end is after its start
		if lastTS && !penultTS {
			floor = seq[i] // the next start may equal the last end
		}
		mask(v.tsBegin, floor)
		break
	}
	// Compare the total probability of all timestamps with the likeliest
	// text token, on the masked distribution.
	tsMax, textMax := ninf, ninf
	for i, x := range logits {
		if i >= v.tsBegin && i < tsEnd {
			tsMax = math.Max(tsMax, x)
		} else if i < v.tsBegin {
			textMax = math.Max(textMax, x)
		}
	}
	if math.IsInf(tsMax, -1) || math.IsInf(textMax, -1) {
		return
	}
	var s float64
	for _, x := range logits[v.tsBegin:tsEnd] {
		s += math.Exp(x - tsMax)
	}
	if tsMax+math.Log(s) > textMax {
		mask(0, v.tsBegin)
	}
}

// segment is a stretch of text between two timestamps.
type segment struct {
	start, end time.Duration
	tokens     []token
}

// segments groups the decoded tokens by their timestamps. A last segment
// left open (the token limit, or text then <|endoftext|>) ends at the
// audio's end. Times are clamped to the audio.
func segments(v *vocab, toks []token, audio time.Duration) []segment {
	var out []segment
	var cur *segment
	at := func(id int) time.Duration {
		d := time.Duration(float64(id-v.tsBegin) * timestampStep * float64(time.Second))
		return min(max(d, 0), audio)
	}
	for _, t := range toks {
		switch {
		case v.isTimestamp(t.id) && cur == nil:
			cur = &segment{start: at(t.id)}
		case v.isTimestamp(t.id) && len(cur.tokens) == 0:
			cur.start = at(t.id) // two starts in a row: the later one holds
		case v.isTimestamp(t.id):
			cur.end = max(at(t.id), cur.start)
			out = append(out, *cur)
			cur = nil
		default:
			if cur == nil { // text without an opening timestamp
				s := time.Duration(0)
				if len(out) > 0 {
					s = out[len(out)-1].end
				}
				cur = &segment{start: s}
			}
			cur.tokens = append(cur.tokens, t)
		}
	}
	if cur != nil && len(cur.tokens) > 0 {
		cur.end = max(audio, cur.start)
		out = append(out, *cur)
	}
	return out
}

// hypothesis turns segments into text and words. Whisper gives times per
// segment only, so each segment's span is shared among its words in
// proportion to their characters (a word of 8 letters gets twice a word of
// 4): a fair guess for speech at an even pace, off by up to a word or two
// where the pace changes. A word is the tokens from one starting with
// white space to the next; a word's confidence is the mean of its tokens'
// probabilities. Scripts written without spaces make one word of a segment.
func hypothesis(v *vocab, segs []segment) engine.Hypothesis {
	var h engine.Hypothesis
	var all []int
	for _, s := range segs {
		type word struct {
			ids  []int
			prob float64
		}
		var words []word
		for _, t := range s.tokens {
			all = append(all, t.id)
			b := v.bytesOf(t.id)
			if len(words) == 0 || (len(b) > 0 && (b[0] == ' ' || b[0] == '\n' || b[0] == '\t')) {
				words = append(words, word{})
			}
			w := &words[len(words)-1]
			w.ids = append(w.ids, t.id)
			w.prob += t.prob
		}
		texts := make([]string, 0, len(words))
		confs := make([]float64, 0, len(words))
		chars := make([]int, 0, len(words))
		total := 0
		for _, w := range words {
			txt := strings.TrimSpace(v.decode(w.ids))
			if txt == "" {
				continue
			}
			n := utf8.RuneCountInString(txt)
			texts, chars = append(texts, txt), append(chars, n)
			confs = append(confs, w.prob/float64(len(w.ids)))
			total += n
		}
		span := s.end - s.start
		done := 0
		for i, txt := range texts {
			st := s.start + time.Duration(float64(span)*float64(done)/float64(total))
			done += chars[i]
			en := s.start + time.Duration(float64(span)*float64(done)/float64(total))
			h.Words = append(h.Words, engine.Word{Text: txt, Start: st, End: en, Confidence: confs[i]})
		}
	}
	h.Text = strings.TrimSpace(v.decode(all))
	return h
}
