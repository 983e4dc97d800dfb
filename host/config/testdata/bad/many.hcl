# Many problems in one file: every one is reported, in file order.
segment {
  duration        = "10"
  max_close_delay = "20m"
  lenght          = "5s"
}

store {
  sqlite = ""
}

api {
  listen = "localhost"
}

stream "cam1" {
  source   = "test://ball?duration=3s"
  realtime = "yes"
  fsp      = 5
  video {
    fps       = 0
    max_width = "wide"
  }
  plugin "visual" {
    window    = 100
    threshold = 0.5
    labels    = ["a", "b"]
  }
  plugin "visual" {}
}

stream "cam1" {
  source = "file:///nonexistent/lsie/clip.mp4"
}

stream "bad id!" {
}

camera "x" {}
