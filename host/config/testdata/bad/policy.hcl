# A sources policy with bad entries, each reported at its element, and
# streams whose sources it refuses, reported at their source attributes.
sources {
  allow = [
    "test",
    "file:relative/dir",
    "ftp://files.example",
    "rtsp://*.cams.example",
    "rtsp://cam.example:99999",
  ]
}
