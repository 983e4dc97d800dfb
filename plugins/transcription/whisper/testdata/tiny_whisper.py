"""Writes a tiny Whisper-shaped encoder/decoder pair and its vocabulary.

usage: tiny_whisper.py OUTDIR [VARIANT]

The encoder keeps every second frame of its input, transposed, as
last_hidden_state [1, 1500, n_mels]. The decoder ignores the audio (it is
wired in, times zero, so that the input is used) and emits a fixed chain:
the logits of position t are 10 at NEXT[input_ids[t]] and 0 elsewhere, so
greedy decoding walks NEXT from <|transcribe|>. Variants:
  normal   Optimum's names, symbolic n_mels, timestamps named in added_tokens.json
  mels128  encoder input fixed at [1, 128, 3000]
  oldvocab timestamps not named (they follow <|notimestamps|>)
  badenc   encoder input "mel" of rank 2
  merged   decoder with an extra use_cache_branch input, like decoder_model_merged.onnx
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out, variant = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "normal")
os.makedirs(out, exist_ok=True)

text = ["\u0120", "\u0120And", "\u0120so", ",", "\u0120my", "\u0120fellow",
        "\u0120Americans", "\u0120caf", "\u00c3\u00a9", "\u0120junk", "<|endoftext|>"]
special = ["<|startoftranscript|>", "<|en|>", "<|de|>", "<|translate|>", "<|transcribe|>",
           "<|startoflm|>", "<|startofprev|>", "<|nospeech|>", "<|notimestamps|>"]
vocab = {t: i for i, t in enumerate(text)}
added = {t: len(text) + i for i, t in enumerate(special)}
ts0 = len(text) + len(special)
if variant != "oldvocab":
    for k in range(1501):
        added["<|%.2f|>" % (k * 0.02)] = ts0 + k
V = ts0 + 1501
ids = dict(vocab, **added)


def ts(sec):
    return ts0 + int(round(sec / 0.02))


chain = [ids["<|transcribe|>"], ts(0.0), ids["\u0120And"], ids["\u0120so"], ids[","], ts(1.0), ts(1.2),
         ids["\u0120my"], ids["\u0120fellow"], ids["\u0120Americans"], ts(2.5), ts(2.6),
         ids["\u0120caf"], ids["\u00c3\u00a9"], ts(3.0), ids["<|endoftext|>"], ids["\u0120junk"]]
nxt = np.full(V, ids["<|endoftext|>"], dtype=np.int64)
for a, b in zip(chain, chain[1:]):
    nxt[a] = b
nxt[ids["\u0120junk"]] = ids["\u0120junk"]

with open(os.path.join(out, "vocab.json"), "w") as f:
    json.dump(vocab, f, ensure_ascii=False)
with open(os.path.join(out, "added_tokens.json"), "w") as f:
    json.dump(added, f)


def save(graph, name):
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(out, name))


# Encoder.
if variant == "badenc":
    x = helper.make_tensor_value_info("mel", TensorProto.FLOAT, [80, 3000])
else:
    mels = 128 if variant == "mels128" else "feature_size"
    x = helper.make_tensor_value_info("input_features", TensorProto.FLOAT, ["batch_size", mels, 3000])
h = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch_size", 1500, None])
nodes = [
    helper.make_node("Transpose", ["input_features" if variant != "badenc" else "mel"], ["t"],
                     perm=[0, 2, 1] if variant != "badenc" else [1, 0]),
    helper.make_node("Slice", ["t", "starts", "ends", "axes", "steps"], ["last_hidden_state"]),
]
inits = [numpy_helper.from_array(np.array(v, dtype=np.int64), n) for n, v in
         [("starts", [0]), ("ends", [3000]), ("axes", [1 if variant != "badenc" else 0]), ("steps", [2])]]
save(helper.make_graph(nodes, "encoder", [x], [h], inits), "encoder_model.onnx")

# Decoder.
ins = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "decoder_sequence_length"]),
       helper.make_tensor_value_info("encoder_hidden_states", TensorProto.FLOAT, ["batch_size", "encoder_sequence_length", None])]
if variant == "merged":
    ins.append(helper.make_tensor_value_info("use_cache_branch", TensorProto.BOOL, [1]))
logits = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch_size", "decoder_sequence_length", V])
nodes = [
    helper.make_node("Gather", ["next", "input_ids"], ["nid"]),
    helper.make_node("OneHot", ["nid", "depth", "values"], ["hot"], axis=-1),
    helper.make_node("ReduceMean", ["encoder_hidden_states"], ["m"], axes=[1, 2], keepdims=1),
    helper.make_node("Mul", ["m", "zero"], ["z"]),
    helper.make_node("Add", ["hot", "z"], ["logits"]),
]
inits = [numpy_helper.from_array(nxt, "next"),
         numpy_helper.from_array(np.array(V, dtype=np.int64), "depth"),
         numpy_helper.from_array(np.array([0, 10], dtype=np.float32), "values"),
         numpy_helper.from_array(np.array(0, dtype=np.float32), "zero")]
save(helper.make_graph(nodes, "decoder", ins, [logits], inits), "decoder_model.onnx")
