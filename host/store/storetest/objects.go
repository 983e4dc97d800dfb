package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/store"
)

// withObjects adds objects to seg's "face" items 0 and 2 and its stats,
// as the host would: two tracked faces and an untracked one.
func withObjects(seg model.Segment) model.Segment {
	p := seg.Plugins["face"]
	p.Items = append([]model.Item(nil), p.Items...)
	p.Items[0].Objects = []model.Object{
		{Label: "face", Score: 0.875, TrackID: 1, X: 0.125, Y: 0.25, W: 0.25, H: 0.5,
			Attributes: map[string]float64{"au12": 0.5}, Keypoints: []model.Keypoint{{Name: "nose", X: 0.25, Y: 0.5, Score: 0.75}}},
		{Label: "face", Score: 0.5, X: 0.5, Y: 0.5, W: 0.125, H: 0.125, Text: "ünïcode ✓"},
	}
	p.Items[2].Objects = []model.Object{{Label: "face", Score: 0.625, TrackID: 1, X: 0.25, Y: 0.25, W: 0.25, H: 0.5}}
	p.Objects = &model.ObjectStats{
		Labels: map[string]model.LabelStats{"face": {Detections: 3, Items: 2, MaxSimultaneous: 2, Tracks: 1, MeanScore: 2.0 / 3}},
		Tracks: []model.TrackStats{{TrackID: 1, Label: "face", First: p.Items[0].PTS, Last: p.Items[2].PTS, Detections: 2, Dwell: 0.2}},
	}
	seg.Plugins["face"] = p
	return seg
}

// withoutItemObjects is seg as Store.Segment reads it back: objects live
// in their own rows, not in the items.
func withoutItemObjects(seg model.Segment) model.Segment {
	out := seg
	out.Plugins = map[string]model.PluginSegment{}
	for k, p := range seg.Plugins {
		p.Items = append([]model.Item(nil), p.Items...)
		for i := range p.Items {
			p.Items[i].Objects = nil
		}
		out.Plugins[k] = p
	}
	return out
}

func testObjects(t *testing.T, be Backend) {
	d := be.open(t)
	ctx := context.Background()
	MustUpsert(t, d, "cam1", "cam2")
	seg0 := withObjects(Segment("cam1", 0, 4, 0))
	seg1 := withObjects(Segment("cam1", 1, 4, 1))
	MustSave(t, d, "run1", seg0)
	MustSave(t, d, "run1", seg1)
	MustSave(t, d, "run1", seg0) // a retry stores nothing twice
	MustSave(t, d, "run2", Segment("cam2", 0, 4, 0))

	if got := mustSegment(t, d, "cam1", 0, "run1"); !reflect.DeepEqual(got, withoutItemObjects(InRun(seg0, "run1"))) {
		t.Fatalf("Segment =\n%#v\nwant (stats kept, objects out of the items)\n%#v", got.Plugins["face"], withoutItemObjects(seg0).Plugins["face"])
	}
	list, err := d.Segments(ctx, "cam1", 0, 0)
	if err != nil || len(list) != 2 || !reflect.DeepEqual(list[1].Plugins["face"].Objects, seg1.Plugins["face"].Objects) {
		t.Fatalf("Segments: %v %+v", err, list)
	}

	all, err := d.Objects(ctx, model.ObjectQuery{StreamID: "cam1"})
	if err != nil || len(all) != 6 {
		t.Fatalf("Objects(cam1) = %d, %v; want 6", len(all), err)
	}
	items := seg0.Plugins["face"].Items
	want0 := model.ObjectRecord{StreamID: "cam1", RunID: "run1", Index: 0, Plugin: "face", PTS: items[0].PTS,
		Wall: seg0.WallStart.Add(items[0].PTS - seg0.MediaStart), Object: items[0].Objects[0]}
	if !reflect.DeepEqual(all[0], want0) {
		t.Fatalf("first object =\n%#v\nwant\n%#v", all[0], want0)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Wall.Before(all[i-1].Wall) {
			t.Fatalf("objects not in wall-time order: %v before %v", all[i-1].Wall, all[i].Wall)
		}
	}
	if o := all[1].Object; o.Text != "ünïcode ✓" || o.TrackID != 0 || o.Attributes != nil || o.Keypoints != nil {
		t.Fatalf("second object %#v", all[1])
	}

	count := func(q model.ObjectQuery) int {
		t.Helper()
		got, err := d.Objects(ctx, q)
		if err != nil {
			t.Fatalf("Objects(%+v): %v", q, err)
		}
		return len(got)
	}
	one := int64(1)
	for _, c := range []struct {
		q    model.ObjectQuery
		want int
	}{
		{model.ObjectQuery{StreamID: "cam1", TrackID: 1}, 4},
		{model.ObjectQuery{StreamID: "cam1", Label: "person"}, 0},
		{model.ObjectQuery{StreamID: "cam1", Plugin: "speech"}, 0},
		{model.ObjectQuery{StreamID: "cam1", Index: &one}, 3},
		{model.ObjectQuery{StreamID: "cam1", Index: &one, RunID: "run1", Label: "face"}, 3},
		{model.ObjectQuery{StreamID: "cam1", From: seg1.WallStart}, 3},
		{model.ObjectQuery{StreamID: "cam1", To: seg0.WallStart.Add(150 * time.Millisecond)}, 2},
		{model.ObjectQuery{StreamID: "cam1", Limit: 4}, 4},
		{model.ObjectQuery{StreamID: "cam2"}, 0},
	} {
		if got := count(c.q); got != c.want {
			t.Errorf("Objects(%+v) = %d objects, want %d", c.q, got, c.want)
		}
	}

	// Late items keep their objects, marked late, at their item's position.
	late := LateItems(1, 5*time.Second, 2, 0)
	late[1].Objects = []model.Object{{Label: "face", Score: 1, TrackID: 7, W: 1, H: 1}}
	mustAttach(t, d, "cam1", 1, "run1", "face", late)
	mustAttach(t, d, "cam1", 1, "run1", "face", late) // a retry
	got, err := d.Objects(ctx, model.ObjectQuery{StreamID: "cam1", TrackID: 7})
	if err != nil || len(got) != 1 || !got[0].Late || got[0].PTS != late[1].PTS || got[0].Index != 1 ||
		!got[0].Wall.Equal(seg1.WallStart.Add(late[1].PTS-seg1.MediaStart)) {
		t.Fatalf("late object: %v %#v", err, got)
	}

	nine := int64(9)
	for _, q := range []model.ObjectQuery{{StreamID: "nope"}, {StreamID: "cam1", Index: &nine}, {StreamID: "cam1", Index: &one, RunID: "run9"}} {
		if _, err := d.Objects(ctx, q); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Objects(%+v): %v, want ErrNotFound", q, err)
		}
	}
}
