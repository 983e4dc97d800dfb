package capture

import (
	"testing"
	"time"
)

func TestOutputSize(t *testing.T) {
	tests := []struct {
		name         string
		d            dims
		maxWidth     int
		wantW, wantH int
	}{
		{name: "720p to 640", d: dims{1280, 720, 1, 1}, maxWidth: 640, wantW: 640, wantH: 360},
		{name: "1080p to 640", d: dims{1920, 1080, 1, 1}, maxWidth: 640, wantW: 640, wantH: 360},
		{name: "never up", d: dims{320, 240, 1, 1}, maxWidth: 640, wantW: 320, wantH: 240},
		{name: "no limit", d: dims{1920, 1080, 1, 1}, maxWidth: 0, wantW: 1920, wantH: 1080},
		{name: "odd source made even", d: dims{641, 361, 1, 1}, maxWidth: 0, wantW: 640, wantH: 360},
		{name: "odd height rounds to even", d: dims{1000, 563, 1, 1}, maxWidth: 500, wantW: 500, wantH: 282},
		{name: "anamorphic PAL", d: dims{720, 576, 16, 15}, maxWidth: 640, wantW: 640, wantH: 480},
		{name: "missing PAR", d: dims{640, 480, 0, 0}, maxWidth: 320, wantW: 320, wantH: 240},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, h := outputSize(tc.d, tc.maxWidth)
			if w != tc.wantW || h != tc.wantH {
				t.Errorf("outputSize(%+v, %d) = %dx%d, want %dx%d", tc.d, tc.maxWidth, w, h, tc.wantW, tc.wantH)
			}
		})
	}
}

func TestTimelineSeam(t *testing.T) {
	const p = 200 * time.Millisecond
	tl := timeline{period: p}
	var last time.Duration
	for pass := 0; pass < 3; pass++ {
		for i := 0; i < 5; i++ {
			pts, _, ok := tl.frame(time.Duration(i)*p, 2, 2)
			if !ok {
				t.Fatalf("pass %d frame %d rejected", pass, i)
			}
			if pass+i > 0 && pts-last != p {
				t.Fatalf("pass %d frame %d: gap %v", pass, i, pts-last)
			}
			last = pts
			tl.advance(pts + p)
		}
		// The pipeline reports a 1 s pass; the seam keeps one period.
		reached := tl.end(time.Second)
		if want := time.Duration(pass+1) * time.Second; reached != want {
			t.Fatalf("pass %d reached %v, want %v", pass, reached, want)
		}
		tl.seam(reached)
	}
	st := tl.stats()
	if st.Frames != 15 || st.Loops != 3 || st.LastPTS != 2800*time.Millisecond {
		t.Errorf("stats %+v", st)
	}
}

func TestTimelineRejectsBackwards(t *testing.T) {
	tl := timeline{period: 100 * time.Millisecond}
	if _, _, ok := tl.frame(500*time.Millisecond, 2, 2); !ok {
		t.Fatal("first frame rejected")
	}
	if !tl.advance(600 * time.Millisecond) {
		t.Fatal("advance to 600ms not reported")
	}
	if tl.advance(600 * time.Millisecond) {
		t.Error("repeated progress reported")
	}
	for _, r := range []time.Duration{500 * time.Millisecond, 550 * time.Millisecond} {
		if _, _, ok := tl.frame(r, 2, 2); ok {
			t.Errorf("frame at %v accepted after progress 600ms", r)
		}
	}
	// An unknown pass length falls back to the last frame's end.
	if got := tl.end(0); got != 600*time.Millisecond {
		t.Errorf("end(0) = %v, want 600ms", got)
	}
	if st := tl.stats(); st.Discarded != 2 || st.Frames != 1 {
		t.Errorf("stats %+v", st)
	}
}
