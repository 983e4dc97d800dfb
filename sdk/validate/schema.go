package validate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
)

// Attribute types of a manifest's schema (AttributeSpec.type).
const (
	TypeString   = "string"
	TypeNumber   = "number"   // float64, finite
	TypeInteger  = "integer"  // int64
	TypeBool     = "bool"     // true or false
	TypeDuration = "duration" // Go's time.Duration syntax: 250ms, 1m30s
	TypeEnum     = "enum"     // one of the spec's choices
	TypeList     = "list"     // a list of strings (JSON array on the wire)
	TypeObject   = "object"   // a JSON object, for structured settings
)

var types = []string{TypeString, TypeNumber, TypeInteger, TypeBool, TypeDuration, TypeEnum, TypeList, TypeObject}

// Reserved are the plugin block's own attributes, which the host reads and
// never passes to the plugin; a schema may not declare them.
var Reserved = []string{"window", "version", "event_bound"}

// maxAttrName bounds an attribute name, as it bounds a plugin name.
const maxAttrName = 64

// HasSchema reports whether m declares an attribute schema. A plugin from
// before schemas declares none: its attributes pass unchecked.
func HasSchema(m *pluginv1.Manifest) bool {
	return m.GetAttributeSchema() || len(m.GetAttributes()) > 0
}

// schemaProblems checks the manifest's attribute schema: names, types, and
// that defaults and bounds are values of their type that fit.
func schemaProblems(m *pluginv1.Manifest) []error {
	var errs []error
	seen := map[string]bool{}
	for _, a := range m.GetAttributes() {
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("manifest attribute %q: %s", a.GetName(), fmt.Sprintf(format, args...)))
		}
		n := a.GetName()
		switch {
		case !attrName(n):
			bad("want a name of 1..%d characters of [a-z][a-z0-9_]*", maxAttrName)
		case slices.Contains(Reserved, n):
			bad("is the host's own plugin-block attribute (%s)", strings.Join(Reserved, ", "))
		case seen[n]:
			bad("is declared twice")
		}
		seen[n] = true
		t := a.GetType()
		if !slices.Contains(types, t) {
			bad("type %q, want one of %s", t, strings.Join(types, ", "))
			continue
		}
		if t == TypeEnum && len(a.GetChoices()) == 0 {
			bad("an enum needs choices")
		}
		if t != TypeEnum && len(a.GetChoices()) > 0 {
			bad("choices are for an enum, not a %s", t)
		}
		for i, c := range a.GetChoices() {
			if c == "" || slices.Contains(a.GetChoices()[:i], c) {
				bad("choice %q is empty or given twice", c)
			}
		}
		ranged := t == TypeNumber || t == TypeInteger || t == TypeDuration
		if (a.Min != nil || a.Max != nil) && !ranged {
			bad("min and max are for a number, integer or duration, not a %s", t)
		} else {
			for _, b := range []struct {
				what string
				v    *string
			}{{"min", a.Min}, {"max", a.Max}} {
				if b.v != nil {
					if _, _, ok := parseValue(t, *b.v); !ok {
						bad("%s %q is not %s", b.what, *b.v, want(&pluginv1.AttributeSpec{Type: t, Choices: a.GetChoices()}))
					}
				}
			}
			if a.Min != nil && a.Max != nil {
				lo, _, ok1 := parseValue(t, *a.Min)
				hi, _, ok2 := parseValue(t, *a.Max)
				if ok1 && ok2 && lo > hi {
					bad("min %s is above max %s", *a.Min, *a.Max)
				}
			}
		}
		if a.GetRequired() && a.Default != nil {
			bad("required and with a default: give one or the other")
		}
		if a.Default != nil {
			if _, msg := Value(a, a.GetDefault()); msg != "" {
				bad("default: %s", msg)
			}
		}
	}
	return errs
}

func attrName(n string) bool {
	if n == "" || len(n) > maxAttrName || n[0] < 'a' || n[0] > 'z' {
		return false
	}
	for i := 1; i < len(n); i++ {
		if c := n[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// AttributeError is one attribute of a plugin block that the schema
// refuses.
type AttributeError struct {
	Name string
	// Unknown: the schema does not declare it (Message then suggests a
	// near name); Missing: required and not set. Otherwise its value is
	// wrong.
	Unknown, Missing bool
	Message          string
}

func (e *AttributeError) Error() string {
	if e.Unknown {
		return fmt.Sprintf("unknown attribute %q%s", e.Name, e.Message)
	}
	return fmt.Sprintf("attribute %q: %s", e.Name, e.Message)
}

// AttributesError is every attribute a plugin block gets wrong, in name
// order (unknown ones first, then values, then missing ones).
type AttributesError struct {
	Errs []*AttributeError
}

func (e *AttributesError) Error() string {
	msgs := make([]string, len(e.Errs))
	for i, err := range e.Errs {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

// Attributes checks a stream's plugin block attributes (as the config
// renders them: text) against m's schema and returns them in canonical form
// with defaults filled in: what OpenStream receives. Without a schema it
// returns a copy of given, unchecked. An error is an *AttributesError.
func Attributes(m *pluginv1.Manifest, given map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(given))
	if !HasSchema(m) {
		for k, v := range given {
			out[k] = v
		}
		return out, nil
	}
	specs := map[string]*pluginv1.AttributeSpec{}
	names := make([]string, 0, len(m.GetAttributes()))
	for _, a := range m.GetAttributes() {
		specs[a.GetName()] = a
		names = append(names, a.GetName())
	}
	var unknown, wrong, missing []*AttributeError
	for _, k := range slices.Sorted(maps.Keys(given)) {
		a, ok := specs[k]
		if !ok {
			unknown = append(unknown, &AttributeError{Name: k, Unknown: true, Message: suggest(k, names)})
			continue
		}
		v, msg := Value(a, given[k])
		if msg != "" {
			wrong = append(wrong, &AttributeError{Name: k, Message: msg})
			continue
		}
		out[k] = v
	}
	sort.Strings(names)
	for _, n := range names {
		a := specs[n]
		if _, set := given[n]; set {
			continue
		}
		switch {
		case a.GetRequired():
			missing = append(missing, &AttributeError{Name: n, Missing: true, Message: "required: want " + want(a)})
		case a.Default != nil:
			out[n], _ = Value(a, a.GetDefault()) // checked with the manifest
		}
	}
	if errs := slices.Concat(unknown, wrong, missing); len(errs) > 0 {
		return nil, &AttributesError{Errs: errs}
	}
	return out, nil
}

// suggest is " (did you mean "x"?)" for the declared name nearest to name,
// or what the plugin takes when none is near.
func suggest(name string, names []string) string {
	best := Nearest(name, names)
	switch {
	case best != "":
		return fmt.Sprintf(" (did you mean %q?)", best)
	case len(names) == 0:
		return " (the plugin takes no attributes)"
	}
	sorted := slices.Sorted(slices.Values(names))
	return " (the plugin takes " + strings.Join(sorted, ", ") + ")"
}

// Nearest is the name of known nearest to name (case-insensitively, at most
// two edits away and fewer than its length), or "" when none is near: what
// a "did you mean" offers. The host's config decoder uses it too.
func Nearest(name string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if d := editDistance(strings.ToLower(name), k); d < bestDist && d < len(k) {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Value checks one value against its spec and returns it in canonical
// form, or says what was wanted ("want a number in 0..1, got "high"").
func Value(a *pluginv1.AttributeSpec, v string) (string, string) {
	t := a.GetType()
	n, canon, ok := parseValue(t, v)
	if ok && t == TypeEnum && !slices.Contains(a.GetChoices(), v) {
		ok = false
	}
	if ok && (a.Min != nil || a.Max != nil) {
		if lo, _, _ := parseValue(t, a.GetMin()); a.Min != nil && n < lo {
			ok = false
		}
		if hi, _, _ := parseValue(t, a.GetMax()); a.Max != nil && n > hi {
			ok = false
		}
	}
	if ok {
		return canon, ""
	}
	msg := fmt.Sprintf("want %s, got %s", want(a), quoteShort(v))
	if t == TypeEnum {
		msg += suggestChoice(v, a.GetChoices())
	}
	return "", msg
}

func suggestChoice(v string, choices []string) string {
	best, bestDist := "", 3
	for _, c := range choices {
		if d := editDistance(strings.ToLower(v), strings.ToLower(c)); d < bestDist && d < len(c) {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// parseValue parses v as type t: a number to compare bounds with (seconds
// for a duration) and the canonical text.
func parseValue(t, v string) (float64, string, bool) {
	switch t {
	case TypeString, TypeEnum:
		return 0, v, true
	case TypeNumber:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, "", false
		}
		return f, strconv.FormatFloat(f, 'g', -1, 64), true
	case TypeInteger:
		s := strings.TrimSpace(v)
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return float64(i), strconv.FormatInt(i, 10), true
		}
		// HCL and JSON numbers come rendered as 'g' floats (1e+06).
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return 0, "", false
		}
		return f, strconv.FormatInt(int64(f), 10), true
	case TypeBool:
		switch v {
		case "true", "false":
			return 0, v, true
		}
		return 0, "", false
	case TypeDuration:
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return 0, "", false
		}
		return d.Seconds(), d.String(), true
	case TypeList:
		var l []string
		if err := json.Unmarshal([]byte(v), &l); err != nil || l == nil && strings.TrimSpace(v) != "[]" {
			return 0, "", false
		}
		if l == nil {
			l = []string{}
		}
		b, _ := json.Marshal(l)
		return 0, string(b), true
	case TypeObject:
		var o map[string]json.RawMessage
		if err := json.Unmarshal([]byte(v), &o); err != nil || o == nil {
			return 0, "", false
		}
		var b bytes.Buffer
		_ = json.Compact(&b, []byte(v))
		return 0, b.String(), true
	}
	return 0, "", false
}

// want says what a spec takes, as messages and plugins inspect show it:
// "a number in 0..1", "one of "sphinx", "whisper"".
func want(a *pluginv1.AttributeSpec) string {
	var s string
	switch a.GetType() {
	case TypeString:
		return "a string"
	case TypeNumber:
		s = "a number"
	case TypeInteger:
		s = "an integer"
	case TypeBool:
		return "true or false"
	case TypeDuration:
		s = `a duration such as "250ms" or "2s"`
	case TypeEnum:
		q := make([]string, len(a.GetChoices()))
		for i, c := range a.GetChoices() {
			q[i] = strconv.Quote(c)
		}
		return "one of " + strings.Join(q, ", ")
	case TypeList:
		return `a list of strings`
	case TypeObject:
		return "an object"
	default:
		return "a " + a.GetType()
	}
	switch {
	case a.Min != nil && a.Max != nil:
		s += " in " + a.GetMin() + ".." + a.GetMax()
	case a.Min != nil:
		s += " of at least " + a.GetMin()
	case a.Max != nil:
		s += " of at most " + a.GetMax()
	}
	return s
}

// Want says what a spec takes ("a number in 0..1"), for plugins inspect.
func Want(a *pluginv1.AttributeSpec) string { return want(a) }

// quoteShort quotes a value for a message, cut to 64 bytes.
func quoteShort(v string) string {
	if len(v) > 64 {
		return strconv.Quote(v[:61] + "...")
	}
	return strconv.Quote(v)
}
