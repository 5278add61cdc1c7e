"""Files people can watch generated live comments with: JSON (the pipeline's own records), SRT (one cue per comment)
and danmaku-style ASS (comments scrolling right to left over the video, as on Bilibili or Niconico).

A comment is a mapping with ``time`` (seconds from the start of the video, when it is posted) and ``comment`` (its
text), as the ``video-comment-generation`` pipeline returns them; other keys (``score``) are kept in the JSON.

The scrolling layout (:func:`layout_danmaku`) is computed once here and used both by the ASS writer and by
:func:`hf_livechat.pipelines.render.render_comments`, which burns the same motion into a video.
"""

from __future__ import annotations

import json
import math
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Real
from pathlib import Path
from typing import Any

import pysubs2

__all__ = [
    "CommentFormatError",
    "DanmakuPlacement",
    "default_font_size",
    "estimate_text_width",
    "layout_danmaku",
    "read_comments_json",
    "validate_comments",
    "write_comment_files",
    "write_comments_json",
    "write_comments_srt",
    "write_danmaku_ass",
]

DANMAKU_STYLE = "Danmaku"
# Lanes fill the top three quarters of the frame, as video players' default danmaku area does: the bottom, where
# the video's own subtitles and game HUDs usually are, stays clear.
DANMAKU_AREA = 0.75
LANE_PITCH = 1.25  # lane height in font sizes: a line plus room for the outline


class CommentFormatError(ValueError):
    """Comments that cannot be written: not a list of ``{"time": seconds >= 0, "comment": str}`` mappings.

    The message names the file (when there is one), the comment's index and what is wrong with it.
    """


def _where(index: int, source: str | os.PathLike | None) -> str:
    return f"{os.fspath(source)}: comment {index}" if source is not None else f"comment {index}"


def validate_comments(
    comments: Iterable[Mapping[str, Any]], *, source: str | os.PathLike | None = None
) -> list[dict[str, Any]]:
    """Check generated comments and return them as plain dicts (in the given order) with ``time`` as a float.

    Args:
        comments: mappings with ``time`` (finite seconds >= 0) and ``comment`` (a string); other keys are kept.
        source: the file the comments came from, named in errors.

    Raises:
        CommentFormatError: a comment is not a mapping, or its ``time`` or ``comment`` is missing or invalid.
    """
    if isinstance(comments, (str, bytes, Mapping)):
        raise CommentFormatError(
            f"{os.fspath(source) + ': ' if source is not None else ''}expected a list of comments, "
            f"got {type(comments).__name__}"
        )
    checked = []
    for index, comment in enumerate(comments):
        where = _where(index, source)
        if not isinstance(comment, Mapping):
            raise CommentFormatError(f"{where}: expected a mapping with 'time' and 'comment', got {comment!r}")
        for key in ("time", "comment"):
            if key not in comment:
                raise CommentFormatError(f"{where}: {key!r} is missing in {dict(comment)!r}")
        time = comment["time"]
        # bool is a Real too, and True seconds is certainly a bug upstream.
        if isinstance(time, bool) or not isinstance(time, Real) or not math.isfinite(time):
            raise CommentFormatError(f"{where}: 'time' must be a finite number of seconds, got {time!r}")
        if time < 0:
            raise CommentFormatError(f"{where}: 'time' must be >= 0 (seconds from the video start), got {time!r}")
        if not isinstance(comment["comment"], str):
            raise CommentFormatError(f"{where}: 'comment' must be a string, got {comment['comment']!r}")
        checked.append({**comment, "time": float(time)})
    return checked


def _one_line(text: str) -> str:
    """A scrolling comment is a single line: runs of whitespace (newlines included) become one space."""
    return " ".join(text.split())


def _escape_srt(text: str) -> str:
    """Keep ``\\N``, ``\\n`` and ``\\h`` in a comment literal (pysubs2 turns them into line breaks and spaces)."""
    return re.sub(r"\\(?=[nNh])", "\\\\\u200b", text)


def _escape_ass(text: str) -> str:
    """Make comment text literal in ASS: a ``{`` would open an override block and ``\\N`` would break the line.

    The zero-width space after a backslash keeps ``\\N``, ``\\n`` and ``\\h`` from being read as escapes (the same
    trick danmaku2ass uses); libass shows ``\\{`` and ``\\}`` as plain braces.
    """
    return text.replace("\\", "\\\u200b").replace("{", "\\{").replace("}", "\\}")


# --------------------------------------------------------------------------------------------------------------------
# Layout


def default_font_size(video_height: int) -> int:
    """The danmaku font size for a frame height: 1/20 of it (54 px at 1080p, 24 px at 480p), at least 10 px."""
    return max(10, round(video_height / 20))


def estimate_text_width(text: str, font_size: float) -> float:
    """Width of ``text`` in pixels without a font at hand: full-width (CJK) characters take one em, others 0.6 em.

    A little wider than most sans-serif fonts draw Latin text, so lanes laid out with it do not overlap on screen.
    """
    ems = sum(1.0 if unicodedata.east_asian_width(char) in "WF" else 0.6 for char in text)
    return ems * font_size


@dataclass(frozen=True, slots=True)
class DanmakuPlacement:
    """Where and when one comment scrolls: its left edge moves from ``x_start`` (the right edge of the frame) to
    ``x_end`` (``-width``: just off the left edge) between ``start`` and ``end`` seconds, along row ``lane`` whose
    top is at ``y`` pixels."""

    text: str
    start: float
    end: float
    lane: int
    y: int
    x_start: float
    x_end: float
    width: float

    @property
    def speed(self) -> float:
        """Pixels per second (to the left)."""
        return (self.x_start - self.x_end) / (self.end - self.start)

    def x_at(self, time: float) -> float:
        """The left edge of the text at ``time`` (meaningful for ``start <= time <= end``)."""
        return self.x_start - self.speed * (time - self.start)


def _lane_is_free(previous: DanmakuPlacement, start: float, speed: float, frame_width: int, gap: float) -> bool:
    """Whether a comment entering at ``start`` with ``speed`` can follow ``previous`` in its lane without touching it.

    Both move at constant speeds, so their distance changes linearly: checking it when the new one enters and when
    the previous one leaves covers every moment they share the screen.
    """
    if start >= previous.end:
        return True
    # The previous comment's tail (plus a gap) must have entered the frame...
    if previous.x_at(start) + previous.width + gap > frame_width:
        return False
    # ...and a faster (longer) newcomer must not catch its tail before it has left (its tail is at x=0 then).
    return frame_width - speed * (previous.end - start) >= gap


def layout_danmaku(
    comments: Iterable[Mapping[str, Any]],
    *,
    video_size: tuple[int, int],
    scroll_seconds: float = 8.0,
    font_size: int | None = None,
    lanes: int | None = None,
    text_width: Callable[[str], float] | None = None,
) -> list[DanmakuPlacement]:
    """Assign each comment a lane (row) and a right-to-left motion, in time order.

    Every comment crosses the frame in ``scroll_seconds`` (so longer ones move faster, as on Bilibili). A comment
    takes the top-most lane where it cannot touch the previous comment of that lane; when every lane is busy it goes
    to the lane that frees up first and overlaps there (nothing is dropped: a viewer still sees every comment).

    Args:
        comments: ``{"time", "comment"}`` mappings (see :func:`validate_comments`).
        video_size: ``(width, height)`` of the frame in pixels.
        scroll_seconds: how long a comment takes to cross the frame.
        font_size: text height in pixels; default :func:`default_font_size` of the frame height.
        lanes: number of rows; default as many as fit in the top three quarters of the frame.
        text_width: measures a comment in pixels; default :func:`estimate_text_width` at ``font_size`` (the
            renderer passes its real font's measure).

    Returns:
        One :class:`DanmakuPlacement` per comment, sorted by start time (stable for equal times).
    """
    width, height = _check_video_size(video_size)
    if not scroll_seconds > 0:
        raise ValueError(f"scroll_seconds must be positive, got {scroll_seconds}")
    font_size = default_font_size(height) if font_size is None else font_size
    if font_size <= 0:
        raise ValueError(f"font_size must be positive, got {font_size}")
    pitch = max(1, math.ceil(font_size * LANE_PITCH))
    lanes = max(1, int(height * DANMAKU_AREA) // pitch) if lanes is None else lanes
    if lanes < 1:
        raise ValueError(f"lanes must be at least 1, got {lanes}")
    measure = text_width or (lambda text: estimate_text_width(text, font_size))
    gap = font_size  # room between consecutive comments of a lane, so they read as separate
    margin = (pitch - font_size) // 2

    ordered = sorted(validate_comments(comments), key=lambda comment: comment["time"])
    last_in_lane: list[DanmakuPlacement | None] = [None] * lanes
    placements = []
    for comment in ordered:
        text = _one_line(comment["comment"])
        start = comment["time"]
        text_px = float(measure(text))
        speed = (width + text_px) / scroll_seconds
        free = (
            lane
            for lane, previous in enumerate(last_in_lane)
            if previous is None or _lane_is_free(previous, start, speed, width, gap)
        )
        lane = next(free, None)
        if lane is None:
            lane = min(range(lanes), key=lambda index: last_in_lane[index].end)
        placement = DanmakuPlacement(
            text=text,
            start=start,
            end=start + scroll_seconds,
            lane=lane,
            y=margin + lane * pitch,
            x_start=float(width),
            x_end=-text_px,
            width=text_px,
        )
        last_in_lane[lane] = placement
        placements.append(placement)
    return placements


def _check_video_size(video_size: Sequence[int]) -> tuple[int, int]:
    if len(video_size) != 2 or any(isinstance(v, bool) or not isinstance(v, int) or v <= 0 for v in video_size):
        raise ValueError(f"video_size must be (width, height) in positive whole pixels, got {video_size!r}")
    return int(video_size[0]), int(video_size[1])


# --------------------------------------------------------------------------------------------------------------------
# Writers


def _json_value(value: Any) -> Any:
    """numpy scalars and arrays (a score straight from a model) as plain Python values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def write_comments_json(comments: Iterable[Mapping[str, Any]], path: str | os.PathLike) -> Path:
    """Write the comments as a JSON list, every key kept; :func:`read_comments_json` reads them back."""
    checked = validate_comments(comments)
    path = Path(path)
    path.write_text(json.dumps(checked, ensure_ascii=False, indent=2, default=_json_value) + "\n", encoding="utf-8")
    return path


def read_comments_json(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Read comments written by :func:`write_comments_json` (or any JSON list of ``{"time", "comment"}``).

    Raises:
        CommentFormatError: the file is not JSON, or not a list of valid comments (the message names the file).
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CommentFormatError(f"{os.fspath(path)}: not a JSON file of comments: {error}") from error
    if not isinstance(data, list):
        raise CommentFormatError(f"{os.fspath(path)}: expected a JSON list of comments, got {type(data).__name__}")
    return validate_comments(data, source=path)


def write_comments_srt(
    comments: Iterable[Mapping[str, Any]], path: str | os.PathLike, *, duration: float = 4.0
) -> Path:
    """Write one SRT cue per comment, shown from its time for ``duration`` seconds (cues may overlap, and players
    stack them)."""
    if not duration > 0:
        raise ValueError(f"duration must be positive, got {duration}")
    subs = pysubs2.SSAFile()
    for comment in sorted(validate_comments(comments), key=lambda comment: comment["time"]):
        start = round(comment["time"] * 1000)
        text = _escape_srt(_one_line(comment["comment"]))
        subs.events.append(pysubs2.SSAEvent(start=start, end=start + round(duration * 1000), text=text))
    path = Path(path)
    # keep_ssa_tags: write the text as is; the default would parse braces in a comment as ASS override tags.
    subs.save(os.fspath(path), format_="srt", keep_ssa_tags=True)
    return path


def _danmaku_style(font_size: int) -> pysubs2.SSAStyle:
    """White text with a black outline anchored at its top-left corner, so ``\\move`` positions are the text's."""
    return pysubs2.SSAStyle(
        fontname="Arial",
        fontsize=font_size,
        primarycolor=pysubs2.Color(255, 255, 255),
        outlinecolor=pysubs2.Color(0, 0, 0),
        outline=max(1.0, font_size / 16),
        shadow=0.0,
        alignment=pysubs2.Alignment.TOP_LEFT,
        marginl=0,
        marginr=0,
        marginv=0,
    )


def write_danmaku_ass(
    comments: Iterable[Mapping[str, Any]],
    path: str | os.PathLike,
    *,
    video_size: tuple[int, int],
    scroll_seconds: float = 8.0,
    font_size: int | None = None,
    lanes: int | None = None,
) -> Path:
    """Write an ASS subtitle file where every comment scrolls right to left across the video, danmaku style.

    Each comment is one event with ``{\\move(x1,y,x2,y)}`` over ``scroll_seconds`` from its time, on the lane
    :func:`layout_danmaku` gives it; the script's resolution is ``video_size`` so that players scale it with the
    video. Play it with ``mpv --sub-file=comments.ass video.mp4`` or burn it in with ffmpeg's ``ass`` filter.
    """
    width, height = _check_video_size(video_size)
    font_size = default_font_size(height) if font_size is None else font_size
    placements = layout_danmaku(
        comments, video_size=video_size, scroll_seconds=scroll_seconds, font_size=font_size, lanes=lanes
    )
    subs = pysubs2.SSAFile()
    subs.info.update({"PlayResX": str(width), "PlayResY": str(height), "WrapStyle": "2"})  # 2: never wrap
    subs.styles = {DANMAKU_STYLE: _danmaku_style(font_size)}
    for placement in placements:
        move = f"{{\\move({round(placement.x_start)},{placement.y},{round(placement.x_end)},{placement.y})}}"
        subs.events.append(
            pysubs2.SSAEvent(
                start=round(placement.start * 1000),
                end=round(placement.end * 1000),
                text=move + _escape_ass(placement.text),
                style=DANMAKU_STYLE,
            )
        )
    path = Path(path)
    subs.save(os.fspath(path), format_="ass")
    return path


def write_comment_files(
    comments: Iterable[Mapping[str, Any]],
    out_prefix: str | os.PathLike,
    *,
    video_size: tuple[int, int],
    duration: float = 4.0,
    scroll_seconds: float = 8.0,
) -> dict[str, Path]:
    """Write ``{out_prefix}.json``, ``.srt`` (cues of ``duration`` seconds) and ``.ass`` (danmaku scrolling over
    ``scroll_seconds`` on a ``video_size`` frame).

    Returns:
        ``{"json": path, "srt": path, "ass": path}``.
    """
    comments = validate_comments(comments)  # once, and before any file is written
    prefix = os.fspath(out_prefix)
    return {
        "json": write_comments_json(comments, prefix + ".json"),
        "srt": write_comments_srt(comments, prefix + ".srt", duration=duration),
        "ass": write_danmaku_ass(comments, prefix + ".ass", video_size=video_size, scroll_seconds=scroll_seconds),
    }
