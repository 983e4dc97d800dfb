stream "noscheme" { source = "/tmp/clip.mp4" }
stream "relative" { source = "file://clips/clip.mp4" }
stream "missing"  { source = "file:///nonexistent/lsie/clip.mp4" }
stream "dir"      { source = "file:///" }
stream "rtsp"     { source = "rtsp:///live" }
stream "pattern"  { source = "test://nope" }
stream "param"    { source = "test://ball?size=10" }
stream "width"    { source = "test://ball?width=8" }
stream "dur"      { source = "test://ball?duration=forever" }
stream "none"     {}
