package whisper

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// testVocab is the tiny model's vocabulary (testdata/tiny_whisper.py), built
// in Go: text tokens 0–10 with <|endoftext|> at 10, control tokens 11–19,
// timestamps from 20.
func testVocab(named bool) (main, added []byte) {
	text := []string{"Ġ", "ĠAnd", "Ġso", ",", "Ġmy", "Ġfellow", "ĠAmericans", "Ġcaf", "Ã©", "Ġjunk", "<|endoftext|>"}
	special := []string{"<|startoftranscript|>", "<|en|>", "<|de|>", "<|translate|>", "<|transcribe|>",
		"<|startoflm|>", "<|startofprev|>", "<|nospeech|>", "<|notimestamps|>"}
	v, a := map[string]int{}, map[string]int{}
	for i, s := range text {
		v[s] = i
	}
	for i, s := range special {
		a[s] = len(text) + i
	}
	if named {
		for k := range numTimestamps {
			a[fmt.Sprintf("<|%.2f|>", float64(k)*0.02)] = 20 + k
		}
	}
	return marshal(v), marshal(a)
}

// marshal writes JSON as the tokenizer files have it: "<|…|>", not "\u003c|…|\u003e".
func marshal(x any) []byte {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	e.Encode(x)
	return bytes.TrimSpace(b.Bytes())
}

func mustVocab(t testing.TB, lang string) *vocab {
	t.Helper()
	m, a := testVocab(true)
	v, err := parseVocab(m, a, lang)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVocabSpecials(t *testing.T) {
	for _, named := range []bool{true, false} {
		m, a := testVocab(named)
		v, err := parseVocab(m, a, "")
		if err != nil {
			t.Fatal(err)
		}
		if v.eot != 10 || v.sot != 11 || v.transcribe != 15 || v.tsBegin != 20 || v.nospeech != 18 || v.blank != 0 || v.lang != 12 || !v.multilingual {
			t.Fatalf("named=%v: eot %d sot %d transcribe %d ts %d nospeech %d blank %d lang %d", named, v.eot, v.sot, v.transcribe, v.tsBegin, v.nospeech, v.blank, v.lang)
		}
		if got := fmt.Sprint(v.prompt()); got != "[11 12 15]" {
			t.Fatalf("prompt %s", got)
		}
		if v.size() != 1521 {
			t.Fatalf("size %d", v.size())
		}
	}
	v := mustVocab(t, "de")
	if v.lang != 13 {
		t.Fatalf("de: lang %d", v.lang)
	}
	if got := v.decode([]int{1, 2, 3, 7, 8, 20, 10, 11}); got != " And so, café" {
		t.Fatalf("decode %q", got)
	}
	// A character cut between tokens (the limit hit mid-character) is
	// replaced, not passed on as invalid UTF-8.
	if got := v.decode([]int{7, 8, 7}); !strings.HasSuffix(got, "caf") {
		t.Fatalf("decode %q", got)
	}
}

func TestVocabTokenizerJSON(t *testing.T) {
	m, a := testVocab(false)
	var added map[string]int
	json.Unmarshal(a, &added)
	var list []map[string]any
	for k, id := range added {
		list = append(list, map[string]any{"id": id, "content": k, "special": true})
	}
	doc := map[string]any{"model": map[string]any{"type": "BPE", "vocab": json.RawMessage(m)}, "added_tokens": list}
	b := marshal(doc)
	v, err := parseVocab(b, nil, "en")
	if err != nil {
		t.Fatal(err)
	}
	if v.sot != 11 || v.tsBegin != 20 {
		t.Fatalf("sot %d ts %d", v.sot, v.tsBegin)
	}
}

func TestVocabErrors(t *testing.T) {
	m, a := testVocab(true)
	english := strings.ReplaceAll(strings.ReplaceAll(string(a), `"<|en|>":12,`, ""), `"<|de|>":13,`, "")
	cases := []struct {
		name, main, added, lang, want string
	}{
		{"no added tokens", string(m), "", "en", "<|startoftranscript|>"},
		{"no transcribe", string(m), strings.ReplaceAll(string(a), "<|transcribe|>", "<|x|>"), "en", "<|transcribe|>"},
		{"no eot", strings.ReplaceAll(string(m), "<|endoftext|>", "eot"), string(a), "en", "<|endoftext|>"},
		{"unknown language", string(m), string(a), "xx", "<|xx|>"},
		{"english-only, german", string(m), english, "de", "English-only"},
		{"not json", "{", "", "en", "vocabulary"},
		{"not an object", "[1,2]", "", "en", "vocabulary"},
		{"bad id", `{"a": "x"}`, "", "en", "not a number"},
		{"fraction", `{"a": 1.5}`, "", "en", "not an integer"},
		{"huge id", `{"a": 1e12}`, "", "en", "not an integer"},
		{"negative id", `{"a": -1}`, "", "en", "not an integer"},
		{"empty", `{}`, "", "en", "empty"},
		{"bad added", string(m), "[", "en", "added tokens"},
		{"timestamps misplaced", string(m), strings.Replace(string(a), `"<|30.00|>":1520`, `"<|30.00|>":1519`, 1), "en", "<|30.00|>"},
		{"tokenizer.json without vocab", `{"model": {"type": "BPE"}}`, "", "en", "model.vocab"},
		{"tokenizer.json bad added", `{"model": {"vocab": {"a": 0}}, "added_tokens": [{"id": 1}]}`, "", "en", "added_tokens[0]"},
	}
	for _, c := range cases {
		_, err := parseVocab([]byte(c.main), []byte(c.added), c.lang)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want mention of %q", c.name, err, c.want)
		}
	}
	// English-only: no language token in the prompt.
	v, err := parseVocab(m, []byte(english), "en")
	if err != nil {
		t.Fatal(err)
	}
	if v.multilingual || v.lang != -1 || fmt.Sprint(v.prompt()) != "[11 15]" {
		t.Fatalf("english-only: multilingual %v lang %d prompt %v", v.multilingual, v.lang, v.prompt())
	}
}

// TestVocabEnglishOnlyNumbering uses the ids of the real English-only and
// multilingual vocabularies (tiny.en and tiny): both list <|en|>, only the
// multilingual one puts it in the prompt.
func TestVocabEnglishOnlyNumbering(t *testing.T) {
	for _, c := range []struct {
		eot    int
		prompt string
		multi  bool
	}{{50256, "[50257 50358]", false}, {50257, "[50258 50259 50359]", true}} {
		e := c.eot
		main := marshal(map[string]int{"Ġ": 220, "hello": 31373, "<|endoftext|>": e})
		added := marshal(map[string]int{"<|startoftranscript|>": e + 1, "<|en|>": e + 2, "<|de|>": e + 3, "<|translate|>": e + 101,
			"<|transcribe|>": e + 102, "<|startoflm|>": e + 103, "<|startofprev|>": e + 104, "<|nocaptions|>": e + 105, "<|notimestamps|>": e + 106})
		v, err := parseVocab(main, added, "en")
		if err != nil {
			t.Fatal(err)
		}
		if v.multilingual != c.multi || fmt.Sprint(v.prompt()) != c.prompt || v.tsBegin != e+107 || v.size() != e+107+1501 || v.nospeech != e+105 {
			t.Fatalf("eot %d: multilingual %v prompt %v timestamps from %d size %d", e, v.multilingual, v.prompt(), v.tsBegin, v.size())
		}
		_, err = parseVocab(main, added, "de")
		if c.multi != (err == nil) {
			t.Fatalf("eot %d, German: %v", e, err)
		}
	}
}

// FuzzVocab feeds arbitrary vocabulary files to the parser and, when they
// parse, the decoder's token handling: nothing may panic or allocate
// without bound. Seeds are under testdata/fuzz/FuzzVocab.
func FuzzVocab(f *testing.F) {
	// The unnamed-timestamp layout: the named one is 27 kB, which the
	// fuzzer's minimiser spends minutes on.
	m, a := testVocab(false)
	f.Add(m, a, "de")
	f.Fuzz(func(t *testing.T, main, added []byte, lang string) {
		v, err := parseVocab(main, added, lang)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		n := v.size()
		if n <= v.tsBegin || v.eot >= v.tsBegin || v.sot >= v.tsBegin {
			t.Fatalf("inconsistent specials: eot %d sot %d ts %d size %d", v.eot, v.sot, v.tsBegin, n)
		}
		ids := []int{-1, n, n + 5}
		for id := range min(n, 3000) {
			ids = append(ids, id)
		}
		_ = v.decode(ids)
		logits := make([]float64, n)
		seq := []int{v.tsBegin, 0, v.tsBegin + 3}
		for i := range 4 {
			applyRules(v, logits, seq[:min(i, len(seq))])
		}
		toks := []token{{v.tsBegin, 1}, {0, 0.5}, {n - 1, 0.5}, {v.tsBegin + 1500, 1}, {1, 0.1}}
		_ = hypothesis(v, segments(v, toks, 1e9))
	})
}
