package encoder

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lsie-mlf/lsie/internal/testenv"
	"github.com/lsie-mlf/lsie/plugins/internal/models"
	"github.com/lsie-mlf/lsie/plugins/semantic/gate"
)

// testVocab is a small BERT-style vocabulary.
var testVocab = []string{
	"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
	"hello", "hi", "there", "every", "##one", "thank", "thanks", "you", "for", "the",
	"don", "##ation", "##ate", "##s", "un", "##aff", "##able", "great", "game", "good",
	"bye", "see", "to", "##morrow", "cafe", "!", ",", ".", "?", "'", "世", "界", "a", "##b",
}

func tokenizer(t testing.TB) *Tokenizer {
	tok, err := NewTokenizer(testVocab)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestWordPiece(t *testing.T) {
	tok := tokenizer(t)
	for in, want := range map[string]string{
		"unaffable":                "un ##aff ##able",       // BERT's own example
		"Hello, everyone!":         "hello , every ##one !", // punctuation split, lower case
		"Thanks for the donations": "thanks for the don ##ation ##s",
		"CAFÉ":                     "cafe",         // accents stripped
		"donatexyz":                "[UNK]",        // unmatched rest: the whole word is [UNK]
		"世界":                       "世 界",          // CJK ideographs split
		"hi\tthere\u00a0you":       "hi there you", // any white space
		"don't":                    "don ' [UNK]",
		"ab abb":                   "a ##b a ##b ##b",
		"":                         "",
		"\x00\ufffd":               "",
		strings.Repeat("a", 101):   "[UNK]", // longer than 100 characters
	} {
		if got := strings.Join(tok.Tokenize(in), " "); got != want {
			t.Errorf("Tokenize(%q) = %q, want %q", in, got, want)
		}
	}
	ids, trunc := tok.Encode("hello everyone", 16)
	if !slices.Equal(ids, []int32{2, 5, 8, 9, 3}) || trunc {
		t.Errorf("Encode = %v %v", ids, trunc)
	}
	ids, trunc = tok.Encode("hello everyone", 4)
	if !slices.Equal(ids, []int32{2, 5, 8, 3}) || !trunc {
		t.Errorf("Encode truncated = %v %v", ids, trunc)
	}
	if _, err := NewTokenizer([]string{"[UNK]", "[CLS]"}); err == nil {
		t.Error("vocabulary without [SEP] accepted")
	}
}

func FuzzWordPiece(f *testing.F) {
	tok := tokenizer(f)
	for _, s := range []string{"unaffable", "Hello, everyone!", "世界", "\xff", "##", "[CLS]", "a\u0301"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ids, _ := tok.Encode(s, 32)
		if len(ids) < 2 || len(ids) > 32 || ids[0] != tok.cls || ids[len(ids)-1] != tok.sep {
			t.Fatalf("%q: %v", s, ids)
		}
		for _, p := range tok.Tokenize(s) {
			if _, ok := tok.vocab[p]; !ok {
				t.Fatalf("%q: piece %q not in the vocabulary", s, p)
			}
		}
	})
}

// tinyModel builds the test model in dir and returns its path and numpy's
// embeddings of the given texts (tokenised by the Go tokenizer).
func tinyModel(t testing.TB, dir string, pooled, int32s bool, texts []string) (string, [][]float64) {
	t.Helper()
	py := "/usr/bin/python3"
	if exec.Command(py, "-c", "import onnx, numpy").Run() != nil {
		testenv.Missing(t, "%s with onnx and numpy (python3-onnx, python3-numpy)", py)
	}
	lib, _ := filepath.Abs("../../../var/models/onnxruntime/libonnxruntime.so.1")
	if _, err := os.Stat(lib); err != nil && os.Getenv("LSIE_ORT_LIB") == "" {
		testenv.Missing(t, "ONNX Runtime in var/models (scripts/fetch-models.sh)")
	}
	const h = 8
	table := make([][]float32, len(testVocab))
	for i := range table {
		table[i] = make([]float32, h)
		for j := range table[i] {
			table[i][j] = float32(math.Sin(float64(i*h+j)*0.7) + 0.1*float64(j%3))
		}
	}
	types := [][]float32{make([]float32, h), make([]float32, h)}
	for j := range h {
		types[0][j], types[1][j] = 0.05*float32(j), -0.3
	}
	tok := tokenizer(t)
	var seqs [][]int32
	for _, s := range texts {
		ids, _ := tok.Encode(s, DefaultMaxTokens)
		seqs = append(seqs, ids)
	}
	out := filepath.Join(dir, "tiny.onnx")
	cfg, _ := json.Marshal(map[string]any{"table": table, "types": types, "out": out, "pooled": pooled, "int32": int32s, "sequences": seqs})
	cmd := exec.Command(py, "testdata/tiny_model.py")
	cmd.Stdin = strings.NewReader(string(cfg))
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("tiny_model.py: %v", err)
	}
	var ref [][]float64
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	return out, ref
}

func writeVocab(t testing.TB, dir string) string {
	p := filepath.Join(dir, "vocab.txt")
	if err := os.WriteFile(p, []byte(strings.Join(testVocab, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func ortAttrs() map[string]string {
	d, _ := filepath.Abs("../../../var/models")
	return map[string]string{"model_dir": d}
}

var texts = []string{"hello everyone", "hi there", "thanks for the donations", "great game!", "see you tomorrow", "unaffable cafe"}

func TestEncoderMatchesNumpy(t *testing.T) {
	for _, c := range []struct{ pooled, int32s bool }{{false, false}, {true, false}, {false, true}} {
		dir := t.TempDir()
		path, ref := tinyModel(t, dir, c.pooled, c.int32s, texts)
		m, err := Open(path, writeVocab(t, dir), ortAttrs(), DefaultMaxTokens)
		if err != nil {
			t.Fatal(err)
		}
		embs := make([][]float32, len(texts))
		for i, s := range texts {
			if embs[i], err = m.Embed(s); err != nil {
				t.Fatal(err)
			}
			for j := range embs[i] {
				if math.Abs(float64(embs[i][j])-ref[i][j]) > 1e-5 {
					t.Fatalf("%+v %q: embedding %v, numpy %v", c, s, embs[i], ref[i])
				}
			}
		}
		// Cosines against numpy's, over all pairs.
		for i := range texts {
			for j := range texts {
				var want float64
				for k := range ref[i] {
					want += ref[i][k] * ref[j][k]
				}
				if got := gate.Cosine(embs[i], embs[j]); math.Abs(got-want) > 1e-5 {
					t.Errorf("%+v cos(%q, %q) = %v, numpy %v", c, texts[i], texts[j], got, want)
				}
			}
		}
		m.Close()
	}
}

func TestEncoderGate(t *testing.T) {
	dir := t.TempDir()
	path, _ := tinyModel(t, dir, false, false, nil)
	m, err := Open(path, writeVocab(t, dir), ortAttrs(), 8)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	in, _ := gate.ParseIntents(`{"greeting":["hello everyone"],"thanks":["thanks for the donations"]}`)
	g, err := gate.NewEncoder(m, in)
	if err != nil {
		t.Fatal(err)
	}
	res, err := g.Score("Hello everyone!!")
	if err != nil || res.Intent != 0 || res.Score < 0.9 {
		t.Fatalf("%+v %v", res, err)
	}
	if _, err := m.Embed(strings.Repeat("hello ", 50)); err != nil || !m.Truncated {
		t.Fatalf("long text: truncated=%v %v", m.Truncated, err)
	}
	if v, err := m.Embed(""); err != nil || len(v) != 8 {
		t.Fatalf("empty text: %v %v", v, err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "none.onnx"), filepath.Join(dir, "none.txt"), ortAttrs(), 8); err == nil || !strings.Contains(err.Error(), "encoder_vocab") {
		t.Errorf("missing vocab: %v", err)
	}
	_, err := models.Require("encoder model", filepath.Join(dir, "none.onnx"), "set encoder_model")
	var me *models.MissingError
	if !errors.As(err, &me) {
		t.Errorf("%v", err)
	}
}

func BenchmarkEncoderTiny(b *testing.B) {
	dir := b.TempDir()
	path, _ := tinyModel(b, dir, false, false, nil)
	m, err := Open(path, writeVocab(b, dir), ortAttrs(), DefaultMaxTokens)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Embed("thanks for the donations everyone, great game!"); err != nil {
			b.Fatal(err)
		}
	}
}
