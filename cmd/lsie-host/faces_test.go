package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lsie-mlf/lsie/host/model"
)

// The au plugin through the host on the demo clip (a slideshow of the six
// face photos): frames from shared memory, one face.frame@1 record per
// analysed frame, per-face fields aggregated per segment.
func TestFacesThroughHost(t *testing.T) {
	demo := demoWithModels(t, "blazeface/face_detection_front_128x128.onnx", "emotion/emotion.onnx")
	dir := t.TempDir()
	h := startHost(t, writeConfig(t, dir, fmt.Sprintf(`segment {
  duration = "2s"
  max_close_delay = "30s"
}
store { sqlite = %q }
api { listen = "127.0.0.1:0" }
stream "faces" {
  source   = "file:%s"
  realtime = false
  video {
    fps       = 2
    max_width = 640
  }
  plugin "au" { baseline_seconds = 1 }
}
`, filepath.Join(dir, "lsie.db"), demo)))
	h.waitStreams(t)

	var sl segmentList
	h.get(t, "/api/v1/streams/faces/segments", &sl)
	if len(sl.Segments) != 6 {
		t.Fatalf("%d segments, want 6", len(sl.Segments))
	}
	var frames, withFaces, objects int
	ids := map[string]bool{}
	for i := range sl.Segments {
		var seg model.Segment
		h.get(t, fmt.Sprintf("/api/v1/segments/faces/%d?include=objects", i), &seg)
		p := seg.Plugins["au"]
		// The faces as objects: stored one row each, summarised per
		// segment, and the summary agrees with the rows.
		objects += len(seg.Objects)
		if len(seg.Objects) > 0 {
			if p.Objects == nil {
				t.Fatalf("faces/%d: %d objects and no object stats", i, len(seg.Objects))
			}
			fs := p.Objects.Labels["face"]
			if fs.Detections != len(seg.Objects) || fs.Items < 1 || fs.Items > p.FramesAnalysed ||
				fs.MaxSimultaneous < 1 || fs.Tracks < 1 || len(p.Objects.Tracks) != fs.Tracks {
				t.Errorf("faces/%d: %d objects, stats %+v", i, len(seg.Objects), p.Objects)
			}
			for _, o := range seg.Objects {
				if o.Plugin != "au" || o.Index != int64(i) || o.Object.Label != "face" || o.Wall.Before(seg.WallStart) ||
					!o.Wall.Before(seg.WallEnd) || o.Object.W <= 0 || (o.Object.TrackID > 0 && len(o.Object.Keypoints) != 5) {
					t.Errorf("faces/%d: object %+v", i, o)
				}
			}
		}
		var records int
		for _, it := range p.Items {
			if it.Topic == "face.frame@1" {
				records++
				var fp struct {
					Faces []struct {
						ID        int          `json:"id"`
						Landmarks [][2]float32 `json:"landmarks"`
					} `json:"faces"`
				}
				if err := json.Unmarshal(it.Payload, &fp); err != nil || fp.Faces == nil {
					t.Fatalf("faces/%d: payload %s (%v)", i, it.Payload, err)
				}
				if len(fp.Faces) > 0 {
					withFaces++
				}
			}
		}
		// One record per analysed frame, in the frame's segment.
		if records != p.FramesAnalysed || p.Errors != 0 {
			t.Errorf("faces/%d: %d face.frame records for %d frames, %d errors", i, records, p.FramesAnalysed, p.Errors)
		}
		frames += p.FramesAnalysed
		for k, a := range p.Aggregates {
			if strings.HasSuffix(k, ".present") {
				ids[strings.TrimSuffix(k, ".present")] = true
				if a.N < 1 || a.N > p.FramesAnalysed {
					t.Errorf("faces/%d: %s in %d of %d frames", i, k, a.N, p.FramesAnalysed)
				}
				if au, ok := p.Aggregates[strings.TrimSuffix(k, ".present")+".au12"]; !ok || au.P90 < 0 || au.P90 > 5 {
					t.Errorf("faces/%d: %s au12 aggregate %+v", i, k, au)
				}
			}
		}
	}
	// 11 s at 2 fps; every photo holds faces.
	if frames != 22 || withFaces < 20 || len(ids) < 6 {
		t.Errorf("%d frames, %d with faces, %d face ids", frames, withFaces, len(ids))
	}
	// The stream's objects endpoint serves the same rows, by track.
	var all struct {
		Objects []model.ObjectRecord `json:"objects"`
	}
	h.get(t, "/api/v1/streams/faces/objects?label=face&limit=10000", &all)
	var one struct {
		Objects []model.ObjectRecord `json:"objects"`
	}
	h.get(t, "/api/v1/streams/faces/objects?track=1", &one)
	if objects < withFaces || len(all.Objects) != objects || len(one.Objects) == 0 || len(one.Objects) >= objects {
		t.Errorf("%d objects in segments, %d from the stream, %d of track 1", objects, len(all.Objects), len(one.Objects))
	}
}

// An operator command through the host's API reaches the plugin on a live
// stream: the au plugin's "baseline" answers with the faces it set; a
// plugin without commands is 501, an unknown one 404.
func TestPluginCommandThroughHost(t *testing.T) {
	demo := demoWithModels(t, "blazeface/face_detection_front_128x128.onnx", "emotion/emotion.onnx")
	dir := t.TempDir()
	h := startHost(t, writeConfig(t, dir, fmt.Sprintf(`segment { duration = "1s" }
store { sqlite = %q }
api { listen = "127.0.0.1:0" }
stream "live" {
  source   = "file:%s"
  realtime = true
  loop     = true
  video { fps = 5 }
  plugin "au" {}
  plugin "acoustic" {}
}
`, filepath.Join(dir, "lsie.db"), demo)))
	h.waitSegments(t, "live", 2) // frames with faces have been analysed
	path := "/api/v1/streams/live/plugins/%s/commands"
	code, body := h.doBody(t, "POST", fmt.Sprintf(path, "au"), "", []byte(`{"command":"baseline","args":{"mode":"now"}}`))
	var out struct {
		Result struct {
			Mode  string
			Faces []struct{ ID, Frames int }
		}
	}
	if err := json.Unmarshal(body, &out); code != 200 || err != nil || out.Result.Mode != "now" || len(out.Result.Faces) == 0 || out.Result.Faces[0].Frames == 0 {
		t.Fatalf("baseline now: %d %s (%v)", code, body, err)
	}
	if code, body := h.doBody(t, "POST", fmt.Sprintf(path, "acoustic"), "", []byte(`{"command":"baseline"}`)); code != 501 {
		t.Errorf("acoustic: %d %s, want 501", code, body)
	}
	if code, body := h.doBody(t, "POST", fmt.Sprintf(path, "visual"), "", []byte(`{"command":"baseline"}`)); code != 404 {
		t.Errorf("plugin not in the stream: %d %s, want 404", code, body)
	}
	if code, body := h.doBody(t, "POST", fmt.Sprintf(path, "au"), "", []byte(`{"command":"baseline","args":{"mode":"soon"}}`)); code != 400 || !strings.Contains(string(body), "mode") {
		t.Errorf("bad args: %d %s, want 400 naming mode", code, body)
	}
	h.stop(t)
}
