package segment

import (
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
)

func obj(label string, track int64, score float64) model.Object {
	return model.Object{Label: label, TrackID: track, Score: score, W: 0.1, H: 0.1}
}

func TestObjectStats(t *testing.T) {
	ms := time.Millisecond
	items := []model.Item{
		{PTS: 0, Objects: []model.Object{obj("person", 1, 0.9), obj("person", 2, 0.7), obj("car", 0, 0.5)}},
		{PTS: 100 * ms, Objects: []model.Object{obj("person", 1, 0.8)}},
		{PTS: 200 * ms, Error: "plugin_error: x", Objects: []model.Object{obj("person", 9, 1)}},
		{PTS: 300 * ms},
		{PTS: 400 * ms, Objects: []model.Object{obj("person", 1, 0.6), obj("person", 3, 0.6), obj("person", 4, 0.6)}},
		{PTS: 500 * ms, Late: true, Objects: []model.Object{obj("person", 1, 0.6)}},
	}
	st := ObjectStats(items)
	if st == nil {
		t.Fatal("no stats")
	}
	p := st.Labels["person"]
	if p.Detections != 6 || p.Items != 3 || p.MaxSimultaneous != 3 || p.Tracks != 4 {
		t.Errorf("person %+v", p)
	}
	if want := (0.9 + 0.7 + 0.8 + 0.6*3) / 6; p.MeanScore < want-1e-12 || p.MeanScore > want+1e-12 {
		t.Errorf("person mean score %v, want %v", p.MeanScore, want)
	}
	if c := st.Labels["car"]; c.Detections != 1 || c.Items != 1 || c.MaxSimultaneous != 1 || c.Tracks != 0 || c.MeanScore != 0.5 {
		t.Errorf("car %+v", c)
	}
	if len(st.Tracks) != 4 {
		t.Fatalf("tracks %+v", st.Tracks)
	}
	if tr := st.Tracks[0]; tr.TrackID != 1 || tr.Label != "person" || tr.First != 0 || tr.Last != 400*ms || tr.Detections != 3 || tr.Dwell != 0.4 {
		t.Errorf("track 1 %+v", tr)
	}
	if tr := st.Tracks[1]; tr.TrackID != 2 || tr.Dwell != 0 || tr.Detections != 1 {
		t.Errorf("track 2 %+v", tr)
	}
	if ObjectStats(items[3:4]) != nil {
		t.Error("stats for items without objects")
	}
}
