stream "cam1" {
  source = "test://ball"
  video {
    fps = 
  }
}
