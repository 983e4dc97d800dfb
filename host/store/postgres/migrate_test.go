package postgres

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsie-mlf/lsie/host/store"
	"github.com/lsie-mlf/lsie/host/store/storetest"
	"github.com/lsie-mlf/lsie/internal/pgtest"
)

func versions(t *testing.T, d *DB) []int {
	t.Helper()
	rows, err := d.pool.Query(context.Background(), `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := []int{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func TestMigrations(t *testing.T) {
	srv := pgtest.Start(t)
	ctx := context.Background()

	t.Run("ReopenIsNoop", func(t *testing.T) {
		url := srv.NewDatabase(t)
		d, err := Open(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		storetest.MustUpsert(t, d, "cam1")
		storetest.MustSave(t, d, "run1", storetest.Segment("cam1", 0, 3, 0))
		_ = d.Close()
		for range 2 {
			d, err = Open(ctx, url, nil)
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			if got := versions(t, d); len(got) != len(migrations) || got[len(got)-1] != len(migrations) {
				t.Fatalf("versions = %v, want 1..%d", got, len(migrations))
			}
			if _, err := d.Segment(ctx, "cam1", 0, ""); err != nil {
				t.Fatalf("segment after reopen: %v", err)
			}
			_ = d.Close()
		}
	})

	t.Run("ConcurrentOpen", func(t *testing.T) {
		// Hosts started together on one new database: one migrates, the
		// others wait on the advisory lock and find it done.
		url := srv.NewDatabase(t)
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Go(func() {
				d, err := Open(ctx, url, nil)
				if err == nil {
					_ = d.Close()
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
	})

	t.Run("NewerSchemaRefused", func(t *testing.T) {
		url := srv.NewDatabase(t)
		d, err := Open(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.pool.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, 'future', 0)`,
			len(migrations)+1); err != nil {
			t.Fatal(err)
		}
		_ = d.Close()
		_, err = Open(ctx, url, nil)
		if !errors.Is(err, ErrSchemaNewer) {
			t.Fatalf("Open of a newer schema = %v, want ErrSchemaNewer", err)
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("schema version %d, this build knows up to %d", len(migrations)+1, len(migrations))) {
			t.Errorf("error does not give both versions: %v", err)
		}
	})

	t.Run("Version3KeepsSegmentRows", func(t *testing.T) { testVersion3KeepsSegmentRows(t, srv) })

	t.Run("FailedStepRollsBack", func(t *testing.T) {
		url := srv.NewDatabase(t)
		bad := append(append([]migration{}, migrations...), migration{version: len(migrations) + 1, name: "broken",
			sql: `CREATE TABLE half_done (x INT); SELECT no_such_function();`})
		d, err := Open(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if err := migrate(ctx, d.pool, bad, d.log); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("migrate to version %d (broken)", len(migrations)+1)) {
			t.Fatalf("broken migration = %v", err)
		}
		var n int
		if err := d.pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE tablename = 'half_done'`).Scan(&n); err != nil || n != 0 {
			t.Errorf("half_done tables = %d, %v; want the step rolled back", n, err)
		}
		if got := versions(t, d); len(got) != len(migrations) {
			t.Errorf("versions = %v after a failed step", got)
		}
	})
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, "", nil); err == nil || err.Error() != "open postgres store: empty connection string" {
		t.Errorf(`Open("") = %v`, err)
	}
	_, err := Open(ctx, "postgres://u:s3cret@%zz/db", nil)
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Open of a malformed URL = %v (must fail without the password)", err)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://lsie:s3cret@db:5432/lsie":              "postgres://lsie:xxxxx@db:5432/lsie",
		"postgresql://db/lsie?password=s3cret&sslmode=x":   "postgresql://db/lsie?password=xxxxx&sslmode=x",
		"host=db password=s3cret":                          "(connection string)",
		"postgres://lsie@/lsie?host=%2Ftmp%2Fpg&port=5432": "postgres://lsie@/lsie?host=%2Ftmp%2Fpg&port=5432",
	} {
		if got := store.RedactDSN(in); got != want {
			t.Errorf("RedactDSN(%q) = %q, want %q", in, got, want)
		}
	}
}

// testVersion3KeepsSegmentRows builds a version 2 database with segments,
// their plugin rows, items, enrichment and telemetry, opens it (version 3
// swaps segments' unique constraint) and checks every row survived and
// that a second run of an index can now be stored.
func testVersion3KeepsSegmentRows(t *testing.T, srv *pgtest.Server) {
	ctx := context.Background()
	url := srv.NewDatabase(t)
	v2, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, v2, migrations[:2], hclog.NewNullLogger()); err != nil {
		v2.Close()
		t.Fatalf("migrate to 2: %v", err)
	}
	for _, q := range []string{
		`INSERT INTO streams (id, source, health, plugins, started_at) VALUES ('cam1', 'test://', 'ok', '["face","speech"]', 1)`,
		`INSERT INTO segments (stream_id, idx, run_id, media_start_ns, media_end_ns, wall_start, wall_end, status,
			reasons, frames_seen, frames_dropped, closed_at, close_latency_ns, analytics, reward)
		VALUES ('cam1', 0, 'host1', 0, 10, 1000, 2000, 'complete', 'null', 10, 0, 2001, 1, '{"au":"au12","reward":0.25}', 0.25),
			('cam1', 1, 'host1', 10, 20, 2000, 3000, 'partial', '["shutdown"]', 9, 1, 3001, 1, 'null', NULL)`,
		`INSERT INTO segment_plugins (segment_id, plugin, version, frames_analysed, frames_skipped, errors, aggregates)
		SELECT id, p, '1.0.0', 10, 0, 0, '{}' FROM segments, unnest(ARRAY['face', 'speech']) AS p`,
		`INSERT INTO segment_items (segment_id, plugin, seq, pts_ns, duration_ns, fields, error)
		SELECT segment_id, plugin, 0, 0, 0, '{"au12":0.5}', '' FROM segment_plugins`,
		`INSERT INTO segment_enrichment (segment_id, kind, status, result, attempts, finished_at)
		SELECT id, 'stats', 'ok', '{"words": 3}', 1, 5000 FROM segments WHERE idx = 0`,
		`INSERT INTO telemetry (source, id, kind, stream_id, time, received_at, segment, late)
		VALUES ('hr', '1', 'physiology', 'cam1', 1500, 1500, 0, FALSE)`,
	} {
		if _, err := v2.Exec(ctx, q); err != nil {
			v2.Close()
			t.Fatalf("%s: %v", q, err)
		}
	}
	v2.Close()

	d, err := Open(ctx, url, nil)
	if err != nil {
		t.Fatalf("Open (migrate to %d): %v", len(migrations), err)
	}
	defer d.Close()
	if got := versions(t, d); len(got) != len(migrations) || len(migrations) < 3 {
		t.Fatalf("versions = %v, want 1..%d", got, len(migrations))
	}
	counts := func() map[string]int {
		out := map[string]int{}
		for _, table := range []string{"segments", "segment_plugins", "segment_items", "segment_enrichment", "telemetry"} {
			var n int
			if err := d.pool.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
				t.Fatal(err)
			}
			out[table] = n
		}
		return out
	}
	want := map[string]int{"segments": 2, "segment_plugins": 4, "segment_items": 4, "segment_enrichment": 1, "telemetry": 1}
	if got := counts(); !reflect.DeepEqual(got, want) {
		t.Fatalf("rows after migrating = %v, want %v", got, want)
	}
	var cons []string
	rows, err := d.pool.Query(ctx, `SELECT conname FROM pg_constraint
WHERE conrelid = 'segments'::regclass AND contype = 'u' ORDER BY conname`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		cons = append(cons, c)
	}
	rows.Close()
	if !reflect.DeepEqual(cons, []string{"segments_stream_id_idx_run_id_key"}) {
		t.Fatalf("unique constraints of segments = %v", cons)
	}

	seg, err := d.Segment(ctx, "cam1", 0, "")
	if err != nil {
		t.Fatal(err)
	}
	if seg.RunID != "host1" || len(seg.Plugins) != 2 || len(seg.Plugins["face"].Items) != 1 ||
		len(seg.Enrichment) != 1 || len(seg.Telemetry) != 1 || seg.Analytics == nil || *seg.Analytics.Reward != 0.25 {
		t.Fatalf("migrated segment cam1/0 = %+v", seg)
	}
	storetest.MustSave(t, d, "run2", storetest.Segment("cam1", 0, 2, 0))
	list, err := d.Segments(ctx, "cam1", 0, 0)
	if err != nil || len(list) != 3 || list[0].RunID != "host1" || list[1].RunID != "run2" || list[1].Index != 0 {
		t.Fatalf("Segments after a second run of index 0 = %+v, %v", list, err)
	}
	if _, err := d.pool.Exec(ctx, `DELETE FROM segments WHERE run_id = 'host1' AND idx = 0`); err != nil {
		t.Fatal(err)
	}
	want = map[string]int{"segments": 2, "segment_plugins": 2 + 2, "segment_items": 2 + 4, "segment_enrichment": 0, "telemetry": 1}
	if got := counts(); !reflect.DeepEqual(got, want) {
		t.Fatalf("rows after deleting host1's segment 0 = %v, want %v", got, want)
	}
}
