// Package sqlite is the default Store: one SQLite file, opened through the
// pure-Go modernc.org/sqlite driver (no cgo), in WAL mode.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"

	"github.com/hashicorp/go-hclog"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/lsie-mlf/lsie/host/store"
)

// busyTimeoutMS is how long a connection waits for a lock held by another
// connection (another process, or a checkpoint) before failing with
// SQLITE_BUSY.
const busyTimeoutMS = 5000

// maxReaders bounds the read pool. Readers never block the writer in WAL
// mode, so this only caps memory and file descriptors.
const maxReaders = 4

// DB is a Store backed by one SQLite file.
//
// It holds two pools on the same file. The write pool has exactly one
// connection: SQLite allows one writer at a time anyway, and serialising
// writers in Go (database/sql queues them) means they never spin on
// SQLITE_BUSY against each other; its transactions begin IMMEDIATE so a
// writer in another process is waited for up front, never mid-transaction.
// The read pool has several query-only connections, so API reads run
// concurrently with each other and with a segment being saved (WAL gives
// each reader a consistent snapshot).
type DB struct {
	path string
	log  hclog.Logger
	w    *sql.DB
	r    *sql.DB

	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*DB)(nil)

// Open opens (creating it and its parent directory if needed) the SQLite
// database at path and brings its schema up to date. It fails with
// ErrSchemaNewer when the file was written by a newer build. A nil log
// discards messages.
func Open(path string, log hclog.Logger) (*DB, error) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	if path == "" {
		return nil, errors.New("open sqlite store: empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %q: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return nil, fmt.Errorf("open sqlite store %q: %w", path, err)
	}
	d := &DB{path: abs, log: log}

	d.w, err = sql.Open("sqlite", dsn(abs, url.Values{
		"_busy_timeout": {fmt.Sprint(busyTimeoutMS)},
		"_journal_mode": {"WAL"},
		// NORMAL is safe from corruption in WAL mode; a power loss may
		// only forget the last few committed segments.
		"_synchronous":  {"NORMAL"},
		"_foreign_keys": {"1"},
		"_txlock":       {"immediate"},
	}))
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %q: %w", path, err)
	}
	d.w.SetMaxOpenConns(1)
	d.w.SetMaxIdleConns(1)
	d.w.SetConnMaxLifetime(0)
	d.w.SetConnMaxIdleTime(0)

	ctx := context.Background()
	if err := d.w.PingContext(ctx); err != nil {
		_ = d.w.Close()
		return nil, fmt.Errorf("open sqlite store %q: %w", path, err)
	}
	if err := migrate(ctx, d.w, migrations, log); err != nil {
		_ = d.w.Close()
		return nil, fmt.Errorf("open sqlite store %q: %w", path, err)
	}

	d.r, err = sql.Open("sqlite", dsn(abs, url.Values{
		"_busy_timeout": {fmt.Sprint(busyTimeoutMS)},
		"_foreign_keys": {"1"},
		"_query_only":   {"1"},
	}))
	if err != nil {
		_ = d.w.Close()
		return nil, fmt.Errorf("open sqlite store %q: %w", path, err)
	}
	d.r.SetMaxOpenConns(maxReaders)
	d.r.SetMaxIdleConns(maxReaders)
	if err := d.r.PingContext(ctx); err != nil {
		_ = d.r.Close()
		_ = d.w.Close()
		return nil, fmt.Errorf("open sqlite store %q: %w", path, err)
	}
	log.Debug("sqlite store open", "path", abs)
	return d, nil
}

// dsn builds a file: URI, so a path holding '?' or '#' is escaped rather
// than read as the start of the driver's parameters.
func dsn(abs string, params url.Values) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: params.Encode()}
	return u.String()
}

// Path returns the absolute path of the database file.
func (d *DB) Path() string { return d.path }

// Close closes both pools. The last connection to close checkpoints the WAL
// into the main file. Calling Close again returns the first result.
func (d *DB) Close() error {
	d.closeOnce.Do(func() {
		d.closeErr = errors.Join(d.r.Close(), d.w.Close())
		if d.closeErr != nil {
			d.closeErr = fmt.Errorf("close sqlite store %q: %w", d.path, d.closeErr)
		}
	})
	return d.closeErr
}

// readTx begins a read-only transaction on the read pool: the queries in it
// see one snapshot even while a segment is being saved.
func (d *DB) readTx(ctx context.Context) (*sql.Tx, error) {
	return d.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
}

// streamExists reports whether a stream with id is stored; q is a pool or a
// transaction.
func streamExists(ctx context.Context, q queryer, id string) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM streams WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// queryer is what *sql.DB and *sql.Tx have in common for reads.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// errStream wraps store.ErrNotFound for an unknown stream.
func errStream(id string) error {
	return fmt.Errorf("stream %q: %w", id, store.ErrNotFound)
}
