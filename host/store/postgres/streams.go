package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/store/internal/rowcodec"
)

// UpsertStream creates the stream or replaces all fields of the stored one.
func (d *DB) UpsertStream(ctx context.Context, s model.Stream) error {
	if s.ID == "" {
		return errors.New("upsert stream: empty id")
	}
	plugins, err := rowcodec.JSONText(s.Plugins)
	if err != nil {
		return fmt.Errorf("upsert stream %q: %w", s.ID, err)
	}
	_, err = d.pool.Exec(ctx, `
INSERT INTO streams (id, source, health, hint, plugins, started_at) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (id) DO UPDATE SET
	source = excluded.source, health = excluded.health, hint = excluded.hint,
	plugins = excluded.plugins, started_at = excluded.started_at`,
		s.ID, s.Source, string(s.Health), s.Hint, plugins, rowcodec.UnixNS(s.StartedAt))
	if err != nil {
		return fmt.Errorf("upsert stream %q: %w", s.ID, err)
	}
	return nil
}

// SetStreamHealth updates a stream's health and hint.
func (d *DB) SetStreamHealth(ctx context.Context, id string, h model.Health, hint string) error {
	tag, err := d.pool.Exec(ctx, `UPDATE streams SET health = $1, hint = $2 WHERE id = $3`, string(h), hint, id)
	if err != nil {
		return fmt.Errorf("set health of stream %q: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("set health: %w", errStream(id))
	}
	return nil
}

const streamColumns = `id, source, health, hint, plugins::text, started_at`

// Streams lists all streams ordered by id.
func (d *DB) Streams(ctx context.Context) ([]model.Stream, error) {
	// COLLATE "C": byte order, as SQLite sorts, whatever the database's
	// default collation.
	rows, err := d.pool.Query(ctx, `SELECT `+streamColumns+` FROM streams ORDER BY id COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("list streams: %w", err)
	}
	defer rows.Close()
	out, err := rowcodec.Collect(rows, rowcodec.ScanStream)
	if err != nil {
		return nil, fmt.Errorf("list streams: %w", err)
	}
	return out, nil
}

// Stream returns one stream or an error wrapping store.ErrNotFound.
func (d *DB) Stream(ctx context.Context, id string) (*model.Stream, error) {
	s, err := rowcodec.ScanStream(d.pool.QueryRow(ctx, `SELECT `+streamColumns+` FROM streams WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errStream(id)
	}
	if err != nil {
		return nil, fmt.Errorf("stream %q: %w", id, err)
	}
	return &s, nil
}

// RecordPluginRun stores which plugin binary served a stream in a run.
// Recording the same (run, stream, plugin, sha256) again keeps the first
// record; a different binary in the same run gets a row of its own, so a
// plugin upgraded mid-run keeps its provenance.
func (d *DB) RecordPluginRun(ctx context.Context, r model.PluginRun) error {
	if r.RunID == "" || r.Plugin == "" {
		return fmt.Errorf("record plugin run: run id %q and plugin %q must be set", r.RunID, r.Plugin)
	}
	tag, err := d.pool.Exec(ctx, `
INSERT INTO plugin_runs (run_id, stream_id, plugin, version, sha256, path, started)
SELECT $1, id, $2, $3, $4, $5, $6 FROM streams WHERE id = $7
ON CONFLICT DO NOTHING`,
		r.RunID, r.Plugin, r.Version, r.SHA256, r.Path, rowcodec.UnixNS(r.Started), r.StreamID)
	if err != nil {
		return fmt.Errorf("record plugin run %s/%s: %w", r.StreamID, r.Plugin, err)
	}
	if tag.RowsAffected() == 0 {
		// Nothing inserted: either a duplicate (fine) or an unknown stream.
		ok, err := streamExists(ctx, d.pool, r.StreamID)
		if err != nil {
			return fmt.Errorf("record plugin run %s/%s: %w", r.StreamID, r.Plugin, err)
		}
		if !ok {
			return fmt.Errorf("record plugin run: %w", errStream(r.StreamID))
		}
	}
	return nil
}

// PluginRuns lists a stream's plugin runs, oldest first.
func (d *DB) PluginRuns(ctx context.Context, streamID string) ([]model.PluginRun, error) {
	tx, err := d.readTx(ctx)
	if err != nil {
		return nil, fmt.Errorf("plugin runs of %q: %w", streamID, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if ok, err := streamExists(ctx, tx, streamID); err != nil {
		return nil, fmt.Errorf("plugin runs of %q: %w", streamID, err)
	} else if !ok {
		return nil, fmt.Errorf("plugin runs: %w", errStream(streamID))
	}
	// NULLS FIRST and COLLATE "C": SQLite's order for the same rows.
	rows, err := tx.Query(ctx, `
SELECT run_id, stream_id, plugin, version, sha256, path, started FROM plugin_runs
WHERE stream_id = $1
ORDER BY started NULLS FIRST, run_id COLLATE "C", plugin COLLATE "C", sha256 COLLATE "C"`, streamID)
	if err != nil {
		return nil, fmt.Errorf("plugin runs of %q: %w", streamID, err)
	}
	defer rows.Close()
	out, err := rowcodec.Collect(rows, rowcodec.ScanPluginRun)
	if err != nil {
		return nil, fmt.Errorf("plugin runs of %q: %w", streamID, err)
	}
	return out, nil
}
