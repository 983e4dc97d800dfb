segment { duration = "2s" }
segment { duration = "3s" }

stream "cam1" {
  source = "test://ball"
  video { fps = 5 }
  video { fps = 10 }
  plugin "visual" {}
  plugin "audio" {}
  plugin "visual" {}
}

stream "cam2" { source = "test://snow" }
stream "cam1" { source = "test://smpte" }
stream "cam2" { source = "test://smpte" }
