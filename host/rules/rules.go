// Package rules compiles the configured rules (config.Rule: a CEL
// condition over a stream's live results or its closed segments) and runs
// them per stream, turning a condition that holds into an alert with a
// start and an end (docs/RULES.md).
//
// An expression reads, by name:
//   - PLUGIN.FIELD: the latest value of a declared field from the plugin's
//     results on the stream (`detect.count_person >= 3`);
//   - objects.count('label') and objects.count('label', 'zone'): the
//     objects of the latest frame of each plugin that reports objects,
//     with that label (and box centre inside the stream's zone);
//   - FAMILY.text, FAMILY.FIELD: the latest final message on a topic of
//     that family (`transcript.text.contains('help')` for
//     transcript.final@1);
//   - segment.PLUGIN.FIELD.STAT: a closed segment's aggregates (mean, min,
//     max, std, p10, p50, p90, n). A rule that reads segment is evaluated
//     when a segment closes, the others on every result.
//
// Names are checked against the plugins' manifests when the rule is
// compiled, with errors positioned inside the expression.
package rules

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"

	"github.com/lsie-mlf/lsie/host/config"
	"github.com/lsie-mlf/lsie/sdk/validate"
)

// Plugin is what a plugin's manifest declares, as far as rules care.
type Plugin struct {
	// Fields are the declared field names (templated ones, with N or NAME
	// placeholders, are left out: they cannot be selected by name).
	Fields []string
	// Labels are the object labels it may report.
	Labels []string
	// Outputs are the topics it publishes (name@major).
	Outputs []string
}

// Schema is what the names of an expression may refer to: the plugins (and
// zones) of the streams a rule watches.
type Schema struct {
	Plugins map[string]Plugin
	Zones   []string
}

// Stats are the aggregate statistics segment.PLUGIN.FIELD.STAT may read.
var Stats = []string{"n", "mean", "std", "min", "max", "p10", "p50", "p90"}

// objectsType is the type of the objects variable.
var objectsType = cel.OpaqueType("lsie.Objects")

// Rule is a compiled rule.
type Rule struct {
	Config config.Rule
	prg    cel.Program
	// segment: evaluated at segment close (it reads segment.*).
	segment bool
	// refs are the PLUGIN.FIELD and FAMILY.FIELD names it reads, and
	// labels the object labels it counts: recorded with its alerts.
	refs   [][2]string
	labels []string
}

// Segment tells whether the rule reads segment aggregates (evaluated at
// segment close) rather than live results.
func (r *Rule) Segment() bool { return r.segment }

// Matches tells whether the rule watches stream id.
func (r *Rule) Matches(id string) bool { return MatchAny(r.Config.Streams, id) }

// MatchAny tells whether name matches one of the shell patterns (a rule's
// streams, a receiver's rules); no pattern matches every name.
func MatchAny(patterns []string, name string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if ok, _ := filepath.Match(p, name); ok {
			return true
		}
	}
	return false
}

// families maps each topic family published by a plugin of the schema
// (transcript for transcript.final@1) that is not also a plugin's name.
func (sc Schema) families() []string {
	var out []string
	for _, p := range sc.Plugins {
		for _, t := range p.Outputs {
			fam, _ := family(t)
			if _, plugin := sc.Plugins[fam]; !plugin && fam != "objects" && fam != "segment" && !slices.Contains(out, fam) {
				out = append(out, fam)
			}
		}
	}
	sort.Strings(out)
	return out
}

func (sc Schema) env() (*cel.Env, error) {
	opts := []cel.EnvOption{
		cel.CrossTypeNumericComparisons(true),
		cel.Variable("objects", objectsType),
		cel.Variable("segment", cel.MapType(cel.StringType, cel.DynType)),
		cel.Function("count",
			cel.MemberOverload("objects_count_label", []*cel.Type{objectsType, cel.StringType}, cel.IntType,
				cel.BinaryBinding(countObjects)),
			cel.MemberOverload("objects_count_label_zone", []*cel.Type{objectsType, cel.StringType, cel.StringType}, cel.IntType,
				cel.FunctionBinding(countObjectsInZone))),
	}
	for name := range sc.Plugins {
		if name == "objects" || name == "segment" {
			continue // the schema's own names win; such a plugin is read as segment.NAME only
		}
		opts = append(opts, cel.Variable(name, cel.MapType(cel.StringType, cel.DoubleType)))
	}
	for _, fam := range sc.families() {
		opts = append(opts, cel.Variable(fam, cel.MapType(cel.StringType, cel.DynType)))
	}
	return cel.NewEnv(opts...)
}

// Compile compiles r against sc: a CEL expression of bool type whose every
// name is declared. Errors point into the expression (r.WhenPos).
func Compile(r config.Rule, sc Schema) (*Rule, error) {
	field := fmt.Sprintf("rule %q: when", r.Name)
	env, err := sc.env()
	if err != nil {
		return nil, config.Diagnostics{{Pos: r.WhenPos, Field: field, Message: "rules environment: " + err.Error()}}
	}
	checked, iss := env.Compile(r.When)
	if iss != nil && iss.Err() != nil {
		var ds config.Diagnostics
		for _, e := range iss.Errors() {
			ds = append(ds, config.Diagnostic{Pos: at(r.WhenPos, e.Location.Line(), e.Location.Column()), Field: field, Message: e.Message})
		}
		return nil, ds
	}
	if !checked.OutputType().IsExactType(types.BoolType) {
		return nil, config.Diagnostics{{Pos: r.WhenPos, Field: field,
			Message: fmt.Sprintf("must be a condition (bool), is %s", checked.OutputType())}}
	}
	out := &Rule{Config: r}
	ds := out.check(checked.NativeRep(), sc, field)
	if len(ds) > 0 {
		return nil, ds
	}
	prg, err := env.Program(checked, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, config.Diagnostics{{Pos: r.WhenPos, Field: field, Message: err.Error()}}
	}
	out.prg = prg
	return out, nil
}

// at is the position of a CEL location (line 1-based, column 0-based)
// inside an expression whose text starts at start.
func at(start config.Pos, line, col int) config.Pos {
	if line <= 1 {
		start.Column += max(col, 0)
		return start
	}
	return config.Pos{File: start.File, Line: start.Line + line - 1, Column: col + 1}
}

// check walks the checked expression for what CEL's types cannot say: the
// fields a plugin declares, segment paths, object labels and zones; and
// records what the rule reads.
func (r *Rule) check(a *ast.AST, sc Schema, field string) config.Diagnostics {
	var ds config.Diagnostics
	info := a.SourceInfo()
	pos := func(e ast.Expr) config.Pos {
		l := info.GetStartLocation(e.ID())
		return at(r.Config.WhenPos, l.Line(), l.Column())
	}
	add := func(e ast.Expr, msg string) {
		p := pos(e)
		if e.Kind() == ast.SelectKind {
			p.Column++ // CEL places a selection at its dot: point at the name
		}
		ds = append(ds, config.Diagnostic{Pos: p, Field: field, Message: msg})
	}
	ident := func(e ast.Expr) string {
		if e.Kind() == ast.IdentKind {
			return e.AsIdent()
		}
		return ""
	}
	usesLive := false
	fams := sc.families()
	ast.PreOrderVisit(a.Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		switch e.Kind() {
		case ast.IdentKind:
			if n := e.AsIdent(); n == "segment" {
				r.segment = true
			} else {
				usesLive = true
			}
		case ast.SelectKind:
			sel := e.AsSelect()
			op, f := ident(sel.Operand()), sel.FieldName()
			if p, ok := sc.Plugins[op]; ok && op != "objects" && op != "segment" {
				if !slices.Contains(p.Fields, f) {
					add(e, fmt.Sprintf("undeclared field %q%s", op+"."+f, hint(f, p.Fields)))
				}
				r.refs = append(r.refs, [2]string{op, f})
			} else if slices.Contains(fams, op) {
				r.refs = append(r.refs, [2]string{op, f})
			}
			// segment.PLUGIN.FIELD.STAT, checked from its outermost select.
			if in := sel.Operand(); in.Kind() == ast.SelectKind {
				if in2 := in.AsSelect().Operand(); in2.Kind() == ast.SelectKind && ident(in2.AsSelect().Operand()) == "segment" {
					plugin, fld, stat := in2.AsSelect().FieldName(), in.AsSelect().FieldName(), f
					p, ok := sc.Plugins[plugin]
					switch {
					case !ok:
						add(in2, fmt.Sprintf("no plugin %q on the rule's streams%s", plugin, hint(plugin, keys(sc.Plugins))))
					case !slices.Contains(p.Fields, fld):
						add(in, fmt.Sprintf("undeclared field %q%s", plugin+"."+fld, hint(fld, p.Fields)))
					case !slices.Contains(Stats, stat):
						add(e, fmt.Sprintf("no statistic %q (one of %s)", stat, strings.Join(Stats, ", ")))
					}
				}
			}
		case ast.CallKind:
			call := e.AsCall()
			if call.FunctionName() != "count" || ident(call.Target()) != "objects" {
				return
			}
			args := call.Args()
			if lit, ok := literal(args[0]); ok {
				labels := allLabels(sc)
				if !slices.Contains(labels, lit) {
					add(args[0], fmt.Sprintf("no plugin on the rule's streams reports objects labelled %q%s", lit, hint(lit, labels)))
				}
				r.labels = append(r.labels, lit)
			}
			if len(args) > 1 {
				if lit, ok := literal(args[1]); ok && !slices.Contains(sc.Zones, lit) {
					add(args[1], fmt.Sprintf("no zone %q on the rule's streams%s", lit, hint(lit, sc.Zones)))
				}
			}
		}
	}))
	if r.segment && usesLive {
		ds = append(ds, config.Diagnostic{Pos: r.Config.WhenPos, Field: field,
			Message: "reads both segment aggregates and live results: a rule is evaluated either when a segment closes or on every result"})
	}
	return ds
}

func literal(e ast.Expr) (string, bool) {
	if e.Kind() != ast.LiteralKind {
		return "", false
	}
	s, ok := e.AsLiteral().Value().(string)
	return s, ok
}

func allLabels(sc Schema) []string {
	var out []string
	for _, p := range sc.Plugins {
		for _, l := range p.Labels {
			if !slices.Contains(out, l) {
				out = append(out, l)
			}
		}
	}
	sort.Strings(out)
	return out
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func hint(name string, known []string) string {
	if best := validate.Nearest(name, known); best != "" {
		return fmt.Sprintf(" (did you mean %s?)", best)
	}
	return ""
}
