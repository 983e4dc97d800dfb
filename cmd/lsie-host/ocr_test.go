package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/internal/testenv"
)

// ocrSetup builds the ocr plugin into the test's plugin folder and points
// plugins at the model folder; a missing model or textoverlay is
// testenv.Missing.
func ocrSetup(t *testing.T) {
	t.Helper()
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	modelDir := filepath.Join(repo, "var/models")
	for _, f := range []string{"ocr/ch_PP-OCRv4_det_infer.onnx", "ocr/ch_ppocr_mobile_v2.0_cls_infer.onnx",
		"ocr/ch_PP-OCRv4_rec_infer.onnx", "ocr/ppocr_keys_v1.txt", "onnxruntime/libonnxruntime.so.1"} {
		if _, err := os.Stat(filepath.Join(modelDir, f)); err != nil {
			testenv.Missing(t, "%s (scripts/fetch-models.sh)", filepath.Join(modelDir, f))
		}
	}
	if err := exec.Command("gst-inspect-1.0", "textoverlay").Run(); err != nil {
		testenv.Missing(t, "GStreamer's textoverlay (gstreamer1.0-x)")
	}
	t.Setenv("LSIE_PLUGIN_MODEL_DIR", modelDir)
}

// The ocr plugin through the host: a 3 s H.264 clip with a lower third
// and a LIVE bug drawn by textoverlay, read at 5 fps with every = "1s".
// Every analysed frame stores both lines (runs read them, frames between
// repeat them), the stored objects read the overlaid strings where they
// were drawn, each string keeps one track, and the models ran once per
// second of media.
func TestOCRThroughHost(t *testing.T) {
	ocrSetup(t)
	dir := t.TempDir()
	const lower, bug = "Jane Doe, Chief Economist", "LIVE"
	clipPath := filepath.Join(dir, "news.mp4")
	gst(t, "videotestsrc", "pattern=smpte", "num-buffers=90", "!", "video/x-raw,format=I420,width=640,height=360,framerate=30/1",
		"!", "textoverlay", fmt.Sprintf("text=%q", lower), `font-desc="DejaVu Sans Bold 24"`, "auto-resize=false",
		"valignment=bottom", "halignment=left", "shaded-background=true",
		"!", "textoverlay", fmt.Sprintf("text=%q", bug), `font-desc="DejaVu Sans Bold 28"`, "auto-resize=false",
		"valignment=top", "halignment=right",
		"!", "x264enc", "speed-preset=ultrafast", "!", "mp4mux", "!", "filesink", "location="+clipPath)
	h := startHost(t, writeConfig(t, dir, fmt.Sprintf(`segment {
  duration = "1s"
  max_close_delay = "30s"
}
store { sqlite = %q }
api { listen = "127.0.0.1:0" }
stream "news" {
  source   = "file:%s"
  realtime = false
  video {
    fps       = 5
    max_width = 640
  }
  plugin "ocr" { every = "1s" }
}
`, filepath.Join(dir, "lsie.db"), clipPath)))
	h.waitStreams(t)

	var sl segmentList
	h.get(t, "/api/v1/streams/news/segments", &sl)
	var frames, runs, lines int
	for _, seg := range sl.Segments {
		p := seg.Plugins["ocr"]
		if p.Errors != 0 {
			t.Errorf("segment %d: %d errors", seg.Index, p.Errors)
		}
		frames += p.FramesAnalysed
		if a, ok := p.Aggregates["ran"]; ok {
			runs += int(a.Mean*float64(a.N) + 0.5)
		}
		if a, ok := p.Aggregates["lines"]; ok {
			lines += int(a.Mean*float64(a.N) + 0.5)
		}
	}
	if frames != 15 || runs != 3 || lines != 2*frames {
		t.Errorf("%d frames analysed, %d runs, %d lines; want 15 frames (3 s at 5 fps), 3 runs (every 1 s), 2 lines a frame", frames, runs, lines)
	}

	var objs struct {
		Objects []model.ObjectRecord `json:"objects"`
	}
	h.get(t, "/api/v1/streams/news/objects?label=text&limit=10000", &objs)
	if len(objs.Objects) != 2*frames {
		t.Errorf("%d text objects stored, want %d (2 a frame)", len(objs.Objects), 2*frames)
	}
	tracks := map[string][]int64{}
	for _, r := range objs.Objects {
		o := r.Object
		if r.Plugin != "ocr" || o.Label != "text" || o.Score < 0.8 || o.Score > 1 {
			t.Errorf("object %+v", r)
		}
		switch o.Text {
		case lower: // bottom left, textoverlay's 25 px pads
			if o.X > 0.06 || o.Y < 0.75 || o.Y+o.H > 0.95 {
				t.Errorf("%q at %+v, want it at the bottom left", o.Text, o)
			}
		case bug: // top right
			if o.X < 0.75 || o.X+o.W > 0.97 || o.Y > 0.1 {
				t.Errorf("%q at %+v, want it at the top right", o.Text, o)
			}
		default:
			t.Errorf("object reads %q at %+v, want %q or %q", o.Text, o, lower, bug)
		}
		if !slices.Contains(tracks[o.Text], o.TrackID) {
			tracks[o.Text] = append(tracks[o.Text], o.TrackID)
		}
	}
	if len(tracks[lower]) != 1 || len(tracks[bug]) != 1 || tracks[lower][0] == tracks[bug][0] {
		t.Errorf("track ids by text %v, want one each", tracks)
	}
}
