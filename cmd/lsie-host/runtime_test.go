package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
)

func (h *runningHost) do(t *testing.T, method, path, token string, body []byte) int {
	t.Helper()
	code, _ := h.doBody(t, method, path, token, body)
	return code
}

// doBody is do returning the response body too.
func (h *runningHost) doBody(t *testing.T, method, path, token string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, h.base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// waitSegments polls until stream id has at least n segments.
func (h *runningHost) waitSegments(t *testing.T, id string, n int) []model.Segment {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var sl segmentList
		if code := h.get(t, "/api/v1/streams/"+id+"/segments", &sl); code == 200 && len(sl.Segments) >= n {
			return sl.Segments
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("stream %s: fewer than %d segments after 60 s", id, n)
	return nil
}

func streamNames(t *testing.T, h *runningHost) []string {
	var hh model.HostHealth
	h.get(t, "/api/v1/health", &hh)
	var out []string
	for _, c := range hh.Components {
		if c.Kind == "stream" {
			out = append(out, c.Name)
		}
	}
	slices.Sort(out)
	return out
}

const liveStream = `stream %q {
  source = "test://%s?width=320&height=240&fps=30"
  plugin "visual" {}
}
`

func TestStreamsAddedAndRemovedAtRunTime(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "lsie.hcl")
	head := fmt.Sprintf("segment { duration = \"1s\" }\nstore { sqlite = %q }\napi {\n  listen = \"127.0.0.1:0\"\n  token = \"s3cret\"\n}\n", filepath.Join(dir, "lsie.db"))
	if err := os.WriteFile(cfgPath, []byte(head+fmt.Sprintf(liveStream, "a", "ball")+fmt.Sprintf(liveStream, "keep", "smpte")), 0o644); err != nil {
		t.Fatal(err)
	}
	h := startHost(t, cfgPath)
	h.token = "s3cret"
	body, _ := json.Marshal(map[string]any{"id": "b", "source": "test://snow?width=320&height=240&fps=30",
		"plugins": []map[string]any{{"name": "visual"}}})
	if code := h.do(t, "POST", "/api/v1/streams", "", body); code != http.StatusUnauthorized {
		t.Errorf("POST without token: %d", code)
	}
	if code := h.do(t, "POST", "/api/v1/streams", "s3cret", body); code != http.StatusCreated {
		t.Fatalf("POST: %d", code)
	}
	if code := h.do(t, "POST", "/api/v1/streams", "s3cret", body); code != http.StatusConflict {
		t.Errorf("POST twice: %d", code)
	}
	h.waitSegments(t, "b", 2)
	if code := h.do(t, "DELETE", "/api/v1/streams/b", "s3cret", nil); code != http.StatusNoContent {
		t.Fatalf("DELETE: %d", code)
	}
	if code := h.do(t, "DELETE", "/api/v1/streams/b", "s3cret", nil); code != http.StatusNotFound {
		t.Errorf("DELETE twice: %d", code)
	}
	segs := h.waitSegments(t, "b", 2)
	if last := segs[len(segs)-1]; !slices.Contains(last.Reasons, model.ReasonRemoved) {
		t.Errorf("b's last segment: %s %v", last.Status, last.Reasons)
	}
	if got := streamNames(t, h); !slices.Equal(got, []string{"a", "keep"}) {
		t.Errorf("streams after DELETE: %v", got)
	}

	// SIGHUP: "a" goes, "c" comes, "keep" is not touched.
	before := h.waitSegments(t, "keep", 1)
	if err := os.WriteFile(cfgPath, []byte(head+fmt.Sprintf(liveStream, "keep", "smpte")+fmt.Sprintf(liveStream, "c", "snow")), 0o644); err != nil {
		t.Fatal(err)
	}
	_ = h.cmd.Process.Signal(syscall.SIGHUP)
	h.waitSegments(t, "c", 1)
	if got := streamNames(t, h); !slices.Equal(got, []string{"c", "keep"}) {
		t.Errorf("streams after SIGHUP: %v", got)
	}
	after := h.waitSegments(t, "keep", len(before)+2)
	for _, seg := range after[1:] {
		if seg.Status != model.SegmentComplete {
			t.Errorf("keep/%d was disturbed by the reload: %s %v", seg.Index, seg.Status, seg.Reasons)
		}
	}
	for i := 1; i < len(after); i++ {
		if after[i].Index != after[i-1].Index+1 {
			t.Errorf("keep: segment %d follows %d", after[i].Index, after[i-1].Index)
		}
	}
	h.stop(t)
}
