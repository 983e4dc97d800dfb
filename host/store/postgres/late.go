package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

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
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", e.Where, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	var segID, next, mediaStart int64
	var wallStart *int64
	err = tx.QueryRow(ctx, `SELECT id, wall_start, media_start_ns FROM segments
WHERE stream_id = $1 AND idx = $2 AND ($3 = '' OR run_id = $3) ORDER BY id DESC LIMIT 1`, streamID, index, runID).Scan(&segID, &wallStart, &mediaStart)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %s: %w", e.Where, segmentWhere(streamID, index, runID), store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", e.Where, err)
	}
	// The plugin row, locked: attaches to one segment's plugin run one
	// after the other, each reading the positions the one before wrote.
	var one int
	err = tx.QueryRow(ctx, `SELECT 1 FROM segment_plugins WHERE segment_id = $1 AND plugin = $2 FOR UPDATE`, segID, plugin).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: the segment has no plugin %q: %w", e.Where, plugin, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", e.Where, err)
	}
	if len(items) == 0 {
		return tx.Rollback(ctx)
	}
	tag, err := tx.Exec(ctx, `
INSERT INTO segment_late_batches (segment_id, plugin, batch, items, attached_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (segment_id, batch) DO NOTHING`, segID, plugin, e.Batch, len(items), time.Now().UnixNano())
	if err != nil {
		return fmt.Errorf("%s: %w", e.Where, err)
	}
	if tag.RowsAffected() == 0 {
		return tx.Rollback(ctx) // attached already: a retry
	}
	if err = tx.QueryRow(ctx, `SELECT COALESCE(MAX(seq) + 1, 0) FROM segment_items WHERE segment_id = $1 AND plugin = $2`,
		segID, plugin).Scan(&next); err != nil {
		return fmt.Errorf("%s: %w", e.Where, err)
	}
	var b pgx.Batch
	for i, it := range items {
		var payload *string // NULL: no payload
		if len(it.Payload) > 0 {
			s := string(it.Payload)
			payload = &s
		}
		b.Queue(`
INSERT INTO segment_items (segment_id, plugin, seq, pts_ns, duration_ns, fields, error, topic, text, payload, late)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, TRUE)`,
			segID, plugin, next+int64(i), int64(it.PTS), int64(it.Duration), e.Fields[i], it.Error, it.Topic, it.Text, payload)
	}
	queueObjects(&b, segID, streamID, plugin, wallStart, mediaStart, next, e.Objects)
	b.Queue(`UPDATE segment_plugins SET late_items = late_items + $1 WHERE segment_id = $2 AND plugin = $3`, len(items), segID, plugin)
	br := tx.SendBatch(ctx, &b)
	for i := range b.Len() {
		if _, err = br.Exec(); err != nil {
			_ = br.Close()
			if i < len(items) {
				return fmt.Errorf("%s: item %d: %w", e.Where, i, classify(err))
			}
			return fmt.Errorf("%s: %w", e.Where, err)
		}
	}
	if err = br.Close(); err != nil {
		return fmt.Errorf("%s: %w", e.Where, err)
	}
	if err = tx.Commit(ctx); err != nil {
		return fmt.Errorf("%s: commit: %w", e.Where, err)
	}
	return nil
}
