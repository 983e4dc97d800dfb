package validate

import (
	"maps"
	"strings"
	"testing"

	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
)

func s(v string) *string { return &v }

func schema() *pluginv1.Manifest {
	return manifest(func(m *pluginv1.Manifest) {
		m.AttributeSchema = true
		m.Attributes = []*pluginv1.AttributeSpec{
			{Name: "threshold", Type: TypeNumber, Default: s("0.5"), Min: s("0"), Max: s("1"), Description: "score cut"},
			{Name: "max_faces", Type: TypeInteger, Default: s("4"), Min: s("1"), Max: s("16")},
			{Name: "model_dir", Type: TypeString, Required: true},
			{Name: "debug", Type: TypeBool, Default: s("false")},
			{Name: "window_len", Type: TypeDuration, Default: s("2s"), Min: s("10ms"), Max: s("1m")},
			{Name: "engine", Type: TypeEnum, Choices: []string{"sphinx", "whisper"}, Default: s("sphinx")},
			{Name: "labels", Type: TypeList},
			{Name: "intents", Type: TypeObject},
		}
	})
}

func TestAttributes(t *testing.T) {
	defaults := map[string]string{"threshold": "0.5", "max_faces": "4", "debug": "false", "window_len": "2s", "engine": "sphinx"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name  string
		given map[string]string
		want  map[string]string // the canonical values, defaults filled
		err   string
	}{
		{name: "defaults", given: with("model_dir", "/m"), want: with("model_dir", "/m")},
		{name: "canonical", given: with("model_dir", "/m", "threshold", "1", "max_faces", "1e+01", "window_len", "1500ms", "debug", "true",
			"engine", "whisper", "labels", `[ "a", "b" ]`, "intents", `{"greet": ["hi", "hello"]}`),
			want: with("model_dir", "/m", "threshold", "1", "max_faces", "10", "window_len", "1.5s", "debug", "true", "engine", "whisper",
				"labels", `["a","b"]`, "intents", `{"greet":["hi","hello"]}`)},
		{name: "bounds are inclusive", given: with("model_dir", "/m", "threshold", "0", "max_faces", "16", "window_len", "1m0s"),
			want: with("model_dir", "/m", "threshold", "0", "max_faces", "16", "window_len", "1m0s")},
		{name: "not a number", given: with("model_dir", "/m", "threshold", "high"), err: `attribute "threshold": want a number in 0..1, got "high"`},
		{name: "out of range", given: with("model_dir", "/m", "threshold", "1.5"), err: `attribute "threshold": want a number in 0..1, got "1.5"`},
		{name: "not an integer", given: with("model_dir", "/m", "max_faces", "2.5"), err: `attribute "max_faces": want an integer in 1..16, got "2.5"`},
		{name: "bool", given: with("model_dir", "/m", "debug", "yes"), err: `attribute "debug": want true or false, got "yes"`},
		{name: "duration without unit", given: with("model_dir", "/m", "window_len", "5"),
			err: `attribute "window_len": want a duration such as "250ms" or "2s" in 10ms..1m, got "5"`},
		{name: "duration out of range", given: with("model_dir", "/m", "window_len", "5ms"), err: `attribute "window_len": want a duration such as "250ms" or "2s" in 10ms..1m, got "5ms"`},
		{name: "enum near miss", given: with("model_dir", "/m", "engine", "whspr"), err: `attribute "engine": want one of "sphinx", "whisper", got "whspr" (did you mean "whisper"?)`},
		{name: "list", given: with("model_dir", "/m", "labels", "a"), err: `attribute "labels": want a list of strings, got "a"`},
		{name: "list of numbers", given: with("model_dir", "/m", "labels", "[1]"), err: `attribute "labels": want a list of strings, got "[1]"`},
		{name: "object", given: with("model_dir", "/m", "intents", `["x"]`), err: `attribute "intents": want an object, got "[\"x\"]"`},
		{name: "unknown near miss", given: with("model_dir", "/m", "treshold", "0.5"), err: `unknown attribute "treshold" (did you mean "threshold"?)`},
		{name: "unknown far", given: with("model_dir", "/m", "colour", "red"),
			err: `unknown attribute "colour" (the plugin takes debug, engine, intents, labels, max_faces, model_dir, threshold, window_len)`},
		{name: "missing", given: with(), err: `attribute "model_dir": required: want a string`},
		{name: "every problem", given: with("threshold", "x", "treshold", "1"),
			err: `unknown attribute "treshold" (did you mean "threshold"?); attribute "threshold": want a number in 0..1, got "x"; attribute "model_dir": required: want a string`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Attributes(schema(), tc.given)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("got %v\nwant %s", err, tc.err)
				}
				return
			}
			want := maps.Clone(defaults)
			maps.Copy(want, tc.want)
			if err != nil || !maps.Equal(got, want) {
				t.Fatalf("got %v %v\nwant %v", got, err, want)
			}
		})
	}
	// Without a schema, attributes pass unchecked (plugins from before schemas).
	old := manifest(nil)
	if got, err := Attributes(old, map[string]string{"anything": "x"}); err != nil || got["anything"] != "x" {
		t.Errorf("no schema: %v %v", got, err)
	}
	// An empty schema takes nothing.
	none := manifest(func(m *pluginv1.Manifest) { m.AttributeSchema = true })
	if _, err := Attributes(none, map[string]string{"x": "1"}); err == nil || err.Error() != `unknown attribute "x" (the plugin takes no attributes)` {
		t.Errorf("empty schema: %v", err)
	}
}

func TestSchemaRules(t *testing.T) {
	if err := Manifest(schema(), File{}); err != nil {
		t.Fatalf("good schema refused: %v", err)
	}
	for _, tc := range []struct {
		name string
		spec *pluginv1.AttributeSpec
		want string
	}{
		{"name", &pluginv1.AttributeSpec{Name: "Threshold", Type: TypeNumber}, `manifest attribute "Threshold": want a name of 1..64 characters of [a-z][a-z0-9_]*`},
		{"reserved", &pluginv1.AttributeSpec{Name: "window", Type: TypeInteger}, `manifest attribute "window": is the host's own plugin-block attribute (window, version, event_bound)`},
		{"twice", &pluginv1.AttributeSpec{Name: "debug", Type: TypeBool}, `manifest attribute "debug": is declared twice`},
		{"type", &pluginv1.AttributeSpec{Name: "x", Type: "float"}, `manifest attribute "x": type "float", want one of string, number, integer, bool, duration, enum, list, object`},
		{"enum without choices", &pluginv1.AttributeSpec{Name: "x", Type: TypeEnum}, `manifest attribute "x": an enum needs choices`},
		{"choices on a string", &pluginv1.AttributeSpec{Name: "x", Type: TypeString, Choices: []string{"a"}}, `manifest attribute "x": choices are for an enum, not a string`},
		{"range on a bool", &pluginv1.AttributeSpec{Name: "x", Type: TypeBool, Min: s("0")}, `manifest attribute "x": min and max are for a number, integer or duration, not a bool`},
		{"bad bound", &pluginv1.AttributeSpec{Name: "x", Type: TypeDuration, Max: s("5")}, `manifest attribute "x": max "5" is not a duration such as "250ms" or "2s"`},
		{"min above max", &pluginv1.AttributeSpec{Name: "x", Type: TypeNumber, Min: s("2"), Max: s("1")}, `manifest attribute "x": min 2 is above max 1`},
		{"default out of range", &pluginv1.AttributeSpec{Name: "x", Type: TypeInteger, Default: s("20"), Max: s("16")},
			`manifest attribute "x": default: want an integer of at most 16, got "20"`},
		{"required with default", &pluginv1.AttributeSpec{Name: "x", Type: TypeString, Required: true, Default: s("a")},
			`manifest attribute "x": required and with a default: give one or the other`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := schema()
			m.Attributes = append(m.Attributes, tc.spec)
			err := Manifest(m, File{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
		})
	}
}
