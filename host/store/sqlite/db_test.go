package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/store"
	"github.com/lsie-mlf/lsie/host/store/storetest"
)

func openTest(t testing.TB) *DB {
	t.Helper()
	d, err := Open(filepath.Join(t.TempDir(), "lsie.db"), hclog.NewNullLogger())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// TestContract runs the Store contract shared with every backend.
func TestContract(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		Open: func(t testing.TB) store.Store { return openTest(t) },
		QueryRow: func(ctx context.Context, s store.Store, query string, dest ...any) error {
			return s.(*DB).r.QueryRowContext(ctx, query).Scan(dest...)
		},
		Reopen: func(t testing.TB, s store.Store) store.Store {
			t.Helper()
			path := s.(*DB).Path()
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			d, err := Open(path, hclog.NewNullLogger())
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			return d
		},
	})
}

func testSegment(stream string, index int64, nItems int, seed float64) model.Segment {
	return storetest.Segment(stream, index, nItems, seed)
}

func mustUpsert(t testing.TB, d *DB, ids ...string) { t.Helper(); storetest.MustUpsert(t, d, ids...) }

func mustSave(t testing.TB, d *DB, run string, seg model.Segment) {
	t.Helper()
	storetest.MustSave(t, d, run, seg)
}

func TestOpenCreatesDirAndSetsPragmas(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b?c#d", "lsie.db")
	d, err := Open(path, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer d.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file: %v", err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"foreign_keys", "1"},
		{"busy_timeout", fmt.Sprint(busyTimeoutMS)},
	} {
		var got string
		if err := d.w.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", tc.pragma, err)
		}
		if got != tc.want {
			t.Errorf("PRAGMA %s = %q, want %q", tc.pragma, got, tc.want)
		}
	}
	if _, err := d.r.ExecContext(ctx, `DELETE FROM streams`); err == nil {
		t.Errorf("write through the read pool succeeded, want query_only error")
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open("", nil); err == nil || err.Error() != "open sqlite store: empty path" {
		t.Errorf("Open(\"\") = %v", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(filepath.Join(file, "lsie.db"), nil); err == nil {
		t.Errorf("Open under a regular file succeeded")
	}
}

func BenchmarkSaveSegment(b *testing.B) {
	d := openTest(b)
	mustUpsert(b, d, "cam1")
	ctx := context.Background()
	segs := make([]model.Segment, 64)
	for i := range segs {
		segs[i] = testSegment("cam1", int64(i), 10, 0)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		seg := segs[i%len(segs)]
		seg.Index = int64(i)
		if err := d.SaveSegment(ctx, "bench", seg); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
