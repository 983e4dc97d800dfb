package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/store/internal/rowcodec"
)

const telemetryColumns = `source, id, kind, stream_id, time, source_time, received_at, subject, hr_bpm, rr_ms,
	experiment, arm, type, payload, payload_purged, segment, late`

// InsertTelemetry stores and places a batch of events in one transaction.
// It runs on the write pool's single connection, so it is serialised with
// SaveSegment: an event either finds its segment stored (late) or is stored
// unplaced before that segment's save looks for it.
func (d *DB) InsertTelemetry(ctx context.Context, evs []model.TelemetryEvent) (_ []model.TelemetryPlacement, err error) {
	enc, streams, err := rowcodec.EncodeTelemetry(evs) // before taking any lock
	if err != nil {
		return nil, err
	}
	out := make([]model.TelemetryPlacement, len(enc))
	if len(enc) == 0 {
		return out, nil
	}
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("insert telemetry: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	for _, s := range streams {
		if ok, err := streamExists(ctx, tx, s); err != nil {
			return nil, fmt.Errorf("insert telemetry: %w", err)
		} else if !ok {
			return nil, fmt.Errorf("insert telemetry: %w", errStream(s))
		}
	}
	ins, err := tx.PrepareContext(ctx, `INSERT INTO telemetry (`+telemetryColumns+`)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (source, id) DO NOTHING
RETURNING segment, late`)
	if err != nil {
		return nil, fmt.Errorf("insert telemetry: %w", err)
	}
	defer ins.Close()
	for i, e := range enc {
		where := fmt.Sprintf("insert telemetry: event %s/%s", e.E.Source, e.E.ID)
		seg, err := coveringSegment(ctx, tx, e.E.StreamID, e.Time)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		ev := e.E
		p := &out[i]
		err = ins.QueryRowContext(ctx, ev.Source, ev.ID, string(ev.Kind), ev.StreamID, e.Time, e.SourceTime, e.Received,
			ev.Subject, ev.HeartRate, e.RR, ev.Experiment, ev.Arm, ev.Type, e.Payload, ev.PayloadPurged,
			seg, seg != nil).Scan(&p.Segment, &p.Late)
		if errors.Is(err, sql.ErrNoRows) {
			// (source, id) is stored, earlier or by this batch: report
			// where it was placed then.
			p.Duplicate = true
			err = tx.QueryRowContext(ctx, `SELECT segment, late FROM telemetry WHERE source = ? AND id = ?`,
				ev.Source, ev.ID).Scan(&p.Segment, &p.Late)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
	}
	if err = tx.Commit(); err != nil {
		return nil, fmt.Errorf("insert telemetry: commit: %w", err)
	}
	return out, nil
}

// coveringSegment returns the index of the stored segment of stream whose
// window holds t, or nil. Windows do not overlap, so the one starting last
// at or before t is the only candidate.
func coveringSegment(ctx context.Context, tx *sql.Tx, stream string, t *int64) (*int64, error) {
	if t == nil {
		return nil, nil
	}
	var idx int64
	err := tx.QueryRowContext(ctx, `
SELECT idx FROM segments WHERE stream_id = ? AND wall_start <= ? AND wall_end > ?
ORDER BY wall_start DESC, idx DESC LIMIT 1`, stream, *t, *t).Scan(&idx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find segment: %w", err)
	}
	return &idx, nil
}

// Telemetry lists the events matching q by time, source and id.
func (d *DB) Telemetry(ctx context.Context, q model.TelemetryQuery) ([]model.TelemetryEvent, error) {
	where, args := rowcodec.TelemetryWhere(q, func(int) string { return "?" })
	limit := q.Limit
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := d.r.QueryContext(ctx, `SELECT `+telemetryColumns+` FROM telemetry`+where+`
ORDER BY time, source, id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	out, err := scanTelemetry(rows)
	if err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	return out, nil
}

// segmentTelemetry lists the events placed at a stream's segment index
// whose time lies in [from, to): the window of one run's row of that index
// (another run's row of it may cover another window: a file source
// replayed from 0).
func segmentTelemetry(ctx context.Context, tx *sql.Tx, stream string, index int64, from, to time.Time) ([]model.TelemetryEvent, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+telemetryColumns+` FROM telemetry
WHERE stream_id = ? AND segment = ? AND time >= ? AND time < ? ORDER BY time, source, id`,
		stream, index, rowcodec.UnixNS(from), rowcodec.UnixNS(to))
	if err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	out, err := scanTelemetry(rows)
	if err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	if len(out) == 0 {
		return nil, nil // a segment without events has none, not an empty list
	}
	return out, nil
}

// scanTelemetry reads and closes rows of telemetryColumns.
func scanTelemetry(rows *sql.Rows) ([]model.TelemetryEvent, error) {
	defer rows.Close()
	return rowcodec.Collect(rows, rowcodec.ScanTelemetry)
}

// PurgeTelemetryPayloads drops the payloads of events received before
// cutoff; the events stay.
func (d *DB) PurgeTelemetryPayloads(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := d.w.ExecContext(ctx, `
UPDATE telemetry SET payload = NULL, payload_purged = 1
WHERE received_at < ? AND payload IS NOT NULL`, rowcodec.UnixNS(cutoff))
	if err != nil {
		return 0, fmt.Errorf("purge telemetry payloads: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("purge telemetry payloads: %w", err)
	}
	return n, nil
}

// ArmOutcomes lists experiment's placed stimulus markers with the reward of
// their segment: of the rows of its index whose window holds the marker,
// the one stored last.
func (d *DB) ArmOutcomes(ctx context.Context, experiment string) ([]model.ArmOutcome, error) {
	rows, err := d.r.QueryContext(ctx, `
SELECT t.arm, t.stream_id, t.segment, s.reward, t.time
FROM telemetry t JOIN segments s ON s.id = (
	SELECT id FROM segments
	WHERE stream_id = t.stream_id AND idx = t.segment AND wall_start <= t.time AND t.time < wall_end
	ORDER BY id DESC LIMIT 1)
WHERE t.kind = ? AND t.experiment = ?
ORDER BY t.time, t.source, t.id`, string(model.TelemetryStimulus), experiment)
	if err != nil {
		return nil, fmt.Errorf("arm outcomes of %q: %w", experiment, err)
	}
	defer rows.Close()
	out, err := rowcodec.Collect(rows, rowcodec.ScanArmOutcome)
	if err != nil {
		return nil, fmt.Errorf("arm outcomes of %q: %w", experiment, err)
	}
	return out, nil
}
