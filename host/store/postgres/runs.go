package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/store"
	"github.com/lsie-mlf/lsie/host/store/internal/rowcodec"
)

// errRun wraps store.ErrNotFound for an unknown stream run.
func errRun(id string) error {
	return fmt.Errorf("run %q: %w", id, store.ErrNotFound)
}

// runExists reports whether a stream run with id is stored.
func runExists(ctx context.Context, q querier, id string) (bool, error) {
	var one int
	err := q.QueryRow(ctx, `SELECT 1 FROM stream_runs WHERE run_id = $1`, id).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// StartRun records a stream run's start; the same run again is a no-op.
func (d *DB) StartRun(ctx context.Context, r model.StreamRun) error {
	if err := rowcodec.CheckStartRun(r); err != nil {
		return err
	}
	tag, err := d.pool.Exec(ctx, `
INSERT INTO stream_runs (run_id, stream_id, started_at)
SELECT $1, id, $2 FROM streams WHERE id = $3
ON CONFLICT (run_id) DO NOTHING`, r.RunID, rowcodec.UnixNS(r.StartedAt), r.StreamID)
	if err != nil {
		return fmt.Errorf("start run %q: %w", r.RunID, err)
	}
	if tag.RowsAffected() == 0 {
		// Nothing inserted: either the run is stored (fine) or the
		// stream is unknown.
		ok, err := streamExists(ctx, d.pool, r.StreamID)
		if err != nil {
			return fmt.Errorf("start run %q: %w", r.RunID, err)
		}
		if !ok {
			return fmt.Errorf("start run: %w", errStream(r.StreamID))
		}
	}
	return nil
}

// EndRun marks an open run ended; an ended one is left as it is.
func (d *DB) EndRun(ctx context.Context, runID string, at time.Time, reason string) error {
	if err := rowcodec.CheckEndRun(runID, at); err != nil {
		return err
	}
	tag, err := d.pool.Exec(ctx, `
UPDATE stream_runs SET ended_at = $1, end_reason = $2 WHERE run_id = $3 AND ended_at IS NULL`,
		rowcodec.UnixNS(at), reason, runID)
	if err != nil {
		return fmt.Errorf("end run %q: %w", runID, err)
	}
	if tag.RowsAffected() == 0 {
		ok, err := runExists(ctx, d.pool, runID)
		if err != nil {
			return fmt.Errorf("end run %q: %w", runID, err)
		}
		if !ok {
			return fmt.Errorf("end run: %w", errRun(runID))
		}
	}
	return nil
}

// OpenRuns lists the runs not ended yet, oldest first.
func (d *DB) OpenRuns(ctx context.Context) ([]model.StreamRun, error) {
	// NULLS FIRST and COLLATE "C": SQLite's order for the same rows.
	rows, err := d.pool.Query(ctx, rowcodec.RunSelect+`
WHERE r.ended_at IS NULL ORDER BY r.started_at NULLS FIRST, r.run_id COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("open runs: %w", err)
	}
	defer rows.Close()
	out, err := rowcodec.Collect(rows, rowcodec.ScanStreamRun)
	if err != nil {
		return nil, fmt.Errorf("open runs: %w", err)
	}
	return out, nil
}

// Runs lists a stream's runs, newest first.
func (d *DB) Runs(ctx context.Context, streamID string) ([]model.StreamRun, error) {
	tx, err := d.readTx(ctx)
	if err != nil {
		return nil, fmt.Errorf("runs of %q: %w", streamID, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if ok, err := streamExists(ctx, tx, streamID); err != nil {
		return nil, fmt.Errorf("runs of %q: %w", streamID, err)
	} else if !ok {
		return nil, fmt.Errorf("runs: %w", errStream(streamID))
	}
	rows, err := tx.Query(ctx, rowcodec.RunSelect+`
WHERE r.stream_id = $1 ORDER BY r.started_at DESC NULLS LAST, r.run_id COLLATE "C" DESC`, streamID)
	if err != nil {
		return nil, fmt.Errorf("runs of %q: %w", streamID, err)
	}
	defer rows.Close()
	out, err := rowcodec.Collect(rows, rowcodec.ScanStreamRun)
	if err != nil {
		return nil, fmt.Errorf("runs of %q: %w", streamID, err)
	}
	return out, nil
}

// MarkRunLost ends an open run at g.WallFrom and stores the gap g, in one
// transaction; for an ended run it does nothing. The UPDATE locks the run's
// row: a concurrent call waits, then finds the run ended.
func (d *DB) MarkRunLost(ctx context.Context, g model.Gap) (err error) {
	enc, err := rowcodec.EncodeGap(g, true)
	if err != nil {
		return err
	}
	where := fmt.Sprintf("mark run %q lost", g.RunID)
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	var stream string
	err = tx.QueryRow(ctx, `
UPDATE stream_runs SET ended_at = $1, end_reason = $2 WHERE run_id = $3 AND ended_at IS NULL
RETURNING stream_id`, enc.WallFrom, g.Reason, g.RunID).Scan(&stream)
	if errors.Is(err, pgx.ErrNoRows) {
		ok, err := runExists(ctx, tx, g.RunID)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if !ok {
			return fmt.Errorf("mark run lost: %w", errRun(g.RunID))
		}
		return tx.Rollback(ctx) // ended already: marked before, or ended properly
	}
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if g.StreamID != "" && g.StreamID != stream {
		return fmt.Errorf("%s: the gap names stream %q, the run is of %q", where, g.StreamID, stream)
	}
	if _, err = insertGap(ctx, tx, stream, enc); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if err = tx.Commit(ctx); err != nil {
		return fmt.Errorf("%s: commit: %w", where, err)
	}
	return nil
}

// execer is what the pool and a transaction have in common for writes.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// insertGap stores gap e of stream; it stores nothing (0) when the stream
// is unknown.
func insertGap(ctx context.Context, q execer, stream string, e rowcodec.Gap) (int64, error) {
	g := e.G
	// Casts: parameters in a SELECT list get no type from the target.
	tag, err := q.Exec(ctx, `
INSERT INTO gaps (stream_id, run_id, wall_from, wall_to, media_from_ns, reason, recorded_at)
SELECT id, $2::text, $3::bigint, $4::bigint, $5::bigint, $6::text, $7::bigint FROM streams WHERE id = $1`,
		stream, g.RunID, e.WallFrom, e.WallTo, int64(g.MediaFrom), g.Reason, e.RecordedAt)
	return tag.RowsAffected(), err
}

// RecordGap stores a gap of a stream.
func (d *DB) RecordGap(ctx context.Context, g model.Gap) error {
	enc, err := rowcodec.EncodeGap(g, false)
	if err != nil {
		return err
	}
	n, err := insertGap(ctx, d.pool, g.StreamID, enc)
	if err != nil {
		return fmt.Errorf("record gap of %q: %w", g.StreamID, err)
	}
	if n == 0 {
		return fmt.Errorf("record gap: %w", errStream(g.StreamID))
	}
	return nil
}

// Gaps lists a stream's gaps by WallFrom, then as recorded.
func (d *DB) Gaps(ctx context.Context, streamID string) ([]model.Gap, error) {
	tx, err := d.readTx(ctx)
	if err != nil {
		return nil, fmt.Errorf("gaps of %q: %w", streamID, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if ok, err := streamExists(ctx, tx, streamID); err != nil {
		return nil, fmt.Errorf("gaps of %q: %w", streamID, err)
	} else if !ok {
		return nil, fmt.Errorf("gaps: %w", errStream(streamID))
	}
	rows, err := tx.Query(ctx, `
SELECT stream_id, run_id, wall_from, wall_to, media_from_ns, reason, recorded_at FROM gaps
WHERE stream_id = $1 ORDER BY wall_from NULLS FIRST, id`, streamID)
	if err != nil {
		return nil, fmt.Errorf("gaps of %q: %w", streamID, err)
	}
	defer rows.Close()
	out, err := rowcodec.Collect(rows, rowcodec.ScanGap)
	if err != nil {
		return nil, fmt.Errorf("gaps of %q: %w", streamID, err)
	}
	return out, nil
}

// PutDesiredStream creates or replaces a desired stream.
func (d *DB) PutDesiredStream(ctx context.Context, ds model.DesiredStream) error {
	if err := rowcodec.CheckDesiredStream(ds); err != nil {
		return err
	}
	spec := ds.Spec
	if spec == nil {
		spec = []byte{}
	}
	if _, err := d.pool.Exec(ctx, `
INSERT INTO desired_streams (id, spec, base_dir, added_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (id) DO UPDATE SET spec = excluded.spec, base_dir = excluded.base_dir, added_at = excluded.added_at`,
		ds.ID, spec, ds.BaseDir, rowcodec.UnixNS(ds.AddedAt)); err != nil {
		return fmt.Errorf("put desired stream %q: %w", ds.ID, err)
	}
	return nil
}

// DeleteDesiredStream removes a desired stream, if there is one.
func (d *DB) DeleteDesiredStream(ctx context.Context, id string) error {
	if _, err := d.pool.Exec(ctx, `DELETE FROM desired_streams WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete desired stream %q: %w", id, err)
	}
	return nil
}

// DesiredStreams lists the desired streams by AddedAt, then ID.
func (d *DB) DesiredStreams(ctx context.Context) ([]model.DesiredStream, error) {
	// NULLS FIRST and COLLATE "C": SQLite's order for the same rows.
	rows, err := d.pool.Query(ctx, `SELECT id, spec, base_dir, added_at FROM desired_streams
ORDER BY added_at NULLS FIRST, id COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("desired streams: %w", err)
	}
	defer rows.Close()
	out, err := rowcodec.Collect(rows, rowcodec.ScanDesiredStream)
	if err != nil {
		return nil, fmt.Errorf("desired streams: %w", err)
	}
	return out, nil
}
