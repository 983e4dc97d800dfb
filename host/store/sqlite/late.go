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

// AttachLate appends a batch of late items of plugin to a stored segment
// (runID's row of index, or the one stored last when runID is ""), marked
// late, after the plugin's items; a batch attached already (same content)
// is not attached again.
func (d *DB) AttachLate(ctx context.Context, streamID string, index int64, runID, plugin string, items []model.Item) (err error) {
	e, err := rowcodec.EncodeLate(streamID, index, runID, plugin, items) // before taking any lock
	if err != nil {
		return err
	}
	tx, err := d.w.BeginTx(ctx, nil) // the write pool's one connection: attaches are serialised
	if err != nil {
		return fmt.Errorf("%s: %w", e.Where, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var segID, next, mediaStart int64
	var wallStart *int64
	err = tx.QueryRowContext(ctx, `SELECT id, wall_start, media_start_ns FROM segments
WHERE stream_id = ? AND idx = ? AND (? = '' OR run_id = ?) ORDER BY id DESC LIMIT 1`, streamID, index, runID, runID).Scan(&segID, &wallStart, &mediaStart)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %s: %w", e.Where, segmentWhere(streamID, index, runID), store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", e.Where, err)
	}
	err = tx.QueryRowContext(ctx, `SELECT (SELECT COALESCE(MAX(seq) + 1, 0) FROM segment_items WHERE segment_id = ? AND plugin = ?)
FROM segment_plugins WHERE segment_id = ? AND plugin = ?`, segID, plugin, segID, plugin).Scan(&next)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: the segment has no plugin %q: %w", e.Where, plugin, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", e.Where, err)
	}
	if len(items) == 0 {
		return tx.Rollback()
	}
	res, err := tx.ExecContext(ctx, `
INSERT INTO segment_late_batches (segment_id, plugin, batch, items, attached_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (segment_id, batch) DO NOTHING`, segID, plugin, e.Batch, len(items), time.Now().UnixNano())
	if err != nil {
		return fmt.Errorf("%s: %w", e.Where, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("%s: %w", e.Where, err)
	} else if n == 0 {
		return tx.Rollback() // attached already: a retry
	}
	ist, err := tx.PrepareContext(ctx, `
INSERT INTO segment_items (segment_id, plugin, seq, pts_ns, duration_ns, fields, error, topic, text, payload, late)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`)
	if err != nil {
		return fmt.Errorf("%s: %w", e.Where, err)
	}
	defer ist.Close()
	for i, it := range items {
		if _, err = ist.ExecContext(ctx, segID, plugin, next+int64(i), int64(it.PTS), int64(it.Duration), e.Fields[i], it.Error,
			it.Topic, it.Text, string(it.Payload)); err != nil {
			return fmt.Errorf("%s: item %d: %w", e.Where, i, classify(err))
		}
	}
	if err = insertObjects(ctx, tx, segID, streamID, plugin, wallStart, mediaStart, next, e.Objects); err != nil {
		return fmt.Errorf("%s: %w", e.Where, err)
	}
	if _, err = tx.ExecContext(ctx, `UPDATE segment_plugins SET late_items = late_items + ? WHERE segment_id = ? AND plugin = ?`,
		len(items), segID, plugin); err != nil {
		return fmt.Errorf("%s: %w", e.Where, err)
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", e.Where, err)
	}
	return nil
}
