"""Cutting a VOD into LiveChat training clips, choosing which clips to keep, and splitting VODs into train/validation/
test.

A clip is ``clip_length`` seconds (30) on a grid starting at 0: the first ``context_length`` seconds (20) are the
context (video frames, speech, chat), the rest (10) the response window whose comments are the targets. The
published LiveChat pipeline fed the model frames and transcript of the *whole* 30 s clip, so the input overlapped the
seconds in which the target comments were written; here the input stops at the end of the context by default
(``input_span="context"``), and ``input_span="paper"`` reproduces the published, leaking, setting for comparison.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .builders.schema import comment_rows
from .chat.message import ChatMessage
from .transcripts import TranscriptSegment
from .windows import StreamContext, window_row

__all__ = ["SPLIT_NAMES", "Clip", "ClipConfig", "assign_splits", "make_clips", "select_clip_starts", "split_by_time"]

logger = logging.getLogger(__name__)

SPLIT_NAMES = ("train", "validation", "test")


@dataclass(frozen=True)
class ClipConfig:
    """How a VOD is cut into clips.

    Attributes:
        clip_length: seconds per clip (context + response).
        context_length: seconds of context at the start of each clip; the response window is the rest.
        fps: input video frames per second.
        selection: ``"busiest"`` keeps the ``num_stretches`` non-overlapping ``stretch_length`` stretches with the
            most chat (the paper's protocol), ``"all"`` keeps every clip.
        num_stretches: stretches kept per VOD by ``"busiest"``.
        stretch_length: seconds per stretch; a VOD shorter than one stretch is one stretch as long as it.
        clips_per_stretch: consecutive clips taken from the start of each stretch.
        input_span: ``"context"``: frames and transcript cover ``[start, context_end)``; ``"paper"``: they cover the
            whole clip ``[start, end)`` as the published pipeline did (leaks the response window's video and speech).
        min_response_comments: clips with fewer comments in the response window are dropped (nothing to predict).
        min_context_comments: clips with fewer comments in the context window are dropped.
        clip_stride: with ``"all"``, seconds between clip starts (default ``clip_length``: clips back to back). A
            shorter stride gives sliding, overlapping clips: a response window every ``clip_stride`` seconds, for
            a log too short to give enough back-to-back clips, and windows at every offset from an event.
    """

    clip_length: float = 30.0
    context_length: float = 20.0
    fps: float = 1.0
    selection: Literal["busiest", "all"] = "busiest"
    num_stretches: int = 3
    stretch_length: float = 600.0
    clips_per_stretch: int = 20
    input_span: Literal["context", "paper"] = "context"
    min_response_comments: int = 1
    min_context_comments: int = 0
    clip_stride: float | None = None

    def __post_init__(self) -> None:
        if not 0 < self.context_length < self.clip_length:
            raise ValueError(
                f"need 0 < context_length < clip_length, got context_length={self.context_length}, "
                f"clip_length={self.clip_length}"
            )
        if self.fps <= 0:
            raise ValueError(f"fps must be positive, got {self.fps}")
        if self.selection not in ("busiest", "all"):
            raise ValueError(f"selection must be 'busiest' or 'all', got {self.selection!r}")
        if self.input_span not in ("context", "paper"):
            raise ValueError(f"input_span must be 'context' or 'paper', got {self.input_span!r}")
        if self.num_stretches < 1 or self.clips_per_stretch < 1:
            raise ValueError("num_stretches and clips_per_stretch must be at least 1")
        if self.clips_per_stretch * self.clip_length > self.stretch_length + 1e-9:
            raise ValueError(
                f"{self.clips_per_stretch} clips of {self.clip_length}s do not fit in a {self.stretch_length}s stretch"
            )
        if self.min_response_comments < 0 or self.min_context_comments < 0:
            raise ValueError("minimum comment counts cannot be negative")
        if self.clip_stride is not None:
            if not 0 < self.clip_stride <= self.clip_length:
                raise ValueError(f"need 0 < clip_stride <= clip_length ({self.clip_length}), got {self.clip_stride}")
            if self.selection != "all" and self.clip_stride != self.clip_length:
                raise ValueError("clip_stride applies to selection='all' (the busiest stretches are cut back to back)")

    @property
    def stride(self) -> float:
        """Seconds between clip starts."""
        return self.clip_stride if self.clip_stride is not None else self.clip_length

    @property
    def response_length(self) -> float:
        return self.clip_length - self.context_length

    @property
    def input_length(self) -> float:
        """Seconds of video and speech the model sees, from the clip start."""
        return self.context_length if self.input_span == "context" else self.clip_length


@dataclass(frozen=True)
class Clip:
    """One training example: a window of a VOD with its chat, speech and input frame times (all in VOD seconds).

    Attributes:
        vod_id: the VOD it comes from.
        index: position on the VOD's clip grid (``start == index * stride``), stable whatever is selected.
        start, context_end, end: the context is ``[start, context_end)``, the response window ``[context_end, end)``.
        input_end: where the input frames and transcript stop (``context_end``, or ``end`` in paper mode).
        context_comments: chat in the context window, by time (a row's ``context_comments``).
        response_comments: chat in the response window, by time: the targets (a row's ``response_comments``).
        transcript: speech in ``[start, input_end)``, cues clipped to it.
        frame_times: the times of the input video frames (``start + k / fps`` below ``input_end``).
        metadata: caller-supplied VOD metadata (streamer, category, ...), copied per clip.
    """

    vod_id: str
    index: int
    start: float
    context_end: float
    end: float
    input_end: float
    context_comments: tuple[ChatMessage, ...]
    response_comments: tuple[ChatMessage, ...]
    transcript: tuple[TranscriptSegment, ...]
    frame_times: tuple[float, ...]
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def clip_id(self) -> str:
        return f"{self.vod_id}-{self.index}"

    def to_row(
        self, frame_times: Sequence[float] | None = None, has_video: bool = True, has_transcript: bool = True
    ) -> dict[str, Any]:
        """The clip as a dataset row (`builders.livechat.clip_features`, without ``video_features``), its inputs
        written by `window_row` as serving writes a window's. ``frame_times``: the frames actually read (default:
        all of ``self.frame_times``); ``streamer`` and ``category`` come from the metadata.

        ``has_video=False`` (a chat-only VOD) writes no frame times; ``has_transcript=False`` (no transcript file and
        no ASR) writes ``transcript=None`` and no segments, so that an absent transcript never reads as ``""``, a
        streamer who said nothing in the window."""
        if not has_video:
            frame_times = ()
        row = window_row(
            self.context_comments,
            self.transcript if has_transcript else (),
            self.frame_times if frame_times is None else frame_times,
            clip_id=self.clip_id,
            vod_id=self.vod_id,
            streamer=self.metadata.get("streamer"),
            category=self.metadata.get("category"),
            clip_index=self.index,
            start=self.start,
            context_end=self.context_end,
            end=self.end,
            input_end=self.input_end,
            response_comments=comment_rows(self.response_comments),
            has_video=has_video,
            has_transcript=has_transcript,
        )
        if not has_transcript:
            row["transcript"] = None
        return row


def select_clip_starts(
    message_times: Sequence[float] | np.ndarray, duration: float, config: ClipConfig
) -> list[float]:
    """Start times of the clips to keep from a VOD of ``duration`` seconds, ascending.

    Clips lie on a grid of ``config.stride`` from 0 and must end within the VOD. ``"all"`` keeps every one;
    ``"busiest"`` counts chat per grid slot, finds the ``stretch_length`` window with the most messages, masks it
    and repeats ``num_stretches`` times (stretches never overlap; one that no longer fits whole is not taken), then
    keeps the first ``clips_per_stretch`` clips of each stretch. Messages before 0 or after the last full clip are
    not counted.
    """
    num_clips = int(np.floor(duration / config.clip_length + 1e-9)) if duration > 0 else 0
    if num_clips == 0:
        return []
    if config.selection == "all":
        num_starts = int(np.floor((duration - config.clip_length) / config.stride + 1e-9)) + 1
        return [k * config.stride for k in range(num_starts)]

    times = np.asarray(message_times, dtype=np.float64)
    slots = np.floor(times[(times >= 0) & (times < num_clips * config.clip_length)] / config.clip_length)
    counts = np.bincount(slots.astype(np.int64), minlength=num_clips)
    stretch = min(round(config.stretch_length / config.clip_length), num_clips)
    # windowed[i] = messages in slots [i, i + stretch): a cumulative-sum difference, no loop over slots.
    cumulative = np.concatenate([[0], np.cumsum(counts)])
    windowed = (cumulative[stretch:] - cumulative[:-stretch]).astype(np.float64)

    chosen = []
    for _ in range(config.num_stretches):
        if not np.isfinite(windowed).any():
            break
        first = int(np.argmax(windowed))  # ties: the earliest stretch
        chosen.append(first)
        # Any stretch starting within ``stretch`` slots of this one would overlap it.
        windowed[max(0, first - stretch + 1) : first + stretch] = -np.inf
    keep = min(config.clips_per_stretch, stretch)
    grid = sorted(first + k for first in chosen for k in range(keep))
    return [slot * config.clip_length for slot in grid]


def make_clips(
    vod_id: str,
    messages: Iterable[ChatMessage],
    transcript: Iterable[TranscriptSegment] | None,
    duration: float,
    config: ClipConfig | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> list[Clip]:
    """Cut one VOD into clips, selected by ``config.selection``, with their chat, speech and frame times.

    A message at time ``t`` is context when ``start <= t < context_end`` and response when
    ``context_end <= t < end``. Clips with fewer than ``min_response_comments`` response or
    ``min_context_comments`` context messages are dropped. A VOD shorter than one clip gives ``[]`` (logged at
    INFO level), as does one whose chat is all outside the selected clips.
    """
    config = config or ClipConfig()
    if duration < config.clip_length:
        logger.info("VOD %s: %.1fs is shorter than one %.0fs clip, no clips", vod_id, duration, config.clip_length)
        return []
    stream = StreamContext(messages=messages, segments=transcript or (), duration=duration)
    starts = select_clip_starts(stream.message_times, duration, config)
    frame_offsets = np.arange(int(np.ceil(config.input_length * config.fps - 1e-9))) / config.fps

    clips = []
    for start in starts:
        context_end, end = start + config.context_length, start + config.clip_length
        context, response = stream.comments_in(start, context_end), stream.comments_in(context_end, end)
        if len(response) < config.min_response_comments or len(context) < config.min_context_comments:
            continue
        input_end = start + config.input_length
        clips.append(
            Clip(
                vod_id=vod_id,
                index=round(start / config.stride),
                start=start,
                context_end=context_end,
                end=end,
                input_end=input_end,
                context_comments=tuple(context),
                response_comments=tuple(response),
                transcript=tuple(stream.speech_in(start, input_end)),
                frame_times=tuple((start + frame_offsets).tolist()),
                metadata=dict(metadata or {}),
            )
        )
    if not clips:
        logger.info(
            "VOD %s: no clip has enough chat (%d messages, %d candidate clips)", vod_id, len(stream.messages), len(starts)
        )
    return clips


def split_by_time(count: int, shares: Sequence[float]) -> list[str]:
    """The splits of ``count`` examples of one VOD in time order: the first ``shares[0]`` of them are ``"train"``,
    the next ``shares[1]`` (when given) ``"validation"``, the rest ``"test"`` (counts rounded to the nearest
    example). Cuts by position, so that a model is tested on the part of a stream that follows what it learned.

    Raises:
        ValueError: not one or two positive shares summing to less than 1.
    """
    shares = tuple(float(x) for x in shares)
    if not 1 <= len(shares) <= 2 or min(shares) <= 0 or sum(shares) >= 1:
        raise ValueError(f"shares must be (train,) or (train, validation), positive, summing to less than 1; got {shares}")
    train = int(count * shares[0] + 0.5)  # half up, not Python's half to even
    validation = int(count * sum(shares) + 0.5) - train if len(shares) == 2 else 0
    return ["train"] * train + ["validation"] * validation + ["test"] * (count - train - validation)


def assign_splits(
    vod_ids_or_rows: Iterable[str | Mapping[str, Any]],
    by: Literal["vod", "streamer"] = "vod",
    ratios: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
) -> dict[str, str]:
    """Assign each VOD to ``"train"``, ``"validation"`` or ``"test"``, never splitting a VOD (or a streamer).

    Args:
        vod_ids_or_rows: VOD ids, or rows (e.g. one per clip) with ``"vod_id"``, optionally ``"streamer"`` and
            ``"split"``. A row's explicit ``split`` is kept and, with ``by="streamer"``, applies to all of that
            streamer's VODs.
        by: the unit kept whole: the VOD, or the streamer (no streamer's VODs in two splits; needs rows with a
            ``"streamer"``).
        ratios: target shares of train, validation and test. Each unit lands by a hash of ``seed`` and its key, so
            the split is deterministic, independent of order, and a VOD keeps its split when others are added; the
            shares are met in expectation, not exactly, for few units.
        seed: changes the assignment.

    Returns:
        ``{vod_id: split}``.

    Raises:
        ValueError: bad ratios, a row without ``vod_id``, a VOD with two streamers or two explicit splits, or, with
            ``by="streamer"``, a row without a streamer or a streamer with two explicit splits.
    """
    if by not in ("vod", "streamer"):
        raise ValueError(f"by must be 'vod' or 'streamer', got {by!r}")
    if len(ratios) != len(SPLIT_NAMES) or min(ratios) < 0 or not np.isclose(sum(ratios), 1.0):
        raise ValueError(f"ratios must be {len(SPLIT_NAMES)} non-negative shares summing to 1, got {tuple(ratios)}")

    group_of: dict[str, str] = {}  # vod_id -> the key kept whole
    explicit: dict[str, str] = {}  # group key -> split given in the rows
    for row in vod_ids_or_rows:
        if isinstance(row, str):
            row = {"vod_id": row}
        vod_id = row.get("vod_id")
        if vod_id is None:
            raise ValueError(f"row without 'vod_id': {dict(row)!r}")
        vod_id = str(vod_id)
        if by == "streamer":
            if not row.get("streamer"):
                raise ValueError(f"by='streamer' needs a 'streamer' in every row; VOD {vod_id!r} has none")
            key = str(row["streamer"])
        else:
            key = vod_id
        if group_of.setdefault(vod_id, key) != key:
            raise ValueError(f"VOD {vod_id!r} has two streamers: {group_of[vod_id]!r} and {key!r}")
        if row.get("split") and explicit.setdefault(key, row["split"]) != row["split"]:
            raise ValueError(f"{by} {key!r} is given two splits: {explicit[key]!r} and {row['split']!r}")

    bounds = np.cumsum(ratios)
    splits = {}
    for vod_id, key in group_of.items():
        if key in explicit:
            splits[vod_id] = explicit[key]
        else:
            splits[vod_id] = SPLIT_NAMES[_bucket(f"{seed}:{key}", bounds)]
    return splits


def _bucket(key: str, bounds: np.ndarray) -> int:
    """Index of the share a key falls in, from a stable hash (not Python's per-process ``hash``)."""
    unit = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") / 2**64
    return min(int(np.searchsorted(bounds, unit, side="right")), len(bounds) - 1)
