// Package attrs helps the model plugins with their block attributes: Join
// builds a plugin's schema from the parts each shared package declares
// (models.Attributes, onnx.Attributes, ...: every package declares what it
// reads), StreamInfo gives a test the StreamInfo the SDK would, and Int
// parses an integer attribute (text on the wire) for a model package that
// its own tests open without a schema: "NAME = "VALUE": want ...".
package attrs

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/lsie-mlf/lsie/sdk"
	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
	"github.com/lsie-mlf/lsie/sdk/validate"
)

// Join concatenates schema parts into one manifest schema. It never
// returns nil: a plugin built from empty parts takes no attributes.
func Join(parts ...[]sdk.Attribute) []sdk.Attribute {
	return append([]sdk.Attribute{}, slices.Concat(parts...)...)
}

// StreamInfo is what the SDK hands m's OpenStream for a block setting
// given: the values checked against m's schema, canonical, defaults filled
// in, as Attrs and as Attributes. It is for tests that call OpenStream
// directly; the error is the SDK's refusal (*validate.AttributesError).
func StreamInfo(m sdk.Manifest, id string, given map[string]string) (sdk.StreamInfo, error) {
	pm := &pluginv1.Manifest{AttributeSchema: m.Attributes != nil}
	opt := func(v string) *string {
		if v == "" {
			return nil
		}
		return &v
	}
	for _, a := range m.Attributes {
		pm.Attributes = append(pm.Attributes, &pluginv1.AttributeSpec{Name: a.Name, Type: string(a.Type), Description: a.Description,
			Default: opt(a.Default), Required: a.Required, Min: opt(a.Min), Max: opt(a.Max), Choices: a.Choices})
	}
	values, err := validate.Attributes(pm, given)
	if err != nil {
		return sdk.StreamInfo{}, err
	}
	return sdk.StreamInfo{ID: id, Attrs: sdk.NewAttrs(values), Attributes: values}, nil
}

// Int sets *dst from attrs[name] when present: a whole number in lo..hi.
func Int(attrs map[string]string, name string, lo, hi int, dst *int) error {
	v, ok := attrs[name]
	if !ok {
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return fmt.Errorf("%s = %q: want a whole number %d..%d", name, v, lo, hi)
	}
	*dst = n
	return nil
}
