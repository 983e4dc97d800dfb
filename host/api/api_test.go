package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/store"
	"github.com/lsie-mlf/lsie/host/store/sqlite"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// t0 is the fixed time every fixture is built from, so goldens are stable.
var t0 = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

type fixedHealth model.HostHealth

func (h fixedHealth) Health() model.HostHealth { return model.HostHealth(h) }

var liveHealth = fixedHealth{
	Status:  model.HealthDegraded,
	Version: "0.1.0-test",
	Components: []model.ComponentHealth{
		{Name: "cam1", Kind: "stream", Health: model.HealthRecovering, Hint: "source reconnecting (attempt 2)",
			Counters: map[string]int64{"frames": 1200, "reconnects": 2}},
		{Name: "face", Kind: "plugin", Health: model.HealthOK},
		{Name: "cam2", Kind: "plugin", Health: model.HealthError, Hint: "a plugin named like a stream is not a stream"},
		{Name: "sqlite", Kind: "store", Health: model.HealthOK},
	},
}

// fixtureRun is the stream run that stored cam1's fixture segments: a run
// id as the host makes them (16 lowercase hex characters).
const fixtureRun = "a1b2c3d4e5f60718"

// fill stores the fixtures through the Store interface.
func fill(t testing.TB, st store.Store) {
	t.Helper()
	ctx := context.Background()
	for _, s := range []model.Stream{
		{ID: "cam1", Source: "file:///media/cam1.mp4", Health: model.HealthOK, Plugins: []string{"face", "speech"}, StartedAt: t0},
		{ID: "cam2", Source: "test://smpte?fps=10", Health: model.HealthEnded, Hint: "end of file", StartedAt: t0.Add(time.Second)},
	} {
		if err := st.UpsertStream(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.RecordPluginRun(ctx, model.PluginRun{RunID: fixtureRun, StreamID: "cam1", Plugin: "face",
		Version: "1.2.0", SHA256: strings.Repeat("ab", 32), Path: "/opt/lsie/plugins/face", Started: t0}); err != nil {
		t.Fatal(err)
	}
	if err := st.StartRun(ctx, model.StreamRun{RunID: fixtureRun, StreamID: "cam1", StartedAt: t0}); err != nil {
		t.Fatal(err)
	}
	for i := range int64(3) {
		start := time.Duration(i) * 10 * time.Second
		seg := model.Segment{
			StreamID: "cam1", Index: i,
			MediaStart: start, MediaEnd: start + 10*time.Second,
			WallStart: t0.Add(start), WallEnd: t0.Add(start + 10*time.Second),
			Status:     model.SegmentComplete,
			FramesSeen: 100,
			ClosedAt:   t0.Add(start + 10*time.Second + 120*time.Millisecond), CloseLatency: 120 * time.Millisecond,
			Plugins: map[string]model.PluginSegment{
				"face": {Plugin: "face", Version: "1.2.0", FramesAnalysed: 100,
					Aggregates: map[string]model.Aggregate{"au12": {N: 2, Mean: 0.5, Std: 0.25, Min: 0.25, Max: 0.75, P10: 0.25, P50: 0.5, P90: 0.75}},
					Items: []model.Item{
						{PTS: start, Fields: map[string]float64{"au12": 0.25}},
						{PTS: start + 100*time.Millisecond, Error: "no face found"},
						{PTS: start + 200*time.Millisecond, Fields: map[string]float64{"au12": 0.75}},
					}},
				"speech": {Plugin: "speech", Version: "0.3.1", FramesAnalysed: 0, Errors: 1,
					Aggregates: map[string]model.Aggregate{},
					Items: []model.Item{
						{PTS: start + time.Second, Duration: 2 * time.Second, Fields: map[string]float64{"words": 5}},
					}},
			},
		}
		if i == 2 {
			seg.Status, seg.Reasons, seg.FramesDropped = model.SegmentPartial, []string{model.ReasonPluginLag}, 4
		}
		if err := st.SaveSegment(ctx, fixtureRun, seg); err != nil {
			t.Fatal(err)
		}
	}
	// A result that came after segment 2 closed (plugin_lag), attached late.
	if err := st.AttachLate(ctx, "cam1", 2, fixtureRun, "speech", []model.Item{
		{PTS: 23 * time.Second, Duration: time.Second, Fields: map[string]float64{"words": 2}}}); err != nil {
		t.Fatal(err)
	}
	if err := st.EndRun(ctx, fixtureRun, t0.Add(31*time.Second), model.ReasonEndOfStream); err != nil {
		t.Fatal(err)
	}
}

func newTestStore(t testing.TB) store.Store {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "lsie.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	fill(t, st)
	return st
}

func newTestServer(t *testing.T, hs HealthSource) *Server {
	t.Helper()
	return New(Config{}, newTestStore(t), hs, nil)
}

// serve sends a request as a local client does: Host localhost, no Origin.
func serve(h http.Handler, method, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(method, target, nil)
	req.Host = "localhost"
	h.ServeHTTP(rec, req)
	return rec
}

func checkHeaders(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	for k, want := range map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"} {
		if got := rec.Header().Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

// checkGolden compares body, indented, with testdata/name.json.
func checkGolden(t *testing.T, name string, body []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, body, "", "  "); err != nil {
		t.Fatalf("response is not JSON: %v\n%s", err, body)
	}
	path := filepath.Join("testdata", name+".json")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("response differs from %s (go test -update rewrites it):\ngot:\n%s\nwant:\n%s", path, buf.Bytes(), want)
	}
}

func TestGolden(t *testing.T) {
	h := newTestServer(t, liveHealth).Handler()
	for _, tc := range []struct {
		name   string
		target string
	}{
		{"health", "/api/v1/health"},
		{"streams", "/api/v1/streams"},
		{"segments", "/api/v1/streams/cam1/segments"},
		{"segments_since_limit", "/api/v1/streams/cam1/segments?since=1&limit=1"},
		{"segments_past_end", "/api/v1/streams/cam1/segments?since=7&limit=1000"},
		{"segments_none", "/api/v1/streams/cam2/segments"},
		{"segment", "/api/v1/segments/cam1/2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(h, http.MethodGet, tc.target)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d, body %s", rec.Code, rec.Body)
			}
			checkHeaders(t, rec)
			checkGolden(t, tc.name, rec.Body.Bytes())
		})
	}
}

// failingStore fails every read, as a broken disk would.
type failingStore struct{ store.Store }

var errDisk = errors.New("disk I/O error")

func (failingStore) Streams(context.Context) ([]model.Stream, error) { return nil, errDisk }
func (failingStore) Segments(context.Context, string, int64, int) ([]model.Segment, error) {
	return nil, errDisk
}
func (failingStore) Segment(context.Context, string, int64, string) (*model.Segment, error) {
	return nil, errDisk
}

func TestErrors(t *testing.T) {
	ok := newTestServer(t, liveHealth).Handler()
	st := newTestStore(t)
	down := New(Config{}, st, fixedHealth{Status: model.HealthError, Version: "0.1.0-test"}, nil).Handler()
	noHealth := New(Config{}, st, nil, nil).Handler()
	broken := New(Config{}, failingStore{st}, liveHealth, nil).Handler()

	for _, tc := range []struct {
		name   string
		h      http.Handler
		method string
		target string
		status int
		allow  string
		body   string
	}{
		{"since not a number", ok, "GET", "/api/v1/streams/cam1/segments?since=abc", 400, "",
			`{"error":{"code":"bad_request","message":"query parameter \"since\": must be a non-negative integer, got \"abc\""}}`},
		{"since negative", ok, "GET", "/api/v1/streams/cam1/segments?since=-1", 400, "",
			`{"error":{"code":"bad_request","message":"query parameter \"since\": must be a non-negative integer, got \"-1\""}}`},
		{"since empty", ok, "GET", "/api/v1/streams/cam1/segments?since=", 400, "",
			`{"error":{"code":"bad_request","message":"query parameter \"since\": must be a non-negative integer, got \"\""}}`},
		{"since overflow", ok, "GET", "/api/v1/streams/cam1/segments?since=99999999999999999999", 400, "",
			`{"error":{"code":"bad_request","message":"query parameter \"since\": must be a non-negative integer, got \"99999999999999999999\""}}`},
		{"since twice", ok, "GET", "/api/v1/streams/cam1/segments?since=1&since=2", 400, "",
			`{"error":{"code":"bad_request","message":"query parameter \"since\": given 2 times, want it once"}}`},
		{"limit zero", ok, "GET", "/api/v1/streams/cam1/segments?limit=0", 400, "",
			`{"error":{"code":"bad_request","message":"query parameter \"limit\": must be an integer from 1 to 1000, got \"0\""}}`},
		{"limit too big", ok, "GET", "/api/v1/streams/cam1/segments?limit=1001", 400, "",
			`{"error":{"code":"bad_request","message":"query parameter \"limit\": must be an integer from 1 to 1000, got \"1001\""}}`},
		{"limit not a number", ok, "GET", "/api/v1/streams/cam1/segments?limit=ten", 400, "",
			`{"error":{"code":"bad_request","message":"query parameter \"limit\": must be an integer from 1 to 1000, got \"ten\""}}`},
		{"index not a number", ok, "GET", "/api/v1/segments/cam1/first", 400, "",
			`{"error":{"code":"bad_request","message":"path parameter \"index\": must be a non-negative integer, got \"first\""}}`},
		{"index negative", ok, "GET", "/api/v1/segments/cam1/-2", 400, "",
			`{"error":{"code":"bad_request","message":"path parameter \"index\": must be a non-negative integer, got \"-2\""}}`},
		{"segments of unknown stream", ok, "GET", "/api/v1/streams/nope/segments", 404, "",
			`{"error":{"code":"not_found","message":"stream \"nope\" not found"}}`},
		{"segment of unknown stream", ok, "GET", "/api/v1/segments/nope/0", 404, "",
			`{"error":{"code":"not_found","message":"stream \"nope\" not found"}}`},
		{"unknown segment", ok, "GET", "/api/v1/segments/cam1/3", 404, "",
			`{"error":{"code":"not_found","message":"segment 3 of stream \"cam1\" not found"}}`},
		{"unknown api path", ok, "GET", "/api/v2/streams", 404, "",
			`{"error":{"code":"not_found","message":"no endpoint at \"/api/v2/streams\""}}`},
		{"trailing slash", ok, "GET", "/api/v1/streams/", 404, "",
			`{"error":{"code":"not_found","message":"no endpoint at \"/api/v1/streams/\""}}`},
		{"segments without index", ok, "GET", "/api/v1/segments/cam1", 404, "",
			`{"error":{"code":"not_found","message":"no endpoint at \"/api/v1/segments/cam1\""}}`},
		{"outside api", ok, "GET", "/index.html", 404, "",
			`{"error":{"code":"not_found","message":"no endpoint at \"/index.html\""}}`},
		{"PUT streams", ok, "PUT", "/api/v1/streams", 405, "GET, HEAD, POST",
			`{"error":{"code":"method_not_allowed","message":"method PUT is not allowed on \"/api/v1/streams\"; allowed: GET, HEAD, POST"}}`},
		{"GET one stream", ok, "GET", "/api/v1/streams/cam1", 405, "DELETE",
			`{"error":{"code":"method_not_allowed","message":"method GET is not allowed on \"/api/v1/streams/cam1\"; allowed: DELETE"}}`},
		{"DELETE segment", ok, "DELETE", "/api/v1/segments/cam1/0", 405, "GET, HEAD",
			`{"error":{"code":"method_not_allowed","message":"method DELETE is not allowed on \"/api/v1/segments/cam1/0\"; allowed: GET, HEAD"}}`},
		{"PUT health", ok, "PUT", "/api/v1/health", 405, "GET, HEAD",
			`{"error":{"code":"method_not_allowed","message":"method PUT is not allowed on \"/api/v1/health\"; allowed: GET, HEAD"}}`},
		{"host in error", down, "GET", "/api/v1/health", 503, "",
			`{"status":"error","version":"0.1.0-test","components":[]}`},
		{"no health source", noHealth, "GET", "/api/v1/health", 503, "",
			`{"error":{"code":"internal","message":"no live health source in this process"}}`},
		{"store fails on streams", broken, "GET", "/api/v1/streams", 500, "",
			`{"error":{"code":"internal","message":"internal error; see the host log"}}`},
		{"store fails on segments", broken, "GET", "/api/v1/streams/cam1/segments", 500, "",
			`{"error":{"code":"internal","message":"internal error; see the host log"}}`},
		{"store fails on segment", broken, "GET", "/api/v1/segments/cam1/0", 500, "",
			`{"error":{"code":"internal","message":"internal error; see the host log"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(tc.h, tc.method, tc.target)
			if rec.Code != tc.status {
				t.Errorf("status %d, want %d", rec.Code, tc.status)
			}
			checkHeaders(t, rec)
			if got := rec.Header().Get("Allow"); got != tc.allow {
				t.Errorf("Allow = %q, want %q", got, tc.allow)
			}
			if got := rec.Body.String(); got != tc.body+"\n" {
				t.Errorf("body\n%s\nwant\n%s", got, tc.body)
			}
		})
	}
}

func TestHealthStatusCodes(t *testing.T) {
	st := newTestStore(t)
	for _, tc := range []struct {
		health model.Health
		want   int
	}{
		{model.HealthOK, 200},
		{model.HealthStarting, 200},
		{model.HealthDegraded, 200},
		{model.HealthRecovering, 200},
		{model.HealthEnded, 200},
		{model.HealthError, 503},
	} {
		t.Run(string(tc.health), func(t *testing.T) {
			h := New(Config{}, st, fixedHealth{Status: tc.health}, nil).Handler()
			rec := serve(h, http.MethodGet, "/api/v1/health")
			if rec.Code != tc.want {
				t.Errorf("status %d, want %d", rec.Code, tc.want)
			}
			var got model.HostHealth
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.Status != tc.health {
				t.Errorf("body %s: %v", rec.Body, err)
			}
		})
	}
}

func TestStreamsWithoutHealthSource(t *testing.T) {
	h := New(Config{}, newTestStore(t), nil, nil).Handler()
	rec := serve(h, http.MethodGet, "/api/v1/streams")
	var got streamsResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Streams) != 2 || got.Streams[0].Health != model.HealthOK || got.Streams[1].Health != model.HealthEnded {
		t.Fatalf("streams without live health: %s", rec.Body)
	}
}

func TestHead(t *testing.T) {
	h := newTestServer(t, liveHealth).Handler()
	rec := serve(h, http.MethodHead, "/api/v1/streams")
	if rec.Code != http.StatusOK {
		t.Fatalf("HEAD status %d", rec.Code)
	}
	checkHeaders(t, rec)
}

func TestRequestLog(t *testing.T) {
	var buf bytes.Buffer
	log := hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Debug})
	h := New(Config{}, newTestStore(t), liveHealth, log).Handler()
	serve(h, http.MethodGet, "/api/v1/streams/cam1/segments?limit=2")
	line := buf.String()
	for _, want := range []string{"[DEBUG]", "http request", "method=GET", "uri=/api/v1/streams/cam1/segments?limit=2", "status=200"} {
		if !strings.Contains(line, want) {
			t.Errorf("log %q lacks %q", line, want)
		}
	}
}

// TestRequestLogRedacts: a credential a client put in the query is not
// logged.
func TestRequestLogRedacts(t *testing.T) {
	var buf bytes.Buffer
	log := hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Debug})
	h := New(Config{}, newTestStore(t), liveHealth, log).Handler()
	serve(h, http.MethodGet, "/api/v1/streams?token=s3cret&limit=2&access_token=s3cret")
	line := buf.String()
	if want := "uri=\"/api/v1/streams?token=xxxxx&limit=2&access_token=xxxxx\""; !strings.Contains(line, want) {
		t.Errorf("log %q lacks %q", line, want)
	}
	if strings.Contains(line, "s3cret") {
		t.Errorf("log %q shows the token", line)
	}
}

func TestStartAndClose(t *testing.T) {
	s := newTestServer(t, liveHealth)
	if err := s.Close(); err != nil { // before Start: a no-op
		t.Fatalf("Close before Start: %v", err)
	}

	s = New(Config{Listen: "127.0.0.1:0"}, newTestStore(t), liveHealth, nil)
	addr, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(); err == nil || err.Error() != "api: already started" {
		t.Errorf("second Start = %v", err)
	}
	resp, err := http.Get("http://" + addr + "/api/v1/streams/cam1/segments?since=2")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET: %s %v", resp.Status, resp.Header)
	}
	var got segmentsResponse
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.StreamID != "cam1" || len(got.Segments) != 1 || got.NextSince != 3 {
		t.Fatalf("GET body: %s", body)
	}

	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := http.Get("http://" + addr + "/api/v1/health"); err == nil {
		t.Errorf("GET after Close succeeded")
	}
	if _, err := s.Start(); err == nil || err.Error() != "api: start after close" {
		t.Errorf("Start after Close = %v", err)
	}
}

func TestStartListenError(t *testing.T) {
	s := New(Config{Listen: "127.0.0.1:-1"}, newTestStore(t), liveHealth, nil)
	if _, err := s.Start(); err == nil || !strings.HasPrefix(err.Error(), `api: listen on "127.0.0.1:-1": `) {
		t.Fatalf("Start = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
