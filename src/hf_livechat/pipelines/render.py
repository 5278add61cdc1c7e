"""Burn generated live comments into a copy of a video, scrolling right to left as danmaku, with the audio kept.

The video is decoded and re-encoded frame by frame with PyAV (memory does not grow with its length); comments are
drawn with Pillow on the frames where they are on screen, on the lanes :func:`~.comment_files.layout_danmaku` gives them
(the ASS writer uses the same layout). Audio packets are copied as they are when the output container can carry
their codec, else re-encoded to AAC.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import closing, contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from PIL import ImageDraw, ImageFont
from tqdm.auto import tqdm

from ..data.media import MediaError, TruncatedMediaWarning
from .comment_files import DanmakuPlacement, default_font_size, layout_danmaku

__all__ = ["render_comments"]

OUTPUT_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv")
# Audio codecs the MP4/QuickTime muxer accepts as they are; Matroska takes any codec.
MP4_AUDIO_CODECS = frozenset({"aac", "mp3", "mp2", "ac3", "eac3", "alac", "flac", "opus"})
# The MPEG-4 Part 2 encoder rejects time bases with a denominator above this (H.264 has no such limit).
MAX_TIME_BASE_DENOMINATOR = 65535
FALLBACK_TIME_BASE = Fraction(1, 60000)  # divides 24, 25, 30, 50 and 60 fps, and milliseconds

FontLike = str | os.PathLike | ImageFont.FreeTypeFont | ImageFont.ImageFont


def render_comments(
    video_path: str | os.PathLike,
    comments: Iterable[Mapping[str, Any]],
    out_path: str | os.PathLike,
    *,
    scroll_seconds: float = 8.0,
    font: FontLike | None = None,
    font_size: int | None = None,
    lanes: int | None = None,
    progress: bool = True,
) -> Path:
    """Write a copy of ``video_path`` to ``out_path`` with ``comments`` scrolling across it.

    Args:
        video_path: the source video (anything PyAV opens).
        comments: ``{"time": seconds, "comment": text}`` mappings, as the ``video-comment-generation`` pipeline
            returns them.
        out_path: the rendered video; ``.mp4``, ``.m4v``, ``.mov`` or ``.mkv``. Written under a temporary name and
            moved into place when complete, so a failed render leaves no half-written file behind.
        scroll_seconds: how long a comment takes to cross the frame.
        font: a TrueType/OpenType font file or a loaded Pillow font; default Pillow's bundled font (Latin only:
            pass a CJK font such as Noto Sans CJK for Chinese or Japanese comments).
        font_size: text height in pixels; default 1/20 of the frame height.
        lanes: rows for comments; default as many as fit in the top three quarters of the frame.
        progress: show a progress bar over frames.

    Returns:
        ``out_path``. The video is H.264 (``libx264``; MPEG-4 Part 2 where PyAV has no x264), ``yuv420p``, with the
        source's frame timestamps; the first audio stream is copied (or re-encoded to AAC).

    Raises:
        MediaError: the source is not a readable video (the message names the file).
        CommentFormatError: a comment has no valid ``time`` or ``comment``.

    A source cut short (a VOD whose download stopped) is rendered up to where it breaks, with a
    :class:`~hf_livechat.data.media.TruncatedMediaWarning`.
    """
    video_path, out_path = os.fspath(video_path), Path(out_path)
    if out_path.suffix.lower() not in OUTPUT_SUFFIXES:
        raise ValueError(f"{out_path}: the rendered video must end in one of {', '.join(OUTPUT_SUFFIXES)}")
    if out_path.exists() and out_path.resolve() == Path(video_path).resolve():
        raise ValueError(f"{out_path}: refusing to render a video over its own source")
    comments = list(comments)
    partial = out_path.with_name(f"{out_path.stem}.partial{out_path.suffix}")
    try:
        with _open_video(video_path) as source, av.open(os.fspath(partial), "w") as output:
            _render(source, video_path, output, comments, scroll_seconds, font, font_size, lanes, progress)
        os.replace(partial, out_path)
    finally:
        partial.unlink(missing_ok=True)
    return out_path


@contextmanager
def _open_video(path: str) -> Iterator[av.container.InputContainer]:
    """``av.open`` for reading that reports a file PyAV cannot read, or one without video, as a :class:`MediaError`."""
    try:
        container = av.open(path)
    except (av.error.FileNotFoundError, av.error.IsADirectoryError, av.error.PermissionError):
        raise
    except av.FFmpegError as error:
        raise MediaError(f"{path}: not a readable video (unknown format or corrupt header): {error}") from error
    with closing(container):
        if not container.streams.video:
            raise MediaError(f"{path}: no video stream to draw comments on")
        yield container


def _render(
    source: av.container.InputContainer,
    video_path: str,
    output: av.container.OutputContainer,
    comments: list[Mapping[str, Any]],
    scroll_seconds: float,
    font: FontLike | None,
    font_size: int | None,
    lanes: int | None,
    progress: bool,
) -> None:
    in_video = source.streams.video[0]
    in_video.thread_type = "AUTO"
    in_audio = source.streams.audio[0] if source.streams.audio else None
    width, height = in_video.codec_context.width, in_video.codec_context.height
    origin = source.start_time / av.time_base if source.start_time is not None else 0.0

    font_size = default_font_size(height) if font_size is None else font_size
    pil_font = _load_font(font, font_size)
    stroke = max(1, round(font_size / 12))
    placements = layout_danmaku(
        comments,
        video_size=(width, height),
        scroll_seconds=scroll_seconds,
        font_size=font_size,
        lanes=lanes,
        text_width=lambda text: pil_font.getlength(text) + 2 * stroke,
    )

    out_video = _add_video_stream(output, in_video)
    copy_audio, out_audio = _add_audio_stream(output, in_audio) if in_audio is not None else (False, None)
    on_screen = _OnScreen(placements)
    streams = [in_video] + ([in_audio] if in_audio is not None else [])
    audio_index = in_audio.index if in_audio is not None else None
    rate = in_video.average_rate or in_video.guessed_rate
    frame_span = float(1 / rate) if rate else 0.0
    breaks: list[str] = []

    description = f"render {Path(video_path).name}"
    with tqdm(total=in_video.frames or None, unit="frame", desc=description, disable=not progress) as bar:
        for packet in _demux(source, streams, breaks):
            is_audio = packet.stream.index == audio_index
            if is_audio and copy_audio:
                if packet.dts is not None:  # the demuxer's final empty packet carries nothing to copy
                    packet.stream = out_audio
                    output.mux(packet)
                continue
            for frame in _decode(packet):
                if is_audio:
                    output.mux(out_audio.encode(frame))
                    continue
                # A frame without a timestamp (rare, broken muxers) is taken to follow the previous one.
                time = frame.time - origin if frame.time is not None else on_screen.last_time + frame_span
                drawn = on_screen.at(time)
                if drawn:
                    frame = _draw(frame, drawn, time, pil_font, stroke)
                output.mux(out_video.encode(frame))
                bar.update()
    output.mux(out_video.encode(None))
    if out_audio is not None and not copy_audio:
        output.mux(out_audio.encode(None))

    # A download cut short usually demuxes cleanly up to the cut: compare with the duration the header declares.
    declared = source.duration / av.time_base if source.duration is not None else None
    readable = on_screen.last_time + frame_span
    if breaks or (declared is not None and readable < declared - max(0.5, 2 * frame_span)):
        detail = f"rendered up to the break ({breaks[0]})" if breaks else "rendered what could be read"
        warnings.warn(TruncatedMediaWarning(video_path, readable, declared, detail), stacklevel=3)


def _demux(source: av.container.InputContainer, streams: list, breaks: list[str]) -> Iterator[av.Packet]:
    """Packets of ``streams`` in file order; where a damaged file stops demuxing, the error goes to ``breaks``."""
    try:
        yield from source.demux(streams)
    except av.FFmpegError as error:
        breaks.append(f"{type(error).__name__}: {error}")


def _decode(packet: av.Packet) -> list[av.frame.Frame]:
    try:
        return packet.decode()
    except av.error.InvalidDataError:  # one damaged packet: skip it, as players do
        return []


def _add_video_stream(output: av.container.OutputContainer, template: av.video.stream.VideoStream):
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    rate = template.average_rate or template.guessed_rate or 25
    stream = output.add_stream(codec, rate=rate)
    # yuv420p (what every player decodes) needs even dimensions; the encoder scales the frame by the odd pixel.
    stream.width = template.codec_context.width - template.codec_context.width % 2
    stream.height = template.codec_context.height - template.codec_context.height % 2
    stream.pix_fmt = "yuv420p"
    # Keep the source's timestamps (variable frame rates included) where the encoder accepts its time base.
    time_base = template.time_base
    if time_base is None or time_base.denominator > MAX_TIME_BASE_DENOMINATOR:
        time_base = FALLBACK_TIME_BASE
    stream.codec_context.time_base = time_base
    if codec == "libx264":
        stream.options = {"preset": "veryfast", "crf": "20"}
    else:
        stream.bit_rate = max(1_000_000, int(stream.width * stream.height * float(rate) * 0.2))
    return stream


def _add_audio_stream(output: av.container.OutputContainer, template: av.audio.stream.AudioStream):
    """The output audio stream: a copy of ``template`` when the container can hold its codec, else AAC.

    Returns:
        ``(copied, stream)``.
    """
    codec_name = template.codec_context.name
    if output.format.name == "matroska" or codec_name in MP4_AUDIO_CODECS:
        return True, output.add_stream_from_template(template)
    stream = output.add_stream("aac", rate=template.codec_context.sample_rate)
    channels = template.codec_context.channels
    stream.layout = "mono" if channels == 1 else "stereo"  # the layouts every AAC decoder plays
    return False, stream


class _OnScreen:
    """The placements visible at each time, for times that only increase (frames in presentation order)."""

    def __init__(self, placements: list[DanmakuPlacement]):
        self._pending = iter(placements)  # sorted by start
        self._next = next(self._pending, None)
        self._visible: list[DanmakuPlacement] = []
        self.last_time = 0.0

    def at(self, time: float) -> list[DanmakuPlacement]:
        self.last_time = time
        while self._next is not None and self._next.start <= time:
            self._visible.append(self._next)
            self._next = next(self._pending, None)
        self._visible = [placement for placement in self._visible if placement.end > time]
        return self._visible


def _draw(frame: av.VideoFrame, placements: list[DanmakuPlacement], time: float, font, stroke: int) -> av.VideoFrame:
    """A copy of ``frame`` with each placement's text at its position at ``time`` (white, black outline)."""
    image = frame.to_image()
    draw = ImageDraw.Draw(image)
    for placement in placements:
        position = (placement.x_at(time) + stroke, placement.y)
        draw.text(position, placement.text, font=font, fill="white", stroke_width=stroke, stroke_fill="black")
    drawn = av.VideoFrame.from_image(image)
    drawn.pts, drawn.time_base = frame.pts, frame.time_base
    return drawn


def _load_font(font: FontLike | None, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if font is None:
        return ImageFont.load_default(size=size)  # Pillow's bundled TrueType font: no system fonts needed
    if isinstance(font, (ImageFont.FreeTypeFont, ImageFont.ImageFont)):
        return font
    try:
        return ImageFont.truetype(os.fspath(font), size)
    except OSError as error:
        raise ValueError(f"{os.fspath(font)}: not a TrueType/OpenType font file Pillow can open: {error}") from error
