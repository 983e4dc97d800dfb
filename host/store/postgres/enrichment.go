package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/store"
	"github.com/lsie-mlf/lsie/host/store/internal/rowcodec"
)

// SaveEnrichment stores or replaces one job's result on a stored segment:
// runID's row of that index, or the one stored last when runID is "".
// Results belong to that row; another run's row of the index has its own.
func (d *DB) SaveEnrichment(ctx context.Context, streamID string, index int64, runID string, e model.Enrichment) error {
	enc, err := rowcodec.EncodeEnrichment(streamID, index, e)
	if err != nil {
		return err
	}
	// Casts: parameters in a SELECT list get no type from the target.
	tag, err := d.pool.Exec(ctx, `
INSERT INTO segment_enrichment (segment_id, kind, status, result, error, attempts, finished_at)
SELECT id, $1::text, $2::text, $3::json, $4::text, $5::bigint, $6::bigint FROM segments WHERE id = (
	SELECT id FROM segments WHERE stream_id = $7 AND idx = $8 AND ($9 = '' OR run_id = $9) ORDER BY id DESC LIMIT 1)
ON CONFLICT (segment_id, kind) DO UPDATE SET
	status = excluded.status, result = excluded.result, error = excluded.error,
	attempts = excluded.attempts, finished_at = excluded.finished_at`,
		e.Kind, e.Status, enc.Result, e.Error, e.Attempts, enc.At, streamID, index, runID)
	if err != nil {
		return fmt.Errorf("%s: %w", enc.Where, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s: %s: %w", enc.Where, segmentWhere(streamID, index, runID), store.ErrNotFound)
	}
	return nil
}

// readEnrichment lists a segment row's results by kind; nil when none.
func readEnrichment(ctx context.Context, tx pgx.Tx, segID int64) ([]model.Enrichment, error) {
	rows, err := tx.Query(ctx, `
SELECT kind, status, result::text, error, attempts, finished_at FROM segment_enrichment
WHERE segment_id = $1 ORDER BY kind COLLATE "C"`, segID)
	if err != nil {
		return nil, fmt.Errorf("enrichment: %w", err)
	}
	defer rows.Close()
	out, err := rowcodec.Collect(rows, rowcodec.ScanEnrichment)
	if err != nil {
		return nil, fmt.Errorf("enrichment: %w", err)
	}
	if len(out) == 0 {
		out = nil // none: nil, as Segment returns it
	}
	return out, nil
}
