package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/store/internal/rowcodec"
)

// streamLockClass is the first key of the per-stream advisory locks. The
// two-key form's key space is apart from migrateLock's single key.
const streamLockClass = int32(migrateLock)

// lockStreams takes the transaction-scoped advisory lock of each stream,
// in key order, so that transactions locking several streams cannot
// deadlock one another.
func lockStreams(ctx context.Context, tx pgx.Tx, streams []string) error {
	keys := make([]int32, 0, len(streams))
	for _, s := range streams {
		keys = append(keys, rowcodec.StreamLockKey(s))
	}
	slices.Sort(keys)
	for _, k := range slices.Compact(keys) {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, streamLockClass, k); err != nil {
			return fmt.Errorf("lock stream: %w", err)
		}
	}
	return nil
}

const telemetryColumns = `source, id, kind, stream_id, time, source_time, received_at, subject, hr_bpm, rr_ms::text,
	experiment, arm, type, payload::text, payload_purged, segment, late`

// InsertTelemetry stores and places a batch of events in one transaction.
// It holds the advisory lock of every stream in the batch, as SaveSegment
// does for its stream: an event either finds its segment committed (late)
// or is committed unplaced before that segment's save looks for it.
func (d *DB) InsertTelemetry(ctx context.Context, evs []model.TelemetryEvent) (_ []model.TelemetryPlacement, err error) {
	enc, streams, err := rowcodec.EncodeTelemetry(evs) // before taking any lock
	if err != nil {
		return nil, err
	}
	out := make([]model.TelemetryPlacement, len(enc))
	if len(enc) == 0 {
		return out, nil
	}
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("insert telemetry: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if err = lockStreams(ctx, tx, streams); err != nil {
		return nil, fmt.Errorf("insert telemetry: %w", err)
	}
	for _, s := range streams {
		if ok, err := streamExists(ctx, tx, s); err != nil {
			return nil, fmt.Errorf("insert telemetry: %w", err)
		} else if !ok {
			return nil, fmt.Errorf("insert telemetry: %w", errStream(s))
		}
	}

	// One round trip for the batch. Windows do not overlap, so the segment
	// starting last at or before the event's time is the only candidate.
	var b pgx.Batch
	for _, e := range enc {
		ev := e.E
		b.Queue(`
WITH p AS (
	SELECT idx FROM segments WHERE stream_id = $4 AND wall_start <= $5 AND wall_end > $5
	ORDER BY wall_start DESC, idx DESC LIMIT 1)
INSERT INTO telemetry (source, id, kind, stream_id, time, source_time, received_at, subject, hr_bpm, rr_ms,
	experiment, arm, type, payload, payload_purged, segment, late)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, (SELECT idx FROM p), EXISTS (SELECT 1 FROM p))
ON CONFLICT (source, id) DO NOTHING
RETURNING segment, late`,
			ev.Source, ev.ID, string(ev.Kind), ev.StreamID, e.Time, e.SourceTime, e.Received,
			ev.Subject, ev.HeartRate, e.RR, ev.Experiment, ev.Arm, ev.Type, e.Payload, ev.PayloadPurged)
	}
	br := tx.SendBatch(ctx, &b)
	var dups []int
	for i, e := range enc {
		p := &out[i]
		err := br.QueryRow().Scan(&p.Segment, &p.Late)
		if errors.Is(err, pgx.ErrNoRows) {
			dups = append(dups, i)
			continue
		}
		if err != nil {
			_ = br.Close()
			return nil, fmt.Errorf("insert telemetry: event %s/%s: %w", e.E.Source, e.E.ID, err)
		}
	}
	if err = br.Close(); err != nil {
		return nil, fmt.Errorf("insert telemetry: %w", err)
	}
	// (source, id) was stored, earlier or by this batch: report where it
	// was placed then.
	for _, i := range dups {
		ev, p := enc[i].E, &out[i]
		p.Duplicate = true
		if err = tx.QueryRow(ctx, `SELECT segment, late FROM telemetry WHERE source = $1 AND id = $2`,
			ev.Source, ev.ID).Scan(&p.Segment, &p.Late); err != nil {
			return nil, fmt.Errorf("insert telemetry: event %s/%s: %w", ev.Source, ev.ID, err)
		}
	}
	if err = tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("insert telemetry: commit: %w", err)
	}
	return out, nil
}

// telemetryOrder is SQLite's order for the same rows: NULL times first,
// text in byte order.
const telemetryOrder = ` ORDER BY time NULLS FIRST, source COLLATE "C", id COLLATE "C"`

// Telemetry lists the events matching q by time, source and id.
func (d *DB) Telemetry(ctx context.Context, q model.TelemetryQuery) ([]model.TelemetryEvent, error) {
	where, args := rowcodec.TelemetryWhere(q, func(n int) string { return fmt.Sprintf("$%d", n) })
	var lim *int64 // LIMIT NULL: no limit
	if q.Limit > 0 {
		l := int64(q.Limit)
		lim = &l
	}
	args = append(args, lim)
	rows, err := d.pool.Query(ctx, `SELECT `+telemetryColumns+` FROM telemetry`+where+telemetryOrder+
		fmt.Sprintf(` LIMIT $%d`, len(args)), args...)
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
func segmentTelemetry(ctx context.Context, tx pgx.Tx, stream string, index int64, from, to time.Time) ([]model.TelemetryEvent, error) {
	rows, err := tx.Query(ctx, `SELECT `+telemetryColumns+` FROM telemetry
WHERE stream_id = $1 AND segment = $2 AND time >= $3 AND time < $4`+telemetryOrder,
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
func scanTelemetry(rows pgx.Rows) ([]model.TelemetryEvent, error) {
	defer rows.Close()
	return rowcodec.Collect(rows, rowcodec.ScanTelemetry)
}

// PurgeTelemetryPayloads drops the payloads of events received before
// cutoff; the events stay.
func (d *DB) PurgeTelemetryPayloads(ctx context.Context, cutoff time.Time) (int64, error) {
	tag, err := d.pool.Exec(ctx, `
UPDATE telemetry SET payload = NULL, payload_purged = TRUE
WHERE received_at < $1 AND payload IS NOT NULL`, rowcodec.UnixNS(cutoff))
	if err != nil {
		return 0, fmt.Errorf("purge telemetry payloads: %w", err)
	}
	return tag.RowsAffected(), nil
}

// ArmOutcomes lists experiment's placed stimulus markers with the reward of
// their segment: of the rows of its index whose window holds the marker,
// the one stored last.
func (d *DB) ArmOutcomes(ctx context.Context, experiment string) ([]model.ArmOutcome, error) {
	rows, err := d.pool.Query(ctx, `
SELECT t.arm, t.stream_id, t.segment, s.reward, t.time
FROM telemetry t JOIN segments s ON s.id = (
	SELECT id FROM segments
	WHERE stream_id = t.stream_id AND idx = t.segment AND wall_start <= t.time AND t.time < wall_end
	ORDER BY id DESC LIMIT 1)
WHERE t.kind = $1 AND t.experiment = $2
ORDER BY t.time NULLS FIRST, t.source COLLATE "C", t.id COLLATE "C"`, string(model.TelemetryStimulus), experiment)
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
