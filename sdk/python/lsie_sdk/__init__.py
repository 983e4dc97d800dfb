"""lsie_sdk: write lsie plugins in Python.

A plugin is a class with manifest() and open_stream(info); the stream it
returns implements process_frame(frame) (frame.pixels is a read-only numpy
view of the host's shared memory: no copy), process_audio(audio) and
process_message(message) as its manifest's inputs need. serve(plugin) runs
it as the host expects (docs/PROTOCOL.md, the only source of this package).
See docs/PLUGIN_SDK.md, "Python plugins".
"""
from ._log import Logger, logger
from ._server import monotonic_ns, serve
from ._types import (PROTOCOL_VERSION, TOPIC_AUDIO_PCM16K, TOPIC_VIDEO_NV12_CUDA, TOPIC_VIDEO_RGB24,
                     TOPIC_VIDEO_RGBF32_CUDA, Answer, Attribute, Audio, Field, Fields, Frame, FrameResult, Item, Keypoint,
                     Manifest, Message, Object, PixelFormat, Plugin, PluginError, Stream, StreamInfo, errorf)

__all__ = [
    "PROTOCOL_VERSION", "TOPIC_AUDIO_PCM16K", "TOPIC_VIDEO_NV12_CUDA", "TOPIC_VIDEO_RGB24",
    "TOPIC_VIDEO_RGBF32_CUDA", "Answer", "Attribute", "Audio", "Field", "Fields", "Frame", "FrameResult", "Item", "Keypoint",
    "Logger", "Manifest", "Message", "Object", "PixelFormat", "Plugin", "PluginError", "Stream", "StreamInfo",
    "errorf", "logger", "monotonic_ns", "serve",
]
