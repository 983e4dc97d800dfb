package host

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/lsie-mlf/lsie/host/config"
	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/spool"
	"github.com/lsie-mlf/lsie/host/store"
	"github.com/lsie-mlf/lsie/host/store/sqlite"
	"github.com/lsie-mlf/lsie/internal/testenv"
)

// flakyStore is a real SQLite store whose writes fail while down is set,
// as they do while another process holds the database locked.
type flakyStore struct {
	store.Store
	down  atomic.Bool
	mu    sync.Mutex
	saved []int64 // indexes saved, in order
}

var errLocked = errors.New("database is locked (SQLITE_BUSY)")

func (f *flakyStore) SaveSegment(ctx context.Context, run string, seg model.Segment) error {
	if f.down.Load() {
		return errLocked
	}
	err := f.Store.SaveSegment(ctx, run, seg)
	if err == nil {
		f.mu.Lock()
		f.saved = append(f.saved, seg.Index)
		f.mu.Unlock()
	}
	return err
}

func (f *flakyStore) EndRun(ctx context.Context, run string, at time.Time, reason string) error {
	if f.down.Load() {
		return errLocked
	}
	return f.Store.EndRun(ctx, run, at, reason)
}

func (f *flakyStore) MarkRunLost(ctx context.Context, g model.Gap) error {
	if f.down.Load() {
		return errLocked
	}
	return f.Store.MarkRunLost(ctx, g)
}

func (f *flakyStore) savedIndexes() []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int64(nil), f.saved...)
}

// writerHost is a Host with a store, observers and a running writer over
// the spool in dir, as New and Run make them.
func writerHost(t *testing.T, st store.Store, dir string, maxBytes int64) *Host {
	t.Helper()
	cfg := config.Default()
	h := &Host{cfg: cfg, log: hclog.NewNullLogger(), store: st}
	sp, err := spool.Open(dir, maxBytes)
	if err != nil {
		t.Fatal(err)
	}
	sp.NoSync = true // the logic is under test here, not the disk
	h.w = newWriter(h, sp)
	h.buildObservers()
	h.obs.enrich.Start(context.Background())
	h.findLostRuns(context.Background())
	go h.w.run()
	h.writerRunning = true
	return h
}

func closeWriterHost(h *Host) {
	h.w.close()
	_ = h.w.sp.Close()
	_ = h.obs.enrich.Close()
}

func openFlaky(t *testing.T, path string) *flakyStore {
	t.Helper()
	db, err := sqlite.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return &flakyStore{Store: db}
}

func testSegment(stream string, k int64) model.Segment {
	start := time.Unix(1_700_000_000+2*k, 0).UTC()
	return model.Segment{StreamID: stream, Index: k, MediaStart: time.Duration(k) * 2 * time.Second,
		MediaEnd: time.Duration(k+1) * 2 * time.Second, WallStart: start, WallEnd: start.Add(2 * time.Second),
		Status: model.SegmentComplete, FramesSeen: 10, ClosedAt: time.Now().UTC(),
		Plugins: map[string]model.PluginSegment{"visual": {Plugin: "visual", Version: "1.0.0", FramesAnalysed: 10,
			Items: []model.Item{{PTS: time.Duration(k) * 2 * time.Second, Fields: map[string]float64{"brightness": float64(k)}}}}}}
}

func startRun(t *testing.T, st store.Store, stream, run string) {
	t.Helper()
	ctx := context.Background()
	if err := st.UpsertStream(ctx, model.Stream{ID: stream, Source: "test://ball", Health: model.HealthOK}); err != nil {
		t.Fatal(err)
	}
	if err := st.StartRun(ctx, model.StreamRun{RunID: run, StreamID: stream, StartedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
}

// A store that fails for a while loses nothing: segments wait in the
// spool (health degraded, with the depth), the stored barrier holds, and
// they are stored in order once the store is back.
func TestWriterSurvivesStoreOutage(t *testing.T) {
	dir := t.TempDir()
	st := openFlaky(t, filepath.Join(dir, "lsie.db"))
	h := writerHost(t, st, filepath.Join(dir, "spool"), 0)
	defer closeWriterHost(h)
	startRun(t, st, "cam", "0123456789abcdef")
	st.down.Store(true)
	for k := range int64(6) {
		h.w.put(&record{Kind: recSegment, RunID: "0123456789abcdef", StreamID: "cam", Segment: ptr(testSegment("cam", k))})
	}
	h.w.put(&record{Kind: recRunEnd, RunID: "0123456789abcdef", StreamID: "cam", At: time.Now().UTC(), Reason: model.ReasonEndOfStream})
	b := h.w.flush()
	<-b.spooled
	testenv.Eventually(t, 30*time.Second, "a failed attempt", func() bool { return h.w.fails.Load() > 0 })
	c := h.w.health("sqlite")
	if c.Health != model.HealthDegraded || !strings.Contains(c.Hint, "database is locked") || !strings.Contains(c.Hint, "7 records") ||
		c.Counters["spool_records"] != 7 {
		t.Fatalf("health during the outage: %+v", c)
	}
	select {
	case <-b.stored:
		t.Fatal("stored barrier released while the store is down")
	default:
	}
	st.down.Store(false)
	<-b.stored
	if got := st.savedIndexes(); fmt.Sprint(got) != "[0 1 2 3 4 5]" {
		t.Errorf("saved in order %v, want [0 1 2 3 4 5]", got)
	}
	if c := h.w.health("sqlite"); c.Health != model.HealthOK || c.Counters["spool_records"] != 0 {
		t.Errorf("health after the outage: %+v", c)
	}
	runs, err := st.Runs(context.Background(), "cam")
	if err != nil || len(runs) != 1 || runs[0].EndReason != model.ReasonEndOfStream || runs[0].Segments != 6 {
		t.Errorf("runs: %+v, %v", runs, err)
	}
}

// Near its bound the spool is an error with a hint; past it records wait in
// memory (never dropped) and are all stored when the store is back.
func TestWriterSpoolBound(t *testing.T) {
	dir := t.TempDir()
	st := openFlaky(t, filepath.Join(dir, "lsie.db"))
	h := writerHost(t, st, filepath.Join(dir, "spool"), 3000) // two or three records
	defer closeWriterHost(h)
	startRun(t, st, "cam", "0123456789abcdef")
	st.down.Store(true)
	for k := range int64(8) {
		h.w.put(&record{Kind: recSegment, RunID: "0123456789abcdef", StreamID: "cam", Segment: ptr(testSegment("cam", k))})
	}
	testenv.Eventually(t, 30*time.Second, "records the spool cannot take", func() bool { return h.w.health("sqlite").Health == model.HealthError })
	if c := h.w.health("sqlite"); !strings.Contains(c.Hint, "spool_max_mb") || c.Counters["held_in_memory"] == 0 {
		t.Fatalf("health with a full spool: %+v", c)
	}
	if h.w.sp.Bytes() > 3000 {
		t.Errorf("spool holds %d bytes, bound 3000", h.w.sp.Bytes())
	}
	st.down.Store(false)
	<-h.w.flush().stored
	if got := st.savedIndexes(); fmt.Sprint(got) != "[0 1 2 3 4 5 6 7]" {
		t.Errorf("saved %v, want all 8 in order", got)
	}
}

// A host that exits while the store is down leaves its records in the
// spool; the next one stores them before its own, and marks the run a
// killed host left open as lost, with the hole recorded.
func TestWriterAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	st := openFlaky(t, filepath.Join(dir, "lsie.db"))
	startRun(t, st, "cam", "aaaaaaaaaaaaaaaa") // killed: never ended
	if err := st.SaveSegment(context.Background(), "aaaaaaaaaaaaaaaa", testSegment("cam", 0)); err != nil {
		t.Fatal(err)
	}
	st.down.Store(true) // the hole of the killed run cannot be recorded yet
	h := writerHost(t, st, filepath.Join(dir, "spool"), 0)
	startRun(t, st, "cam", "bbbbbbbbbbbbbbbb") // ends while the store is down
	h.w.put(&record{Kind: recSegment, RunID: "bbbbbbbbbbbbbbbb", StreamID: "cam", Segment: ptr(testSegment("cam", 1))})
	h.w.put(&record{Kind: recRunEnd, RunID: "bbbbbbbbbbbbbbbb", StreamID: "cam", At: time.Now().UTC(), Reason: model.ReasonShutdown})
	<-h.w.flush().spooled
	closeWriterHost(h)
	if !h.restarted["cam"] {
		t.Error("the first host did not see the run left open")
	}

	st.down.Store(false)
	h2 := writerHost(t, st, filepath.Join(dir, "spool"), 0)
	defer closeWriterHost(h2)
	if !h2.takeRestarted("cam") || h2.takeRestarted("cam") {
		t.Error("takeRestarted is not true exactly once for cam")
	}
	<-h2.w.flush().stored
	ctx := context.Background()
	runs, err := st.Runs(ctx, "cam")
	if err != nil {
		t.Fatal(err)
	}
	ends := map[string]string{}
	for _, r := range runs {
		ends[r.RunID] = r.EndReason
	}
	if ends["aaaaaaaaaaaaaaaa"] != model.ReasonHostRestarted || ends["bbbbbbbbbbbbbbbb"] != model.ReasonShutdown {
		t.Errorf("run ends: %v", ends)
	}
	gaps, err := st.Gaps(ctx, "cam")
	if err != nil || len(gaps) != 1 {
		t.Fatalf("gaps: %+v, %v", gaps, err)
	}
	if g := gaps[0]; g.RunID != "aaaaaaaaaaaaaaaa" || !g.WallFrom.Equal(testSegment("cam", 0).WallEnd) || g.Reason != model.ReasonHostRestarted ||
		g.MediaFrom != 2*time.Second {
		t.Errorf("gap: %+v", g)
	}
	if got := st.savedIndexes(); fmt.Sprint(got) != "[0 1]" {
		t.Errorf("saved %v", got)
	}
}

// A record that can never be stored (a NaN the database refuses) and one
// the disk corrupted are set aside with the reason, the rest stored.
func TestWriterRejects(t *testing.T) {
	dir := t.TempDir()
	st := openFlaky(t, filepath.Join(dir, "lsie.db"))
	spoolDir := filepath.Join(dir, "spool")
	h := writerHost(t, st, spoolDir, 0)
	startRun(t, st, "cam", "0123456789abcdef")
	st.down.Store(true)
	for k := range int64(3) {
		h.w.put(&record{Kind: recSegment, RunID: "0123456789abcdef", StreamID: "cam", Segment: ptr(testSegment("cam", k))})
	}
	<-h.w.flush().spooled
	closeWriterHost(h)
	// Corrupt the first record on disk.
	files, _ := filepath.Glob(filepath.Join(spoolDir, "*.rec"))
	if len(files) != 3 {
		t.Fatalf("%d spool files, want 3", len(files))
	}
	b, _ := os.ReadFile(files[0])
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(files[0], b, 0o600); err != nil {
		t.Fatal(err)
	}

	st.down.Store(false)
	h2 := writerHost(t, st, spoolDir, 0) // finds the run h left open: a gap
	defer closeWriterHost(h2)
	bad := testSegment("cam", 3)
	bad.Plugins["visual"].Items[0].Fields["brightness"] = math.Inf(1)
	h2.w.put(&record{Kind: recSegment, RunID: "0123456789abcdef", StreamID: "cam", Segment: &bad})
	h2.w.put(&record{Kind: recSegment, RunID: "0123456789abcdef", StreamID: "cam", Segment: ptr(testSegment("cam", 4))})
	<-h2.w.flush().stored
	if got := st.savedIndexes(); fmt.Sprint(got) != "[1 2 4]" {
		t.Errorf("saved %v, want [1 2 4]", got)
	}
	c := h2.w.health("sqlite")
	if c.Health != model.HealthDegraded || c.Counters["rejected"] != 2 || !strings.Contains(c.Hint, "rejected") {
		t.Errorf("health: %+v", c)
	}
	why, _ := filepath.Glob(filepath.Join(spoolDir, spool.RejectedDir, "*.why"))
	if len(why) != 1 {
		t.Errorf("rejected reasons: %v", why)
	}
	gaps, err := st.Gaps(context.Background(), "cam")
	reasons := map[string]time.Time{}
	for _, g := range gaps {
		reasons[g.Reason] = g.WallFrom
	}
	if err != nil || len(gaps) != 2 || !reasons[reasonInvalidSegment].Equal(bad.WallStart) || reasons[model.ReasonHostRestarted].IsZero() {
		t.Errorf("gaps (the invalid segment's and the open run's): %+v, %v", gaps, err)
	}
}

func ptr[T any](v T) *T { return &v }
