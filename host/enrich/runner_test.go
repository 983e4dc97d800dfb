package enrich

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/internal/testenv"
)

var fixedNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

type saved struct {
	stream string
	index  int64
	e      model.Enrichment
}

// memSink records saves; its first failFirst calls fail.
type memSink struct {
	mu        sync.Mutex
	failFirst int
	calls     int
	saves     []saved
}

func (s *memSink) SaveEnrichment(_ context.Context, stream string, index int64, _ string, e model.Enrichment) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.calls <= s.failFirst {
		return errors.New("store unavailable")
	}
	s.saves = append(s.saves, saved{stream, index, e})
	return nil
}

func (s *memSink) all() []saved {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]saved(nil), s.saves...)
}

// fakeTime makes r's clock fixed and its waits instant, recording them.
type fakeTime struct {
	mu     sync.Mutex
	delays []time.Duration
}

func (f *fakeTime) install(r *Runner) {
	r.now = func() time.Time { return fixedNow }
	r.jitter = func() float64 { return 0 }
	r.sleep = func(ctx context.Context, d time.Duration) error {
		f.mu.Lock()
		f.delays = append(f.delays, d)
		f.mu.Unlock()
		return ctx.Err()
	}
}

func (f *fakeTime) got() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.delays...)
}

// flaky fails its first n runs, then returns {"ok":true}.
func flaky(kind string, n int, calls *int) Job {
	var mu sync.Mutex
	return Job{Kind: kind, Run: func(context.Context, model.Segment) (json.RawMessage, error) {
		mu.Lock()
		defer mu.Unlock()
		*calls++
		if *calls <= n {
			return nil, fmt.Errorf("transient %d", *calls)
		}
		return json.RawMessage(`{"ok":true}`), nil
	}}
}

func newTest(t *testing.T, jobs []Job, sink Sink, cfg Config) (*Runner, *fakeTime) {
	t.Helper()
	r := New(jobs, sink, cfg, hclog.NewNullLogger())
	ft := &fakeTime{}
	ft.install(r)
	return r, ft
}

// runOne submits one segment, closes (draining) and returns the saves.
func runOne(t *testing.T, r *Runner, sink *memSink) []saved {
	t.Helper()
	r.Start(context.Background())
	if !r.Submit(model.Segment{StreamID: "cam", Index: 7}) {
		t.Fatal("submit refused")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	return sink.all()
}

func TestRetryThenSuccess(t *testing.T) {
	sink := &memSink{}
	var calls int
	r, ft := newTest(t, []Job{flaky("k", 2, &calls)}, sink, Config{Attempts: 4, Backoff: 100 * time.Millisecond, MaxBackoff: time.Second})
	got := runOne(t, r, sink)
	want := model.Enrichment{Kind: "k", Status: StatusOK, Result: json.RawMessage(`{"ok":true}`), Attempts: 3, At: fixedNow}
	if len(got) != 1 || got[0].stream != "cam" || got[0].index != 7 || !sameEnrichment(got[0].e, want) {
		t.Fatalf("saves = %+v", got)
	}
	if calls != 3 {
		t.Errorf("calls = %d", calls)
	}
	// Zero jitter: half of 100 ms, then half of 200 ms.
	if d := ft.got(); len(d) != 2 || d[0] != 50*time.Millisecond || d[1] != 100*time.Millisecond {
		t.Errorf("delays = %v", d)
	}
	if s := r.Stats(); s != (Counters{Submitted: 1, Done: 1, Retries: 2}) {
		t.Errorf("stats = %+v", s)
	}
}

func TestPermanentFailureSavedAsFailed(t *testing.T) {
	sink := &memSink{}
	var calls int
	r, _ := newTest(t, []Job{flaky("k", 1000, &calls)}, sink, Config{Attempts: 3})
	got := runOne(t, r, sink)
	want := model.Enrichment{Kind: "k", Status: StatusFailed, Error: "transient 3", Attempts: 3, At: fixedNow}
	if len(got) != 1 || !sameEnrichment(got[0].e, want) {
		t.Fatalf("saves = %+v", got)
	}
	if s := r.Stats(); s != (Counters{Submitted: 1, Failed: 1, Retries: 2}) {
		t.Errorf("stats = %+v", s)
	}
}

func TestNonRetryableFailures(t *testing.T) {
	jobs := []Job{
		{Kind: "perm", Run: func(context.Context, model.Segment) (json.RawMessage, error) {
			return nil, Permanent(errors.New("bad input"))
		}},
		{Kind: "panic", Run: func(context.Context, model.Segment) (json.RawMessage, error) { panic("boom") }},
		{Kind: "json", Run: func(context.Context, model.Segment) (json.RawMessage, error) { return json.RawMessage(`{`), nil }},
	}
	sink := &memSink{}
	r, _ := newTest(t, jobs, sink, Config{})
	got := runOne(t, r, sink)
	wantErr := map[string]string{"perm": "bad input", "panic": "job panicked: boom", "json": "job returned invalid JSON"}
	if len(got) != 3 {
		t.Fatalf("saves = %+v", got)
	}
	for _, s := range got {
		if s.e.Status != StatusFailed || s.e.Attempts != 1 || s.e.Error != wantErr[s.e.Kind] {
			t.Errorf("%s: %+v", s.e.Kind, s.e)
		}
	}
	if s := r.Stats(); s != (Counters{Submitted: 1, Failed: 3}) {
		t.Errorf("stats = %+v", s)
	}
	if Permanent(nil) != nil {
		t.Error("Permanent(nil) must be nil")
	}
}

func TestSinkFailureRetried(t *testing.T) {
	sink := &memSink{failFirst: 2}
	var calls int
	r, ft := newTest(t, []Job{flaky("k", 0, &calls)}, sink, Config{Backoff: time.Second, MaxBackoff: time.Second})
	got := runOne(t, r, sink)
	if len(got) != 1 || got[0].e.Status != StatusOK || got[0].e.Attempts != 1 || sink.calls != 3 || calls != 1 {
		t.Fatalf("saves = %+v, sink calls %d, job calls %d", got, sink.calls, calls)
	}
	if d := ft.got(); len(d) != 2 || d[0] != 500*time.Millisecond || d[1] != 500*time.Millisecond {
		t.Errorf("delays = %v", d)
	}
	if s := r.Stats(); s != (Counters{Submitted: 1, Done: 1, SinkRetries: 2}) {
		t.Errorf("stats = %+v", s)
	}

	// A sink that keeps failing loses the result after Attempts saves.
	sink = &memSink{failFirst: 1000}
	r, _ = newTest(t, []Job{flaky("k", 0, &calls)}, sink, Config{Attempts: 2})
	runOne(t, r, sink)
	if s := r.Stats(); sink.calls != 2 || s != (Counters{Submitted: 1, SinkRetries: 1, Lost: 1}) {
		t.Errorf("sink calls %d, stats = %+v", sink.calls, s)
	}
}

func TestQueueFullDropsAndCloseDrains(t *testing.T) {
	sink := &memSink{}
	var calls int
	r, _ := newTest(t, []Job{flaky("k", 0, &calls)}, sink, Config{Queue: 2})
	// Not started yet: the queue fills up.
	for i, want := range []bool{true, true, false} {
		if got := r.Submit(model.Segment{StreamID: "cam", Index: int64(i)}); got != want {
			t.Errorf("submit %d = %v", i, got)
		}
	}
	if s := r.Stats(); s.Submitted != 2 || s.Dropped != 1 {
		t.Errorf("stats = %+v", s)
	}
	r.Start(context.Background())
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	got := sink.all()
	if len(got) != 2 || got[0].index != 0 || got[1].index != 1 {
		t.Errorf("saves = %+v", got)
	}
	// Closed: refused and counted; a second Close is harmless.
	if r.Submit(model.Segment{}) {
		t.Error("submit after close accepted")
	}
	if err := r.Close(); err != nil {
		t.Error(err)
	}
	if s := r.Stats(); s != (Counters{Submitted: 2, Done: 2, Dropped: 2}) {
		t.Errorf("stats = %+v", s)
	}
}

func TestCloseDrainsWhileBusy(t *testing.T) {
	sink := &memSink{}
	running, release := make(chan struct{}, 1), make(chan struct{})
	job := Job{Kind: "slow", Run: func(context.Context, model.Segment) (json.RawMessage, error) {
		running <- struct{}{}
		<-release
		return json.RawMessage(`1`), nil
	}}
	r, _ := newTest(t, []Job{job}, sink, Config{Queue: 1})
	r.Start(context.Background())
	if !r.Submit(model.Segment{Index: 0}) {
		t.Fatal("submit 0")
	}
	<-running // the worker holds segment 0; the queue is empty
	if !r.Submit(model.Segment{Index: 1}) || r.Submit(model.Segment{Index: 2}) {
		t.Fatal("queue of 1 should take exactly one more")
	}
	go func() {
		<-running
		close(release) // let both runs finish
	}()
	release <- struct{}{}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if got := sink.all(); len(got) != 2 || got[1].index != 1 {
		t.Errorf("saves = %+v", got)
	}
	if s := r.Stats(); s != (Counters{Submitted: 2, Done: 2, Dropped: 1}) {
		t.Errorf("stats = %+v", s)
	}
}

func TestCloseBoundStopsStuckJobs(t *testing.T) {
	sink := &memSink{}
	running := make(chan struct{}, 1)
	job := Job{Kind: "stuck", Run: func(ctx context.Context, _ model.Segment) (json.RawMessage, error) {
		running <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	r, _ := newTest(t, []Job{job}, sink, Config{Queue: 4, DrainTimeout: time.Millisecond})
	r.Start(context.Background())
	r.Submit(model.Segment{Index: 0})
	<-running
	r.Submit(model.Segment{Index: 1})
	if err := r.Close(); err == nil {
		t.Fatal("Close should report the undrained queue")
	}
	if len(sink.all()) != 0 {
		t.Errorf("saves = %+v", sink.all())
	}
	// The in-flight result is lost, the queued segment dropped.
	if s := r.Stats(); s != (Counters{Submitted: 2, Lost: 1, Dropped: 1}) {
		t.Errorf("stats = %+v", s)
	}
}

func TestContextCancelStopsWaiting(t *testing.T) {
	sink := &memSink{}
	ran := make(chan struct{}, 1)
	job := Job{Kind: "k", Run: func(context.Context, model.Segment) (json.RawMessage, error) {
		select {
		case ran <- struct{}{}:
		default:
		}
		return nil, errors.New("down")
	}}
	// Real sleeps: an hour's backoff only ends through cancellation.
	r := New([]Job{job}, sink, Config{Backoff: time.Hour, MaxBackoff: time.Hour}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	r.Start(ctx)
	r.Submit(model.Segment{})
	<-ran
	// Cancel once the runner waits in its backoff: a cancel between the
	// job's return and its retry being counted would void the attempt.
	testenv.Eventually(t, time.Minute, "the retry's backoff", func() bool { return r.Stats().Retries == 1 })
	cancel()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if s := r.Stats(); s != (Counters{Submitted: 1, Retries: 1, Lost: 1}) {
		t.Errorf("stats = %+v", s)
	}
	if len(sink.all()) != 0 {
		t.Errorf("saves = %+v", sink.all())
	}
}

func TestCloseWithoutStart(t *testing.T) {
	r := New(DefaultJobs(), &memSink{}, Config{}, nil)
	r.Submit(model.Segment{})
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r.Start(context.Background()) // after Close: nothing starts
	if s := r.Stats(); s != (Counters{Submitted: 1, Dropped: 1}) {
		t.Errorf("stats = %+v", s)
	}
}

func TestManyWorkers(t *testing.T) {
	sink := &memSink{}
	r, _ := newTest(t, DefaultJobs(), sink, Config{Workers: 4, Queue: 64})
	r.Start(context.Background())
	for i := range 50 {
		if !r.Submit(segment(int64(i))) {
			t.Fatalf("submit %d refused", i)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if s := r.Stats(); s != (Counters{Submitted: 50, Done: 150}) {
		t.Errorf("stats = %+v", s)
	}
	seen := map[string]int{}
	for _, s := range sink.all() {
		seen[s.e.Kind]++
	}
	if seen[KindKeywords] != 50 || seen[KindLanguage] != 50 || seen[KindStats] != 50 {
		t.Errorf("kinds = %v", seen)
	}
}

func TestBackoffDelay(t *testing.T) {
	base, maxd := 500*time.Millisecond, 30*time.Second
	cases := []struct {
		attempt int
		u       float64
		want    time.Duration
	}{
		{1, 0, 250 * time.Millisecond},
		{1, 0.5, 375 * time.Millisecond},
		{2, 0, 500 * time.Millisecond},
		{3, 0.5, 1500 * time.Millisecond},
		{7, 0, 15 * time.Second}, // 32 s capped to 30 s
		{60, 0.5, 22500 * time.Millisecond},
	}
	for _, c := range cases {
		if got := backoffDelay(c.attempt, base, maxd, c.u); got != c.want {
			t.Errorf("attempt %d u %v: %v, want %v", c.attempt, c.u, got, c.want)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	got := Config{}.WithDefaults()
	want := Config{Workers: 1, Attempts: 4, Queue: 256, Backoff: 500 * time.Millisecond, MaxBackoff: 30 * time.Second, DrainTimeout: 30 * time.Second}
	if got != want {
		t.Errorf("defaults = %+v", got)
	}
}

func sameEnrichment(a, b model.Enrichment) bool {
	return a.Kind == b.Kind && a.Status == b.Status && string(a.Result) == string(b.Result) &&
		a.Error == b.Error && a.Attempts == b.Attempts && a.At.Equal(b.At)
}
