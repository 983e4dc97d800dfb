package main

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/internal/testenv"
	plugattrs "github.com/lsie-mlf/lsie/plugins/internal/attrs"
	"github.com/lsie-mlf/lsie/plugins/semantic/wordnet"
	"github.com/lsie-mlf/lsie/sdk"
	"github.com/lsie-mlf/lsie/sdk/plugintest"
	"github.com/lsie-mlf/lsie/sdk/transcript"
)

const intents = `{"greeting":["hello everyone","hi there"],"thanks":["thank you for the donation"]}`

func modelDir(t testing.TB) string {
	t.Helper()
	d, err := filepath.Abs("../../var/models")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(d, "vader/vader_lexicon.txt")); err != nil {
		testenv.Missing(t, "VADER lexicon in var/models (scripts/fetch-models.sh)")
	}
	if _, err := os.Stat(filepath.Join(wordnet.DefaultDir, "index.noun")); err != nil {
		testenv.Missing(t, "WordNet in %s (Debian wordnet-base)", wordnet.DefaultDir)
	}
	return d
}

// final is a transcript.final@1 message as the transcription plugin sends it.
func final(text string) sdk.Message {
	p := transcript.Payload{Utterance: 1, Final: true, Engine: "sphinx", Text: text, Confidence: 0.9, End: time.Second}
	return sdk.Message{Topic: transcript.TopicFinal, Producer: "transcription", PTS: time.Second, Duration: time.Second, Text: text, Payload: p.Marshal()}
}

func TestPluginThroughHarness(t *testing.T) {
	dir := modelDir(t)
	h := plugintest.Start(t, plugintest.Build(t, "."))
	if m := h.Manifest(); m.Name != "semantic" || m.Version != "0.1.0" || len(m.Inputs) != 1 || m.Inputs[0] != transcript.TopicFinal {
		t.Fatalf("manifest %+v", m)
	}
	s := h.Open("mic", map[string]string{"model_dir": dir, "intents": intents, "gate_threshold": "0.6"})

	r := s.Message(final("Hello everyone, welcome back! This stream is going to be AMAZING!!!"))
	f := r.Fields
	if r.ErrCode != "" || f["semantic_gate"] != 1 || f["gate_intent"] != 0 || f["intent_greeting"] != 1 || f["intent_thanks"] != 0 || f["sentiment_compound"] < 0.5 {
		t.Fatalf("greeting: %+v", r)
	}
	if r.Text != "greeting" || !strings.Contains(string(r.Payload), `"intent":"greeting"`) {
		t.Fatalf("greeting answer text %q payload %s", r.Text, r.Payload)
	}
	r = s.Message(final("thanks so much for donating"))
	if f := r.Fields; f["semantic_gate"] != 1 || f["gate_intent"] != 1 || math.Abs(f["gate_score"]-0.9) > 1e-9 || r.Text != "thanks" {
		t.Fatalf("thanks: %+v", r)
	}
	r = s.Message(final("this boss fight is not fun, it is terrible"))
	if f := r.Fields; f["semantic_gate"] != 0 || f["gate_intent"] != -1 || f["sentiment_compound"] > -0.5 || f["sentiment_neg"] <= f["sentiment_pos"] || r.Text != "" {
		t.Fatalf("negative: %+v", r)
	}

	// Bad input: defined output, never an error.
	r = s.Message(final(""))
	if f := r.Fields; r.ErrCode != "" || f["text_empty"] != 1 || f["semantic_gate"] != 0 || f["sentiment_compound"] != 0 {
		t.Fatalf("empty: %+v", r)
	}
	// One data-plane packet holds 64 KiB, so ~60 kB of text without payload
	// here; TestHugeUtterance sends 100 kB to the stream directly.
	huge := final(strings.Repeat("what a wonderful stream, thank you for the donation ", 1150))
	huge.Payload = nil
	r = s.Message(huge)
	if f := r.Fields; r.ErrCode != "" || f["text_truncated"] != 1 || f["semantic_gate"] != 1 || f["sentiment_compound"] < 0.9 {
		t.Fatalf("huge: %+v", r)
	}
	r = s.Message(final("Das Spiel ist gestern Abend wirklich spannend gewesen"))
	if f := r.Fields; r.ErrCode != "" || f["semantic_gate"] != 0 || f["sentiment_compound"] != 0 {
		t.Fatalf("German: %+v", r)
	}
	bad := final("hello everyone")
	bad.Payload = []byte("{not json")
	r = s.Message(bad)
	if f := r.Fields; r.ErrCode != "" || f["payload_invalid"] != 1 || f["semantic_gate"] != 1 {
		t.Fatalf("bad payload: %+v", r)
	}
	// Text only in the payload.
	m := final("hi there")
	m.Text = ""
	if r = s.Message(m); r.Fields["semantic_gate"] != 1 || r.Fields["payload_invalid"] != 0 {
		t.Fatalf("payload text: %+v", r)
	}

	// Without intents: sentiment only.
	s2 := h.Open("mic2", map[string]string{"model_dir": dir})
	r = s2.Message(final("good game"))
	if _, ok := r.Fields["semantic_gate"]; ok || r.Fields["sentiment_pos"] == 0 {
		t.Fatalf("no intents: %+v", r)
	}
	if len(s.Published()) != 0 {
		t.Error("semantic published messages")
	}
}

func TestPluginRefusesBadConfig(t *testing.T) {
	dir := modelDir(t)
	h := plugintest.Start(t, plugintest.Build(t, "."))
	for _, c := range []struct {
		attrs map[string]string
		want  string
	}{
		{map[string]string{"intents": `{"greeting":["hello","  "]}`}, "bad_input: intents.greeting[1]: empty phrase"},
		{map[string]string{"intents": `{}`}, "bad_input: intents: no intents"},
		{map[string]string{"intents": `{"x":["!!!"]}`}, "bad_input: intents.x[0]: no words to match"},
		// What the manifest's schema refuses, the SDK refuses before
		// OpenStream (as the host does before the plugin sees it).
		{map[string]string{"intents": `["hello"]`}, `bad_attribute: attribute "intents": want an object, got "[\"hello\"]"`},
		{map[string]string{"gate_threshold": "1.5"}, `bad_attribute: attribute "gate_threshold": want a number in 0..1, got "1.5"`},
		{map[string]string{"engine": "bert"}, `bad_attribute: attribute "engine": want one of "lexical", "encoder", got "bert"`},
		{map[string]string{"max_words": "0"}, `bad_attribute: attribute "max_words": want an integer in 1..100000, got "0"`},
		{map[string]string{"encoder_max_tokens": "2"}, `bad_attribute: attribute "encoder_max_tokens": want an integer in 3..4096, got "2"`},
		{map[string]string{"execution_provider": "gpu"}, `bad_attribute: attribute "execution_provider": want one of "cpu", "cuda", got "gpu"`},
		{map[string]string{"intent": intents}, `bad_attribute: unknown attribute "intent" (did you mean "intents"?)`},
		{map[string]string{"model_dir": "/nonexistent"}, "model_error: VADER lexicon not found: /nonexistent/vader/vader_lexicon.txt"},
		{map[string]string{"intents": intents, "wordnet_dir": "/nonexistent/wn"}, "model_error: WordNet 3.0 database file not found: /nonexistent/wn/index.noun"},
		{map[string]string{"intents": intents, "engine": "encoder"}, "model_error: engine \"encoder\" needs encoder_model"},
		{map[string]string{"intents": intents, "engine": "encoder", "encoder_model": "enc/model.onnx", "encoder_vocab": "enc/vocab.txt"},
			"model_error: sentence encoder model (encoder_model) not found: " + dir + "/enc/model.onnx"},
	} {
		if c.attrs["model_dir"] == "" {
			c.attrs["model_dir"] = dir
		}
		_, err := h.TryOpen("x", c.attrs)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err %v, want %q", c.attrs, err, c.want)
		}
	}
}

// TestPluginEncoder runs the encoder engine through the plugin with the
// encoder tests' tiny model.
func TestPluginEncoder(t *testing.T) {
	dir := modelDir(t)
	if exec.Command("/usr/bin/python3", "-c", "import onnx, numpy").Run() != nil {
		testenv.Missing(t, "/usr/bin/python3 with onnx and numpy")
	}
	if _, err := os.Stat(filepath.Join(dir, "onnxruntime/libonnxruntime.so.1")); err != nil {
		testenv.Missing(t, "ONNX Runtime in var/models (scripts/fetch-models.sh)")
	}
	tmp := t.TempDir()
	vocab := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "hello", "every", "##one", "thank", "you", "for", "the", "donation", "game", "!", ","}
	// One-hot embeddings: the pooled vector is the bag of tokens.
	table := make([][]float32, len(vocab))
	for i := range table {
		table[i] = make([]float32, len(vocab))
		table[i][i] = 1
	}
	cfg, _ := json.Marshal(map[string]any{"table": table, "types": [][]float32{make([]float32, len(vocab)), make([]float32, len(vocab))},
		"out": filepath.Join(tmp, "enc.onnx"), "pooled": false, "int32": false})
	cmd := exec.Command("/usr/bin/python3", "encoder/testdata/tiny_model.py")
	cmd.Stdin = strings.NewReader(string(cfg))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tiny_model.py: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(tmp, "vocab.txt"), []byte(strings.Join(vocab, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	h := plugintest.Start(t, plugintest.Build(t, "."))
	s := h.Open("mic", map[string]string{"model_dir": dir, "intents": intents, "engine": "encoder",
		"encoder_model": filepath.Join(tmp, "enc.onnx"), "encoder_vocab": filepath.Join(tmp, "vocab.txt"), "encoder_max_tokens": "6"})
	r := s.Message(final("Hello everyone!"))
	// Bags {CLS hello every ##one ! SEP} and {CLS hello every ##one SEP}:
	// cosine 5/sqrt(6*5); against {CLS thank you for the SEP}: 2/sqrt(6*6).
	if f := r.Fields; r.ErrCode != "" || f["gate_intent"] != 0 || math.Abs(f["gate_score"]-5/math.Sqrt(30)) > 1e-6 ||
		math.Abs(f["intent_thanks"]-2.0/6) > 1e-6 || f["semantic_gate"] != 1 || f["text_truncated"] != 0 {
		t.Fatalf("encoder greeting: %+v", r)
	}
	r = s.Message(final("thank you for the donation, hello everyone"))
	if f := r.Fields; r.ErrCode != "" || f["text_truncated"] != 1 {
		t.Fatalf("encoder truncation: %+v", r)
	}
	s.Close()
}

// openInProcess opens a stream in this process as the SDK would: the
// attributes checked against the manifest's schema, defaults filled in.
func openInProcess(id string, attrs map[string]string) (sdk.Stream, error) {
	info, err := plugattrs.StreamInfo(plugin{}.Manifest(), id, attrs)
	if err != nil {
		return nil, err
	}
	return plugin{}.OpenStream(info)
}

// The schema's defaults are the ones the plugin documents, and the values
// reach the stream's config.
func TestAttributeDefaults(t *testing.T) {
	h := plugintest.Start(t, plugintest.Build(t, "."))
	info, err := plugattrs.StreamInfo(h.Manifest(), "x", map[string]string{"intents": intents, "max_words": "1e+03"})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"gate_threshold": "0.5", "engine": "lexical", "encoder_max_tokens": "128", "max_words": "1000",
		"wordnet_dir": wordnet.DefaultDir, "execution_provider": "cpu", "intents": intents} {
		if got := info.Attributes[k]; got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	for _, k := range []string{"model_dir", "ort_library", "encoder_model", "encoder_vocab"} {
		if info.Attrs.Has(k) {
			t.Errorf("%s has a value %q", k, info.Attributes[k])
		}
	}
	c, err := parseConfig(info.Attrs)
	if err != nil || c.threshold != 0.5 || c.engine != "lexical" || c.maxWords != 1000 || c.maxTokens != 128 || len(c.intents) != 2 {
		t.Errorf("config %+v, %v", c, err)
	}
}

func TestHugeUtterance(t *testing.T) {
	st, err := openInProcess("h", map[string]string{"model_dir": modelDir(t), "intents": intents})
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{
		strings.Repeat("hello everyone, great game! ", 100<<10/28), // 100 kB of words
		strings.Repeat("x", 100<<10),                               // 100 kB, one word
		strings.Repeat("良い試合", 100<<10/12),                         // 100 kB, no spaces, non-Latin
	} {
		m := final(text)
		a, err := st.(*stream).ProcessMessage(&m)
		if err != nil || a.Fields["text_truncated"] != 1 {
			t.Fatalf("%.20q: %v %v", text, a.Fields, err)
		}
	}
}

func TestCapText(t *testing.T) {
	for _, c := range []struct {
		in       string
		words    int
		bytes    int
		want     string
		truncate bool
	}{
		{"a b c", 5, 100, "a b c", false},
		{"a b c d", 2, 100, "a b ", true},
		{"  a  b", 1, 100, "  a  ", true},
		{"héllo", 5, 2, "h", true},
		{"ok\xff\xfeok", 5, 100, "ok ok", false},
	} {
		got, tr := capText(c.in, c.words, c.bytes)
		if got != c.want || tr != c.truncate {
			t.Errorf("capText(%q, %d, %d) = %q %v, want %q %v", c.in, c.words, c.bytes, got, tr, c.want, c.truncate)
		}
	}
}

// BenchmarkUtterance is the plugin's whole per-utterance cost (lexical gate).
func BenchmarkUtterance(b *testing.B) {
	dir := modelDir(b)
	st, err := openInProcess("b", map[string]string{"model_dir": dir, "intents": intents})
	if err != nil {
		b.Fatal(err)
	}
	m := final("thanks so much for the donation everyone, this stream is AMAZING!!!")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.(*stream).ProcessMessage(&m); err != nil {
			b.Fatal(err)
		}
	}
}
