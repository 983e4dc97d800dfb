package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/lsie-mlf/lsie/host/source"
)

// ParseStream decodes one stream from JSON, for streams added at run time:
// the fields of a stream block, with the label as "id" and the plugin
// blocks as a "plugins" list whose elements carry the label as "name" and
// the plugin-specific attributes in "attributes":
//
//	{"id": "cam2", "source": "test://ball", "realtime": true, "loop": false,
//	 "video": {"fps": 5, "max_width": 640}, "image": {"fps": 1},
//	 "plugins": [{"name": "visual", "window": 2, "version": "~> 0.1", "attributes": {"threshold": "0.5"},
//	              "gate": {"motion": 2.5, "every": "10s", "zones": ["door"]}}],
//	 "zones": [{"name": "door", "polygon": [[0.1, 0.2], [0.4, 0.2], [0.4, 0.9]]}]}
//
// Only id and source (and a plugin's name) are required; the others default
// as in HCL. Decoding is as strict as for HCL (an unknown or repeated field
// is an error) and validation is the same, messages included; baseDir
// anchors relative file sources and the source must pass policy (nil allows
// every source).
//
// When the input is bad it returns a Diagnostics error listing every
// problem. A JSON document has no lines that matter, so a diagnostic's Pos
// is on Line 1 and its Column is the byte offset into data plus one (Column
// 1 is the first byte); File is empty. Its Field is a JSON path such as
// `video.fps` or `plugins[0].windw`. A source the policy refuses gives a
// diagnostic whose error errors.Is source.ErrNotAllowed, through
// Diagnostics.Unwrap.
func ParseStream(data []byte, baseDir string, policy *source.Policy) (Stream, error) {
	d := &decoder{baseDir: baseDir, at: map[string]Pos{}, json: true, policy: policy}
	p := path{key: "stream.0", json: true}
	s, ok := d.jsonStream(data, p)
	if ok {
		d.validateStream(&s, p)
	}
	if len(d.diags) > 0 {
		d.diags.sortByPos()
		return Stream{}, d.diags
	}
	s.Spec = bytes.Clone(data)
	return s, nil
}

// errAbort stops decoding after a syntax error, which has been reported.
var errAbort = errors.New("abort")

// jsonReader walks a JSON document token by token, so that every value can
// be positioned and every key checked.
type jsonReader struct {
	d    *decoder
	data []byte
	dec  *json.Decoder
}

// offsetPos is the position of byte offset off.
func offsetPos(off int) Pos { return Pos{Line: 1, Column: off + 1} }

// next returns the offset where the next token starts: past white space and
// the separators the decoder has not consumed yet.
func (r *jsonReader) next() int {
	off := int(r.dec.InputOffset())
	for off < len(r.data) {
		switch r.data[off] {
		case ' ', '\t', '\r', '\n', ',', ':':
			off++
		default:
			return off
		}
	}
	return off
}

// syntax reports an error of the token walk and returns errAbort. The walk
// runs on input checkSyntax accepted, so this is a backstop.
func (r *jsonReader) syntax(err error) error {
	r.d.add(offsetPos(min(int(r.dec.InputOffset()), len(r.data))), "", "invalid JSON: "+err.Error())
	return errAbort
}

// checkSyntax reports a JSON syntax error in data at the offending byte.
// encoding/json's Decoder gives offsets that are not reliably those of the
// offending byte; Unmarshal's validity scan does, one past it.
func (d *decoder) checkSyntax(data []byte) bool {
	var raw json.RawMessage
	err := json.Unmarshal(data, &raw)
	if err == nil {
		return true
	}
	off := len(data)
	var se *json.SyntaxError
	if errors.As(err, &se) && !strings.HasPrefix(se.Error(), "unexpected end") {
		off = min(max(int(se.Offset)-1, 0), len(data))
	}
	d.add(offsetPos(off), "", "invalid JSON: "+err.Error())
	return false
}

// token reads the next token and the offset it starts at.
func (r *jsonReader) token() (json.Token, int, error) {
	at := r.next()
	tok, err := r.dec.Token()
	if err != nil {
		return nil, at, r.syntax(err)
	}
	return tok, at, nil
}

// value reads a value as cty: a primitive, null, or, for an array or
// object, an empty tuple or object (for "got array" in messages) after
// skipping it.
func (r *jsonReader) value() (cty.Value, int, error) {
	at := r.next()
	if at < len(r.data) && (r.data[at] == '[' || r.data[at] == '{') {
		var raw json.RawMessage
		if err := r.dec.Decode(&raw); err != nil {
			return cty.NilVal, at, r.syntax(err)
		}
		if r.data[at] == '[' {
			return cty.EmptyTupleVal, at, nil
		}
		return cty.EmptyObjectVal, at, nil
	}
	tok, at, err := r.token()
	if err != nil {
		return cty.NilVal, at, err
	}
	switch t := tok.(type) {
	case string:
		return cty.StringVal(t), at, nil
	case bool:
		return cty.BoolVal(t), at, nil
	case json.Number:
		v, err := cty.ParseNumberVal(string(t))
		if err != nil {
			// The decoder accepted it as a JSON number; cty should too.
			return cty.NilVal, at, r.syntax(fmt.Errorf("number %s: %w", t, err))
		}
		return v, at, nil
	case nil:
		return cty.NullVal(cty.DynamicPseudoType), at, nil
	}
	return cty.NilVal, at, r.syntax(fmt.Errorf("unexpected %v", tok))
}

// open reads the opening delimiter of an object or array at p; anything
// else is reported (and skipped) and ok is false.
func (r *jsonReader) open(p path, delim json.Delim, what string) (at int, ok bool, err error) {
	at = r.next()
	if at < len(r.data) && r.data[at] == byte(delim) {
		_, _, err := r.token()
		return at, err == nil, err
	}
	v, at, err := r.value()
	if err != nil {
		return at, false, err
	}
	r.d.add(offsetPos(at), p.show, "must be "+what+", got "+r.d.describe(v))
	return at, false, nil
}

// object reads the members of an object whose '{' has been read, calling
// member with each key and its path; member must consume the value.
// Unknown keys are member's to report; repeated keys are reported here and
// their values skipped.
func (r *jsonReader) object(p path, member func(key string, keyAt int, kp path) error) error {
	seen := map[string]int{}
	for r.dec.More() {
		tok, at, err := r.token()
		if err != nil {
			return err
		}
		key, _ := tok.(string) // the decoder only returns string keys
		kp := p.attr(key)
		if first, dup := seen[key]; dup {
			r.d.add(offsetPos(at), kp.show, fmt.Sprintf("duplicate field (first defined at %s)", r.d.posText(offsetPos(first))))
			if err := r.skip(); err != nil {
				return err
			}
			continue
		}
		seen[key] = at
		if err := member(key, at, kp); err != nil {
			return err
		}
	}
	_, _, err := r.token() // '}'
	return err
}

// unknown reports an unknown field and skips its value.
func (r *jsonReader) unknown(keyAt int, kp path) error {
	r.d.add(offsetPos(keyAt), kp.show, "unknown field")
	return r.skip()
}

func (r *jsonReader) skip() error {
	var raw json.RawMessage
	if err := r.dec.Decode(&raw); err != nil {
		return r.syntax(err)
	}
	return nil
}

// jsonStream decodes the stream object; ok is false when nothing worth
// validating was decoded (a syntax error or not an object).
func (d *decoder) jsonStream(data []byte, p path) (Stream, bool) {
	if len(bytes.TrimLeft(data, " \t\r\n")) == 0 {
		d.add(offsetPos(len(data)), "", "empty input: want a JSON object with the stream's fields")
		return Stream{}, false
	}
	if !d.checkSyntax(data) {
		return Stream{}, false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	r := &jsonReader{d: d, data: data, dec: dec}
	at, ok, err := r.open(p, '{', "a JSON object with the stream's fields")
	if err != nil || !ok {
		return Stream{}, false
	}
	s := defaultStream("", offsetPos(at))
	err = r.object(p, func(key string, keyAt int, kp path) error {
		switch key {
		case "id":
			return r.str(kp, &s.ID)
		case "source":
			var uri string
			if err := r.str(kp, &uri); err != nil {
				return err
			}
			s.Source = source.Spec{URI: uri} // validateStream parses it
			return nil
		case "realtime":
			return r.boolean(kp, &s.Realtime)
		case "loop":
			return r.boolean(kp, &s.Loop)
		case "video":
			return r.video(kp, &s.Video)
		case "image":
			return r.image(kp, &s.Image)
		case "plugins":
			return r.plugins(kp, &s)
		case "zones":
			return r.zones(kp, &s)
		}
		return r.unknown(keyAt, kp)
	})
	if err != nil {
		return Stream{}, false
	}
	for _, f := range []string{"id", "source"} {
		if _, set := d.at[p.attr(f).key]; !set && !d.reported(p.attr(f)) {
			d.add(s.Pos, p.show, fmt.Sprintf("missing required field %q", f))
		}
	}
	return s, true
}

// reported tells whether a diagnostic names p: a field given with a bad
// value is not also missing.
func (d *decoder) reported(p path) bool {
	for _, dg := range d.diags {
		if dg.Field == p.show {
			return true
		}
	}
	return false
}

func (r *jsonReader) str(p path, dst *string) error {
	v, at, err := r.value()
	if err == nil {
		r.d.strVal(v, offsetPos(at), p, dst)
	}
	return err
}

func (r *jsonReader) boolean(p path, dst *bool) error {
	v, at, err := r.value()
	if err == nil {
		r.d.boolVal(v, offsetPos(at), p, dst)
	}
	return err
}

func (r *jsonReader) integer(p path, dst *int) error {
	v, at, err := r.value()
	if err == nil {
		r.d.intVal(v, offsetPos(at), p, dst)
	}
	return err
}

func (r *jsonReader) video(p path, v *Video) error {
	_, ok, err := r.open(p, '{', "an object")
	if err != nil || !ok {
		return err
	}
	return r.object(p, func(key string, keyAt int, kp path) error {
		switch key {
		case "fps":
			return r.integer(kp, &v.FPS)
		case "max_width":
			return r.integer(kp, &v.MaxWidth)
		case "memory":
			return r.str(kp, &v.Memory)
		case "gpu":
			return r.integer(kp, &v.GPU)
		}
		return r.unknown(keyAt, kp)
	})
}

// image decodes the image object; present, it turns a still image into a
// video at fps, 1 unless given.
func (r *jsonReader) image(p path, img *Image) error {
	at, ok, err := r.open(p, '{', "an object")
	if err != nil || !ok {
		return err
	}
	r.d.at[p.key] = offsetPos(at)
	img.FPS = defaultImageFPS
	return r.object(p, func(key string, keyAt int, kp path) error {
		if key == "fps" {
			return r.integer(kp, &img.FPS)
		}
		return r.unknown(keyAt, kp)
	})
}

func (r *jsonReader) plugins(p path, s *Stream) error {
	_, ok, err := r.open(p, '[', "an array of plugin objects")
	if err != nil || !ok {
		return err
	}
	for i := 0; r.dec.More(); i++ {
		if err := r.plugin(i, s); err != nil {
			return err
		}
	}
	_, _, err = r.token() // ']'
	return err
}

// plugin decodes element i of plugins. Its path is set up as validateStream
// will name it, keyed like the HCL block (stream.0.plugin.i).
func (r *jsonReader) plugin(i int, s *Stream) error {
	pp := path{key: "stream.0", json: true}.block("plugin", "", i)
	at, ok, err := r.open(pp, '{', "a plugin object")
	pr := defaultPlugin("", offsetPos(at))
	if err != nil || !ok {
		// Keep the place, so later elements keep their index (and key).
		s.Plugins = append(s.Plugins, pr)
		return err
	}
	err = r.object(pp, func(key string, keyAt int, kp path) error {
		switch key {
		case "name":
			return r.str(kp, &pr.Name)
		case "window":
			return r.integer(kp, &pr.Window)
		case "event_bound":
			return r.integer(kp, &pr.EventBound)
		case "version":
			return r.str(kp, &pr.Version)
		case "attributes":
			return r.attributes(kp, &pr)
		case "gate":
			return r.gate(kp, &pr)
		}
		return r.unknown(keyAt, kp)
	})
	if err != nil {
		return err
	}
	if _, set := r.d.at[pp.attr("name").key]; !set && !r.d.reported(pp.attr("name")) {
		r.d.add(pr.Pos, pp.show, `missing required field "name"`)
	}
	s.Plugins = append(s.Plugins, pr)
	return nil
}

// gate decodes a plugin's gate object: {"motion": 2.5, "every": "10s",
// "zones": ["door"]}.
func (r *jsonReader) gate(p path, pr *PluginRef) error {
	at, ok, err := r.open(p, '{', "an object")
	if err != nil || !ok {
		return err
	}
	g := &Gate{Pos: offsetPos(at)}
	r.d.at[p.key] = g.Pos
	pr.Gate = g
	return r.object(p, func(key string, keyAt int, kp path) error {
		switch key {
		case "motion":
			v, at, err := r.value()
			if err == nil {
				r.d.numberVal(v, offsetPos(at), kp, &g.Motion)
			}
			return err
		case "every":
			var s string
			if err := r.str(kp, &s); err != nil || s == "" {
				return err
			}
			if dur, perr := time.ParseDuration(s); perr != nil {
				at := r.d.at[kp.key]
				delete(r.d.at, kp.key)
				r.d.add(at, kp.show, fmt.Sprintf(`%s is not a duration (use e.g. "10s")`, quoteShort(s)))
			} else {
				g.Every = dur
			}
			return nil
		case "zones":
			v, at, err := r.structured()
			if err != nil || v == cty.NilVal {
				return err
			}
			if v.IsNull() || !(v.Type().IsTupleType() || v.Type().IsListType()) {
				r.d.add(offsetPos(at), kp.show, "must be an array of zone names, got "+r.d.describe(v))
				return nil
			}
			for i, it := 0, v.ElementIterator(); it.Next(); i++ {
				_, ev := it.Element()
				var s string
				if r.d.strVal(ev, offsetPos(at), kp.index(i), &s) {
					g.Zones = append(g.Zones, s)
				}
			}
			r.d.at[kp.key] = offsetPos(at)
			return nil
		}
		return r.unknown(keyAt, kp)
	})
}

// zones decodes the stream's zones: [{"name": "door", "polygon": [[x, y],
// ...]}, ...].
func (r *jsonReader) zones(p path, s *Stream) error {
	_, ok, err := r.open(p, '[', "an array of zone objects")
	if err != nil || !ok {
		return err
	}
	for i := 0; r.dec.More(); i++ {
		zp := path{key: "stream.0", json: true}.block("zone", "", i)
		at, ok, err := r.open(zp, '{', "a zone object")
		z := Zone{Pos: offsetPos(at)}
		if err != nil {
			return err
		}
		if ok {
			err = r.object(zp, func(key string, keyAt int, kp path) error {
				switch key {
				case "name":
					return r.str(kp, &z.Name)
				case "polygon":
					v, at, err := r.structured()
					if err == nil && v != cty.NilVal {
						r.d.polygonVal(v, offsetPos(at), kp, &z.Polygon)
					}
					return err
				}
				return r.unknown(keyAt, kp)
			})
			if err != nil {
				return err
			}
			for _, f := range []string{"name", "polygon"} {
				if _, set := r.d.at[zp.attr(f).key]; !set && !r.d.reported(zp.attr(f)) {
					r.d.add(z.Pos, zp.show, fmt.Sprintf("missing required field %q", f))
				}
			}
		}
		s.Zones = append(s.Zones, z)
	}
	_, _, err = r.token() // ']'
	return err
}

// structured reads any JSON value as cty, arrays and objects included
// (value skips those).
func (r *jsonReader) structured() (cty.Value, int, error) {
	at := r.next()
	var raw json.RawMessage
	if err := r.dec.Decode(&raw); err != nil {
		return cty.NilVal, at, r.syntax(err)
	}
	ty, err := ctyjson.ImpliedType(raw)
	if err == nil {
		var v cty.Value
		if v, err = ctyjson.Unmarshal(raw, ty); err == nil {
			return v, at, nil
		}
	}
	r.d.add(offsetPos(at), "", "invalid JSON value: "+err.Error())
	return cty.NilVal, at, nil
}

// attributes decodes a plugin's attributes: names as for HCL attributes,
// values strings, numbers or bools rendered as strings, arrays and objects
// as their compact JSON text (as HCL lists and objects are).
func (r *jsonReader) attributes(p path, pr *PluginRef) error {
	_, ok, err := r.open(p, '{', "an object of plugin-specific values")
	if err != nil || !ok {
		return err
	}
	return r.object(p, func(key string, keyAt int, kp path) error {
		var raw json.RawMessage
		v, at := cty.NilVal, r.next()
		if at < len(r.data) && (r.data[at] == '[' || r.data[at] == '{') {
			if err := r.dec.Decode(&raw); err != nil {
				return r.syntax(err)
			}
		} else {
			var err error
			if v, at, err = r.value(); err != nil {
				return err
			}
		}
		switch {
		case !validName(key):
			r.d.add(offsetPos(keyAt), kp.show, fmt.Sprintf("name must be 1..%d characters of A-Z a-z 0-9 _ -", maxNameLen))
		case key == "window" || key == "version" || key == "event_bound":
			r.d.add(offsetPos(keyAt), kp.show, key+" is a field of the plugin, not an attribute")
		case raw != nil:
			var b bytes.Buffer
			if err := json.Compact(&b, raw); err != nil {
				return r.syntax(err)
			}
			pr.Attributes[key] = b.String()
		default:
			if val, ok := r.d.scalarVal(v, offsetPos(at), kp); ok {
				pr.Attributes[key] = val
			}
		}
		return nil
	})
}
