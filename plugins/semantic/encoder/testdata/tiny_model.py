"""Builds a tiny sentence-encoder ONNX model for the encoder tests and
computes, with numpy, the embeddings the Go side must reproduce.

stdin: JSON {"table": [[...]] (V x H), "types": [[...]] (2 x H), "out": path,
             "pooled": bool, "int32": bool, "sequences": [[ids...], ...]}
The model: states = Gather(table, input_ids) + Gather(types, token_type_ids),
times attention_mask; output [1,T,H], or its mean over T, [1,H], when pooled.
stdout: JSON list of the L2-normalised mean-pooled embedding per sequence.
"""
import json
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

cfg = json.load(sys.stdin)
table = np.array(cfg["table"], dtype=np.float32)
types = np.array(cfg["types"], dtype=np.float32)
itype = TensorProto.INT32 if cfg["int32"] else TensorProto.INT64
H = table.shape[1]

inputs = [helper.make_tensor_value_info(n, itype, [1, "T"]) for n in ("input_ids", "attention_mask", "token_type_ids")]
nodes = [
    helper.make_node("Gather", ["table", "input_ids"], ["tok"]),
    helper.make_node("Gather", ["types", "token_type_ids"], ["typ"]),
    helper.make_node("Add", ["tok", "typ"], ["sum"]),
    helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
    helper.make_node("Unsqueeze", ["maskf", "axis"], ["mask3"]),
    helper.make_node("Mul", ["sum", "mask3"], ["states"]),
]
out_name = "last_hidden_state"
if cfg["pooled"]:
    nodes.append(helper.make_node("ReduceMean", ["states"], ["sentence_embedding"], axes=[1], keepdims=0))
    out_name = "sentence_embedding"
    out = helper.make_tensor_value_info(out_name, TensorProto.FLOAT, [1, H])
else:
    nodes[-1].output[0] = out_name
    out = helper.make_tensor_value_info(out_name, TensorProto.FLOAT, [1, "T", H])
inits = [
    numpy_helper.from_array(table, "table"),
    numpy_helper.from_array(types, "types"),
    numpy_helper.from_array(np.array([2], dtype=np.int64), "axis"),
]
graph = helper.make_graph(nodes, "tiny_encoder", inputs, [out], inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, cfg["out"])

res = []
for ids in cfg.get("sequences") or []:
    ids = np.array(ids)
    states = table[ids] + types[np.zeros_like(ids)]  # one segment: type 0
    mask = np.ones(len(ids), dtype=np.float32)
    mean = (states * mask[:, None]).sum(0) / mask.sum()
    n = np.linalg.norm(mean)
    res.append((mean / n if n > 0 else mean).tolist())
json.dump(res, sys.stdout)
