package validate

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
	"github.com/lsie-mlf/lsie/sdk/topic"
)

// Codes a refused result is stored with.
const (
	// CodeMalformed is a result whose values break the rules: a field
	// or object is not finite, not declared, out of range.
	CodeMalformed = "malformed_result"
	// CodeBadResult is an answer whose payload is not JSON, or a body that
	// does not decode.
	CodeBadResult = "bad_result"
)

// boxSlack absorbs float32 rounding of a box that ends on the frame's edge.
const boxSlack = 1e-6

// ResultError is a result the host refuses and stores as an error on its
// item instead (errors are data): Code is CodeMalformed or CodeBadResult,
// Problems name each field or object at fault, in a stable order.
type ResultError struct {
	Code     string
	Problems []string
}

func (e *ResultError) Error() string { return e.Code + ": " + strings.Join(e.Problems, "; ") }

// Results checks one plugin's results against its manifest. Make it once
// per manifest; it is safe for concurrent use.
type Results struct {
	declared  bool            // the manifest declares fields: names are checked
	fields    map[string]bool // declared names
	patterns  []string        // declared names with an N placeholder
	outputs   []string
	labels    map[string]bool
	labelList []string
}

// NewResults prepares the checks of m's results.
func NewResults(m *pluginv1.Manifest) *Results {
	r := &Results{fields: map[string]bool{}, labels: map[string]bool{}, outputs: m.GetOutputs(), labelList: m.GetLabels()}
	for _, f := range m.GetFields() {
		r.declared = true
		r.fields[f.GetName()] = true
		if strings.ContainsFunc(f.GetName(), func(c rune) bool { return c >= 'A' && c <= 'Z' }) {
			r.patterns = append(r.patterns, f.GetName())
		}
	}
	for _, l := range m.GetLabels() {
		r.labels[l] = true
	}
	return r
}

// Frame checks the result of a frame (or of a message, see Answer).
func (r *Results) Frame(res *pluginv1.Result) error {
	return r.result(r.fieldProblems(res.GetFields(), true), res.GetObjects())
}

// Item checks one item of an audio result; the host stores each item, so
// each is refused alone.
func (r *Results) Item(it *pluginv1.Item) error {
	return r.result(r.fieldProblems(it.GetFields(), true), it.GetObjects())
}

// Answer checks a message's answer: as Frame, and a payload that is JSON
// (the API serves it as JSON).
func (r *Results) Answer(res *pluginv1.Result) error {
	if err := r.Frame(res); err != nil {
		return err
	}
	if p := res.GetPayload(); len(p) > 0 && !json.Valid(p) {
		return &ResultError{Code: CodeBadResult, Problems: []string{"answer payload is not valid JSON"}}
	}
	return nil
}

// Message checks a message the plugin published: its topic is one of the
// manifest's outputs, its payload JSON, its fields finite. Its fields are
// the topic's, not the plugin's result fields, so they need not be
// declared.
func (r *Results) Message(m *pluginv1.Message) error {
	var problems []string
	t, err := topic.Parse(m.GetTopic())
	switch {
	case err != nil:
		problems = append(problems, err.Error())
	case t.Host() || !slices.Contains(r.outputs, m.GetTopic()):
		problems = append(problems, fmt.Sprintf("topic %q is not one of the manifest's outputs %q", m.GetTopic(), r.outputs))
	}
	if p := m.GetPayload(); len(p) > 0 && !json.Valid(p) {
		problems = append(problems, "payload is not valid JSON")
	}
	problems = append(problems, r.fieldProblems(m.GetFields(), false)...)
	if len(problems) > 0 {
		return fmt.Errorf("published message: %s", strings.Join(problems, "; "))
	}
	return nil
}

func (r *Results) result(problems []string, objs []*pluginv1.Object) error {
	problems = append(problems, r.objectProblems(objs)...)
	if len(problems) == 0 {
		return nil
	}
	return &ResultError{Code: CodeMalformed, Problems: problems}
}

// fieldProblems checks named values: finite, with a name of 1..128 bytes,
// at most MaxFields, and, with declared, among the manifest's fields.
func (r *Results) fieldProblems(fields map[string]float64, declared bool) []string {
	if len(fields) > MaxFields {
		return []string{fmt.Sprintf("%d fields (at most %d)", len(fields), MaxFields)}
	}
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	var problems []string
	for _, k := range names {
		if msg := valueProblem("field", k, fields[k]); msg != "" {
			problems = append(problems, msg)
		} else if declared && r.declared && !r.isDeclared(k) {
			problems = append(problems, fmt.Sprintf("field %q is not declared in the manifest", k))
		}
	}
	return problems
}

// valueProblem checks one named number.
func valueProblem(what, name string, v float64) string {
	switch {
	case name == "":
		return what + " name is empty"
	case len(name) > MaxFieldName:
		return fmt.Sprintf("%s name %q is longer than %d bytes", what, name[:32]+"…", MaxFieldName)
	case math.IsNaN(v) || math.IsInf(v, 0):
		return fmt.Sprintf("%s %q is %v", what, name, v)
	}
	return ""
}

// isDeclared matches a field against the declared names. A run of
// upper-case letters in a declared name is a placeholder: N stands for a
// number ("faceN.score" declares "face0.score", "face12.score"), any other
// (NAME) for a name without dots ("intent_NAME" declares "intent_greeting").
func (r *Results) isDeclared(name string) bool {
	if r.fields[name] {
		return true
	}
	for _, p := range r.patterns {
		if matchPlaceholders(p, name) {
			return true
		}
	}
	return false
}

func matchPlaceholders(pattern, name string) bool {
	if pattern == "" {
		return name == ""
	}
	if !upper(pattern[0]) {
		return name != "" && name[0] == pattern[0] && matchPlaceholders(pattern[1:], name[1:])
	}
	j := 1
	for j < len(pattern) && upper(pattern[j]) {
		j++
	}
	word, rest := pattern[:j], pattern[j:]
	for k := 1; k <= len(name); k++ {
		c := name[k-1]
		if word == "N" && (c < '0' || c > '9') || c == '.' {
			return false
		}
		if matchPlaceholders(rest, name[k:]) {
			return true
		}
	}
	return false
}

func upper(c byte) bool { return c >= 'A' && c <= 'Z' }

// Bounds on one result's objects: what a detector reports per frame stays
// far below them; past them a result is a bug, not data.
const (
	MaxObjects    = 1024
	MaxObjectText = 4096 // bytes of an object's text, UTF-8
)

// objectProblems checks objects (sdk.Object on the wire): a label the
// manifest declares, a box inside the frame, a score in 0..1, finite
// numbers. Every rule about objects lives here.
func (r *Results) objectProblems(objs []*pluginv1.Object) []string {
	if len(objs) > MaxObjects {
		return []string{fmt.Sprintf("%d objects (at most %d)", len(objs), MaxObjects)}
	}
	var problems []string
	for i, o := range objs {
		bad := func(format string, args ...any) {
			problems = append(problems, fmt.Sprintf("object %d: ", i)+fmt.Sprintf(format, args...))
		}
		switch l := o.GetLabel(); {
		case l == "":
			bad("no label")
		case !r.labels[l]:
			bad("label %q is not among the manifest's labels %q", l, r.labelList)
		}
		box := [4]float64{float64(o.GetX()), float64(o.GetY()), float64(o.GetW()), float64(o.GetH())}
		inside := true
		for j, v := range box {
			if !unit(v) {
				bad("box %s = %v, want 0..1 (normalised to the frame)", "xywh"[j:j+1], v)
				inside = false
			}
		}
		if inside && (box[0]+box[2] > 1+boxSlack || box[1]+box[3] > 1+boxSlack) {
			bad("box %v ends outside the frame", box)
		}
		if s := float64(o.GetScore()); !unit(s) {
			bad("score %v, want 0..1", s)
		}
		if o.GetTrackId() < 0 {
			bad("track_id %d is negative (0: not tracked)", o.GetTrackId())
		}
		if len(o.GetAttributes()) > MaxFields {
			bad("%d attributes (at most %d)", len(o.GetAttributes()), MaxFields)
		} else {
			names := make([]string, 0, len(o.GetAttributes()))
			for k := range o.GetAttributes() {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, k := range names {
				if msg := valueProblem("attribute", k, o.GetAttributes()[k]); msg != "" {
					bad("%s", msg)
				}
			}
		}
		if t := o.GetText(); len(t) > MaxObjectText || !utf8.ValidString(t) {
			bad("text of %d bytes (at most %d, UTF-8)", len(t), MaxObjectText)
		}
		for j, k := range o.GetKeypoints() {
			// Keypoints may lie outside the frame (an occluded wrist): finite is enough.
			kx, ky, ks := float64(k.GetX()), float64(k.GetY()), float64(k.GetScore())
			if k.GetName() == "" || len(k.GetName()) > MaxFieldName || !finite(kx) || !finite(ky) || !finite(ks) {
				bad("keypoint %d (%q): want a name of 1..%d bytes and finite x, y, score", j, k.GetName(), MaxFieldName)
			}
		}
	}
	return problems
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// unit reports whether v is a finite number in 0..1.
func unit(v float64) bool { return v >= 0 && v <= 1 }
