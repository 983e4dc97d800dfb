package storetest

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
)

func testTelemetryQuery(t *testing.T, be Backend) {
	d := be.open(t)
	ctx := context.Background()
	MustUpsert(t, d, "cam1", "cam2")

	// Ties on time are broken by source, then id, in byte order.
	hr1 := Event("cam1", "hr", "9", 5*time.Second)
	hr2 := Event("cam1", "hr", "10", 5*time.Second)
	guest := Event("cam1", "Hr", "1", 5*time.Second)
	guest.Subject, guest.HeartRate, guest.RR = "guest", nil, []float64{} // empty, not nil
	bare := Event("cam2", "hr", "2", 7*time.Second)
	bare.HeartRate, bare.RR, bare.Payload = nil, nil, nil
	m1 := Marker("cam1", "m1", "exp1", "a", 3*time.Second)
	m2 := Marker("cam2", "m2", "exp2", "b", 8*time.Second)
	chat := model.TelemetryEvent{Source: "chat", ID: "c1", Kind: model.TelemetryStreamEvent, StreamID: "cam1",
		Time: T0.Add(9 * time.Second), ReceivedAt: T0.Add(9 * time.Second), Type: "donation",
		Payload: []byte(`[1, "two", {"three": null}]`)}
	MustInsert(t, d, hr1, chat, m2, bare, hr2, guest, m1)

	key := func(ev model.TelemetryEvent) string { return ev.Source + "/" + ev.ID }
	for _, tc := range []struct {
		name string
		q    model.TelemetryQuery
		want []model.TelemetryEvent
	}{
		{"all", model.TelemetryQuery{}, []model.TelemetryEvent{m1, guest, hr2, hr1, bare, m2, chat}},
		{"stream", model.TelemetryQuery{StreamID: "cam2"}, []model.TelemetryEvent{bare, m2}},
		{"kind", model.TelemetryQuery{Kind: model.TelemetryPhysiology}, []model.TelemetryEvent{guest, hr2, hr1, bare}},
		{"subject", model.TelemetryQuery{Subject: "guest"}, []model.TelemetryEvent{guest}},
		{"experiment", model.TelemetryQuery{Experiment: "exp2"}, []model.TelemetryEvent{m2}},
		{"from", model.TelemetryQuery{From: T0.Add(7 * time.Second)}, []model.TelemetryEvent{bare, m2, chat}},
		{"to", model.TelemetryQuery{To: T0.Add(5 * time.Second)}, []model.TelemetryEvent{m1}},
		{"from to", model.TelemetryQuery{From: T0.Add(5 * time.Second), To: T0.Add(8 * time.Second)},
			[]model.TelemetryEvent{guest, hr2, hr1, bare}},
		{"combined", model.TelemetryQuery{StreamID: "cam1", Kind: model.TelemetryPhysiology, Subject: "streamer",
			From: T0.Add(5 * time.Second), To: T0.Add(5*time.Second + 1)}, []model.TelemetryEvent{hr2, hr1}},
		{"limit", model.TelemetryQuery{Limit: 3}, []model.TelemetryEvent{m1, guest, hr2}},
		{"limit with filter", model.TelemetryQuery{StreamID: "cam1", Kind: model.TelemetryPhysiology, Limit: 2},
			[]model.TelemetryEvent{guest, hr2}},
		{"negative limit", model.TelemetryQuery{Limit: -1}, []model.TelemetryEvent{m1, guest, hr2, hr1, bare, m2, chat}},
		{"nothing", model.TelemetryQuery{StreamID: "cam1", Experiment: "exp2"}, []model.TelemetryEvent{}},
		{"unknown stream", model.TelemetryQuery{StreamID: "nope"}, []model.TelemetryEvent{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := d.Telemetry(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				gk, wk := []string{}, []string{}
				for _, ev := range got {
					gk = append(gk, key(ev))
				}
				for _, ev := range tc.want {
					wk = append(wk, key(ev))
				}
				t.Fatalf("Telemetry(%+v) = %v, want %v\n%s", tc.q, gk, wk, fmt.Sprintf("%+v", got))
			}
		})
	}
}
