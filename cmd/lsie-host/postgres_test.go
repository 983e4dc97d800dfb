package main

import (
	"fmt"
	"testing"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/internal/pgtest"
)

// store { postgres = ... } switches the host to a real PostgreSQL server:
// segments land there and come back through the API (5 fps analysis, 100
// acoustic hops a second), and health names the store.
func TestPostgresStoreThroughHost(t *testing.T) {
	srv := pgtest.Start(t)
	url := srv.NewDatabase(t)
	dir := t.TempDir()
	h := startHost(t, writeConfig(t, dir, fmt.Sprintf(`segment { duration = "1s" }
store { postgres = %q }
api { listen = "127.0.0.1:0" }
stream "pg" {
  source   = "test://smpte?width=160&height=120&fps=10&duration=3s&audio=440"
  realtime = false
  plugin "visual" {}
  plugin "acoustic" {}
}
`, url)))
	hh := h.waitStreams(t)
	var sl segmentList
	h.get(t, "/api/v1/streams/pg/segments", &sl)
	if len(sl.Segments) != 3 {
		var got []string
		for _, s := range sl.Segments {
			got = append(got, fmt.Sprintf("%d %v–%v %s %v frames %d", s.Index, s.MediaStart, s.MediaEnd, s.Status, s.Reasons, s.FramesSeen))
		}
		t.Fatalf("%d segments in PostgreSQL, want 3: %q", len(sl.Segments), got)
	}
	var seg model.Segment
	h.get(t, "/api/v1/segments/pg/1", &seg)
	if seg.Status != model.SegmentComplete || seg.Plugins["visual"].FramesAnalysed != 5 || len(seg.Plugins["acoustic"].Items) != 100 {
		t.Fatalf("segment 1: %s, visual frames %d, acoustic items %d", seg.Status, seg.Plugins["visual"].FramesAnalysed, len(seg.Plugins["acoustic"].Items))
	}
	if a := seg.Plugins["acoustic"].Aggregates["f0_hz"]; a.P50 < 430 || a.P50 > 450 {
		t.Errorf("acoustic f0 p50 %v from PostgreSQL, want 440", a.P50)
	}
	found := false
	for _, c := range hh.Components {
		found = found || (c.Kind == "store" && c.Name == "postgres")
	}
	if !found {
		t.Errorf("health names no postgres store: %+v", hh.Components)
	}
}
