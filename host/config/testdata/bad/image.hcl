stream "png" { source = "file:still.png" }
stream "jpeg" { source = "file:still.jpg" }
stream "test" {
  source = "test://ball"
  image { fps = 2 }
}
stream "fast" {
  source = "file:still.png"
  image { fps = 61 }
}
stream "twice" {
  source = "file:still.png"
  image {}
  image { fps = 1 }
}
stream "typo" {
  source = "file:still.png"
  image {
    fsp = 1
    video {}
  }
}
stream "label" {
  source = "file:still.jpg"
  image "x" {}
}
stream "missing" {
  source = "file:///nonexistent/lsie/gone.png"
  image { fps = 0 }
}
