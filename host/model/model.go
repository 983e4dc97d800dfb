// Package model holds the plain data types that several host packages share
// (segment assembly, storage, API). It is a leaf: it imports nothing from host/.
package model

import (
	"encoding/json"
	"time"
)

// Health is the coarse state of a stream, plugin, store or the host.
type Health string

// Health states. "ok" is the normal state; the others carry a hint.
const (
	HealthOK         Health = "ok"
	HealthStarting   Health = "starting"
	HealthDegraded   Health = "degraded"
	HealthRecovering Health = "recovering"
	HealthError      Health = "error"
	HealthEnded      Health = "ended"
)

// SegmentStatus says whether a segment saw everything it should have.
type SegmentStatus string

// Segment statuses.
const (
	SegmentComplete SegmentStatus = "complete"
	SegmentPartial  SegmentStatus = "partial"
)

// Partial reasons recorded on a segment. Several may apply at once.
const (
	ReasonPluginLag   = "plugin_lag"
	ReasonSourceStall = "source_stall"
	ReasonEndOfStream = "end_of_stream"
	ReasonShutdown    = "shutdown"
	ReasonDropped     = "frames_dropped"
	ReasonSourceError = "source_error"
	ReasonAudioGap    = "audio_gap"
	ReasonRemoved     = "stream_removed"
	// ReasonHostRestarted ends a run (and names the gap) that a host which
	// died without closing it left open: found by the next host's start.
	ReasonHostRestarted = "host_restarted"
	// ReasonTextDropped: a consumer's bound of undelivered topic events
	// (transcript finals) overflowed, or it gave up; PluginSegment.TextDropped
	// counts them.
	ReasonTextDropped = "text_dropped"
)

// PluginNoAudio is a PluginSegment.Status: the plugin needs audio and the
// stream has none.
const PluginNoAudio = "no_audio"

// PluginNoVideo is a PluginSegment.Status: the plugin takes video and the
// stream has none (an audio-only source).
const PluginNoVideo = "no_video"

// Stream is a configured input as the store and API see it.
type Stream struct {
	ID        string    `json:"id"`
	Source    string    `json:"source"`
	Health    Health    `json:"health"`
	Hint      string    `json:"hint,omitempty"`
	Plugins   []string  `json:"plugins"`
	StartedAt time.Time `json:"started_at"`
}

// PluginRun identifies the exact plugin binary that produced results for a
// stream during one host run: the resolved version and the binary's sha256.
type PluginRun struct {
	RunID    string    `json:"run_id"`
	StreamID string    `json:"stream_id"`
	Plugin   string    `json:"plugin"`
	Version  string    `json:"version"`
	SHA256   string    `json:"sha256"`
	Path     string    `json:"path"`
	Started  time.Time `json:"started"`
}

// Item is one per-frame (or per-hop) result of a plugin.
type Item struct {
	// PTS is the start of the covered range on the stream's media time line.
	PTS time.Duration `json:"pts_ns"`
	// Duration of the covered range; zero for an instant (a video frame).
	Duration time.Duration      `json:"duration_ns"`
	Fields   map[string]float64 `json:"fields"`
	// Error is set when the plugin reported an error for this item (errors are data).
	Error string `json:"error,omitempty"`
	// Topic, Text and Payload are set on a message the plugin published to
	// other plugins (transcript.final@1): its topic, text and topic-defined
	// JSON payload.
	Topic   string          `json:"topic,omitempty"`
	Text    string          `json:"text,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
	// Late marks an item that arrived after its segment had closed (a live
	// plugin lagging past max_close_delay): attached to the stored segment
	// afterwards (Store.AttachLate), not counted in its aggregates.
	Late bool `json:"late,omitempty"`
	// Objects the plugin reported with this item (a frame's detections, a
	// chunk's speaker turn). The stores keep them as object rows
	// (ObjectRecord), not inside the item: Store.Segment returns items
	// without them, Store.Objects returns them.
	Objects []Object `json:"objects,omitempty"`
}

// Object is one thing a plugin saw or heard (sdk.Object): a box
// normalised to the frame (X, Y top left, W, H size, all 0..1), a label the
// plugin's manifest declares, a score in 0..1, a track id stable within the
// stream (0: not tracked), numeric attributes, text and keypoints.
type Object struct {
	Label      string             `json:"label"`
	Score      float64            `json:"score"`
	TrackID    int64              `json:"track_id,omitempty"`
	X          float64            `json:"x"`
	Y          float64            `json:"y"`
	W          float64            `json:"w"`
	H          float64            `json:"h"`
	Attributes map[string]float64 `json:"attributes,omitempty"`
	Keypoints  []Keypoint         `json:"keypoints,omitempty"`
	Text       string             `json:"text,omitempty"`
}

// Keypoint is a named point of an object, normalised like its box.
type Keypoint struct {
	Name  string  `json:"name"`
	X     float64 `json:"x"`
	Y     float64 `json:"y"`
	Score float64 `json:"score,omitempty"`
}

// ObjectRecord is a stored object: where and when it was seen, and by
// which plugin. Wall is the segment's WallStart plus the item's offset from
// MediaStart, so objects can be asked for by wall-clock time.
type ObjectRecord struct {
	StreamID string        `json:"stream_id"`
	RunID    string        `json:"run_id"`
	Index    int64         `json:"segment_index"`
	Plugin   string        `json:"plugin"`
	PTS      time.Duration `json:"pts_ns"`
	Duration time.Duration `json:"duration_ns,omitempty"`
	Wall     time.Time     `json:"time"`
	Late     bool          `json:"late,omitempty"`
	Object   Object        `json:"object"`
}

// StoredRule is a rule added through the API: its JSON as received.
type StoredRule struct {
	Name    string    `json:"name"`
	Spec    []byte    `json:"-"`
	AddedAt time.Time `json:"added_at"`
}

// AlertQuery selects stored alerts. Zero members match everything;
// From/To bound WallStart (From <= WallStart < To). Limit <= 0 means no
// limit; the order is WallStart, then ID.
type AlertQuery struct {
	StreamID string
	Rule     string
	From, To time.Time
	Limit    int
}

// ObjectQuery selects stored objects of one stream. Zero members match
// everything; From/To bound Wall (From <= Wall < To). Index, when not
// nil, keeps one segment (of RunID, or with RunID "" the run of that index
// stored last). Limit <= 0 means no limit; the order is Wall, then as
// stored.
type ObjectQuery struct {
	StreamID string
	Label    string
	Plugin   string
	TrackID  int64
	From, To time.Time
	Index    *int64
	RunID    string
	Limit    int
}

// ObjectStats summarise one plugin's objects over a segment.
type ObjectStats struct {
	// Labels by label: how many were reported and how.
	Labels map[string]LabelStats `json:"labels"`
	// Tracks lists every tracked object seen in the segment (TrackID != 0),
	// ordered by label, then track id.
	Tracks []TrackStats `json:"tracks,omitempty"`
}

// LabelStats summarise one label's objects over a segment.
type LabelStats struct {
	// Detections counts objects; Items the frames (or chunks) with at
	// least one; MaxSimultaneous the most in one frame.
	Detections      int `json:"detections"`
	Items           int `json:"items"`
	MaxSimultaneous int `json:"max_simultaneous"`
	// Tracks counts distinct track ids (0 not counted).
	Tracks    int     `json:"tracks"`
	MeanScore float64 `json:"mean_score"`
}

// TrackStats is one track within a segment: first and last sighting (media
// time) and the dwell between them, in seconds.
type TrackStats struct {
	TrackID    int64         `json:"track_id"`
	Label      string        `json:"label"`
	First      time.Duration `json:"first_pts_ns"`
	Last       time.Duration `json:"last_pts_ns"`
	Detections int           `json:"detections"`
	Dwell      float64       `json:"dwell_seconds"`
}

// Aggregate summarises one numeric field of one plugin over a segment: the
// eGeMAPS functionals (mean, coefficient of variation, percentiles 20/50/80,
// rising/falling slopes) and a few more (docs/ARCHITECTURE.md, Contract 4).
type Aggregate struct {
	N    int     `json:"n"`
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"`
	// CV is Std/|Mean|; absent when Mean is 0.
	CV  *float64 `json:"cv,omitempty"`
	Min float64  `json:"min"`
	Max float64  `json:"max"`
	P10 float64  `json:"p10"`
	P20 float64  `json:"p20"`
	P50 float64  `json:"p50"`
	P80 float64  `json:"p80"`
	P90 float64  `json:"p90"`
	// RisingSlope and FallingSlope are the mean rates of change (units per
	// second, both positive) of the field's rising and falling parts, over
	// runs of consecutive items; absent when there are no such parts.
	RisingSlope  *float64 `json:"rising_slope,omitempty"`
	FallingSlope *float64 `json:"falling_slope,omitempty"`
}

// Alert is a rule's condition holding on a stream (docs/RULES.md): open
// (End nil) from the moment it fired until the condition stopped holding.
type Alert struct {
	// ID names the alert: stream, rule, start and a sequence number.
	ID       string `json:"id"`
	Rule     string `json:"rule"`
	StreamID string `json:"stream_id"`
	Severity string `json:"severity"`
	Message  string `json:"message"`
	// Start is the media time the condition started holding; Fired when
	// it had held for the rule's `for` and the alert opened; End when it
	// stopped holding (nil while open).
	Start time.Duration  `json:"start_ns"`
	Fired time.Duration  `json:"fired_ns"`
	End   *time.Duration `json:"end_ns,omitempty"`
	// WallStart and WallEnd are Start and End in wall-clock time (zero /
	// nil when the stream's anchor was not known).
	WallStart time.Time  `json:"wall_start"`
	WallEnd   *time.Time `json:"wall_end,omitempty"`
	// Values are what the condition read when it fired (plugin.field,
	// objects.count('label')); TrackIDs the ids of the objects it counted.
	Values   map[string]any `json:"values"`
	TrackIDs []int64        `json:"track_ids,omitempty"`
}

// PluginSegment is everything one plugin contributed to one segment.
type PluginSegment struct {
	Plugin  string `json:"plugin"`
	Version string `json:"version"`
	// Status is empty normally, or PluginNoAudio or PluginNoVideo.
	Status         string `json:"status,omitempty"`
	FramesAnalysed int    `json:"frames_analysed"`
	FramesSkipped  int    `json:"frames_skipped"`
	// FramesGated counts the analysis frames the plugin's motion gate held
	// back (nothing moved): by configuration, not a loss.
	FramesGated int `json:"frames_gated"`
	Errors      int `json:"errors"`
	// AudioSeconds is the audio the plugin analysed in the window;
	// AudioDroppedSeconds what passed its bound and never reached it.
	AudioSeconds        float64 `json:"audio_seconds"`
	AudioDroppedSeconds float64 `json:"audio_dropped_seconds"`
	// Messages counts topic messages the plugin answered in the window;
	// TextDropped the events that passed its bound and never reached it.
	Messages    int `json:"messages"`
	TextDropped int `json:"text_dropped"`
	// Published counts the messages the plugin published in the window,
	// each partial update included (its items keep the finals and the
	// latest partial).
	Published int `json:"published"`
	// LateItems counts the items attached after the segment closed (each
	// marked Late); the aggregates do not include them.
	LateItems  int                  `json:"late_items"`
	Items      []Item               `json:"items,omitempty"`
	Aggregates map[string]Aggregate `json:"aggregates"`
	// Objects summarises the objects of the plugin's items (not late ones);
	// nil when it reported none.
	Objects *ObjectStats `json:"objects,omitempty"`
}

// Segment is one closed window of a stream's time line (Contract 4).
type Segment struct {
	StreamID string `json:"stream_id"`
	Index    int64  `json:"index"`
	// RunID names the stream run (one per stream start) that produced the
	// segment; filled by the store's reads.
	RunID string `json:"run_id"`
	// MediaStart/MediaEnd bound the window on the stream's media time line.
	MediaStart time.Duration `json:"media_start_ns"`
	MediaEnd   time.Duration `json:"media_end_ns"`
	// WallStart/WallEnd are the same window in wall-clock time.
	WallStart time.Time     `json:"wall_start"`
	WallEnd   time.Time     `json:"wall_end"`
	Status    SegmentStatus `json:"status"`
	Reasons   []string      `json:"reasons,omitempty"`
	// FramesSeen counts analysis frames capture produced in the window;
	// FramesDropped those lost before any plugin saw them (pool exhausted).
	FramesSeen    int `json:"frames_seen"`
	FramesDropped int `json:"frames_dropped"`
	// AudioSeconds is the audio capture delivered in the window;
	// AudioGapSeconds the audio it reported missing there (explicit gaps).
	AudioSeconds    float64                  `json:"audio_seconds"`
	AudioGapSeconds float64                  `json:"audio_gap_seconds"`
	Plugins         map[string]PluginSegment `json:"plugins"`
	ClosedAt        time.Time                `json:"closed_at"`
	// CloseLatency is the wall time from the window's end being reached by
	// capture to the segment closing (time spent waiting for plugins).
	CloseLatency time.Duration `json:"close_latency_ns"`
	// Analytics is what the host derived when the segment closed (rewards,
	// physiology, co-modulation); nil when analytics are off.
	Analytics *SegmentAnalytics `json:"analytics,omitempty"`
	// Telemetry lists the external events placed in the segment, late ones
	// included, ordered by time. Only Store.Segment fills it.
	Telemetry []TelemetryEvent `json:"telemetry,omitempty"`
	// Enrichment holds the results of the asynchronous jobs run on the
	// closed segment, by kind. Only Store.Segment fills it.
	Enrichment []Enrichment `json:"enrichment,omitempty"`
	// Objects are the segment's objects (every plugin's, by time) when
	// asked for: GET /api/v1/segments/{stream}/{index}?include=objects
	// (Store.Objects); stores ignore it on save and leave it nil on reads.
	Objects []ObjectRecord `json:"objects,omitempty"`
}

// StreamRun is one start of a stream: from its start until every segment of
// it is stored (or the host died).
type StreamRun struct {
	RunID     string    `json:"run_id"`
	StreamID  string    `json:"stream_id"`
	StartedAt time.Time `json:"started_at"`
	// EndedAt is zero while the run is open; EndReason says how it ended
	// (end_of_stream, shutdown, stream_removed, source_error, host_restarted, ...).
	EndedAt   time.Time `json:"ended_at"`
	EndReason string    `json:"end_reason,omitempty"`
	// Segments, LastIndex, LastWallEnd and LastMediaEnd describe the run's
	// stored segments (count, highest index, and that highest-index
	// segment's WallEnd and MediaEnd); zero when it stored none. Filled by
	// OpenRuns and Runs.
	Segments     int           `json:"segments"`
	LastIndex    int64         `json:"last_index"`
	LastWallEnd  time.Time     `json:"last_wall_end"`
	LastMediaEnd time.Duration `json:"last_media_end_ns"`
}

// Gap is a recorded hole in a stream's results: a window nothing was stored
// for.
type Gap struct {
	StreamID string `json:"stream_id"`
	// RunID is the run the hole cut short ("" if none).
	RunID    string    `json:"run_id,omitempty"`
	WallFrom time.Time `json:"wall_from"`
	WallTo   time.Time `json:"wall_to"`
	// MediaFrom is where the lost window starts on the run's media time line.
	MediaFrom  time.Duration `json:"media_from_ns"`
	Reason     string        `json:"reason"`
	RecordedAt time.Time     `json:"recorded_at"`
}

// DesiredStream is a stream added at run time (through the API), kept so it
// runs again after a restart.
type DesiredStream struct {
	ID string `json:"id"`
	// Spec is the stream's JSON description as the API received it
	// (config.ParseStream's input).
	Spec []byte `json:"-"`
	// BaseDir anchors its relative file sources.
	BaseDir string    `json:"base_dir"`
	AddedAt time.Time `json:"added_at"`
}

// ComponentHealth is the live state of one stream, plugin or store.
type ComponentHealth struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"` // "stream", "plugin" or "store"
	Health Health `json:"health"`
	// Hint tells an operator what to do when Health is not ok.
	Hint     string           `json:"hint,omitempty"`
	Counters map[string]int64 `json:"counters,omitempty"`
}

// HostHealth is the host's overall state and that of its components.
type HostHealth struct {
	Status     Health            `json:"status"`
	Version    string            `json:"version"`
	Components []ComponentHealth `json:"components"`
}
