package sdk

import (
	"errors"
	"slices"
	"testing"
	"time"
)

type attrPlugin struct{ got *StreamInfo }

func (p attrPlugin) Manifest() Manifest {
	return Manifest{Name: "t", Version: "1.0.0", Attributes: []Attribute{
		{Name: "threshold", Type: AttrNumber, Default: "0.5", Min: "0", Max: "1"},
		{Name: "max_faces", Type: AttrInteger, Default: "4"},
		{Name: "debug", Type: AttrBool, Default: "false"},
		{Name: "window_len", Type: AttrDuration, Default: "2s"},
		{Name: "engine", Type: AttrEnum, Choices: []string{"sphinx", "whisper"}, Default: "sphinx"},
		{Name: "words", Type: AttrList},
		{Name: "model_dir", Type: AttrString},
	}}
}

func (p attrPlugin) OpenStream(info StreamInfo) (Stream, error) {
	*p.got = info
	return nil, errors.New("only recorded")
}

// OpenStream gets typed values with the defaults filled in; a block the
// schema refuses never reaches the plugin.
func TestTypedAttributes(t *testing.T) {
	var got StreamInfo
	a := adapter{attrPlugin{&got}}
	_, _ = a.OpenStream("s", map[string]string{"threshold": "1", "debug": "true", "words": `["a","b"]`, "window_len": "1500ms"}, nil)
	at := got.Attrs
	if at.Float("threshold") != 1 || at.Int("max_faces") != 4 || !at.Bool("debug") || at.Duration("window_len") != 1500*time.Millisecond ||
		at.String("engine") != "sphinx" || !slices.Equal(at.List("words"), []string{"a", "b"}) {
		t.Errorf("typed values: %+v", at)
	}
	if at.Has("model_dir") || at.String("model_dir") != "" || at.Float("nope") != 0 || at.Int("threshold") != 1 {
		t.Errorf("absent ones: %+v", at)
	}
	if got.Attributes["window_len"] != "1.5s" || got.Attributes["max_faces"] != "4" {
		t.Errorf("text values: %v", got.Attributes)
	}

	got = StreamInfo{}
	_, err := a.OpenStream("s", map[string]string{"treshold": "0.4"}, nil)
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeBadAttribute || e.Message != `unknown attribute "treshold" (did you mean "threshold"?)` || got.ID != "" {
		t.Errorf("refusal %v; the plugin saw %+v", err, got)
	}
	m := a.Manifest()
	if !m.AttributeSchema || len(m.Attributes) != 7 || m.Attributes[0].GetDefault() != "0.5" || m.Attributes[0].Max == nil || m.Attributes[6].Default != nil {
		t.Errorf("on the wire: %+v", m.Attributes)
	}
	if NewAttrs(map[string]string{"x": "3"}).Int("x") != 3 {
		t.Error("NewAttrs")
	}
}
