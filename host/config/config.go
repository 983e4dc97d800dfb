// Package config decodes and validates the host's HCL configuration.
//
// Loading goes defaults → file → environment → validate: Default holds the
// embedded defaults, Parse overlays an HCL file on them and then validates
// the result; Load also overlays the LSIE_* environment variables (see
// Load) before validating. Parse never reads the environment.
//
// Decoding is strict: an unknown block or attribute is an error. Every
// problem is a Diagnostic carrying file:line:col and the field path as a user
// reads it (`stream "cam1": video.fps`), and all of them are collected rather
// than stopping at the first.
//
// A file without stream blocks is a valid configuration (`config check` is
// still useful on it); ValidateRunnable adds the checks needed to run one.
//
// ParseStream decodes one stream from JSON, for streams added at run time
// through the API, with the same defaults, validation and messages as a
// stream block; its diagnostics carry a byte offset instead of a line.
//
// configs/example.hcl documents every field; the field comments below are the
// same reference in Go terms.
package config

import (
	"time"

	"github.com/lsie-mlf/lsie/host/source"
	"github.com/lsie-mlf/lsie/host/store"
)

// Config is the whole host configuration.
type Config struct {
	// Segment sets the segment grid shared by every stream (block `segment`).
	Segment Segment
	// Store selects where closed segments are kept (block `store`).
	Store Store
	// API configures the REST/WebSocket server (block `api`).
	API API
	// Sources limits which sources streams may use, in this file and those
	// added at run time through the API (block `sources`, attribute `allow`:
	// a list of source.ParsePolicy entries such as "test", "file:/media/"
	// or "rtsp://*.cams.example"). nil, when the block or its allow is
	// absent, allows every source.
	Sources *source.Policy
	// Streams are the configured inputs (blocks `stream "ID"`), in file order.
	Streams []Stream
	// Telemetry configures the signed webhook (block `telemetry`).
	Telemetry Telemetry
	// Analytics configures rewards, physiology and co-modulation (block
	// `analytics`).
	Analytics Analytics
	// Experiments are the configured experiments (blocks
	// `experiment "NAME"`), in file order.
	Experiments []Experiment
	// Enrichment configures the jobs run on closed segments (block
	// `enrichment`).
	Enrichment Enrichment
	// Rules raise alerts while a condition holds on a stream (blocks
	// `rule "NAME"`), in file order; host/rules compiles them.
	Rules []Rule
	// Notify are the receivers alerts are posted to (blocks
	// `notify "NAME"`), in file order.
	Notify []Notify
	// NotifyAllow limits the hosts notifications may go to (block
	// `notifications`, attribute `allow`: http:// and https:// entries as
	// in sources.allow); nil allows every host.
	NotifyAllow *source.Policy

	// file is the name the configuration was parsed from, for diagnostics
	// that point at the file as a whole.
	file string
}

// Segment configures how each stream's time line is cut into segments.
type Segment struct {
	// Duration is the length of a segment (`duration`, a duration string):
	// 1s..300s, default 10s.
	Duration time.Duration
	// MaxCloseDelay is how long a segment waits for late plugins after capture
	// has passed its end before it closes as partial (`max_close_delay`):
	// 100ms..10m, default 5s.
	MaxCloseDelay time.Duration
}

// Store configures the result store.
type Store struct {
	// SQLite is the path of the SQLite database file (`sqlite`), default
	// "var/lsie.db". A relative path stays relative here; the caller resolves
	// it (against the working directory or the config file's directory).
	SQLite string
	// Postgres is a PostgreSQL connection URL (`postgres`,
	// "postgres://user:password@host:port/db?sslmode=..."). Setting it
	// selects PostgreSQL instead of SQLite: SQLite is then "", and setting
	// both in the file is an error. It may hold a password: show it only
	// through RedactedPostgres.
	Postgres string
	// Spool is the folder where closed segments wait, on disk, until the
	// store has them (`spool`): they survive a store outage and a killed
	// host, and are stored in order when the store is back. Default "":
	// the SQLite file's path + ".spool", or "var/lsie.spool" with
	// PostgreSQL. A relative path is resolved by the host.
	Spool string
	// SpoolMaxMB bounds the spool in MiB (`spool_max_mb`): 1..1048576,
	// default 1024. Near the bound the store's health is error; at it,
	// new segments wait in memory and then streams stall, never dropped.
	SpoolMaxMB int
}

// SpoolDir is where the spool lives: Spool, or its default next to the
// store.
func (s Store) SpoolDir() string {
	switch {
	case s.Spool != "":
		return s.Spool
	case s.Postgres != "":
		return defaultPGSpool
	}
	return s.SQLite + ".spool"
}

// RedactedPostgres is Postgres with any password masked, for logs.
func (s Store) RedactedPostgres() string {
	if s.Postgres == "" {
		return ""
	}
	return store.RedactDSN(s.Postgres)
}

// API configures the HTTP API server.
type API struct {
	// Listen is the host:port the API listens on (`listen`), default
	// "127.0.0.1:8080". Port 0 picks a free port; "" disables the API.
	// LSIE_API_LISTEN overrides it (in Load). A host other than a loopback
	// address (localhost, 127.0.0.0/8, ::1) needs a Token.
	Listen string
	// Token is the bearer token API requests must carry as
	// `Authorization: Bearer TOKEN` (`token`) — all but health, the OpenAPI
	// document, /metrics, the console's static files, the telemetry webhook
	// (signed with HMAC instead) and the WebSocket (token in its first
	// message):
	// printable ASCII without spaces; default "", no token, which is only
	// allowed on a loopback Listen. LSIE_API_TOKEN overrides it (in Load),
	// which keeps the secret out of the file.
	Token string
	// AllowedHosts are Host header values the API accepts besides the
	// loopback names and the listen address (`allowed_hosts`, a list of
	// "host" or "host:port"; default empty): the names it is reached by
	// through a proxy or DNS. Any other Host is refused, against DNS
	// rebinding. A "host" entry matches that host without a port or with the
	// listening port; "host:port" matches exactly.
	AllowedHosts []string
}

// Stream is one configured input: a source, how to pace it, the analysis
// frame rate and size, and the plugins that analyse it.
type Stream struct {
	// ID is the block label: 1..64 characters of [A-Za-z0-9_-], unique.
	ID string
	// Source is the parsed `source` URI (file:///abs/path or test://pattern),
	// validated with source.Parse (a file source must be openable). Required.
	Source source.Spec
	// Realtime paces the source at its natural rate, like a camera
	// (`realtime`, default true). false is lossless and runs as fast as the
	// plugins allow: every analysis frame reaches every plugin (files and test
	// sources).
	Realtime bool
	// Loop replays a file source forever (`loop`, default false); media time
	// keeps increasing across loops. It has no effect on endless sources.
	Loop bool
	// Video sets the analysis frame rate and size (block `video`).
	Video Video
	// Image makes a file source that is a still image (PNG, JPEG, GIF,
	// WebP) a video (block `image`). Without the block such a source is
	// refused: a picture has no frame rate to analyse it at.
	Image Image
	// Plugins are the analysers attached to this stream (blocks
	// `plugin "NAME"`), in file order, each name at most once.
	Plugins []PluginRef
	// Zones are named areas of the frame (blocks `zone "NAME"`), for
	// plugins' motion gates to watch (Gate.Zones).
	Zones []Zone
	// Pos is where the stream block starts.
	Pos Pos
	// Spec is the JSON a stream added at run time was described with
	// (ParseStream's input), kept so the host can restore it after a
	// restart; nil for a stream of the config file.
	Spec []byte
}

// FromAPI reports whether the stream was added at run time (through the
// API) rather than written in the config file.
func (s Stream) FromAPI() bool { return s.Spec != nil }

// Video sets the rate and size of the frames handed to plugins; the source
// keeps its own rate.
type Video struct {
	// FPS is the analysis frame rate (`fps`): 1..60, default 5.
	FPS int
	// MaxWidth caps the analysis frame width in pixels (`max_width`):
	// 16..7680, default 640. Frames are scaled down to it keeping the aspect
	// ratio, never up.
	MaxWidth int
	// Memory is where analysis frames live (`memory`): "host" (sealed
	// memfd slots, the default) or "cuda" (device buffers shared through
	// CUDA IPC handles; needs a build with -tags cuda and the NVIDIA
	// driver, see docs/CUDA.md).
	Memory string
	// GPU is the CUDA device ordinal of the stream's frames (`gpu`): 0..63,
	// default 0; used with Memory "cuda".
	GPU int
}

// Image turns a still picture into an endless video of it.
type Image struct {
	// FPS is that video's frame rate (`fps`): 1..60, default 1 once the
	// block is written; the analysis rate (video.fps) still caps what
	// plugins get. 0, without the block, refuses a still image. Only for
	// file sources; it has no effect on a file that is a video.
	FPS int
}

// PluginRef attaches one plugin to one stream.
type PluginRef struct {
	// Name is the block label, the plugin's name: 1..64 characters of
	// [A-Za-z0-9_-], unique within the stream.
	Name string
	// Window is the number of frames in flight for this (stream, plugin)
	// (`window`): 1..64, default 2.
	Window int
	// EventBound is how many topic events (transcript.final@1, ...) may wait
	// for this plugin, queued or in flight, before further ones are recorded
	// as text_dropped (`event_bound`): 1..65536, default 256. Producers never
	// wait for a consumer; this bounds the host's memory instead.
	EventBound int
	// Version constrains which of the plugin's versions in the plugins
	// directory runs (`version`, a string in Terraform's constraint syntax
	// such as "~> 1.2", ">= 1.0, < 2.0" or "= 1.2.3"; see
	// semver.ParseConstraint), validated by parsing it. Default "": the
	// newest. The host picks the newest version that the constraints of
	// every stream using the plugin allow: one process serves them all.
	Version string
	// Attributes are every other attribute of the block, passed to the plugin
	// when the stream is opened. Values must be strings, numbers or bools and
	// are rendered as strings: numbers in strconv's 'g' form with the shortest
	// precision (0.5, 12, 1e+06), bools as true or false. Never nil.
	Attributes map[string]string
	// AttrPos is where each of Attributes is written in a file, for
	// messages about it (the plugin's attribute schema); nil when none is.
	AttrPos map[string]Pos
	// Gate holds frames back from the plugin while nothing moves (block
	// `gate`); nil sends every analysis frame.
	Gate *Gate
	// Pos is where the plugin block starts.
	Pos Pos
}

// Rule is a condition watched on streams (docs/RULES.md). The expression is
// CEL; its names are checked against the plugins' manifests by host/rules
// (config check --plugins, and at start).
type Rule struct {
	// Name is the block label: 1..64 characters of [A-Za-z0-9_-], unique.
	Name string
	// Streams are the streams it watches (`streams`): ids or shell
	// patterns ("cam*"); default every stream.
	Streams []string
	// When is the condition (`when`), a CEL expression of bool type.
	// Required.
	When string
	// WhenPos is where the expression's text starts, for messages that
	// point into it.
	WhenPos Pos
	// For is how long (media time) the condition must hold before the
	// alert fires (`for`): 0 (the default, at once)..24h.
	For time.Duration
	// Cooldown is how long after an alert ends the rule stays quiet on
	// that stream (`cooldown`): 0 (the default)..24h.
	Cooldown time.Duration
	// Severity is "info", "warning" (the default) or "critical".
	Severity string
	// Message is the alert's text (`message`); default the rule's name.
	Message string
	Pos     Pos
}

// Notify posts alerts to a receiver (docs/RULES.md): each alert's start
// and end as a JSON body signed with HMAC-SHA256 the way incoming
// telemetry is, from a persistent queue, retried with exponential backoff
// and jitter.
type Notify struct {
	Name string
	// URL is the receiver (`url`): http or https. Required.
	URL string
	// Secret is the HMAC key (`secret`): at least 16 bytes. Required.
	Secret string
	// Rules are the rules whose alerts go (`rules`): names or patterns;
	// default every rule.
	Rules []string
	// RetryMin and RetryMax bound the wait between attempts (`retry_min`
	// 100ms..1h, default 1s; `retry_max` ≥ retry_min, ..24h, default 5m);
	// MaxAttempts (`max_attempts`, 1..1000, default 20) ends the tries:
	// the delivery is then kept as failed, never dropped.
	RetryMin, RetryMax time.Duration
	MaxAttempts        int
	Pos                Pos
}

// Severities of an alert, mildest first.
var Severities = []string{"info", "warning", "critical"}

// Limits of gates and zones.
const (
	minGateEvery  = 100 * time.Millisecond
	maxGateEvery  = 24 * time.Hour
	maxZonePoints = 64

	maxRuleDuration = 24 * time.Hour

	defaultRetryMin    = time.Second
	defaultRetryMax    = 5 * time.Minute
	defaultMaxAttempts = 20
)

// Gate sends a plugin only the analysis frames where something moves, plus
// one now and then: heavy models skip the frames of a still scene. The
// host measures motion on every analysis frame of a stream with a gate
// (the mean absolute difference of a 64-cell-wide gray thumbnail from the
// previous frame's, luma 0..255: the visual plugin's motion). Frames held
// back are counted per segment as frames_gated, not as a loss.
type Gate struct {
	// Motion is the least motion that sends a frame (`motion`): above 0,
	// at most 255. Required.
	Motion float64
	// Every sends a frame at least this often in media time whatever the
	// motion (`every`), so a slow drift is still seen: 0 (the default)
	// never, else 100ms..24h.
	Every time.Duration
	// Zones limits the measure to these zones of the stream (`zones`):
	// a frame goes when the motion inside any of them reaches Motion.
	// Empty: the whole frame.
	Zones []string
	// Pos is where the gate block starts.
	Pos Pos
}

// Zone is a named polygon of the frame in normalised coordinates (0..1,
// x right, y down), declared per stream with `zone "NAME" { polygon = [[x,
// y], ...] }`: at least 3 points.
type Zone struct {
	Name    string
	Polygon [][2]float64
	Pos     Pos
}

// Frame memories of Video.Memory.
const (
	MemoryHost = "host"
	MemoryCUDA = "cuda"
)

// Values used when the file does not set a field; configs/example.hcl
// documents each one and a test keeps the two equal.
const (
	defaultSegmentDuration = 10 * time.Second
	defaultMaxCloseDelay   = 5 * time.Second
	defaultSQLite          = "var/lsie.db"
	defaultPGSpool         = "var/lsie.spool"
	defaultSpoolMaxMB      = 1024
	defaultListen          = "127.0.0.1:8080"
	defaultRealtime        = true
	defaultLoop            = false
	defaultFPS             = 5
	defaultMaxWidth        = 640
	defaultGPU             = 0
	defaultImageFPS        = 1
	defaultWindow          = 2
	defaultEventBound      = 256
)

// Default returns the embedded defaults: every block at its default values
// and no streams.
func Default() *Config {
	return &Config{
		Segment: Segment{Duration: defaultSegmentDuration, MaxCloseDelay: defaultMaxCloseDelay},
		Store:   Store{SQLite: defaultSQLite, SpoolMaxMB: defaultSpoolMaxMB},
		API:     API{Listen: defaultListen},

		Telemetry:  defaultTelemetry(),
		Analytics:  defaultAnalytics(),
		Enrichment: defaultEnrichment(),
	}
}

// defaultStream is a stream block with nothing set but its id.
func defaultStream(id string, pos Pos) Stream {
	return Stream{
		ID:       id,
		Realtime: defaultRealtime,
		Loop:     defaultLoop,
		Video:    Video{FPS: defaultFPS, MaxWidth: defaultMaxWidth, Memory: MemoryHost, GPU: defaultGPU},
		Pos:      pos,
	}
}

// defaultPlugin is a plugin block with nothing set but its name.
func defaultPlugin(name string, pos Pos) PluginRef {
	return PluginRef{Name: name, Window: defaultWindow, EventBound: defaultEventBound, Attributes: map[string]string{}, Pos: pos}
}
