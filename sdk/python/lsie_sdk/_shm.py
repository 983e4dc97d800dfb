"""Shared-memory regions (docs/PROTOCOL.md §7): map a sealed memfd
read-only and read frames in place under the slot's seqlock."""
from __future__ import annotations

import fcntl
import mmap
import os

import numpy as np

from ._wire import Descriptor, Region, WireError

SLOT_HEADER = 64


def slot_stride(frame_bytes: int) -> int:
    """Bytes from one slot header to the next (64-byte aligned)."""
    return (SLOT_HEADER + frame_bytes + 63) & ~63


def region_size(slots: int, frame_bytes: int) -> int:
    """The memfd's size: every slot, rounded up to whole pages."""
    n = slots * slot_stride(frame_bytes)
    return (n + mmap.PAGESIZE - 1) // mmap.PAGESIZE * mmap.PAGESIZE


class MappedRegion:
    """One region, mapped PROT_READ/MAP_SHARED; the fd is not kept."""

    def __init__(self, region: Region, fd: int):
        self.id = region.id
        self.slots = region.slots
        self.frame_bytes = region.frame_bytes
        self.stride = slot_stride(region.frame_bytes)
        size = region_size(region.slots, region.frame_bytes)
        st = os.fstat(fd)
        if st.st_size != size:
            raise WireError(f"region {region.id}: memfd of {st.st_size} bytes, want {size}")
        # Without F_SEAL_SHRINK the host could shrink the file under us, and
        # a read past its end would kill this process with SIGBUS.
        if not fcntl.fcntl(fd, fcntl.F_GET_SEALS) & fcntl.F_SEAL_SHRINK:
            raise WireError(f"region {region.id}: memfd not sealed against shrinking")
        self._mm: mmap.mmap | None = mmap.mmap(fd, size, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ)
        # Views over the whole mapping, made once: indexing them is a single
        # aligned load (generations) or a slice (pixels), never a copy. The
        # generation is native order (§7.1), hence np.uint64, not "<u8".
        self._gens = np.frombuffer(self._mm, dtype=np.uint64)
        self._bytes = np.frombuffer(self._mm, dtype=np.uint8)

    def check(self, d: Descriptor) -> None:
        """Raises WireError if d does not fit this region (§7.3 step 2)."""
        if d.slot >= self.slots:
            raise WireError(f"slot {d.slot} of region {self.id} with {self.slots} slots")
        if d.size > self.frame_bytes:
            raise WireError(f"frame of {d.size} bytes in slots of {self.frame_bytes}")

    def generation(self, slot: int) -> int:
        """The slot's generation: one aligned 8-byte load."""
        return int(self._gens[slot * self.stride // 8])

    def data(self, slot: int, nbytes: int) -> np.ndarray:
        """A read-only uint8 view of the first nbytes of the slot's frame."""
        off = slot * self.stride + SLOT_HEADER
        return self._bytes[off:off + nbytes]

    def close(self) -> None:
        """Unmaps the region, or leaves that to the last view's release if
        plugin code still holds a frame of it (mmap refuses to close then)."""
        mm, self._mm = self._mm, None
        self._gens = self._bytes = None  # type: ignore[assignment]
        if mm is not None:
            try:
                mm.close()
            except BufferError:
                pass


def frame_view(data: np.ndarray, d: Descriptor) -> np.ndarray:
    """The pixels of a frame as the plugin sees them, still a view.

    rgb24 → (height, width, 3), rgba → (height, width, 4), gray8 →
    (height, width); other formats → the raw (rows, stride) bytes. Padding
    at the end of each row is sliced off, not copied away.
    """
    h, w, s = d.height, d.width, d.stride
    if d.format == 1:
        return data.reshape(-1, s)[:h, :3 * w].reshape(h, w, 3)
    if d.format == 3:
        return data.reshape(-1, s)[:h, :4 * w].reshape(h, w, 4)
    if d.format == 2:
        return data.reshape(-1, s)[:h, :w]
    return data.reshape(-1, s)
