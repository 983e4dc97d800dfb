segment "main" {}
stream {
  source = "test://ball"
}
stream "a" "b" {
  source = "test://ball"
}
stream "" {
  source = "test://ball"
}
stream "cam.1" {
  source = "test://ball"
  video "hd" {}
  plugin {}
  plugin "visual" "v2" {}
  plugin "vis ual" {}
}
