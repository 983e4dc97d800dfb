segment {
  duration        = 10
  max_close_delay = true
}
store { sqlite = 1 }
api   { listen = null }
stream "cam1" {
  source   = 5
  realtime = "true"
  loop     = 1
  video {
    fps       = "five"
    max_width = 640.5
  }
  plugin "visual" {
    window = "2"
    nested = { a = 1 }
  }
}
