package paddle

import (
	"testing"
	"time"
)

// BenchmarkRead is the cost of one run on one core (ONNX Runtime on one
// thread; run with -cpu 1): frames of the textoverlay set without text
// (detection alone), with one and with three lines, and a 1280×720 frame
// (the detector's input scaled to 960×544).
func BenchmarkRead(b *testing.B) {
	needGStreamer(b)
	e := testEngine(b)
	dir := b.TempDir()
	byName := map[string]scene{}
	for _, sc := range overlaySet {
		byName[sc.name] = sc
	}
	blank := byName["lower-third"]
	blank.name, blank.texts = "blank", nil
	for _, sc := range []scene{blank, byName["lower-third"], byName["basketball"], byName["keynote-720p"]} {
		b.Run(sc.name, func(b *testing.B) {
			im, err := render(dir, sc.name, sc, sc.texts, true)
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := e.Read(im, DefaultConfig); err != nil { // warm: ONNX Runtime plans a new shape once
				b.Fatal(err)
			}
			var tm Timing
			for b.Loop() {
				lines, t, err := e.Read(im, DefaultConfig)
				if err != nil || len(lines) != len(sc.texts) {
					b.Fatalf("%d lines (%v), want %d", len(lines), err, len(sc.texts))
				}
				tm.Det += t.Det
				tm.Cls += t.Cls
				tm.Rec += t.Rec
			}
			per := func(d time.Duration) float64 { return float64(d) / 1e6 / float64(b.N) }
			b.ReportMetric(per(tm.Det), "detect-ms/op")
			b.ReportMetric(per(tm.Cls), "angle-ms/op")
			b.ReportMetric(per(tm.Rec), "read-ms/op")
		})
	}
}
