stream "a" {
  source = "test://ball"
  plugin "visual" { version = "~> 1.x" }
  plugin "acoustic" {
    version = 1.2
  }
  plugin "other" { version = ">= 1.0 < 2.0" }
  plugin "more" { version = "v1.2.3" }
  version = "~> 1.2"
}
