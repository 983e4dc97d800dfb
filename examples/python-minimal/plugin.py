#!/usr/bin/python3
"""python-minimal: the red value of each frame's centre pixel.

The Python twin of examples/minimal: a template, and the transport-only
plugin cmd/handoff-bench drives to measure the Python SDK's per-frame cost
(its own work per frame is negligible). Build: make build (writes
bin/examples/python-minimal), or
    python3 sdk/python/build.py plugin examples/python-minimal/plugin.py bin/plugins/python-minimal
"""
import lsie_sdk as sdk


class Minimal(sdk.Plugin):
    def manifest(self) -> sdk.Manifest:
        return sdk.Manifest(name="python-minimal", version="0.1.0",
                            description="example: the red value of each frame's centre pixel",
                            inputs=[sdk.TOPIC_VIDEO_RGB24], outputs=["minimal.frame@1"],
                            fields=[sdk.Field("centre_red", unit="0..255")],
                            attributes=[])  # a schema that takes no attributes

    def open_stream(self, info: sdk.StreamInfo) -> sdk.Stream:
        # One process serves every stream: per-stream state lives here.
        return Stream()


class Stream(sdk.Stream):
    def process_frame(self, frame: sdk.Frame) -> sdk.Fields:
        # frame.pixels is the host's shared memory, read in place.
        return {"centre_red": float(frame.pixels[frame.height // 2, frame.width // 2, 0])}


if __name__ == "__main__":
    sdk.serve(Minimal())
