package attrs

import (
	"strings"
	"testing"

	"github.com/lsie-mlf/lsie/sdk"
)

func TestInt(t *testing.T) {
	a := map[string]string{"n": "7", "bad": "x", "big": "99"}
	n := 1
	if err := Int(a, "n", 1, 10, &n); err != nil || n != 7 {
		t.Fatalf("n = %d, %v", n, err)
	}
	if err := Int(a, "absent", 1, 10, &n); err != nil || n != 7 {
		t.Fatalf("absent changed n to %d (%v)", n, err)
	}
	for _, k := range []string{"bad", "big"} {
		if err := Int(a, k, 1, 10, &n); err == nil || !strings.HasPrefix(err.Error(), k+` = "`) || n != 7 {
			t.Errorf("%s: %v, n %d", k, err, n)
		}
	}
}

func TestJoinAndStreamInfo(t *testing.T) {
	if j := Join(); j == nil || len(j) != 0 {
		t.Errorf("Join() = %#v, want an empty schema (takes none), not nil (no schema)", j)
	}
	m := sdk.Manifest{Attributes: Join(
		[]sdk.Attribute{{Name: "rate", Type: sdk.AttrNumber, Default: "0.5", Min: "0", Max: "1"}},
		[]sdk.Attribute{{Name: "every", Type: sdk.AttrDuration, Default: "1s"}, {Name: "path", Type: sdk.AttrString}},
	)}
	info, err := StreamInfo(m, "cam", map[string]string{"every": "1500ms"})
	if err != nil {
		t.Fatal(err)
	}
	if info.ID != "cam" || info.Attrs.Float("rate") != 0.5 || info.Attrs.Duration("every").Seconds() != 1.5 || info.Attrs.Has("path") ||
		info.Attributes["every"] != "1.5s" {
		t.Errorf("info %+v", info)
	}
	if _, err := StreamInfo(m, "cam", map[string]string{"rate": "2"}); err == nil || err.Error() != `attribute "rate": want a number in 0..1, got "2"` {
		t.Errorf("rate 2: %v", err)
	}
	if _, err := StreamInfo(sdk.Manifest{Attributes: Join()}, "cam", map[string]string{"x": "1"}); err == nil {
		t.Error("a schema taking none accepted an attribute")
	}
	if info, err := StreamInfo(sdk.Manifest{}, "cam", map[string]string{"x": "1"}); err != nil || info.Attributes["x"] != "1" {
		t.Errorf("no schema: %+v %v", info, err)
	}
}
