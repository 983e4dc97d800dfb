package main

// Fault tests of issue #15 ("nothing lost"): a locked or restarting store,
// a replayed window, a SIGKILLed host. Each counts what was lost (must be
// 0) and checks every hole is recorded. They wait on conditions (health,
// the API, process exit), never on sleeps.

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/store"
	"github.com/lsie-mlf/lsie/host/store/postgres"
	"github.com/lsie-mlf/lsie/host/store/sqlite"
	"github.com/lsie-mlf/lsie/internal/pgtest"
	"github.com/lsie-mlf/lsie/internal/proctest"
	"github.com/lsie-mlf/lsie/internal/testenv"
)

// waitHostHealth polls the health route until cond holds.
func (h *runningHost) waitHostHealth(t *testing.T, what string, cond func(model.HostHealth) bool) model.HostHealth {
	t.Helper()
	var hh model.HostHealth
	testenv.Eventually(t, 3*time.Minute, what, func() bool {
		hh = model.HostHealth{}
		return h.get(t, "/api/v1/health", &hh) == 200 && cond(hh)
	})
	return hh
}

func component(hh model.HostHealth, kind string) model.ComponentHealth {
	for _, c := range hh.Components {
		if c.Kind == kind {
			return c
		}
	}
	return model.ComponentHealth{}
}

// tableLines counts the segments the host printed for stream id: every
// segment it closed, whether or not it was stored.
func tableLines(out, id string) int {
	n := 0
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == id {
			n++
		}
	}
	return n
}

// checkContiguous fails unless segs (one run's) have consecutive indexes.
func checkContiguous(t *testing.T, segs []model.Segment) {
	t.Helper()
	for i := 1; i < len(segs); i++ {
		if segs[i].Index != segs[i-1].Index+1 {
			t.Errorf("segment %d follows %d: a hole", segs[i].Index, segs[i-1].Index)
		}
	}
}

// storeOutage runs a live stream, breaks the store with outage once the
// first segment is stored, mends it with mend once at least three closed
// segments wait in the spool, and checks that every closed segment was
// stored, in order, once the stream ended.
func storeOutage(t *testing.T, storeBlock string, open func() store.Store, outage, mend func()) {
	dir := t.TempDir()
	h := startHost(t, writeConfig(t, dir, fmt.Sprintf(`segment { duration = "1s" }
%s
api { listen = "127.0.0.1:0" }
stream "live" {
  source   = "test://ball?width=160&height=120&fps=10&duration=15s&audio=440"
  realtime = true
  plugin "visual" {}
  plugin "acoustic" {}
}
`, storeBlock)))
	h.waitSegments(t, "live", 1)
	outage()
	hh := h.waitHostHealth(t, "the store degraded with 3 segments spooled", func(hh model.HostHealth) bool {
		c := component(hh, "store")
		return c.Health != model.HealthOK && c.Counters["spool_records"] >= 3
	})
	if c := component(hh, "store"); !strings.Contains(c.Hint, "wait in the spool") {
		t.Errorf("store hint during the outage: %q", c.Hint)
	}
	mend()
	// ended means stored: once the stream reads ended, all is in the store.
	h.waitHostHealth(t, "the stream ended", func(hh model.HostHealth) bool {
		for _, c := range hh.Components {
			if c.Kind == "stream" && c.Name == "live" {
				return c.Health == model.HealthEnded
			}
		}
		return false
	})
	hh = h.waitHostHealth(t, "an empty spool", func(hh model.HostHealth) bool { return component(hh, "store").Counters["spool_records"] == 0 })
	if c := component(hh, "store"); c.Health != model.HealthOK {
		t.Errorf("store after the outage: %+v", c)
	}
	h.stop(t)
	closed := tableLines(h.stdout.String(), "live")

	st := open()
	defer st.Close()
	ctx := context.Background()
	segs, err := st.Segments(ctx, "live", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != closed || closed < 10 {
		t.Errorf("segments: closed %d, stored %d; want all stored (and at least 10)", closed, len(segs))
	}
	checkContiguous(t, segs)
	runs, err := st.Runs(ctx, "live")
	if err != nil || len(runs) != 1 || runs[0].EndReason != model.ReasonEndOfStream || runs[0].Segments != len(segs) {
		t.Errorf("runs: %+v, %v", runs, err)
	}
	t.Logf("closed %d, stored %d, missing %d", closed, len(segs), closed-len(segs))
}

// SQLite held with BEGIN EXCLUSIVE (what a backup or VACUUM does): saves
// fail with SQLITE_BUSY for as long as it is held, and nothing is lost.
func TestSQLiteLockedThroughHost(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "lsie.db")
	var db *sql.DB
	var conn *sql.Conn
	ctx := context.Background()
	storeOutage(t, fmt.Sprintf("store { sqlite = %q }", dbPath),
		func() store.Store {
			st, err := sqlite.Open(dbPath, nil)
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
		func() {
			var err error
			if db, err = sql.Open("sqlite", dbPath+"?_pragma=busy_timeout(30000)"); err != nil {
				t.Fatal(err)
			}
			if conn, err = db.Conn(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
				t.Fatal(err)
			}
		},
		func() {
			if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
				t.Fatal(err)
			}
			_ = conn.Close()
			_ = db.Close()
		})
}

// The PostgreSQL server stopped under the host and started again.
func TestPostgresRestartThroughHost(t *testing.T) {
	srv := pgtest.Start(t)
	url := srv.NewDatabase(t)
	storeOutage(t, fmt.Sprintf("store { postgres = %q }", url),
		func() store.Store {
			st, err := postgres.Open(context.Background(), url, nil)
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
		func() { srv.Stop(t) },
		func() { srv.Restart(t) })
}

// A window written twice keeps both runs: a file replayed by a second host
// run stores its segments beside the first run's, each naming its run.
func TestReplayKeepsBothRuns(t *testing.T) {
	dir := t.TempDir()
	c := clip(t, dir, "clip", "pattern=white")
	dbPath := filepath.Join(dir, "lsie.db")
	cfg := writeConfig(t, dir, fmt.Sprintf(`segment { duration = "1s" }
store { sqlite = %q }
api { listen = "" }
stream "clip" {
  source   = "file://%s"
  realtime = false
  plugin "visual" {}
}
`, dbPath, c))
	for range 2 {
		if out, code := runHost(t, "--plugins", pluginDir(), "--config", cfg, "--exit-when-done"); code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	}
	st, err := sqlite.Open(dbPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	segs, err := st.Segments(ctx, "clip", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	byRun := map[string][]model.Segment{}
	for _, s := range segs {
		byRun[s.RunID] = append(byRun[s.RunID], s)
	}
	if len(byRun) != 2 || len(segs) != 6 {
		t.Fatalf("%d segments in %d runs, want 3 in each of 2", len(segs), len(byRun))
	}
	for run, rs := range byRun {
		if len(rs) != 3 || rs[0].Index != 0 {
			t.Errorf("run %s: %d segments from %d", run, len(rs), rs[0].Index)
		}
		for _, s := range rs {
			full, err := st.Segment(ctx, "clip", s.Index, run)
			if err != nil || full.RunID != run || full.Plugins["visual"].FramesAnalysed != s.Plugins["visual"].FramesAnalysed ||
				len(full.Plugins["visual"].Items) != full.Plugins["visual"].FramesAnalysed {
				t.Errorf("segment %d of run %s: %+v, %v", s.Index, run, full, err)
			}
		}
	}
	runs, err := st.Runs(ctx, "clip")
	if err != nil || len(runs) != 2 || runs[0].EndReason != model.ReasonEndOfStream || runs[1].EndReason != model.ReasonEndOfStream {
		t.Errorf("runs: %+v, %v", runs, err)
	}
}

// A SIGKILLed host leaves its open segment unwritten: the next start
// records the hole (a gap from the last stored segment to the restart,
// the run ended host_restarted) and its first segment says host_restarted.
func TestSIGKILLRecordsHole(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf(`segment { duration = "1s" }
store { sqlite = %q }
api { listen = "127.0.0.1:0" }
stream "live" {
  source = "test://ball?width=160&height=120&fps=10"
  plugin "visual" {}
}
`, filepath.Join(dir, "lsie.db")))
	h := startHost(t, cfg)
	before := h.waitSegments(t, "live", 2)
	_ = h.cmd.Process.Signal(syscall.SIGKILL)
	_ = h.cmd.Wait()

	h2 := startHost(t, cfg)
	var runs struct {
		Runs []model.StreamRun `json:"runs"`
	}
	var gaps struct {
		Gaps []model.Gap `json:"gaps"`
	}
	testenv.Eventually(t, time.Minute, "the hole recorded", func() bool {
		h2.get(t, "/api/v1/streams/live/gaps", &gaps)
		return len(gaps.Gaps) > 0
	})
	h2.get(t, "/api/v1/streams/live/runs", &runs)
	if len(gaps.Gaps) != 1 || len(runs.Runs) != 2 {
		t.Fatalf("gaps %+v, runs %+v", gaps.Gaps, runs.Runs)
	}
	killed, g := runs.Runs[1], gaps.Gaps[0]
	if killed.EndReason != model.ReasonHostRestarted || g.RunID != killed.RunID || g.Reason != model.ReasonHostRestarted {
		t.Errorf("killed run %+v, gap %+v", killed, g)
	}
	// The hole starts where the killed run's stored results end.
	var sl segmentList
	h2.get(t, "/api/v1/streams/live/segments", &sl)
	var last model.Segment
	for _, s := range sl.Segments {
		if s.RunID == killed.RunID {
			last = s
		}
	}
	if last.Index < before[len(before)-1].Index || !g.WallFrom.Equal(last.WallEnd) || !g.WallTo.After(g.WallFrom) {
		t.Errorf("gap %s–%s, last stored segment of the killed run %d ends %s", g.WallFrom, g.WallTo, last.Index, last.WallEnd)
	}
	segs := h2.waitSegments(t, "live", len(sl.Segments)+1)
	i := slices.IndexFunc(segs, func(s model.Segment) bool { return s.RunID == runs.Runs[0].RunID })
	if i < 0 || !slices.Contains(segs[i].Reasons, model.ReasonHostRestarted) {
		t.Errorf("first segment of the new run (at %d) does not say host_restarted: %+v", i, segs)
	}
	h2.stop(t)
}

// waitLog reads the host's log until a line contains every one of parts.
func (h *runningHost) waitLog(t *testing.T, parts ...string) string {
	t.Helper()
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case l, ok := <-h.stderr.lines:
			if !ok {
				t.Fatalf("host log ended without a line holding %q", parts)
			}
			if !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(l, p) }) {
				return l
			}
		case <-timeout:
			t.Fatalf("no log line holding %q", parts)
		}
	}
}

func (h *runningHost) runsOf(t *testing.T, id string) []model.StreamRun {
	t.Helper()
	var rl struct {
		Runs []model.StreamRun `json:"runs"`
	}
	if code := h.get(t, "/api/v1/streams/"+id+"/runs", &rl); code != 200 {
		t.Fatalf("runs of %s: %d", id, code)
	}
	return rl.Runs
}

// Streams added through the API are desired state: a SIGHUP leaves them
// alone (even when the file now wants their id), a restart brings them
// back, a DELETE forgets them; one that cannot run after a restart costs
// only itself and says why.
func TestAPIStreamsAreDesiredState(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "lsie.hcl")
	head := fmt.Sprintf("segment { duration = \"1s\" }\nstore { sqlite = %q }\napi {\n  listen = \"127.0.0.1:0\"\n  token = \"s3cret\"\n}\n",
		filepath.Join(dir, "lsie.db"))
	writeFile := func(body string) {
		if err := writeConfig(t, dir, head+body); err != cfgPath {
			t.Fatalf("config at %s", err)
		}
	}
	writeFile(fmt.Sprintf(liveStream, "f", "smpte"))
	clipPath := clip(t, dir, "gone", "pattern=ball")
	h := startHost(t, cfgPath)
	h.token = "s3cret"
	for _, body := range []map[string]any{
		{"id": "a", "source": "test://snow?width=160&height=120&fps=10", "plugins": []map[string]any{{"name": "visual"}}},
		{"id": "gone", "source": "file://" + clipPath, "loop": true, "plugins": []map[string]any{{"name": "visual"}}},
	} {
		b, _ := json.Marshal(body)
		if code := h.do(t, "POST", "/api/v1/streams", "s3cret", b); code != http.StatusCreated {
			t.Fatalf("POST %s: %d", body["id"], code)
		}
	}
	before := len(h.waitSegments(t, "a", 2))

	// SIGHUP with the file unchanged: nothing stops.
	_ = h.cmd.Process.Signal(syscall.SIGHUP)
	h.waitLog(t, "reload applied")
	// The file now wants "a" too: refused, the API stream untouched.
	writeFile(fmt.Sprintf(liveStream, "f", "smpte") + fmt.Sprintf(liveStream, "a", "ball"))
	_ = h.cmd.Process.Signal(syscall.SIGHUP)
	h.waitLog(t, "a stream added through the API runs under this id")
	after := h.waitSegments(t, "a", before+2)
	for _, s := range after {
		if slices.Contains(s.Reasons, model.ReasonRemoved) {
			t.Errorf("a/%d: %v: the reload stopped it", s.Index, s.Reasons)
		}
	}
	if runs := h.runsOf(t, "a"); len(runs) != 1 || !runs[0].EndedAt.IsZero() {
		t.Errorf("runs of a after two reloads: %+v", runs)
	}
	if got := streamNames(t, h); !slices.Equal(got, []string{"a", "f", "gone"}) {
		t.Errorf("streams after the reloads: %v", got)
	}
	writeFile(fmt.Sprintf(liveStream, "f", "smpte"))
	h.stop(t)

	// A restart brings the API streams back; "gone" cannot open its file.
	if err := os.Remove(clipPath); err != nil {
		t.Fatal(err)
	}
	h2 := startHost(t, cfgPath)
	h2.token = "s3cret"
	h2.waitSegments(t, "a", len(after)+1)
	if runs := h2.runsOf(t, "a"); len(runs) != 2 || runs[1].EndReason != model.ReasonShutdown || !runs[0].EndedAt.IsZero() {
		t.Errorf("runs of a after the restart: %+v", runs)
	}
	hh := h2.waitHostHealth(t, "gone reported", func(hh model.HostHealth) bool { return health(hh, "gone").Name == "gone" })
	if c := health(hh, "gone"); c.Health != model.HealthError || !strings.Contains(c.Hint, "not restored") {
		t.Errorf("gone: %+v", c)
	}
	for _, id := range []string{"a", "gone"} {
		if code := h2.do(t, "DELETE", "/api/v1/streams/"+id, "s3cret", nil); code != http.StatusNoContent {
			t.Errorf("DELETE %s: %d", id, code)
		}
	}
	if got := streamNames(t, h2); !slices.Equal(got, []string{"f"}) {
		t.Errorf("streams after the DELETEs: %v", got)
	}
	h2.stop(t)

	// Removed streams stay removed.
	h3 := startHost(t, cfgPath)
	if got := streamNames(t, h3); !slices.Equal(got, []string{"f"}) {
		t.Errorf("streams after a restart: %v", got)
	}
	h3.stop(t)
}

// pluginPID finds the process of plugin name among the host's children.
func pluginPID(t *testing.T, h *runningHost, name string) int {
	t.Helper()
	pid := childNamed(h, name)
	if pid == 0 {
		t.Fatalf("no %s process under the host", name)
	}
	return pid
}

// childNamed is the host's child process whose comm is name, or 0.
func childNamed(h *runningHost, name string) int {
	for _, pid := range proctest.Children(h.cmd.Process.Pid) {
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err == nil && strings.TrimSpace(string(comm)) == name {
			return pid
		}
	}
	return 0
}

// An ended stream releases its plugin streams: 20 streams added through the
// API that run to their end leave transcription's memory where it was
// after the first two (each stream loads its own decoder and VAD session,
// ~107 MB, kept for every ended stream before).
func TestEndedStreamsReleasePluginState(t *testing.T) {
	demoWithModels(t, "silero/silero_vad_v5.onnx", "/usr/share/pocketsphinx/model/en-us/en-us.lm.bin")
	dir := t.TempDir()
	h := startHost(t, writeConfig(t, dir, fmt.Sprintf(`segment { duration = "2s" }
store { sqlite = %q }
api { listen = "127.0.0.1:0" }
stream "keep" {
  source = "test://smpte?width=160&height=120&fps=5&audio=440"
  video { fps = 1 }
  plugin "transcription" {}
}
`, filepath.Join(dir, "lsie.db"))))
	const cycles = 20
	var base int64
	for i := 1; i <= cycles; i++ {
		id := fmt.Sprintf("c%02d", i)
		b, _ := json.Marshal(map[string]any{"id": id, "source": "test://smpte?width=160&height=120&fps=5&duration=2s&audio=440",
			"realtime": false, "video": map[string]any{"fps": 1}, "plugins": []map[string]any{{"name": "transcription"}}})
		if code := h.do(t, "POST", "/api/v1/streams", "", b); code != http.StatusCreated {
			t.Fatalf("POST %s: %d", id, code)
		}
		h.waitHostHealth(t, id+" ended", func(hh model.HostHealth) bool { return health(hh, id).Health == model.HealthEnded })
		rss := rssKB(t, pluginPID(t, h, "transcription"))
		t.Logf("after %s: transcription RSS %d MB", id, rss>>10)
		if i == 2 {
			base = rss
		}
	}
	final := rssKB(t, pluginPID(t, h, "transcription"))
	// Generous for allocator noise; ~18 × 107 MB when ended streams were kept.
	if grew := (final - base) >> 10; grew > 100 {
		t.Errorf("transcription grew %d MB over %d cycles (%d → %d MB)", grew, cycles-2, base>>10, final>>10)
	}
	h.stop(t)
}

// A quick restart inside a live window: the window is written by both runs
// and both are kept (issue #15: the second run's partial replaced the
// first's). 300 s windows on the UTC grid leave minutes for a restart; runs
// go on until two share a window (a third is needed only when the first
// restart crossed a boundary).
func TestQuickRestartKeepsBothRuns(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf(`segment { duration = "300s" }
store { sqlite = %q }
api { listen = "127.0.0.1:0" }
stream "live" {
  source = "test://ball?width=160&height=120&fps=10"
  plugin "visual" {}
}
`, filepath.Join(dir, "lsie.db")))
	var frames []int
	var segs []model.Segment
	for run := 1; len(segs) < 2 || segs[len(segs)-1].Index != segs[len(segs)-2].Index; run++ {
		if run > 3 {
			t.Fatalf("three runs and no window shared: %+v", segs)
		}
		h := startHost(t, cfg)
		h.waitHostHealth(t, "frames analysed", func(hh model.HostHealth) bool {
			return health(hh, "live").Counters["plugin.visual.analysed"] >= 5
		})
		h.stop(t)
		st, err := sqlite.Open(filepath.Join(dir, "lsie.db"), nil)
		if err != nil {
			t.Fatal(err)
		}
		segs, err = st.Segments(context.Background(), "live", 0, 0)
		st.Close()
		if err != nil || len(segs) != run {
			t.Fatalf("after run %d: %d segments, %v", run, len(segs), err)
		}
	}
	segs = segs[len(segs)-2:]
	if segs[0].RunID == segs[1].RunID {
		t.Fatalf("one run twice: %+v", segs)
	}
	for _, s := range segs {
		frames = append(frames, s.Plugins["visual"].FramesAnalysed)
		if !slices.Contains(s.Reasons, model.ReasonShutdown) || s.Plugins["visual"].FramesAnalysed < 5 {
			t.Errorf("run %s: %s %v, %d frames", s.RunID, s.Status, s.Reasons, s.Plugins["visual"].FramesAnalysed)
		}
	}
	t.Logf("window %d: run 1 %d frames, run 2 %d frames, both kept", segs[0].Index, frames[0], frames[1])
}
