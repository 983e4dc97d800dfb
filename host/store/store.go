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
	// transaction. (stream, index) is unique: saving a segment whose index is
	// already stored replaces the earlier one entirely, because file sources
	// restart their time line at 0 on every host run, so a later run's
	// segment k covers the same window of the same media as an earlier run's
	// and is the one produced by the plugin versions in use now. runID names
	// the host run that produced it. ErrNotFound when the stream is unknown.
	// In the same transaction it attaches every unplaced telemetry event of
	// the stream whose Time lies in [WallStart, WallEnd) (not late), and
	// stores seg.Analytics. seg.Telemetry and seg.Enrichment are ignored;
	// a replaced segment keeps no enrichment from before.
	SaveSegment(ctx context.Context, runID string, seg model.Segment) error
	// Streams lists every stored stream, ordered by ID.
	Streams(ctx context.Context) ([]model.Stream, error)
	// Stream returns one stream; ErrNotFound when it is unknown.
	Stream(ctx context.Context, id string) (*model.Stream, error)
	// Segments lists up to limit segments of a stream with index >= since,
	// ascending by index (limit <= 0: no limit). Each plugin's counters and
	// aggregates and the segment's Analytics are included but its Items,
	// Telemetry and Enrichment are omitted (nil); use Segment for those.
	// ErrNotFound when the stream is unknown.
	Segments(ctx context.Context, streamID string, since int64, limit int) ([]model.Segment, error)
	// Segment returns one segment with everything: Items, Analytics, the
	// Telemetry placed in it and its Enrichment results (by kind);
	// ErrNotFound when the stream or the segment is unknown.
	Segment(ctx context.Context, streamID string, index int64) (*model.Segment, error)
	// PluginRuns lists the plugin runs recorded for a stream, oldest first;
	// ErrNotFound when the stream is unknown.
	PluginRuns(ctx context.Context, streamID string) ([]model.PluginRun, error)
	// Sessions lists the host runs of each stream that stored segments
	// (newest first by WallStart), with their span; streamID "" lists all.
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
	// ordered by Time.
	ArmOutcomes(ctx context.Context, experiment string) ([]model.ArmOutcome, error)

	// SaveEnrichment stores (replaces) the result of one enrichment job on
	// a stored segment; ErrNotFound when the segment is unknown.
	SaveEnrichment(ctx context.Context, streamID string, index int64, e model.Enrichment) error

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
