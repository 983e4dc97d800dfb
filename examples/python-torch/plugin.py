#!/usr/bin/python3
"""python-torch: edges in each frame, found by a small PyTorch model.

The model is built here from code: a fixed 3×3 Sobel convolution on the
frame's Rec.601 luma (no weights to download). For each frame it reports
how strong and how widespread the edges are, and one object: the box that
holds the strong edges, labelled "edges".

    plugin "python-torch" { threshold = 0.25 }   # edge strength 0..1 that counts

Torch is imported in the background as the plugin starts, so the handshake
is not held up by it (docs/PROTOCOL.md §2: heavy loading comes after the
handshake line); the first frame waits for it if it has to.
"""
from __future__ import annotations

import os
import threading
import warnings
from typing import Any

import numpy as np

import lsie_sdk as sdk

VERSION = "0.1.0"
DEFAULT_THRESHOLD = 0.25
# Sobel's largest response to 0..255 luma: 4 × 255 in each direction.
FULL_SCALE = 4 * 255 * 2 ** 0.5


class Model:
    """The edge detector: luma, then a fixed Sobel conv2d, then |gradient|."""

    def __init__(self) -> None:
        import torch  # Debian's python3-torch
        torch.set_num_threads(min(2, os.cpu_count() or 1))
        self.torch = torch
        sobel_x = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
        self.conv = torch.nn.Conv2d(1, 2, kernel_size=3, bias=False)  # no padding: borders are not edges
        with torch.no_grad():
            self.conv.weight.copy_(torch.stack([sobel_x, sobel_x.t()]).unsqueeze(1))
        self.conv.eval()
        self.luma = torch.tensor([0.299, 0.587, 0.114])

    def edges(self, pixels: np.ndarray) -> Any:
        """Edge strength in 0..1 of every inner pixel of an (h, w, 3) frame."""
        torch = self.torch
        with warnings.catch_warnings():
            # from_numpy shares the frame's read-only shared memory rather
            # than copying it; nothing here writes to it, so torch's warning
            # about non-writable arrays does not apply.
            warnings.simplefilter("ignore", UserWarning)
            rgb = torch.from_numpy(pixels)
        with torch.no_grad():
            y = rgb.to(torch.float32) @ self.luma  # (h, w), a new tensor
            g = self.conv(y[None, None])[0]  # (2, h-2, w-2)
            return (g.pow(2).sum(0).sqrt() / FULL_SCALE).clamp_(0, 1)


class Loader:
    """Builds the model once, in the background, for every stream."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self._model: Model | None = None
        self._err: BaseException | None = None
        threading.Thread(target=self._load, name="torch-load", daemon=True).start()

    def _load(self) -> None:
        try:
            self._model = Model()
        except BaseException as e:  # reported on every frame, not a crash
            self._err = e
        self._done.set()

    def get(self) -> Model:
        self._done.wait()
        if self._model is None:
            raise sdk.errorf("model_error", "building the model: %s", self._err)
        return self._model


class EdgePlugin(sdk.Plugin):
    def __init__(self) -> None:
        self.model = Loader()

    def manifest(self) -> sdk.Manifest:
        return sdk.Manifest(
            name="python-torch", version=VERSION,
            description="edge strength by a fixed Sobel convolution in PyTorch (Python)",
            inputs=[sdk.TOPIC_VIDEO_RGB24], outputs=["edges.frame@1"], labels=["edges"],
            attributes=[sdk.Attribute("threshold", "number", default=str(DEFAULT_THRESHOLD), min="0", max="1",
                                      description="edge strength (0..1) that counts as an edge")],
            fields=[sdk.Field("edge_mean", "0..1", "mean edge strength of the frame"),
                    sdk.Field("edge_max", "0..1", "strongest edge"),
                    sdk.Field("edge_fraction", "0..1", "share of pixels whose edge strength passes the threshold")])

    def open_stream(self, info: sdk.StreamInfo) -> sdk.Stream:
        t = DEFAULT_THRESHOLD
        if "threshold" in info.attributes:
            try:
                t = float(info.attributes["threshold"])
            except ValueError:
                t = -1
            if not 0 < t <= 1:
                raise sdk.errorf("bad_input", "threshold %r: want a number in (0, 1]", info.attributes["threshold"])
        return Stream(self.model, t)


class Stream(sdk.Stream):
    def __init__(self, model: Loader, threshold: float):
        self.model = model
        self.threshold = threshold

    def process_frame(self, frame: sdk.Frame) -> sdk.FrameResult:
        if frame.format != sdk.PixelFormat.RGB24 or frame.width < 3 or frame.height < 3:
            raise sdk.errorf("bad_input", "want RGB24 frames of at least 3x3, got %s %dx%d",
                             frame.format.name, frame.width, frame.height)
        e = self.model.get().edges(frame.pixels)
        strong = e > self.threshold
        fields = {"edge_mean": float(e.mean()), "edge_max": float(e.max()),
                  "edge_fraction": float(strong.to(e.dtype).mean())}
        objects = []
        if bool(strong.any()):
            ys, xs = strong.nonzero(as_tuple=True)
            # +1: the convolution's output starts one pixel in.
            x0, x1 = int(xs.min()) + 1, int(xs.max()) + 2
            y0, y1 = int(ys.min()) + 1, int(ys.max()) + 2
            objects.append(sdk.Object(label="edges", x=x0 / frame.width, y=y0 / frame.height,
                                      w=(x1 - x0) / frame.width, h=(y1 - y0) / frame.height,
                                      score=fields["edge_fraction"]))
        return sdk.FrameResult(fields=fields, objects=objects)


if __name__ == "__main__":
    sdk.serve(EdgePlugin())
