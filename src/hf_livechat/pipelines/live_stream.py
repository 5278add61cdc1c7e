"""Reading a live source as it plays: frames at 1 fps and 16 kHz mono audio, decoded on a thread (PyAV).

``LiveStream(source)`` opens anything PyAV opens live: an HLS/RTMP/HTTP URL, a device, or a file that is still
being written (``follow=True``: reads wait for the file to grow, and the stream ends when it has not grown for
``idle_timeout`` seconds). A growing file must be in a format that can be read while written: MPEG-TS, Matroska,
or fragmented MP4 (``movflags=frag_keyframe+empty_moov``); a plain MP4 keeps its index at the end.

Stream time 0 is the first decoded video frame; audio is placed on the same clock. When the first frame is decoded,
the live clock (:class:`~hf_livechat.data.chat.sources.LiveClock`) starts, tying chat times to stream times.

Frames wait for the commenter in a bounded queue; when it is full the oldest frame is dropped (``frames_dropped``):
a live source is never held up. ``speed`` replays a recording as if live (frames are released when the wall clock
reaches ``time / speed``); leave it ``None`` for a live source, which paces itself.
"""

from __future__ import annotations

import io
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator

import av
import numpy as np

from ..data.chat.sources import LiveClock

logger = logging.getLogger(__name__)

AUDIO_RATE = 16000
_END = object()


class GrowingFile(io.RawIOBase):
    """A read-only file whose reads wait for data while the file grows; EOF once it stops growing for
    ``idle_timeout`` seconds, or after :meth:`stop`."""

    def __init__(self, path: str | os.PathLike, idle_timeout: float = 5.0, poll: float = 0.05):
        self._fp = open(path, "rb")
        self.idle_timeout = idle_timeout
        self.poll = poll
        self._stopped = threading.Event()

    def readable(self) -> bool:
        return True

    def stop(self) -> None:
        self._stopped.set()

    def readinto(self, buffer) -> int:
        waited = 0.0
        while True:
            count = self._fp.readinto(buffer)
            if count:
                return count
            if self._stopped.is_set() or waited >= self.idle_timeout:
                return 0
            self._stopped.wait(self.poll)
            waited += self.poll

    def close(self) -> None:
        self._fp.close()
        super().close()


class LiveStream:
    """Decodes a live source on a daemon thread. Iterate :meth:`frames` for ``(time, frame)`` pairs.

    Args:
        source: URL, device or path.
        frame_size: frames are scaled so the shorter side is this many pixels.
        follow: ``source`` is a file still being written (see :class:`GrowingFile`).
        idle_timeout: with ``follow``, seconds without growth that end the stream.
        speed: replay a recording at this multiple of real time (``None``: as fast as it arrives).
        on_audio: called on the decoding thread with ``(time, samples)`` (16 kHz mono float32) as audio arrives;
            it must not block (the ASR worker only appends to its buffer).
        clock: the live clock to start at the first frame.
        max_frames: frames the queue holds at most.
        options: PyAV/FFmpeg options for opening (``{"rw_timeout": "10000000"}``, ...).
    """

    def __init__(
        self,
        source: str | os.PathLike,
        *,
        frame_size: int = 224,
        follow: bool = False,
        idle_timeout: float = 5.0,
        speed: float | None = None,
        on_audio: Callable[[float, np.ndarray], None] | None = None,
        clock: LiveClock | None = None,
        max_frames: int = 16,
        options: dict | None = None,
    ) -> None:
        if speed is not None and speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.source = os.fspath(source)
        if follow and not os.path.isfile(self.source):
            raise FileNotFoundError(f"--follow needs a file that exists: {self.source}")
        self.frame_size = frame_size
        self.follow = follow
        self.idle_timeout = idle_timeout
        self.speed = speed
        self.on_audio = on_audio
        self.clock = clock or LiveClock()
        self.options = options or {}
        self.frames_decoded = 0
        self.frames_dropped = 0
        self.audio_seconds = 0.0
        self.has_audio = False
        self.bad_packets = 0
        self.error: BaseException | None = None
        self._queue: queue.Queue = queue.Queue(maxsize=max_frames)
        self._stop = threading.Event()
        self._file: GrowingFile | None = None
        self._thread = threading.Thread(target=self._run, name="live-decode", daemon=True)

    def start(self) -> "LiveStream":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._file is not None:
            self._file.stop()

    def frames(self, timeout: float | None = None, with_arrival: bool = False) -> Iterator[tuple | None]:
        """``(time, frame)`` pairs as they are decoded (``(time, frame, decoded_at)`` with ``with_arrival``, the
        ``time.monotonic()`` of its decoding); ``None`` every ``timeout`` seconds with no frame (so the caller can do
        other work); ends with the stream. Raises what stopped the decoder, if anything did."""
        if not self._thread.is_alive() and self._thread.ident is None:
            self.start()
        while True:
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                yield None
                continue
            if item is _END:
                if self.error is not None:
                    raise self.error
                return
            yield item if with_arrival else item[:2]

    # -- decoding thread -----------------------------------------------------------------------------------------
    def _put(self, item) -> None:
        while True:
            try:
                self._queue.put_nowait(item)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()  # the commenter is behind: the oldest frame goes, never the stream
                    self.frames_dropped += 1
                except queue.Empty:
                    pass

    def _open(self):
        try:
            if self.follow:
                self._file = GrowingFile(self.source, self.idle_timeout)
                return av.open(self._file, options=self.options)
            return av.open(self.source, options=self.options)
        except (av.FFmpegError, OSError) as error:
            raise ValueError(f"cannot open the live source {self.source}: {error}") from error

    def _run(self) -> None:
        try:
            with self._open() as container:
                self._decode(container)
        except BaseException as error:  # handed to the consumer: a source that cannot be read is an error there
            if not self._stop.is_set():
                self.error = error
        finally:
            if self._file is not None:
                self._file.close()
            self._put(_END)

    def _decode(self, container) -> None:
        if not container.streams.video:
            raise ValueError(f"{self.source}: no video stream")
        video = container.streams.video[0]
        video.thread_type = "AUTO"
        streams = [video]
        resampler = None
        if self.on_audio is not None and container.streams.audio:
            streams.append(container.streams.audio[0])
            resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)
            self.has_audio = True
        origin = None  # media time of the first video frame: stream time 0
        pending_audio: list[tuple[float, np.ndarray]] = []  # audio decoded before the first frame
        audio_start, audio_samples = None, 0
        next_tick, wall_start = 0.0, None
        for packet in container.demux(*streams):
            if self._stop.is_set():
                return
            try:
                decoded = packet.decode()
            except av.FFmpegError:  # a damaged or cut packet (live sources lose some): skip it, keep the stream
                self.bad_packets += 1
                continue
            for frame in decoded:
                if frame.time is None:
                    continue
                if isinstance(frame, av.AudioFrame):
                    if audio_start is None:
                        audio_start = frame.time
                    for out in resampler.resample(frame):
                        samples = out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                        # Audio is placed by its sample count from its first timestamp: contiguous, and safe from
                        # priming samples that wrap MPEG-TS's 33-bit clock.
                        when = audio_start + audio_samples / AUDIO_RATE
                        audio_samples += samples.size
                        self.audio_seconds = audio_samples / AUDIO_RATE
                        if origin is None:
                            pending_audio.append((when, samples))
                        else:
                            self.on_audio(_unwrap(when - origin), samples)
                    continue
                if origin is None:
                    origin = frame.time
                    for when, samples in pending_audio:
                        self.on_audio(_unwrap(when - origin), samples)
                    pending_audio.clear()
                t = frame.time - origin
                if t + 1e-3 < next_tick:
                    continue
                tick = next_tick
                while next_tick <= t + 1e-3:
                    next_tick += 1.0
                if self.speed is not None:
                    wall_start = wall_start or time.monotonic()
                    delay = wall_start + tick / self.speed - time.monotonic()
                    if delay > 0 and self._stop.wait(delay):
                        return
                self.clock.start(tick)
                image = frame.to_ndarray(format="rgb24", **_cover(frame.width, frame.height, self.frame_size))
                self.frames_decoded += 1
                self._put((tick, image, time.monotonic()))


_TS_WRAP = 2**33 / 90000  # MPEG-TS timestamps are 33 bits at 90 kHz


def _unwrap(seconds: float) -> float:
    """A time difference taken modulo the MPEG-TS clock's wrap (26.5 h) into (-wrap/2, wrap/2]."""
    return (seconds + _TS_WRAP / 2) % _TS_WRAP - _TS_WRAP / 2


def _cover(width: int, height: int, size: int) -> dict:
    """The output size that scales the shorter side to ``size`` (the image processor centre-crops)."""
    scale = size / min(width, height)
    return {"width": max(1, round(width * scale)), "height": max(1, round(height * scale))}
