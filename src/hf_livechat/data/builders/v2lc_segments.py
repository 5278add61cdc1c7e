"""Builds an LCAffect-style segment dataset: short video segments (8 s at 1 fps) with the live comments written while
they played, the positives of V2LC's video <-> live comment contrastive training.

A VOD is cut on a grid of `segment_length` seconds (or a sliding grid with `stride`); a segment is kept when at least
`min_comments` comments (after the chat filters) fall in `[start, end)`. The build shares LiveChat's machinery
(`builders/vod_builder.py`): one Parquet shard per VOD written atomically, `build_state.json` for resume, a VOD that
cannot be read skipped and reported, a card that `load_dataset(folder)` reads. No torch here; the command line
(`hf-livechat build-lcaffect`) lives in `hf_livechat.cli`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..chat import ChatMessage, ChatStats, read_chat
from ..media import MediaError, probe_media
from .frames import encode_run_frames
from .manifest import VodSource
from .schema import comment_feature, comment_rows
from .state import VodBuildOptions
from .vod_builder import BuildSummary, VodShardBuilder


__all__ = [
    "LCAffectBuildOptions",
    "LCAffectDatasetBuilder",
    "Segment",
    "SegmentConfig",
    "build_lcaffect_dataset",
    "make_segments",
    "segment_starts",
    "segment_features",
]


@dataclass(frozen=True)
class SegmentConfig:
    """How a VOD is cut into segments.

    Attributes:
        segment_length: seconds per segment (LCAffect: 8).
        stride: seconds between segment starts; `None` is `segment_length` (a fixed grid of disjoint segments), less
            slides overlapping windows.
        fps: frames per second of the segment's video input.
        min_comments: a segment with fewer comments (after the chat filters) is not kept.
        max_comments: comments stored per segment, at most. A busy danmaku segment holds hundreds; the kept ones are
            spread evenly over the segment's comments in time order (deterministic, and they cover the whole 8 s rather
            than its first second). `None` keeps all. `num_comments` in a row always counts all of them.
    """

    segment_length: float = 8.0
    stride: float | None = None
    fps: float = 1.0
    min_comments: int = 5
    max_comments: int | None = 32

    def __post_init__(self) -> None:
        if self.segment_length <= 0:
            raise ValueError(f"segment_length must be positive, got {self.segment_length}")
        if self.stride is not None and self.stride <= 0:
            raise ValueError(f"stride must be positive or None, got {self.stride}")
        if self.fps <= 0:
            raise ValueError(f"fps must be positive, got {self.fps}")
        if self.min_comments < 0:
            raise ValueError(f"min_comments cannot be negative, got {self.min_comments}")
        if self.max_comments is not None and self.max_comments < max(self.min_comments, 1):
            raise ValueError(f"max_comments ({self.max_comments}) must be at least min_comments and 1, or None")

    @property
    def step(self) -> float:
        return self.stride if self.stride is not None else self.segment_length

    @property
    def frames_per_segment(self) -> int:
        return math.ceil(self.segment_length * self.fps - 1e-9)


@dataclass(frozen=True)
class Segment:
    """One segment of a VOD: `[start, end)` in VOD seconds, its kept comments (by time) and input frame times.

    `index` is the position on the VOD's grid (`start == index * step`), so `segment_id` is stable whatever is kept.
    """

    vod_id: str
    index: int
    start: float
    end: float
    comments: tuple[ChatMessage, ...]
    num_comments: int
    frame_times: tuple[float, ...]

    @property
    def segment_id(self) -> str:
        return f"{self.vod_id}-{self.index}"


def segment_starts(duration: float, config: SegmentConfig) -> np.ndarray:
    """Start times of every segment that ends within a VOD of `duration` seconds: `k * step`, ascending."""
    if duration < config.segment_length:
        return np.zeros(0)
    count = math.floor((duration - config.segment_length) / config.step + 1e-9) + 1
    return np.arange(count) * config.step


def _spread(items: Sequence, k: int | None) -> tuple:
    """`k` items spread evenly over `items` (first and last included), in order; all of them when `k` is None."""
    if k is None or len(items) <= k:
        return tuple(items)
    if k == 1:
        return (items[0],)
    # floor(x + 0.5), not round(): banker's rounding could pick the same item twice.
    picks = np.floor(np.arange(k) * (len(items) - 1) / (k - 1) + 0.5).astype(int)
    return tuple(items[i] for i in picks)


def make_segments(vod_id: str, messages: Sequence[ChatMessage], duration: float, config: SegmentConfig | None = None) -> list[Segment]:
    """Cuts a VOD of `duration` seconds into segments with at least `config.min_comments` messages each.

    A message at time `t` belongs to a segment when `start <= t < end` (with a stride below the segment length it
    belongs to every overlapping segment). Messages need not be sorted.
    """
    config = config or SegmentConfig()
    ordered = sorted(messages, key=lambda message: message.time)
    times = np.fromiter((m.time for m in ordered), dtype=np.float64, count=len(ordered))
    starts = segment_starts(duration, config)
    # Half-open windows [start, end) for every segment at once.
    first = np.searchsorted(times, starts, side="left")
    last = np.searchsorted(times, starts + config.segment_length, side="left")
    frame_offsets = np.arange(config.frames_per_segment) / config.fps
    segments = []
    for index, start in enumerate(starts.tolist()):
        comments = ordered[first[index] : last[index]]
        if len(comments) < config.min_comments:
            continue
        segments.append(
            Segment(
                vod_id=vod_id,
                index=index,
                start=start,
                end=start + config.segment_length,
                comments=_spread(comments, config.max_comments),
                num_comments=len(comments),
                frame_times=tuple((start + frame_offsets).tolist()),
            )
        )
    return segments


def segment_features(feature_dim: int | None):
    """The schema of one segment row."""
    from datasets import Array2D, Features, List, Value

    features = {
        "segment_id": Value("string"),
        "vod_id": Value("string"),
        "streamer": Value("string"),
        "category": Value("string"),
        "start": Value("float32"),
        "end": Value("float32"),
        "frame_times": List(Value("float32")),
        "num_comments": Value("int32"),
        "comments": comment_feature(),
    }
    if feature_dim:
        features["video_features"] = Array2D(shape=(None, feature_dim), dtype="float32")
    return Features(features)


@dataclass
class LCAffectBuildOptions(VodBuildOptions):
    """Everything that decides the content of a segment build (a restart must use the same options): the shared
    `VodBuildOptions` (chat filters, frame model and size, splits by VOD or streamer, never by segment) and

    Attributes:
        segments: windowing and the comment rules (`SegmentConfig()`: 8 s grid, >= 5 comments, <= 32 stored).
    """

    segments: SegmentConfig = field(default_factory=SegmentConfig)


class LCAffectDatasetBuilder(VodShardBuilder):
    """Builds (or resumes) a segment dataset folder. See `build_lcaffect_dataset`."""

    unit = "segments"
    options_class = LCAffectBuildOptions
    requires_video = True  # a segment pairs frames with the comments written over them

    def build_vod(self, source: VodSource, split: str, summary: BuildSummary) -> list[dict]:
        info = probe_media(source.video)
        if not info.has_video:
            raise MediaError(f"{source.video}: no video stream")
        config = self.options.segments
        stats = ChatStats()
        messages = list(read_chat(source.chat, errors=self.options.bad_records, filters=self.options.filters, stats=stats))
        duration = info.duration or 0.0
        segments = make_segments(source.vod_id, messages, duration, config)

        features: dict[int, np.ndarray] = {}
        if segments and self.frame_encoder is not None:
            size = (self.options.frame_size, self.options.frame_size)
            features = encode_run_frames(source.video, [s.frame_times for s in segments], config.fps, size, self.frame_encoder)
        rows = []
        for segment in segments:
            row = {
                "segment_id": segment.segment_id,
                "vod_id": segment.vod_id,
                "streamer": source.streamer,
                "category": source.category,
                "start": segment.start,
                "end": segment.end,
                "frame_times": list(segment.frame_times),
                "num_comments": segment.num_comments,
                "comments": comment_rows(segment.comments),
            }
            if self.frame_encoder is not None:
                indices = [round(t * config.fps) for t in segment.frame_times]
                if not all(i in features for i in indices):
                    # The header promised more video than could be decoded (a truncated file): no partial segments.
                    summary.notes["segments_past_readable_video"] += 1
                    continue
                row["video_features"] = np.stack([features[i] for i in indices])
                self._feature_dim = row["video_features"].shape[1]
            rows.append(row)
        summary.chat.update(stats)
        summary.hours += duration / 3600
        summary.comments += sum(len(r["comments"]) for r in rows)
        return rows

    def row_features(self, feature_dim: int | None):
        return segment_features(feature_dim)

    def write_card(self, state: dict) -> None:
        from .card import chat_filters_text, done_records, save_card, split_table, splits_text

        options, config = self.options, self.options.segments
        dim = self.card_feature_dim(state)
        body = CARD_BODY.format(
            segment_length=config.segment_length,
            windowing=(
                f"a fixed grid of {config.segment_length:g} s segments"
                if config.stride is None
                else f"{config.segment_length:g} s windows every {config.stride:g} s"
            ),
            min_comments=config.min_comments,
            max_comments=(
                f"at most {config.max_comments}, spread evenly over the segment's comments" if config.max_comments else "all"
            ),
            fps=config.fps,
            feature_model=options.feature_model or "none",
            feature_dim=f"{dim}-d" if dim else "no features",
            filters=chat_filters_text(options.filters),
            splits_text=splits_text(options, "segment"),
            split_rows=split_table(done_records(state), self.unit),
            path=str(self.out_dir),
        )
        save_card(
            self.out_dir,
            self.row_features(dim),
            state,
            body,
            unit=self.unit,
            task_categories=["feature-extraction"],
            tags=["live-comments", "danmaku", "video", "lcaffect", "hf-livechat"],
            metadata={
                "feature_model": options.feature_model,
                "frame_size": options.frame_size,
                "fps": config.fps,
                "segment_length": config.segment_length,
                "stride": config.stride,
            },
        )


CARD_BODY = """
# Live-comment segments (LCAffect)

Built with [hf-livechat](https://github.com/hf-livechat/hf-livechat) `build-lcaffect`. Each row is a
{segment_length:g} s segment of a stream with the live comments written while it played: the positives of a V2LC
video <-> live comment contrastive model, whose video embeddings become "synthetic live comment" features for affect
classification.

## Segment protocol

| | |
|---|---|
| windows | {windowing}, each ending within the video |
| kept | segments with at least {min_comments} comments in `[start, end)` after the chat filters |
| comments stored | {max_comments} (`num_comments` counts all) |
| frames | {fps:g} per second, features of `{feature_model}` ({feature_dim}) |
| chat filters | {filters} |
| splits | {splits_text} |

## Contents

| split | segments | VODs |
|---|---|---|
{split_rows}

Columns: `segment_id`, `vod_id`, `streamer`, `category`, `start`/`end` (seconds from the start of the VOD),
`frame_times`, `video_features` (frames x dim), `num_comments`, `comments` (each `time`, `author`, `text`, `emotes`).

```python
from datasets import load_dataset
dataset = load_dataset("{path}")
```
"""


# `build_lcaffect_dataset(manifest, out_dir, options=None, on_error="skip", frame_encoder=None, progress=True,
# processes=None)` builds a segment dataset folder (`options` default to `LCAffectBuildOptions()`: 8 s
# segments with >= 5 comments, no frame features) that `datasets.load_dataset(out_dir)` reads, resuming an interrupted
# build: see `VodShardBuilder.build_manifest`.
build_lcaffect_dataset = LCAffectDatasetBuilder.build_manifest
