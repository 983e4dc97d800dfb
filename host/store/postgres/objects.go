package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

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
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if ok, err := streamExists(ctx, tx, q.StreamID); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	} else if !ok {
		return nil, fmt.Errorf("%s: %w", where, errStream(q.StreamID))
	}
	segID := int64(-1) // every segment
	if q.Index != nil {
		err := tx.QueryRow(ctx, `SELECT id FROM segments
WHERE stream_id = $1 AND idx = $2 AND ($3 = '' OR run_id = $3) ORDER BY id DESC LIMIT 1`, q.StreamID, *q.Index, q.RunID).Scan(&segID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("%s: %w", segmentWhere(q.StreamID, *q.Index, q.RunID), store.ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
	}
	var limit *int
	if q.Limit > 0 {
		limit = &q.Limit
	}
	rows, err := tx.Query(ctx, `SELECT `+objectColumns+`
FROM segment_objects o JOIN segments s ON s.id = o.segment_id
WHERE o.stream_id = $1 AND ($2 = '' OR o.label = $2) AND ($3 = '' OR o.plugin = $3) AND ($4::bigint = 0 OR o.track_id = $4)
	AND ($5::bigint IS NULL OR o.wall_ns >= $5) AND ($6::bigint IS NULL OR o.wall_ns < $6) AND ($7::bigint < 0 OR o.segment_id = $7)
ORDER BY o.wall_ns, o.id LIMIT $8`,
		q.StreamID, q.Label, q.Plugin, q.TrackID, rowcodec.UnixNS(q.From), rowcodec.UnixNS(q.To), segID, limit)
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

// objectColumns is rowcodec.ObjectColumns with the JSON columns as text.
const objectColumns = `s.stream_id, s.idx, s.run_id, o.plugin, o.pts_ns, o.duration_ns, o.wall_ns, o.label, o.score,
	o.track_id, o.x, o.y, o.w, o.h, o.attributes::text, o.keypoints::text, o.text, o.late`
