package main

import (
	"fmt"
	"image"
	"image/draw"
	_ "image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/internal/testenv"
)

// walkScene is the detect e2e scene: a 640×360 clip at 5 fps in which a
// person (python3-skimage's astronaut photo, 180 px square) moves left to
// right along a straight line across the lower half, while a cat
// (skimage's chelsea, 158 px wide) sits still in the top right corner.
type walkScene struct {
	w, h, frames, fps int
	size              int // the person's side in the frame
	y                 int // the person's top
	x0, step          float64
	catX, catY        int
}

var walk = walkScene{w: 640, h: 360, frames: 40, fps: 5, size: 180, y: 170, x0: 10, step: 11, catX: 470, catY: 10}

// personX is the person's left edge in frame i.
func (s walkScene) personX(i int) float64 { return s.x0 + s.step*float64(i) }

// loadRGBA decodes a python3-skimage data image.
func loadRGBA(t *testing.T, name string) *image.RGBA {
	t.Helper()
	p := filepath.Join("/usr/lib/python3/dist-packages/skimage/data", name)
	f, err := os.Open(p)
	if err != nil {
		testenv.Missing(t, "%s (apt-get install python3-skimage)", p)
	}
	defer f.Close()
	src, _, err := image.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	out := image.NewRGBA(src.Bounds())
	draw.Draw(out, out.Bounds(), src, src.Bounds().Min, draw.Src)
	return out
}

// paste draws src scaled to w pixels wide (area average) into the packed
// RGB frame px (fw wide) at (x, y).
func paste(px []byte, fw, fh int, src *image.RGBA, w, x, y int) {
	b := src.Bounds()
	k := float64(b.Dx()) / float64(w)
	h := int(float64(b.Dy()) / k)
	for oy := range h {
		for ox := range w {
			tx, ty := x+ox, y+oy
			if tx < 0 || ty < 0 || tx >= fw || ty >= fh {
				continue
			}
			var sum [3]int
			n := 0
			for sy := int(float64(oy) * k); sy < int(float64(oy+1)*k); sy++ {
				for sx := int(float64(ox) * k); sx < int(float64(ox+1)*k); sx++ {
					c := src.RGBAAt(b.Min.X+sx, b.Min.Y+sy)
					sum[0], sum[1], sum[2], n = sum[0]+int(c.R), sum[1]+int(c.G), sum[2]+int(c.B), n+1
				}
			}
			for c := range 3 {
				px[3*(ty*fw+tx)+c] = byte(sum[c] / max(n, 1))
			}
		}
	}
}

// render writes the scene as an H.264 MP4: frames composed here, encoded
// by GStreamer from raw RGB on its stdin.
func (s walkScene) render(t *testing.T, path string) {
	t.Helper()
	person, cat := loadRGBA(t, "astronaut.png"), loadRGBA(t, "chelsea.png")
	cmd := exec.Command("gst-launch-1.0", "-q", "fdsrc", "fd=0", "!",
		"rawvideoparse", "format=rgb", fmt.Sprintf("width=%d", s.w), fmt.Sprintf("height=%d", s.h), fmt.Sprintf("framerate=%d/1", s.fps), "!",
		"videoconvert", "!", "video/x-raw,format=I420", "!", "x264enc", "speed-preset=ultrafast", "!", "mp4mux", "!", "filesink", "location="+path)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out := &testenv.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	frame := make([]byte, 3*s.w*s.h)
	for i := range s.frames {
		// A vertical grey gradient: a plain wall and floor.
		for y := range s.h {
			v := byte(150 - 60*y/s.h)
			for x := range s.w {
				frame[3*(y*s.w+x)], frame[3*(y*s.w+x)+1], frame[3*(y*s.w+x)+2] = v, v, v+10
			}
		}
		paste(frame, s.w, s.h, cat, 158, s.catX, s.catY)
		paste(frame, s.w, s.h, person, s.size, int(math.Round(s.personX(i))), s.y)
		if _, err := in.Write(frame); err != nil {
			t.Fatalf("gst-launch-1.0: %v\n%s", err, out.String())
		}
	}
	in.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("gst-launch-1.0: %v\n%s", err, out.String())
	}
}

// TestDetectThroughHost runs the detect plugin through the host on the
// walk scene (lossless, so every frame is analysed): the person and the
// cat are stored as objects, each with one track id for the whole clip;
// the person's box follows the path; the count fields agree with the
// objects, frame by frame in the segments' aggregates.
func TestDetectThroughHost(t *testing.T) {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	modelDir := filepath.Join(repo, "var/models")
	for _, f := range []string{"centernet/centernet.onnx", "onnxruntime/libonnxruntime.so.1"} {
		if _, err := os.Stat(filepath.Join(modelDir, f)); err != nil {
			testenv.Missing(t, "%s (scripts/fetch-models.sh)", filepath.Join(modelDir, f))
		}
	}
	t.Setenv("LSIE_PLUGIN_MODEL_DIR", modelDir)
	dir := t.TempDir()
	clipPath := filepath.Join(dir, "walk.mp4")
	walk.render(t, clipPath)

	h := startHost(t, writeConfig(t, dir, fmt.Sprintf(`segment {
  duration = "2s"
  max_close_delay = "30s"
}
store { sqlite = %q }
api { listen = "127.0.0.1:0" }
stream "walk" {
  source   = "file:%s"
  realtime = false
  video {
    fps       = %d
    max_width = 640
  }
  plugin "detect" { labels = ["person", "cat"] }
}
`, filepath.Join(dir, "lsie.db"), clipPath, walk.fps)))
	h.waitStreams(t)

	// Segments: every frame analysed without error; count fields present
	// on every frame; per label, one track in every segment.
	var sl segmentList
	h.get(t, "/api/v1/streams/walk/segments", &sl)
	if len(sl.Segments) < 2 {
		t.Fatalf("%d segments", len(sl.Segments))
	}
	var frames int
	var counted = map[string]float64{}
	for i := range sl.Segments {
		var seg model.Segment
		h.get(t, fmt.Sprintf("/api/v1/segments/walk/%d", i), &seg)
		p := seg.Plugins["detect"]
		if p.Errors != 0 || p.FramesAnalysed == 0 {
			t.Fatalf("walk/%d: %d frames analysed, %d errors", i, p.FramesAnalysed, p.Errors)
		}
		frames += p.FramesAnalysed
		for _, l := range []string{"person", "cat"} {
			a, ok := p.Aggregates["count_"+l]
			if !ok || a.N != p.FramesAnalysed || a.Min < 0 || a.Max > 1 {
				t.Errorf("walk/%d: count_%s aggregate %+v over %d frames, want 0 or 1 on each", i, l, a, p.FramesAnalysed)
			}
			counted[l] += a.Mean * float64(a.N)
			if p.Objects == nil || p.Objects.Labels[l].Tracks != 1 {
				t.Errorf("walk/%d: %s object stats %+v, want one track", i, l, p.Objects)
			}
		}
		if _, ok := p.Aggregates["count_dog"]; ok {
			t.Errorf("walk/%d: count_dog stored, not asked for", i)
		}
	}
	if frames != walk.frames {
		t.Errorf("%d frames analysed, want %d", frames, walk.frames)
	}

	// Objects: one id per label for the whole clip; the person seen on
	// (nearly) every frame, their box moving with the photo.
	objs := func(label string) []model.ObjectRecord {
		var out struct {
			Objects []model.ObjectRecord `json:"objects"`
		}
		h.get(t, "/api/v1/streams/walk/objects?plugin=detect&limit=10000&label="+label, &out)
		return out.Objects
	}
	for _, l := range []string{"person", "cat"} {
		recs := objs(l)
		ids := map[int64]int{}
		for _, r := range recs {
			ids[r.Object.TrackID]++
		}
		if len(recs) < walk.frames*9/10 || len(ids) != 1 || float64(len(recs)) != math.Round(counted[l]) {
			t.Errorf("%s: %d objects in %d frames, track ids %v, count_%s sums to %v", l, len(recs), walk.frames, ids, l, counted[l])
		}
	}
	people := objs("person")
	slices.SortFunc(people, func(a, b model.ObjectRecord) int { return int(a.PTS - b.PTS) })
	var offsets []float64
	for _, r := range people {
		i := int(math.Round(r.PTS.Seconds() * float64(walk.fps)))
		o := r.Object
		cx, cy := (o.X+o.W/2)*float64(walk.w), (o.Y+o.H/2)*float64(walk.h)
		// The box's centre is where the photo is, at the frame's PTS.
		off := cx - walk.personX(i)
		offsets = append(offsets, off)
		if off < 0 || off > float64(walk.size) || cy < float64(walk.y) || cy > float64(walk.y+walk.size) {
			t.Errorf("frame %d: person box centre (%.0f, %.0f), photo at x %.0f..%.0f, y %d..%d",
				i, cx, cy, walk.personX(i), walk.personX(i)+float64(walk.size), walk.y, walk.y+walk.size)
		}
	}
	if len(offsets) > 0 {
		lo, hi := slices.Min(offsets), slices.Max(offsets)
		t.Logf("person box centre − photo left edge: %.1f..%.1f px over %d frames (the photo moves %.0f px)",
			lo, hi, len(offsets), walk.step*float64(walk.frames-1))
		if hi-lo > 25 {
			t.Errorf("the person's box wanders %.0f px about the photo, want ≤ 25", hi-lo)
		}
	}
}
