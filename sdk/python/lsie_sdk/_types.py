"""What a plugin author sees: the manifest, inputs and results."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np

PROTOCOL_VERSION = 1

TOPIC_VIDEO_RGB24 = "video.rgb24"
TOPIC_AUDIO_PCM16K = "audio.pcm16k"
TOPIC_VIDEO_NV12_CUDA = "video.nv12.cuda"
TOPIC_VIDEO_RGBF32_CUDA = "video.rgbf32.cuda"

Fields = Mapping[str, float]


class PixelFormat(enum.IntEnum):
    """Pixel formats of frames (docs/PROTOCOL.md §7.4)."""
    RGB24 = 1
    GRAY8 = 2
    RGBA = 3
    NV12 = 4
    RGBF32 = 5


class PluginError(Exception):
    """An error reported as data: the host stores "code: message" with the
    input (frame, chunk, message) or refuses the stream (open_stream)."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code or "plugin_error"
        self.message = message


def errorf(code: str, fmt: str, *args: Any) -> PluginError:
    """PluginError(code, fmt % args), as the Go SDK's sdk.Errorf."""
    return PluginError(code, fmt % args if args else fmt)


@dataclass
class Field:
    """One output field; every value is a float64, so give it a unit."""
    name: str
    unit: str = ""
    description: str = ""


@dataclass
class Attribute:
    """One attribute a stream's plugin block may set. Values are text in the
    type's canonical form (docs/PROTOCOL.md §5.2); with a schema the host
    checks the block and hands open_stream canonical values, defaults
    filled in."""
    name: str
    type: str  # string | number | integer | bool | duration | enum | list | object
    default: Optional[str] = None
    required: bool = False
    min: Optional[str] = None
    max: Optional[str] = None
    choices: Sequence[str] = ()
    description: str = ""


@dataclass
class Manifest:
    """What the plugin is, consumes and produces (PROTOCOL.md §5.2)."""
    name: str
    version: str
    description: str = ""
    inputs: Sequence[str] = ()
    outputs: Sequence[str] = ()
    fields: Sequence[Field] = ()
    # labels: every Object.label the plugin may report; none: no objects.
    labels: Sequence[str] = ()
    # attributes: the plugin block's schema; None (no schema) lets every
    # attribute through unchecked, [] means the plugin takes none.
    attributes: Optional[Sequence[Attribute]] = None


@dataclass
class Keypoint:
    """A named point of an object, normalised like its box."""
    name: str
    x: float
    y: float
    score: float = 0.0


@dataclass
class Object:
    """One thing seen in a frame (or heard in a chunk): a box normalised to
    the frame (0..1, origin top left), a label the manifest declares, a
    score in 0..1, a track id stable within the stream (0: untracked)."""
    label: str
    x: float = 0.0
    y: float = 0.0
    w: float = 0.0
    h: float = 0.0
    score: float = 0.0
    track_id: int = 0
    attributes: Mapping[str, float] = field(default_factory=dict)
    keypoints: Sequence[Keypoint] = ()
    text: str = ""


@dataclass
class FrameResult:
    """What process_frame may return when it has objects beside fields."""
    fields: Fields = field(default_factory=dict)
    objects: Sequence[Object] = ()


@dataclass
class Item:
    """One time-stamped set of fields, e.g. one 10 ms audio hop."""
    pts_ns: int
    duration_ns: int = 0
    fields: Fields = field(default_factory=dict)
    objects: Sequence[Object] = ()


@dataclass
class Answer:
    """A plugin's answer to a topic message."""
    fields: Fields = field(default_factory=dict)
    text: str = ""
    payload: bytes = b""  # JSON, may be empty


@dataclass(frozen=True)
class Frame:
    """One analysis frame, read in place from the host's shared memory.

    pixels is a read-only numpy view of the mapped memfd, no copy: (height,
    width, 3) uint8 for RGB24. It is valid only while process_frame runs;
    copy (np.array(frame.pixels)) what you keep. data is the same memory as
    (rows, stride) bytes, row padding included.
    """
    stream_id: str
    seq: int
    pts_ns: int
    width: int
    height: int
    stride: int
    format: PixelFormat
    pixels: np.ndarray
    data: np.ndarray


@dataclass(frozen=True)
class Audio:
    """One record of the stream's 16 kHz mono sample line.

    A chunk has samples (int16, read-only); a gap has gap_samples > 0 and
    no samples (those samples will never come); end means the stream's
    audio is over: emit what is pending. Sample i is at media time
    i / sample_rate s, the time line of frames' pts_ns.
    """
    stream_id: str
    seq: int
    pts_ns: int
    first_sample: int
    sample_rate: int
    samples: np.ndarray
    gap_samples: int = 0
    end: bool = False
    captured_nanos: int = 0


@dataclass(frozen=True)
class Message:
    """A message another plugin published on a topic this plugin consumes."""
    topic: str
    producer: str
    pts_ns: int
    duration_ns: int
    text: str
    fields: Mapping[str, float]
    payload: bytes


@dataclass(frozen=True)
class StreamInfo:
    """The stream being opened: its id, its plugin block's attributes (all
    strings) and publish, which sends a message on one of the manifest's
    outputs to the plugins consuming it."""
    id: str
    handle: int
    attributes: Mapping[str, str]
    publish: Callable[..., None]


class Stream:
    """Per-stream state. Implement what the manifest's inputs need:

    process_frame(frame) -> dict | FrameResult      (video.rgb24)
    process_audio(audio) -> list[Item]              (audio.pcm16k)
    process_message(message) -> Answer | dict       (other plugins' topics)
    audio_progress() -> int | None                  (optional: media ns before
                                                     which every item is out)
    command(name, args: bytes) -> bytes             (optional: JSON result)

    A stream's methods run on one thread, in the order of its inputs; other
    streams run concurrently on their own threads.
    """

    def close(self) -> None:
        """Called once, after the stream's last input was answered."""


class Plugin:
    """A plugin: its manifest and a Stream per stream the host opens."""

    def manifest(self) -> Manifest:
        raise NotImplementedError

    def open_stream(self, info: StreamInfo) -> Stream:
        raise NotImplementedError


FrameOutput = Union[Fields, FrameResult, None]
MessageOutput = Union[Answer, Fields, None]
Progress = Optional[int]
