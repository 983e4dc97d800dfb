# Streams whose sources the policy refuses, reported at their source
# attribute; a refused file is not opened, so a missing one reads the same.
sources {
  allow = ["test", "file:/media/", "rtsp://*.cams.example"]
}

stream "ok"      { source = "rtsp://door.cams.example/live" }
stream "etc"     { source = "file:///etc/passwd" }
stream "missing" { source = "file:///nonexistent/lsie/clip.mp4" }
stream "sibling" { source = "file:///media2/clip.mp4" }
stream "apex"    { source = "rtsp://cams.example/live" }
stream "creds"   { source = "rtsps://admin:hunter2@cam.other.example/live" }
