package whisper

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/lsie-mlf/lsie/plugins/internal/models"
	"github.com/lsie-mlf/lsie/plugins/transcription/engine"
)

func TestMissingWeightsNamed(t *testing.T) {
	dir := t.TempDir()
	_, err := New(map[string]string{"whisper_dir": dir})
	var me *models.MissingError
	if !errors.As(err, &me) || me.Path != filepath.Join(dir, "encoder_model.onnx") || !strings.Contains(err.Error(), "whisper_encoder") || !strings.Contains(err.Error(), "optimum-cli") {
		t.Fatalf("no encoder: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "encoder_model.onnx"), []byte("x"), 0o644)
	_, err = New(map[string]string{"whisper_dir": dir})
	if !errors.As(err, &me) || me.Path != filepath.Join(dir, "decoder_model.onnx") {
		t.Fatalf("no decoder: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "decoder_model.onnx"), []byte("x"), 0o644)
	_, err = New(map[string]string{"whisper_dir": dir})
	if !errors.As(err, &me) || me.Path != filepath.Join(dir, "vocab.json") {
		t.Fatalf("no vocabulary: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "vocab.json"), []byte("{}"), 0o644)
	_, err = New(map[string]string{"whisper_dir": dir, "whisper_added_tokens": filepath.Join(dir, "nope.json")})
	if !errors.As(err, &me) || me.Path != filepath.Join(dir, "nope.json") {
		t.Fatalf("no added tokens: %v", err)
	}
	// A tokenizer.json stands in for vocab.json.
	tdir := t.TempDir()
	for _, n := range []string{"encoder_model.onnx", "decoder_model.onnx", "tokenizer.json"} {
		os.WriteFile(filepath.Join(tdir, n), []byte("{}"), 0o644)
	}
	_, err = New(map[string]string{"whisper_dir": tdir})
	if err == nil || !strings.Contains(err.Error(), filepath.Join(tdir, "tokenizer.json")) {
		t.Fatalf("tokenizer.json: %v", err)
	}
	// Default folder: <model_dir>/whisper.
	_, err = New(map[string]string{"model_dir": dir})
	if !errors.As(err, &me) || me.Path != filepath.Join(dir, "whisper", "encoder_model.onnx") {
		t.Fatalf("default folder: %v", err)
	}
	// Explicit paths win over the folder.
	_, err = New(map[string]string{"whisper_dir": dir, "whisper_encoder": "/nonexistent/enc.onnx"})
	if !errors.As(err, &me) || me.Path != "/nonexistent/enc.onnx" {
		t.Fatalf("explicit encoder: %v", err)
	}
}

func TestBadAttributes(t *testing.T) {
	dir := tinyModel(t, "normal")
	for attr, val := range map[string]string{
		"whisper_max_tokens":          "0",
		"whisper_partial_every":       "soon",
		"whisper_no_speech_threshold": "2",
		"whisper_threads":             "-1",
		"language":                    "xx",
	} {
		want := attr
		if attr == "language" {
			want = "<|xx|>"
		}
		if _, err := openTiny(t, dir, map[string]string{attr: val}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s = %q: err = %v", attr, val, err)
		}
	}
}

func tokenIDs(ts []token) []int {
	var ids []int
	for _, t := range ts {
		ids = append(ids, t.id)
	}
	return ids
}

// collect reads a hypothesis's words for checkChainHypothesis.
func collect(h engine.Hypothesis) []wordT {
	var ws []wordT
	for _, w := range h.Words {
		ws = append(ws, wordT{w.Text, w.Start, w.End, w.Confidence})
	}
	return ws
}

func TestTinyModelDecodes(t *testing.T) {
	for _, variant := range []string{"normal", "oldvocab"} {
		t.Run(variant, func(t *testing.T) {
			r, err := openTiny(t, tinyModel(t, variant), nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.nMels != 80 {
				t.Fatalf("n_mels %d from a symbolic shape without <|yue|>", r.nMels)
			}
			if err := r.Begin(); err != nil {
				t.Fatal(err)
			}
			pcm := chirp(4*sampleRate, 200, 2000, 0.5)
			for i := 0; i < len(pcm); i += 1600 {
				if err := r.Accept(pcm[i:min(i+1600, len(pcm))]); err != nil {
					t.Fatal(err)
				}
			}
			h, err := r.End()
			if err != nil {
				t.Fatal(err)
			}
			checkChainHypothesis(t, h.Text, collect(h))
			if r.Dropped() != 0 {
				t.Fatalf("dropped %v", r.Dropped())
			}
			// The loop stops at <|endoftext|>: run it once more directly,
			// counting decoder runs.
			r.front.logMel(pcm, r.features)
			out := []ort.Value{nil}
			if err := r.enc.Run([]ort.Value{r.featTensor}, out); err != nil {
				t.Fatal(err)
			}
			defer out[0].Destroy()
			if sh := out[0].GetShape(); sh.String() != "[1 1500 80]" {
				t.Fatalf("encoder output %v", sh)
			}
			calls := 0
			step := r.stepper(out[0])
			res, err := greedy(r.vocab, func(ids []int, first bool) ([]float32, []float32, error) {
				calls++
				return step(ids, first)
			}, 224)
			if err != nil {
				t.Fatal(err)
			}
			if !res.hitEOT || len(res.tokens) != 14 || calls != 15 {
				t.Fatalf("hitEOT %v, %d tokens, %d decoder runs", res.hitEOT, len(res.tokens), calls)
			}
			var got []string
			for _, s := range segments(r.vocab, res.tokens, 4*time.Second) {
				got = append(got, fmt.Sprintf("%v–%v %q", s.start, s.end, r.vocab.decode(tokenIDs(s.tokens))))
			}
			if want := `0s–1s " And so," 1.2s–2.5s " my fellow Americans" 2.6s–3s " café"`; strings.Join(got, " ") != want {
				t.Fatalf("segments %s, want %s", strings.Join(got, " "), want)
			}
		})
	}
}

func TestTinyModelLanguageAndMels(t *testing.T) {
	r, err := openTiny(t, tinyModel(t, "mels128"), map[string]string{"language": "de"})
	if err != nil {
		t.Fatal(err)
	}
	if r.nMels != 128 || len(r.features) != 128*nFrames {
		t.Fatalf("n_mels %d", r.nMels)
	}
	if p := r.vocab.prompt(); len(p) != 3 || p[1] != 13 {
		t.Fatalf("prompt %v", p)
	}
	r.Begin()
	r.Accept(chirp(4*sampleRate, 200, 2000, 0.5))
	h, err := r.End()
	if err != nil || h.Text != "And so, my fellow Americans café" {
		t.Fatalf("%q, %v", h.Text, err)
	}
}

func TestTinyModelSignatureErrors(t *testing.T) {
	_, err := openTiny(t, tinyModel(t, "badenc"), nil)
	if err == nil || !strings.Contains(err.Error(), "input_features") {
		t.Fatalf("bad encoder: %v", err)
	}
	_, err = openTiny(t, tinyModel(t, "merged"), nil)
	if err == nil || !strings.Contains(err.Error(), "decoder_model.onnx") || !strings.Contains(err.Error(), "use_cache_branch") {
		t.Fatalf("merged decoder: %v", err)
	}
	// A vocabulary without its special tokens, alone in a folder (so no
	// added_tokens.json is found beside it).
	dir := tinyModel(t, "normal")
	vdir := t.TempDir()
	b, _ := os.ReadFile(filepath.Join(dir, "vocab.json"))
	os.WriteFile(filepath.Join(vdir, "vocab.json"), b, 0o644)
	_, err = openTiny(t, dir, map[string]string{"whisper_vocab": filepath.Join(vdir, "vocab.json")})
	if err == nil || !strings.Contains(err.Error(), "<|startoftranscript|>") || !strings.Contains(err.Error(), "added_tokens.json") {
		t.Fatalf("vocab without specials: %v", err)
	}
	// A vocabulary whose timestamps end past the model's logits.
	m, _ := testVocab(true)
	os.WriteFile(filepath.Join(vdir, "vocab.json"), m, 0o644)
	os.WriteFile(filepath.Join(vdir, "added_tokens.json"), shiftedTimestamps(t, 100), 0o644)
	r, err := openTiny(t, dir, map[string]string{"whisper_vocab": filepath.Join(vdir, "vocab.json")})
	if err != nil {
		t.Fatal(err)
	}
	r.Begin()
	r.Accept(chirp(sampleRate, 200, 2000, 0.5))
	if _, err := r.End(); err == nil || !strings.Contains(err.Error(), "vocabulary") {
		t.Fatalf("vocabulary larger than the logits: %v", err)
	}
}

// shiftedTimestamps is the test vocabulary's added_tokens.json with every
// timestamp id moved up by d.
func shiftedTimestamps(t *testing.T, d int) []byte {
	t.Helper()
	v := mustVocab(t, "en")
	out := map[string]int{}
	for name, id := range v.names {
		if v.isTimestamp(id) {
			id += d
		}
		if id > tEOT {
			out[name] = id
		}
	}
	return marshal(out)
}

func TestUtteranceEdges(t *testing.T) {
	r, err := openTiny(t, tinyModel(t, "normal"), map[string]string{"whisper_partial_every": "1s"})
	if err != nil {
		t.Fatal(err)
	}
	// Outside an utterance: errors, no panics.
	if err := r.Accept([]int16{1}); err == nil {
		t.Fatal("Accept before Begin")
	}
	if _, err := r.Partial(); err == nil {
		t.Fatal("Partial before Begin")
	}
	if _, err := r.End(); err == nil {
		t.Fatal("End before Begin")
	}
	// Empty utterance.
	r.Begin()
	if h, err := r.Partial(); err != nil || h.Text != "" {
		t.Fatalf("empty partial: %+v %v", h, err)
	}
	if h, err := r.End(); err != nil || h.Text != "" || len(h.Words) != 0 {
		t.Fatalf("empty: %+v %v", h, err)
	}
	// Digital silence decodes to nothing (Whisper would invent text).
	r.Begin()
	r.Accept(make([]int16, 2*sampleRate))
	if h, err := r.End(); err != nil || h.Text != "" {
		t.Fatalf("silence: %+v %v", h, err)
	}
	// Over 30 s: cut to the window, the rest counted.
	r.Begin()
	long := chirp(35*sampleRate, 100, 3000, 0.5)
	for i := 0; i < len(long); i += 8000 {
		if err := r.Accept(long[i:min(i+8000, len(long))]); err != nil {
			t.Fatal(err)
		}
	}
	if r.Dropped() != 5*time.Second || len(r.pcm) != nSamples {
		t.Fatalf("dropped %v, kept %d", r.Dropped(), len(r.pcm))
	}
	h, err := r.End()
	if err != nil || h.Text != "And so, my fellow Americans café" {
		t.Fatalf("long: %q %v", h.Text, err)
	}
	for _, w := range h.Words {
		if w.End > MaxUtterance {
			t.Fatalf("word past the window: %+v", w)
		}
	}
	// A short utterance clamps the model's times to the audio (the chain
	// claims 3 s; the audio is 2 s).
	r.Begin()
	r.Accept(chirp(2*sampleRate, 100, 3000, 0.5))
	h, _ = r.End()
	if last := h.Words[len(h.Words)-1]; last.End != 2*time.Second || last.Start > 2*time.Second {
		t.Fatalf("short: %+v", h.Words)
	}
	// After Close: errors.
	r.Close()
	if err := r.Begin(); err == nil {
		t.Fatal("Begin after Close")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestPartialCadence(t *testing.T) {
	r, err := openTiny(t, tinyModel(t, "normal"), map[string]string{"whisper_partial_every": "1s"})
	if err != nil {
		t.Fatal(err)
	}
	pcm := chirp(4*sampleRate, 200, 2000, 0.5)
	r.Begin()
	r.Accept(pcm[:sampleRate/2])
	h1, err := r.Partial() // the first partial decodes
	if err != nil || r.decodedLen != sampleRate/2 || h1.Text == "" {
		t.Fatalf("first partial: %q at %d, %v", h1.Text, r.decodedLen, err)
	}
	r.Accept(pcm[sampleRate/2 : sampleRate])
	h2, _ := r.Partial() // 0.5 s new: reused
	if r.decodedLen != sampleRate/2 || h2.Text != h1.Text {
		t.Fatalf("second partial decoded at %d", r.decodedLen)
	}
	r.Accept(pcm[sampleRate : 3*sampleRate/2])
	r.Partial() // 1 s new: decoded
	if r.decodedLen != 3*sampleRate/2 {
		t.Fatalf("third partial decoded at %d", r.decodedLen)
	}
	h, err := r.End() // new audio since: decoded
	if err != nil || r.decodedLen != 3*sampleRate/2 || h.Text == "" {
		t.Fatalf("end: %q at %d, %v", h.Text, r.decodedLen, err)
	}
}

// BenchmarkDecodeStep is one decoder run of the tiny model on the prompt
// and 8 tokens: the ONNX Runtime call and logit copy, without any model
// cost worth the name, i.e. the engine's per-token overhead.
func BenchmarkDecodeStep(b *testing.B) {
	r, err := openTiny(b, tinyModel(b, "normal"), nil)
	if err != nil {
		b.Fatal(err)
	}
	r.front.logMel(chirp(sampleRate, 200, 2000, 0.5), r.features)
	out := []ort.Value{nil}
	if err := r.enc.Run([]ort.Value{r.featTensor}, out); err != nil {
		b.Fatal(err)
	}
	defer out[0].Destroy()
	step := r.stepper(out[0])
	ids := append(r.vocab.prompt(), theChain[:8]...)
	v := r.vocab
	b.ResetTimer()
	for range b.N {
		_, last, err := step(ids, false)
		if err != nil {
			b.Fatal(err)
		}
		l := make([]float64, len(last))
		for i, x := range last {
			l[i] = float64(x)
		}
		applyRules(v, l, ids[3:])
	}
}

// BenchmarkTinyUtterance is a whole End() on 4 s with the tiny model: front
// end, encoder, 15 decoder runs and the rules.
func BenchmarkTinyUtterance(b *testing.B) {
	r, err := openTiny(b, tinyModel(b, "normal"), nil)
	if err != nil {
		b.Fatal(err)
	}
	pcm := chirp(4*sampleRate, 200, 2000, 0.5)
	b.ResetTimer()
	for range b.N {
		r.Begin()
		r.Accept(pcm)
		if _, err := r.End(); err != nil {
			b.Fatal(err)
		}
	}
}
