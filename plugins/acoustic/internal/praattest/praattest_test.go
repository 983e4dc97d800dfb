package praattest

import (
	"math"
	"strings"
	"testing"
)

const sample = `mean_f0_hz 236.5
frames 2
voiced_frames 1
pulses 10
jitter_local 0.0187
shimmer_local_db --undefined--
hnr_db 11.3
frame 0.020000 0 -200.0000
frame 0.030000 192.6996 2.4454
`

func TestParse(t *testing.T) {
	r, err := Parse(sample)
	if err != nil {
		t.Fatal(err)
	}
	if r.MeanF0 != 236.5 || r.VoicedFrames != 1 || r.Pulses != 10 || r.Jitter != 0.0187 || r.HNR != 11.3 || !math.IsNaN(r.ShimmerDB) {
		t.Errorf("report %+v", r)
	}
	if len(r.Frames) != 2 || r.Frames[1] != (Frame{T: 0.03, F0: 192.6996, HNR: 2.4454}) {
		t.Errorf("frames %+v", r.Frames)
	}
	for _, bad := range []string{"", "mean_f0_hz x\n", "frame 1 2\n", "what 1\n", sample[:40]} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(sample)
	f.Add("frame 1 2 3\nhnr_db --undefined--\n")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			return
		}
		lines := 0
		for _, l := range strings.Split(s, "\n") {
			if f := strings.Fields(l); len(f) > 0 && f[0] == "frame" {
				lines++
			}
		}
		if len(r.Frames) != lines {
			t.Fatalf("%d frames parsed from %d frame lines", len(r.Frames), lines)
		}
	})
}
