package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
)

// testAlerts: an alert is stored when it opens and its end written later
// under the same id; queries select by stream, rule and wall start.
func testAlerts(t *testing.T, be Backend) {
	d := be.open(t)
	ctx := context.Background()
	t0 := time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)
	open := model.Alert{ID: "cam1-crowd-400000000-1", Rule: "crowd", StreamID: "cam1", Severity: "warning", Message: "crowd at the door",
		Start: 400 * time.Millisecond, Fired: 1400 * time.Millisecond, WallStart: t0.Add(400 * time.Millisecond),
		Values: map[string]any{"objects.count('person')": 4.0, "detect.count_person": 4.0}, TrackIDs: []int64{1, 2, 3, 7}}
	if err := d.PutAlert(ctx, open); err != nil {
		t.Fatal(err)
	}
	other := model.Alert{ID: "cam2-dark-0-1", Rule: "dark", StreamID: "cam2", Severity: "info", Message: "dark",
		Start: 2 * time.Second, Fired: 2 * time.Second, WallStart: t0.Add(time.Minute), Values: map[string]any{}}
	if err := d.PutAlert(ctx, other); err != nil {
		t.Fatal(err)
	}
	got, err := d.Alerts(ctx, model.AlertQuery{StreamID: "cam1"})
	if err != nil || len(got) != 1 || !reflect.DeepEqual(got[0], open) {
		t.Fatalf("open alert: %+v, %v\nwant %+v", got, err, open)
	}
	ended := open
	end, wallEnd := 1800*time.Millisecond, t0.Add(1800*time.Millisecond)
	ended.End, ended.WallEnd = &end, &wallEnd
	if err := d.PutAlert(ctx, ended); err != nil {
		t.Fatal(err)
	}
	got, err = d.Alerts(ctx, model.AlertQuery{Rule: "crowd"})
	if err != nil || len(got) != 1 || !reflect.DeepEqual(got[0], ended) {
		t.Fatalf("ended alert: %+v, %v\nwant %+v", got, err, ended)
	}
	for _, c := range []struct {
		q    model.AlertQuery
		want int
	}{
		{model.AlertQuery{}, 2},
		{model.AlertQuery{From: t0.Add(time.Second)}, 1},
		{model.AlertQuery{To: t0.Add(time.Second)}, 1},
		{model.AlertQuery{Limit: 1}, 1},
		{model.AlertQuery{StreamID: "cam3"}, 0},
	} {
		if got, err := d.Alerts(ctx, c.q); err != nil || len(got) != c.want {
			t.Errorf("%+v: %d alerts, %v; want %d", c.q, len(got), err, c.want)
		}
	}
	if err := d.PutAlert(ctx, model.Alert{ID: "x"}); err == nil {
		t.Error("an alert without rule and stream was stored")
	}
}

// testStoredRules: rules added through the API, replaced and removed.
func testStoredRules(t *testing.T, be Backend) {
	d := be.open(t)
	ctx := context.Background()
	at := time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)
	for _, r := range []model.StoredRule{
		{Name: "b", Spec: []byte(`{"when":"true"}`), AddedAt: at},
		{Name: "a", Spec: []byte(`{"when":"false"}`), AddedAt: at},
		{Name: "b", Spec: []byte(`{"when":"1 > 0"}`), AddedAt: at.Add(time.Second)},
	} {
		if err := d.PutRule(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.DeleteRule(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteRule(ctx, "none"); err != nil {
		t.Fatal(err)
	}
	got, err := d.StoredRules(ctx)
	if err != nil || len(got) != 1 || got[0].Name != "b" || string(got[0].Spec) != `{"when":"1 > 0"}` || !got[0].AddedAt.Equal(at.Add(time.Second)) {
		t.Fatalf("rules %+v, %v", got, err)
	}
	if err := d.PutRule(ctx, model.StoredRule{Name: "x"}); err == nil {
		t.Error("a rule without a spec was stored")
	}
}
