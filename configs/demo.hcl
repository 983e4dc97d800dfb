# Demo: two synthetic streams analysed by the visual plugin, short segments
# so results show up quickly. Runs anywhere: test:// sources need no files.
# Every field is documented in example.hcl.

segment {
  duration = "2s"
}

stream "ball" {
  source   = "test://ball?width=640&height=360&fps=30"
  realtime = true
  video {
    fps       = 5
    max_width = 640
  }
  plugin "visual" {}
}

stream "bars" {
  source   = "test://smpte?width=640&height=360&fps=30"
  realtime = true
  video {
    fps       = 5
    max_width = 640
  }
  plugin "visual" {}
}
