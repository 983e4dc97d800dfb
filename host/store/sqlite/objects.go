package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/store"
	"github.com/lsie-mlf/lsie/host/store/internal/rowcodec"
)

// Objects lists a stream's stored objects matching q, by wall time.
func (d *DB) Objects(ctx context.Context, q model.ObjectQuery) ([]model.ObjectRecord, error) {
	where := fmt.Sprintf("objects of %q", q.StreamID)
	tx, err := d.readTx(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	defer func() { _ = tx.Rollback() }()
	if ok, err := streamExists(ctx, tx, q.StreamID); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	} else if !ok {
		return nil, fmt.Errorf("%s: %w", where, errStream(q.StreamID))
	}
	segID := int64(-1) // every segment
	if q.Index != nil {
		err := tx.QueryRowContext(ctx, `SELECT id FROM segments
WHERE stream_id = ? AND idx = ? AND (? = '' OR run_id = ?) ORDER BY id DESC LIMIT 1`, q.StreamID, *q.Index, q.RunID, q.RunID).Scan(&segID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("%s: %w", segmentWhere(q.StreamID, *q.Index, q.RunID), store.ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
	}
	limit := q.Limit
	if limit <= 0 {
		limit = -1
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+rowcodec.ObjectColumns+`
FROM segment_objects o JOIN segments s ON s.id = o.segment_id
WHERE o.stream_id = ? AND (? = '' OR o.label = ?) AND (? = '' OR o.plugin = ?) AND (? = 0 OR o.track_id = ?)
	AND (? IS NULL OR o.wall_ns >= ?) AND (? IS NULL OR o.wall_ns < ?) AND (? < 0 OR o.segment_id = ?)
ORDER BY o.wall_ns, o.id LIMIT ?`,
		q.StreamID, q.Label, q.Label, q.Plugin, q.Plugin, q.TrackID, q.TrackID,
		rowcodec.UnixNS(q.From), rowcodec.UnixNS(q.From), rowcodec.UnixNS(q.To), rowcodec.UnixNS(q.To), segID, segID, limit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	defer rows.Close()
	out, err := rowcodec.Collect(rows, rowcodec.ScanObject)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return out, nil
}
