package whisper

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// Token ids of testVocab.
const (
	tBlank, tAnd, tSo, tComma, tMy, tFellow, tAmericans, tCaf, tEAcute, tJunk, tEOT = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
	tSOT, tTranscribe, tNoSpeech, tTS0                                              = 11, 15, 18, 20
	testV                                                                           = 1521
)

func ts(sec float64) int { return tTS0 + int(math.Round(sec/timestampStep)) }

// chainStep is a fake decoder: position t's logits are 10 at next[id[t]]
// and 0 elsewhere, like the tiny ONNX model.
func chainStep(next map[int]int, calls *int) stepFunc {
	row := func(id int) []float32 {
		l := make([]float32, testV)
		if n, ok := next[id]; ok {
			l[n] = 10
		} else {
			l[tEOT] = 10
		}
		return l
	}
	return func(ids []int, wantFirst bool) ([]float32, []float32, error) {
		*calls++
		var first []float32
		if wantFirst {
			first = row(ids[0])
		}
		return first, row(ids[len(ids)-1]), nil
	}
}

// theChain is the tiny model's sequence after <|transcribe|>.
var theChain = []int{ts(0), tAnd, tSo, tComma, ts(1.0), ts(1.2), tMy, tFellow, tAmericans, ts(2.5), ts(2.6), tCaf, tEAcute, ts(3.0), tEOT, tJunk}

func chainMap(seq []int) map[int]int {
	m := map[int]int{tTranscribe: seq[0]}
	for i := 0; i+1 < len(seq); i++ {
		m[seq[i]] = seq[i+1]
	}
	return m
}

// checkChainHypothesis asserts the decode of theChain over audio long.
func checkChainHypothesis(t *testing.T, text string, words []wordT) {
	t.Helper()
	if text != "And so, my fellow Americans café" {
		t.Fatalf("text %q", text)
	}
	// One-hot logits of 10 over 1521 tokens: p = e¹⁰/(e¹⁰+1520).
	p := math.Exp(10) / (math.Exp(10) + testV - 1)
	sec := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	// Segment times shared by characters: "And"+"so," = 6 over 1 s;
	// "my"+"fellow"+"Americans" = 17 over 1.3 s; "café" alone.
	want := []wordT{
		{"And", 0, sec(0.5), p}, {"so,", sec(0.5), sec(1.0), p},
		{"my", sec(1.2), sec(1.2 + 1.3*2/17), p}, {"fellow", sec(1.2 + 1.3*2/17), sec(1.2 + 1.3*8/17), p}, {"Americans", sec(1.2 + 1.3*8/17), sec(2.5), p},
		{"café", sec(2.6), sec(3.0), p},
	}
	if len(words) != len(want) {
		t.Fatalf("words %v, want %v", words, want)
	}
	for i, w := range want {
		g := words[i]
		if g.text != w.text || (g.start-w.start).Abs() > time.Millisecond || (g.end-w.end).Abs() > time.Millisecond {
			t.Fatalf("word %d = %v, want %v", i, g, w)
		}
		if math.Abs(g.conf-p) > 1e-4 {
			t.Fatalf("word %d confidence %v, want %v", i, g.conf, p)
		}
	}
}

type wordT struct {
	text       string
	start, end time.Duration
	conf       float64
}

func TestGreedyChain(t *testing.T) {
	v := mustVocab(t, "en")
	calls := 0
	res, err := greedy(v, chainStep(chainMap(theChain), &calls), 224)
	if err != nil {
		t.Fatal(err)
	}
	// Stops at <|endoftext|>: 14 tokens, 15 decoder runs, no "junk".
	if !res.hitEOT || len(res.tokens) != 14 || calls != 15 {
		t.Fatalf("hitEOT %v, %d tokens, %d calls", res.hitEOT, len(res.tokens), calls)
	}
	segs := segments(v, res.tokens, 4*time.Second)
	wantSegs := [][2]float64{{0, 1.0}, {1.2, 2.5}, {2.6, 3.0}}
	if len(segs) != len(wantSegs) {
		t.Fatalf("%d segments", len(segs))
	}
	for i, s := range segs {
		if s.start != time.Duration(wantSegs[i][0]*1e9) || (s.end-time.Duration(wantSegs[i][1]*1e9)).Abs() > time.Microsecond {
			t.Fatalf("segment %d: %v–%v", i, s.start, s.end)
		}
	}
	h := hypothesis(v, segs)
	var ws []wordT
	for _, w := range h.Words {
		ws = append(ws, wordT{w.Text, w.Start, w.End, w.Confidence})
	}
	checkChainHypothesis(t, h.Text, ws)
}

// rulesPick runs the rules on logits after seq and returns the argmax.
func rulesPick(v *vocab, logits map[int]float64, seq []int) int {
	l := make([]float64, testV)
	for i := range l {
		l[i] = -20
	}
	for id, x := range logits {
		l[id] = x
	}
	applyRules(v, l, seq)
	best := -1
	for i, x := range l {
		if !math.IsInf(x, -1) && (best < 0 || x > l[best]) {
			best = i
		}
	}
	return best
}

func TestTimestampRules(t *testing.T) {
	v := mustVocab(t, "en")
	cases := []struct {
		name   string
		logits map[int]float64
		seq    []int
		want   int
	}{
		{"first is a timestamp ≤ 1 s", map[int]float64{tAnd: 10, ts(5): 9, ts(0.4): 1}, nil, ts(0.4)},
		{"no control tokens", map[int]float64{tSOT: 10, tNoSpeech: 9, ts(0): 1}, nil, ts(0)},
		{"no blank or end first", map[int]float64{tBlank: 10, tEOT: 9, tSo: 1}, []int{ts(0)}, tSo},
		{"start pair then text", map[int]float64{ts(2): 10, tAnd: 1}, []int{ts(0), tAnd, ts(1), ts(1.2)}, tAnd},
		{"after an end: timestamp or end", map[int]float64{tAnd: 10, ts(2): 1}, []int{ts(0), tAnd, ts(1)}, ts(2)},
		{"after an end, the end", map[int]float64{tAnd: 10, tEOT: 2, ts(2): 1}, []int{ts(0), tAnd, ts(1)}, tEOT},
		{"next start may equal the end", map[int]float64{ts(0.98): 10, ts(1): 5}, []int{ts(0), tAnd, ts(1)}, ts(1)},
		{"segment end after its start", map[int]float64{ts(0.5): 10, ts(1): 10, tSo: 8}, []int{ts(1), tAnd}, tSo},
		{"no decreasing timestamps", map[int]float64{ts(0.5): 10, ts(1.5): 9}, []int{ts(1), tAnd}, ts(1.5)},
		{"timestamp mass wins", map[int]float64{tSo: 3}, []int{ts(0), tAnd}, ts(0.02)},
		{"text wins", map[int]float64{tSo: 12}, []int{ts(0), tAnd}, tSo},
	}
	for _, c := range cases {
		if c.name == "timestamp mass wins" {
			// 1500 timestamps at logit 0 (e^0·1500 ≫ e^3); everything
			// else very unlikely; the earliest allowed is then the argmax.
			l := make([]float64, testV)
			for i := range l {
				l[i] = -30
			}
			for i := ts(0); i < tTS0+numTimestamps; i++ {
				l[i] = 0
			}
			l[tSo] = 3
			applyRules(v, l, c.seq)
			if !math.IsInf(l[tSo], -1) {
				t.Errorf("%s: text not masked", c.name)
			}
			continue
		}
		if got := rulesPick(v, c.logits, c.seq); got != c.want {
			t.Errorf("%s: picked %d, want %d", c.name, got, c.want)
		}
	}
}

func TestGreedyTokenLimit(t *testing.T) {
	v := mustVocab(t, "en")
	calls := 0
	// And → so → And …: never a timestamp after the first, never the end.
	res, err := greedy(v, chainStep(map[int]int{tTranscribe: ts(0), ts(0): tAnd, tAnd: tSo, tSo: tAnd}, &calls), 20)
	if err != nil {
		t.Fatal(err)
	}
	if res.hitEOT || len(res.tokens) != 20 || calls != 20 {
		t.Fatalf("hitEOT %v, %d tokens, %d calls", res.hitEOT, len(res.tokens), calls)
	}
	// The open segment ends with the audio.
	segs := segments(v, res.tokens, 2*time.Second)
	if len(segs) != 1 || segs[0].start != 0 || segs[0].end != 2*time.Second {
		t.Fatalf("segments %+v", segs)
	}
	// The context bounds the limit too.
	res, _ = greedy(v, chainStep(map[int]int{tTranscribe: ts(0), ts(0): tAnd, tAnd: tSo, tSo: tAnd}, &calls), 100000)
	if len(res.tokens) != textContext-3 {
		t.Fatalf("%d tokens past the context", len(res.tokens))
	}
}

func TestGreedyBadLogits(t *testing.T) {
	v := mustVocab(t, "en")
	nan := func(ids []int, _ bool) ([]float32, []float32, error) {
		l := make([]float32, testV)
		for i := range l {
			l[i] = float32(math.NaN())
		}
		return l, l, nil
	}
	if _, err := greedy(v, nan, 10); err == nil || !strings.Contains(err.Error(), "NaN") {
		t.Fatalf("NaN logits: %v", err)
	}
	short := func(ids []int, _ bool) ([]float32, []float32, error) {
		return make([]float32, 100), make([]float32, 100), nil
	}
	if _, err := greedy(v, short, 10); err == nil || !strings.Contains(err.Error(), "vocabulary") {
		t.Fatalf("short logits: %v", err)
	}
	boom := errors.New("boom")
	failing := func(ids []int, _ bool) ([]float32, []float32, error) { return nil, nil, boom }
	if _, err := greedy(v, failing, 10); !errors.Is(err, boom) {
		t.Fatalf("failing step: %v", err)
	}
}

func TestNoSpeechProbability(t *testing.T) {
	v := mustVocab(t, "en")
	step := func(ids []int, wantFirst bool) ([]float32, []float32, error) {
		first := make([]float32, testV)
		first[tNoSpeech] = 20 // after <|startoftranscript|>: "no speech"
		last := make([]float32, testV)
		last[tEOT] = 5
		if len(ids) == 3 {
			last[ts(0)] = 10
		}
		if !wantFirst {
			first = nil
		}
		return first, last, nil
	}
	res, err := greedy(v, step, 10)
	if err != nil {
		t.Fatal(err)
	}
	if res.noSpeechProb < 0.99 {
		t.Fatalf("no-speech probability %v", res.noSpeechProb)
	}
}

func TestSegmentsClampAndOddOrders(t *testing.T) {
	v := mustVocab(t, "en")
	tok := func(ids ...int) []token {
		var out []token
		for _, id := range ids {
			out = append(out, token{id: id, prob: 0.5})
		}
		return out
	}
	// Timestamps past the audio are clamped to it.
	segs := segments(v, tok(ts(0), tAnd, ts(5)), 2*time.Second)
	if len(segs) != 1 || segs[0].end != 2*time.Second {
		t.Fatalf("%+v", segs)
	}
	// Text before any timestamp; two starts in a row; an empty last start.
	segs = segments(v, tok(tAnd, ts(1), ts(1.5), ts(1.6), tSo, ts(2), ts(2.2)), 3*time.Second)
	if len(segs) != 2 || segs[0].start != 0 || segs[0].end != time.Second || segs[1].start != 1600*time.Millisecond {
		t.Fatalf("%+v", segs)
	}
	h := hypothesis(v, segs)
	if h.Text != "And so" || len(h.Words) != 2 {
		t.Fatalf("%+v", h)
	}
	// A segment of blanks only has no words but does not divide by zero.
	h = hypothesis(v, segments(v, tok(ts(0), tBlank, ts(1)), time.Second))
	if h.Text != "" || len(h.Words) != 0 {
		t.Fatalf("%+v", h)
	}
}
