segment {
  duration        = "0.5s"
  max_close_delay = "50ms"
}
stream "lo" {
  source = "test://ball"
  video {
    fps       = 0
    max_width = 15
  }
  plugin "p" { window = 0 }
}
stream "hi" {
  source = "test://ball"
  video {
    fps       = 61
    max_width = 7681
  }
  plugin "p" { window = 65 }
}
stream "neg" {
  source = "test://ball"
  video { fps = -1 }
}
