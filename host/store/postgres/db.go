// Package postgres is the Store on a PostgreSQL server, through pgx. It
// holds the same data as the sqlite package in the same shapes (times as
// unix nanoseconds, small structured values as JSON), so both meet one
// contract (host/store/storetest).
package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsie-mlf/lsie/host/store"
)

// maxConns bounds the pool: one writer (the host's store loop) plus API
// readers; more would only hold server backends idle.
const maxConns = 8

// DB is a Store backed by a PostgreSQL database.
//
// Every statement is parameterised: no value from a stream, plugin or
// caller is ever spliced into SQL text.
type DB struct {
	name string // the URL with any password masked, for messages
	log  hclog.Logger
	pool *pgxpool.Pool

	closeOnce sync.Once
}

var _ store.Store = (*DB)(nil)

// Open connects to the database at dsn (a postgres:// URL or a key=value
// connection string) and brings its schema up to date. It fails with
// ErrSchemaNewer when the database was migrated by a newer build. A nil log
// discards messages.
func Open(ctx context.Context, dsn string, log hclog.Logger) (*DB, error) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	if dsn == "" {
		return nil, errors.New("open postgres store: empty connection string")
	}
	name := store.RedactDSN(dsn)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors may quote the string, password included.
		return nil, fmt.Errorf("open postgres store %s: invalid connection string", name)
	}
	if cfg.MaxConns > maxConns {
		cfg.MaxConns = maxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres store %s: %w", name, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store %s: %w", name, err)
	}
	if err := migrate(ctx, pool, migrations, log); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store %s: %w", name, err)
	}
	log.Debug("postgres store open", "db", name)
	return &DB{name: name, log: log, pool: pool}, nil
}

// Close closes the pool. Calling it again is a no-op.
func (d *DB) Close() error {
	d.closeOnce.Do(d.pool.Close)
	return nil
}

// readTx begins a read-only repeatable-read transaction: the queries in it
// see one snapshot even while a segment is being saved, and a read-only one
// never fails with a serialization error.
func (d *DB) readTx(ctx context.Context) (pgx.Tx, error) {
	return d.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
}

// querier is what the pool and a transaction have in common.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// streamExists reports whether a stream with id is stored.
func streamExists(ctx context.Context, q querier, id string) (bool, error) {
	var one int
	err := q.QueryRow(ctx, `SELECT 1 FROM streams WHERE id = $1`, id).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// errStream wraps store.ErrNotFound for an unknown stream.
func errStream(id string) error {
	return fmt.Errorf("stream %q: %w", id, store.ErrNotFound)
}
