"""The data-plane records of docs/PROTOCOL.md §6, byte by byte.

Every record is one SOCK_SEQPACKET packet: byte 0 is its type, integers are
little-endian, and nothing here touches pixels (those stay in shared memory).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

MAX_MESSAGE = 65536  # §6.1: the largest packet either side may send

MSG_REGION = 0x01
MSG_FRAME = 0x02
MSG_DROP_REGION = 0x03
MSG_AUDIO = 0x04
MSG_DELIVER = 0x05
MSG_CUDA_REGION = 0x06
MSG_RESULT = 0x81
MSG_PUBLISH = 0x82

MAX_SLOTS = 65536
MAX_FRAME_BYTES = 1 << 30

AUDIO_GAP = 1
AUDIO_NONE = 2
AUDIO_END = 4

REGION = struct.Struct("<B3xIII")  # type, id, slots, frame bytes
DESCRIPTOR = struct.Struct("<IIIBBHIIIIQQqq")  # §6.3 MsgFrame, bytes 8..71
FRAME_SIZE = 8 + DESCRIPTOR.size
DROP_REGION = struct.Struct("<B3xI")
AUDIO = struct.Struct("<BBxxIqqQIIq")
DELIVER = struct.Struct("<B3xIQ")
RESULT = struct.Struct("<B3xIIIQ")  # type, region, slot, handle, generation
PUBLISH = struct.Struct("<B3xI")

assert (REGION.size, DESCRIPTOR.size, DROP_REGION.size, AUDIO.size, DELIVER.size, RESULT.size, PUBLISH.size) == \
    (16, 64, 8, 48, 16, 24, 8)

MEMORY_HOST = 0
MEMORY_CUDA = 1

# §7.4: bytes per pixel of the first plane, by pixel format.
BYTES_PER_PIXEL = {1: 3, 2: 1, 3: 4, 4: 1, 5: 4}


def rows(fmt: int, height: int) -> int:
    """Rows of stride bytes a frame of this format and height occupies."""
    if fmt == 4:  # nv12: luma, then half-height interleaved chroma
        return height + (height + 1) // 2
    if fmt == 5:  # rgbf32: three planes
        return 3 * height
    return height


class WireError(ValueError):
    """A packet that does not follow the protocol."""


@dataclass(frozen=True)
class Region:
    id: int
    slots: int
    frame_bytes: int


def parse_region(b: bytes) -> Region:
    if len(b) != REGION.size:
        raise WireError(f"region record of {len(b)} bytes, want {REGION.size}")
    _, rid, slots, frame_bytes = REGION.unpack(b)
    if not 1 <= slots <= MAX_SLOTS:
        raise WireError(f"region {rid}: {slots} slots")
    if not 1 <= frame_bytes <= MAX_FRAME_BYTES:
        raise WireError(f"region {rid}: {frame_bytes} frame bytes")
    return Region(rid, slots, frame_bytes)


@dataclass(frozen=True)
class Descriptor:
    handle: int
    region: int
    slot: int
    memory: int
    format: int
    device: int
    width: int
    height: int
    stride: int
    generation: int
    seq: int
    pts_ns: int
    sent_nanos: int

    @property
    def size(self) -> int:
        """Bytes of the frame: stride × rows."""
        return self.stride * rows(self.format, self.height)


def unpack_descriptor(b: bytes) -> tuple[Descriptor, int]:
    """The descriptor of a 72-byte MsgFrame, unchecked, and its reserved word."""
    if len(b) != FRAME_SIZE:
        raise WireError(f"frame record of {len(b)} bytes, want {FRAME_SIZE}")
    (handle, region, slot, memory, fmt, device, width, height, stride, reserved,
     generation, seq, pts, sent) = DESCRIPTOR.unpack_from(b, 8)
    return Descriptor(handle, region, slot, memory, fmt, device, width, height, stride, generation, seq, pts,
                      sent), reserved


def check_descriptor(d: Descriptor, reserved: int) -> None:
    """Raises WireError unless d follows §6.3's rules."""
    if reserved != 0:
        raise WireError("descriptor reserved bytes 28..31 are not zero")
    if d.memory not in (MEMORY_HOST, MEMORY_CUDA):
        raise WireError(f"memory {d.memory}")
    bpp = BYTES_PER_PIXEL.get(d.format)
    if bpp is None:
        raise WireError(f"pixel format {d.format}")
    if d.memory == MEMORY_HOST and d.device != 0:
        raise WireError(f"device {d.device} with host memory")
    if d.width == 0 or d.height == 0:
        raise WireError(f"frame {d.width}x{d.height}")
    if d.stride < d.width * bpp:
        raise WireError(f"stride {d.stride} < {d.width} × {bpp}")
    if d.size > MAX_FRAME_BYTES:
        raise WireError(f"frame of {d.size} bytes")
    if d.generation % 2:
        raise WireError(f"odd generation {d.generation}")


@dataclass(frozen=True)
class AudioRecord:
    flags: int
    handle: int
    first_sample: int
    pts_ns: int
    seq: int
    samples: int
    rate: int
    captured_nanos: int
    pcm_offset: int = AUDIO.size

    @property
    def duration_ns(self) -> int:
        """Media time a chunk spans; 0 for a gap, no-audio or end record."""
        return self.samples * 1_000_000_000 // self.rate if self.flags == 0 and self.rate else 0


def parse_audio(b: bytes) -> AudioRecord:
    if len(b) < AUDIO.size:
        raise WireError(f"audio record of {len(b)} bytes")
    _, flags, handle, first, pts, seq, samples, rate, captured = AUDIO.unpack_from(b)
    if flags & ~(AUDIO_GAP | AUDIO_NONE | AUDIO_END):
        raise WireError(f"audio flags {flags:#x}")
    if first < 0:
        raise WireError(f"audio first sample {first}")
    if flags == 0:
        if rate == 0 or len(b) != AUDIO.size + 2 * samples:
            raise WireError(f"audio chunk of {samples} samples at {rate} Hz in {len(b)} bytes")
    elif len(b) != AUDIO.size:
        raise WireError(f"audio record flags {flags} carries {len(b) - AUDIO.size} PCM bytes")
    return AudioRecord(flags, handle, first, pts, seq, samples, rate, captured)


def parse_deliver(b: bytes) -> tuple[int, int, bytes]:
    """(handle, delivery seq, encoded Message) of a MsgDeliver."""
    if len(b) < DELIVER.size:
        raise WireError(f"deliver record of {len(b)} bytes")
    _, handle, seq = DELIVER.unpack_from(b)
    return handle, seq, bytes(b[DELIVER.size:])


def result_packet(region: int, slot: int, handle: int, generation: int, body: bytes) -> bytes:
    """A MsgResult: the ack header (§6.4) and the encoded Result."""
    return RESULT.pack(MSG_RESULT, region, slot, handle, generation) + body


def publish_packet(handle: int, body: bytes) -> bytes:
    """A MsgPublish: the header and the encoded Message."""
    return PUBLISH.pack(MSG_PUBLISH, handle) + body
