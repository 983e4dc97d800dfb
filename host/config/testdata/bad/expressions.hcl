segment {
  duration = var.seg
}
store {
  sqlite = upper("x.db")
}
stream "cam1" {
  source = "test://${pattern}"
  plugin "visual" {
    threshold = local.t
    ok        = 1 + 1
  }
}
