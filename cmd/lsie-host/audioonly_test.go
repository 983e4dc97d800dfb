package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/internal/testenv"
	"github.com/lsie-mlf/lsie/sdk/transcript"
)

// waitEnded waits until stream id has ended (its segments stored) and
// returns its health.
func (h *runningHost) waitEnded(t *testing.T, id string) model.ComponentHealth {
	t.Helper()
	var c model.ComponentHealth
	testenv.Eventually(t, 3*time.Minute, "stream "+id+" to end", func() bool {
		var hh model.HostHealth
		h.get(t, "/api/v1/health", &hh)
		for _, x := range hh.Components {
			if x.Kind == "stream" && x.Name == id {
				c = x
			}
		}
		return c.Health == model.HealthEnded || c.Health == model.HealthError
	})
	return c
}

// segmentsOf fetches every stored segment of stream id, in full.
func (h *runningHost) segmentsOf(t *testing.T, id string) []model.Segment {
	t.Helper()
	var sl segmentList
	h.get(t, "/api/v1/streams/"+id+"/segments", &sl)
	segs := make([]model.Segment, len(sl.Segments))
	for i, s := range sl.Segments {
		h.get(t, fmt.Sprintf("/api/v1/segments/%s/%d", id, s.Index), &segs[i])
	}
	return segs
}

// An audio-only file runs: the audio plugin analyses every sample of every
// segment, the video plugin on the same stream says no_video and holds no
// segment open. Beside it a still image runs as a video through its image
// block, and `config check` refuses one without.
func TestAudioOnlyStreamThroughHost(t *testing.T) {
	dir := t.TempDir()
	wav := filepath.Join(dir, "tone.wav")
	gst(t, "audiotestsrc", "num-buffers=30", "samplesperbuffer=1600", "wave=sine", "freq=440", "volume=0.5", "!",
		"audio/x-raw,format=S16LE,rate=16000,channels=1", "!", "wavenc", "!", "filesink", "location="+wav)
	png := filepath.Join(dir, "still.png")
	gst(t, "videotestsrc", "num-buffers=1", "pattern=white", "!", "video/x-raw,width=160,height=120", "!", "pngenc", "!", "filesink", "location="+png)

	// A still image without an image block: config check says so.
	bad := writeConfig(t, t.TempDir(), fmt.Sprintf("stream \"pic\" {\n  source = \"file://%s\"\n  plugin \"visual\" {}\n}\n", png))
	if out, code := runHost(t, "config", "check", bad); code == 0 || !strings.Contains(out, `stream "pic": source: "file://`+png+`" is a still image (PNG)`) {
		t.Errorf("config check of a still image: exit %d\n%s", code, out)
	}

	h := startHost(t, writeConfig(t, dir, fmt.Sprintf(`segment { duration = "1s" }
store { sqlite = %q }
api { listen = "127.0.0.1:0" }
stream "tone" {
  source   = "file://%s"
  realtime = false
  plugin "visual" {}
  plugin "acoustic" {}
}
stream "pic" {
  source = "file://%s"
  image { fps = 2 }
  plugin "visual" {}
}
`, filepath.Join(dir, "lsie.db"), wav, png)))
	if c := h.waitEnded(t, "tone"); c.Health != model.HealthEnded || c.Counters["frames"] != 0 || c.Counters["audio_samples"] != 48000 {
		t.Errorf("tone: %s %q, counters %v", c.Health, c.Hint, c.Counters)
	}
	segs := h.segmentsOf(t, "tone")
	if len(segs) != 3 {
		t.Fatalf("tone: %d segments, want 3", len(segs))
	}
	for _, seg := range segs {
		ac, vis := seg.Plugins["acoustic"], seg.Plugins["visual"]
		if seg.Status != model.SegmentComplete || seg.FramesSeen != 0 || seg.AudioSeconds != 1 || seg.AudioGapSeconds != 0 {
			t.Errorf("tone/%d: %s %v, %d frames, audio %v s (gaps %v)", seg.Index, seg.Status, seg.Reasons, seg.FramesSeen, seg.AudioSeconds, seg.AudioGapSeconds)
		}
		if ac.Status != "" || ac.AudioSeconds != 1 || len(ac.Items) != 100 || math.Abs(ac.Aggregates["f0_hz"].P50-440) > 4.4 {
			t.Errorf("tone/%d: acoustic %q analysed %v s in %d hops, F0 p50 %.1f", seg.Index, ac.Status, ac.AudioSeconds, len(ac.Items), ac.Aggregates["f0_hz"].P50)
		}
		if vis.Status != model.PluginNoVideo || vis.FramesAnalysed != 0 || len(vis.Items) != 0 {
			t.Errorf("tone/%d: visual %+v, want no_video", seg.Index, vis)
		}
	}

	// The picture, 2 frames a second on the wall-clock grid: two windows
	// closed with frames analysed.
	var analysed int
	testenv.Eventually(t, 30*time.Second, "two windows of the still image", func() bool {
		analysed = 0
		var sl segmentList
		h.get(t, "/api/v1/streams/pic/segments", &sl)
		for _, s := range sl.Segments {
			var seg model.Segment
			h.get(t, fmt.Sprintf("/api/v1/segments/pic/%d", s.Index), &seg)
			if seg.Plugins["visual"].FramesAnalysed > 0 {
				analysed++
			}
		}
		return analysed >= 2
	})
	h.stop(t)
}

// A speech WAV (the demo's jfk.wav) through the host: acoustic and
// transcription analyse it, the video plugin beside them says no_video,
// every segment is stored with its audio results.
func TestAudioOnlySpeechThroughHost(t *testing.T) {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	wav := filepath.Join(repo, "var/media/jfk.wav")
	modelDir := filepath.Join(repo, "var/models")
	for _, f := range []string{wav, filepath.Join(modelDir, "silero/silero_vad_v5.onnx"), "/usr/share/pocketsphinx/model/en-us/en-us.lm.bin"} {
		if _, err := os.Stat(f); err != nil {
			testenv.Missing(t, "%s (scripts/setup.sh)", f)
		}
	}
	t.Setenv("LSIE_PLUGIN_MODEL_DIR", modelDir)
	dir := t.TempDir()
	h := startHost(t, writeConfig(t, dir, fmt.Sprintf(`segment {
  duration = "2s"
  max_close_delay = "30s"
}
store { sqlite = %q }
api { listen = "127.0.0.1:0" }
stream "speech" {
  source   = "file://%s"
  realtime = false
  plugin "acoustic" {}
  plugin "transcription" {}
  plugin "visual" {}
}
`, filepath.Join(dir, "lsie.db"), wav)))
	if c := h.waitEnded(t, "speech"); c.Health != model.HealthEnded || c.Counters["frames"] != 0 || c.Counters["audio_samples"] != 176000 {
		t.Errorf("speech: %s %q, counters %v", c.Health, c.Hint, c.Counters)
	}
	segs := h.segmentsOf(t, "speech")
	if len(segs) != 6 { // 11.0 s in 2 s segments
		t.Fatalf("speech: %d segments, want 6", len(segs))
	}
	var said []string
	for i, seg := range segs {
		want := 2.0
		if i == len(segs)-1 {
			want = 1 // the clip ends at 11.0 s, inside the last segment
		}
		last := i == len(segs)-1
		if seg.Status != model.SegmentComplete && !(last && len(seg.Reasons) == 1 && seg.Reasons[0] == model.ReasonEndOfStream) {
			t.Errorf("speech/%d: %s %v", i, seg.Status, seg.Reasons)
		}
		ac, tr, vis := seg.Plugins["acoustic"], seg.Plugins["transcription"], seg.Plugins["visual"]
		if seg.AudioSeconds != want || ac.AudioSeconds != want || tr.AudioSeconds != want || len(ac.Items) != int(want*100) {
			t.Errorf("speech/%d: audio %v s, acoustic %v s in %d hops, transcription %v s", i, seg.AudioSeconds, ac.AudioSeconds, len(ac.Items), tr.AudioSeconds)
		}
		if vis.Status != model.PluginNoVideo || vis.FramesAnalysed != 0 || ac.Status != "" || tr.Status != "" {
			t.Errorf("speech/%d: statuses visual %q acoustic %q transcription %q", i, vis.Status, ac.Status, tr.Status)
		}
		for _, it := range tr.Items {
			if it.Topic == transcript.TopicFinal {
				said = append(said, it.Text)
			}
		}
	}
	text := strings.ToLower(strings.Join(said, " "))
	t.Logf("finals: %q", text)
	if !strings.Contains(text, "country") {
		t.Errorf("transcript %q lacks %q", text, "country")
	}
	h.stop(t)
}
