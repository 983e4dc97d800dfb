package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
)

// testTelemetryHostileText stores SQL-looking text in every text field of
// telemetry, analytics and enrichment, reads it back through every query
// that filters on it, and checks that no table was touched.
func testTelemetryHostileText(t *testing.T, be Backend) {
	d := be.open(t)
	ctx := context.Background()
	for i, h := range hostile {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			MustUpsert(t, d, h)
			q, err := json.Marshal(h)
			if err != nil {
				t.Fatal(err)
			}
			payload := json.RawMessage(`{ "z": 1,  "q": ` + string(q) + ` }`)
			ev := model.TelemetryEvent{Source: h, ID: h, Kind: model.TelemetryKind(h), StreamID: h,
				Time: T0.Add(time.Second), SourceTime: T0, ReceivedAt: T0.Add(2 * time.Second),
				Subject: h, HeartRate: F(60), RR: []float64{1000}, Experiment: h, Arm: h, Type: h, Payload: payload}
			mark := Marker(h, h+"#marker", h, h, 2*time.Second)
			mark.Source = h
			MustInsert(t, d, ev, mark)

			seg := Segment(h, 0, 1, 0)
			a := Analytics()
			a.AU, a.Faces[0].IntensitySource, a.Faces[1].NullReason = h, h, h
			a.Physiology[0].Subject, a.Physiology[0].State = h, model.PhysiologyState(h)
			a.CoModulation.A, a.CoModulation.B, a.CoModulation.NullReason = h, h, h
			seg.Analytics = a
			MustSave(t, d, h, seg)
			en := model.Enrichment{Kind: h, Status: h, Error: h, Result: payload, Attempts: 2, At: T0}
			if err := d.SaveEnrichment(ctx, h, 0, h, en); err != nil {
				t.Fatalf("SaveEnrichment: %v", err)
			}

			ev, mark = Placed(ev, I(0), false), Placed(mark, I(0), false)
			want := InRun(seg, h)
			want.Telemetry = []model.TelemetryEvent{ev, mark}
			want.Enrichment = []model.Enrichment{en}
			back, err := d.Segment(ctx, h, 0, h)
			if err != nil || !reflect.DeepEqual(*back, want) {
				t.Fatalf("Segment =\n%+v, %v\nwant\n%+v", back, err, want)
			}
			got, err := d.Telemetry(ctx, model.TelemetryQuery{StreamID: h, Kind: model.TelemetryKind(h), Subject: h, Experiment: h})
			if err != nil || !reflect.DeepEqual(got, []model.TelemetryEvent{ev}) {
				t.Fatalf("Telemetry = %+v, %v", got, err)
			}
			outs, err := d.ArmOutcomes(ctx, h)
			wantOut := []model.ArmOutcome{{Arm: h, StreamID: h, Segment: 0, Reward: a.Reward, Time: mark.Time}}
			if err != nil || !reflect.DeepEqual(outs, wantOut) {
				t.Fatalf("ArmOutcomes = %+v, %v; want %+v", outs, err, wantOut)
			}
			sessions, err := d.Sessions(ctx, h)
			wantSess := []model.Session{{RunID: h, StreamID: h, Segments: 1, WallStart: seg.WallStart, WallEnd: seg.WallEnd}}
			if err != nil || !reflect.DeepEqual(sessions, wantSess) {
				t.Fatalf("Sessions = %+v, %v; want %+v", sessions, err, wantSess)
			}
		})
	}
	for table, want := range map[string]int{
		"streams": len(hostile), "segments": len(hostile), "telemetry": 2 * len(hostile),
		"segment_enrichment": len(hostile), "segment_plugins": 2 * len(hostile),
	} {
		if n := count(t, be, d, "SELECT count(*) FROM "+table); n != want {
			t.Errorf("%s has %d rows, want %d", table, n, want)
		}
	}
}
