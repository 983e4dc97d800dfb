debug = true
segment {
  durration = "10s"
  window {}
}
stores {
  sqlite = "x.db"
}
stream "cam1" {
  source = "test://ball"
  fps    = 5
  video {
    fsp    = 5
    height = 360
  }
  audio {}
  plugin "visual" {
    model {}
  }
}
