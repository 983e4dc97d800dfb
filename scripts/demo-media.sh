#!/usr/bin/env bash
# Builds the demo clip var/media/demo.mp4 from real media, with GStreamer only:
#
#   video  H.264 (constrained baseline, keyframe every 30 frames), 1280x720,
#          30 fps: a slideshow of var/media/faces/* in name order, each photo
#          scaled to fit 1280x720 with its aspect kept and black borders
#          (letterbox/pillarbox), shown for the same number of frames
#   audio  AAC-LC 48 kHz stereo 128 kbit/s: var/media/jfk.wav (16 kHz mono),
#          resampled
#   in MP4 (faststart).
#
# Length: the audio's length decides it. total = round(audio s * 30) frames,
# per photo = round(total / photos) frames, video = photos * per photo. With
# the pinned media: jfk.wav is 11.0 s -> 330 frames, 6 photos -> 55 frames
# (1.83 s) each -> video exactly 11.0 s (the file reads ~11.02 s: AAC's last
# frame).
#
# Media comes from scripts/fetch-media.sh (pinned npm tarballs, sha256-checked);
# nothing is committed. No fallbacks: a missing tool or element is an error.
# Idempotent: the clip is rebuilt only when its stamp (var/cache/media/) does
# not match the inputs, this script, and the clip's own sha256. Built as
# demo.mp4.tmp, checked with gst-discoverer-1.0, then renamed.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "demo-media: $*" >&2; exit 1; }

W=1280 H=720 FPS=30

# --- tools and elements ------------------------------------------------------
need_tool() { command -v "$1" >/dev/null 2>&1 || die "$1 is missing (apt-get install $2; scripts/setup.sh does it)"; }
need_tool gst-launch-1.0 gstreamer1.0-tools
need_tool gst-inspect-1.0 gstreamer1.0-tools
need_tool gst-discoverer-1.0 gstreamer1.0-plugins-base-apps
need_tool sha256sum coreutils

missing=()
for e in \
  filesrc:libgstreamer1.0-0 filesink:libgstreamer1.0-0 concat:libgstreamer1.0-0 queue:libgstreamer1.0-0 \
  decodebin:gstreamer1.0-plugins-base videoconvert:gstreamer1.0-plugins-base videoscale:gstreamer1.0-plugins-base \
  audioconvert:gstreamer1.0-plugins-base audioresample:gstreamer1.0-plugins-base \
  jpegdec:gstreamer1.0-plugins-good jpegenc:gstreamer1.0-plugins-good imagefreeze:gstreamer1.0-plugins-good \
  videoflip:gstreamer1.0-plugins-good wavparse:gstreamer1.0-plugins-good mp4mux:gstreamer1.0-plugins-good \
  h264parse:gstreamer1.0-plugins-bad aacparse:gstreamer1.0-plugins-good \
  x264enc:gstreamer1.0-plugins-ugly avenc_aac:gstreamer1.0-libav; do
  gst-inspect-1.0 --exists "${e%%:*}" || missing+=("${e%%:*} (${e#*:})")
done
((${#missing[@]} == 0)) || die "GStreamer elements missing: ${missing[*]}"

# --- inputs --------------------------------------------------------------------
bash scripts/fetch-media.sh

out=var/media/demo.mp4
wav=var/media/jfk.wav
stampdir=var/cache/media
stamp=$stampdir/demo.mp4.stamp
shopt -s nullglob
photos=(var/media/faces/*)
shopt -u nullglob
((${#photos[@]})) || die "no photos in var/media/faces/"
[[ -f $wav ]] || die "$wav is missing"

key=$( { sha256sum "$wav" "${photos[@]}" scripts/demo-media.sh; echo "$W $H $FPS"; } | sha256sum | cut -d' ' -f1)
if [[ -f $out && -f $stamp ]] \
   && [[ $(<"$stamp") == "$key $(sha256sum "$out" | cut -d' ' -f1)" ]]; then
  exit 0
fi

# --- timing --------------------------------------------------------------------
# "Duration: 0:00:11.000000000" -> nanoseconds
dur_ns() {
  local d h m s
  d=$(gst-discoverer-1.0 "$1" 2>/dev/null | sed -n 's/^ *Duration: *\([0-9:.]*\).*/\1/p' | head -1)
  [[ $d =~ ^([0-9]+):([0-9]+):([0-9]+)\.([0-9]{9})$ ]] || die "cannot read the duration of $1 (got '$d')"
  h=${BASH_REMATCH[1]} m=${BASH_REMATCH[2]} s=${BASH_REMATCH[3]}
  echo $(( ((10#$h * 60 + 10#$m) * 60 + 10#$s) * 1000000000 + 10#${BASH_REMATCH[4]} ))
}
audio_ns=$(dur_ns "$wav")
n=${#photos[@]}
total=$(( (audio_ns * FPS + 500000000) / 1000000000 ))
per=$(( (total + n / 2) / n )); ((per >= 1)) || per=1
frames=$(( per * n ))

mkdir -p "$stampdir" var/media
work=$(mktemp -d "$stampdir/demo.build.XXXXXX")
trap 'rm -rf "$work" "$out.tmp"' EXIT

# --- 1. photos -> same-size JPEG sequence --------------------------------------
# decodebin takes any still format (JPEG, PNG, ...); videoflip applies an EXIF
# orientation; videoscale add-borders keeps the aspect (square pixels forced).
for i in "${!photos[@]}"; do
  gst-launch-1.0 -q filesrc location="${photos[i]}" ! decodebin ! videoconvert \
    ! videoflip video-direction=auto ! videoscale add-borders=true method=lanczos \
    ! "video/x-raw,width=$W,height=$H,pixel-aspect-ratio=1/1" ! videoconvert \
    ! jpegenc quality=95 ! filesink location="$(printf '%s/slide-%03d.jpg' "$work" "$i")" \
    || die "cannot decode/scale ${photos[i]}"
done

# --- 2. slideshow + speech -> MP4 ----------------------------------------------
# Each slide is frozen for $per frames (imagefreeze), concat plays them in turn.
branches=()
for i in "${!photos[@]}"; do
  branches+=(filesrc location="$(printf '%s/slide-%03d.jpg' "$work" "$i")" ! jpegdec
             ! imagefreeze num-buffers="$per" ! "video/x-raw,framerate=$FPS/1" ! c.)
done
gst-launch-1.0 -q \
  mp4mux name=mux faststart=true ! filesink location="$out.tmp" \
  concat name=c ! videoconvert ! video/x-raw,format=I420 \
    ! x264enc speed-preset=veryfast key-int-max=$FPS ! video/x-h264,profile=baseline \
    ! h264parse ! queue ! mux. \
  filesrc location="$wav" ! wavparse ! audioconvert ! audioresample \
    ! audio/x-raw,rate=48000,channels=2 ! avenc_aac bitrate=128000 ! aacparse ! queue ! mux. \
  "${branches[@]}" \
  || die "encoding $out failed"

# --- 3. check, then publish ------------------------------------------------------
info=$(gst-discoverer-1.0 -v "$out.tmp" 2>&1) || die "gst-discoverer-1.0 cannot read $out.tmp:
$info"
for want in 'video/x-h264' "width=(int)$W" "height=(int)$H" "framerate=(fraction)$FPS/1" \
            'audio/mpeg, mpegversion=(int)4'; do
  grep -qF "$want" <<<"$info" || die "$out.tmp lacks '$want'; gst-discoverer-1.0 says:
$info"
done
got_ns=$(dur_ns "$out.tmp")
want_ns=$(( frames * 1000000000 / FPS )); ((audio_ns <= want_ns)) || want_ns=$audio_ns
(( got_ns >= want_ns - 50000000 && got_ns <= want_ns + 200000000 )) \
  || die "$out.tmp lasts ${got_ns} ns, expected about ${want_ns} ns"

mv -f "$out.tmp" "$out"
printf '%s %s\n' "$key" "$(sha256sum "$out" | cut -d' ' -f1)" >"$stamp"
echo "demo-media: built $out ($n photos x $per frames at $FPS fps = $frames frames, audio $((audio_ns / 1000000)) ms)"
