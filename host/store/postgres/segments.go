package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

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
// wrapping store.ErrInvalid, as do the data errors of the server: text
// holding NUL, for one).
func (d *DB) SaveSegment(ctx context.Context, runID string, seg model.Segment) (err error) {
	e, err := rowcodec.EncodeSegment(runID, seg) // before taking any lock
	if err != nil {
		return err
	}
	where, reasons, plugins := e.Where, e.Reasons, e.Plugins

	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	// The stream's advisory lock, also taken by InsertTelemetry, keeps an
	// event from being stored unplaced while this save, unseen by it,
	// commits the segment that holds it (READ COMMITTED). Taken first:
	// InsertTelemetry takes it before anything else too. It also makes
	// two saves of one segment (a retry racing the first) one after the
	// other: the second finds the first's row and does nothing.
	if err = lockStreams(ctx, tx, []string{seg.StreamID}); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	// KEY SHARE, as the foreign key's check takes it: the stream cannot be
	// deleted under the save, and other saves are not blocked.
	var one int
	err = tx.QueryRow(ctx, `SELECT 1 FROM streams WHERE id = $1 FOR KEY SHARE`, seg.StreamID).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", where, errStream(seg.StreamID))
	}
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	var id int64
	err = tx.QueryRow(ctx, `
INSERT INTO segments (stream_id, idx, run_id, media_start_ns, media_end_ns, wall_start, wall_end,
	status, reasons, frames_seen, frames_dropped, closed_at, close_latency_ns, audio_seconds, audio_gap_seconds,
	analytics, reward)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
ON CONFLICT (stream_id, idx, run_id) DO NOTHING
RETURNING id`,
		seg.StreamID, seg.Index, runID, int64(seg.MediaStart), int64(seg.MediaEnd),
		rowcodec.UnixNS(seg.WallStart), rowcodec.UnixNS(seg.WallEnd), string(seg.Status), reasons,
		seg.FramesSeen, seg.FramesDropped, rowcodec.UnixNS(seg.ClosedAt), int64(seg.CloseLatency), seg.AudioSeconds, seg.AudioGapSeconds,
		e.Analytics, e.Reward,
	).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		// Stored already by this run (a retry): its events were placed
		// then, or found it since.
		return tx.Rollback(ctx)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", where, classify(err))
	}
	if err = insertPlugins(ctx, tx, id, seg, plugins); err != nil {
		return fmt.Errorf("%s: %w", where, classify(err))
	}
	// A NULL bound (zero wall time) matches nothing.
	if _, err = tx.Exec(ctx, `
UPDATE telemetry SET segment = $1, late = FALSE
WHERE stream_id = $2 AND segment IS NULL AND time >= $3 AND time < $4`,
		seg.Index, seg.StreamID, rowcodec.UnixNS(seg.WallStart), rowcodec.UnixNS(seg.WallEnd)); err != nil {
		return fmt.Errorf("%s: place telemetry: %w", where, err)
	}
	if err = tx.Commit(ctx); err != nil {
		return fmt.Errorf("%s: commit: %w", where, err)
	}
	return nil
}

// classify marks an error the server raised because of the values being
// written, not of its state, as store.ErrInvalid: class 22 (data
// exception: NUL in text, \u0000 in jsonb, invalid UTF-8, a number out of
// range) and 54 (program limit exceeded: a value too large to index).
func classify(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (strings.HasPrefix(pe.Code, "22") || strings.HasPrefix(pe.Code, "54")) {
		return rowcodec.Invalid(err)
	}
	return err
}

// insertPlugins writes every plugin row and item row in one batch: one
// round trip instead of one per row.
func insertPlugins(ctx context.Context, tx pgx.Tx, segID int64, seg model.Segment, plugins []rowcodec.Plugin) error {
	if len(plugins) == 0 {
		return nil
	}
	var (
		b     pgx.Batch
		label []string // what each queued statement writes, for errors
	)
	for _, e := range plugins {
		p := e.P
		b.Queue(`
INSERT INTO segment_plugins (segment_id, plugin, version, frames_analysed, frames_skipped, errors, aggregates,
	status, audio_seconds, audio_dropped_seconds, messages, text_dropped, late_items, objects, published, frames_gated)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
			segID, e.Name, p.Version, p.FramesAnalysed, p.FramesSkipped, p.Errors, e.Aggregates,
			p.Status, p.AudioSeconds, p.AudioDroppedSeconds, p.Messages, p.TextDropped, p.LateItems, e.Objects, p.Published, p.FramesGated)
		label = append(label, fmt.Sprintf("plugin %q", e.Name))
		for i, it := range p.Items {
			var payload *string // NULL: no payload
			if len(it.Payload) > 0 {
				s := string(it.Payload)
				payload = &s
			}
			b.Queue(`
INSERT INTO segment_items (segment_id, plugin, seq, pts_ns, duration_ns, fields, error, topic, text, payload, late)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
				segID, e.Name, i, int64(it.PTS), int64(it.Duration), e.Fields[i], it.Error, it.Topic, it.Text, payload, it.Late)
			label = append(label, fmt.Sprintf("plugin %q: item %d", e.Name, i))
		}
		for i := range queueObjects(&b, segID, seg.StreamID, e.Name, rowcodec.UnixNS(seg.WallStart), int64(seg.MediaStart), 0, e.ObjectRows) {
			label = append(label, fmt.Sprintf("plugin %q: object %d", e.Name, i))
		}
	}
	br := tx.SendBatch(ctx, &b)
	for _, l := range label {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return fmt.Errorf("%s: %w", l, err)
		}
	}
	return br.Close()
}

// queueObjects queues the inserts of a plugin's object rows of one segment
// (base: the position of the rows' first item in the plugin's list) and
// returns how many it queued.
func queueObjects(b *pgx.Batch, segID int64, streamID, plugin string, wallStart *int64, mediaStart, base int64, rows []rowcodec.ObjectRow) int {
	for _, r := range rows {
		o := r.O
		b.Queue(`
INSERT INTO segment_objects (segment_id, plugin, stream_id, item_seq, pts_ns, duration_ns, wall_ns, label, score, track_id,
	x, y, w, h, attributes, keypoints, text, late)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
			segID, plugin, streamID, base+r.ItemSeq, r.PTS, r.Duration, rowcodec.ObjectWall(wallStart, mediaStart, r.PTS),
			o.Label, o.Score, o.TrackID, o.X, o.Y, o.W, o.H, r.Attributes, r.Keypoints, o.Text, r.Late)
	}
	return len(rows)
}

const segmentColumns = `id, stream_id, idx, run_id, media_start_ns, media_end_ns, wall_start, wall_end,
	status, reasons::text, frames_seen, frames_dropped, closed_at, close_latency_ns, audio_seconds, audio_gap_seconds,
	analytics::text`

// Segments lists a stream's segments from index since, every run's,
// ascending by index and then as stored, without items.
func (d *DB) Segments(ctx context.Context, streamID string, since int64, limit int) ([]model.Segment, error) {
	where := fmt.Sprintf("segments of %q since %d", streamID, since)
	var lim *int64 // LIMIT NULL: no limit
	if limit > 0 {
		l := int64(limit)
		lim = &l
	}
	tx, err := d.readTx(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if ok, err := streamExists(ctx, tx, streamID); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	} else if !ok {
		return nil, fmt.Errorf("segments: %w", errStream(streamID))
	}

	rows, err := tx.Query(ctx, `SELECT `+segmentColumns+` FROM segments
WHERE stream_id = $1 AND idx >= $2 ORDER BY idx, id LIMIT $3`, streamID, since, lim)
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

	rows, err = tx.Query(ctx, `SELECT `+pluginColumns+` FROM segment_plugins WHERE segment_id = ANY($1)`, segs.IDs())
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
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	id, seg, err := rowcodec.ScanSegment(tx.QueryRow(ctx, `SELECT `+segmentColumns+` FROM segments
WHERE stream_id = $1 AND idx = $2 AND ($3 = '' OR run_id = $3) ORDER BY id DESC LIMIT 1`, streamID, index, runID))
	if errors.Is(err, pgx.ErrNoRows) {
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

func readPlugins(ctx context.Context, tx pgx.Tx, segID int64, seg *model.Segment) error {
	rows, err := tx.Query(ctx, `SELECT `+pluginColumns+` FROM segment_plugins WHERE segment_id = $1`, segID)
	if err != nil {
		return fmt.Errorf("plugins: %w", err)
	}
	defer rows.Close()
	if err := rowcodec.AttachPlugins(rows, func(int64) *model.Segment { return seg }); err != nil {
		return fmt.Errorf("plugins: %w", err)
	}
	return nil
}

func readItems(ctx context.Context, tx pgx.Tx, segID int64, seg *model.Segment) error {
	// payload::text is the json column's text exactly as stored.
	rows, err := tx.Query(ctx, `
SELECT plugin, pts_ns, duration_ns, fields::text, error, topic, text, payload::text, late FROM segment_items
WHERE segment_id = $1 ORDER BY plugin, seq`, segID)
	if err != nil {
		return fmt.Errorf("items: %w", err)
	}
	defer rows.Close()
	if err := rowcodec.AttachItems(rows, seg); err != nil {
		return fmt.Errorf("items: %w", err)
	}
	return nil
}

const pluginColumns = `segment_id, plugin, version, frames_analysed, frames_skipped, errors, aggregates::text,
	status, audio_seconds, audio_dropped_seconds, messages, text_dropped, late_items, objects::text, published, frames_gated`
