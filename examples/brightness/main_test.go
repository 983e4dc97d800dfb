package main

import (
	"math"
	"strings"
	"testing"

	"github.com/lsie-mlf/lsie/sdk/plugintest"
)

func TestBrightness(t *testing.T) {
	h := plugintest.Start(t, plugintest.Build(t, "."))
	if m := h.Manifest(); m.Name != "brightness" || len(m.Fields) != 2 {
		t.Fatalf("manifest %v", m)
	}

	def := h.Open("default", nil)
	custom := h.Open("custom", map[string]string{"threshold": "60"})
	for _, c := range []struct {
		name     string
		s        *plugintest.Stream
		grey     byte
		wantDark float64
	}{
		{"black, default threshold", def, 0, 1},
		{"white, default threshold", def, 255, 0},
		{"grey 50, default threshold 40", def, 50, 0},
		{"grey 50, threshold 60", custom, 50, 1},
		{"grey 70, threshold 60", custom, 70, 0},
	} {
		res := c.s.Frame(plugintest.SolidFrame(96, 54, c.grey, c.grey, c.grey))
		if res.ErrCode != "" {
			t.Fatalf("%s: %s: %s", c.name, res.ErrCode, res.ErrMsg)
		}
		if got := res.Fields["centre_luma"]; math.Abs(got-float64(c.grey)) > 0.5 {
			t.Errorf("%s: centre_luma %v, want %d", c.name, got, c.grey)
		}
		if got := res.Fields["dark"]; got != c.wantDark {
			t.Errorf("%s: dark %v, want %v", c.name, got, c.wantDark)
		}
	}
	def.Close()
	custom.Close()
}

// TestCentreOnly checks that only the centre third counts: a white centre
// on a black frame is bright.
func TestCentreOnly(t *testing.T) {
	h := plugintest.Start(t, plugintest.Build(t, "."))
	f := plugintest.SolidFrame(90, 60, 0, 0, 0)
	for y := 20; y < 40; y++ {
		for x := 30; x < 60; x++ {
			i := 3 * (y*90 + x)
			f.Pixels[i], f.Pixels[i+1], f.Pixels[i+2] = 255, 255, 255
		}
	}
	res := h.Open("cam", nil).Frame(f)
	if res.Fields["centre_luma"] < 254.5 || res.Fields["dark"] != 0 {
		t.Errorf("fields %v, want a bright centre", res.Fields)
	}
}

// A threshold the manifest's schema refuses never reaches OpenStream: the
// host refuses the stream first (and the SDK again, as here).
func TestBadThreshold(t *testing.T) {
	h := plugintest.Start(t, plugintest.Build(t, "."))
	for _, v := range []string{"dim", "-1", "300"} {
		_, err := h.TryOpen("cam", map[string]string{"threshold": v})
		want := `bad_attribute: attribute "threshold": want a number in 0..255, got "` + v + `"`
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("threshold %q: error %v, want %s", v, err, want)
		}
	}
	if _, err := h.TryOpen("cam", map[string]string{"treshold": "10"}); err == nil || !strings.Contains(err.Error(), `(did you mean "threshold"?)`) {
		t.Errorf("a misspelt attribute: %v", err)
	}
}
