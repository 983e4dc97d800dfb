package metrics

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
)

func TestRegistry(t *testing.T) {
	r := New()
	c, err := r.Get("frames", "frames seen", Counter, nil, "cam1")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(2)
	c.Add(-5)         // a counter never goes down
	c.Add(math.NaN()) // nor becomes NaN
	c2, _ := r.Get("frames", "frames seen", Counter, nil, "cam2")
	c2.Add(1)
	g, _ := r.Get("tracks", "live tracks", Gauge, nil, "cam1")
	g.Set(7)
	g.Add(-2)
	h, err := r.Get("infer_seconds", "inference", Histogram, []float64{0.01, 0.1, 1}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []float64{0.005, 0.01, 0.05, 0.5, 3, math.Inf(1)} {
		h.Observe(v)
	}

	snap := r.Snapshot()
	if len(snap) != 3 || snap[0].Name != "frames" || snap[1].Name != "infer_seconds" || snap[2].Name != "tracks" {
		t.Fatalf("families %v", snap)
	}
	fr := snap[0]
	if fr.Type != pluginv1.MetricType_METRIC_COUNTER || len(fr.Metrics) != 2 || fr.Metrics[0].StreamId != "cam1" ||
		fr.Metrics[0].Value != 2 || fr.Metrics[1].Value != 1 {
		t.Errorf("counter %v", fr)
	}
	hi := snap[1].Metrics[0]
	// Cumulative: <=0.01: 2, <=0.1: 3, <=1: 4; +Inf (5 finite values) is the count.
	if got := hi.BucketCounts; len(got) != 3 || got[0] != 2 || got[1] != 3 || got[2] != 4 || hi.Count != 5 ||
		math.Abs(hi.Sum-3.565) > 1e-12 || hi.StreamId != "" {
		t.Errorf("histogram %v", hi)
	}
	if v := snap[2].Metrics[0].Value; v != 5 || snap[2].Type != pluginv1.MetricType_METRIC_GAUGE {
		t.Errorf("gauge %v", snap[2])
	}

	r.DropStream("cam1")
	snap = r.Snapshot()
	if len(snap[0].Metrics) != 1 || snap[0].Metrics[0].StreamId != "cam2" || len(snap[2].Metrics) != 0 {
		t.Errorf("after dropping cam1: %v", snap)
	}
}

func TestRegistryRefuses(t *testing.T) {
	r := New()
	if _, err := r.Get("x", "", Counter, nil, ""); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		kind    Kind
		buckets []float64
		want    string
	}{
		{"Bad-Name", Counter, nil, "[a-z][a-z0-9_]*"},
		{strings.Repeat("a", 65), Counter, nil, "at most 64"},
		{"x", Gauge, nil, "registered already as a counter"},
		{"h", Histogram, []float64{1, 0.5}, "ascending"},
		{"h", Histogram, []float64{1, math.Inf(1)}, "finite"},
	} {
		s, err := r.Get(c.name, "", c.kind, c.buckets, "")
		if err == nil || !strings.Contains(err.Error(), c.want) || s != nil {
			t.Errorf("%q %v %v: %v, want %q", c.name, c.kind, c.buckets, err, c.want)
		}
	}
	var nilSeries *Series // what a refused metric records into: nothing, no panic
	nilSeries.Add(1)
	nilSeries.Set(1)
	nilSeries.Observe(1)
	for i := range MaxFamilies - 1 { // x and 63 more
		if _, err := r.Get(fmt.Sprintf("m%d", i), "", Gauge, nil, ""); err != nil {
			t.Fatalf("family %d: %v", i, err)
		}
	}
	if _, err := r.Get("one_too_many", "", Gauge, nil, ""); err == nil || !strings.Contains(err.Error(), "at most 64 metrics") {
		t.Errorf("family %d: %v", MaxFamilies+1, err)
	}
}
