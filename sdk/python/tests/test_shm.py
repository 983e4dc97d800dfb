"""Frames in real sealed memfds, as the host makes them (docs/PROTOCOL.md
§7): mapping, zero-copy views and the seqlock, answered over a real
SOCK_SEQPACKET pair."""
import fcntl
import mmap
import os
import socket
import unittest

import numpy as np

import lsie_sdk as sdk
from lsie_sdk import _server, _shm, _wire
from lsie_sdk._pb import plugin_pb2 as pb

F_SEAL_FUTURE_WRITE = getattr(fcntl, "F_SEAL_FUTURE_WRITE", 0x0010)


class HostRegion:
    """A region as the host writes it: a memfd, the host's writable
    mapping, then sealed (shrink, grow, future write, seal)."""

    def __init__(self, rid: int, slots: int, frame_bytes: int, seal: bool = True):
        self.region = _wire.Region(rid, slots, frame_bytes)
        self.fd = os.memfd_create("lsie-test", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        self.size = _shm.region_size(slots, frame_bytes)
        os.ftruncate(self.fd, self.size)
        self.mm = mmap.mmap(self.fd, self.size, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        if seal:
            fcntl.fcntl(self.fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | F_SEAL_FUTURE_WRITE |
                        fcntl.F_SEAL_SEAL)
        self.gens = np.frombuffer(self.mm, dtype=np.uint64)
        self.bytes = np.frombuffer(self.mm, dtype=np.uint8)
        self.stride = _shm.slot_stride(frame_bytes)

    def write(self, slot: int, pixels: bytes) -> int:
        """Writes a frame under the seqlock; returns its (even) generation."""
        i = slot * self.stride // 8
        self.gens[i] += 1
        off = slot * self.stride + 64
        self.bytes[off:off + len(pixels)] = np.frombuffer(pixels, np.uint8)
        self.gens[i] += 1
        return int(self.gens[i])

    def close(self):
        del self.gens, self.bytes
        self.mm.close()
        os.close(self.fd)


class Mapping(unittest.TestCase):
    def test_zero_copy_read_only(self):
        host = HostRegion(1, 2, 4 * 3 * 2 + 8)  # 4x2 rgb24, stride 16
        self.addCleanup(host.close)
        r = _shm.MappedRegion(host.region, host.fd)
        self.addCleanup(r.close)
        gen = host.write(1, bytes(range(32)))
        d = _wire.Descriptor(1, 1, 1, 0, 1, 0, 4, 2, 16, gen, 1, 0, 0)
        r.check(d)
        self.assertEqual(r.generation(1), gen)
        px = _shm.frame_view(r.data(1, d.size), d)
        self.assertEqual(px.shape, (2, 4, 3))
        self.assertEqual(px[1, 0].tolist(), [16, 17, 18])  # row 1 starts at the stride, not 3·width
        self.assertFalse(px.flags.writeable)
        with self.assertRaises(ValueError):
            px[0, 0, 0] = 1
        # A view, not a copy: what the host writes next shows through it.
        host.bytes[1 * host.stride + 64 + 16] = 200
        self.assertEqual(int(px[1, 0, 0]), 200)

    def test_refused(self):
        host = HostRegion(2, 1, 100)
        self.addCleanup(host.close)
        with self.assertRaisesRegex(_wire.WireError, "want"):
            _shm.MappedRegion(_wire.Region(2, 1, 5000), host.fd)  # two pages, not one
        unsealed = HostRegion(3, 1, 100, seal=False)
        self.addCleanup(unsealed.close)
        with self.assertRaisesRegex(_wire.WireError, "sealed"):
            _shm.MappedRegion(unsealed.region, unsealed.fd)


class Stream(sdk.Stream):
    def __init__(self, during=None):
        self.during = during

    def process_frame(self, frame: sdk.Frame):
        if self.during:
            self.during()
        return {"r": float(frame.pixels[0, 0, 0])}


class Seqlock(unittest.TestCase):
    def setUp(self):
        self.host_end, plugin_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.addCleanup(self.host_end.close)
        self.addCleanup(plugin_end.close)
        self.host = HostRegion(9, 2, 2 * 2 * 3)
        self.addCleanup(self.host.close)
        self.server = _server.Server(sdk.Plugin(), sdk.Manifest(name="t", version="0.0.1"), _server._DataPlane(plugin_end))
        self.server._regions[9] = _shm.MappedRegion(self.host.region, self.host.fd)
        self.addCleanup(self.server._regions[9].close)

    def run_frame(self, stream, gen, slot=0):
        st = _server._StreamState(5, "cam")
        st.stream = stream
        d = _wire.Descriptor(5, 9, slot, 0, 1, 0, 2, 2, 6, gen, 77, 1000, 0)
        self.server._frame(st, _server._FrameJob(d, received=1))
        pkt = self.host_end.recv(_wire.MAX_MESSAGE)
        _, region, s, handle, g = _wire.RESULT.unpack_from(pkt)
        self.assertEqual((region, s, handle, g), (9, slot, 5, gen))  # the ack names the lease
        res = pb.Result.FromString(pkt[_wire.RESULT.size:])
        self.assertEqual((res.handle, res.seq, res.pts_ns), (5, 77, 1000))
        return res

    def test_fresh(self):
        gen = self.host.write(0, bytes([42] * 12))
        res = self.run_frame(Stream(), gen)
        self.assertEqual((res.error.code, dict(res.fields)), ("", {"r": 42.0}))

    def test_rewritten_while_read(self):
        gen = self.host.write(0, bytes([42] * 12))
        res = self.run_frame(Stream(during=lambda: self.host.write(0, bytes(12))), gen)
        self.assertEqual(res.error.code, "stale_frame")
        self.assertEqual(len(res.fields), 0)

    def test_stale_before_read(self):
        gen = self.host.write(0, bytes(12))
        for name, g in [("rewritten since", gen - 2), ("never written", gen + 2)]:
            with self.subTest(name):
                res = self.run_frame(Stream(), g)
                self.assertEqual(res.error.code, "stale_frame")
                self.assertIn("stale", res.error.message)

    def test_no_region(self):
        del self.server._regions[9]
        self.assertEqual(self.run_frame(Stream(), 2).error.code, "bad_descriptor")


if __name__ == "__main__":
    unittest.main()
