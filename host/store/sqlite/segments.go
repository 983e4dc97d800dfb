package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"modernc.org/sqlite"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/store"
	"github.com/lsie-mlf/lsie/host/store/internal/rowcodec"
)

// SaveSegment stores seg and its plugin results in one transaction, as
// runID's segment of that index: a window written by several runs keeps
// every run's row. A segment whose (stream, index, run) is stored already
// is not written again (nil: a retried save). In the same transaction the
// stream's unplaced events in [WallStart, WallEnd) are attached to it.
//
// Item fields and aggregates must be finite numbers: JSON has no NaN or
// infinity, and such a value fails the save with an error naming it (and
// wrapping store.ErrInvalid).
func (d *DB) SaveSegment(ctx context.Context, runID string, seg model.Segment) (err error) {
	e, err := rowcodec.EncodeSegment(runID, seg) // before taking any lock
	if err != nil {
		return err
	}
	where, reasons, plugins := e.Where, e.Reasons, e.Plugins
	// The write pool's single connection serialises this with
	// InsertTelemetry: an event is either seen here unplaced or finds this
	// segment stored.

	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if ok, err := streamExists(ctx, tx, seg.StreamID); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	} else if !ok {
		return fmt.Errorf("%s: %w", where, errStream(seg.StreamID))
	}
	var id int64
	err = tx.QueryRowContext(ctx, `
INSERT INTO segments (stream_id, idx, run_id, media_start_ns, media_end_ns, wall_start, wall_end,
	status, reasons, frames_seen, frames_dropped, closed_at, close_latency_ns, audio_seconds, audio_gap_seconds,
	analytics, reward)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (stream_id, idx, run_id) DO NOTHING
RETURNING id`,
		seg.StreamID, seg.Index, runID, int64(seg.MediaStart), int64(seg.MediaEnd),
		rowcodec.UnixNS(seg.WallStart), rowcodec.UnixNS(seg.WallEnd), string(seg.Status), reasons,
		seg.FramesSeen, seg.FramesDropped, rowcodec.UnixNS(seg.ClosedAt), int64(seg.CloseLatency), seg.AudioSeconds, seg.AudioGapSeconds,
		e.Analytics, e.Reward).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		// Stored already by this run (a retry): its events were placed
		// then, or found it since.
		return tx.Rollback()
	}
	if err != nil {
		return fmt.Errorf("%s: %w", where, classify(err))
	}
	if err = insertPlugins(ctx, tx, id, seg, plugins); err != nil {
		return fmt.Errorf("%s: %w", where, classify(err))
	}
	// A NULL bound (zero wall time) matches nothing.
	if _, err = tx.ExecContext(ctx, `
UPDATE telemetry SET segment = ?, late = 0
WHERE stream_id = ? AND segment IS NULL AND time >= ? AND time < ?`,
		seg.Index, seg.StreamID, rowcodec.UnixNS(seg.WallStart), rowcodec.UnixNS(seg.WallEnd)); err != nil {
		return fmt.Errorf("%s: place telemetry: %w", where, err)
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", where, err)
	}
	return nil
}

// sqliteTooBig is SQLITE_TOOBIG: a string or blob past the database's
// limit, which no retry stores.
const sqliteTooBig = 18

// classify marks an error the database raised because of the values being
// written (not of its state) as store.ErrInvalid.
func classify(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqliteTooBig {
		return rowcodec.Invalid(err)
	}
	return err
}

func insertPlugins(ctx context.Context, tx *sql.Tx, segID int64, seg model.Segment, plugins []rowcodec.Plugin) error {
	if len(plugins) == 0 {
		return nil
	}
	pst, err := tx.PrepareContext(ctx, `
INSERT INTO segment_plugins (segment_id, plugin, version, frames_analysed, frames_skipped, errors, aggregates,
	status, audio_seconds, audio_dropped_seconds, messages, text_dropped, late_items, objects, published, frames_gated)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer pst.Close()
	ist, err := tx.PrepareContext(ctx, `
INSERT INTO segment_items (segment_id, plugin, seq, pts_ns, duration_ns, fields, error, topic, text, payload, late)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer ist.Close()
	for _, e := range plugins {
		p := e.P
		if _, err := pst.ExecContext(ctx, segID, e.Name, p.Version, p.FramesAnalysed, p.FramesSkipped, p.Errors, e.Aggregates,
			p.Status, p.AudioSeconds, p.AudioDroppedSeconds, p.Messages, p.TextDropped, p.LateItems, e.Objects, p.Published, p.FramesGated); err != nil {
			return fmt.Errorf("plugin %q: %w", e.Name, err)
		}
		for i, it := range p.Items {
			if _, err := ist.ExecContext(ctx, segID, e.Name, i, int64(it.PTS), int64(it.Duration), e.Fields[i], it.Error,
				it.Topic, it.Text, string(it.Payload), it.Late); err != nil {
				return fmt.Errorf("plugin %q: item %d: %w", e.Name, i, err)
			}
		}
		if err := insertObjects(ctx, tx, segID, seg.StreamID, e.Name, rowcodec.UnixNS(seg.WallStart), int64(seg.MediaStart), 0, e.ObjectRows); err != nil {
			return fmt.Errorf("plugin %q: %w", e.Name, err)
		}
	}
	return nil
}

// insertObjects writes a plugin's object rows of one segment; base is the
// position of the rows' first item in the plugin's list.
func insertObjects(ctx context.Context, tx *sql.Tx, segID int64, streamID, plugin string, wallStart *int64, mediaStart, base int64, rows []rowcodec.ObjectRow) error {
	if len(rows) == 0 {
		return nil
	}
	st, err := tx.PrepareContext(ctx, `
INSERT INTO segment_objects (segment_id, plugin, stream_id, item_seq, pts_ns, duration_ns, wall_ns, label, score, track_id,
	x, y, w, h, attributes, keypoints, text, late)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer st.Close()
	for i, r := range rows {
		o := r.O
		if _, err := st.ExecContext(ctx, segID, plugin, streamID, base+r.ItemSeq, r.PTS, r.Duration,
			rowcodec.ObjectWall(wallStart, mediaStart, r.PTS), o.Label, o.Score, o.TrackID, o.X, o.Y, o.W, o.H,
			r.Attributes, r.Keypoints, o.Text, r.Late); err != nil {
			return fmt.Errorf("object %d: %w", i, classify(err))
		}
	}
	return nil
}

const segmentColumns = `id, stream_id, idx, run_id, media_start_ns, media_end_ns, wall_start, wall_end,
	status, reasons, frames_seen, frames_dropped, closed_at, close_latency_ns, audio_seconds, audio_gap_seconds,
	analytics`

// Segments lists a stream's segments from index since, every run's,
// ascending by index and then as stored, without items.
func (d *DB) Segments(ctx context.Context, streamID string, since int64, limit int) ([]model.Segment, error) {
	where := fmt.Sprintf("segments of %q since %d", streamID, since)
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	tx, err := d.readTx(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	defer func() { _ = tx.Rollback() }()
	if ok, err := streamExists(ctx, tx, streamID); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	} else if !ok {
		return nil, fmt.Errorf("segments: %w", errStream(streamID))
	}

	rows, err := tx.QueryContext(ctx, `SELECT `+segmentColumns+` FROM segments
WHERE stream_id = ? AND idx >= ? ORDER BY idx, id LIMIT ?`, streamID, since, limit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	segs, err := rowcodec.CollectSegments(rows)
	rows.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	out := segs.List
	if len(out) == 0 {
		return out, nil
	}

	// The same window as above, read in the same snapshot.
	rows, err = tx.QueryContext(ctx, `SELECT `+pluginColumns+` FROM segment_plugins
WHERE segment_id IN (SELECT id FROM segments WHERE stream_id = ? AND idx >= ? ORDER BY idx, id LIMIT ?)`,
		streamID, since, limit)
	if err != nil {
		return nil, fmt.Errorf("%s: plugins: %w", where, err)
	}
	defer rows.Close()
	if err := rowcodec.AttachPlugins(rows, segs.ByID); err != nil {
		return nil, fmt.Errorf("%s: plugins: %w", where, err)
	}
	return out, nil
}

// Segment returns one run's segment (runID "": the run stored last) with
// every plugin's items, its telemetry and its enrichment.
func (d *DB) Segment(ctx context.Context, streamID string, index int64, runID string) (*model.Segment, error) {
	where := segmentWhere(streamID, index, runID)
	tx, err := d.readTx(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	defer func() { _ = tx.Rollback() }()

	id, seg, err := rowcodec.ScanSegment(tx.QueryRowContext(ctx, `SELECT `+segmentColumns+` FROM segments
WHERE stream_id = ? AND idx = ? AND (? = '' OR run_id = ?) ORDER BY id DESC LIMIT 1`, streamID, index, runID, runID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%s: %w", where, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if err := readPlugins(ctx, tx, id, &seg); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if err := readItems(ctx, tx, id, &seg); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if seg.Telemetry, err = segmentTelemetry(ctx, tx, streamID, index, seg.WallStart, seg.WallEnd); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if seg.Enrichment, err = readEnrichment(ctx, tx, id); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return &seg, nil
}

// segmentWhere names a segment in errors: "segment STREAM/INDEX", and
// " run RUN" when one is asked for.
func segmentWhere(streamID string, index int64, runID string) string {
	if runID == "" {
		return fmt.Sprintf("segment %s/%d", streamID, index)
	}
	return fmt.Sprintf("segment %s/%d run %s", streamID, index, runID)
}

func readPlugins(ctx context.Context, tx *sql.Tx, segID int64, seg *model.Segment) error {
	rows, err := tx.QueryContext(ctx, `SELECT `+pluginColumns+` FROM segment_plugins WHERE segment_id = ?`, segID)
	if err != nil {
		return fmt.Errorf("plugins: %w", err)
	}
	defer rows.Close()
	if err := rowcodec.AttachPlugins(rows, func(int64) *model.Segment { return seg }); err != nil {
		return fmt.Errorf("plugins: %w", err)
	}
	return nil
}

func readItems(ctx context.Context, tx *sql.Tx, segID int64, seg *model.Segment) error {
	rows, err := tx.QueryContext(ctx, `
SELECT plugin, pts_ns, duration_ns, fields, error, topic, text, payload, late FROM segment_items
WHERE segment_id = ? ORDER BY plugin, seq`, segID)
	if err != nil {
		return fmt.Errorf("items: %w", err)
	}
	defer rows.Close()
	if err := rowcodec.AttachItems(rows, seg); err != nil {
		return fmt.Errorf("items: %w", err)
	}
	return nil
}

const pluginColumns = `segment_id, plugin, version, frames_analysed, frames_skipped, errors, aggregates,
	status, audio_seconds, audio_dropped_seconds, messages, text_dropped, late_items, objects, published, frames_gated`
