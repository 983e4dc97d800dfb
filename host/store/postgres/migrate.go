package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrSchemaNewer is returned by Open when the database was migrated by a
// newer build than this one: its schema may hold data this code would
// misread or lose, so it is not touched.
var ErrSchemaNewer = errors.New("database schema is newer than this build supports")

// migrateLock is the key of the transaction-scoped advisory lock taken while
// migrating, so that two hosts opening one database at once migrate one
// after the other instead of racing on CREATE TABLE.
const migrateLock = 0x6c736965 // "lsie"

// migration is one step of the schema. Versions start at 1 and increase by
// one; a released migration is never edited, only followed by a new one.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations is the schema's history, oldest first. Version 1 is the
// SQLite schema at its version 3: PostgreSQL support started there.
//
// Times are unix nanoseconds in UTC (NULL for the zero time), durations are
// nanoseconds: timestamptz keeps only microseconds, and times must
// round-trip exactly. Small structured values (reasons, plugin lists, item
// fields, aggregates) are jsonb: always read whole with their row. An item's
// payload is json, not jsonb, so it comes back byte for byte as the plugin
// wrote it (NULL when there is none). Raw media is never stored.
var migrations = []migration{
	{version: 1, name: "initial schema", sql: `
CREATE TABLE streams (
	id         TEXT PRIMARY KEY,
	source     TEXT NOT NULL,
	health     TEXT NOT NULL,
	hint       TEXT NOT NULL DEFAULT '',
	plugins    JSONB NOT NULL,
	started_at BIGINT
);

CREATE TABLE plugin_runs (
	run_id    TEXT NOT NULL,
	stream_id TEXT NOT NULL REFERENCES streams(id) ON DELETE CASCADE,
	plugin    TEXT NOT NULL,
	version   TEXT NOT NULL,
	sha256    TEXT NOT NULL,
	path      TEXT NOT NULL,
	started   BIGINT,
	PRIMARY KEY (run_id, stream_id, plugin, sha256)
);
CREATE INDEX plugin_runs_by_stream ON plugin_runs (stream_id, started);

CREATE TABLE segments (
	id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	stream_id         TEXT NOT NULL REFERENCES streams(id) ON DELETE CASCADE,
	idx               BIGINT NOT NULL,
	run_id            TEXT NOT NULL,
	media_start_ns    BIGINT NOT NULL,
	media_end_ns      BIGINT NOT NULL,
	wall_start        BIGINT,
	wall_end          BIGINT,
	status            TEXT NOT NULL,
	reasons           JSONB NOT NULL,
	frames_seen       BIGINT NOT NULL,
	frames_dropped    BIGINT NOT NULL,
	closed_at         BIGINT,
	close_latency_ns  BIGINT NOT NULL,
	audio_seconds     DOUBLE PRECISION NOT NULL DEFAULT 0,
	audio_gap_seconds DOUBLE PRECISION NOT NULL DEFAULT 0,
	UNIQUE (stream_id, idx)
);
CREATE INDEX segments_by_run ON segments (run_id);

CREATE TABLE segment_plugins (
	segment_id            BIGINT NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
	plugin                TEXT NOT NULL,
	version               TEXT NOT NULL,
	frames_analysed       BIGINT NOT NULL,
	frames_skipped        BIGINT NOT NULL,
	errors                BIGINT NOT NULL,
	aggregates            JSONB NOT NULL,
	status                TEXT NOT NULL DEFAULT '',
	audio_seconds         DOUBLE PRECISION NOT NULL DEFAULT 0,
	audio_dropped_seconds DOUBLE PRECISION NOT NULL DEFAULT 0,
	messages              BIGINT NOT NULL DEFAULT 0,
	text_dropped          BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (segment_id, plugin)
);

CREATE TABLE segment_items (
	segment_id  BIGINT NOT NULL,
	plugin      TEXT NOT NULL,
	seq         BIGINT NOT NULL,
	pts_ns      BIGINT NOT NULL,
	duration_ns BIGINT NOT NULL,
	fields      JSONB NOT NULL,
	error       TEXT NOT NULL DEFAULT '',
	topic       TEXT NOT NULL DEFAULT '',
	text        TEXT NOT NULL DEFAULT '',
	payload     JSON,
	PRIMARY KEY (segment_id, plugin, seq),
	FOREIGN KEY (segment_id, plugin) REFERENCES segment_plugins(segment_id, plugin) ON DELETE CASCADE
);
`},
	// SQLite's version 4. Payloads and enrichment results are json, kept
	// byte for byte as received; the analytics and RR lists are jsonb.
	{version: 2, name: "telemetry, segment analytics and enrichment", sql: `
ALTER TABLE segments ADD COLUMN analytics JSONB NOT NULL DEFAULT 'null';
ALTER TABLE segments ADD COLUMN reward DOUBLE PRECISION;  -- analytics.reward, joined on by experiments
-- Placement looks up the segment whose window holds an event's time.
CREATE INDEX segments_by_wall ON segments (stream_id, wall_start);

-- Events stay attached by (stream_id, segment index), not by segment row:
-- a segment replaced by a later run keeps the events of its window.
CREATE TABLE telemetry (
	source         TEXT NOT NULL,
	id             TEXT NOT NULL,
	kind           TEXT NOT NULL,
	stream_id      TEXT NOT NULL REFERENCES streams(id) ON DELETE CASCADE,
	time           BIGINT,
	source_time    BIGINT,
	received_at    BIGINT,
	subject        TEXT NOT NULL DEFAULT '',
	hr_bpm         DOUBLE PRECISION,
	rr_ms          JSONB NOT NULL DEFAULT 'null',
	experiment     TEXT NOT NULL DEFAULT '',
	arm            TEXT NOT NULL DEFAULT '',
	type           TEXT NOT NULL DEFAULT '',
	payload        JSON,  -- NULL when none or purged
	payload_purged BOOLEAN NOT NULL DEFAULT FALSE,
	segment        BIGINT,  -- segment index; NULL while unplaced
	late           BOOLEAN NOT NULL DEFAULT FALSE,
	PRIMARY KEY (source, id)
);
CREATE INDEX telemetry_by_time ON telemetry (stream_id, time);
CREATE INDEX telemetry_by_segment ON telemetry (stream_id, segment);
CREATE INDEX telemetry_by_experiment ON telemetry (kind, experiment);
CREATE INDEX telemetry_by_received ON telemetry (received_at);

-- Results belong to one stored segment row: replacing it drops them.
CREATE TABLE segment_enrichment (
	segment_id  BIGINT NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
	kind        TEXT NOT NULL,
	status      TEXT NOT NULL,
	result      JSON,  -- NULL when none
	error       TEXT NOT NULL DEFAULT '',
	attempts    BIGINT NOT NULL,
	finished_at BIGINT,
	PRIMARY KEY (segment_id, kind)
);
`},
	// SQLite's version 5. segments_stream_id_idx_key is the name
	// PostgreSQL gave version 1's UNIQUE (stream_id, idx).
	{version: 3, name: "every run's segments kept, stream runs, gaps and desired streams", sql: `
ALTER TABLE segments DROP CONSTRAINT segments_stream_id_idx_key;
ALTER TABLE segments ADD CONSTRAINT segments_stream_id_idx_run_id_key UNIQUE (stream_id, idx, run_id);
-- A run's segments by index: its summary (count, last index).
DROP INDEX segments_by_run;
CREATE INDEX segments_by_run ON segments (run_id, idx);

-- One row per start of a stream; ended_at is NULL while the run is open.
CREATE TABLE stream_runs (
	run_id     TEXT PRIMARY KEY,
	stream_id  TEXT NOT NULL REFERENCES streams(id) ON DELETE CASCADE,
	started_at BIGINT,
	ended_at   BIGINT,  -- NULL while open
	end_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX stream_runs_by_stream ON stream_runs (stream_id, started_at);
CREATE INDEX stream_runs_open ON stream_runs (started_at) WHERE ended_at IS NULL;

-- Windows of a stream nothing was stored for (a host killed mid-run).
CREATE TABLE gaps (
	id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	stream_id     TEXT NOT NULL REFERENCES streams(id) ON DELETE CASCADE,
	run_id        TEXT NOT NULL DEFAULT '',  -- the run it cut short, or ''
	wall_from     BIGINT,
	wall_to       BIGINT,
	media_from_ns BIGINT NOT NULL,
	reason        TEXT NOT NULL,
	recorded_at   BIGINT
);
CREATE INDEX gaps_by_stream ON gaps (stream_id, wall_from);

-- Streams added through the API, run again after a restart. Not tied to
-- streams: one may be desired before its stream row exists.
CREATE TABLE desired_streams (
	id       TEXT PRIMARY KEY,
	spec     BYTEA NOT NULL,  -- the JSON as received, byte for byte
	base_dir TEXT NOT NULL,
	added_at BIGINT
);
`},
	// SQLite's version 6.
	{version: 4, name: "late items attached to their closed segment", sql: `
-- An item that arrived after its segment closed, attached afterwards
-- (AttachLate): seq continues after the segment's own items.
ALTER TABLE segment_items ADD COLUMN late BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE segment_plugins ADD COLUMN late_items BIGINT NOT NULL DEFAULT 0;

-- The batches attached to each segment row, by content id: attaching a
-- batch again (a retry after an unknown outcome) finds it and adds nothing.
CREATE TABLE segment_late_batches (
	segment_id  BIGINT NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
	plugin      TEXT NOT NULL,
	batch       TEXT NOT NULL,  -- sha256 of the plugin and the items' JSON
	items       BIGINT NOT NULL,
	attached_at BIGINT,
	PRIMARY KEY (segment_id, batch)
);
`},
	{version: 5, name: "objects: one row per object, per-segment object stats; published messages", sql: `
-- A plugin's per-segment object summary (model.ObjectStats), null when it
-- reported none.
ALTER TABLE segment_plugins ADD COLUMN objects JSONB NOT NULL DEFAULT 'null';
-- Messages the plugin published in the window (PluginSegment.Published).
ALTER TABLE segment_plugins ADD COLUMN published BIGINT NOT NULL DEFAULT 0;

-- One row per object a plugin reported (model.ObjectRecord). wall_ns is the
-- segment's wall start plus the item's offset, so objects are asked for by
-- time; stream_id is copied from the segment for the same reason.
CREATE TABLE segment_objects (
	id          BIGSERIAL PRIMARY KEY,
	segment_id  BIGINT NOT NULL,
	plugin      TEXT NOT NULL,
	stream_id   TEXT NOT NULL,
	item_seq    BIGINT NOT NULL,
	pts_ns      BIGINT NOT NULL,
	duration_ns BIGINT NOT NULL,
	wall_ns     BIGINT,
	label       TEXT NOT NULL,
	score       DOUBLE PRECISION NOT NULL,
	track_id    BIGINT NOT NULL,
	x DOUBLE PRECISION NOT NULL, y DOUBLE PRECISION NOT NULL,
	w DOUBLE PRECISION NOT NULL, h DOUBLE PRECISION NOT NULL,
	attributes  JSONB NOT NULL,
	keypoints   JSONB NOT NULL,
	text        TEXT NOT NULL DEFAULT '',
	late        BOOLEAN NOT NULL DEFAULT FALSE,
	FOREIGN KEY (segment_id, plugin) REFERENCES segment_plugins(segment_id, plugin) ON DELETE CASCADE
);
CREATE INDEX segment_objects_time ON segment_objects (stream_id, wall_ns);
CREATE INDEX segment_objects_label ON segment_objects (stream_id, label, wall_ns);
CREATE INDEX segment_objects_segment ON segment_objects (segment_id);
`},
	{version: 6, name: "motion gating: frames a plugin's gate held back", sql: `
-- Analysis frames not sent to the plugin because nothing moved
-- (PluginSegment.FramesGated); not a loss.
ALTER TABLE segment_plugins ADD COLUMN frames_gated BIGINT NOT NULL DEFAULT 0;
`},
	{version: 7, name: "alerts raised by rules", sql: `
-- One row per alert (model.Alert); its end is written when the condition
-- stops holding. Not tied to a stream row: an alert outlives its stream.
CREATE TABLE alerts (
	id           TEXT PRIMARY KEY,
	rule         TEXT NOT NULL,
	stream_id    TEXT NOT NULL,
	severity     TEXT NOT NULL,
	message      TEXT NOT NULL,
	start_ns     BIGINT NOT NULL,
	fired_ns     BIGINT NOT NULL,
	end_ns       BIGINT,
	wall_start   BIGINT,
	wall_end     BIGINT,
	alert_values JSONB NOT NULL,
	track_ids    JSONB NOT NULL
);
CREATE INDEX alerts_stream ON alerts (stream_id, wall_start);
CREATE INDEX alerts_rule ON alerts (rule, wall_start);
`},
	{version: 8, name: "rules added through the API", sql: `
CREATE TABLE api_rules (
	name     TEXT PRIMARY KEY,
	spec     BYTEA NOT NULL,
	added_at BIGINT
);
`},
}

// migrate brings the schema up to the last version in list, applying every
// pending step in one transaction: either all apply or none (PostgreSQL's
// DDL is transactional). A database already at that version is left
// untouched; one past it fails with ErrSchemaNewer.
func migrate(ctx context.Context, pool *pgxpool.Pool, list []migration, log hclog.Logger) (err error) {
	for i, m := range list {
		if m.version != i+1 {
			return fmt.Errorf("migration %d (%q) out of order: want version %d", m.version, m.name, i+1)
		}
	}
	latest := len(list)

	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if _, err = tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrateLock)); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	if _, err = tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at BIGINT NOT NULL -- unix ns
)`); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	var current int
	if err = tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("migrate: read version: %w", err)
	}
	if current > latest {
		return fmt.Errorf("schema version %d, this build knows up to %d: %w (use a newer lsie, or another database)",
			current, latest, ErrSchemaNewer)
	}
	if current == latest {
		return tx.Rollback(ctx)
	}
	for _, m := range list[current:] {
		// Simple protocol: a step is several statements, which the
		// extended protocol refuses. Steps are constants, never input.
		if _, err = tx.Exec(ctx, m.sql, pgx.QueryExecModeSimpleProtocol); err != nil {
			return fmt.Errorf("migrate to version %d (%s): %w", m.version, m.name, err)
		}
		if _, err = tx.Exec(ctx,
			`INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
			m.version, m.name, time.Now().UnixNano()); err != nil {
			return fmt.Errorf("migrate to version %d (%s): %w", m.version, m.name, err)
		}
	}
	if err = tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	log.Info("postgres schema migrated", "from", current, "to", latest)
	return nil
}
