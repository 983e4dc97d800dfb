package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
)

// moveSpans are the media-time spans in which movingClip's square moves;
// it rests everywhere else.
var moveSpans = [][2]time.Duration{
	{2 * time.Second, 3 * time.Second},
	{5 * time.Second, 5400 * time.Millisecond},
	{8 * time.Second, 9 * time.Second},
}

// movingClip writes a 10 s, 10 fps H.264 clip: a fixed texture with a white
// 40 px square that moves 20 px a frame during moveSpans and rests
// otherwise.
func movingClip(t *testing.T, dir string) string {
	t.Helper()
	const w, h, fps, n = 320, 240, 10, 100
	raw := filepath.Join(dir, "moving.rgb")
	f, err := os.Create(raw)
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]byte, 3*w*h)
	x := 20
	for i := range n {
		pts := time.Duration(i) * time.Second / fps
		for _, s := range moveSpans {
			if pts > s[0] && pts <= s[1] {
				x = (x + 20) % (w - 40)
			}
		}
		for p := range w * h {
			v := byte(40 + (p*7919)%37) // texture, identical in every frame
			frame[3*p], frame[3*p+1], frame[3*p+2] = v, v, v
		}
		for y := 100; y < 140; y++ {
			for c := x; c < x+40; c++ {
				copy(frame[3*(y*w+c):], []byte{255, 255, 255})
			}
		}
		if _, err := f.Write(frame); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "moving.mp4")
	gst(t, "filesrc", "location="+raw, "!", "rawvideoparse", fmt.Sprintf("width=%d", w), fmt.Sprintf("height=%d", h), "format=rgb",
		fmt.Sprintf("framerate=%d/1", fps), "!", "videoconvert", "!", "x264enc", "speed-preset=ultrafast", "!", "mp4mux",
		"!", "filesink", "location="+out)
	return out
}

// Motion gating through the host: a gated plugin gets only the frames where
// something moves. On a still scene it runs ≥ 90 % fewer times than
// ungated on the same source; on a clip with known movement it gets at
// least one frame in every span and (but the first) none outside; every
// frame is analysed or counted as gated, and the segments stay complete.
func TestMotionGateThroughHost(t *testing.T) {
	dir := t.TempDir()
	moving := movingClip(t, dir)
	h := startHost(t, writeConfig(t, dir, fmt.Sprintf(`segment { duration = "2s" }
store { sqlite = %q }
api { listen = "127.0.0.1:0" }
stream "still" {
  source   = "test://smpte?width=320&height=240&fps=10&duration=10s"
  realtime = false
  plugin "visual" {
    gate { motion = 2.5 }
  }
}
stream "still_ungated" {
  source   = "test://smpte?width=320&height=240&fps=10&duration=10s"
  realtime = false
  plugin "visual" {}
}
stream "moving" {
  source   = "file:%s"
  realtime = false
  zone "middle" {
    polygon = [[0, 0.3], [1, 0.3], [1, 0.7], [0, 0.7]]
  }
  zone "top" {
    polygon = [[0, 0], [1, 0], [1, 0.25]]
  }
  plugin "visual" {
    gate {
      motion = 2.5
      zones  = ["middle"]
    }
  }
}
stream "moving_top" {
  source   = "file:%s"
  realtime = false
  zone "top" {
    polygon = [[0, 0], [1, 0], [1, 0.25], [0, 0.25]]
  }
  plugin "visual" {
    gate {
      motion = 2.5
      every  = "3s"
      zones  = ["top"]
    }
  }
}
`, filepath.Join(dir, "lsie.db"), moving, moving)))
	h.waitStreams(t)

	type tally struct {
		analysed, gated int
		pts             []time.Duration
	}
	count := func(stream string) tally {
		var sl segmentList
		h.get(t, "/api/v1/streams/"+stream+"/segments", &sl)
		if len(sl.Segments) != 5 {
			t.Fatalf("%s: %d segments, want 5", stream, len(sl.Segments))
		}
		var n tally
		for i := range sl.Segments {
			var seg model.Segment
			h.get(t, fmt.Sprintf("/api/v1/segments/%s/%d", stream, i), &seg)
			p := seg.Plugins["visual"]
			if seg.Status != model.SegmentComplete || p.Errors != 0 || p.FramesAnalysed+p.FramesGated != seg.FramesSeen {
				t.Errorf("%s/%d: %s %v, %d frames seen, visual %d analysed %d gated %d errors", stream, i, seg.Status, seg.Reasons,
					seg.FramesSeen, p.FramesAnalysed, p.FramesGated, p.Errors)
			}
			n.analysed += p.FramesAnalysed
			n.gated += p.FramesGated
			for _, it := range p.Items {
				n.pts = append(n.pts, it.PTS)
			}
		}
		return n
	}
	still, ungated := count("still"), count("still_ungated")
	if ungated.analysed != 50 || ungated.gated != 0 || still.analysed+still.gated != 50 || still.analysed*10 > ungated.analysed {
		t.Errorf("still scene: gated plugin ran %d times (%d gated), ungated %d: want ≥ 90 %% fewer", still.analysed, still.gated, ungated.analysed)
	}
	t.Logf("still scene: %d of %d frames analysed behind the gate", still.analysed, ungated.analysed)

	// The moving clip: analysis frames every 200 ms. A frame shows movement
	// when the square moved since the previous analysis frame.
	mov := count("moving")
	inSpan := func(pts time.Duration) int {
		for i, s := range moveSpans {
			if pts > s[0] && pts <= s[1]+200*time.Millisecond {
				return i
			}
		}
		return -1
	}
	hit := make([]int, len(moveSpans))
	outside := 0
	for _, pts := range mov.pts {
		if i := inSpan(pts); i >= 0 {
			hit[i]++
		} else if pts > 0 {
			outside++
		}
	}
	for i, n := range hit {
		if n == 0 {
			t.Errorf("movement span %v–%v: no frame reached the gated plugin (frames at %v)", moveSpans[i][0], moveSpans[i][1], mov.pts)
		}
	}
	if outside > 0 || mov.analysed != len(mov.pts) {
		t.Errorf("%d frames outside the movement spans passed the gate (frames at %v)", outside, mov.pts)
	}
	t.Logf("moving clip: %d frames analysed, %d gated; per span %v", mov.analysed, mov.gated, hit)

	// Watching only the top, where nothing moves: the first frame and one
	// every 3 s.
	top := count("moving_top")
	if top.analysed != 4 || len(top.pts) != 4 || top.pts[0] != 0 || top.pts[1] != 3*time.Second || top.pts[3] != 9*time.Second {
		t.Errorf("zone without movement: frames at %v, want 0s, 3s, 6s, 9s", top.pts)
	}

	// Counted in health and /metrics.
	var hh model.HostHealth
	h.get(t, "/api/v1/health", &hh)
	for _, c := range hh.Components {
		if c.Kind == "stream" && c.Name == "still" && c.Counters["plugin.visual.gated"] != int64(still.gated) {
			t.Errorf("still: health counters %v, want plugin.visual.gated %d", c.Counters, still.gated)
		}
	}
	resp, err := http.Get(h.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := fmt.Sprintf(`lsie_frames_gated_total{plugin="visual",stream="still"} %d`, still.gated); !strings.Contains(string(body), want) {
		t.Errorf("/metrics lacks %s", want)
	}
}
