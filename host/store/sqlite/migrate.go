package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
)

// ErrSchemaNewer is returned by Open when the database was migrated by a
// newer build than this one: its schema may hold data this code would
// misread or lose, so it is not touched.
var ErrSchemaNewer = errors.New("database schema is newer than this build supports")

// migration is one step of the schema. Versions start at 1 and increase by
// one; a released migration is never edited, only followed by a new one.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations is the schema's history, oldest first.
//
// Times are unix nanoseconds in UTC (NULL for the zero time), durations are
// nanoseconds. Small structured values (reasons, plugin lists, item fields,
// aggregates) are JSON text: they are always read whole with their row and
// never filtered on in SQL. Raw media is never stored.
var migrations = []migration{
	{version: 1, name: "initial schema", sql: `
CREATE TABLE streams (
	id         TEXT PRIMARY KEY,
	source     TEXT NOT NULL,
	health     TEXT NOT NULL,
	hint       TEXT NOT NULL DEFAULT '',
	plugins    TEXT NOT NULL,            -- JSON array of plugin names
	started_at INTEGER                   -- unix ns
);

CREATE TABLE plugin_runs (
	run_id    TEXT NOT NULL,
	stream_id TEXT NOT NULL REFERENCES streams(id) ON DELETE CASCADE,
	plugin    TEXT NOT NULL,
	version   TEXT NOT NULL,
	sha256    TEXT NOT NULL,
	path      TEXT NOT NULL,
	started   INTEGER,                   -- unix ns
	PRIMARY KEY (run_id, stream_id, plugin, sha256)
);
CREATE INDEX plugin_runs_by_stream ON plugin_runs (stream_id, started);

CREATE TABLE segments (
	id               INTEGER PRIMARY KEY,
	stream_id        TEXT NOT NULL REFERENCES streams(id) ON DELETE CASCADE,
	idx              INTEGER NOT NULL,
	run_id           TEXT NOT NULL,
	media_start_ns   INTEGER NOT NULL,
	media_end_ns     INTEGER NOT NULL,
	wall_start       INTEGER,            -- unix ns
	wall_end         INTEGER,            -- unix ns
	status           TEXT NOT NULL,
	reasons          TEXT NOT NULL,      -- JSON array or null
	frames_seen      INTEGER NOT NULL,
	frames_dropped   INTEGER NOT NULL,
	closed_at        INTEGER,            -- unix ns
	close_latency_ns INTEGER NOT NULL,
	UNIQUE (stream_id, idx)              -- also the index for since/limit reads
);
CREATE INDEX segments_by_run ON segments (run_id);

CREATE TABLE segment_plugins (
	segment_id      INTEGER NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
	plugin          TEXT NOT NULL,
	version         TEXT NOT NULL,
	frames_analysed INTEGER NOT NULL,
	frames_skipped  INTEGER NOT NULL,
	errors          INTEGER NOT NULL,
	aggregates      TEXT NOT NULL,       -- JSON object field -> Aggregate, or null
	PRIMARY KEY (segment_id, plugin)
) WITHOUT ROWID;

CREATE TABLE segment_items (
	segment_id  INTEGER NOT NULL,
	plugin      TEXT NOT NULL,
	seq         INTEGER NOT NULL,        -- position in the plugin's item list
	pts_ns      INTEGER NOT NULL,
	duration_ns INTEGER NOT NULL,
	fields      TEXT NOT NULL,           -- JSON object field -> number, or null
	error       TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (segment_id, plugin, seq),
	FOREIGN KEY (segment_id, plugin) REFERENCES segment_plugins(segment_id, plugin) ON DELETE CASCADE
) WITHOUT ROWID;
`},
	{version: 2, name: "audio seconds, gaps and plugin status", sql: `
ALTER TABLE segments ADD COLUMN audio_seconds REAL NOT NULL DEFAULT 0;
ALTER TABLE segments ADD COLUMN audio_gap_seconds REAL NOT NULL DEFAULT 0;
ALTER TABLE segment_plugins ADD COLUMN status TEXT NOT NULL DEFAULT '';
ALTER TABLE segment_plugins ADD COLUMN audio_seconds REAL NOT NULL DEFAULT 0;
ALTER TABLE segment_plugins ADD COLUMN audio_dropped_seconds REAL NOT NULL DEFAULT 0;
`},
	{version: 3, name: "plugin graph: topic messages and their delivery counts", sql: `
ALTER TABLE segment_plugins ADD COLUMN messages INTEGER NOT NULL DEFAULT 0;
ALTER TABLE segment_plugins ADD COLUMN text_dropped INTEGER NOT NULL DEFAULT 0;
ALTER TABLE segment_items ADD COLUMN topic TEXT NOT NULL DEFAULT '';
ALTER TABLE segment_items ADD COLUMN text TEXT NOT NULL DEFAULT '';
ALTER TABLE segment_items ADD COLUMN payload TEXT NOT NULL DEFAULT '';  -- JSON, or ''
`},
	{version: 4, name: "telemetry, segment analytics and enrichment", sql: `
ALTER TABLE segments ADD COLUMN analytics TEXT NOT NULL DEFAULT 'null';  -- JSON SegmentAnalytics, or null
ALTER TABLE segments ADD COLUMN reward REAL;  -- analytics.reward, joined on by experiments
-- Placement looks up the segment whose window holds an event's time.
CREATE INDEX segments_by_wall ON segments (stream_id, wall_start);

-- Events stay attached by (stream_id, segment index), not by segment row:
-- a segment replaced by a later run keeps the events of its window.
CREATE TABLE telemetry (
	source         TEXT NOT NULL,
	id             TEXT NOT NULL,
	kind           TEXT NOT NULL,
	stream_id      TEXT NOT NULL REFERENCES streams(id) ON DELETE CASCADE,
	time           INTEGER,              -- unix ns, host clock
	source_time    INTEGER,              -- unix ns
	received_at    INTEGER,              -- unix ns
	subject        TEXT NOT NULL DEFAULT '',
	hr_bpm         REAL,
	rr_ms          TEXT NOT NULL DEFAULT 'null',  -- JSON array, or null
	experiment     TEXT NOT NULL DEFAULT '',
	arm            TEXT NOT NULL DEFAULT '',
	type           TEXT NOT NULL DEFAULT '',
	payload        TEXT,                 -- JSON as received; NULL when none or purged
	payload_purged INTEGER NOT NULL DEFAULT 0,
	segment        INTEGER,              -- segment index; NULL while unplaced
	late           INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (source, id)
);
CREATE INDEX telemetry_by_time ON telemetry (stream_id, time);
CREATE INDEX telemetry_by_segment ON telemetry (stream_id, segment);
CREATE INDEX telemetry_by_experiment ON telemetry (kind, experiment);
CREATE INDEX telemetry_by_received ON telemetry (received_at);

-- Results belong to one stored segment row: replacing it drops them.
CREATE TABLE segment_enrichment (
	segment_id  INTEGER NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
	kind        TEXT NOT NULL,
	status      TEXT NOT NULL,
	result      TEXT,                    -- JSON as the job wrote it; NULL when none
	error       TEXT NOT NULL DEFAULT '',
	attempts    INTEGER NOT NULL,
	finished_at INTEGER,                 -- unix ns
	PRIMARY KEY (segment_id, kind)
) WITHOUT ROWID;
`},
	// SQLite cannot drop a table constraint: segments is rebuilt with
	// UNIQUE (stream_id, idx, run_id), its rows keeping their ids, so the
	// plugin rows, items and enrichment that reference them stay attached.
	// migrate turns foreign keys off around the transaction, or dropping the
	// old table would delete them all (ON DELETE CASCADE), and checks them
	// before committing.
	{version: 5, name: "every run's segments kept, stream runs, gaps and desired streams", sql: `
CREATE TABLE segments_v5 (
	id                INTEGER PRIMARY KEY,
	stream_id         TEXT NOT NULL REFERENCES streams(id) ON DELETE CASCADE,
	idx               INTEGER NOT NULL,
	run_id            TEXT NOT NULL,       -- the stream run that stored it
	media_start_ns    INTEGER NOT NULL,
	media_end_ns      INTEGER NOT NULL,
	wall_start        INTEGER,             -- unix ns
	wall_end          INTEGER,             -- unix ns
	status            TEXT NOT NULL,
	reasons           TEXT NOT NULL,       -- JSON array or null
	frames_seen       INTEGER NOT NULL,
	frames_dropped    INTEGER NOT NULL,
	closed_at         INTEGER,             -- unix ns
	close_latency_ns  INTEGER NOT NULL,
	audio_seconds     REAL NOT NULL DEFAULT 0,
	audio_gap_seconds REAL NOT NULL DEFAULT 0,
	analytics         TEXT NOT NULL DEFAULT 'null',  -- JSON SegmentAnalytics, or null
	reward            REAL,                -- analytics.reward, joined on by experiments
	UNIQUE (stream_id, idx, run_id)        -- also the index for since/limit reads
);
INSERT INTO segments_v5 (id, stream_id, idx, run_id, media_start_ns, media_end_ns, wall_start, wall_end,
	status, reasons, frames_seen, frames_dropped, closed_at, close_latency_ns, audio_seconds, audio_gap_seconds,
	analytics, reward)
SELECT id, stream_id, idx, run_id, media_start_ns, media_end_ns, wall_start, wall_end,
	status, reasons, frames_seen, frames_dropped, closed_at, close_latency_ns, audio_seconds, audio_gap_seconds,
	analytics, reward
FROM segments;
DROP TABLE segments;
ALTER TABLE segments_v5 RENAME TO segments;
-- A run's segments by index: its summary (count, last index).
CREATE INDEX segments_by_run ON segments (run_id, idx);
CREATE INDEX segments_by_wall ON segments (stream_id, wall_start);

-- One row per start of a stream; ended_at is NULL while the run is open.
CREATE TABLE stream_runs (
	run_id     TEXT PRIMARY KEY,
	stream_id  TEXT NOT NULL REFERENCES streams(id) ON DELETE CASCADE,
	started_at INTEGER,                    -- unix ns
	ended_at   INTEGER,                    -- unix ns; NULL while open
	end_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX stream_runs_by_stream ON stream_runs (stream_id, started_at);
CREATE INDEX stream_runs_open ON stream_runs (started_at) WHERE ended_at IS NULL;

-- Windows of a stream nothing was stored for (a host killed mid-run).
CREATE TABLE gaps (
	id            INTEGER PRIMARY KEY,
	stream_id     TEXT NOT NULL REFERENCES streams(id) ON DELETE CASCADE,
	run_id        TEXT NOT NULL DEFAULT '',  -- the run it cut short, or ''
	wall_from     INTEGER,                 -- unix ns
	wall_to       INTEGER,                 -- unix ns
	media_from_ns INTEGER NOT NULL,
	reason        TEXT NOT NULL,
	recorded_at   INTEGER                  -- unix ns
);
CREATE INDEX gaps_by_stream ON gaps (stream_id, wall_from);

-- Streams added through the API, run again after a restart. Not tied to
-- streams: one may be desired before its stream row exists.
CREATE TABLE desired_streams (
	id       TEXT PRIMARY KEY,
	spec     BLOB NOT NULL,                -- the JSON as received, byte for byte
	base_dir TEXT NOT NULL,
	added_at INTEGER                       -- unix ns
);
`},
	{version: 6, name: "late items attached to their closed segment", sql: `
-- An item that arrived after its segment closed, attached afterwards
-- (AttachLate): seq continues after the segment's own items.
ALTER TABLE segment_items ADD COLUMN late INTEGER NOT NULL DEFAULT 0;
ALTER TABLE segment_plugins ADD COLUMN late_items INTEGER NOT NULL DEFAULT 0;

-- The batches attached to each segment row, by content id: attaching a
-- batch again (a retry after an unknown outcome) finds it and adds nothing.
CREATE TABLE segment_late_batches (
	segment_id  INTEGER NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
	plugin      TEXT NOT NULL,
	batch       TEXT NOT NULL,               -- sha256 of the plugin and the items' JSON
	items       INTEGER NOT NULL,
	attached_at INTEGER,                     -- unix ns
	PRIMARY KEY (segment_id, batch)
) WITHOUT ROWID;
`},
	{version: 7, name: "objects: one row per object, per-segment object stats; published messages", sql: `
-- A plugin's per-segment object summary (model.ObjectStats), "null" when it
-- reported none.
ALTER TABLE segment_plugins ADD COLUMN objects TEXT NOT NULL DEFAULT 'null';
-- Messages the plugin published in the window (PluginSegment.Published).
ALTER TABLE segment_plugins ADD COLUMN published INTEGER NOT NULL DEFAULT 0;

-- One row per object a plugin reported (model.ObjectRecord). wall_ns is the
-- segment's wall start plus the item's offset, so objects are asked for by
-- time; stream_id is copied from the segment for the same reason.
CREATE TABLE segment_objects (
	id          INTEGER PRIMARY KEY,
	segment_id  INTEGER NOT NULL,
	plugin      TEXT NOT NULL,
	stream_id   TEXT NOT NULL,
	item_seq    INTEGER NOT NULL,        -- the item's position in the plugin's list
	pts_ns      INTEGER NOT NULL,
	duration_ns INTEGER NOT NULL,
	wall_ns     INTEGER,                 -- unix ns; NULL when the segment has no wall time
	label       TEXT NOT NULL,
	score       REAL NOT NULL,
	track_id    INTEGER NOT NULL,        -- 0: not tracked
	x REAL NOT NULL, y REAL NOT NULL, w REAL NOT NULL, h REAL NOT NULL,
	attributes  TEXT NOT NULL,           -- JSON object name -> number, or null
	keypoints   TEXT NOT NULL,           -- JSON array, or null
	text        TEXT NOT NULL DEFAULT '',
	late        INTEGER NOT NULL DEFAULT 0,
	FOREIGN KEY (segment_id, plugin) REFERENCES segment_plugins(segment_id, plugin) ON DELETE CASCADE
);
CREATE INDEX segment_objects_time ON segment_objects (stream_id, wall_ns);
CREATE INDEX segment_objects_label ON segment_objects (stream_id, label, wall_ns);
CREATE INDEX segment_objects_segment ON segment_objects (segment_id);
`},
	{version: 8, name: "motion gating: frames a plugin's gate held back", sql: `
-- Analysis frames not sent to the plugin because nothing moved
-- (PluginSegment.FramesGated); not a loss.
ALTER TABLE segment_plugins ADD COLUMN frames_gated INTEGER NOT NULL DEFAULT 0;
`},
	{version: 9, name: "alerts raised by rules", sql: `
-- One row per alert (model.Alert); its end is written when the condition
-- stops holding. Not tied to a stream row: an alert outlives its stream.
CREATE TABLE alerts (
	id           TEXT PRIMARY KEY,
	rule         TEXT NOT NULL,
	stream_id    TEXT NOT NULL,
	severity     TEXT NOT NULL,
	message      TEXT NOT NULL,
	start_ns     INTEGER NOT NULL,   -- media time
	fired_ns     INTEGER NOT NULL,
	end_ns       INTEGER,            -- NULL while open
	wall_start   INTEGER,            -- unix ns; NULL when the stream had no anchor
	wall_end     INTEGER,
	alert_values TEXT NOT NULL,      -- JSON object
	track_ids    TEXT NOT NULL       -- JSON array, or null
);
CREATE INDEX alerts_stream ON alerts (stream_id, wall_start);
CREATE INDEX alerts_rule ON alerts (rule, wall_start);
`},
	{version: 10, name: "rules added through the API", sql: `
CREATE TABLE api_rules (
	name     TEXT PRIMARY KEY,
	spec     BLOB NOT NULL,      -- the JSON as received
	added_at INTEGER             -- unix ns
);
`},
}

// migrate brings the schema of db up to the last version in list, applying
// every pending step in one transaction: either all apply or none. A
// database already at that version is left untouched; one past it fails with
// ErrSchemaNewer.
func migrate(ctx context.Context, db *sql.DB, list []migration, log hclog.Logger) (err error) {
	for i, m := range list {
		if m.version != i+1 {
			return fmt.Errorf("migration %d (%q) out of order: want version %d", m.version, m.name, i+1)
		}
	}
	latest := len(list)

	// One connection for the pragmas and the transaction between them:
	// foreign_keys is per connection, and a no-op inside a transaction.
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	// A step may rebuild a table that others reference (SQLite cannot
	// alter a constraint): with foreign keys on, dropping the old table
	// would delete every referencing row. They are off while migrating,
	// checked before commit, and back on (as they were) after.
	var fk int
	if err = conn.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk); err != nil {
		return fmt.Errorf("migrate: read foreign_keys: %w", err)
	}
	if fk != 0 {
		if _, err = conn.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
			return fmt.Errorf("migrate: foreign keys off: %w", err)
		}
		defer func() {
			if _, ferr := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA foreign_keys = ON`); ferr != nil {
				// Never hand the pool a connection without them.
				_ = conn.Raw(func(any) error { return driver.ErrBadConn })
				err = errors.Join(err, fmt.Errorf("migrate: foreign keys back on: %w", ferr))
			}
		}()
	}

	// The write pool begins IMMEDIATE: a second process opening the same
	// file waits here instead of migrating at the same time.
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if _, err = tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at INTEGER NOT NULL -- unix ns
)`); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	var current int
	if err = tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("migrate: read version: %w", err)
	}
	if current > latest {
		return fmt.Errorf("schema version %d, this build knows up to %d: %w (use a newer lsie, or another database file)",
			current, latest, ErrSchemaNewer)
	}
	if current == latest {
		return tx.Rollback()
	}
	for _, m := range list[current:] {
		if _, err = tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("migrate to version %d (%s): %w", m.version, m.name, err)
		}
		if _, err = tx.ExecContext(ctx,
			`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.version, m.name, time.Now().UnixNano()); err != nil {
			return fmt.Errorf("migrate to version %d (%s): %w", m.version, m.name, err)
		}
	}
	if err = foreignKeyCheck(ctx, tx); err != nil {
		return fmt.Errorf("migrate to version %d: %w", latest, err)
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	log.Info("sqlite schema migrated", "from", current, "to", latest)
	return nil
}

// foreignKeyCheck fails when a row references a missing parent: what
// foreign keys, off while migrating, would have refused.
func foreignKeyCheck(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `PRAGMA foreign_key_check`)
	if err != nil {
		return fmt.Errorf("foreign key check: %w", err)
	}
	defer rows.Close()
	var bad []string
	for rows.Next() {
		var (
			table, parent string
			rowid         *int64
			fkid          int64
		)
		if err := rows.Scan(&table, &rowid, &parent, &fkid); err != nil {
			return fmt.Errorf("foreign key check: %w", err)
		}
		if len(bad) < 5 {
			r := "?"
			if rowid != nil {
				r = fmt.Sprint(*rowid)
			}
			bad = append(bad, fmt.Sprintf("%s row %s references a missing %s", table, r, parent))
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("foreign key check: %w", err)
	}
	if len(bad) > 0 {
		return fmt.Errorf("foreign key check: %s", strings.Join(bad, "; "))
	}
	return nil
}
