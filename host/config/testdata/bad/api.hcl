# Every api problem: an exposed listen address without a token, a token that
# cannot travel in a header (never quoted back), and allowed_hosts entries
# that are not Host values, each reported at its own element.
api {
  listen = "0.0.0.0:8080"
  allowed_hosts = [
    "lsie.example.com",
    "https://lsie.example.com/",
    "lsie.example.com:0",
    "fd00::1",
    "[fd00::1]:8443",
  ]
}
