package sdk

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
	"github.com/lsie-mlf/lsie/sdk/validate"
)

// AttrType is the type of a plugin-block attribute.
type AttrType string

// Attribute types. Values (Default, Min, Max, Choices) are written as in
// the config: "0.5", "12", "true", "250ms", `["a","b"]`.
const (
	AttrString   AttrType = validate.TypeString
	AttrNumber   AttrType = validate.TypeNumber   // a finite float64: Attrs.Float
	AttrInteger  AttrType = validate.TypeInteger  // an int64: Attrs.Int
	AttrBool     AttrType = validate.TypeBool     // true or false: Attrs.Bool
	AttrDuration AttrType = validate.TypeDuration // "250ms", "1m30s": Attrs.Duration
	AttrEnum     AttrType = validate.TypeEnum     // one of Choices: Attrs.String
	AttrList     AttrType = validate.TypeList     // a list of strings: Attrs.List
	AttrObject   AttrType = validate.TypeObject   // a JSON object: Attrs.String, then decode it
)

// Attribute declares one attribute a stream's plugin block may set. The
// host checks every block against the manifest's Attributes (config
// check, start, reload, the API) and hands OpenStream the values with
// defaults filled in, as StreamInfo.Attrs.
type Attribute struct {
	Name        string // [a-z][a-z0-9_]*; not window, version or event_bound (the host's)
	Type        AttrType
	Description string
	// Default is the value when the block does not set it; "" means none
	// (the attribute is then absent unless Required).
	Default string
	// Required: the block must set it (give no Default then).
	Required bool
	// Min and Max bound a number, integer or duration, inclusive; ""
	// leaves that side open.
	Min, Max string
	// Choices are an enum's values.
	Choices []string
}

// attributeSpecs converts a manifest's schema for the wire. A nil schema
// is none (a plugin from before schemas: attributes pass unchecked); a
// non-nil empty one declares that the plugin takes no attributes.
func attributeSpecs(attrs []Attribute) ([]*pluginv1.AttributeSpec, bool) {
	if attrs == nil {
		return nil, false
	}
	out := make([]*pluginv1.AttributeSpec, len(attrs))
	opt := func(v string) *string {
		if v == "" {
			return nil
		}
		return &v
	}
	for i, a := range attrs {
		out[i] = &pluginv1.AttributeSpec{Name: a.Name, Type: string(a.Type), Description: a.Description, Default: opt(a.Default),
			Required: a.Required, Min: opt(a.Min), Max: opt(a.Max), Choices: a.Choices}
	}
	return out, true
}

// Attrs are a stream's plugin-block attributes, checked against the
// manifest's schema, canonical, defaults filled in. Each accessor returns
// the zero value when the attribute is absent (not set, no default) or is
// not of its type.
type Attrs struct {
	values map[string]string
}

// NewAttrs wraps attribute values (canonical text, as the host sends
// them), for tests of code that takes Attrs.
func NewAttrs(values map[string]string) Attrs { return Attrs{values: values} }

// Has reports whether the attribute has a value (set, or a default).
func (a Attrs) Has(name string) bool {
	_, ok := a.values[name]
	return ok
}

// String returns a string or enum attribute (an object's JSON text).
func (a Attrs) String(name string) string { return a.values[name] }

// Float returns a number (or integer) attribute.
func (a Attrs) Float(name string) float64 {
	f, _ := strconv.ParseFloat(a.values[name], 64)
	return f
}

// Int returns an integer attribute.
func (a Attrs) Int(name string) int {
	i, _ := strconv.ParseInt(a.values[name], 10, 0)
	return int(i)
}

// Bool returns a bool attribute.
func (a Attrs) Bool(name string) bool { return a.values[name] == "true" }

// Duration returns a duration attribute.
func (a Attrs) Duration(name string) time.Duration {
	d, _ := time.ParseDuration(a.values[name])
	return d
}

// List returns a list attribute.
func (a Attrs) List(name string) []string {
	var l []string
	_ = json.Unmarshal([]byte(a.values[name]), &l)
	return l
}
