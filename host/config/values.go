package config

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// Attribute values are typed strictly: a number where a string is expected
// (or "5" where a number is) is an error rather than a silent conversion.
// Each decoder stores the value and records its position only on success, so
// a bad value leaves the default in place and validation does not report it
// a second time.

// value evaluates the attribute's expression, which must be a constant: no
// variables or functions are defined.
func (d *decoder) value(a *hclsyntax.Attribute, p path) (cty.Value, bool) {
	v, hds := a.Expr.Value(nil)
	if hds.HasErrors() {
		d.addHCL(hds, p.show, d.pos(a.NameRange.Start))
		return cty.NilVal, false
	}
	if !v.IsWhollyKnown() {
		d.add(d.pos(a.NameRange.Start), p.show, "must be a constant value")
		return cty.NilVal, false
	}
	v, _ = v.UnmarkDeep()
	return v, true
}

// set records where the value at p came from.
func (d *decoder) set(a *hclsyntax.Attribute, p path) {
	d.at[p.key] = d.pos(a.NameRange.Start)
}

func (d *decoder) str(a *hclsyntax.Attribute, p path, dst *string) bool {
	v, ok := d.value(a, p)
	return ok && d.strVal(v, d.pos(a.NameRange.Start), p, dst)
}

func (d *decoder) boolean(a *hclsyntax.Attribute, p path, dst *bool) {
	if v, ok := d.value(a, p); ok {
		d.boolVal(v, d.pos(a.NameRange.Start), p, dst)
	}
}

// integer decodes a whole number; its range is checked by validate.
func (d *decoder) integer(a *hclsyntax.Attribute, p path, dst *int) {
	if v, ok := d.value(a, p); ok {
		d.intVal(v, d.pos(a.NameRange.Start), p, dst)
	}
}

// duration decodes a Go duration string such as "10s" or "250ms"; its range
// is checked by validate.
func (d *decoder) duration(a *hclsyntax.Attribute, p path, dst *time.Duration) {
	var s string
	if !d.str(a, p, &s) {
		return
	}
	delete(d.at, p.key) // recorded again below once the string is a duration
	dur, err := time.ParseDuration(s)
	if err != nil {
		d.add(d.pos(a.NameRange.Start), p.show, fmt.Sprintf(`%s is not a duration (use e.g. "10s")`, quoteShort(s)))
		return
	}
	*dst = dur
	d.set(a, p)
}

// number decodes a finite number; its range is checked by validate.
func (d *decoder) number(a *hclsyntax.Attribute, p path, dst *float64) {
	if v, ok := d.value(a, p); ok {
		d.numberVal(v, d.pos(a.NameRange.Start), p, dst)
	}
}

// scalar decodes a plugin-specific attribute: a string, number or bool,
// rendered as a string; a list or object as its JSON text.
func (d *decoder) scalar(a *hclsyntax.Attribute, p path) (string, bool) {
	v, ok := d.value(a, p)
	if !ok {
		return "", false
	}
	return d.scalarVal(v, d.pos(a.NameRange.Start), p)
}

// strList decodes a list of strings. Each element's position is recorded
// under p.index(i), at the element itself when the expression is a literal
// list, else at the attribute.
func (d *decoder) strList(a *hclsyntax.Attribute, p path, dst *[]string) {
	v, ok := d.value(a, p)
	if !ok {
		return
	}
	at := d.pos(a.NameRange.Start)
	if v.IsNull() || !(v.Type().IsTupleType() || v.Type().IsListType() || v.Type().IsSetType()) {
		d.add(at, p.show, "must be a list of strings, got "+d.describe(v))
		return
	}
	var elems []hclsyntax.Expression
	if tuple, ok := a.Expr.(*hclsyntax.TupleConsExpr); ok && len(tuple.Exprs) == v.LengthInt() {
		elems = tuple.Exprs
	}
	var list []string
	good := true
	for i, it := 0, v.ElementIterator(); it.Next(); i++ {
		_, ev := it.Element()
		ep, epos := p.index(i), at
		if elems != nil {
			epos = d.pos(elems[i].Range().Start)
		}
		var s string
		if !d.strVal(ev, epos, ep, &s) {
			good = false
			continue
		}
		list = append(list, s)
	}
	if good {
		*dst = list // nil for an empty list, like the default
		d.at[p.key] = at
	}
}

// The *Val methods check a value already evaluated (from HCL or JSON) and
// store it, recording at as its position; on a mismatch they report it at at
// and leave dst alone.

func (d *decoder) strVal(v cty.Value, at Pos, p path, dst *string) bool {
	if v.IsNull() || v.Type() != cty.String {
		d.add(at, p.show, "must be a string, got "+d.describe(v))
		return false
	}
	*dst = v.AsString()
	d.at[p.key] = at
	return true
}

func (d *decoder) boolVal(v cty.Value, at Pos, p path, dst *bool) {
	if v.IsNull() || v.Type() != cty.Bool {
		d.add(at, p.show, "must be true or false, got "+d.describe(v))
		return
	}
	*dst = v.True()
	d.at[p.key] = at
}

func (d *decoder) intVal(v cty.Value, at Pos, p path, dst *int) {
	if v.IsNull() || v.Type() != cty.Number || !v.AsBigFloat().IsInt() {
		d.add(at, p.show, "must be a whole number, got "+d.describe(v))
		return
	}
	n, acc := v.AsBigFloat().Int64()
	if acc != big.Exact || n > math.MaxInt32 || n < math.MinInt32 {
		d.add(at, p.show, "out of range, got number "+numberText(v))
		return
	}
	*dst = int(n)
	d.at[p.key] = at
}

func (d *decoder) numberVal(v cty.Value, at Pos, p path, dst *float64) bool {
	if v.IsNull() || v.Type() != cty.Number {
		d.add(at, p.show, "must be a number, got "+d.describe(v))
		return false
	}
	f, _ := v.AsBigFloat().Float64()
	if math.IsInf(f, 0) {
		d.add(at, p.show, "out of range, got number "+numberText(v))
		return false
	}
	*dst = f
	d.at[p.key] = at
	return true
}

// polygonVal decodes a list of [x, y] points; the count and range are
// checked by validate.
func (d *decoder) polygonVal(v cty.Value, at Pos, p path, dst *[][2]float64) {
	isList := func(v cty.Value) bool {
		return !v.IsNull() && (v.Type().IsTupleType() || v.Type().IsListType())
	}
	if !isList(v) {
		d.add(at, p.show, "must be a list of [x, y] points, got "+d.describe(v))
		return
	}
	var poly [][2]float64
	for i, it := 0, v.ElementIterator(); it.Next(); i++ {
		_, pt := it.Element()
		ep := p.index(i)
		if !isList(pt) || pt.LengthInt() != 2 {
			d.add(at, ep.show, "must be a point [x, y], got "+d.describe(pt))
			return
		}
		var xy [2]float64
		for j, jt := 0, pt.ElementIterator(); jt.Next(); j++ {
			_, c := jt.Element()
			if !d.numberVal(c, at, ep.index(j), &xy[j]) {
				return
			}
		}
		poly = append(poly, xy)
	}
	*dst = poly
	d.at[p.key] = at
}

func (d *decoder) scalarVal(v cty.Value, at Pos, p path) (string, bool) {
	switch {
	case v.IsNull():
	case v.Type() == cty.String:
		return v.AsString(), true
	case v.Type() == cty.Number:
		f, _ := v.AsBigFloat().Float64()
		return strconv.FormatFloat(f, 'g', -1, 64), true
	case v.Type() == cty.Bool:
		return strconv.FormatBool(v.True()), true
	case v.Type().IsTupleType() || v.Type().IsListType() || v.Type().IsSetType() || v.Type().IsObjectType() || v.Type().IsMapType():
		// Structured values (e.g. the semantic plugin's intents) reach the
		// plugin as their JSON text; the plugin names its own field errors.
		b, err := ctyjson.SimpleJSONValue{Value: v}.MarshalJSON()
		if err == nil {
			return string(b), true
		}
	}
	d.add(at, p.show, "must be a string, number, bool, list or object, got "+d.describe(v))
	return "", false
}

// describe is describe in the words of the input's syntax: JSON calls a
// tuple an array.
func (d *decoder) describe(v cty.Value) string {
	if d.json && !v.IsNull() && (v.Type().IsTupleType() || v.Type().IsListType()) {
		return "array"
	}
	return describe(v)
}

// describe names a value's type, and its value when it is a primitive, for
// "got ..." in messages.
func describe(v cty.Value) string {
	switch {
	case v.IsNull():
		return "null"
	case v.Type() == cty.String:
		return "string " + quoteShort(v.AsString())
	case v.Type() == cty.Number:
		return "number " + numberText(v)
	case v.Type() == cty.Bool:
		return "bool " + strconv.FormatBool(v.True())
	default:
		return v.Type().FriendlyName()
	}
}

// numberText renders a number for a message. It goes through float64:
// big.Float's own decimal rendering of a literal like 1e100000000 takes
// minutes.
func numberText(v cty.Value) string {
	bf := v.AsBigFloat()
	f, _ := bf.Float64()
	switch {
	case math.IsInf(f, 1):
		return ">1.8e+308"
	case math.IsInf(f, -1):
		return "<-1.8e+308"
	case f == 0 && bf.Sign() != 0:
		return "≈0 (not 0)"
	}
	return strconv.FormatFloat(f, 'g', 10, 64)
}

// quoteShort quotes s, cut to 40 characters so a message stays one line.
func quoteShort(s string) string {
	const limit = 40
	if utf8.RuneCountInString(s) <= limit {
		return strconv.Quote(s)
	}
	n := 0
	for i := range s {
		if n == limit {
			return strconv.Quote(s[:i]) + "..."
		}
		n++
	}
	return strconv.Quote(s)
}
