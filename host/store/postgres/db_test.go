package postgres

import (
	"context"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/lsie-mlf/lsie/host/store"
	"github.com/lsie-mlf/lsie/host/store/storetest"
	"github.com/lsie-mlf/lsie/internal/pgtest"
)

// openTest opens a store on a new database of srv.
func openTest(t testing.TB, srv *pgtest.Server) *DB {
	t.Helper()
	d, err := Open(context.Background(), srv.NewDatabase(t), hclog.NewNullLogger())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// TestContract runs the Store contract shared with every backend, each
// case on a database of its own on one server.
func TestContract(t *testing.T) {
	srv := pgtest.Start(t)
	storetest.Run(t, storetest.Backend{
		Open: func(t testing.TB) store.Store { return openTest(t, srv) },
		QueryRow: func(ctx context.Context, s store.Store, query string, dest ...any) error {
			return s.(*DB).pool.QueryRow(ctx, query).Scan(dest...)
		},
	})
}
