package storetest

import (
	"context"
	"errors"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/store"
)

// LateItems are n items of a plugin that arrived after segment index had
// closed, from time offset on; seed varies their values.
func LateItems(index int64, offset time.Duration, n int, seed float64) []model.Item {
	start := time.Duration(index)*10*time.Second + offset
	out := make([]model.Item, n)
	for i := range out {
		out[i] = model.Item{PTS: start + time.Duration(i)*100*time.Millisecond, Fields: map[string]float64{"au12": seed + float64(i)}}
	}
	return out
}

// withLate is seg's plugin with items appended as the store reads them
// back once attached late.
func withLate(seg model.Segment, plugin string, items ...model.Item) model.Segment {
	out := seg
	out.Plugins = map[string]model.PluginSegment{}
	for k, p := range seg.Plugins {
		if k == plugin {
			p.Items = append([]model.Item(nil), p.Items...)
			for _, it := range items {
				it.Late = true
				p.Items = append(p.Items, it)
			}
			p.LateItems += len(items)
		}
		out.Plugins[k] = p
	}
	return out
}

func mustAttach(t testing.TB, d store.Store, stream string, index int64, run, plugin string, items []model.Item) {
	t.Helper()
	if err := d.AttachLate(context.Background(), stream, index, run, plugin, items); err != nil {
		t.Fatalf("AttachLate(%s/%d %s %s): %v", stream, index, run, plugin, err)
	}
}

func mustSegment(t testing.TB, d store.Store, stream string, index int64, run string) model.Segment {
	t.Helper()
	seg, err := d.Segment(context.Background(), stream, index, run)
	if err != nil {
		t.Fatalf("Segment(%s/%d %s): %v", stream, index, run, err)
	}
	return *seg
}

// Late items are appended to their run's stored segment, marked late,
// after the plugin's own items; the plugin row counts them; the
// aggregates stay as stored. Attaching a batch again (a retry) adds
// nothing; another batch continues after the first.
func testAttachLate(t *testing.T, be Backend) {
	d := be.open(t)
	ctx := context.Background()
	MustUpsert(t, d, "cam1")
	seg := Segment("cam1", 0, 3, 0)
	other := Segment("cam1", 0, 2, 1) // another run's row of the index
	MustSave(t, d, "run1", seg)
	MustSave(t, d, "run2", other)

	first := LateItems(0, 5*time.Second, 2, 0)
	first[1].Topic, first[1].Text, first[1].Payload = "transcript.final@1", "late words", []byte(`{"words":["late"]}`)
	mustAttach(t, d, "cam1", 0, "run1", "face", first)
	mustAttach(t, d, "cam1", 0, "run1", "face", first) // a retry
	want := withLate(InRun(seg, "run1"), "face", first...)
	if got := mustSegment(t, d, "cam1", 0, "run1"); !reflect.DeepEqual(got, want) {
		t.Fatalf("after one batch and its retry: Segment =\n%#v\nwant\n%#v", got, want)
	}

	second := LateItems(0, 6*time.Second, 3, 10)
	mustAttach(t, d, "cam1", 0, "run1", "face", second)
	speech := LateItems(0, 7*time.Second, 1, 20)
	mustAttach(t, d, "cam1", 0, "run1", "speech", speech)
	mustAttach(t, d, "cam1", 0, "run1", "face", second) // a late retry of the second
	mustAttach(t, d, "cam1", 0, "run1", "face", first)  // and of the first
	mustAttach(t, d, "cam1", 0, "run1", "face", nil)    // nothing to attach
	want = withLate(withLate(want, "face", second...), "speech", speech...)
	if got := mustSegment(t, d, "cam1", 0, "run1"); !reflect.DeepEqual(got, want) {
		t.Fatalf("after three batches and retries: Segment =\n%#v\nwant\n%#v", got, want)
	}
	if p := want.Plugins["face"]; p.LateItems != 5 || len(p.Items) != 8 || !reflect.DeepEqual(p.Aggregates, seg.Plugins["face"].Aggregates) {
		t.Fatalf("face: %d late of %d items, aggregates %v", p.LateItems, len(p.Items), p.Aggregates)
	}
	list, err := d.Segments(ctx, "cam1", 0, 0)
	if err != nil || len(list) != 2 {
		t.Fatalf("Segments = %v, %v", list, err)
	}
	if !reflect.DeepEqual(list[0], WithoutItems(want)) || list[1].Plugins["face"].LateItems != 0 {
		t.Errorf("Segments =\n%#v\nwant\n%#v", list[0], WithoutItems(want))
	}
	// The other run's row is untouched; runID "" is the run stored last.
	if got := mustSegment(t, d, "cam1", 0, "run2"); !reflect.DeepEqual(got, InRun(other, "run2")) {
		t.Errorf("run2's row changed: %#v", got)
	}
	mustAttach(t, d, "cam1", 0, "", "speech", speech)
	if got := mustSegment(t, d, "cam1", 0, "run2"); !reflect.DeepEqual(got, withLate(InRun(other, "run2"), "speech", speech...)) {
		t.Errorf("attached with run \"\": %#v", got.Plugins["speech"])
	}
	if n := count(t, be, d, "SELECT count(*) FROM segment_items"); n != 2*3+2*2+2+3+1+1 {
		t.Errorf("segment_items has %d rows", n)
	}

	// A segment saved with late items (they were attached before a
	// re-save elsewhere) keeps the mark and the count.
	saved := Segment("cam1", 1, 2, 0)
	p := saved.Plugins["face"]
	p.Items[1].Late, p.LateItems = true, 1
	saved.Plugins["face"] = p
	MustSave(t, d, "run1", saved)
	if got := mustSegment(t, d, "cam1", 1, "run1"); !reflect.DeepEqual(got, InRun(saved, "run1")) {
		t.Errorf("saved with a late item: %#v", got.Plugins["face"])
	}
}

// AttachLate names what it cannot find (ErrNotFound) and refuses items
// that cannot be stored (ErrInvalid), changing nothing.
func testAttachLateRefused(t *testing.T, be Backend) {
	d := be.open(t)
	ctx := context.Background()
	MustUpsert(t, d, "cam1")
	seg := Segment("cam1", 0, 2, 0)
	MustSave(t, d, "run1", seg)
	items := LateItems(0, time.Second, 1, 0)
	for _, tc := range []struct {
		name, stream string
		index        int64
		run, plugin  string
		want         string
	}{
		{"unknown stream", "nosuch", 0, "run1", "face", `attach late items of "face" to segment nosuch/0 run run1: segment nosuch/0 run run1: not found`},
		{"unknown index", "cam1", 5, "", "face", `attach late items of "face" to segment cam1/5: segment cam1/5: not found`},
		{"unknown run", "cam1", 0, "run9", "face", `attach late items of "face" to segment cam1/0 run run9: segment cam1/0 run run9: not found`},
		{"unknown plugin", "cam1", 0, "run1", "nosuch", `attach late items of "nosuch" to segment cam1/0 run run1: the segment has no plugin "nosuch": not found`},
	} {
		for _, its := range [][]model.Item{items, nil} {
			err := d.AttachLate(ctx, tc.stream, tc.index, tc.run, tc.plugin, its)
			if !errors.Is(err, store.ErrNotFound) || err.Error() != tc.want {
				t.Errorf("%s (%d items): %v, want %s", tc.name, len(its), err, tc.want)
			}
		}
	}
	nan := LateItems(0, time.Second, 2, 0)
	nan[1].Fields["au12"] = math.NaN()
	badPayload := LateItems(0, time.Second, 1, 0)
	badPayload[0].Payload = []byte(`{"unterminated`)
	nul := LateItems(0, time.Second, 1, 0)
	nul[0].Text = "nul \x00 byte"
	for name, its := range map[string][]model.Item{"NaN": nan, "bad payload": badPayload} {
		err := d.AttachLate(ctx, "cam1", 0, "run1", "face", its)
		if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), `attach late items of "face" to segment cam1/0 run run1: item `) {
			t.Errorf("%s: %v, want ErrInvalid naming the item", name, err)
		}
	}
	// Text the database refuses (PostgreSQL: NUL) is invalid too; SQLite
	// stores it.
	if err := d.AttachLate(ctx, "cam1", 0, "run1", "speech", nul); err != nil && !errors.Is(err, store.ErrInvalid) {
		t.Errorf("NUL text: %v, want nil or ErrInvalid", err)
	}
	got := mustSegment(t, d, "cam1", 0, "run1")
	if p := got.Plugins["face"]; p.LateItems != 0 || len(p.Items) != 2 {
		t.Errorf("refused batches left %d late of %d items", p.LateItems, len(p.Items))
	}
}

// Concurrent attaches to one segment each land once, with distinct
// positions, and concurrent retries of one batch land once.
func testConcurrentAttachLate(t *testing.T, be Backend) {
	d := be.open(t)
	MustUpsert(t, d, "cam1")
	MustSave(t, d, "run1", Segment("cam1", 0, 2, 0))
	const batches = 8
	var wg sync.WaitGroup
	errs := make(chan error, 2*batches)
	for i := range batches {
		for range 2 { // each batch twice at once: a retry racing the first try
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- d.AttachLate(context.Background(), "cam1", 0, "run1", "face", LateItems(0, time.Second, 2, float64(10*i)))
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	p := mustSegment(t, d, "cam1", 0, "run1").Plugins["face"]
	if p.LateItems != 2*batches || len(p.Items) != 2+2*batches {
		t.Fatalf("%d late of %d items, want %d of %d", p.LateItems, len(p.Items), 2*batches, 2+2*batches)
	}
	seen := map[float64]int{}
	for _, it := range p.Items[2:] {
		if !it.Late {
			t.Errorf("item %v not marked late", it.PTS)
		}
		seen[it.Fields["au12"]]++
	}
	for v, n := range seen {
		if n != 1 {
			t.Errorf("late value %v stored %d times", v, n)
		}
	}
}
