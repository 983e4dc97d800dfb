package postgres

import (
	"context"
	"fmt"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/store/internal/rowcodec"
)

// Sessions groups the stored segments by (stream, run), newest first.
func (d *DB) Sessions(ctx context.Context, streamID string) ([]model.Session, error) {
	// NULLS LAST and COLLATE "C": SQLite's order for the same rows.
	rows, err := d.pool.Query(ctx, `
SELECT run_id, stream_id, count(*), min(idx), max(idx), min(wall_start), max(wall_end)
FROM segments WHERE $1 = '' OR stream_id = $1
GROUP BY stream_id, run_id
ORDER BY min(wall_start) DESC NULLS LAST, stream_id COLLATE "C", run_id COLLATE "C"`, streamID)
	if err != nil {
		return nil, fmt.Errorf("sessions of %q: %w", streamID, err)
	}
	defer rows.Close()
	out, err := rowcodec.Collect(rows, rowcodec.ScanSession)
	if err != nil {
		return nil, fmt.Errorf("sessions of %q: %w", streamID, err)
	}
	return out, nil
}
