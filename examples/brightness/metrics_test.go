package main

import (
	"testing"

	"github.com/lsie-mlf/lsie/sdk/plugintest"
)

// The plugin's own metrics, per stream, as the host scrapes them; a closed
// stream's series are gone.
func TestMetrics(t *testing.T) {
	h := plugintest.Start(t, plugintest.Build(t, "."))
	a := h.Open("a", nil)
	b := h.Open("b", nil)
	for _, grey := range []byte{0, 10, 200} {
		a.Frame(plugintest.SolidFrame(96, 54, grey, grey, grey))
	}
	b.Frame(plugintest.SolidFrame(96, 54, 255, 255, 255))

	m := h.Metrics()
	if d := m["brightness_dark_frames_total"]; d["a"].Value != 2 || d["a"].Kind != "counter" || d["b"].Value != 0 {
		t.Errorf("dark frames %+v", d)
	}
	s := m["brightness_frame_seconds"]
	if s["a"].Kind != "histogram" || s["a"].Count != 3 || s["b"].Count != 1 || s["a"].Buckets[0.01] != 3 || s["a"].Sum <= 0 {
		t.Errorf("frame seconds %+v", s)
	}
	a.Close()
	if _, ok := h.Metrics()["brightness_frame_seconds"]["a"]; ok {
		t.Error("a closed stream's series is still reported")
	}
}
