package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/store"
	"github.com/lsie-mlf/lsie/host/store/internal/rowcodec"
)

// errRun wraps store.ErrNotFound for an unknown stream run.
func errRun(id string) error {
	return fmt.Errorf("run %q: %w", id, store.ErrNotFound)
}

// runExists reports whether a stream run with id is stored.
func runExists(ctx context.Context, q queryer, id string) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM stream_runs WHERE run_id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// StartRun records a stream run's start; the same run again is a no-op.
func (d *DB) StartRun(ctx context.Context, r model.StreamRun) error {
	if err := rowcodec.CheckStartRun(r); err != nil {
		return err
	}
	res, err := d.w.ExecContext(ctx, `
INSERT INTO stream_runs (run_id, stream_id, started_at)
SELECT ?, id, ? FROM streams WHERE id = ?
ON CONFLICT (run_id) DO NOTHING`, r.RunID, rowcodec.UnixNS(r.StartedAt), r.StreamID)
	if err != nil {
		return fmt.Errorf("start run %q: %w", r.RunID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("start run %q: %w", r.RunID, err)
	} else if n == 0 {
		// Nothing inserted: either the run is stored (fine) or the
		// stream is unknown.
		ok, err := streamExists(ctx, d.w, r.StreamID)
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
	res, err := d.w.ExecContext(ctx, `
UPDATE stream_runs SET ended_at = ?, end_reason = ? WHERE run_id = ? AND ended_at IS NULL`,
		rowcodec.UnixNS(at), reason, runID)
	if err != nil {
		return fmt.Errorf("end run %q: %w", runID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("end run %q: %w", runID, err)
	} else if n == 0 {
		ok, err := runExists(ctx, d.w, runID)
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
	rows, err := d.r.QueryContext(ctx, rowcodec.RunSelect+`
WHERE r.ended_at IS NULL ORDER BY r.started_at, r.run_id`)
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
	defer func() { _ = tx.Rollback() }()
	if ok, err := streamExists(ctx, tx, streamID); err != nil {
		return nil, fmt.Errorf("runs of %q: %w", streamID, err)
	} else if !ok {
		return nil, fmt.Errorf("runs: %w", errStream(streamID))
	}
	rows, err := tx.QueryContext(ctx, rowcodec.RunSelect+`
WHERE r.stream_id = ? ORDER BY r.started_at DESC, r.run_id DESC`, streamID)
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
// transaction; for an ended run it does nothing.
func (d *DB) MarkRunLost(ctx context.Context, g model.Gap) (err error) {
	enc, err := rowcodec.EncodeGap(g, true)
	if err != nil {
		return err
	}
	where := fmt.Sprintf("mark run %q lost", g.RunID)
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var stream string
	err = tx.QueryRowContext(ctx, `
UPDATE stream_runs SET ended_at = ?, end_reason = ? WHERE run_id = ? AND ended_at IS NULL
RETURNING stream_id`, enc.WallFrom, g.Reason, g.RunID).Scan(&stream)
	if errors.Is(err, sql.ErrNoRows) {
		ok, err := runExists(ctx, tx, g.RunID)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if !ok {
			return fmt.Errorf("mark run lost: %w", errRun(g.RunID))
		}
		return tx.Rollback() // ended already: marked before, or ended properly
	}
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if g.StreamID != "" && g.StreamID != stream {
		return fmt.Errorf("%s: the gap names stream %q, the run is of %q", where, g.StreamID, stream)
	}
	if err = insertGap(ctx, tx, stream, enc); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", where, err)
	}
	return nil
}

// insertGap stores gap e of stream (which must exist).
func insertGap(ctx context.Context, tx *sql.Tx, stream string, e rowcodec.Gap) error {
	g := e.G
	_, err := tx.ExecContext(ctx, `
INSERT INTO gaps (stream_id, run_id, wall_from, wall_to, media_from_ns, reason, recorded_at)
VALUES (?, ?, ?, ?, ?, ?, ?)`, stream, g.RunID, e.WallFrom, e.WallTo, int64(g.MediaFrom), g.Reason, e.RecordedAt)
	return err
}

// RecordGap stores a gap of a stream.
func (d *DB) RecordGap(ctx context.Context, g model.Gap) (err error) {
	enc, err := rowcodec.EncodeGap(g, false)
	if err != nil {
		return err
	}
	where := fmt.Sprintf("record gap of %q", g.StreamID)
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if ok, err := streamExists(ctx, tx, g.StreamID); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	} else if !ok {
		return fmt.Errorf("record gap: %w", errStream(g.StreamID))
	}
	if err = insertGap(ctx, tx, g.StreamID, enc); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", where, err)
	}
	return nil
}

// Gaps lists a stream's gaps by WallFrom, then as recorded.
func (d *DB) Gaps(ctx context.Context, streamID string) ([]model.Gap, error) {
	tx, err := d.readTx(ctx)
	if err != nil {
		return nil, fmt.Errorf("gaps of %q: %w", streamID, err)
	}
	defer func() { _ = tx.Rollback() }()
	if ok, err := streamExists(ctx, tx, streamID); err != nil {
		return nil, fmt.Errorf("gaps of %q: %w", streamID, err)
	} else if !ok {
		return nil, fmt.Errorf("gaps: %w", errStream(streamID))
	}
	rows, err := tx.QueryContext(ctx, `
SELECT stream_id, run_id, wall_from, wall_to, media_from_ns, reason, recorded_at FROM gaps
WHERE stream_id = ? ORDER BY wall_from, id`, streamID)
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
	if _, err := d.w.ExecContext(ctx, `
INSERT INTO desired_streams (id, spec, base_dir, added_at) VALUES (?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET spec = excluded.spec, base_dir = excluded.base_dir, added_at = excluded.added_at`,
		ds.ID, spec, ds.BaseDir, rowcodec.UnixNS(ds.AddedAt)); err != nil {
		return fmt.Errorf("put desired stream %q: %w", ds.ID, err)
	}
	return nil
}

// DeleteDesiredStream removes a desired stream, if there is one.
func (d *DB) DeleteDesiredStream(ctx context.Context, id string) error {
	if _, err := d.w.ExecContext(ctx, `DELETE FROM desired_streams WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete desired stream %q: %w", id, err)
	}
	return nil
}

// DesiredStreams lists the desired streams by AddedAt, then ID.
func (d *DB) DesiredStreams(ctx context.Context) ([]model.DesiredStream, error) {
	rows, err := d.r.QueryContext(ctx, `SELECT id, spec, base_dir, added_at FROM desired_streams ORDER BY added_at, id`)
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
