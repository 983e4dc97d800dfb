"""The plugin process, written from docs/PROTOCOL.md: the go-plugin
handshake (§3), the gRPC service (§4), the fd-3 data plane (§6), shared
memory (§7) and answering every input exactly once (§8)."""
from __future__ import annotations

import array
import concurrent.futures
import os
import queue
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Mapping, NoReturn, Optional

import grpc
import numpy as np

from . import _log, _shm, _wire
from ._pb import plugin_pb2 as pb
from ._pb import plugin_pb2_grpc as pb_grpc
from ._types import (PROTOCOL_VERSION, TOPIC_AUDIO_PCM16K, TOPIC_VIDEO_NV12_CUDA, TOPIC_VIDEO_RGB24,
                     TOPIC_VIDEO_RGBF32_CUDA, Answer, Audio, Frame, FrameResult, Item, Manifest, Message, Object,
                     PixelFormat, Plugin, PluginError, Stream, StreamInfo)

MAGIC_KEY = "LSIE_PLUGIN"
MAGIC_VALUE = "a1f0c6f2-live-stream-inference"
DATA_FD = 3
STREAM_QUEUE = 1024  # inputs queued per stream before "overloaded" (§9.1)
PROGRESS_END = (1 << 63) - 1
MAX_INLINE = 64 << 20  # receive limit for the inline Process path (§3.5)

log = _log.logger()


def monotonic_ns() -> int:
    """CLOCK_MONOTONIC ns, the clock of every *_nanos stamp."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def _exit(code: int = 0) -> NoReturn:
    """Leaves at once: threads blocked in gRPC or plugin code must not keep
    a plugin alive whose host is gone."""
    _cleanup()
    os._exit(code)


_socket_path: Optional[str] = None


def _cleanup() -> None:
    if _socket_path:
        try:
            os.unlink(_socket_path)
        except OSError:
            pass


class _DataPlane:
    """fd 3: one send per packet under one lock (§6.1)."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self._mu = threading.Lock()

    def send(self, pkt: bytes) -> None:
        if len(pkt) > _wire.MAX_MESSAGE:
            raise ValueError(f"data-plane packet of {len(pkt)} bytes exceeds {_wire.MAX_MESSAGE}")
        with self._mu:
            try:
                self.sock.send(pkt)
            except OSError:
                _exit(0)  # the host is gone (§6.6)


# Jobs on a stream's queue; the worker answers each exactly once.
@dataclass
class _FrameJob:
    d: _wire.Descriptor
    received: int


@dataclass
class _AudioJob:
    rec: _wire.AudioRecord
    pkt: bytes
    received: int


@dataclass
class _MessageJob:
    handle: int
    seq: int
    body: bytes
    received: int


@dataclass
class _InlineJob:
    frame: Any  # pb.Frame
    pixels: bytes
    received: int
    done: concurrent.futures.Future


@dataclass
class _CommandJob:
    name: str
    args: bytes
    done: concurrent.futures.Future


_CLOSE = object()


class _StreamState:
    def __init__(self, handle: int, sid: str):
        self.handle = handle
        self.id = sid
        self.stream: Optional[Stream] = None
        self.q: queue.SimpleQueue = queue.SimpleQueue()
        self.pending = 0  # under the server's lock
        self.worker: Optional[threading.Thread] = None


def _set_fields(dst: Any, fields: Optional[Mapping[str, Any]]) -> None:
    for k, v in (fields or {}).items():
        dst[str(k)] = float(v)


def _set_objects(dst: Any, objects: Any) -> None:
    for o in objects or ():
        if not isinstance(o, Object):
            raise TypeError(f"object {o!r} is not an lsie_sdk.Object")
        m = dst.add(x=o.x, y=o.y, w=o.w, h=o.h, label=o.label, score=o.score, track_id=int(o.track_id), text=o.text)
        _set_fields(m.attributes, o.attributes)
        for k in o.keypoints:
            m.keypoints.add(name=k.name, x=k.x, y=k.y, score=k.score)


def _error(res: Any, e: BaseException, stream: str) -> None:
    """Sets res.error from what plugin code raised: a PluginError is data;
    anything else is a bug, logged with its traceback as plugin_error."""
    res.ClearField("fields")
    res.ClearField("objects")
    res.ClearField("items")
    if isinstance(e, PluginError):
        res.error.code, res.error.message = e.code, e.message
        return
    res.error.code, res.error.message = "plugin_error", f"{type(e).__name__}: {e}"
    log.error("plugin code raised", stream=stream, error=f"{type(e).__name__}: {e}",
              traceback="".join(traceback.format_exception(e))[-4000:])


class Server(pb_grpc.PluginServicer):
    """One plugin process: every stream the host opens on it."""

    def __init__(self, plugin: Plugin, manifest: Manifest, data: _DataPlane):
        self.plugin = plugin
        self.manifest = manifest
        self.data = data
        self._mu = threading.Lock()
        self._streams: dict[int, _StreamState] = {}
        self._regions: dict[int, _shm.MappedRegion] = {}

    # ---- gRPC (§4) ---------------------------------------------------------

    def Describe(self, request: Any, context: Any) -> Any:
        m = self.manifest
        out = pb.Manifest(name=m.name, version=m.version, protocol_version=PROTOCOL_VERSION,
                          description=m.description, inputs=list(m.inputs), outputs=list(m.outputs),
                          labels=list(m.labels))
        for f in m.fields:
            out.fields.add(name=f.name, type="float64", unit=f.unit, description=f.description)
        if m.attributes is not None:
            out.attribute_schema = True
            for a in m.attributes:
                spec = out.attributes.add(name=a.name, type=a.type, required=a.required, choices=list(a.choices),
                                          description=a.description)
                for k in ("default", "min", "max"):
                    if getattr(a, k) is not None:
                        setattr(spec, k, getattr(a, k))
        return out

    def OpenStream(self, request: Any, context: Any) -> Any:
        handle, sid = request.handle, request.stream_id
        with self._mu:
            if handle in self._streams:
                return pb.OpenStreamResponse(error=pb.Error(code="already_open",
                                                            message=f"stream handle {handle} is already open"))
        st = _StreamState(handle, sid)
        info = StreamInfo(id=sid, handle=handle, attributes=dict(request.attributes),
                          publish=lambda *a, **kw: self._publish(handle, *a, **kw))
        try:
            stream = self.plugin.open_stream(info)
            self._check_stream(stream)
        except Exception as e:
            code, msg = (e.code, e.message) if isinstance(e, PluginError) else ("plugin_error", str(e))
            log.info("stream refused", stream=sid, error=f"{code}: {msg}")
            return pb.OpenStreamResponse(error=pb.Error(code="open_failed", message=f"{code}: {msg}"))
        st.stream = stream
        st.worker = threading.Thread(target=self._work, args=(st,), name=f"stream-{sid}", daemon=True)
        # Registered before the reply: the host sends the stream's inputs
        # as soon as OpenStream returns (§4).
        with self._mu:
            self._streams[handle] = st
        st.worker.start()
        log.debug("stream opened", stream=sid, handle=handle)
        return pb.OpenStreamResponse()

    def _check_stream(self, stream: Any) -> None:
        if stream is None:
            raise PluginError("plugin_error", "open_stream returned None")
        need = []
        for t in self.manifest.inputs:
            if t in (TOPIC_VIDEO_NV12_CUDA, TOPIC_VIDEO_RGBF32_CUDA):
                raise PluginError("unsupported", f"manifest input {t!r}: the Python SDK takes no CUDA frames")
            if t == TOPIC_VIDEO_RGB24:
                need.append((t, "process_frame"))
            elif t == TOPIC_AUDIO_PCM16K:
                need.append((t, "process_audio"))
            elif "@" in t:
                need.append((t, "process_message"))
        for t, meth in need:
            if not callable(getattr(stream, meth, None)):
                raise PluginError("plugin_error",
                                  f"manifest input {t!r} needs the stream ({type(stream).__name__}) to implement {meth}")

    def CloseStream(self, request: Any, context: Any) -> Any:
        with self._mu:
            st = self._streams.pop(request.handle, None)
            if st is not None:
                st.q.put(_CLOSE)
        if st is not None and st.worker is not None:
            st.worker.join()  # answers what is queued, then closes (§4)
        return pb.CloseStreamResponse()

    def Health(self, request: Any, context: Any) -> Any:
        with self._mu:
            n = len(self._streams)
        return pb.HealthResponse(status="ok", open_streams=n)

    def Command(self, request: Any, context: Any) -> Any:
        fut: concurrent.futures.Future = concurrent.futures.Future()
        if not self._enqueue(request.handle, _CommandJob(request.name, request.args, fut)):
            return pb.CommandResponse(error=pb.Error(code="unknown_stream",
                                                     message=f"stream handle {request.handle} is not open"))
        return fut.result()

    def Process(self, request: Any, context: Any) -> Any:
        received = monotonic_ns()
        f = request.frame
        pixels = f.pixels  # read once: each read of a bytes field may copy it
        fut: concurrent.futures.Future = concurrent.futures.Future()
        if f.width == 0 or len(pixels) < f.stride * f.height:
            res = pb.Result(handle=f.handle, seq=f.seq, pts_ns=f.pts_ns, received_nanos=received,
                            error=pb.Error(code="bad_input", message=f"inline frame {f.width}x{f.height} stride "
                                                                     f"{f.stride} in {len(pixels)} bytes"))
            res.done_nanos = monotonic_ns()
            return pb.ProcessResponse(result=res)
        if not self._enqueue(f.handle, _InlineJob(f, pixels, received, fut)):
            res = pb.Result(handle=f.handle, seq=f.seq, pts_ns=f.pts_ns, received_nanos=received,
                            error=pb.Error(code="unknown_stream", message=f"stream handle {f.handle} is not open"))
            res.done_nanos = monotonic_ns()
            return pb.ProcessResponse(result=res)
        return pb.ProcessResponse(result=fut.result())

    # ---- data plane (§6) ---------------------------------------------------

    def read_loop(self) -> NoReturn:
        """Reads fd 3 until EOF, then exits the process. It only parses and
        queues: plugin code runs on the streams' workers, so one slow
        stream never stalls the socket (§9.1)."""
        sock = self.data.sock
        cmsg = socket.CMSG_SPACE(16 * array.array("i").itemsize)
        while True:
            try:
                pkt, anc, flags, _ = sock.recvmsg(_wire.MAX_MESSAGE, cmsg, socket.MSG_CMSG_CLOEXEC)
            except InterruptedError:
                continue
            except OSError:
                _exit(0)
            received = monotonic_ns()
            fds = []
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    a = array.array("i")
                    a.frombytes(payload[:len(payload) - len(payload) % a.itemsize])
                    fds.extend(a)
            if not pkt and not fds:
                _exit(0)  # EOF: the host is gone (§6.6)
            try:
                if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
                    raise _wire.WireError(f"truncated packet (flags {flags:#x})")
                self._dispatch(pkt, fds, received)
            except Exception as e:
                log.error("bad data-plane packet", type=pkt[0] if pkt else -1, size=len(pkt), error=str(e))
            finally:
                for fd in fds:
                    os.close(fd)

    def _dispatch(self, pkt: bytes, fds: list[int], received: int) -> None:
        kind = pkt[0]
        if kind == _wire.MSG_FRAME:
            d, reserved = _wire.unpack_descriptor(pkt)
            try:
                _wire.check_descriptor(d, reserved)
            except _wire.WireError as e:
                # Unlike a packet too short to read, a well-sized bad
                # descriptor names its handle and seq: answer it, so its
                # lease ends now rather than at a restart.
                self._answer_frame(d, self._result(d.handle, d.seq, d.pts_ns, received, pb.INPUT_VIDEO,
                                                   code="bad_descriptor", message=str(e)))
                return
            if not self._enqueue(d.handle, _FrameJob(d, received)):
                self._answer_frame(d, self._refusal(d.handle, d.seq, d.pts_ns, received, pb.INPUT_VIDEO))
        elif kind == _wire.MSG_AUDIO:
            rec = _wire.parse_audio(pkt)
            if not self._enqueue(rec.handle, _AudioJob(rec, pkt, received)):
                res = self._refusal(rec.handle, rec.seq, rec.pts_ns, received, pb.INPUT_AUDIO)
                res.duration_ns, res.progress_ns = rec.duration_ns, rec.pts_ns + rec.duration_ns
                self._send(0, 0, rec.handle, 0, res)
        elif kind == _wire.MSG_DELIVER:
            handle, seq, body = _wire.parse_deliver(pkt)
            if not self._enqueue(handle, _MessageJob(handle, seq, body, received)):
                self._send(0, 0, handle, 0, self._refusal(handle, seq, 0, received, pb.INPUT_MESSAGE))
        elif kind == _wire.MSG_REGION:
            if len(fds) != 1:
                raise _wire.WireError(f"region record with {len(fds)} fds")
            r = _wire.parse_region(pkt)
            mapped = _shm.MappedRegion(r, fds[0])
            old = self._regions.get(r.id)
            self._regions[r.id] = mapped
            if old is not None:
                old.close()
            log.debug("region mapped", region=r.id, slots=r.slots, frame_bytes=r.frame_bytes)
        elif kind == _wire.MSG_DROP_REGION:
            if len(pkt) != _wire.DROP_REGION.size:
                raise _wire.WireError(f"drop-region record of {len(pkt)} bytes")
            _, rid = _wire.DROP_REGION.unpack(pkt)
            old = self._regions.pop(rid, None)
            if old is not None:
                old.close()
        elif kind == _wire.MSG_CUDA_REGION:
            # Its frames are answered no_cuda (§7.5); nothing to map.
            log.warn("CUDA region announced; the Python SDK takes no CUDA frames")
        else:
            raise _wire.WireError(f"unknown record type {kind:#x}")

    def _enqueue(self, handle: int, job: Any) -> bool:
        """Queues job on its stream; False when the handle is not open. A
        full queue is answered here (overloaded) and counts as queued."""
        with self._mu:
            st = self._streams.get(handle)
            if st is None:
                return False
            if st.pending < STREAM_QUEUE or isinstance(job, (_CommandJob, _InlineJob)):
                st.pending += 1
                st.q.put(job)
                return True
        self._overloaded(job)
        return True

    def _overloaded(self, job: Any) -> None:
        msg = f"the stream's queue holds {STREAM_QUEUE} inputs"
        if isinstance(job, _FrameJob):
            d = job.d
            self._answer_frame(d, self._result(d.handle, d.seq, d.pts_ns, job.received, pb.INPUT_VIDEO,
                                               code="overloaded", message=msg))
        elif isinstance(job, _AudioJob):
            r = job.rec
            res = self._result(r.handle, r.seq, r.pts_ns, job.received, pb.INPUT_AUDIO, code="overloaded", message=msg)
            res.duration_ns, res.progress_ns = r.duration_ns, r.pts_ns + r.duration_ns
            self._send(0, 0, r.handle, 0, res)
        elif isinstance(job, _MessageJob):
            self._send(0, 0, job.handle, 0, self._result(job.handle, job.seq, 0, job.received, pb.INPUT_MESSAGE,
                                                         code="overloaded", message=msg))

    @staticmethod
    def _result(handle: int, seq: int, pts: int, received: int, kind: int, code: str = "",
                message: str = "") -> Any:
        res = pb.Result(handle=handle, seq=seq, pts_ns=pts, received_nanos=received, input=kind)
        if code:
            res.error.code, res.error.message = code, message
        return res

    def _refusal(self, handle: int, seq: int, pts: int, received: int, kind: int) -> Any:
        return self._result(handle, seq, pts, received, kind, code="unknown_stream",
                            message=f"stream handle {handle} is not open")

    def _answer_frame(self, d: _wire.Descriptor, res: Any) -> None:
        self._send(d.region, d.slot, d.handle, d.generation, res)

    def _send(self, region: int, slot: int, handle: int, generation: int, res: Any) -> None:
        """Sends one MsgResult; its ack header ends a frame's lease (§6.4)."""
        res.done_nanos = monotonic_ns()
        body = res.SerializeToString()
        if _wire.RESULT.size + len(body) > _wire.MAX_MESSAGE:
            # Still answered, so the input does not hold its lease or window.
            n = len(body)
            for f in ("fields", "objects", "items", "text", "payload"):
                res.ClearField(f)
            res.error.code = "result_too_large"
            res.error.message = f"result of {n} bytes does not fit a {_wire.MAX_MESSAGE}-byte packet"
            body = res.SerializeToString()
        self.data.send(_wire.result_packet(region, slot, handle, generation, body))

    def _publish(self, handle: int, topic: str, pts_ns: int, duration_ns: int = 0, text: str = "",
                 fields: Optional[Mapping[str, float]] = None, payload: bytes | str = b"") -> None:
        if topic not in self.manifest.outputs:
            raise PluginError("bad_topic", f"topic {topic!r} is not among the manifest's outputs")
        m = pb.Message(topic=topic, pts_ns=int(pts_ns), duration_ns=int(duration_ns), text=text,
                       payload=payload.encode() if isinstance(payload, str) else bytes(payload))
        _set_fields(m.fields, fields)
        pkt = _wire.publish_packet(handle, m.SerializeToString())
        if len(pkt) > _wire.MAX_MESSAGE:
            raise PluginError("too_large", f"message of {len(pkt)} bytes exceeds {_wire.MAX_MESSAGE}")
        self.data.send(pkt)

    # ---- a stream's worker -------------------------------------------------

    def _work(self, st: _StreamState) -> None:
        while True:
            job = st.q.get()
            if job is _CLOSE:
                try:
                    if st.stream is not None:
                        st.stream.close()
                except Exception as e:
                    log.error("stream close raised", stream=st.id, error=f"{type(e).__name__}: {e}")
                log.debug("stream closed", stream=st.id, handle=st.handle)
                return
            with self._mu:
                st.pending -= 1
            if isinstance(job, (_FrameJob, _AudioJob, _MessageJob)):
                # received_nanos is when the stream's worker takes the input,
                # as the Go SDK stamps it (docs/PROTOCOL.md §8.1), so a
                # handoff includes the reader's dispatch.
                job.received = monotonic_ns()
            try:
                if isinstance(job, _FrameJob):
                    self._frame(st, job)
                elif isinstance(job, _AudioJob):
                    self._audio(st, job)
                elif isinstance(job, _MessageJob):
                    self._message(st, job)
                elif isinstance(job, _InlineJob):
                    job.done.set_result(self._inline(st, job))
                elif isinstance(job, _CommandJob):
                    job.done.set_result(self._command(st, job))
            except Exception as e:  # an SDK bug: never leave the worker
                log.error("lsie_sdk internal error", stream=st.id, error=f"{type(e).__name__}: {e}",
                          traceback="".join(traceback.format_exception(e))[-4000:])

    def _frame(self, st: _StreamState, job: _FrameJob) -> None:
        d = job.d
        res = self._result(d.handle, d.seq, d.pts_ns, job.received, pb.INPUT_VIDEO)
        region = self._regions.get(d.region)
        try:
            if d.memory != _wire.MEMORY_HOST:
                raise PluginError("no_cuda", "the Python SDK takes no CUDA frames")
            if region is None:
                raise PluginError("bad_descriptor", f"region {d.region} is not mapped")
            try:
                region.check(d)
            except _wire.WireError as e:
                raise PluginError("bad_descriptor", str(e)) from None
            # The seqlock (§7.3): the slot must hold this frame before we
            # read it (else it is already stale, or being rewritten), and
            # still hold it after (else the bytes read may be torn).
            g = region.generation(d.slot)
            if g != d.generation or g == 0 or g % 2:
                raise PluginError("stale_frame", f"slot {d.slot} of region {d.region} is stale: generation {g}, "
                                                 f"the descriptor says {d.generation}")
        except PluginError as e:
            _error(res, e, st.id)
            self._answer_frame(d, res)
            return
        data = region.data(d.slot, d.size)
        frame = Frame(stream_id=st.id, seq=d.seq, pts_ns=d.pts_ns, width=d.width, height=d.height,
                      stride=d.stride, format=PixelFormat(d.format), pixels=_shm.frame_view(data, d),
                      data=data.reshape(-1, d.stride))
        try:
            self._frame_output(res, st.stream.process_frame(frame))  # type: ignore[union-attr]
        except Exception as e:
            _error(res, e, st.id)
        del frame, data
        g = region.generation(d.slot)
        if g != d.generation:
            _error(res, PluginError("stale_frame", f"slot {d.slot} of region {d.region} went from generation "
                                                   f"{d.generation} to {g} while it was read"), st.id)
        self._answer_frame(d, res)

    @staticmethod
    def _frame_output(res: Any, out: Any) -> None:
        if isinstance(out, FrameResult):
            _set_fields(res.fields, out.fields)
            _set_objects(res.objects, out.objects)
        elif out is not None:
            _set_fields(res.fields, out)

    def _inline(self, st: _StreamState, job: _InlineJob) -> Any:
        f = job.frame
        res = self._result(f.handle, f.seq, f.pts_ns, job.received, pb.INPUT_VIDEO)
        try:
            if f.format not in _wire.BYTES_PER_PIXEL or f.stride < f.width * _wire.BYTES_PER_PIXEL[f.format]:
                raise PluginError("bad_input", f"inline frame format {f.format} stride {f.stride}")
            d = _wire.Descriptor(f.handle, 0, 0, 0, f.format, 0, f.width, f.height, f.stride, 0, f.seq, f.pts_ns,
                                 f.sent_nanos)
            data = np.frombuffer(job.pixels, dtype=np.uint8, count=d.size)
            frame = Frame(stream_id=st.id, seq=f.seq, pts_ns=f.pts_ns, width=f.width, height=f.height,
                          stride=f.stride, format=PixelFormat(f.format), pixels=_shm.frame_view(data, d),
                          data=data.reshape(-1, f.stride))
            self._frame_output(res, st.stream.process_frame(frame))  # type: ignore[union-attr]
        except Exception as e:
            _error(res, e, st.id)
        res.done_nanos = monotonic_ns()
        return res

    def _audio(self, st: _StreamState, job: _AudioJob) -> None:
        r = job.rec
        res = self._result(r.handle, r.seq, r.pts_ns, job.received, pb.INPUT_AUDIO)
        res.duration_ns = r.duration_ns
        stream: Any = st.stream
        try:
            if r.flags & _wire.AUDIO_NONE:
                raise PluginError("no_audio", "the stream has no audio track")
            if not callable(getattr(stream, "process_audio", None)):
                raise PluginError("bad_input", "this plugin takes no audio")
            n = r.samples if r.flags == 0 else 0
            a = Audio(stream_id=st.id, seq=r.seq, pts_ns=r.pts_ns, first_sample=r.first_sample,
                      sample_rate=r.rate, samples=np.frombuffer(job.pkt, dtype="<i2", count=n, offset=r.pcm_offset),
                      gap_samples=r.samples if r.flags & _wire.AUDIO_GAP else 0, end=bool(r.flags & _wire.AUDIO_END),
                      captured_nanos=r.captured_nanos)
            for it in stream.process_audio(a) or ():
                if not isinstance(it, Item):
                    raise TypeError(f"process_audio returned {type(it).__name__}, want lsie_sdk.Item")
                m = res.items.add(pts_ns=int(it.pts_ns), duration_ns=int(it.duration_ns))
                _set_fields(m.fields, it.fields)
                _set_objects(m.objects, it.objects)
            progress = None
            if callable(getattr(stream, "audio_progress", None)):
                progress = stream.audio_progress()
            res.progress_ns = int(progress) if progress is not None else r.pts_ns + r.duration_ns
        except Exception as e:
            _error(res, e, st.id)
            res.progress_ns = r.pts_ns + r.duration_ns
        if r.flags & _wire.AUDIO_END:
            res.progress_ns = PROGRESS_END  # nothing more will come, whatever happened
        self._send(0, 0, r.handle, 0, res)

    def _message(self, st: _StreamState, job: _MessageJob) -> None:
        res = self._result(job.handle, job.seq, 0, job.received, pb.INPUT_MESSAGE)
        try:
            m = pb.Message.FromString(job.body)
            res.pts_ns, res.duration_ns = m.pts_ns, m.duration_ns
            msg = Message(topic=m.topic, producer=m.producer, pts_ns=m.pts_ns, duration_ns=m.duration_ns,
                          text=m.text, fields=dict(m.fields), payload=bytes(m.payload))
            out = st.stream.process_message(msg)  # type: ignore[union-attr]
            if isinstance(out, Answer):
                _set_fields(res.fields, out.fields)
                res.text = out.text
                res.payload = out.payload.encode() if isinstance(out.payload, str) else bytes(out.payload)
            elif out is not None:
                _set_fields(res.fields, out)
        except Exception as e:
            _error(res, e, st.id)
        self._send(0, 0, job.handle, 0, res)

    def _command(self, st: _StreamState, job: _CommandJob) -> Any:
        fn: Optional[Callable[[str, bytes], Any]] = getattr(st.stream, "command", None)
        if not callable(fn):
            return pb.CommandResponse(error=pb.Error(code="unsupported", message="this plugin has no commands"))
        try:
            out = fn(job.name, bytes(job.args))
        except Exception as e:
            code, msg = (e.code, e.message) if isinstance(e, PluginError) else ("plugin_error", f"{type(e).__name__}: {e}")
            return pb.CommandResponse(error=pb.Error(code=code, message=msg))
        if isinstance(out, str):
            out = out.encode()
        return pb.CommandResponse(result=bytes(out or b""))


def _generic(service: str, method: str, answer: bytes, then: Optional[Callable[[], None]] = None) -> Any:
    """A unary method whose request is ignored and whose reply is fixed
    bytes: enough for go-plugin's Empty → Empty and the health check, with
    no stubs of their protos."""
    def handle(request: bytes, context: Any) -> bytes:
        if then is not None:
            threading.Thread(target=then, daemon=True).start()
        return answer
    return grpc.method_handlers_generic_handler(service, {method: grpc.unary_unary_rpc_method_handler(
        handle, request_deserializer=lambda b: b, response_serializer=lambda b: b)})


def _fail(msg: str) -> NoReturn:
    sys.stderr.write(msg.rstrip("\n") + "\n")
    sys.stderr.flush()
    os._exit(1)


def serve(plugin: Plugin) -> NoReturn:
    """Runs plugin as an lsie plugin process; never returns. Call it from
    the plugin file's main, after imports that print nothing."""
    global _socket_path
    # fd 1 carries the handshake line and nothing else the host reads:
    # keep a private copy of it and point fd 1 at stderr, so whatever
    # prints (plugin code, a library, C code) lands in the host's log.
    hs_fd = os.dup(1)
    sys.stdout.flush()
    os.dup2(2, 1)
    _log.route_stdlib_logging()
    if os.environ.get(MAGIC_KEY) != MAGIC_VALUE:
        _fail("This file is an lsie plugin. It is not meant to be executed directly: put it in lsie-host's "
              "plugins directory (or start it with sdk/plugintest).")
    versions = [v.strip() for v in os.environ.get("PLUGIN_PROTOCOL_VERSIONS", str(PROTOCOL_VERSION)).split(",")]
    if str(PROTOCOL_VERSION) not in versions:
        _fail(f"lsie plugin: the host speaks protocol {','.join(versions)}; this plugin speaks {PROTOCOL_VERSION}")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # its own process group: only the host stops it
    try:
        sock = socket.socket(fileno=DATA_FD)
    except OSError as e:
        _fail(f"lsie plugin: fd {DATA_FD} is not the host's data-plane socket ({e}); start it from lsie-host")
    if sock.type != socket.SOCK_SEQPACKET:
        _fail(f"lsie plugin: fd {DATA_FD} is not a SOCK_SEQPACKET socket")
    sock.set_inheritable(False)  # the plugin's own children must not hold it
    manifest = plugin.manifest()
    server = Server(plugin, manifest, _DataPlane(sock))
    threading.Thread(target=server.read_loop, name="dataplane", daemon=True).start()

    g = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=16, thread_name_prefix="grpc"),
                    options=[("grpc.max_receive_message_length", MAX_INLINE)])
    pb_grpc.add_PluginServicer_to_server(server, g)

    def shutdown() -> None:
        g.stop(grace=1).wait()
        _exit(0)
    g.add_generic_rpc_handlers((_generic("plugin.GRPCController", "Shutdown", b"", shutdown),
                                _generic("grpc.health.v1.Health", "Check", b"\x08\x01")))  # SERVING
    sock_dir = os.environ.get("PLUGIN_UNIX_SOCKET_DIR") or tempfile.gettempdir()
    fd, path = tempfile.mkstemp(prefix="plugin", dir=sock_dir)
    os.close(fd)
    os.unlink(path)
    if len(path.encode()) > 107:
        _fail(f"lsie plugin: socket path {path} is longer than sun_path allows")
    client_cert = os.environ.get("PLUGIN_CLIENT_CERT", "")
    cert_field = ""
    if client_cert:
        from . import _tls
        key_pem, cert_pem, cert_field = _tls.self_signed()
        creds = grpc.ssl_server_credentials([(key_pem, cert_pem)], root_certificates=client_cert.encode(),
                                            require_client_auth=True)
        ok = g.add_secure_port("unix:" + path, creds)
    else:
        ok = g.add_insecure_port("unix:" + path)
    if not ok:
        _fail(f"lsie plugin: cannot listen on {path}")
    _socket_path = path
    g.start()
    line = f"1|{PROTOCOL_VERSION}|unix|{path}|grpc|{cert_field}\n"
    os.write(hs_fd, line.encode())
    os.close(hs_fd)
    log.debug("plugin serving", name=manifest.name, version=manifest.version, socket=path)
    threading.Event().wait()  # the data plane's EOF or Shutdown ends the process
    raise AssertionError("unreachable")
