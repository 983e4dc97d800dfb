package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func versions(t *testing.T, db *sql.DB) []int {
	t.Helper()
	rows, err := db.Query(`SELECT version FROM schema_migrations ORDER BY version`)
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

func TestReopenIsNoop(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lsie.db")
	d, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustUpsert(t, d, "cam1")
	mustSave(t, d, "run1", testSegment("cam1", 0, 3, 0))
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		d, err = Open(path, nil)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		if got := versions(t, d.w); len(got) != len(migrations) || got[len(got)-1] != len(migrations) {
			t.Fatalf("versions = %v, want 1..%d", got, len(migrations))
		}
		if _, err := d.Segment(context.Background(), "cam1", 0, ""); err != nil {
			t.Fatalf("data lost on reopen: %v", err)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMigrateUpgradeAndFailure(t *testing.T) {
	d := openTest(t)
	ctx := context.Background()
	log := hclog.NewNullLogger()

	next := append(append([]migration{}, migrations...), migration{
		version: len(migrations) + 1, name: "add notes",
		sql: `CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL);
CREATE INDEX notes_by_text ON notes (text);`,
	})
	if err := migrate(ctx, d.w, next, log); err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	if err := migrate(ctx, d.w, next, log); err != nil {
		t.Fatalf("second upgrade: %v", err)
	}
	if got := versions(t, d.w); len(got) != len(next) {
		t.Fatalf("versions = %v, want 1..%d", got, len(next))
	}

	// A failing step leaves nothing behind, its earlier statements included.
	broken := append(append([]migration{}, next...), migration{
		version: len(next) + 1, name: "broken",
		sql: `CREATE TABLE half (id INTEGER); CREATE TABLE notes (id INTEGER);`,
	})
	err := migrate(ctx, d.w, broken, log)
	if err == nil || err.Error() != fmt.Sprintf("migrate to version %d (broken): SQL logic error: table notes already exists (1)", len(broken)) {
		t.Fatalf("broken migration: %v", err)
	}
	if got := versions(t, d.w); len(got) != len(next) {
		t.Fatalf("versions after failure = %v, want 1..%d", got, len(next))
	}
	var n int
	if err := d.w.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name = 'half'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("table from failed migration: n=%d err=%v", n, err)
	}

	gap := []migration{{version: 1}, {version: 3, name: "skips two"}}
	if err := migrate(ctx, d.w, gap, log); err == nil || err.Error() != `migration 3 ("skips two") out of order: want version 2` {
		t.Fatalf("gap: %v", err)
	}
}

func TestOpenNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lsie.db")
	d, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.w.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'from the future', 0)`); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = Open(path, nil)
	if !errors.Is(err, ErrSchemaNewer) {
		t.Fatalf("Open = %v, want ErrSchemaNewer", err)
	}
	want := `open sqlite store "` + path + `": schema version 99, this build knows up to ` + fmt.Sprint(len(migrations)) + `: ` +
		`database schema is newer than this build supports (use a newer lsie, or another database file)`
	if err.Error() != want {
		t.Fatalf("Open error =\n%s\nwant\n%s", err, want)
	}
}

// TestMigrateV5KeepsSegmentRows builds a version 4 database with segments,
// their plugin rows, items, enrichment and telemetry, opens it (rebuilding
// segments for version 5) and checks every row survived, kept its id and
// its children, and that a second run of an index can now be stored.
func TestMigrateV5KeepsSegmentRows(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "lsie.db")
	v4, err := sql.Open("sqlite", dsn(path, url.Values{
		"_busy_timeout": {"5000"}, "_foreign_keys": {"1"}, "_txlock": {"immediate"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	v4.SetMaxOpenConns(1)
	if err := migrate(ctx, v4, migrations[:4], hclog.NewNullLogger()); err != nil {
		t.Fatalf("migrate to 4: %v", err)
	}
	for _, q := range []string{
		`INSERT INTO streams (id, source, health, plugins, started_at) VALUES ('cam1', 'test://', 'ok', '["face","speech"]', 1)`,
		`INSERT INTO streams (id, source, health, plugins, started_at) VALUES ('cam2', 'test://', 'ok', '[]', 1)`,
		// Ids with holes: they must be kept, the children point at them.
		`INSERT INTO segments (id, stream_id, idx, run_id, media_start_ns, media_end_ns, wall_start, wall_end, status,
			reasons, frames_seen, frames_dropped, closed_at, close_latency_ns, audio_seconds, audio_gap_seconds, analytics, reward)
		VALUES (3, 'cam1', 0, 'host1', 0, 10, 1000, 2000, 'complete', 'null', 10, 0, 2001, 1, 0.5, 0, '{"au":"au12","reward":0.25}', 0.25),
			(7, 'cam1', 1, 'host1', 10, 20, 2000, 3000, 'partial', '["shutdown"]', 9, 1, 3001, 1, 0, 0, 'null', NULL),
			(12, 'cam2', 0, 'host2', 0, 10, 1000, 2000, 'complete', 'null', 10, 0, 2001, 1, 0, 0, 'null', NULL)`,
		`INSERT INTO segment_plugins (segment_id, plugin, version, frames_analysed, frames_skipped, errors, aggregates)
		VALUES (3, 'face', '1.0.0', 10, 0, 0, '{}'), (3, 'speech', '1.0.0', 10, 0, 0, 'null'),
			(7, 'face', '1.0.0', 9, 0, 1, '{}'), (12, 'face', '1.0.0', 10, 0, 0, '{}')`,
		`INSERT INTO segment_items (segment_id, plugin, seq, pts_ns, duration_ns, fields, error)
		VALUES (3, 'face', 0, 0, 0, '{"au12":0.5}', ''), (3, 'face', 1, 5, 0, '{"au12":0.75}', ''),
			(3, 'speech', 0, 0, 5, 'null', 'no audio'), (7, 'face', 0, 10, 0, '{}', ''), (12, 'face', 0, 0, 0, '{}', '')`,
		`INSERT INTO segment_enrichment (segment_id, kind, status, result, attempts, finished_at)
		VALUES (3, 'stats', 'ok', '{"words": 3}', 1, 5000), (12, 'stats', 'failed', NULL, 2, 5000)`,
		`INSERT INTO telemetry (source, id, kind, stream_id, time, received_at, segment, late)
		VALUES ('hr', '1', 'physiology', 'cam1', 1500, 1500, 0, 0)`,
	} {
		if _, err := v4.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := v4.Close(); err != nil {
		t.Fatal(err)
	}
	counts := func(t *testing.T, q queryer) map[string]int {
		t.Helper()
		out := map[string]int{}
		for _, table := range []string{"segments", "segment_plugins", "segment_items", "segment_enrichment", "telemetry"} {
			var n int
			if err := q.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
				t.Fatal(err)
			}
			out[table] = n
		}
		return out
	}

	d, err := Open(path, nil)
	if err != nil {
		t.Fatalf("Open (migrate to %d): %v", len(migrations), err)
	}
	defer d.Close()
	if got := versions(t, d.w); len(got) != len(migrations) || len(migrations) < 5 {
		t.Fatalf("versions = %v, want 1..%d", got, len(migrations))
	}
	want := map[string]int{"segments": 3, "segment_plugins": 4, "segment_items": 5, "segment_enrichment": 2, "telemetry": 1}
	if got := counts(t, d.r); !reflect.DeepEqual(got, want) {
		t.Fatalf("rows after migrating = %v, want %v", got, want)
	}
	var fk int
	if err := d.w.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Fatalf("foreign_keys after migrating = %d, %v; want 1", fk, err)
	}
	var ids []int64
	rows, err := d.r.QueryContext(ctx, `SELECT id FROM segments ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if !reflect.DeepEqual(ids, []int64{3, 7, 12}) {
		t.Fatalf("segment ids = %v, want [3 7 12]", ids)
	}
	for _, index := range []string{"segments_by_run", "segments_by_wall"} {
		var n int
		if err := d.r.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = ?`, index).Scan(&n); err != nil || n != 1 {
			t.Errorf("index %s: %d, %v", index, n, err)
		}
	}
	var check string
	if err := d.r.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check = %q, %v", check, err)
	}

	seg, err := d.Segment(ctx, "cam1", 0, "")
	if err != nil {
		t.Fatal(err)
	}
	if seg.RunID != "host1" || len(seg.Plugins) != 2 || len(seg.Plugins["face"].Items) != 2 ||
		seg.Plugins["speech"].Items[0].Error != "no audio" || len(seg.Enrichment) != 1 || len(seg.Telemetry) != 1 ||
		seg.Analytics == nil || *seg.Analytics.Reward != 0.25 {
		t.Fatalf("migrated segment cam1/0 = %+v", seg)
	}

	// Two runs of one index are kept now.
	mustSave(t, d, "run2", testSegment("cam1", 0, 2, 0))
	list, err := d.Segments(ctx, "cam1", 0, 0)
	if err != nil || len(list) != 3 || list[0].RunID != "host1" || list[1].RunID != "run2" || list[1].Index != 0 {
		t.Fatalf("Segments after a second run of index 0 = %+v, %v", list, err)
	}
	// The rebuilt table is still the parent its children cascade from.
	if _, err := d.w.ExecContext(ctx, `DELETE FROM segments WHERE id = 3`); err != nil {
		t.Fatal(err)
	}
	want = map[string]int{"segments": 3, "segment_plugins": 2 + 2, "segment_items": 2 + 4, "segment_enrichment": 1, "telemetry": 1}
	if got := counts(t, d.r); !reflect.DeepEqual(got, want) {
		t.Fatalf("rows after deleting segment 3 = %v, want %v", got, want)
	}
}

// TestMigrateForeignKeyCheck: a step leaving a row without its parent
// fails the migration, which leaves nothing behind and foreign keys on.
func TestMigrateForeignKeyCheck(t *testing.T) {
	d := openTest(t)
	ctx := context.Background()
	orphan := append(append([]migration{}, migrations...), migration{
		version: len(migrations) + 1, name: "orphan",
		sql: `INSERT INTO segment_plugins (segment_id, plugin, version, frames_analysed, frames_skipped, errors, aggregates)
VALUES (999, 'face', '1', 0, 0, 0, 'null');`,
	})
	err := migrate(ctx, d.w, orphan, hclog.NewNullLogger())
	want := fmt.Sprintf("migrate to version %d: foreign key check: segment_plugins row ? references a missing segments", len(orphan))
	if err == nil || err.Error() != want {
		t.Fatalf("migrate = %v, want %q", err, want)
	}
	if got := versions(t, d.w); len(got) != len(migrations) {
		t.Fatalf("versions = %v", got)
	}
	var fk, n int
	if err := d.w.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Fatalf("foreign_keys = %d, %v; want 1", fk, err)
	}
	if err := d.w.QueryRowContext(ctx, `SELECT count(*) FROM segment_plugins`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("segment_plugins = %d, %v; want 0", n, err)
	}
}
