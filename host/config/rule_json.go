package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// ParseRule decodes a rule added through the API (PUT /api/v1/rules/NAME):
// a JSON object with the fields of a rule block, durations as strings:
//
//	{"streams": ["cam*"], "when": "objects.count('person') >= 3",
//	 "for": "5s", "cooldown": "60s", "severity": "warning", "message": "..."}
//
// Unknown fields are an error; validation is the rule block's, messages
// included (host/rules compiles the expression).
func ParseRule(name string, data []byte) (Rule, error) {
	var in struct {
		Streams  []string `json:"streams"`
		When     *string  `json:"when"`
		For      string   `json:"for"`
		Cooldown string   `json:"cooldown"`
		Severity *string  `json:"severity"`
		Message  string   `json:"message"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return Rule{}, Diagnostics{{Pos: offsetPos(int(dec.InputOffset())), Message: "invalid rule JSON: " + err.Error()}}
	}
	d := &decoder{at: map[string]Pos{}, json: true}
	p := path{json: true}.block("rule", name, 0)
	r := Rule{Name: name, Streams: in.Streams, Severity: "warning", Message: in.Message, Pos: offsetPos(0)}
	d.at[p.attr("name").key] = r.Pos
	if in.When == nil {
		d.add(r.Pos, "when", `missing required field "when" (the condition, a CEL expression)`)
	} else {
		r.When = *in.When
		d.at[p.attr("when").key] = r.Pos
	}
	if in.Severity != nil {
		r.Severity = *in.Severity
		d.at[p.attr("severity").key] = r.Pos
	}
	for _, f := range []struct {
		name string
		raw  string
		dst  *time.Duration
	}{{"for", in.For, &r.For}, {"cooldown", in.Cooldown, &r.Cooldown}} {
		if f.raw == "" {
			continue
		}
		v, err := time.ParseDuration(f.raw)
		if err != nil {
			d.add(r.Pos, f.name, fmt.Sprintf(`%s is not a duration (use e.g. "10s")`, quoteShort(f.raw)))
			continue
		}
		*f.dst = v
		d.at[p.attr(f.name).key] = r.Pos
	}
	c := &Config{Rules: []Rule{r}}
	d.validateRules(c)
	if len(d.diags) > 0 {
		for i := range d.diags {
			// The JSON names fields alone: "for", not `rule "x": for`.
			d.diags[i].Field = strings.TrimPrefix(d.diags[i].Field, fmt.Sprintf("rule %q: ", name))
		}
		return Rule{}, d.diags
	}
	return c.Rules[0], nil
}
