package api

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/lsie-mlf/lsie/host/config"
	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/source"
	"github.com/lsie-mlf/lsie/internal/testenv"
)

// fakeManager is a StreamManager that records its calls. Streams whose id
// is in fail get that error from AddStream or RemoveStream.
type fakeManager struct {
	fail map[string]error

	mu      sync.Mutex
	log     []string
	streams map[string]config.Stream
}

func (m *fakeManager) AddStream(_ context.Context, s config.Stream) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.log = append(m.log, "add "+s.ID)
	if err := m.fail[s.ID]; err != nil {
		return err
	}
	if _, ok := m.streams[s.ID]; ok {
		return fmt.Errorf("stream %q: %w", s.ID, ErrStreamExists)
	}
	if m.streams == nil {
		m.streams = map[string]config.Stream{}
	}
	m.streams[s.ID] = s
	return nil
}

func (m *fakeManager) RemoveStream(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.log = append(m.log, "remove "+id)
	if err := m.fail[id]; err != nil {
		return err
	}
	if _, ok := m.streams[id]; !ok {
		return fmt.Errorf("stream %q: %w", id, ErrStreamNotFound)
	}
	delete(m.streams, id)
	return nil
}

// PluginCommand knows stream "cam" with plugins "au" (answers "baseline"
// with its args, refuses anything else as bad input), "visual" (takes no
// commands) and "down" (not running).
func (m *fakeManager) PluginCommand(_ context.Context, stream, plugin, command string, args []byte) ([]byte, error) {
	m.mu.Lock()
	m.log = append(m.log, "command "+stream+"/"+plugin+" "+command+" "+string(args))
	m.mu.Unlock()
	switch {
	case stream != "cam":
		return nil, fmt.Errorf("stream %q: %w", stream, ErrStreamNotFound)
	case plugin == "visual":
		return nil, &CommandError{Code: "unsupported", Message: "this plugin takes no commands"}
	case plugin == "down":
		return nil, fmt.Errorf("stream %q plugin %q: %w", stream, plugin, ErrPluginDown)
	case plugin != "au":
		return nil, fmt.Errorf("stream %q plugin %q: %w", stream, plugin, ErrPluginNotFound)
	case command != "baseline":
		return nil, &CommandError{Code: "bad_input", Message: fmt.Sprintf("unknown command %q", command)}
	}
	return []byte(`{"faces":2,"args":` + cmp.Or(string(args), "null") + `}`), nil
}

func (m *fakeManager) calls() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.log...)
}

func (m *fakeManager) stream(id string) (config.Stream, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.streams[id]
	return s, ok
}

func testPolicy(t *testing.T) *source.Policy {
	t.Helper()
	p, err := source.ParsePolicy([]string{"test"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var jsonHeaders = map[string]string{"Content-Type": "application/json"}

func post(h http.Handler, body string) *httptest.ResponseRecorder {
	return request(h, http.MethodPost, "/api/v1/streams", "localhost", jsonHeaders, body)
}

func TestPostStream(t *testing.T) {
	fm := &fakeManager{}
	s := New(Config{}, newTestStore(t), liveHealth, nil)
	s.SetStreams(fm, t.TempDir(), testPolicy(t))
	rec := post(s.Handler(), `{"id":"cam2","source":"test://ball","realtime":false,"loop":true,
		"video":{"fps":10,"max_width":320},
		"plugins":[{"name":"visual","window":4,"attributes":{"threshold":0.5,"label":"faces","on":true}},{"name":"acoustic"}]}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("status %d, body %s", rec.Code, rec.Body)
	}
	checkHeaders(t, rec)
	if got := rec.Header().Get("Location"); got != "/api/v1/streams/cam2" {
		t.Errorf("Location = %q", got)
	}
	checkGolden(t, "stream_created", rec.Body.Bytes())

	got, ok := fm.stream("cam2")
	if !ok {
		t.Fatalf("manager has no stream cam2; calls %q", fm.calls())
	}
	want := config.Stream{
		ID: "cam2", Source: mustSpec(t, "test://ball"), Realtime: false, Loop: true,
		Video: config.Video{FPS: 10, MaxWidth: 320, Memory: config.MemoryHost},
		Plugins: []config.PluginRef{
			{Name: "visual", Window: 4, EventBound: 256, Attributes: map[string]string{"threshold": "0.5", "label": "faces", "on": "true"}, Pos: got.Plugins[0].Pos},
			{Name: "acoustic", Window: 2, EventBound: 256, Attributes: map[string]string{}, Pos: got.Plugins[1].Pos},
		},
		Pos: got.Pos,
	}
	// The manager gets the body as sent, to keep as desired state.
	if !got.FromAPI() || !json.Valid(got.Spec) || !bytes.Contains(got.Spec, []byte(`"id":"cam2"`)) {
		t.Errorf("Spec = %q, want the request body", got.Spec)
	}
	got.Spec = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("manager got\n%+v\nwant\n%+v", got, want)
	}

	rec = request(s.Handler(), http.MethodDelete, "/api/v1/streams/cam2", "localhost", nil, "")
	if rec.Code != http.StatusNoContent || rec.Body.Len() != 0 {
		t.Fatalf("DELETE: status %d, body %q", rec.Code, rec.Body)
	}
	if got, want := fm.calls(), []string{"add cam2", "remove cam2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
}

func mustSpec(t *testing.T, uri string) source.Spec {
	t.Helper()
	s, err := source.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPostStreamDefaults(t *testing.T) {
	fm := &fakeManager{}
	s := New(Config{}, newTestStore(t), liveHealth, nil)
	s.SetStreams(fm, t.TempDir(), nil)
	rec := request(s.Handler(), http.MethodPost, "/api/v1/streams", "localhost",
		map[string]string{"Content-Type": "application/json; charset=UTF-8"}, `{"id":"cam3","source":"test://snow"}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("status %d, body %s", rec.Code, rec.Body)
	}
	checkGolden(t, "stream_created_defaults", rec.Body.Bytes())
}

func TestStreamGoldenErrors(t *testing.T) {
	s := New(Config{}, newTestStore(t), liveHealth, nil)
	s.SetStreams(&fakeManager{}, t.TempDir(), testPolicy(t))
	for _, tc := range []struct {
		name   string
		body   string
		status int
	}{
		{"stream_invalid", `{"id":"cam 2","source":"test://nope","realtime":"yes","video":{"fps":0,"max_width":7681},
 "plugins":[{"name":"visual","windw":2},{"name":"visual","window":65,"attributes":{"t":[1]}},{}],"extra":null}`, 400},
		{"stream_invalid_json", `{"id":"cam2","source":"test://ball",}`, 400},
		{"stream_forbidden", `{"id":"cam2","source":"file:///dev/null","video":{"fps":0}}`, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := post(s.Handler(), tc.body)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tc.status, rec.Body)
			}
			checkHeaders(t, rec)
			checkGolden(t, tc.name, rec.Body.Bytes())
		})
	}
}

func TestStreamErrors(t *testing.T) {
	errBoom := errors.New("database is locked: /var/secret/lsie.db")
	fm := &fakeManager{fail: map[string]error{
		"taken":   fmt.Errorf("stream %q: %w", "taken", ErrStreamExists),
		"boom":    fmt.Errorf("start capture: %w", errBoom),
		"refused": fmt.Errorf("host policy: %w", source.ErrNotAllowed),
		"nover":   fmt.Errorf("stream %q: %w: %w", "nover", ErrUnrunnable, errors.New(`no version of plugin "p" matches "~> 9"`)),
		"unwired": config.Diagnostics{{Field: `stream "unwired": plugin "p"`, Message: `consumes "x.final@1" but no plugin of this stream produces it`}},
	}}
	logBuf := &testenv.SyncBuffer{}
	log := hclog.New(&hclog.LoggerOptions{Output: logBuf, Level: hclog.Info})
	st := newTestStore(t)
	managed := New(Config{}, st, liveHealth, log)
	managed.SetStreams(fm, t.TempDir(), testPolicy(t))
	unmanaged := New(Config{}, st, liveHealth, nil)
	cleared := New(Config{}, st, liveHealth, nil)
	cleared.SetStreams(nil, "", nil)

	big := `{"id":"cam2","source":"test://ball","plugins":[{"name":"p","attributes":{"x":"` + strings.Repeat("a", maxStreamBody) + `"}}]}`
	tooLarge := `{"error":{"code":"payload_too_large","message":"request body is larger than 65536 bytes"}}`
	for _, tc := range []struct {
		name    string
		h       http.Handler
		method  string
		target  string
		headers map[string]string
		body    string
		chunked bool // send without Content-Length
		status  int
		want    string
	}{
		{"POST without manager", unmanaged.Handler(), "POST", "/api/v1/streams", jsonHeaders, `{}`, false, 501,
			`{"error":{"code":"not_implemented","message":"POST /api/v1/streams: adding and removing streams is not available in this process"}}`},
		{"DELETE without manager", unmanaged.Handler(), "DELETE", "/api/v1/streams/cam1", nil, "", false, 501,
			`{"error":{"code":"not_implemented","message":"DELETE /api/v1/streams/cam1: adding and removing streams is not available in this process"}}`},
		{"SetStreams(nil) disables", cleared.Handler(), "POST", "/api/v1/streams", jsonHeaders, `{}`, false, 501,
			`{"error":{"code":"not_implemented","message":"POST /api/v1/streams: adding and removing streams is not available in this process"}}`},
		{"no content type", managed.Handler(), "POST", "/api/v1/streams", nil, `{}`, false, 415,
			`{"error":{"code":"unsupported_media_type","message":"missing Content-Type: send the stream as application/json"}}`},
		{"form content type", managed.Handler(), "POST", "/api/v1/streams", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, `{}`, false, 415,
			`{"error":{"code":"unsupported_media_type","message":"Content-Type \"application/x-www-form-urlencoded\" is not supported: send the stream as application/json"}}`},
		{"text/plain", managed.Handler(), "POST", "/api/v1/streams", map[string]string{"Content-Type": "text/plain"}, `{}`, false, 415,
			`{"error":{"code":"unsupported_media_type","message":"Content-Type \"text/plain\" is not supported: send the stream as application/json"}}`},
		{"latin1 charset", managed.Handler(), "POST", "/api/v1/streams", map[string]string{"Content-Type": "application/json; charset=latin1"}, `{}`, false, 415,
			`{"error":{"code":"unsupported_media_type","message":"Content-Type \"application/json; charset=latin1\" is not supported: send the stream as application/json (charset utf-8 if any)"}}`},
		{"too large with length", managed.Handler(), "POST", "/api/v1/streams", jsonHeaders, big, false, 413, tooLarge},
		{"too large chunked", managed.Handler(), "POST", "/api/v1/streams", jsonHeaders, big, true, 413, tooLarge},
		{"empty body", managed.Handler(), "POST", "/api/v1/streams", jsonHeaders, "", false, 400,
			`{"error":{"code":"bad_request","message":"invalid stream: see diagnostics","diagnostics":[{"field":"","message":"empty input: want a JSON object with the stream's fields","offset":0}]}}`},
		{"unknown field", managed.Handler(), "POST", "/api/v1/streams", jsonHeaders, `{"id":"cam2","source":"test://ball","plugins":[{"name":"visual","windw":2}]}`, false, 400,
			`{"error":{"code":"bad_request","message":"invalid stream: see diagnostics","diagnostics":[{"field":"plugins[0].windw","message":"unknown field","offset":64}]}}`},
		{"missing fields", managed.Handler(), "POST", "/api/v1/streams", jsonHeaders, `{}`, false, 400,
			`{"error":{"code":"bad_request","message":"invalid stream: see diagnostics","diagnostics":[{"field":"","message":"missing required field \"id\"","offset":0},{"field":"","message":"missing required field \"source\"","offset":0}]}}`},
		{"policy refuses source", managed.Handler(), "POST", "/api/v1/streams", jsonHeaders, `{"id":"cam2","source":"file:///dev/null"}`, false, 403, ""},
		{"id taken", managed.Handler(), "POST", "/api/v1/streams", jsonHeaders, `{"id":"taken","source":"test://ball"}`, false, 409,
			`{"error":{"code":"conflict","message":"stream \"taken\" already exists"}}`},
		{"no runnable plugin version", managed.Handler(), "POST", "/api/v1/streams", jsonHeaders, `{"id":"nover","source":"test://ball"}`, false, 422,
			`{"error":{"code":"unprocessable","message":"stream \"nover\": stream cannot run: no version of plugin \"p\" matches \"~\u003e 9\""}}`},
		{"plugin graph refused", managed.Handler(), "POST", "/api/v1/streams", jsonHeaders, `{"id":"unwired","source":"test://ball"}`, false, 400,
			`{"error":{"code":"bad_request","message":"invalid stream: see diagnostics","diagnostics":[{"field":"stream \"unwired\": plugin \"p\"","message":"consumes \"x.final@1\" but no plugin of this stream produces it"}]}}`},
		{"manager refuses source", managed.Handler(), "POST", "/api/v1/streams", jsonHeaders, `{"id":"refused","source":"test://ball"}`, false, 403,
			`{"error":{"code":"forbidden","message":"stream \"refused\": source \"test://ball\" is not allowed by the sources policy"}}`},
		{"manager fails to add", managed.Handler(), "POST", "/api/v1/streams", jsonHeaders, `{"id":"boom","source":"test://ball"}`, false, 500,
			`{"error":{"code":"internal","message":"internal error; see the host log"}}`},
		{"remove unknown", managed.Handler(), "DELETE", "/api/v1/streams/nope", nil, "", false, 404,
			`{"error":{"code":"not_found","message":"stream \"nope\" not found"}}`},
		{"manager fails to remove", managed.Handler(), "DELETE", "/api/v1/streams/boom", nil, "", false, 500,
			`{"error":{"code":"internal","message":"internal error; see the host log"}}`},
		{"DELETE collection", managed.Handler(), "DELETE", "/api/v1/streams", nil, "", false, 405,
			`{"error":{"code":"method_not_allowed","message":"method DELETE is not allowed on \"/api/v1/streams\"; allowed: GET, HEAD, POST"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			if tc.chunked {
				req.Body = io.NopCloser(strings.NewReader(tc.body))
				req.ContentLength = -1
			}
			req.Host = "localhost"
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			tc.h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Errorf("status %d, want %d", rec.Code, tc.status)
			}
			checkHeaders(t, rec)
			if tc.want != "" && rec.Body.String() != tc.want+"\n" {
				t.Errorf("body\n%s\nwant\n%s", rec.Body, tc.want)
			}
		})
	}
	logged := logBuf.String()
	for _, want := range []string{`add stream \"boom\": start capture: database is locked: /var/secret/lsie.db`,
		`remove stream \"boom\": start capture: database is locked`} {
		if !strings.Contains(logged, want) {
			t.Errorf("log lacks %q:\n%s", want, logged)
		}
	}
}

// TestConcurrentStreams adds and removes streams from many clients at once
// through a real listener; run with -race.
func TestConcurrentStreams(t *testing.T) {
	fm := &fakeManager{}
	s := New(Config{Listen: "127.0.0.1:0", Token: "tok"}, newTestStore(t), liveHealth, nil)
	s.SetStreams(fm, t.TempDir(), testPolicy(t))
	addr, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })

	do := func(method, path, body string) (int, error) {
		req, err := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer tok")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, err
	}
	const n = 16
	errs := make(chan error, 3*n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprintf("cam%d", i%(n/2)) // two clients per id: one 201, one 409
			status, err := do("POST", "/api/v1/streams", `{"id":"`+id+`","source":"test://ball"}`)
			if err != nil || (status != http.StatusCreated && status != http.StatusConflict) {
				errs <- fmt.Errorf("POST %s: %d %v", id, status, err)
			}
			if status, err := do("GET", "/api/v1/streams", ""); err != nil || status != http.StatusOK {
				errs <- fmt.Errorf("GET: %d %v", status, err)
			}
		})
	}
	wg.Wait()
	for i := range n / 2 {
		wg.Go(func() {
			id := fmt.Sprintf("cam%d", i)
			if status, err := do("DELETE", "/api/v1/streams/"+id, ""); err != nil || status != http.StatusNoContent {
				errs <- fmt.Errorf("DELETE %s: %d %v", id, status, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := len(fm.calls()); got != n+n/2 {
		t.Errorf("%d manager calls, want %d", got, n+n/2)
	}
}

// TestPostStreamRedacts checks that a password or token in the source URI
// reaches the manager but neither the response nor the log.
func TestPostStreamRedacts(t *testing.T) {
	fm := &fakeManager{}
	logBuf := &testenv.SyncBuffer{}
	s := New(Config{}, newTestStore(t), liveHealth, hclog.New(&hclog.LoggerOptions{Output: logBuf, Level: hclog.Debug}))
	policy, err := source.ParsePolicy([]string{"rtsp://*.cams.example"})
	if err != nil {
		t.Fatal(err)
	}
	s.SetStreams(fm, t.TempDir(), policy)
	rec := post(s.Handler(), `{"id":"door","source":"rtsp://admin:hunter2@door.cams.example/live?channel=2&token=t0k3n"}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("status %d, body %s", rec.Code, rec.Body)
	}
	if got, ok := fm.stream("door"); !ok || got.Source.URI != "rtsp://admin:hunter2@door.cams.example/live?channel=2&token=t0k3n" {
		t.Errorf("manager got %+v", got)
	}
	want := `{"stream":{"id":"door","source":"rtsp://admin:xxxxx@door.cams.example/live?channel=2\u0026token=xxxxx","health":"starting","plugins":[],` +
		`"realtime":true,"loop":false,"video":{"fps":5,"max_width":640}}}` + "\n"
	if rec.Body.String() != want {
		t.Errorf("body\n%s\nwant\n%s", rec.Body, want)
	}
	rec = post(s.Handler(), `{"id":"yard","source":"rtsp://admin:hunter2@yard.other.example/live?key=t0k3n"}`)
	if rec.Code != http.StatusForbidden || strings.Contains(rec.Body.String(), "hunter2") || strings.Contains(rec.Body.String(), "t0k3n") {
		t.Errorf("refused: status %d, body %s", rec.Code, rec.Body)
	}
	if strings.Contains(logBuf.String(), "hunter2") || strings.Contains(logBuf.String(), "t0k3n") {
		t.Errorf("log holds the password or token:\n%s", logBuf)
	}
}

// TestGetStreamsRedacts: a stream row stored with a credential in its
// source (by a host from before query parameters were redacted) is listed
// redacted.
func TestGetStreamsRedacts(t *testing.T) {
	st := newTestStore(t)
	if err := st.UpsertStream(context.Background(), model.Stream{ID: "old", Health: model.HealthEnded,
		Source: "https://u:pw@cdn.example/live.m3u8?token=t0k3n&X-Amz-Signature=s1g&n=1"}); err != nil {
		t.Fatal(err)
	}
	rec := serve(New(Config{}, st, liveHealth, nil).Handler(), http.MethodGet, "/api/v1/streams")
	var got streamsResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("%d %s: %v", rec.Code, rec.Body, err)
	}
	want := map[string]string{"cam1": "file:///media/cam1.mp4", "cam2": "test://smpte?fps=10",
		"old": "https://u:xxxxx@cdn.example/live.m3u8?token=xxxxx&X-Amz-Signature=xxxxx&n=1"}
	for _, s := range got.Streams {
		if s.Source != want[s.ID] {
			t.Errorf("stream %s: source %q, want %q", s.ID, s.Source, want[s.ID])
		}
	}
	if len(got.Streams) != len(want) {
		t.Errorf("%d streams, want %d", len(got.Streams), len(want))
	}
}

func TestPluginCommand(t *testing.T) {
	fm := &fakeManager{}
	s := New(Config{}, newTestStore(t), liveHealth, nil)
	s.SetStreams(fm, t.TempDir(), testPolicy(t))
	cmd := func(path, body string) *httptest.ResponseRecorder {
		return request(s.Handler(), http.MethodPost, path, "localhost", jsonHeaders, body)
	}
	rec := cmd("/api/v1/streams/cam/plugins/au/commands", `{"command":"baseline","args":{"mode":"now"}}`)
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"result":{"faces":2,"args":{"mode":"now"}}}` {
		t.Fatalf("command: %d %s", rec.Code, rec.Body)
	}
	checkHeaders(t, rec)
	for _, tc := range []struct {
		path, body string
		status     int
		want       string
	}{
		{"/api/v1/streams/nope/plugins/au/commands", `{"command":"baseline"}`, 404, `stream \"nope\" not found`},
		{"/api/v1/streams/cam/plugins/nope/commands", `{"command":"baseline"}`, 404, `stream \"cam\" has no plugin \"nope\"`},
		{"/api/v1/streams/cam/plugins/visual/commands", `{"command":"baseline"}`, 501, `plugin \"visual\" takes no commands`},
		{"/api/v1/streams/cam/plugins/down/commands", `{"command":"baseline"}`, 503, `not running`},
		{"/api/v1/streams/cam/plugins/au/commands", `{"command":"dance"}`, 400, `unknown command \"dance\"`},
		{"/api/v1/streams/cam/plugins/au/commands", `{"args":{}}`, 400, `missing field \"command\"`},
		{"/api/v1/streams/cam/plugins/au/commands", `{"command":"baseline","extra":1}`, 400, `unknown field \"extra\"`},
		{"/api/v1/streams/cam/plugins/au/commands", `{"command":`, 400, `command body`},
	} {
		rec := cmd(tc.path, tc.body)
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("%s %s: %d %s, want %d with %s", tc.path, tc.body, rec.Code, rec.Body, tc.status, tc.want)
		}
	}
	rec = request(s.Handler(), http.MethodGet, "/api/v1/streams/cam/plugins/au/commands", "localhost", nil, "")
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET commands: %d", rec.Code)
	}
}
