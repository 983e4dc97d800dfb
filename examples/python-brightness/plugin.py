#!/usr/bin/python3
"""python-brightness: the mean luma of each frame's centre third and a
"dark" flag against a per-stream threshold, the Python twin of
examples/brightness (same fields, same numbers to 1e-6):

    plugin "python-brightness" { threshold = 60 }

It shows attributes, errors as data, per-stream state and the logger.
"""
import numpy as np

import lsie_sdk as sdk

VERSION = "0.1.0"
DEFAULT_THRESHOLD = 40.0

# Rec.601 luma weights, applied in the Go example's order (r, then g, then b).
WEIGHTS = (0.299, 0.587, 0.114)


class Brightness(sdk.Plugin):
    def manifest(self) -> sdk.Manifest:
        return sdk.Manifest(
            name="python-brightness", version=VERSION,
            description="mean luma of the frame's centre third and a dark flag (Python)",
            inputs=[sdk.TOPIC_VIDEO_RGB24], outputs=["brightness.frame@1"],
            # The block's schema: the host checks `threshold` (and refuses
            # unknown attributes) before open_stream, and fills the default.
            attributes=[sdk.Attribute("threshold", "number", default="40", min="0", max="255",
                                      description="luma below which a frame is dark")],
            fields=[sdk.Field("centre_luma", "luma 0..255", "mean Rec.601 luma of the centre third of the frame"),
                    sdk.Field("dark", "0|1", "1 when centre_luma is below the stream's threshold "
                                             "(attribute, default 40)")])

    def open_stream(self, info: sdk.StreamInfo) -> sdk.Stream:
        threshold = DEFAULT_THRESHOLD
        if "threshold" in info.attributes:
            v = info.attributes["threshold"]
            try:
                threshold = float(v)
            except ValueError:
                threshold = -1.0
            if not 0 <= threshold <= 255:
                # A refusal as data: the host fails this stream, with this message.
                raise sdk.errorf("bad_input", "threshold %r: want a number in 0..255", v)
        sdk.logger().info("stream opened", stream=info.id, threshold=threshold)
        return Stream(info.id, threshold)


class Stream(sdk.Stream):
    def __init__(self, sid: str, threshold: float):
        self.id = sid
        self.threshold = threshold
        self.dark = False
        self.frames = 0

    def process_frame(self, frame: sdk.Frame) -> sdk.Fields:
        if frame.format != sdk.PixelFormat.RGB24:
            raise sdk.errorf("bad_input", "want RGB24 frames, got %s", frame.format.name)
        luma = centre_luma(frame.pixels)
        dark = luma < self.threshold
        if self.frames and dark != self.dark:
            sdk.logger().info("light changed", stream=self.id, dark=dark, luma=luma, pts=frame.pts_ns)
        self.dark = dark
        self.frames += 1
        return {"centre_luma": luma, "dark": 1.0 if dark else 0.0}

    def close(self) -> None:
        sdk.logger().debug("stream closed", stream=self.id, frames=self.frames)


def centre_luma(px: np.ndarray) -> float:
    """Mean Rec.601 luma of the middle third in both directions (at least
    one pixel). px is (height, width, 3), read in place: only the centre
    third is converted to float, for the arithmetic."""
    h, w = px.shape[0], px.shape[1]
    x0, y0 = w // 3, h // 3
    x1, y1 = max(2 * w // 3, x0 + 1), max(2 * h // 3, y0 + 1)
    c = px[y0:y1, x0:x1].astype(np.float64)
    luma = WEIGHTS[0] * c[..., 0] + WEIGHTS[1] * c[..., 1] + WEIGHTS[2] * c[..., 2]
    return float(luma.sum() / ((x1 - x0) * (y1 - y0)))


if __name__ == "__main__":
    sdk.serve(Brightness())
