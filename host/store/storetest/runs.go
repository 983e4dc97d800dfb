package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/store"
)

// RunAt is a stream run started at T0+at, as StartRun takes it.
func RunAt(id, stream string, at time.Duration) model.StreamRun {
	return model.StreamRun{RunID: id, StreamID: stream, StartedAt: T0.Add(at)}
}

// MustStartRun records runs.
func MustStartRun(t testing.TB, d store.Store, runs ...model.StreamRun) {
	t.Helper()
	for _, r := range runs {
		if err := d.StartRun(context.Background(), r); err != nil {
			t.Fatalf("StartRun(%s): %v", r.RunID, err)
		}
	}
}

// withSummary is r with the summary of its stored segments: n of them, the
// last one last.
func withSummary(r model.StreamRun, n int, last model.Segment) model.StreamRun {
	r.Segments, r.LastIndex, r.LastWallEnd, r.LastMediaEnd = n, last.Index, last.WallEnd, last.MediaEnd
	return r
}

func ended(r model.StreamRun, at time.Time, reason string) model.StreamRun {
	r.EndedAt, r.EndReason = at, reason
	return r
}

func mustRuns(t testing.TB, d store.Store, stream string) []model.StreamRun {
	t.Helper()
	var (
		got []model.StreamRun
		err error
	)
	if stream == "" {
		got, err = d.OpenRuns(context.Background())
	} else {
		got, err = d.Runs(context.Background(), stream)
	}
	if err != nil {
		t.Fatalf("runs of %q: %v", stream, err)
	}
	return got
}

func testRuns(t *testing.T, be Backend) {
	d := be.open(t)
	ctx := context.Background()
	MustUpsert(t, d, "cam1", "cam2", "idle")
	if got := mustRuns(t, d, ""); got == nil || len(got) != 0 {
		t.Fatalf("OpenRuns on an empty store = %#v; want empty non-nil", got)
	}
	if got := mustRuns(t, d, "idle"); got == nil || len(got) != 0 {
		t.Fatalf("Runs(idle) = %#v; want empty non-nil", got)
	}

	r1, r2, r3 := RunAt("r1", "cam1", 0), RunAt("r2", "cam1", time.Hour), RunAt("r3", "cam2", 30*time.Minute)
	r0 := RunAt("r0", "cam1", 0)
	r0.StartedAt = time.Time{} // no start time: NULL, first
	MustStartRun(t, d, r1, r2, r3, r0)
	// Recording a run again changes nothing, whatever else it says.
	dup := RunAt("r1", "cam2", 5*time.Hour)
	dup.EndedAt, dup.EndReason, dup.Segments = T0, "x", 7
	MustStartRun(t, d, dup)

	s2, s0, s1 := Segment("cam1", 2, 1, 0), Segment("cam1", 0, 1, 0), Segment("cam1", 1, 1, 0)
	for _, s := range []model.Segment{s2, s0, s1} { // stored out of order: the highest index is last
		MustSave(t, d, "r1", s)
	}
	s5 := Segment("cam2", 5, 0, 0)
	MustSave(t, d, "r3", s5)
	MustSave(t, d, "r3", Segment("cam1", 9, 0, 0)) // another stream's segment under r3's id: not r3's

	r1s, r3s := withSummary(r1, 3, s2), withSummary(r3, 1, s5)
	if got, want := mustRuns(t, d, ""), []model.StreamRun{r0, r1s, r3s, r2}; !reflect.DeepEqual(got, want) {
		t.Fatalf("OpenRuns =\n%+v\nwant\n%+v", got, want)
	}

	end := T0.Add(40 * time.Second)
	if err := d.EndRun(ctx, "r1", end, model.ReasonEndOfStream); err != nil {
		t.Fatalf("EndRun: %v", err)
	}
	// Ending it again changes nothing.
	if err := d.EndRun(ctx, "r1", end.Add(time.Hour), model.ReasonShutdown); err != nil {
		t.Fatalf("EndRun again: %v", err)
	}
	if got, want := mustRuns(t, d, ""), []model.StreamRun{r0, r3s, r2}; !reflect.DeepEqual(got, want) {
		t.Fatalf("OpenRuns after EndRun =\n%+v\nwant\n%+v", got, want)
	}
	r1e := ended(r1s, end, model.ReasonEndOfStream)
	if got, want := mustRuns(t, d, "cam1"), []model.StreamRun{r2, r1e, r0}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Runs(cam1) =\n%+v\nwant\n%+v", got, want)
	}
	if got, want := mustRuns(t, d, "cam2"), []model.StreamRun{r3s}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Runs(cam2) =\n%+v\nwant\n%+v", got, want)
	}

	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"StartRun no run id", d.StartRun(ctx, model.StreamRun{StreamID: "cam1"}), `start run: run id "" and stream id "cam1" must be set`},
		{"StartRun no stream id", d.StartRun(ctx, model.StreamRun{RunID: "r9"}), `start run: run id "r9" and stream id "" must be set`},
		{"EndRun no time", d.EndRun(ctx, "r2", time.Time{}, model.ReasonShutdown), `end run "r2": run id and end time must be set`},
		{"EndRun no run", d.EndRun(ctx, "", T0, model.ReasonShutdown), `end run "": run id and end time must be set`},
	} {
		if tc.err == nil || tc.err.Error() != tc.want {
			t.Errorf("%s = %v, want %q", tc.name, tc.err, tc.want)
		}
	}
	if got, want := mustRuns(t, d, ""), []model.StreamRun{r0, r3s, r2}; !reflect.DeepEqual(got, want) {
		t.Fatalf("OpenRuns after refused calls =\n%+v\nwant\n%+v", got, want)
	}
}

// testRunsUnaffectedBySaves: saving segments needs no run row, creates
// none and ends none; a run ended before its last segments are stored (a
// spool draining after the stream stopped) stays ended.
func testRunsUnaffectedBySaves(t *testing.T, be Backend) {
	d := be.open(t)
	ctx := context.Background()
	MustUpsert(t, d, "cam1")
	MustSave(t, d, "unrecorded", Segment("cam1", 0, 1, 0))
	if got := mustRuns(t, d, "cam1"); len(got) != 0 {
		t.Fatalf("Runs after saving under an unrecorded run = %+v; want none", got)
	}
	r := RunAt("r1", "cam1", 0)
	MustStartRun(t, d, r)
	if err := d.EndRun(ctx, "r1", T0.Add(time.Minute), model.ReasonShutdown); err != nil {
		t.Fatal(err)
	}
	last := Segment("cam1", 4, 1, 0)
	MustSave(t, d, "r1", last)
	want := ended(withSummary(r, 1, last), T0.Add(time.Minute), model.ReasonShutdown)
	if got := mustRuns(t, d, "cam1"); !reflect.DeepEqual(got, []model.StreamRun{want}) {
		t.Fatalf("Runs = %+v, want %+v", got, []model.StreamRun{want})
	}
	if got := mustRuns(t, d, ""); len(got) != 0 {
		t.Fatalf("OpenRuns = %+v, want none", got)
	}
}

func testMarkRunLost(t *testing.T, be Backend) {
	d := be.open(t)
	ctx := context.Background()
	MustUpsert(t, d, "cam1", "cam2")
	r1, r2, r3 := RunAt("r1", "cam1", 0), RunAt("r2", "cam1", time.Hour), RunAt("r3", "cam1", 2*time.Hour)
	MustStartRun(t, d, r1, r2, r3)
	s0, s1 := Segment("cam1", 0, 1, 0), Segment("cam1", 1, 1, 0)
	MustSave(t, d, "r1", s0)
	MustSave(t, d, "r1", s1)

	// The next host finds r1 open: the hole runs from its last stored
	// segment's end to now.
	g := model.Gap{RunID: "r1", WallFrom: s1.WallEnd, WallTo: T0.Add(time.Hour), MediaFrom: s1.MediaEnd,
		Reason: model.ReasonHostRestarted, RecordedAt: T0.Add(time.Hour + time.Second)}
	if err := d.MarkRunLost(ctx, g); err != nil {
		t.Fatalf("MarkRunLost: %v", err)
	}
	// Again (a host that died while marking, then restarted), with other
	// values: nothing more is stored.
	again := g
	again.WallFrom, again.Reason = T0.Add(2*time.Hour), "other"
	for _, gg := range []model.Gap{g, again} {
		if err := d.MarkRunLost(ctx, gg); err != nil {
			t.Fatalf("MarkRunLost again: %v", err)
		}
	}
	// A run that ended properly is not lost.
	if err := d.EndRun(ctx, "r2", T0.Add(90*time.Minute), model.ReasonEndOfStream); err != nil {
		t.Fatal(err)
	}
	if err := d.MarkRunLost(ctx, model.Gap{RunID: "r2", WallFrom: T0.Add(2 * time.Hour), Reason: model.ReasonHostRestarted}); err != nil {
		t.Fatalf("MarkRunLost of an ended run: %v", err)
	}
	// A gap naming another stream than the run's is refused, whole.
	err := d.MarkRunLost(ctx, model.Gap{StreamID: "cam2", RunID: "r3", WallFrom: T0.Add(3 * time.Hour), Reason: model.ReasonHostRestarted})
	if want := `mark run "r3" lost: the gap names stream "cam2", the run is of "cam1"`; err == nil || err.Error() != want {
		t.Errorf("MarkRunLost(other stream) = %v, want %q", err, want)
	}
	if err := d.MarkRunLost(ctx, model.Gap{RunID: "r3", Reason: model.ReasonHostRestarted}); err == nil ||
		err.Error() != `mark run "r3" lost: run id and wall_from must be set` {
		t.Errorf("MarkRunLost(no wall_from) = %v", err)
	}

	want := []model.StreamRun{
		r3,
		ended(r2, T0.Add(90*time.Minute), model.ReasonEndOfStream),
		ended(withSummary(r1, 2, s1), s1.WallEnd, model.ReasonHostRestarted),
	}
	if got := mustRuns(t, d, "cam1"); !reflect.DeepEqual(got, want) {
		t.Fatalf("Runs =\n%+v\nwant\n%+v", got, want)
	}
	if got := mustRuns(t, d, ""); !reflect.DeepEqual(got, []model.StreamRun{r3}) {
		t.Fatalf("OpenRuns = %+v, want r3 only", got)
	}
	g.StreamID = "cam1" // filled from the run
	gaps, err := d.Gaps(ctx, "cam1")
	if err != nil || !reflect.DeepEqual(gaps, []model.Gap{g}) {
		t.Fatalf("Gaps = %+v, %v; want %+v", gaps, err, []model.Gap{g})
	}
	if gaps, err := d.Gaps(ctx, "cam2"); err != nil || gaps == nil || len(gaps) != 0 {
		t.Fatalf("Gaps(cam2) = %#v, %v; want empty non-nil", gaps, err)
	}
}

// testConcurrentMarkRunLost: hosts racing to mark one run lost store one
// gap, and none fails.
func testConcurrentMarkRunLost(t *testing.T, be Backend) {
	d := be.open(t)
	ctx := context.Background()
	MustUpsert(t, d, "cam1")
	MustStartRun(t, d, RunAt("r1", "cam1", 0))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			errs <- d.MarkRunLost(ctx, model.Gap{RunID: "r1", WallFrom: T0.Add(time.Duration(i) * time.Second),
				Reason: model.ReasonHostRestarted, RecordedAt: T0})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	gaps, err := d.Gaps(ctx, "cam1")
	if err != nil || len(gaps) != 1 {
		t.Fatalf("Gaps = %+v, %v; want one", gaps, err)
	}
	runs := mustRuns(t, d, "cam1")
	if len(runs) != 1 || !runs[0].EndedAt.Equal(gaps[0].WallFrom) {
		t.Fatalf("Runs = %+v; want r1 ended where its gap starts (%v)", runs, gaps[0].WallFrom)
	}
}

func testGaps(t *testing.T, be Backend) {
	d := be.open(t)
	ctx := context.Background()
	MustUpsert(t, d, "cam1", "cam2")
	late := model.Gap{StreamID: "cam1", RunID: "r1", WallFrom: T0.Add(time.Minute), WallTo: T0.Add(2 * time.Minute),
		MediaFrom: 50 * time.Second, Reason: model.ReasonSourceError, RecordedAt: T0.Add(3 * time.Minute)}
	early := model.Gap{StreamID: "cam1", WallFrom: T0, WallTo: T0.Add(time.Second), Reason: model.ReasonSourceStall,
		RecordedAt: T0.Add(time.Hour)}
	tie := early // same start, recorded later: after it
	tie.Reason = "second"
	bare := model.Gap{StreamID: "cam1", Reason: "unknown"} // no times: NULL, first
	other := model.Gap{StreamID: "cam2", RunID: "no such run", WallFrom: T0, Reason: "x"}
	for _, g := range []model.Gap{late, early, tie, bare, other} {
		if err := d.RecordGap(ctx, g); err != nil {
			t.Fatalf("RecordGap: %v", err)
		}
	}
	gaps, err := d.Gaps(ctx, "cam1")
	if want := []model.Gap{bare, early, tie, late}; err != nil || !reflect.DeepEqual(gaps, want) {
		t.Fatalf("Gaps(cam1) =\n%+v, %v\nwant\n%+v", gaps, err, want)
	}
	gaps, err = d.Gaps(ctx, "cam2")
	if want := []model.Gap{other}; err != nil || !reflect.DeepEqual(gaps, want) {
		t.Fatalf("Gaps(cam2) = %+v, %v; want %+v", gaps, err, want)
	}
	if err := d.RecordGap(ctx, model.Gap{RunID: "r1", WallFrom: T0}); err == nil || err.Error() != "record gap: stream id must be set" {
		t.Errorf("RecordGap(no stream) = %v", err)
	}
	// Recording gaps ends no run.
	MustStartRun(t, d, RunAt("r1", "cam1", 0))
	if err := d.RecordGap(ctx, late); err != nil {
		t.Fatal(err)
	}
	if got := mustRuns(t, d, ""); len(got) != 1 || !got[0].EndedAt.IsZero() {
		t.Fatalf("OpenRuns after RecordGap = %+v; want r1 open", got)
	}
}

// desired are desired streams whose specs hold bytes a text column or a
// JSON type would change: spacing, key order, NUL, invalid UTF-8.
func desired() (a, b, c, z model.DesiredStream) {
	a = model.DesiredStream{ID: "a", Spec: []byte(`{"id": "a",  "source" :"file:///x.mp4", "plugins":["face"]}` + "\n"),
		BaseDir: "/etc/lsie", AddedAt: T0.Add(time.Second)}
	b = model.DesiredStream{ID: "b", Spec: []byte("{\"id\":\"b\"}\x00\xff\xfe"), BaseDir: "", AddedAt: T0.Add(time.Second)}
	c = model.DesiredStream{ID: "c", Spec: []byte(`{"id":"c"}`), BaseDir: "rel/dir", AddedAt: T0}
	z = model.DesiredStream{ID: "z", Spec: []byte(`{"id":"z"}`)} // no AddedAt: NULL, first
	return a, b, c, z
}

func mustDesired(t testing.TB, d store.Store) []model.DesiredStream {
	t.Helper()
	got, err := d.DesiredStreams(context.Background())
	if err != nil {
		t.Fatalf("DesiredStreams: %v", err)
	}
	return got
}

func testDesiredStreams(t *testing.T, be Backend) {
	d := be.open(t)
	ctx := context.Background()
	if got := mustDesired(t, d); got == nil || len(got) != 0 {
		t.Fatalf("DesiredStreams on an empty store = %#v; want empty non-nil", got)
	}
	a, b, c, z := desired()
	// No stream rows: a desired stream needs none.
	for _, ds := range []model.DesiredStream{b, a, c, z} {
		if err := d.PutDesiredStream(ctx, ds); err != nil {
			t.Fatalf("PutDesiredStream(%s): %v", ds.ID, err)
		}
	}
	if got, want := mustDesired(t, d), []model.DesiredStream{z, c, a, b}; !reflect.DeepEqual(got, want) {
		t.Fatalf("DesiredStreams =\n%q\nwant\n%q", got, want)
	}

	// Put replaces every field.
	c2 := model.DesiredStream{ID: "c", Spec: []byte(`{"id":"c","v":2}`), BaseDir: "/srv", AddedAt: T0.Add(time.Hour)}
	if err := d.PutDesiredStream(ctx, c2); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteDesiredStream(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "never"} { // unknown: a no-op
		if err := d.DeleteDesiredStream(ctx, id); err != nil {
			t.Fatalf("DeleteDesiredStream(%s): %v", id, err)
		}
	}
	empty := model.DesiredStream{ID: "e", Spec: []byte{}, AddedAt: T0.Add(2 * time.Hour)}
	if err := d.PutDesiredStream(ctx, empty); err != nil {
		t.Fatal(err)
	}
	empty.Spec = nil // an empty spec comes back nil
	if got, want := mustDesired(t, d), []model.DesiredStream{z, b, c2, empty}; !reflect.DeepEqual(got, want) {
		t.Fatalf("DesiredStreams after replace and delete =\n%q\nwant\n%q", got, want)
	}
	if err := d.PutDesiredStream(ctx, model.DesiredStream{Spec: []byte(`{}`)}); err == nil || err.Error() != "put desired stream: empty id" {
		t.Errorf("PutDesiredStream(no id) = %v", err)
	}
	// Nothing ties them to streams, and streams' rows do not need them.
	MustUpsert(t, d, "b")
	if n := count(t, be, d, `SELECT count(*) FROM desired_streams`); n != 4 {
		t.Errorf("desired_streams has %d rows, want 4", n)
	}
}

// testDesiredStreamsReopened: desired streams survive a restart.
func testDesiredStreamsReopened(t *testing.T, be Backend) {
	if be.Reopen == nil {
		t.Skip("backend cannot reopen its database")
	}
	d := be.open(t)
	ctx := context.Background()
	a, b, _, _ := desired()
	for _, ds := range []model.DesiredStream{a, b} {
		if err := d.PutDesiredStream(ctx, ds); err != nil {
			t.Fatal(err)
		}
	}
	d2 := be.Reopen(t, d)
	t.Cleanup(func() { _ = d2.Close() })
	if got, want := mustDesired(t, d2), []model.DesiredStream{a, b}; !reflect.DeepEqual(got, want) {
		t.Fatalf("DesiredStreams after reopening =\n%q\nwant\n%q", got, want)
	}
	if err := d2.DeleteDesiredStream(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if got, want := mustDesired(t, d2), []model.DesiredStream{b}; !reflect.DeepEqual(got, want) {
		t.Fatalf("DesiredStreams after delete = %q, want %q", got, want)
	}
}

// testHostileRunsText stores SQL-looking text in every text field of runs,
// gaps and desired streams, and checks it reads back unchanged.
func testHostileRunsText(t *testing.T, be Backend) {
	d := be.open(t)
	ctx := context.Background()
	for i, h := range hostile {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			MustUpsert(t, d, h)
			r := model.StreamRun{RunID: h, StreamID: h, StartedAt: T0}
			lost := model.StreamRun{RunID: h + "#lost", StreamID: h, StartedAt: T0.Add(-time.Hour)}
			MustStartRun(t, d, r, lost)
			seg := Segment(h, 0, 1, 0)
			MustSave(t, d, h, seg)
			if err := d.EndRun(ctx, h, T0.Add(time.Minute), h); err != nil {
				t.Fatalf("EndRun: %v", err)
			}
			lg := model.Gap{StreamID: h, RunID: lost.RunID, WallFrom: T0.Add(-time.Minute), Reason: h}
			if err := d.MarkRunLost(ctx, lg); err != nil {
				t.Fatalf("MarkRunLost: %v", err)
			}
			g := model.Gap{StreamID: h, RunID: h, WallFrom: T0, WallTo: T0.Add(time.Second), Reason: h}
			if err := d.RecordGap(ctx, g); err != nil {
				t.Fatalf("RecordGap: %v", err)
			}
			want := []model.StreamRun{
				ended(withSummary(r, 1, seg), T0.Add(time.Minute), h),
				ended(lost, lg.WallFrom, h),
			}
			if got := mustRuns(t, d, h); !reflect.DeepEqual(got, want) {
				t.Fatalf("Runs =\n%+v\nwant\n%+v", got, want)
			}
			if gaps, err := d.Gaps(ctx, h); err != nil || !reflect.DeepEqual(gaps, []model.Gap{lg, g}) {
				t.Fatalf("Gaps = %+v, %v; want %+v", gaps, err, []model.Gap{lg, g})
			}
			ds := model.DesiredStream{ID: h, Spec: []byte(h), BaseDir: h, AddedAt: T0.Add(time.Duration(i))}
			if err := d.PutDesiredStream(ctx, ds); err != nil {
				t.Fatalf("PutDesiredStream: %v", err)
			}
			all := mustDesired(t, d)
			if len(all) != i+1 || !reflect.DeepEqual(all[i], ds) {
				t.Fatalf("DesiredStreams = %q; want %q last", all, ds)
			}
		})
	}
	for table, want := range map[string]int{
		"streams": len(hostile), "stream_runs": 2 * len(hostile), "gaps": 2 * len(hostile),
		"desired_streams": len(hostile), "segments": len(hostile),
	} {
		if n := count(t, be, d, "SELECT count(*) FROM "+table); n != want {
			t.Errorf("%s has %d rows, want %d", table, n, want)
		}
	}
	if _, err := d.Runs(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Runs(nope) = %v", err)
	}
}
