package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/store"
)

func init() {
	for name, typ := range map[string]reflect.Type{
		"StreamRun":     reflect.TypeFor[model.StreamRun](),
		"StreamRunList": reflect.TypeFor[runsResponse](),
		"Gap":           reflect.TypeFor[model.Gap](),
		"GapList":       reflect.TypeFor[gapsResponse](),
	} {
		extraSchemaTypes[name] = typ
	}
	extraExchanges = append(extraExchanges, runsExchanges)
}

func (failingStore) Runs(context.Context, string) ([]model.StreamRun, error) { return nil, errDisk }
func (failingStore) Gaps(context.Context, string) ([]model.Gap, error)       { return nil, errDisk }

// The runs newRunsStore adds to the fixtures: cam1's fixtureRun stored
// segments 0 to 2 and ended; replayRun, a reload that replayed the file,
// stored 1 and 2 again and was cut short by a host that died (a gap
// records the lost window); openRun has started and stored nothing yet.
const (
	replayRun = "00ff00ff00ff00ff"
	openRun   = "fedcba9876543210"
	// noRun is well formed but stored nothing.
	noRun = "0000000000000000"
)

// newRunsStore is newTestStore with two more runs of cam1 and a gap.
func newRunsStore(t *testing.T) store.Store {
	t.Helper()
	st := newTestStore(t)
	ctx := context.Background()
	start := t0.Add(time.Minute)
	if err := st.StartRun(ctx, model.StreamRun{RunID: replayRun, StreamID: "cam1", StartedAt: start}); err != nil {
		t.Fatal(err)
	}
	for i := int64(1); i <= 2; i++ {
		media := time.Duration(i) * 10 * time.Second
		seg := model.Segment{StreamID: "cam1", Index: i, MediaStart: media, MediaEnd: media + 10*time.Second,
			WallStart: start.Add(media), WallEnd: start.Add(media + 10*time.Second), Status: model.SegmentComplete,
			FramesSeen: 50 + int(i), ClosedAt: start.Add(media + 10*time.Second), Plugins: map[string]model.PluginSegment{}}
		if err := st.SaveSegment(ctx, replayRun, seg); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.MarkRunLost(ctx, model.Gap{StreamID: "cam1", RunID: replayRun, WallFrom: start.Add(30 * time.Second),
		WallTo: start.Add(2 * time.Minute), MediaFrom: 30 * time.Second, Reason: model.ReasonHostRestarted,
		RecordedAt: start.Add(2 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := st.StartRun(ctx, model.StreamRun{RunID: openRun, StreamID: "cam1", StartedAt: start.Add(2 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	return st
}

func runsExchanges(t *testing.T, token string) []exchange {
	st := newRunsStore(t)
	full := New(Config{Token: token}, st, liveHealth, nil)
	broken := New(Config{Token: token}, failingStore{st}, liveHealth, nil)
	auth := map[string]string{"Authorization": "Bearer " + token}
	var ex []exchange
	for _, what := range []string{"runs", "gaps"} {
		path := "/api/v1/streams/cam1/" + what
		ex = append(ex,
			exchange{what, full, "GET", path, auth, "", 200},
			exchange{what + " none", full, "GET", "/api/v1/streams/cam2/" + what, auth, "", 200},
			exchange{what + " unknown stream", full, "GET", "/api/v1/streams/nope/" + what, auth, "", 404},
			exchange{what + " no token", full, "GET", path, nil, "", 401},
			exchange{what + " broken", broken, "GET", path, auth, "", 500})
	}
	return append(ex,
		exchange{"segments of two runs", full, "GET", "/api/v1/streams/cam1/segments", auth, "", 200},
		exchange{"segments page between runs", full, "GET", "/api/v1/streams/cam1/segments?limit=2", auth, "", 200},
		exchange{"segment of a run", full, "GET", "/api/v1/segments/cam1/1?run=" + fixtureRun, auth, "", 200},
		exchange{"segment of the last run", full, "GET", "/api/v1/segments/cam1/1", auth, "", 200},
		exchange{"segment bad run", full, "GET", "/api/v1/segments/cam1/1?run=RUN1", auth, "", 400},
		exchange{"segment not in run", full, "GET", "/api/v1/segments/cam1/1?run=" + openRun, auth, "", 404},
	)
}

// getJSON GETs target and decodes the 200 body into v.
func getJSON(t *testing.T, h http.Handler, target string, v any) []byte {
	t.Helper()
	rec := serve(h, http.MethodGet, target)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", target, rec.Code, rec.Body)
	}
	checkHeaders(t, rec)
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("GET %s: %v: %s", target, err, rec.Body)
	}
	return rec.Body.Bytes()
}

func TestRuns(t *testing.T) {
	h := New(Config{}, newRunsStore(t), liveHealth, nil).Handler()
	var got runsResponse
	body := getJSON(t, h, "/api/v1/streams/cam1/runs", &got)
	start := t0.Add(time.Minute)
	want := []model.StreamRun{
		{RunID: openRun, StreamID: "cam1", StartedAt: start.Add(2 * time.Minute)},
		{RunID: replayRun, StreamID: "cam1", StartedAt: start, EndedAt: start.Add(30 * time.Second),
			EndReason: model.ReasonHostRestarted, Segments: 2, LastIndex: 2,
			LastWallEnd: start.Add(30 * time.Second), LastMediaEnd: 30 * time.Second},
		{RunID: fixtureRun, StreamID: "cam1", StartedAt: t0, EndedAt: t0.Add(31 * time.Second),
			EndReason: model.ReasonEndOfStream, Segments: 3, LastIndex: 2,
			LastWallEnd: t0.Add(30 * time.Second), LastMediaEnd: 30 * time.Second},
	}
	if got.StreamID != "cam1" || !reflect.DeepEqual(got.Runs, want) {
		t.Fatalf("runs:\n%s\nwant %+v", body, want)
	}
	// The open run, exactly as documented: the zero time, no end_reason.
	var raw struct {
		Runs []map[string]any `json:"runs"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	open := raw.Runs[0]
	if open["ended_at"] != "0001-01-01T00:00:00Z" || open["last_wall_end"] != "0001-01-01T00:00:00Z" {
		t.Errorf("open run's times: %v", open)
	}
	if _, ok := open["end_reason"]; ok {
		t.Errorf("open run has an end_reason: %v", open)
	}

	var gaps gapsResponse
	body = getJSON(t, h, "/api/v1/streams/cam1/gaps", &gaps)
	wantGaps := []model.Gap{{StreamID: "cam1", RunID: replayRun, WallFrom: start.Add(30 * time.Second),
		WallTo: start.Add(2 * time.Minute), MediaFrom: 30 * time.Second, Reason: model.ReasonHostRestarted,
		RecordedAt: start.Add(2 * time.Minute)}}
	if gaps.StreamID != "cam1" || !reflect.DeepEqual(gaps.Gaps, wantGaps) {
		t.Fatalf("gaps:\n%s\nwant %+v", body, wantGaps)
	}

	// A stream with none: empty arrays, never null.
	for _, what := range []string{"runs", "gaps"} {
		rec := serve(h, http.MethodGet, "/api/v1/streams/cam2/"+what)
		if want := `{"stream_id":"cam2","` + what + `":[]}` + "\n"; rec.Code != http.StatusOK || rec.Body.String() != want {
			t.Errorf("cam2 %s: status %d, body %s, want %s", what, rec.Code, rec.Body, want)
		}
	}
}

func TestRunsErrors(t *testing.T) {
	st := newRunsStore(t)
	ok := New(Config{}, st, liveHealth, nil).Handler()
	broken := New(Config{}, failingStore{st}, liveHealth, nil).Handler()
	for _, tc := range []struct {
		name   string
		h      http.Handler
		method string
		target string
		status int
		body   string
	}{
		{"runs of unknown stream", ok, "GET", "/api/v1/streams/nope/runs", 404,
			`{"error":{"code":"not_found","message":"stream \"nope\" not found"}}`},
		{"gaps of unknown stream", ok, "GET", "/api/v1/streams/nope/gaps", 404,
			`{"error":{"code":"not_found","message":"stream \"nope\" not found"}}`},
		{"store fails on runs", broken, "GET", "/api/v1/streams/cam1/runs", 500,
			`{"error":{"code":"internal","message":"internal error; see the host log"}}`},
		{"store fails on gaps", broken, "GET", "/api/v1/streams/cam1/gaps", 500,
			`{"error":{"code":"internal","message":"internal error; see the host log"}}`},
		{"POST runs", ok, "POST", "/api/v1/streams/cam1/runs", 405,
			`{"error":{"code":"method_not_allowed","message":"method POST is not allowed on \"/api/v1/streams/cam1/runs\"; allowed: GET, HEAD"}}`},
		{"run not hex", ok, "GET", "/api/v1/segments/cam1/1?run=run1", 400,
			`{"error":{"code":"bad_request","message":"query parameter \"run\": must be a run id of 16 lowercase hex characters, got \"run1\""}}`},
		{"run upper case", ok, "GET", "/api/v1/segments/cam1/1?run=A1B2C3D4E5F60718", 400,
			`{"error":{"code":"bad_request","message":"query parameter \"run\": must be a run id of 16 lowercase hex characters, got \"A1B2C3D4E5F60718\""}}`},
		{"run too long", ok, "GET", "/api/v1/segments/cam1/1?run=" + fixtureRun + "0", 400,
			`{"error":{"code":"bad_request","message":"query parameter \"run\": must be a run id of 16 lowercase hex characters, got \"a1b2c3d4e5f607180\""}}`},
		{"run empty", ok, "GET", "/api/v1/segments/cam1/1?run=", 400,
			`{"error":{"code":"bad_request","message":"query parameter \"run\": must be a run id of 16 lowercase hex characters, got \"\""}}`},
		{"run twice", ok, "GET", "/api/v1/segments/cam1/1?run=" + fixtureRun + "&run=" + replayRun, 400,
			`{"error":{"code":"bad_request","message":"query parameter \"run\": given 2 times, want it once"}}`},
		{"segment not in run", ok, "GET", "/api/v1/segments/cam1/0?run=" + replayRun, 404,
			`{"error":{"code":"not_found","message":"segment 0 of stream \"cam1\" not found in run \"00ff00ff00ff00ff\""}}`},
		{"unknown run", ok, "GET", "/api/v1/segments/cam1/1?run=" + noRun, 404,
			`{"error":{"code":"not_found","message":"segment 1 of stream \"cam1\" not found in run \"0000000000000000\""}}`},
		{"run of unknown stream", ok, "GET", "/api/v1/segments/nope/1?run=" + fixtureRun, 404,
			`{"error":{"code":"not_found","message":"stream \"nope\" not found"}}`},
		{"unknown index of a run", ok, "GET", "/api/v1/segments/cam1/3?run=" + fixtureRun, 404,
			`{"error":{"code":"not_found","message":"segment 3 of stream \"cam1\" not found in run \"a1b2c3d4e5f60718\""}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(tc.h, tc.method, tc.target)
			if rec.Code != tc.status {
				t.Errorf("status %d, want %d", rec.Code, tc.status)
			}
			checkHeaders(t, rec)
			if got := rec.Body.String(); got != tc.body+"\n" {
				t.Errorf("body\n%s\nwant\n%s", got, tc.body)
			}
		})
	}
}

// TestSegmentOfRun: every run's segment of an index is readable by its
// run; without run the one stored last comes back.
func TestSegmentOfRun(t *testing.T) {
	h := New(Config{}, newRunsStore(t), liveHealth, nil).Handler()
	for _, tc := range []struct {
		query   string
		run     string
		frames  int
		hasItem bool
	}{
		{"", replayRun, 51, false},
		{"?run=" + replayRun, replayRun, 51, false},
		{"?run=" + fixtureRun, fixtureRun, 100, true},
	} {
		var seg model.Segment
		body := getJSON(t, h, "/api/v1/segments/cam1/1"+tc.query, &seg)
		if seg.StreamID != "cam1" || seg.Index != 1 || seg.RunID != tc.run || seg.FramesSeen != tc.frames ||
			(len(seg.Plugins["face"].Items) > 0) != tc.hasItem {
			t.Errorf("segment 1%s: %s", tc.query, body)
		}
	}
}

// key names one row of the segment list.
func key(s model.Segment) string { return fmt.Sprintf("%d/%s", s.Index, s.RunID) }

// TestSegmentsPagingKeepsRuns pages through segments whose indexes 1 and 2
// were stored by two runs, with limits that cut between the runs of an
// index: the pages together hold every row once, and a page never ends
// between two runs of an index (but for one index with more runs than
// limit, which is truncated to limit rows).
func TestSegmentsPagingKeepsRuns(t *testing.T) {
	h := New(Config{}, newRunsStore(t), liveHealth, nil).Handler()
	var all segmentsResponse
	getJSON(t, h, "/api/v1/streams/cam1/segments", &all)
	var keys []string
	for _, s := range all.Segments {
		keys = append(keys, key(s))
	}
	wantAll := []string{"0/" + fixtureRun, "1/" + fixtureRun, "1/" + replayRun, "2/" + fixtureRun, "2/" + replayRun}
	if !reflect.DeepEqual(keys, wantAll) || all.NextSince != 3 {
		t.Fatalf("all segments: %v next %d, want %v next 3", keys, all.NextSince, wantAll)
	}

	for _, tc := range []struct {
		since, limit int
		want         []string
		next         int64
	}{
		// 0/A 1/A | 1/B: the page stops before index 1.
		{0, 2, []string{"0/" + fixtureRun}, 1},
		{1, 2, []string{"1/" + fixtureRun, "1/" + replayRun}, 2},
		{0, 3, []string{"0/" + fixtureRun, "1/" + fixtureRun, "1/" + replayRun}, 2},
		// 0/A 1/A 1/B 2/A | 2/B
		{0, 4, []string{"0/" + fixtureRun, "1/" + fixtureRun, "1/" + replayRun}, 2},
		// A full page that ends with an index's last run is not cut.
		{2, 2, []string{"2/" + fixtureRun, "2/" + replayRun}, 3},
		{0, 5, wantAll, 3},
		// One index with more runs than limit: truncated to limit rows.
		{1, 1, []string{"1/" + fixtureRun}, 2},
	} {
		var page segmentsResponse
		getJSON(t, h, fmt.Sprintf("/api/v1/streams/cam1/segments?since=%d&limit=%d", tc.since, tc.limit), &page)
		var got []string
		for _, s := range page.Segments {
			got = append(got, key(s))
		}
		if !reflect.DeepEqual(got, tc.want) || page.NextSince != tc.next {
			t.Errorf("since=%d limit=%d: %v next %d, want %v next %d", tc.since, tc.limit, got, page.NextSince, tc.want, tc.next)
		}
	}

	// Following next_since with every limit from 2 up visits each row once.
	for limit := 2; limit <= 6; limit++ {
		var got []string
		since := int64(0)
		for range 10 {
			var page segmentsResponse
			getJSON(t, h, fmt.Sprintf("/api/v1/streams/cam1/segments?since=%d&limit=%d", since, limit), &page)
			if len(page.Segments) == 0 {
				break
			}
			for _, s := range page.Segments {
				got = append(got, key(s))
			}
			since = page.NextSince
		}
		if !reflect.DeepEqual(got, wantAll) {
			t.Errorf("paging with limit %d: %v, want %v", limit, got, wantAll)
		}
	}
}

func TestPageSegments(t *testing.T) {
	rows := func(idx ...int64) []model.Segment {
		var out []model.Segment
		for _, i := range idx {
			out = append(out, model.Segment{Index: i})
		}
		return out
	}
	idx := func(segs []model.Segment) string {
		var b strings.Builder
		for _, s := range segs {
			fmt.Fprint(&b, s.Index)
		}
		return b.String()
	}
	for _, tc := range []struct {
		rows  []model.Segment
		limit int
		want  string
	}{
		{nil, 3, ""},
		{rows(0, 1), 3, "01"},
		{rows(0, 1, 2), 3, "012"},    // no row beyond the page: nothing cut
		{rows(0, 1, 2, 3), 3, "012"}, // the next row is a new index
		{rows(0, 1, 1, 1), 3, "0"},
		{rows(0, 0, 1, 1), 3, "00"},
		{rows(1, 1, 1, 1), 3, "111"}, // one index over the limit: truncated
		{rows(1, 1), 1, "1"},
	} {
		if got := idx(pageSegments(tc.rows, tc.limit)); got != tc.want {
			t.Errorf("pageSegments(%s, %d) = %s, want %s", idx(tc.rows), tc.limit, got, tc.want)
		}
	}
}

// TestOpenAPIRunsFullModel validates runs and gaps with every optional
// field set and unset.
func TestOpenAPIRunsFullModel(t *testing.T) {
	doc := loadOpenAPI(t)
	for schema, v := range map[string]any{
		"StreamRunList": runsResponse{StreamID: "cam1", Runs: []model.StreamRun{
			{RunID: openRun, StreamID: "cam1", StartedAt: t0},
			{RunID: fixtureRun, StreamID: "cam1", StartedAt: t0, EndedAt: t0.Add(time.Hour), EndReason: model.ReasonShutdown,
				Segments: 360, LastIndex: 359, LastWallEnd: t0.Add(time.Hour), LastMediaEnd: time.Hour}}},
		"GapList": gapsResponse{StreamID: "cam1", Gaps: []model.Gap{
			{StreamID: "cam1", WallFrom: t0, WallTo: t0.Add(time.Minute), Reason: "other", RecordedAt: t0},
			{StreamID: "cam1", RunID: replayRun, WallFrom: t0, WallTo: t0.Add(time.Minute), MediaFrom: time.Second,
				Reason: model.ReasonHostRestarted, RecordedAt: t0.Add(time.Minute)}}},
	} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := validateJSON(doc, map[string]any{"$ref": "#/components/schemas/" + schema}, b); err != nil {
			t.Errorf("%s: %v\n%s", schema, err, b)
		}
	}
}
