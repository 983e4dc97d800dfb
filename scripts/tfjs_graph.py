"""What the TF.js graph-model converters (scripts/convert-*.py) share: the
weights manifest's decoding and TF's node attributes, with numpy only.
Imported from the converters' own folder."""

import base64
import os

import numpy as np


class ConvertError(Exception):
    pass


def load_weights(in_dir, manifest):
    """Decodes every weight of the manifest: groups' files are read in order
    and their weights packed back to back across them."""
    out = {}
    for group in manifest:
        buf = b"".join(open(os.path.join(in_dir, p), "rb").read() for p in group["paths"])
        off = 0
        for w in group["weights"]:
            shape = [int(d) for d in w["shape"]]
            n = int(np.prod(shape, dtype=np.int64))
            q = w.get("quantization")
            if q:
                qdt = {"uint8": np.uint8, "uint16": np.uint16, "float16": np.float16}.get(q["dtype"])
                if qdt is None or w["dtype"] != "float32":
                    raise ConvertError("weight %s: quantization %s of %s is not supported" % (w["name"], q["dtype"], w["dtype"]))
                size = n * np.dtype(qdt).itemsize
                if off + size > len(buf):
                    raise ConvertError("weight %s runs past the end of %s" % (w["name"], group["paths"]))
                raw = np.frombuffer(buf, qdt, n, off)
                if q["dtype"] == "float16":
                    arr = raw.astype(np.float32)
                else:
                    # TF.js affine quantization: value = q * scale + min.
                    arr = (raw.astype(np.float32) * np.float32(q["scale"]) + np.float32(q["min"])).astype(np.float32)
            else:
                dt = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}.get(w["dtype"])
                if dt is None:
                    raise ConvertError("weight %s: unsupported dtype %s" % (w["name"], w["dtype"]))
                size = n * np.dtype(dt).itemsize
                if off + size > len(buf):
                    raise ConvertError("weight %s runs past the end of %s" % (w["name"], group["paths"]))
                arr = np.frombuffer(buf, dt, n, off)
            out[w["name"]] = arr.reshape(shape).copy()
            off += size
        if off != len(buf):
            raise ConvertError("weights of %s use %d of %d bytes" % (group["paths"], off, len(buf)))
    return out


def attr(n, key):
    return n.get("attr", {}).get(key)


def attr_s(n, key, default=None):
    a = attr(n, key)
    return default if a is None else base64.b64decode(a["s"]).decode()


def attr_b(n, key, default=False):
    a = attr(n, key)
    return default if a is None else bool(a.get("b", False))


def attr_i(n, key, default=0):
    a = attr(n, key)
    return default if a is None else int(a.get("i", 0))


def attr_ints(n, key, default=None):
    a = attr(n, key)
    return default if a is None else [int(i) for i in a.get("list", {}).get("i", [])]


def attr_strs(n, key):
    a = attr(n, key) or {}
    return [base64.b64decode(s).decode() for s in a.get("list", {}).get("s", [])]


def same_pads(size, k, s, d):
    """TF SAME padding for one spatial axis: (before, after), the extra
    pixel going after, as TF does."""
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2
