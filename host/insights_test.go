package host

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/lsie-mlf/lsie/host/config"
	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/store/sqlite"
)

// TestPurgeLoopRemovesOldPayloads: the retention job purges the payloads of
// events received before the retention, keeps newer ones and every event.
func TestPurgeLoopRemovesOldPayloads(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "lsie.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if err := st.UpsertStream(ctx, model.Stream{ID: "cam", Source: "test://ball", Health: model.HealthOK}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ev := func(id string, received time.Time) model.TelemetryEvent {
		return model.TelemetryEvent{Source: "chat", ID: id, Kind: model.TelemetryStreamEvent, StreamID: "cam", Type: "chat",
			Time: received, SourceTime: received, ReceivedAt: received, Payload: json.RawMessage(`{"text":"hello"}`)}
	}
	if _, err := st.InsertTelemetry(ctx, []model.TelemetryEvent{
		ev("old-1", now.Add(-48*time.Hour)), ev("old-2", now.Add(-25*time.Hour)), ev("new-1", now.Add(-time.Hour)),
	}); err != nil {
		t.Fatal(err)
	}
	h := &Host{store: st, log: hclog.NewNullLogger()}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.purgeLoop(runCtx, config.Telemetry{PayloadRetention: 24 * time.Hour, PurgeInterval: time.Hour})
	}()
	// The loop purges once at once; wait for it by polling the store.
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs, err := st.Telemetry(ctx, model.TelemetryQuery{})
		if err != nil {
			t.Fatal(err)
		}
		purged := 0
		for _, e := range evs {
			if e.PayloadPurged {
				purged++
			}
		}
		if purged == 2 {
			if len(evs) != 3 || evs[2].ID != "new-1" || evs[2].PayloadPurged || string(evs[2].Payload) != `{"text":"hello"}` ||
				evs[0].Payload != nil {
				t.Errorf("after purge: %+v", evs)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("payloads not purged: %+v", evs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
}
