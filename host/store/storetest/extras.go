package storetest

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
)

// Analytics is a segment's analytics with every optional field both set
// and nil somewhere, and values whose decimal text must survive exactly.
func Analytics() *model.SegmentAnalytics {
	last := T0.Add(9 * time.Second)
	return &model.SegmentAnalytics{
		AU: "au12",
		Faces: []model.FaceReward{
			{Face: 0, NFramesInWindow: 97, P90Intensity: F(0.1 + 0.2), IntensitySource: "baseline",
				BaselineBNeutral: F(-0.0123456789012345), SemanticGate: F(1), GatedReward: F(0.06000000000000001)},
			{Face: 3, NFramesInWindow: 2, NullReason: "too_few_frames"}, // every pointer nil
		},
		Reward: F(0.06000000000000001),
		Physiology: []model.Physiology{
			{Subject: "streamer", State: model.PhysioFresh, RMSSD: F(41.5), HeartRate: F(72), Intervals: 9,
				LastAt: &last, AgeSeconds: F(1.25)},
			{Subject: "guest", State: model.PhysioAbsent},
		},
		CoModulation: &model.CoModulation{A: "physio:streamer", B: "au:face0.au12", Samples: 3,
			NullReason: model.NullTooFewSamples},
	}
}

func testAnalyticsRoundTrip(t *testing.T, be Backend) {
	d := be.open(t)
	ctx := context.Background()
	MustUpsert(t, d, "cam1")

	full := Segment("cam1", 0, 2, 0)
	full.Analytics = Analytics()
	noReward := Segment("cam1", 1, 2, 0)
	noReward.Analytics = &model.SegmentAnalytics{AU: "au06"} // nil faces, nil reward
	off := Segment("cam1", 2, 2, 0)                          // analytics off
	for _, seg := range []model.Segment{full, noReward, off} {
		MustSave(t, d, "run1", seg)
	}
	full, noReward, off = InRun(full, "run1"), InRun(noReward, "run1"), InRun(off, "run1")
	for _, want := range []model.Segment{full, noReward, off} {
		got, err := d.Segment(ctx, "cam1", want.Index, "")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("Segment(%d).Analytics =\n%+v\nwant\n%+v", want.Index, got.Analytics, want.Analytics)
		}
	}
	list, err := d.Segments(ctx, "cam1", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := []model.Segment{WithoutItems(full), WithoutItems(noReward), WithoutItems(off)}; !reflect.DeepEqual(list, want) {
		t.Errorf("Segments =\n%+v\nwant\n%+v", list, want)
	}
	// The reward column, which experiments join on, is the analytics' reward.
	if n := count(t, be, d, `SELECT count(*) FROM segments WHERE reward IS NULL`); n != 2 {
		t.Errorf("%d segments without reward, want 2", n)
	}
	var r float64
	if err := be.QueryRow(ctx, d, `SELECT reward FROM segments WHERE idx = 0`, &r); err != nil || r != 0.06000000000000001 {
		t.Errorf("reward of segment 0 = %v, %v", r, err)
	}
}

func testEnrichment(t *testing.T, be Backend) {
	d := be.open(t)
	ctx := context.Background()
	MustUpsert(t, d, "cam1")
	seg := Segment("cam1", 4, 1, 0)
	MustSave(t, d, "run1", seg)
	MustSave(t, d, "run1", Segment("cam1", 5, 1, 0))

	stats := model.Enrichment{Kind: "stats", Status: "ok", Result: json.RawMessage(`{"words": 12,  "wpm":144.5}`),
		Attempts: 1, At: T0.Add(time.Minute)}
	keywords := model.Enrichment{Kind: "keywords", Status: "failed", Error: "model unavailable", Attempts: 3,
		At: T0.Add(2 * time.Minute)}
	language := model.Enrichment{Kind: "language", Status: "ok", Result: json.RawMessage(`"de"`), Attempts: 1}
	for _, e := range []model.Enrichment{stats, keywords, language} {
		if err := d.SaveEnrichment(ctx, "cam1", 4, "", e); err != nil {
			t.Fatalf("SaveEnrichment(%s): %v", e.Kind, err)
		}
	}
	// Saving a kind again replaces its result.
	keywords = model.Enrichment{Kind: "keywords", Status: "ok", Result: json.RawMessage(`["hello", "world"]`),
		Attempts: 4, At: T0.Add(3 * time.Minute)}
	if err := d.SaveEnrichment(ctx, "cam1", 4, "run1", keywords); err != nil {
		t.Fatal(err)
	}
	if err := d.SaveEnrichment(ctx, "cam1", 5, "", stats); err != nil {
		t.Fatal(err)
	}
	got, err := d.Segment(ctx, "cam1", 4, "")
	if err != nil {
		t.Fatal(err)
	}
	want := InRun(seg, "run1")
	want.Enrichment = []model.Enrichment{keywords, language, stats}
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("Segment.Enrichment =\n%+v\nwant\n%+v", got.Enrichment, want.Enrichment)
	}

	for _, tc := range []struct {
		name string
		e    model.Enrichment
		want string
	}{
		{"no kind", model.Enrichment{Status: "ok"}, `save enrichment cam1/4 "": kind must be set`},
		{"bad result", model.Enrichment{Kind: "stats", Result: json.RawMessage(`{`)}, `save enrichment cam1/4 "stats": result is not valid JSON`},
	} {
		if err := d.SaveEnrichment(ctx, "cam1", 4, "", tc.e); err == nil || err.Error() != tc.want {
			t.Errorf("%s: SaveEnrichment = %v, want %q", tc.name, err, tc.want)
		}
	}

	// A later run's segment 4 has results of its own, and runID ""
	// names it now; run1's keeps its results.
	MustSave(t, d, "run2", seg)
	got, err = d.Segment(ctx, "cam1", 4, "")
	if err != nil || got.RunID != "run2" || got.Enrichment != nil {
		t.Fatalf("run2's segment 4: run %q, enrichment %+v, %v; want run2's, none", got.RunID, got.Enrichment, err)
	}
	language2 := language
	language2.Result = json.RawMessage(`"en"`)
	if err := d.SaveEnrichment(ctx, "cam1", 4, "", language2); err != nil {
		t.Fatal(err)
	}
	got, err = d.Segment(ctx, "cam1", 4, "run2")
	if err != nil || !reflect.DeepEqual(got.Enrichment, []model.Enrichment{language2}) {
		t.Fatalf("run2's segment 4 enrichment = %+v, %v; want %+v", got.Enrichment, err, []model.Enrichment{language2})
	}
	got, err = d.Segment(ctx, "cam1", 4, "run1")
	if err != nil || !reflect.DeepEqual(*got, want) {
		t.Fatalf("run1's segment 4 after run2 =\n%+v, %v\nwant\n%+v", got, err, want)
	}
	if n := count(t, be, d, `SELECT count(*) FROM segment_enrichment`); n != 5 {
		t.Errorf("segment_enrichment has %d rows, want 5 (3 + 1 + segment 5's)", n)
	}
}
