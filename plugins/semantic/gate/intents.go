package gate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Limits on the intents attribute: every intent is a field of each result
// (the host takes at most 1024), and every phrase is scored per utterance.
const (
	MaxIntents     = 64
	MaxPhrases     = 256 // over all intents
	MaxPhraseBytes = 1000
)

// Intent is one target of the gate: a name and exemplar phrases.
type Intent struct {
	Name    string
	Phrases []string
}

var nameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)

// ParseIntents reads the plugin's intents attribute: the JSON text of an
// HCL object mapping each intent name to its phrases (a list of strings, or
// one string), e.g. {"greeting":["hello everyone","hi there"]}. Intents are
// returned sorted by name, the order of the gate_intent index. Errors name
// the attribute and the position: intents.greeting[1]: empty phrase.
// An empty attribute means no intents (nil, nil).
func ParseIntents(attr string) ([]Intent, error) {
	if strings.TrimSpace(attr) == "" {
		return nil, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(attr), &obj); err != nil || obj == nil {
		return nil, fmt.Errorf(`intents: want an object of intent names to lists of phrases, e.g. { greeting = ["hello everyone"] }; got %s`, abbrev(attr))
	}
	if len(obj) == 0 {
		return nil, fmt.Errorf("intents: no intents")
	}
	if len(obj) > MaxIntents {
		return nil, fmt.Errorf("intents: %d intents, at most %d", len(obj), MaxIntents)
	}
	names := make([]string, 0, len(obj))
	for n := range obj {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]Intent, 0, len(names))
	total := 0
	for _, n := range names {
		if !nameRE.MatchString(n) {
			return nil, fmt.Errorf("intents: name %q: want a letter then letters, digits or _, at most 64 (it names the intent_%s field)", n, n)
		}
		phrases, err := parsePhrases("intents."+n, obj[n])
		if err != nil {
			return nil, err
		}
		total += len(phrases)
		if total > MaxPhrases {
			return nil, fmt.Errorf("intents: more than %d phrases in all", MaxPhrases)
		}
		out = append(out, Intent{Name: n, Phrases: phrases})
	}
	return out, nil
}

func parsePhrases(at string, raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	var one string
	if json.Unmarshal(raw, &one) == nil {
		raw = json.RawMessage(`[` + string(raw) + `]`)
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("%s: want a list of phrases, got %s", at, kind(raw))
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("%s: no phrases", at)
	}
	phrases := make([]string, len(list))
	for i, r := range list {
		if err := json.Unmarshal(r, &phrases[i]); err != nil {
			return nil, fmt.Errorf("%s[%d]: want a string, got %s", at, i, kind(r))
		}
		p := strings.TrimSpace(phrases[i])
		switch {
		case p == "":
			return nil, fmt.Errorf("%s[%d]: empty phrase", at, i)
		case len(p) > MaxPhraseBytes:
			return nil, fmt.Errorf("%s[%d]: phrase of %d bytes, at most %d", at, i, len(p), MaxPhraseBytes)
		}
		phrases[i] = p
	}
	return phrases, nil
}

// kind names a JSON value's type for messages.
func kind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a bool"
	case 'n':
		return "null"
	}
	return "a number"
}

func abbrev(s string) string {
	if len(s) > 60 {
		s = s[:60] + "..."
	}
	return fmt.Sprintf("%q", s)
}
