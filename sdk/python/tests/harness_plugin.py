#!/usr/bin/python3
"""pyharness: a Python plugin that uses every part of lsie_sdk, for
cmd/lsie-host's TestPythonSDKHarness (sdk/plugintest drives it over the
real protocol). Not an example: each answer is made to be checked."""
import json

import numpy as np

import lsie_sdk as sdk


class Harness(sdk.Plugin):
    def manifest(self) -> sdk.Manifest:
        return sdk.Manifest(name="pyharness", version="0.0.1", description="lsie_sdk's test plugin",
                            inputs=[sdk.TOPIC_VIDEO_RGB24, sdk.TOPIC_AUDIO_PCM16K, "test.in@1"],
                            outputs=["test.out@1"], labels=["square"],
                            # Every field a result carries is declared: the host
                            # refuses undeclared ones (malformed_result).
                            fields=[sdk.Field(n) for n in ("r", "g", "b", "width", "height", "stride", "rms", "n",
                                                           "first", "end", "gap", "len", "x2")])

    def open_stream(self, info: sdk.StreamInfo) -> sdk.Stream:
        if info.attributes.get("refuse") == "yes":
            raise sdk.errorf("bad_input", "refused: %s", info.id)
        return Stream(info)


class Stream(sdk.Stream):
    def __init__(self, info: sdk.StreamInfo):
        self.info = info
        self.progress = 0

    def process_frame(self, frame: sdk.Frame) -> sdk.FrameResult:
        r, g, b = (int(v) for v in frame.pixels[frame.height // 2, frame.width // 2])
        if r == 1:
            raise sdk.errorf("bad_input", "red %d", r)
        if r == 2:
            raise ValueError("boom")
        if frame.pixels.flags.writeable or frame.pixels.base is None:
            raise sdk.errorf("bad_input", "pixels are a writable copy")
        return sdk.FrameResult(
            fields={"r": r, "g": g, "b": b, "width": frame.width, "height": frame.height, "stride": frame.stride},
            objects=[sdk.Object(label="square", x=0.25, y=0.25, w=0.5, h=0.5, score=0.9, track_id=3,
                                attributes={"area": 0.25}, keypoints=[sdk.Keypoint("centre", 0.5, 0.5, 1.0)],
                                text="hi")])

    def process_audio(self, audio: sdk.Audio) -> list:
        if audio.end:
            return [sdk.Item(pts_ns=self.progress, fields={"end": 1})]
        if audio.gap_samples:
            return [sdk.Item(pts_ns=audio.pts_ns, fields={"gap": audio.gap_samples})]
        x = audio.samples.astype(np.float64) / 32768
        n = len(audio.samples)
        dur = n * 1_000_000_000 // audio.sample_rate
        self.info.publish("test.out@1", audio.pts_ns, dur, text=f"chunk {audio.first_sample}",
                          fields={"n": n}, payload=json.dumps({"first": audio.first_sample}))
        self.progress = audio.pts_ns + dur
        return [sdk.Item(pts_ns=audio.pts_ns, duration_ns=dur,
                         fields={"rms": float(np.sqrt(np.mean(x * x))), "n": n, "first": audio.first_sample})]

    def audio_progress(self) -> int:
        return self.progress

    def process_message(self, m: sdk.Message) -> sdk.Answer:
        return sdk.Answer(fields={"len": len(m.text), "x2": 2 * m.fields.get("x", 0)}, text=m.text.upper(),
                          payload=json.dumps({"producer": m.producer, "pts": m.pts_ns}).encode())

    def command(self, name: str, args: bytes) -> bytes:
        if name != "echo":
            raise sdk.errorf("bad_input", "no command %r", name)
        return args


if __name__ == "__main__":
    sdk.serve(Harness())
