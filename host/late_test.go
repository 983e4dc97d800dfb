package host

import (
	"context"
	"github.com/lsie-mlf/lsie/internal/testenv"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/lsie-mlf/lsie/host/config"
	"github.com/lsie-mlf/lsie/host/model"
)

// lateStore is a flakyStore whose AttachLate also fails while down, and
// can lose the reply of its next attaches: they are applied, but the
// writer sees an error and tries again.
type lateStore struct {
	*flakyStore
	loseReplies atomic.Int32
	attaches    atomic.Int32
}

func (l *lateStore) AttachLate(ctx context.Context, stream string, index int64, run, plugin string, items []model.Item) error {
	l.attaches.Add(1)
	if l.down.Load() {
		return errLocked
	}
	err := l.flakyStore.AttachLate(ctx, stream, index, run, plugin, items)
	if err == nil && l.loseReplies.Add(-1) >= 0 {
		return errLocked // committed, but the writer never hears so
	}
	return err
}

// lateRunner is the part of a stream run that late results pass through.
func lateRunner(h *Host, stream, run string) *streamRunner {
	return &streamRunner{h: h, runID: run, cfg: config.Stream{ID: stream}, log: hclog.NewNullLogger()}
}

// Late results of a closed segment are spooled as late records behind the
// segment and attached to it once the store is back, in order, once: a
// retry after a lost reply attaches nothing twice. Results after the run's
// end are counted as lost.
func TestLateRecordThroughWriter(t *testing.T) {
	dir := t.TempDir()
	st := &lateStore{flakyStore: openFlaky(t, filepath.Join(dir, "lsie.db"))}
	h := writerHost(t, st, filepath.Join(dir, "spool"), 0)
	defer closeWriterHost(h)
	const run = "0123456789abcdef"
	startRun(t, st, "cam", run)
	s := lateRunner(h, "cam", run)

	// The store is down when the segment closes and its late results come.
	st.down.Store(true)
	h.w.put(&record{Kind: recSegment, RunID: run, StreamID: "cam", Segment: ptr(testSegment("cam", 0))})
	s.onLate("visual", 0, model.Item{PTS: 400 * time.Millisecond, Fields: map[string]float64{"brightness": 4}})
	s.onLate("visual", 0, model.Item{PTS: 600 * time.Millisecond, Fields: map[string]float64{"brightness": 6}})
	s.flushLate(false)
	s.onLate("visual", 0, model.Item{PTS: 800 * time.Millisecond, Fields: map[string]float64{"brightness": 8}})
	s.flushLate(false)
	b := h.w.flush()
	<-b.spooled
	testenv.Eventually(t, 30*time.Second, "a failed attempt", func() bool { return h.w.fails.Load() > 0 })
	if c := h.w.health("sqlite"); c.Health != model.HealthDegraded || c.Counters["spool_records"] != 3 {
		t.Fatalf("health during the outage: %+v", c)
	}
	st.loseReplies.Store(1) // the first attach commits, its reply is lost
	st.down.Store(false)
	<-b.stored
	if n := h.w.rejected.Load(); n != 0 {
		t.Fatalf("%d records rejected", n)
	}
	seg, err := st.Segment(context.Background(), "cam", 0, run)
	if err != nil {
		t.Fatal(err)
	}
	p := seg.Plugins["visual"]
	var got []string
	for _, it := range p.Items {
		got = append(got, it.PTS.String()+map[bool]string{true: " late"}[it.Late])
	}
	if strings.Join(got, ",") != "0s,400ms late,600ms late,800ms late" || p.LateItems != 3 {
		t.Fatalf("stored items %v, late_items %d", got, p.LateItems)
	}
	if want := testSegment("cam", 0).Plugins["visual"].Aggregates; !reflect.DeepEqual(p.Aggregates, want) {
		t.Errorf("aggregates %+v, want them as saved: %+v", p.Aggregates, want)
	}
	if n := st.attaches.Load(); n < 3 {
		t.Errorf("%d attach calls, want a retry after the lost reply", n)
	}

	// After the run's end no record can follow: counted, not attached.
	s.closeLate()
	s.onLate("visual", 0, model.Item{PTS: 900 * time.Millisecond})
	rep := h.Loss()
	if len(rep.Streams) != 1 || rep.Streams[0].LateAttached != 3 || rep.Streams[0].LateNotAttached != 1 || !rep.Lost() {
		t.Fatalf("loss report %+v", rep)
	}
}

// A late record whose segment the store does not have is set aside
// (rejected), and the report counts it as lost.
func TestLateRecordForUnknownSegmentRejected(t *testing.T) {
	dir := t.TempDir()
	st := openFlaky(t, filepath.Join(dir, "lsie.db"))
	h := writerHost(t, st, filepath.Join(dir, "spool"), 0)
	defer closeWriterHost(h)
	startRun(t, st, "cam", "0123456789abcdef")
	s := lateRunner(h, "cam", "0123456789abcdef")
	s.onLate("visual", 7, model.Item{PTS: 14 * time.Second})
	s.closeLate()
	<-h.w.flush().stored
	rep := h.Loss()
	if rep.Rejected != 1 || !rep.Lost() || !strings.Contains(rep.Summary(), "store: 1 records rejected") {
		t.Fatalf("loss report %+v: %s", rep, rep.Summary())
	}
}

// Partials waiting in a late batch are replaced by their utterance's
// later partial and ended by its final, as in an open segment.
func TestLateBatchCoalescesPartials(t *testing.T) {
	h := &Host{}
	s := lateRunner(h, "cam", "r")
	for _, it := range []model.Item{
		{PTS: time.Second, Topic: "transcript.partial@1", Text: "a"},
		{PTS: time.Second, Topic: "transcript.partial@1", Text: "a b"},
		{PTS: 2 * time.Second, Topic: "transcript.partial@1", Text: "c"},
		{PTS: time.Second, Topic: "transcript.final@1", Text: "a b c"},
	} {
		s.onLate("asr", 0, it)
	}
	var got []string
	for _, it := range s.late.pending[0].Items {
		if !it.Late {
			t.Errorf("item %+v not marked late", it)
		}
		got = append(got, it.Text)
	}
	if strings.Join(got, "|") != "c|a b c" {
		t.Fatalf("batch %q", got)
	}
}

func TestLossSummary(t *testing.T) {
	if got := (LossReport{}).Summary(); got != "" {
		t.Errorf("empty report: %q", got)
	}
	late := LossReport{Streams: []StreamLoss{{Stream: "x", LateAttached: 7}}}
	if late.Lost() || late.Summary() != `nothing lost: stream "x": 7 late results (attached late)` {
		t.Errorf("late only: %v %q", late.Lost(), late.Summary())
	}
	lost := LossReport{Streams: []StreamLoss{
		{Stream: "x", LateAttached: 7, FramesDropped: 2, PluginLost: 1},
		{Stream: "y", TextDropped: 3, AudioDropped: 1500 * time.Millisecond},
	}, Rejected: 1}
	want := `data lost: stream "x": 2 frames dropped, 1 frames or chunks lost with their plugin (plugin_lost), ` +
		`7 late results (attached late); stream "y": 3 topic events dropped (text_dropped), 1.5s of audio dropped; store: 1 records rejected`
	if !lost.Lost() || lost.Summary() != want {
		t.Errorf("lossy:\n%s\nwant\n%s", lost.Summary(), want)
	}
}
