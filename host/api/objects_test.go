package api

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/store"
)

func init() {
	for name, typ := range map[string]reflect.Type{
		"ObjectList":   reflect.TypeFor[objectsResponse](),
		"ObjectRecord": reflect.TypeFor[model.ObjectRecord](),
		"Object":       reflect.TypeFor[model.Object](),
		"Keypoint":     reflect.TypeFor[model.Keypoint](),
		"ObjectStats":  reflect.TypeFor[model.ObjectStats](),
		"LabelStats":   reflect.TypeFor[model.LabelStats](),
		"TrackStats":   reflect.TypeFor[model.TrackStats](),
	} {
		extraSchemaTypes[name] = typ
	}
	extraExchanges = append(extraExchanges, objectsExchanges)
}

func (failingStore) Objects(context.Context, model.ObjectQuery) ([]model.ObjectRecord, error) {
	return nil, errDisk
}

// objectsRun stored cam1's segment 9: a detector's two frames, three people
// (two tracked) and a car, with stats.
const objectsRun = "0123012301230123"

func newObjectsStore(t *testing.T) store.Store {
	t.Helper()
	st := newTestStore(t)
	ctx := context.Background()
	start := t0.Add(time.Hour)
	if err := st.StartRun(ctx, model.StreamRun{RunID: objectsRun, StreamID: "cam1", StartedAt: start}); err != nil {
		t.Fatal(err)
	}
	media := 90 * time.Second
	person := func(track int64, x float64) model.Object {
		return model.Object{Label: "person", Score: 0.75, TrackID: track, X: x, Y: 0.25, W: 0.125, H: 0.5,
			Attributes: map[string]float64{"height_px": 180}, Keypoints: []model.Keypoint{{Name: "nose", X: x + 0.06, Y: 0.3, Score: 0.5}}}
	}
	items := []model.Item{
		{PTS: media, Fields: map[string]float64{"count": 3}, Objects: []model.Object{person(1, 0.125), person(2, 0.5),
			{Label: "car", Score: 0.5, X: 0, Y: 0.5, W: 0.5, H: 0.5, Text: "AB-123"}}},
		{PTS: media + time.Second, Fields: map[string]float64{"count": 1}, Objects: []model.Object{person(1, 0.25)}},
	}
	p := model.PluginSegment{Plugin: "detect", Version: "1.0.0", FramesAnalysed: 2, Items: items,
		Aggregates: map[string]model.Aggregate{"count": {N: 2, Mean: 2}}}
	p.Objects = &model.ObjectStats{Labels: map[string]model.LabelStats{
		"person": {Detections: 3, Items: 2, MaxSimultaneous: 2, Tracks: 2, MeanScore: 0.75},
		"car":    {Detections: 1, Items: 1, MaxSimultaneous: 1, MeanScore: 0.5}},
		Tracks: []model.TrackStats{{TrackID: 1, Label: "person", First: media, Last: media + time.Second, Detections: 2, Dwell: 1}}}
	seg := model.Segment{StreamID: "cam1", Index: 9, MediaStart: media, MediaEnd: media + 10*time.Second,
		WallStart: start.Add(media), WallEnd: start.Add(media + 10*time.Second), Status: model.SegmentComplete,
		FramesSeen: 2, ClosedAt: start.Add(media + 10*time.Second), Plugins: map[string]model.PluginSegment{"detect": p}}
	if err := st.SaveSegment(ctx, objectsRun, seg); err != nil {
		t.Fatal(err)
	}
	return st
}

func objectsExchanges(t *testing.T, token string) []exchange {
	st := newObjectsStore(t)
	full := New(Config{Token: token}, st, liveHealth, nil)
	broken := New(Config{Token: token}, failingStore{st}, liveHealth, nil)
	auth := map[string]string{"Authorization": "Bearer " + token}
	path := "/api/v1/streams/cam1/objects"
	return []exchange{
		{"objects", full, "GET", path, auth, "", 200},
		{"objects of a label", full, "GET", path + "?label=person&track=1&limit=5", auth, "", 200},
		{"objects none", full, "GET", "/api/v1/streams/cam2/objects", auth, "", 200},
		{"objects unknown stream", full, "GET", "/api/v1/streams/nope/objects", auth, "", 404},
		{"objects bad track", full, "GET", path + "?track=0", auth, "", 400},
		{"objects bad time", full, "GET", path + "?from=yesterday", auth, "", 400},
		{"objects no token", full, "GET", path, nil, "", 401},
		{"objects broken", broken, "GET", path, auth, "", 500},
		{"segment with objects", full, "GET", "/api/v1/segments/cam1/9?include=objects", auth, "", 200},
		{"segment bad include", full, "GET", "/api/v1/segments/cam1/9?include=faces", auth, "", 400},
	}
}

func TestObjectsEndpoint(t *testing.T) {
	h := New(Config{}, newObjectsStore(t), liveHealth, nil).Handler()
	var all objectsResponse
	getJSON(t, h, "/api/v1/streams/cam1/objects", &all)
	if all.StreamID != "cam1" || len(all.Objects) != 4 {
		t.Fatalf("objects %+v", all)
	}
	first := all.Objects[0]
	start := t0.Add(time.Hour)
	if first.Plugin != "detect" || first.Index != 9 || first.RunID != objectsRun || first.PTS != 90*time.Second ||
		!first.Wall.Equal(start.Add(90*time.Second)) || first.Object.Label != "person" || first.Object.TrackID != 1 ||
		first.Object.Keypoints[0].Name != "nose" || first.Object.Attributes["height_px"] != 180 {
		t.Fatalf("first object %+v", first)
	}
	for _, c := range []struct {
		query string
		want  int
	}{
		{"?label=person", 3},
		{"?label=car", 1},
		{"?track=1", 2},
		{"?plugin=other", 0},
		{"?from=" + start.Add(91*time.Second).Format(time.RFC3339Nano), 1},
		{"?to=" + start.Add(91*time.Second).Format(time.RFC3339Nano), 3},
		{"?limit=2", 2},
	} {
		var got objectsResponse
		getJSON(t, h, "/api/v1/streams/cam1/objects"+c.query, &got)
		if len(got.Objects) != c.want {
			t.Errorf("%s: %d objects, want %d", c.query, len(got.Objects), c.want)
		}
	}

	var seg model.Segment
	getJSON(t, h, "/api/v1/segments/cam1/9", &seg)
	if seg.Objects != nil || seg.Plugins["detect"].Objects.Labels["person"].MaxSimultaneous != 2 {
		t.Fatalf("segment without include: objects %v, stats %+v", seg.Objects, seg.Plugins["detect"].Objects)
	}
	getJSON(t, h, "/api/v1/segments/cam1/9?include=objects", &seg)
	if len(seg.Objects) != 4 || seg.Objects[3].Object.Text != "" || seg.Objects[2].Object.Text != "AB-123" {
		t.Fatalf("segment objects %+v", seg.Objects)
	}
	rec := serve(h, http.MethodGet, "/api/v1/segments/cam1/9?include=objects,faces")
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `\"faces\"`) {
		t.Fatalf("bad include: %d %s", rec.Code, rec.Body)
	}
}
