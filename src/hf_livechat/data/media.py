"""Video and audio decoding with PyAV: metadata, frames sampled at 1 fps, and 16 kHz mono audio.

Every time this module returns is in seconds from the start of the media (the container's ``start_time`` is
subtracted), which is the clock chat offsets and subtitle cues use.

Failures raise :class:`MediaError` (a ``ValueError``) naming the file and what is wrong. A truncated file (a VOD whose
download stopped early) is not an error: frames and audio are decoded up to where the file breaks and a
:class:`TruncatedMediaWarning` reports the readable duration next to the one the header declares.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from typing import Literal

import av
import numpy as np

__all__ = [
    "MediaError",
    "MediaInfo",
    "NoAudioError",
    "TruncatedMediaWarning",
    "decode_audio",
    "iter_frames_1fps",
    "probe_media",
]

# A frame whose timestamp is this close below a sampling tick counts as reaching it (float rounding of pts).
_TICK_EPSILON = 1e-3


class MediaError(ValueError):
    """A media file that cannot be used: not a media file, corrupt, or lacking the stream asked for."""


class NoAudioError(MediaError):
    """Audio was requested from a file that has no audio stream. Callers that can do without it may skip."""


class TruncatedMediaWarning(UserWarning):
    """The file ends (or breaks) before the duration its header declares; what was readable was returned.

    Attributes:
        path: the file.
        readable_duration: seconds that could be decoded.
        declared_duration: seconds the container header declares (``None`` when it declares none).
    """

    def __init__(self, path: str, readable_duration: float, declared_duration: float | None, detail: str = ""):
        declared = f"{declared_duration:.2f}s" if declared_duration is not None else "unknown"
        message = f"{path}: only {readable_duration:.2f}s of {declared} could be decoded (truncated or corrupt file)"
        super().__init__(message + (f": {detail}" if detail else ""))
        self.path = path
        self.readable_duration = readable_duration
        self.declared_duration = declared_duration


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """What the container header says about a media file (nothing is decoded to get it).

    ``fps``, ``width`` and ``height`` are ``None`` for a file without video; ``audio_sample_rate`` is ``None``
    without audio; ``duration`` is ``None`` when the header declares none (some live recordings).
    """

    duration: float | None
    fps: float | None
    width: int | None
    height: int | None
    has_audio: bool
    audio_sample_rate: int | None

    @property
    def has_video(self) -> bool:
        return self.width is not None


@contextmanager
def _open_media(path: str | os.PathLike) -> Iterator[av.container.InputContainer]:
    """``av.open`` that turns PyAV's "invalid data" into a :class:`MediaError` naming the file.

    Missing files and directories keep their standard ``FileNotFoundError`` / ``IsADirectoryError``.
    """
    path = os.fspath(path)
    try:
        container = av.open(path)
    except (av.error.FileNotFoundError, av.error.IsADirectoryError, av.error.PermissionError):
        raise
    except av.FFmpegError as error:
        raise MediaError(
            f"{path}: not a readable media file (unknown format, or corrupt/truncated before its header): {error}"
        ) from error
    try:
        yield container
    finally:
        container.close()


def _origin(container: av.container.InputContainer) -> float:
    """The container's start time in seconds: media time 0 for chat and subtitles."""
    return container.start_time / av.time_base if container.start_time is not None else 0.0


def _declared_duration(container: av.container.InputContainer) -> float | None:
    return container.duration / av.time_base if container.duration is not None else None


def _stream_end(stream: av.stream.Stream, origin: float) -> float | None:
    """Where a stream's header says it ends, on the media clock."""
    if stream.duration is None or stream.time_base is None:
        return None
    start = stream.start_time * stream.time_base if stream.start_time is not None else origin
    return float(start + stream.duration * stream.time_base) - origin


def probe_media(path: str | os.PathLike) -> MediaInfo:
    """Read duration, frame rate, frame size and audio presence from a file's header.

    Raises:
        MediaError: the file is not a media file or its header is corrupt.
    """
    with _open_media(path) as container:
        video = container.streams.video[0] if container.streams.video else None
        audio = container.streams.audio[0] if container.streams.audio else None
        duration = _declared_duration(container)
        if duration is None and video is not None:
            duration = _stream_end(video, _origin(container))
        rate = (video.average_rate or video.guessed_rate) if video is not None else None
        return MediaInfo(
            duration=duration,
            fps=float(rate) if rate else None,
            width=video.codec_context.width if video is not None else None,
            height=video.codec_context.height if video is not None else None,
            has_audio=audio is not None,
            audio_sample_rate=audio.codec_context.sample_rate if audio is not None else None,
        )


def _check_window(start: float, end: float | None) -> None:
    if start < 0:
        raise ValueError(f"start must be >= 0, got {start}")
    if end is not None and end <= start:
        raise ValueError(f"end must be greater than start, got start={start}, end={end}")


def _output_size(width: int, height: int, size: tuple[int, int], resize: str) -> tuple[int, int]:
    """(width, height) to scale a frame to for a target ``size = (height, width)``."""
    target_height, target_width = size
    if resize == "exact":
        return target_width, target_height
    # "shorter": keep the aspect ratio and cover the target, so that a centre crop to ``size`` loses no border.
    # For a square target this makes the shorter side equal to it, as HF image processors' ``shortest_edge`` does.
    scale = max(target_width / width, target_height / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _decoded(
    container: av.container.InputContainer, stream: av.stream.Stream, path: str, origin: float
) -> Iterator[tuple[float, av.frame.Frame]]:
    """Decode one stream in order, yielding ``(media time, frame)``.

    Packets the decoder rejects are skipped; if the demuxer breaks (a cut or damaged file) decoding stops there. Both
    cases end in a :class:`TruncatedMediaWarning` carrying the readable duration.
    """
    declared = _stream_end(stream, origin) or _declared_duration(container)
    last_time, frame_span, bad_packets = None, 0.0, 0
    try:
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.InvalidDataError:
                bad_packets += 1
                continue
            for frame in frames:
                if frame.time is None:  # no timestamp: assume frames follow each other without a gap
                    time = (last_time + frame_span) if last_time is not None else 0.0
                else:
                    time = frame.time - origin
                frame_span = _frame_span(frame, stream) or frame_span
                last_time = time
                yield time, frame
    except av.FFmpegError as error:
        readable = (last_time + frame_span) if last_time is not None else 0.0
        warnings.warn(
            TruncatedMediaWarning(path, readable, declared, f"{type(error).__name__}: {error}"), stacklevel=4
        )
        return
    readable = (last_time + frame_span) if last_time is not None else 0.0
    # A file cut at the end usually demuxes cleanly up to the cut: compare with what its header declares.
    tolerance = max(0.5, 2 * frame_span)
    if bad_packets or (declared is not None and readable < declared - tolerance):
        detail = f"{bad_packets} undecodable packet(s) skipped" if bad_packets else ""
        warnings.warn(TruncatedMediaWarning(path, readable, declared, detail), stacklevel=4)


def _decoded_from(
    container: av.container.InputContainer, stream: av.stream.Stream, path: str, origin: float, start: float
) -> Iterator[tuple[float, av.frame.Frame]]:
    """:func:`_decoded` from the frame at or before ``start`` on, after one seek.

    The seek asks for the keyframe at or before ``start``; some indexes (Matroska audio, sparse cues) land after it,
    and then the stream is decoded from the beginning instead, so no frame before ``start`` is ever missing.
    """
    if start > 0:
        try:
            container.seek(int((start + origin) / stream.time_base), stream=stream, backward=True, any_frame=False)
        except av.FFmpegError:  # not seekable (a pipe, a broken index): decode from where the stream is
            yield from _decoded(container, stream, path, origin)
            return
        frames = _decoded(container, stream, path, origin)
        first = next(frames, None)
        if first is None or first[0] <= start + _TICK_EPSILON:
            if first is not None:
                yield first
                yield from frames
            return
        frames.close()
        container.seek(0)
    yield from _decoded(container, stream, path, origin)


def _frame_span(frame: av.frame.Frame, stream: av.stream.Stream) -> float:
    """How long a decoded frame lasts, in seconds."""
    if isinstance(frame, av.AudioFrame):
        return frame.samples / frame.sample_rate if frame.sample_rate else 0.0
    rate = stream.average_rate or stream.guessed_rate
    return float(1 / rate) if rate else 0.0


def iter_frames_1fps(
    path: str | os.PathLike,
    *,
    fps: float = 1.0,
    start: float = 0.0,
    end: float | None = None,
    size: tuple[int, int] | None = (224, 224),
    resize: Literal["shorter", "exact"] = "shorter",
) -> Iterator[tuple[float, np.ndarray]]:
    """Sample a video at ``fps`` frames per second by decoding it sequentially.

    The sampling ticks are ``start + k / fps`` for ``k = 0, 1, ...`` while below ``end`` (or the end of the video).
    For each tick the first frame whose timestamp reaches it is kept; where the video has a gap longer than a tick,
    the frame after the gap serves every tick it covers, so there is always one frame per tick. Decoding every frame
    and keeping a few is several times faster than seeking per frame; the file is seeked once, to ``start``.

    Args:
        path: the video file.
        fps: samples per second.
        start: first tick, in seconds.
        end: ticks stop before this time (exclusive); ``None`` for the end of the video.
        size: ``(height, width)`` to scale frames to, or ``None`` to keep the decoded size.
        resize: ``"shorter"`` keeps the aspect ratio and scales the frame to cover ``size`` (for a square size the
            shorter side becomes that size; the image processor then centre-crops); ``"exact"`` scales to ``size``.

    Yields:
        ``(tick_seconds, frame)`` with ``frame`` an ``H x W x 3`` RGB ``uint8`` array.

    Raises:
        MediaError: not a media file, or no video stream.

    A truncated file yields the ticks up to where it breaks and emits a :class:`TruncatedMediaWarning`.
    """
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if resize not in ("shorter", "exact"):
        raise ValueError(f"resize must be 'shorter' or 'exact', got {resize!r}")
    if size is not None and (len(size) != 2 or min(size) <= 0):
        raise ValueError(f"size must be (height, width) with positive values or None, got {size!r}")
    _check_window(start, end)
    path = os.fspath(path)
    with _open_media(path) as container:
        if not container.streams.video:
            raise MediaError(f"{path}: no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # frame + slice threading: the decode is the cost here
        origin = _origin(container)
        step = 1.0 / fps
        k = 0
        time, frame, image = None, None, None
        with closing(_decoded_from(container, stream, path, origin, start)) as frames:
            for time, frame in frames:
                tick = start + k * step
                if end is not None and tick >= end:
                    return
                if time + _TICK_EPSILON < tick:
                    continue
                image = _to_rgb(frame, size, resize)
                while time + _TICK_EPSILON >= tick and (end is None or tick < end):
                    yield tick, image
                    k += 1
                    tick = start + k * step
        if time is None:
            return
        # Ticks after the last frame's timestamp but before it stops showing (a video slower than ``fps``) get it too.
        shown_until = time + _frame_span(frame, stream)
        tick = start + k * step
        while tick < shown_until - _TICK_EPSILON and (end is None or tick < end):
            if image is None:
                image = _to_rgb(frame, size, resize)
            yield tick, image
            k += 1
            tick = start + k * step


def _to_rgb(frame: av.VideoFrame, size: tuple[int, int] | None, resize: str) -> np.ndarray:
    if size is None:
        return frame.to_ndarray(format="rgb24")
    width, height = _output_size(frame.width, frame.height, size, resize)
    return frame.to_ndarray(width=width, height=height, format="rgb24")


def decode_audio(
    path: str | os.PathLike, *, sample_rate: int = 16000, start: float = 0.0, end: float | None = None
) -> np.ndarray:
    """Decode the first audio stream to a mono ``float32`` array at ``sample_rate`` (Whisper wants 16 kHz).

    Sample ``i`` of the result is at ``start + i / sample_rate`` seconds. The whole ``[start, end)`` window is held
    in memory (a 3-hour VOD at 16 kHz is about 700 MB): pass a window for long files.

    Raises:
        NoAudioError: the file has no audio stream.
        MediaError: not a media file.

    A truncated file returns the audio up to where it breaks and emits a :class:`TruncatedMediaWarning`.
    """
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    _check_window(start, end)
    path = os.fspath(path)
    with _open_media(path) as container:
        if not container.streams.audio:
            raise NoAudioError(f"{path}: no audio stream")
        stream = container.streams.audio[0]
        origin = _origin(container)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        chunks: list[np.ndarray] = []
        first_time = None
        with closing(_decoded_from(container, stream, path, origin, start)) as frames:
            for time, frame in frames:
                if end is not None and time >= end:
                    break
                if first_time is None:
                    first_time = time
                chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(frame))
        if first_time is None:
            return np.zeros(0, dtype=np.float32)
        chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(None))  # flush the filter delay
    samples = np.concatenate(chunks).astype(np.float32, copy=False)
    # Decoding starts at or before ``start``: drop the lead-in. Audio that begins late is silent until it begins.
    offset = round((first_time - start) * sample_rate)
    samples = np.concatenate([np.zeros(offset, np.float32), samples]) if offset > 0 else samples[-offset:]
    return samples if end is None else samples[: round((end - start) * sample_rate)]
