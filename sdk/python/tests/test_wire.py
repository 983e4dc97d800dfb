"""The data-plane records against docs/PROTOCOL.md §6.5's worked bytes."""
import unittest

from lsie_sdk import _wire
from lsie_sdk._pb import plugin_pb2 as pb


def hexbytes(s: str) -> bytes:
    """Bytes from a §6.5 dump: lines of "OFFSET  HEX HEX ..."."""
    out = b""
    for line in s.strip().splitlines():
        out += bytes.fromhex(" ".join(line.split()[1:]))
    return out


REGION = hexbytes("0000  01 00 00 00 07 00 00 00 04 00 00 00 00 8c 0a 00")
FRAME = hexbytes("""
  0000  02 00 00 00 00 00 00 00 01 00 00 00 07 00 00 00
  0010  02 00 00 00 00 01 00 00 80 02 00 00 68 01 00 00
  0020  80 07 00 00 00 00 00 00 06 00 00 00 00 00 00 00
  0030  2a 00 00 00 00 00 00 00 00 4e 72 53 00 00 00 00
  0040  14 1a 99 be 1c 00 00 00""")
RESULT = hexbytes("""
  0000  81 00 00 00 07 00 00 00 02 00 00 00 01 00 00 00
  0010  06 00 00 00 00 00 00 00 08 01 10 2a 18 80 9c c9
  0020  9b 05 2a 0c 0a 01 78 11 00 00 00 00 00 00 f0 3f
  0030  38 05 40 06""")
AUDIO = hexbytes("""
  0000  04 00 00 00 01 00 00 00 80 3e 00 00 00 00 00 00
  0010  00 ca 9a 3b 00 00 00 00 0b 00 00 00 00 00 00 00
  0020  40 06 00 00 80 3e 00 00 63 00 00 00 00 00 00 00""")
DELIVER = hexbytes("0000  05 00 00 00 01 00 00 00 03 00 00 00 00 00 00 00")
PUBLISH = hexbytes("0000  82 00 00 00 01 00 00 00")


class WorkedBytes(unittest.TestCase):
    def test_region(self):
        self.assertEqual(_wire.parse_region(REGION), _wire.Region(7, 4, 691200))

    def test_frame(self):
        d, reserved = _wire.unpack_descriptor(FRAME)
        _wire.check_descriptor(d, reserved)
        self.assertEqual(d, _wire.Descriptor(handle=1, region=7, slot=2, memory=0, format=1, device=0, width=640,
                                             height=360, stride=1920, generation=6, seq=42, pts_ns=1_400_000_000,
                                             sent_nanos=123456789012))
        self.assertEqual(d.size, 691200)

    def test_result(self):
        res = pb.Result(handle=1, seq=42, pts_ns=1_400_000_000, fields={"x": 1.0}, received_nanos=5, done_nanos=6)
        self.assertEqual(_wire.result_packet(7, 2, 1, 6, res.SerializeToString()), RESULT)

    def test_audio(self):
        pkt = AUDIO + bytes(3200)
        a = _wire.parse_audio(pkt)
        self.assertEqual((a.flags, a.handle, a.first_sample, a.pts_ns, a.seq, a.samples, a.rate, a.captured_nanos),
                         (0, 1, 16000, 1_000_000_000, 11, 1600, 16000, 99))
        self.assertEqual(a.duration_ns, 100_000_000)
        with self.assertRaises(_wire.WireError):
            _wire.parse_audio(AUDIO + bytes(3198))  # PCM must be exactly 2·samples

    def test_deliver_publish(self):
        m = pb.Message(topic="t.x@1", pts_ns=5, text="hi")
        self.assertEqual(_wire.parse_deliver(DELIVER + m.SerializeToString()), (1, 3, m.SerializeToString()))
        self.assertEqual(_wire.publish_packet(1, b""), PUBLISH)


class DescriptorRules(unittest.TestCase):
    def check(self, **change):
        d, reserved = _wire.unpack_descriptor(FRAME)
        reserved = change.pop("reserved", reserved)
        fields = {**d.__dict__, **change}
        _wire.check_descriptor(_wire.Descriptor(**fields), reserved)

    def test_refused(self):
        for name, change in [("reserved bytes", {"reserved": 1}), ("memory 2", {"memory": 2}),
                             ("format 0", {"format": 0}), ("format 6", {"format": 6}),
                             ("device with host memory", {"device": 1}), ("zero width", {"width": 0}),
                             ("zero height", {"height": 0}), ("short stride", {"stride": 1919}),
                             ("odd generation", {"generation": 7}), ("too big", {"stride": 1 << 22, "height": 1 << 9})]:
            with self.subTest(name), self.assertRaises(_wire.WireError):
                self.check(**change)

    def test_nv12_rows(self):
        self.assertEqual(_wire.rows(4, 5), 8)
        self.assertEqual(_wire.rows(5, 5), 15)
        self.assertEqual(_wire.rows(1, 5), 5)


if __name__ == "__main__":
    unittest.main()
