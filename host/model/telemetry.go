package model

import (
	"encoding/json"
	"time"
)

// TelemetryKind is the kind of an external event posted to the telemetry
// webhook.
type TelemetryKind string

// Telemetry kinds.
const (
	// TelemetryPhysiology carries a subject's heart rate and/or RR intervals.
	TelemetryPhysiology TelemetryKind = "physiology"
	// TelemetryStimulus marks which arm of an experiment was shown when.
	TelemetryStimulus TelemetryKind = "stimulus"
	// TelemetryStreamEvent is anything else that happened on the stream
	// (chat message, donation, scene change): a Type and a free-form Payload.
	TelemetryStreamEvent TelemetryKind = "stream_event"
)

// TelemetryEvent is one accepted external event. (Source, ID) is unique:
// posting the same event again is a no-op (idempotent webhooks).
type TelemetryEvent struct {
	Source   string        `json:"source"`
	ID       string        `json:"id"`
	Kind     TelemetryKind `json:"kind"`
	StreamID string        `json:"stream_id"`
	// Time is the event's time on the host's clock: SourceTime plus the
	// source's configured clock offset. Placement into segments uses it.
	Time       time.Time `json:"time"`
	SourceTime time.Time `json:"source_time"`
	ReceivedAt time.Time `json:"received_at"`

	// Physiology: whose heart (a subject name such as "streamer"), the
	// heart rate and the RR intervals (ms) that ended at Time, oldest first.
	Subject   string    `json:"subject,omitempty"`
	HeartRate *float64  `json:"hr_bpm,omitempty"`
	RR        []float64 `json:"rr_ms,omitempty"`

	// Stimulus: the experiment and the arm shown at Time.
	Experiment string `json:"experiment,omitempty"`
	Arm        string `json:"arm,omitempty"`

	// Stream event: what happened ("chat", "donation", "scene_change", ...).
	Type string `json:"type,omitempty"`

	// Payload is the event's free-form JSON payload (any kind may carry one).
	// It is raw user data: the retention job removes it after the configured
	// time and sets PayloadPurged.
	Payload       json.RawMessage `json:"payload,omitempty"`
	PayloadPurged bool            `json:"payload_purged,omitempty"`

	// Segment is the index of the stream's segment whose wall-clock window
	// holds Time, once known; nil while that segment has not closed (or
	// never will: the event lies outside every segment). Late is true when
	// the event arrived after that segment had closed and was attached to
	// it afterwards.
	Segment *int64 `json:"segment,omitempty"`
	Late    bool   `json:"late"`
}

// TelemetryPlacement is what storing one event did.
type TelemetryPlacement struct {
	// Duplicate is true when (Source, ID) was already stored: nothing changed.
	Duplicate bool
	// Segment and Late as stored (for a duplicate: as stored earlier).
	Segment *int64
	Late    bool
}

// TelemetryQuery selects stored events; zero fields do not filter.
type TelemetryQuery struct {
	StreamID   string
	Kind       TelemetryKind
	Subject    string
	Experiment string
	// From and To bound Time: From <= Time < To.
	From, To time.Time
	// Limit caps the result (<= 0: no limit). Events are ordered by Time,
	// then Source, then ID.
	Limit int
}

// FaceReward is the reward of one face over one segment (docs/ANALYTICS.md).
type FaceReward struct {
	// Face is the track id (the N of the au plugin's faceN.* fields).
	Face int `json:"face"`
	// NFramesInWindow counts the frames the face was analysed in.
	NFramesInWindow int `json:"n_frames_in_window"`
	// P90Intensity is the 90th percentile of the configured AU's intensity
	// (0..5) over those frames; IntensitySource says whether it is
	// baseline-corrected ("baseline") or against the generic neutral face
	// ("generic", the face's own baseline not being complete yet).
	P90Intensity    *float64 `json:"p90_intensity"`
	IntensitySource string   `json:"intensity_source,omitempty"`
	// BaselineBNeutral is the AU's raw measure on the face's neutral
	// baseline (inter-ocular units); nil until the baseline is complete.
	BaselineBNeutral *float64 `json:"baseline_b_neutral"`
	// SemanticGate is 1 when an utterance of the segment passed the
	// semantic gate, 0 when none did; nil when no semantic result exists.
	SemanticGate *float64 `json:"semantic_gate"`
	// GatedReward is SemanticGate × P90Intensity/5 in [0, 1], or nil with
	// NullReason.
	GatedReward *float64 `json:"gated_reward"`
	NullReason  string   `json:"null_reason,omitempty"`
}

// PhysiologyState is the freshness of a subject's heart data.
type PhysiologyState string

// Physiology states, each distinct in the API and the console.
const (
	// PhysioFresh: recent data with enough RR intervals for an RMSSD.
	PhysioFresh PhysiologyState = "fresh"
	// PhysioStale: data exists but the newest is older than stale_after.
	PhysioStale PhysiologyState = "stale"
	// PhysioAbsent: nothing from the subject within absent_after (or ever).
	PhysioAbsent PhysiologyState = "absent"
	// PhysioNoRMSSD: recent data, but too few RR intervals in the window
	// (a strap that sends only heart rate, or artefacts removed).
	PhysioNoRMSSD PhysiologyState = "no-rmssd"
)

// Physiology is one subject's heart summary at a moment (a segment's end, or
// now).
type Physiology struct {
	Subject string          `json:"subject"`
	State   PhysiologyState `json:"state"`
	// RMSSD in ms over the window's successive RR differences; nil unless
	// State is fresh.
	RMSSD *float64 `json:"rmssd_ms"`
	// HeartRate is the mean heart rate (bpm) in the window, from hr_bpm
	// values or else from RR intervals; nil when there is none.
	HeartRate *float64 `json:"hr_bpm"`
	// Intervals counts the RR intervals in the window.
	Intervals int `json:"rr_intervals"`
	// LastAt is the time of the subject's newest event, if any.
	LastAt *time.Time `json:"last_at,omitempty"`
	// Age is how old that event was at the moment of the summary.
	AgeSeconds *float64 `json:"age_s,omitempty"`
}

// CoModulation is the correlation of two series over a window: a value, or
// nil with a NullReason (a valid outcome, not an error).
type CoModulation struct {
	// A and B name the series: "physio:SUBJECT" (heart rate) or
	// "au:faceN.auXX" (AU intensity).
	A     string   `json:"a"`
	B     string   `json:"b"`
	Value *float64 `json:"value"`
	// Samples is the number of paired samples the value rests on.
	Samples    int    `json:"samples"`
	NullReason string `json:"null_reason,omitempty"`
}

// Null reasons of a CoModulation.
const (
	NullTooFewSamples = "too_few_samples"
	NullStaleSource   = "stale_source"
	NullZeroVariance  = "zero_variance"
)

// SegmentAnalytics is what the host derives for a segment when it closes.
type SegmentAnalytics struct {
	// AU is the action unit the rewards use (e.g. "au12").
	AU    string       `json:"au"`
	Faces []FaceReward `json:"faces"`
	// Reward is the segment's reward for experiments: the mean GatedReward
	// over faces that have one; nil when none does.
	Reward       *float64      `json:"reward"`
	Physiology   []Physiology  `json:"physiology,omitempty"`
	CoModulation *CoModulation `json:"comodulation,omitempty"`
}

// Enrichment is the result of one asynchronous context-enrichment job on a
// closed segment ("keywords", "language", "stats").
type Enrichment struct {
	Kind   string          `json:"kind"`
	Status string          `json:"status"` // "ok" or "failed"
	Result json.RawMessage `json:"result,omitempty"`
	Error  string          `json:"error,omitempty"`
	// Attempts is how many times the job ran (retries included).
	Attempts int       `json:"attempts"`
	At       time.Time `json:"at"`
}

// ArmOutcome links one stimulus marker to the reward of the segment it fell
// in, for an experiment's posterior.
type ArmOutcome struct {
	Arm      string `json:"arm"`
	StreamID string `json:"stream_id"`
	Segment  int64  `json:"segment"`
	// Reward is the segment's SegmentAnalytics.Reward (nil when it has none).
	Reward *float64  `json:"reward"`
	Time   time.Time `json:"time"`
}

// Session is one run of one stream (the run id its segments were saved
// with): its span of stored segments.
type Session struct {
	RunID     string    `json:"run_id"`
	StreamID  string    `json:"stream_id"`
	Segments  int       `json:"segments"`
	First     int64     `json:"first_index"`
	Last      int64     `json:"last_index"`
	WallStart time.Time `json:"wall_start"`
	WallEnd   time.Time `json:"wall_end"`
}
