package postgres

import (
	"context"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/lsie-mlf/lsie/host/store"
	"github.com/lsie-mlf/lsie/host/store/storetest"
	"github.com/lsie-mlf/lsie/internal/pgtest"
)

// urls maps each store openTest opened to its database's URL, for Reopen.
var urls sync.Map // *DB -> string

// openTest opens a store on a new database of srv.
func openTest(t testing.TB, srv *pgtest.Server) *DB {
	t.Helper()
	url := srv.NewDatabase(t)
	d, err := Open(context.Background(), url, hclog.NewNullLogger())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	urls.Store(d, url)
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
		Reopen: func(t testing.TB, s store.Store) store.Store {
			t.Helper()
			url, ok := urls.Load(s.(*DB))
			if !ok {
				t.Fatal("reopen: store not opened by openTest")
			}
			_ = s.Close()
			d, err := Open(context.Background(), url.(string), hclog.NewNullLogger())
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			return d
		},
	})
}
