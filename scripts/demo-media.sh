#!/usr/bin/env bash
# Generates the demo clip with GStreamer: 10 s of a moving pattern, H.264 in
# MP4, 1280x720 at 30 fps. Media is made here, never committed.
set -euo pipefail
cd "$(dirname "$0")/.."
out=var/media/demo.mp4
[ -s "$out" ] && exit 0
mkdir -p var/media
gst-launch-1.0 -q videotestsrc num-buffers=300 pattern=ball motion=sweep \
  ! video/x-raw,width=1280,height=720,framerate=30/1 \
  ! x264enc speed-preset=ultrafast key-int-max=30 ! video/x-h264,profile=baseline \
  ! mp4mux ! filesink location="$out.tmp"
mv "$out.tmp" "$out"
echo "setup: generated $out"
