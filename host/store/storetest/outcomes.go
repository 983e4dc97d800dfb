package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
)

// withReward is seg with analytics whose reward is r (nil: none).
func withReward(seg model.Segment, r *float64) model.Segment {
	seg.Analytics = &model.SegmentAnalytics{AU: "au12", Faces: []model.FaceReward{}, Reward: r}
	return seg
}

func testArmOutcomes(t *testing.T, be Backend) {
	d := be.open(t)
	ctx := context.Background()
	MustUpsert(t, d, "cam1", "cam2")

	// Markers that wait for their segment and markers that arrive late
	// count alike.
	early := Marker("cam1", "m1", "exp1", "a", 1*time.Second) // segment 0, reward 0.5
	MustInsert(t, d, early)
	MustSave(t, d, "run1", withReward(Segment("cam1", 0, 1, 0), F(0.5)))
	MustSave(t, d, "run1", withReward(Segment("cam1", 1, 1, 0), nil)) // analytics, no reward
	MustSave(t, d, "run1", Segment("cam1", 2, 1, 0))                  // no analytics at all
	MustSave(t, d, "run1", withReward(Segment("cam2", 0, 1, 0), F(0.25)))
	late := Marker("cam1", "m2", "exp1", "b", 12*time.Second)        // segment 1
	noAnalytics := Marker("cam1", "m3", "exp1", "a", 25*time.Second) // segment 2
	otherStream := Marker("cam2", "m4", "exp1", "b", 2*time.Second)  // cam2 segment 0
	unplaced := Marker("cam1", "m5", "exp1", "a", time.Hour)
	otherExp := Marker("cam1", "m6", "exp2", "a", 3*time.Second)
	notStimulus := Event("cam1", "hr", "m7", 4*time.Second)
	notStimulus.Experiment, notStimulus.Arm = "exp1", "a"
	MustInsert(t, d, late, noAnalytics, otherStream, unplaced, otherExp, notStimulus)

	got, err := d.ArmOutcomes(ctx, "exp1")
	if err != nil {
		t.Fatal(err)
	}
	want := []model.ArmOutcome{
		{Arm: "a", StreamID: "cam1", Segment: 0, Reward: F(0.5), Time: early.Time},
		{Arm: "b", StreamID: "cam2", Segment: 0, Reward: F(0.25), Time: otherStream.Time},
		{Arm: "b", StreamID: "cam1", Segment: 1, Reward: nil, Time: late.Time},
		{Arm: "a", StreamID: "cam1", Segment: 2, Reward: nil, Time: noAnalytics.Time},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ArmOutcomes(exp1) =\n%+v\nwant\n%+v", got, want)
	}

	// A later run's segment 0 (the same window: a restart) gives its
	// reward, once per marker.
	MustSave(t, d, "run2", withReward(Segment("cam1", 0, 1, 0), F(1)))
	got, err = d.ArmOutcomes(ctx, "exp2")
	if err != nil {
		t.Fatal(err)
	}
	if want := []model.ArmOutcome{{Arm: "a", StreamID: "cam1", Segment: 0, Reward: F(1), Time: otherExp.Time}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ArmOutcomes(exp2) = %+v, want %+v", got, want)
	}
	// A run whose segment 0 covers another window (a file source
	// replayed) does not: its window does not hold the markers.
	MustSave(t, d, "run3", at(withReward(Segment("cam1", 0, 1, 0), F(7)), 2*time.Hour))
	got, err = d.ArmOutcomes(ctx, "exp1")
	if err != nil {
		t.Fatal(err)
	}
	want[0].Reward = F(1)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ArmOutcomes(exp1) after two more runs =\n%+v\nwant\n%+v", got, want)
	}
	if got, err := d.ArmOutcomes(ctx, "none"); err != nil || got == nil || len(got) != 0 {
		t.Errorf("ArmOutcomes(none) = %#v, %v; want empty non-nil", got, err)
	}
}

// at is seg moved to start at T0+start on the wall clock.
func at(seg model.Segment, start time.Duration) model.Segment {
	seg.WallStart, seg.WallEnd = T0.Add(start), T0.Add(start+10*time.Second)
	return seg
}

func testSessions(t *testing.T, be Backend) {
	d := be.open(t)
	ctx := context.Background()
	MustUpsert(t, d, "cam1", "cam2", "idle")

	for i := range int64(3) {
		MustSave(t, d, "run1", Segment("cam1", i, 0, 0))
	}
	MustSave(t, d, "run1", Segment("cam2", 5, 0, 0))
	// A file source replayed an hour later by run2 restarts at index 0:
	// every run keeps its segments.
	MustSave(t, d, "run2", at(Segment("cam1", 0, 0, 0), time.Hour))
	MustSave(t, d, "run2", at(Segment("cam1", 1, 0, 0), time.Hour+10*time.Second))

	run2 := model.Session{RunID: "run2", StreamID: "cam1", Segments: 2, First: 0, Last: 1,
		WallStart: T0.Add(time.Hour), WallEnd: T0.Add(time.Hour + 20*time.Second)}
	cam2 := model.Session{RunID: "run1", StreamID: "cam2", Segments: 1, First: 5, Last: 5,
		WallStart: T0.Add(50 * time.Second), WallEnd: T0.Add(60 * time.Second)}
	run1 := model.Session{RunID: "run1", StreamID: "cam1", Segments: 3, First: 0, Last: 2,
		WallStart: T0, WallEnd: T0.Add(30 * time.Second)}
	for _, tc := range []struct {
		stream string
		want   []model.Session
	}{
		{"", []model.Session{run2, cam2, run1}},
		{"cam1", []model.Session{run2, run1}},
		{"cam2", []model.Session{cam2}},
		{"idle", []model.Session{}},
		{"nope", []model.Session{}},
	} {
		got, err := d.Sessions(ctx, tc.stream)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Sessions(%q) =\n%+v\nwant\n%+v", tc.stream, got, tc.want)
		}
	}
}
