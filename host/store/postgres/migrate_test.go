package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

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
			if _, err := d.Segment(ctx, "cam1", 0); err != nil {
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
