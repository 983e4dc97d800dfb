package host

import (
	"fmt"

	"github.com/lsie-mlf/lsie/host/api"
	"github.com/lsie-mlf/lsie/host/config"
	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
	"github.com/lsie-mlf/lsie/sdk/validate"
)

// CheckAttributes checks a stream's plugin block against the plugin's
// attribute schema (validate.Attributes, which the SDK applies again) and
// returns what OpenStream gets: the values in canonical form, defaults
// filled in. A plugin without a schema gets the block's values unchecked.
// The error is config.Diagnostics, one per attribute at its position (a
// missing one at the block), e.g. `cam.hcl:12:5: stream "cam": plugin
// "detect": attribute "threshold": want a number in 0..1, got "high"`.
func CheckAttributes(st config.Stream, ref config.PluginRef, m *pluginv1.Manifest) (map[string]string, error) {
	values, err := validate.Attributes(m, ref.Attributes)
	ae, ok := err.(*validate.AttributesError)
	if !ok {
		return values, err
	}
	var ds config.Diagnostics
	for _, e := range ae.Errs {
		d := config.Diagnostic{Pos: ref.Pos, Field: fmt.Sprintf("stream %q: plugin %q", st.ID, ref.Name), Message: e.Error()}
		if p, ok := ref.AttrPos[e.Name]; ok {
			d.Pos = p
		}
		if st.FromAPI() {
			d.Pos = config.Pos{} // JSON offsets, not lines: the message names the attribute
		}
		ds = append(ds, d)
	}
	return nil, ds
}

// attributeError is a stream whose plugin blocks break their plugins'
// schemas: the stream cannot run (the API answers 422 naming each
// attribute), and a config file's lines point at each.
type attributeError struct{ ds config.Diagnostics }

func (e *attributeError) Error() string { return e.ds.Error() }
func (e *attributeError) Unwrap() error { return api.ErrUnrunnable }

// streamAttributes checks every plugin block of st against its running
// plugin's schema and returns the values each plugin's OpenStream gets.
func (h *Host) streamAttributes(st config.Stream) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	var ds config.Diagnostics
	for _, ref := range st.Plugins {
		m := h.supervisor(ref.Name).Current().Manifest()
		if !validate.HasSchema(m) && len(ref.Attributes) > 0 {
			h.log.Warn("plugin declares no attribute schema; its block's attributes reach it unchecked", "stream", st.ID, "plugin", ref.Name)
		}
		values, err := CheckAttributes(st, ref, m)
		if err != nil {
			ds = append(ds, err.(config.Diagnostics)...)
			continue
		}
		out[ref.Name] = values
	}
	if len(ds) > 0 {
		return nil, &attributeError{ds: ds}
	}
	return out, nil
}
