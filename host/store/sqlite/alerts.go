package sqlite

import (
	"context"
	"fmt"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/store/internal/rowcodec"
)

// PutAlert stores an alert, or its end: one row per alert id.
func (d *DB) PutAlert(ctx context.Context, a model.Alert) error {
	e, err := rowcodec.EncodeAlert(a)
	if err != nil {
		return err
	}
	if _, err := d.w.ExecContext(ctx, `
INSERT INTO alerts (`+rowcodec.AlertColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET end_ns = excluded.end_ns, wall_end = excluded.wall_end`,
		a.ID, a.Rule, a.StreamID, a.Severity, a.Message, int64(a.Start), int64(a.Fired), e.End, e.WallStart, e.WallEnd,
		e.Values, e.TrackIDs); err != nil {
		return fmt.Errorf("put alert %q: %w", a.ID, err)
	}
	return nil
}

// Alerts lists alerts by wall start, then id.
func (d *DB) Alerts(ctx context.Context, q model.AlertQuery) ([]model.Alert, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = -1
	}
	rows, err := d.r.QueryContext(ctx, `SELECT `+rowcodec.AlertColumns+` FROM alerts
WHERE (? = '' OR stream_id = ?) AND (? = '' OR rule = ?) AND (? IS NULL OR wall_start >= ?) AND (? IS NULL OR wall_start < ?)
ORDER BY wall_start, id LIMIT ?`,
		q.StreamID, q.StreamID, q.Rule, q.Rule, rowcodec.UnixNS(q.From), rowcodec.UnixNS(q.From),
		rowcodec.UnixNS(q.To), rowcodec.UnixNS(q.To), limit)
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	defer rows.Close()
	out, err := rowcodec.Collect(rows, rowcodec.ScanAlert)
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	return out, nil
}
