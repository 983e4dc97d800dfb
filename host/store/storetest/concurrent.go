package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
)

// testConcurrentTelemetryPlacement saves segments while other goroutines
// insert the events they cover, in batches spanning both streams: however
// the transactions interleave, no event whose time lies in a saved segment
// may be left unplaced, and none placed elsewhere.
func testConcurrentTelemetryPlacement(t *testing.T, be Backend) {
	d := be.open(t)
	ctx := context.Background()
	streams := []string{"cam1", "cam2"}
	MustUpsert(t, d, streams...)

	const (
		segments  = 20
		perSeg    = 4 // events per segment and stream
		inserters = 4
		outside   = 3 // events per stream after the last segment
	)
	// Event j of segment k lies at k*10s + j*2.5s; inserter j sends the
	// j-th event of every segment, newest segments first for odd j so
	// that inserts and saves cross.
	batches := make([][]model.TelemetryEvent, inserters)
	for j := range inserters {
		for kk := range segments {
			k := kk
			if j%2 == 1 {
				k = segments - 1 - kk
			}
			var b []model.TelemetryEvent
			for si, s := range streams {
				at := time.Duration(k)*10*time.Second + time.Duration(j)*2500*time.Millisecond
				ev := Event(s, "hr", fmt.Sprintf("%s-%d-%d", s, k, j), at)
				b = append(b, ev)
				if si == 0 && j == 0 {
					b = append(b, ev) // a duplicate in the same batch
				}
			}
			batches[j] = append(batches[j], b...)
		}
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	for _, s := range streams {
		wg.Go(func() {
			for k := range int64(segments) {
				if err := d.SaveSegment(ctx, "run1", Segment(s, k, 1, 0)); err != nil {
					fail(err)
				}
			}
		})
	}
	for j := range inserters {
		wg.Go(func() {
			b := batches[j]
			for len(b) > 0 {
				n := min(len(b), 5) // a few events of both streams per call
				ps, err := d.InsertTelemetry(ctx, b[:n])
				if err != nil {
					fail(err)
					return
				}
				for i, p := range ps {
					// A fresh event is late exactly when it was placed on insert.
					if !p.Duplicate && p.Late != (p.Segment != nil) {
						fail(fmt.Errorf("event %s: placement %+v", b[i].ID, p))
					}
				}
				b = b[n:]
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	var tail []model.TelemetryEvent
	for _, s := range streams {
		for j := range outside {
			tail = append(tail, Event(s, "hr", fmt.Sprintf("%s-tail-%d", s, j), segments*10*time.Second+time.Duration(j)))
		}
	}
	MustInsert(t, d, tail...)

	all, err := d.Telemetry(ctx, model.TelemetryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if want := len(streams) * (segments*perSeg + outside); len(all) != want {
		t.Fatalf("%d events stored, want %d", len(all), want)
	}
	unplaced := 0
	for _, ev := range all {
		k := int64(ev.Time.Sub(T0) / (10 * time.Second))
		switch {
		case k >= segments:
			if ev.Segment != nil {
				t.Errorf("event %s past every segment placed in %d", ev.ID, *ev.Segment)
			}
			unplaced++
		case ev.Segment == nil:
			t.Errorf("event %s in segment %d left unplaced", ev.ID, k)
		case *ev.Segment != k:
			t.Errorf("event %s in segment %d placed in %d", ev.ID, k, *ev.Segment)
		}
	}
	if unplaced != len(streams)*outside {
		t.Errorf("%d events past the segments, want %d", unplaced, len(streams)*outside)
	}
	if n := count(t, be, d, `SELECT count(*) FROM telemetry WHERE segment IS NULL`); n != len(streams)*outside {
		t.Errorf("%d unplaced rows, want %d", n, len(streams)*outside)
	}
}
