package whisper

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// maxVocab bounds token ids read from vocabulary files: the table is a
// slice indexed by id, so a hostile or corrupt file naming id 1e12 must not
// allocate terabytes. Whisper's largest vocabulary has 51866 entries.
const maxVocab = 1 << 20

// gpt2EOT is <|endoftext|> in GPT-2's vocabulary, which the English-only
// Whisper models use.
const gpt2EOT = 50256

// numTimestamps is the count of timestamp tokens <|0.00|> … <|30.00|>.
const numTimestamps = 1501

// timestampStep is the time between consecutive timestamp tokens, seconds.
const timestampStep = 0.02

// vocab is a Whisper tokenizer's decoding half: token id → bytes, plus the
// special tokens the decode loop needs, all found by name so that
// English-only (eot 50256) and multilingual (eot 50257) vocabularies work.
type vocab struct {
	tokens [][]byte // by id; nil where the files define no token
	names  map[string]int

	eot, sot, transcribe int
	notimestamps         int // -1 when absent
	nospeech             int // -1 when absent
	blank                int // the lone space token, -1 when absent
	tsBegin              int // id of <|0.00|>
	lang                 int // language token of the prompt, -1 for English-only vocabularies
	multilingual         bool
	special              []int // control tokens never emitted as text: sot, languages, task, …
}

// byteOfRune inverts GPT-2's byte↔unicode table: byte-level BPE writes every
// byte as a printable rune so that token strings hold no spaces or control
// characters; printable Latin-1 bytes stand for themselves and the others
// (0–32, 127–160, 173) were moved, in order, to U+0100 onward.
var byteOfRune = func() map[rune]byte {
	m := make(map[rune]byte, 256)
	next := rune(256)
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			m[rune(b)] = byte(b)
		} else {
			m[next] = byte(b)
			next++
		}
	}
	return m
}()

// bpeBytes maps a byte-level token string to the bytes it stands for. Runes
// outside the table (never in a well-formed vocabulary) keep their UTF-8 so
// that nothing is silently dropped.
func bpeBytes(s string) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if b, ok := byteOfRune[r]; ok {
			out = append(out, b)
		} else {
			out = utf8.AppendRune(out, r)
		}
	}
	return out
}

// isControl reports whether a token string is one of Whisper's <|…|> tokens.
func isControl(s string) bool {
	return len(s) > 4 && strings.HasPrefix(s, "<|") && strings.HasSuffix(s, "|>")
}

// parseVocab reads the tokenizer. main is either a Hugging Face vocab.json
// (an object token → id) or a tokenizer.json (model.vocab plus an
// added_tokens list); added, optional, is an added_tokens.json (token → id)
// whose entries override main's. lang is the transcription language ("en",
// "de", …); it must be empty or "en" for an English-only vocabulary.
func parseVocab(main, added []byte, lang string) (*vocab, error) {
	names := map[string]int{}
	byID := map[int]string{}
	put := func(name string, id int) error {
		if id < 0 || id >= maxVocab {
			return fmt.Errorf("token %q has id %d, outside 0…%d", name, id, maxVocab-1)
		}
		names[name] = id
		byID[id] = name
		return nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(main, &top); err != nil {
		return nil, fmt.Errorf("vocabulary: %w", err)
	}
	var base, extra map[string]json.RawMessage
	if m, ok := top["model"]; ok && bytes.HasPrefix(bytes.TrimSpace(m), []byte("{")) {
		// tokenizer.json
		var model struct {
			Vocab map[string]json.RawMessage `json:"vocab"`
		}
		if err := json.Unmarshal(m, &model); err != nil {
			return nil, fmt.Errorf("tokenizer.json model: %w", err)
		}
		if model.Vocab == nil {
			return nil, errors.New("tokenizer.json has no model.vocab")
		}
		base = model.Vocab
		extra = map[string]json.RawMessage{}
		if at, ok := top["added_tokens"]; ok {
			var list []struct {
				ID      json.RawMessage `json:"id"`
				Content *string         `json:"content"`
			}
			if err := json.Unmarshal(at, &list); err != nil {
				return nil, fmt.Errorf("tokenizer.json added_tokens: %w", err)
			}
			for i, a := range list {
				if a.Content == nil || a.ID == nil {
					return nil, fmt.Errorf("tokenizer.json added_tokens[%d]: want id and content", i)
				}
				extra[*a.Content] = a.ID
			}
		}
	} else {
		base = top
	}
	for _, m := range []map[string]json.RawMessage{base, extra} {
		for name, raw := range m {
			id, err := tokenID(raw)
			if err != nil {
				return nil, fmt.Errorf("token %q: %w", name, err)
			}
			if err := put(name, id); err != nil {
				return nil, err
			}
		}
	}
	if len(added) > 0 {
		var a map[string]json.RawMessage
		if err := json.Unmarshal(added, &a); err != nil {
			return nil, fmt.Errorf("added tokens: %w", err)
		}
		for name, raw := range a {
			id, err := tokenID(raw)
			if err != nil {
				return nil, fmt.Errorf("added token %q: %w", name, err)
			}
			if err := put(name, id); err != nil {
				return nil, err
			}
		}
	}
	if len(byID) == 0 {
		return nil, errors.New("vocabulary is empty")
	}
	n := 0
	for id := range byID {
		n = max(n, id+1)
	}
	v := &vocab{tokens: make([][]byte, n), names: names, notimestamps: -1, nospeech: -1, blank: -1, lang: -1}
	for id, name := range byID {
		if isControl(name) {
			v.tokens[id] = []byte{} // control tokens are never text
		} else {
			v.tokens[id] = bpeBytes(name)
		}
	}
	if err := v.findSpecials(lang); err != nil {
		return nil, err
	}
	return v, nil
}

// tokenID reads a JSON id: a non-negative integer.
func tokenID(raw json.RawMessage) (int, error) {
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return 0, fmt.Errorf("id %s is not a number", raw)
	}
	if f != math.Trunc(f) || f < 0 || f >= maxVocab {
		return 0, fmt.Errorf("id %s is not an integer in 0…%d", raw, maxVocab-1)
	}
	return int(f), nil
}

// findSpecials looks the control tokens up by name and checks that the
// timestamp range fits where Whisper puts it.
func (v *vocab) findSpecials(lang string) error {
	need := func(name, hint string) (int, error) {
		id, ok := v.names[name]
		if !ok {
			return 0, fmt.Errorf("vocabulary lacks the special token %s%s: supply the model's added_tokens.json (whisper_added_tokens) or its tokenizer.json", name, hint)
		}
		return id, nil
	}
	var err error
	if v.eot, err = need("<|endoftext|>", ""); err != nil {
		return err
	}
	if v.sot, err = need("<|startoftranscript|>", ""); err != nil {
		return err
	}
	if v.transcribe, err = need("<|transcribe|>", ""); err != nil {
		return err
	}
	if id, ok := v.names["<|notimestamps|>"]; ok {
		v.notimestamps = id
	}
	for _, n := range []string{"<|nospeech|>", "<|nocaptions|>"} {
		if id, ok := v.names[n]; ok {
			v.nospeech = id
			break
		}
	}
	if id, ok := v.names["Ġ"]; ok {
		v.blank = id
	}
	// Timestamps follow <|notimestamps|>; newer tokenizer files also name
	// them, and then the names are checked against that layout.
	if id, ok := v.names["<|0.00|>"]; ok {
		v.tsBegin = id
	} else if v.notimestamps >= 0 {
		v.tsBegin = v.notimestamps + 1
	} else {
		return errors.New("vocabulary lacks both <|notimestamps|> and <|0.00|>: cannot place the timestamp tokens; supply added_tokens.json (whisper_added_tokens) or tokenizer.json")
	}
	if id, ok := v.names["<|30.00|>"]; ok && id != v.tsBegin+numTimestamps-1 {
		return fmt.Errorf("vocabulary: <|30.00|> is %d, want %d (<|0.00|> + 1500)", id, v.tsBegin+numTimestamps-1)
	}
	for _, id := range []int{v.eot, v.sot, v.transcribe} {
		if id >= v.tsBegin {
			return fmt.Errorf("vocabulary: special token id %d is inside the timestamp range starting at %d", id, v.tsBegin)
		}
	}
	// English-only Whisper vocabularies are GPT-2's, whose <|endoftext|> is
	// 50256, and they list the language tokens too (OpenAI's tokenizer
	// shares the specials) but were trained without one in the prompt;
	// multilingual ones number <|endoftext|> 50257. OpenAI tells them apart
	// by vocabulary size, which amounts to the same.
	_, hasEn := v.names["<|en|>"]
	v.multilingual = hasEn && v.eot != gpt2EOT
	if lang == "" {
		lang = "en"
	}
	if v.multilingual {
		if v.lang, err = need("<|"+lang+"|>", fmt.Sprintf(" (language = %q)", lang)); err != nil {
			return fmt.Errorf("%w; or the language is not one Whisper knows", err)
		}
	} else if lang != "en" {
		return fmt.Errorf("language = %q, but this is an English-only vocabulary: use a multilingual model or language = \"en\"", lang)
	}
	for id, t := range v.tokens {
		if t != nil && len(t) == 0 && id != v.eot && id < v.tsBegin {
			v.special = append(v.special, id)
		}
	}
	return nil
}

// size is one past the largest id the vocabulary defines, timestamps
// included even where the files do not name them.
func (v *vocab) size() int { return max(len(v.tokens), v.tsBegin+numTimestamps) }

// isTimestamp reports whether id is one of <|0.00|> … <|30.00|>.
func (v *vocab) isTimestamp(id int) bool {
	return id >= v.tsBegin && id < v.tsBegin+numTimestamps
}

// bytesOf is a text token's bytes; control tokens, timestamps and ids the
// files do not define have none.
func (v *vocab) bytesOf(id int) []byte {
	if id < 0 || id >= len(v.tokens) || v.isTimestamp(id) {
		return nil
	}
	return v.tokens[id]
}

// decode is the UTF-8 text of a token sequence; byte sequences that are not
// UTF-8 (a character cut by a token limit) become U+FFFD.
func (v *vocab) decode(ids []int) string {
	var b []byte
	for _, id := range ids {
		b = append(b, v.bytesOf(id)...)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// prompt is the start-of-transcript sequence.
func (v *vocab) prompt() []int {
	p := []int{v.sot}
	if v.lang >= 0 {
		p = append(p, v.lang)
	}
	return append(p, v.transcribe)
}
