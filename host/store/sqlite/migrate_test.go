package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
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
		if _, err := d.Segment(context.Background(), "cam1", 0); err != nil {
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
