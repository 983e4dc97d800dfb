// Package store defines how the host persists streams, plugin runs and closed
// segments. Implementations live in subpackages (sqlite/, later postgres/);
// the rest of the host and the API depend only on the Store interface.
//
// Raw media is never stored: only the metadata and plugin results of a
// segment.
package store

import (
	"context"
	"errors"
	"net/url"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
)

// ErrNotFound is returned (possibly wrapped) when a stream or segment that a
// call names does not exist. Test for it with errors.Is.
var ErrNotFound = errors.New("not found")

// ErrInvalid is wrapped by every SaveSegment error caused by the segment
// itself, which will fail again however often it is retried (a non-finite
// number, invalid JSON, a missing id, text the database refuses): a caller
// that retries saves gives such a segment up instead. Test for it with
// errors.Is.
var ErrInvalid = errors.New("invalid")

// Store persists what the host produces. Implementations are safe for
// concurrent use by several goroutines.
type Store interface {
	// UpsertStream creates the stream or replaces every field of an existing
	// one with the same ID.
	UpsertStream(ctx context.Context, s model.Stream) error
	// SetStreamHealth updates the stored health and operator hint of a
	// stream; ErrNotFound when the stream is unknown.
	SetStreamHealth(ctx context.Context, id string, h model.Health, hint string) error
	// RecordPluginRun records the resolved version and binary sha256 of a
	// plugin used for a stream during one host run. Recording the same
	// (run, stream, plugin, sha256) again is a no-op; ErrNotFound when the
	// stream is unknown.
	RecordPluginRun(ctx context.Context, r model.PluginRun) error
	// SaveSegment stores a closed segment with all its plugin results in one
	// transaction. runID names the stream run that produced it (seg.RunID
	// is ignored). (stream, index, run) is unique, and nothing is ever
	// replaced or deleted by a save: a window written by two runs (a quick
	// restart, a reloaded stream, a file source replayed from 0) keeps both.
	// Saving a segment whose (stream, index, run) is stored already changes
	// nothing and returns nil, so a retry after an unknown outcome (a commit
	// whose reply was lost) neither duplicates nor fails. ErrNotFound when
	// the stream is unknown; an error wrapping ErrInvalid when the segment
	// itself cannot be stored (non-finite numbers, invalid JSON, missing
	// ids, text the database refuses), which a retry would meet again.
	// In the same transaction it attaches every unplaced telemetry event of
	// the stream whose Time lies in [WallStart, WallEnd) (not late), and
	// stores seg.Analytics. seg.Telemetry and seg.Enrichment are ignored.
	SaveSegment(ctx context.Context, runID string, seg model.Segment) error
	// Streams lists every stored stream, ordered by ID.
	Streams(ctx context.Context) ([]model.Stream, error)
	// Stream returns one stream; ErrNotFound when it is unknown.
	Stream(ctx context.Context, id string) (*model.Stream, error)
	// Segments lists up to limit stored segments of a stream with index >=
	// since, every run's: ascending by index, the runs of one index in the
	// order they were stored; limit counts segments (limit <= 0: no limit).
	// Each has its RunID, each plugin's counters and aggregates and its
	// Analytics, but its Items, Telemetry and Enrichment are omitted (nil);
	// use Segment for those. ErrNotFound when the stream is unknown.
	Segments(ctx context.Context, streamID string, since int64, limit int) ([]model.Segment, error)
	// Segment returns one segment with everything: Items, Analytics, the
	// Telemetry placed in it (the events placed at its index whose Time
	// lies in its window) and its Enrichment results (by kind). runID ""
	// means the run of that index stored last; otherwise that run's.
	// ErrNotFound when the stream or the segment is unknown.
	Segment(ctx context.Context, streamID string, index int64, runID string) (*model.Segment, error)
	// Objects lists a stream's stored objects matching q (model.ObjectQuery:
	// label, plugin, track, wall-time range, one segment), ordered by wall
	// time and then as stored; the objects SaveSegment and AttachLate wrote
	// from the items' Objects. ErrNotFound when the stream, or the segment
	// q names, is unknown.
	Objects(ctx context.Context, q model.ObjectQuery) ([]model.ObjectRecord, error)
	// PluginRuns lists the plugin runs recorded for a stream, oldest first;
	// ErrNotFound when the stream is unknown.
	PluginRuns(ctx context.Context, streamID string) ([]model.PluginRun, error)
	// Sessions lists the runs of each stream that stored segments (newest
	// first by WallStart), with their span; streamID "" lists all.
	Sessions(ctx context.Context, streamID string) ([]model.Session, error)

	// InsertTelemetry stores accepted webhook events, in one transaction,
	// and places each: an event whose (Source, ID) is stored already is a
	// duplicate and changes nothing; otherwise, when a stored segment of
	// its stream holds its Time (WallStart <= Time < WallEnd), it is
	// attached to that segment as late; else it waits, unplaced, for
	// SaveSegment. The result has one placement per event, in order.
	// ErrNotFound (naming the stream) when an event's stream is unknown:
	// then nothing is stored.
	InsertTelemetry(ctx context.Context, evs []model.TelemetryEvent) ([]model.TelemetryPlacement, error)
	// Telemetry lists stored events matching q, ordered by Time, Source, ID.
	Telemetry(ctx context.Context, q model.TelemetryQuery) ([]model.TelemetryEvent, error)
	// PurgeTelemetryPayloads removes the Payload of every event received
	// before cutoff (setting PayloadPurged) and returns how many it purged;
	// the events themselves stay, so placement, physiology and experiment
	// outcomes survive.
	PurgeTelemetryPayloads(ctx context.Context, cutoff time.Time) (int64, error)
	// ArmOutcomes lists, for every stimulus marker of experiment that is
	// placed in a segment, the arm and that segment's analytics reward,
	// ordered by Time: one outcome per marker, with the reward of the run
	// of its index stored last among those whose window holds the marker.
	ArmOutcomes(ctx context.Context, experiment string) ([]model.ArmOutcome, error)

	// SaveEnrichment stores (replaces) the result of one enrichment job on
	// a stored segment: runID's row of that index, or with runID "" the run
	// stored last; ErrNotFound when the segment is unknown.
	SaveEnrichment(ctx context.Context, streamID string, index int64, runID string, e model.Enrichment) error

	// AttachLate appends items that plugin produced for a segment after it
	// had closed (a live plugin lagging past max_close_delay) to runID's
	// stored row of that index (runID "": the run stored last). Each is
	// stored marked Late, after the plugin's items in the segment (their
	// position continues), and the plugin row's LateItems grows by
	// len(items); the aggregates and other counters are not recomputed. A
	// batch is known by its content (plugin and items): attaching the same
	// batch to the same segment again changes nothing and returns nil, so a
	// retry after an unknown outcome neither duplicates nor fails.
	// ErrNotFound when the segment, or its row for plugin, is unknown; an
	// error wrapping ErrInvalid when an item cannot be stored (non-finite
	// numbers, invalid JSON payload, text the database refuses). No items:
	// nothing to attach (nil, once the segment and plugin are found).
	AttachLate(ctx context.Context, streamID string, index int64, runID string, plugin string, items []model.Item) error

	// StartRun records the start of a stream run (r's RunID, StreamID and
	// StartedAt; the rest is ignored); recording the same RunID again is a
	// no-op. ErrNotFound when the stream is unknown.
	StartRun(ctx context.Context, r model.StreamRun) error
	// EndRun marks a run ended at `at` (not zero) with reason; ending an
	// ended run again changes nothing and returns nil. ErrNotFound when the
	// run is unknown.
	EndRun(ctx context.Context, runID string, at time.Time, reason string) error
	// OpenRuns lists every run not ended yet, oldest first, with its
	// stored-segment summary fields filled.
	OpenRuns(ctx context.Context) ([]model.StreamRun, error)
	// Runs lists a stream's runs, newest first, with the summary fields
	// filled; ErrNotFound when the stream is unknown.
	Runs(ctx context.Context, streamID string) ([]model.StreamRun, error)
	// MarkRunLost, in one transaction, ends run g.RunID (EndedAt =
	// g.WallFrom, not zero; EndReason = g.Reason) if it is still open and
	// stores the gap g, of the run's stream. Calling it again for an
	// already-ended run stores nothing and returns nil (idempotent).
	// ErrNotFound when the run is unknown.
	MarkRunLost(ctx context.Context, g model.Gap) error
	// RecordGap stores a gap not tied to ending a run (g.RunID may be set
	// or ""). ErrNotFound when the stream is unknown.
	RecordGap(ctx context.Context, g model.Gap) error
	// Gaps lists a stream's gaps ordered by WallFrom, then as recorded;
	// ErrNotFound when the stream is unknown.
	Gaps(ctx context.Context, streamID string) ([]model.Gap, error)

	// PutDesiredStream creates or replaces (every field of) the desired
	// stream with d.ID. A desired stream needs no stored stream.
	PutDesiredStream(ctx context.Context, d model.DesiredStream) error
	// DeleteDesiredStream removes it; deleting an unknown id is a no-op
	// returning nil.
	DeleteDesiredStream(ctx context.Context, id string) error
	// DesiredStreams lists them ordered by AddedAt, then ID; Spec comes back
	// byte for byte (nil when empty).
	DesiredStreams(ctx context.Context) ([]model.DesiredStream, error)

	// PutAlert stores an alert when it opens and again when it ends (same
	// ID: the end is written).
	PutAlert(ctx context.Context, a model.Alert) error
	// Alerts lists stored alerts (model.AlertQuery).
	Alerts(ctx context.Context, q model.AlertQuery) ([]model.Alert, error)

	// PutRule creates or replaces a rule added through the API;
	// DeleteRule removes one (none is no error); StoredRules lists them
	// by name.
	PutRule(ctx context.Context, r model.StoredRule) error
	DeleteRule(ctx context.Context, name string) error
	StoredRules(ctx context.Context) ([]model.StoredRule, error)

	// Close releases the store. Calling it again is a no-op.
	Close() error
}

// RedactDSN returns a database URL with the password of a URL replaced by "xxxxx", for
// logs and errors. A string that is not a URL is reduced to "(connection
// string)": a key=value form may hold password=... anywhere.
func RedactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "(connection string)"
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
