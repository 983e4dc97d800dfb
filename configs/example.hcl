# lsie host configuration: every field, with its range and default.
#
# Syntax is HCL (https://github.com/hashicorp/hcl). Decoding is strict: an
# unknown block or attribute is an error, and so is a value of the wrong type
# ("5" where a number is expected). Values must be constants (no variables or
# functions). Check a file with `lsie-host config check FILE`.
#
# Every attribute below that has a default says so as "(default: VALUE)" at
# the end of its line; leaving the attribute out gives that value. A test
# checks that these match the code's defaults.
#
# Environment variables override the file (`lsie-host` and `config check`
# read them; an empty variable counts as unset):
#   LSIE_API_TOKEN   overrides api.token
#   LSIE_API_LISTEN  overrides api.listen

# The segment grid. Each stream's time line is cut into windows of this length;
# live sources put them on a UTC grid so segment k of every stream covers the
# same wall-clock window.
segment {
  # Length of a segment, a duration string ("10s", "1m30s"): 1s..300s.
  duration = "10s" # (default: "10s")

  # How long a segment waits for late plugins after capture has passed its
  # end; when it expires the segment closes as partial (plugin_lag or
  # source_stall). 100ms..10m.
  max_close_delay = "5s" # (default: "5s")
}

# Where closed segments are stored. Without this block the embedded default
# (SQLite at var/lsie.db) is used.
store {
  # SQLite database file. A relative path is resolved by the host, not here.
  sqlite = "var/lsie.db" # (default: "var/lsie.db")

  # PostgreSQL instead of SQLite (set one of the two): a postgres:// URL;
  # logs and `config check` show it with the password masked.
  # postgres = "postgres://lsie:secret@db.example:5432/lsie?sslmode=require"

  # Closed segments are written to this folder before the store, and stay
  # until the store has them: a store outage (a locked file, a restarting
  # server) or a killed host loses none; they are stored in order when the
  # store is back. Default: the SQLite path + ".spool", or "var/lsie.spool"
  # with PostgreSQL.
  # spool = "var/lsie.db.spool"

  # Bound of the spool in MiB. Near it the store's health is error; at it
  # new segments wait in memory and then the streams stall: never dropped.
  spool_max_mb = 1024 # (default: 1024)
}

# The REST/WebSocket API and console.
api {
  # host:port to listen on; port 0 picks a free port; "" disables the API.
  # A host that is not a loopback address (localhost, 127.0.0.0/8, ::1), such
  # as "0.0.0.0:8080", needs a token. LSIE_API_LISTEN overrides it.
  listen = "127.0.0.1:8080" # (default: "127.0.0.1:8080")

  # Bearer token that POST, PUT, PATCH and DELETE requests (adding and
  # removing streams) must carry as `Authorization: Bearer TOKEN`; printable
  # ASCII without spaces. "" means no token, which only a loopback listen
  # address allows. Prefer LSIE_API_TOKEN, which overrides it, to keep the
  # secret out of this file.
  token = "" # (default: "")

  # Host header values accepted besides localhost, 127.0.0.1, [::1] and the
  # listen address: the names the API is reached by through a proxy or DNS.
  # "host" matches without a port or with the listening port; "host:port"
  # matches exactly. Requests for any other Host are refused (421), and so
  # are browser requests whose Origin is not one of these hosts (403), so a
  # web page cannot drive the API.
  allowed_hosts = [] # (default: [])
}

# Which sources streams may use: those in this file and those added at run
# time through the API. Without this block (or without allow) every source is
# allowed; an empty list allows none. Each entry allows:
#   "test"                    test:// sources
#   "file:/media/"            files under a directory, on whole path
#                             components, symlinks resolved
#   "rtsp://*.cams.example"   network sources by scheme (rtsp, rtsps, rtmp,
#                             rtmps, http, https) and host: a name or address,
#                             "*.example.com" for its subdomains, "*" for any;
#                             ":PORT" to pin a port
#   "v4l2", "v4l2:/dev/video0"  any capture device, or one
sources {
  allow = ["test", "file:/media/", "rtsp://*.cams.example"]
}

# One block per input. The label is the stream id: 1..64 characters of
# A-Z a-z 0-9 _ -, unique in the file. A file needs at least one stream to run
# (`config check` accepts a file without any).
stream "ball" {
  # Required. The source URI:
  #   file:///absolute/path/clip.mp4   a media file (it must exist and be readable)
  #   test://PATTERN?width=W&height=H&fps=N&duration=D&audio=HZ
  #                                    a synthetic source (videotestsrc pattern such
  #                                    as ball, smpte, snow; width 16..7680, height
  #                                    16..4320, fps 1..240, duration e.g. 30s for a
  #                                    source that ends, audio a sine of 20..8000 Hz)
  #   file:relative/path.mp4           relative to this file's directory
  #   rtsp://[user:pass@]host[:port]/path?transport=tcp|udp|auto&latency=MS
  #   rtsps://…                        the same over TLS
  #   rtmp://host[:port]/app/stream    (and rtmps://)
  #   http(s)://host/path/playlist.m3u8   an HLS playlist
  #   v4l2:///dev/videoN               a camera (built, untested: no device here)
  # Network and device sources are live: realtime must stay true. They
  # reconnect with backoff after an error or a 5 s stall; credentials are
  # never logged or stored.
  source = "test://ball?width=640&height=360&fps=30&audio=440"

  # true paces the source at its natural rate, like a camera. false is
  # lossless and runs as fast as the plugins allow: every analysis frame
  # reaches every plugin, so replays and tests are deterministic (file and
  # test sources).
  realtime = true # (default: true)

  # Replay a file source forever; media time keeps increasing across loops.
  # No effect on sources that never end.
  loop = false # (default: false)

  # The frames handed to plugins. The source keeps its own rate; this sets the
  # analysis rate and size.
  video {
    # Analysis frames per second: 1..60.
    fps = 5 # (default: 5)

    # Frames wider than this are scaled down to it, keeping the aspect ratio;
    # narrower frames are never scaled up. 16..7680 pixels.
    max_width = 640 # (default: 640)
    # Where analysis frames live: "host" (RGB24 in sealed memfd slots shared
    # with the plugins, topic video.rgb24) or "cuda" (NV12 in device buffers
    # shared through CUDA IPC handles, topic video.nv12.cuda, plus each model
    # input the plugins declare, video.rgbf32.cuda, made once per frame on
    # the GPU). "cuda" needs a build with -tags cuda on a host with the
    # NVIDIA driver (docs/CUDA.md); other builds refuse it with "built
    # without CUDA", and a plugin taking video in the other memory is refused
    # by name.
    memory = "host" # (default: "host")

    # The CUDA device ordinal of this stream's frames with memory = "cuda":
    # 0..63.
    gpu = 0 # (default: 0)
  }

  # A file source may be a still image (PNG, JPEG, GIF, WebP): it has no
  # frame rate, so it is refused ("... is a still image") unless the stream
  # has an image block, which makes it an endless video of that picture at
  # fps frames per second (1..60, default 1; video.fps still caps what
  # plugins get). Only for file sources; a video file ignores it.
  #   image { fps = 1 }
  #
  # A source with audio but no video (a WAV or MP3 file, an audio-only
  # RTMP feed or HLS playlist) runs on its audio: audio plugins work as
  # usual, plugins that take video get no frame and say "no_video" in every
  # segment, and segments close on the audio's progress.

  # One block per plugin analysing this stream; the label is the plugin's
  # name (1..64 characters of A-Z a-z 0-9 _ -), each at most once per stream.
  plugin "visual" {
    # Frames in flight for this (stream, plugin): 1..64. A larger window lets
    # a plugin batch; a smaller one keeps latency low.
    window = 2 # (default: 2)

    # Topic events (such as transcript.final@1 from another plugin) that may
    # wait for this plugin, queued or in flight: 1..65536. Producers never
    # wait for a slow consumer; past this bound events are recorded on the
    # segment as text_dropped instead of held.
    event_bound = 256 # (default: 256)

    # Which of the plugin's versions in the plugins directory runs, as a
    # constraint: "~> 1.2" (>= 1.2.0, < 2.0.0), "~> 1.2.3" (>= 1.2.3,
    # < 1.3.0), ">= 1.0, < 2.0", "= 1.2.3", "!= 1.2.5". The newest allowed
    # version wins; without it, the newest of all. Streams sharing a plugin
    # share its process, so their constraints must allow a common version.
    # version = "~> 0.1"

    # Any other attribute is plugin-specific: checked against the plugin's
    # attribute schema (`lsie-host plugins inspect --plugins DIR NAME` lists
    # its attributes, types and defaults; visual takes none) and passed to
    # the plugin: a string, number (written like 0.5, 12, 1e+06) or bool; a
    # list or object as its JSON text (e.g. the semantic plugin's intents).
    # The model plugins read model_dir (default $LSIE_PLUGIN_MODEL_DIR, else
    # var/models) and, for ONNX models, execution_provider = "cpu" | "cuda":
    #   plugin "semantic" { gate_threshold = 0.6 }

    # A motion gate: send this plugin only the frames where something moved
    # since the previous analysis frame (the host measures it: the mean
    # luma change of a 64-cell-wide gray thumbnail, 0..255, as the visual
    # plugin's motion field), plus one frame every `every` so a slow drift
    # is still seen. Frames held back count as frames_gated in the segment,
    # which stays complete. Without the block every frame goes.
    #   gate {
    #     motion = 2.5          # required: above 0, at most 255
    #     every  = "10s"        # 0 (default: never) or 100ms..24h
    #     zones  = ["door"]     # zones of this stream; default the whole frame
    #   }
  }

  # Named areas of the frame for gates to watch: a polygon of 3..64 points
  # in normalised coordinates (0..1, x right, y down).
  # zone "door" {
  #   polygon = [[0.05, 0.2], [0.3, 0.2], [0.3, 0.95], [0.05, 0.95]]
  # }
}

# A second stream: an SMPTE colour-bar source that ends after 30 s, replayed
# losslessly at full speed, analysed at 10 fps and at most 320 pixels wide.
stream "bars" {
  source   = "test://smpte?width=1280&height=720&fps=30&duration=30s"
  realtime = false
  video {
    fps       = 10
    max_width = 320
  }
  plugin "visual" {
    window = 4
  }
}

# The signed webhook external systems post telemetry to: POST
# /api/v1/telemetry with X-LSIE-Source, X-LSIE-Timestamp (unix seconds) and
# X-LSIE-Signature = "sha256=" + hex HMAC-SHA256(secret, timestamp + "." +
# body). Events: physiology (heart rate, RR intervals), stimulus markers
# (experiment arm shown) and stream events (chat, donation, scene change).
telemetry {
  # How far X-LSIE-Timestamp may be from the host's clock: 1s..1h. Within
  # it a signature is accepted once (replays are refused).
  tolerance = "5m" # (default: "5m")

  # Largest request body in bytes (1024..67108864) and most events per
  # request (1..100000).
  max_body   = 1048576 # (default: 1048576)
  max_events = 1000    # (default: 1000)

  # Events' free-form payloads are raw user data: the purge job removes them
  # after payload_retention (1m..87600h), running every purge_interval
  # (1s..24h). The events themselves stay.
  payload_retention = "720h" # (default: "720h")
  purge_interval    = "1h"   # (default: "1h")

  # One block per sender. secret: the HMAC key, at least 16 characters;
  # LSIE_TELEMETRY_SECRET_POLAR (the name upper-cased, - as _) overrides it
  # and keeps it out of this file. clock_offset (-1h..1h, default "0s") is
  # added to the sender's event times to put them on the host's clock.
  # stream: the stream of events that name none (default: none).
  source "polar" {
    secret       = "change-me-to-a-long-random-secret"
    clock_offset = "-250ms"
    stream       = "ball"
  }
}

# What the host derives from closed segments and telemetry; the formulas
# are in docs/ANALYTICS.md.
analytics {
  # The action unit whose intensity drives the reward (au01..au45) and the
  # plugins whose fields the reward reads.
  au              = "au12"     # (default: "au12")
  au_plugin       = "au"       # (default: "au")
  semantic_plugin = "semantic" # (default: "semantic")
  # Fewest frames a face needs in a segment for a reward: 1..10000.
  min_frames = 3 # (default: 3)

  physiology {
    # RMSSD window (10s..10m); a subject is stale when its newest event is
    # older than stale_after (1s..10m), absent past absent_after (1s..1h,
    # more than stale_after); fewer than min_intervals usable RR intervals
    # (3..1000) in the window is no-rmssd.
    window        = "60s" # (default: "60s")
    stale_after   = "10s" # (default: "10s")
    absent_after  = "60s" # (default: "60s")
    min_intervals = 10    # (default: 10)
    # The subjects summarised (default: every subject seen).
    # subjects = ["streamer"]
  }

  # Correlates two series per segment over a trailing window (10s..1h):
  # "physio:SUBJECT" (heart rate) or "au:faceN.auXX". Fewer than
  # min_samples (3..100000) paired 1 s bins gives null with a reason.
  comodulation {
    a           = "physio:streamer"
    b           = "au:face1.au12"
    window      = "120s" # (default: "120s")
    min_samples = 10     # (default: 10)
  }
}

# An experiment: stimulus markers (telemetry kind "stimulus") say which arm
# was shown when; the reward of the segment a marker falls in is that arm's
# outcome. assignment: "thompson" (Thompson sampling over gated_reward) or
# "schedule" (cycles through schedule, default the arms in order). Every
# arm starts from a Beta(prior_alpha, prior_beta) prior (integers 1..1000).
experiment "greeting" {
  arms        = ["warm", "neutral", "playful"]
  assignment  = "thompson" # (default: "thompson")
  prior_alpha = 1          # (default: 1)
  prior_beta  = 1          # (default: 1)
}

# Asynchronous jobs on closed segments (keywords, language, statistics):
# a failing job is tried up to attempts times (1..20), waiting backoff
# (10ms..1m, doubling, at most 30s) between tries, by workers (1..16).
enrichment {
  attempts = 4       # (default: 4)
  backoff  = "500ms" # (default: "500ms")
  workers  = 1       # (default: 1)
}

# Rules raise alerts while a condition (CEL) holds on a stream; docs/RULES.md
# lists what an expression reads. `lsie-host config check --plugins DIR`
# checks every name against the plugins' manifests.
rule "bars_dark" {
  streams  = ["bars"]
  when     = "segment.visual.brightness.mean < 20"
  severity = "info"
  message  = "the bars went dark"
}

# Alerts can be posted, signed with HMAC-SHA256 like incoming telemetry,
# from a queue on disk, retried with backoff until the receiver takes them:
#   notifications { allow = ["https://*.example.com"] }
#   notify "ops" {
#     url    = "https://hooks.example.com/lsie"
#     secret = "a shared key of at least 16 bytes"
#     rules  = ["bars_*"]
#   }
