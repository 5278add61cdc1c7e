"""Decoding the frames a set of examples needs, once each: their frame times are merged into contiguous runs, each
run decoded in one sequential pass, and (optionally) encoded in batches as it goes. No torch here (the frame encoder
is any callable)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np

from ..media import iter_frames_1fps


# uint8 frames (N, H, W, 3) -> features (N, D); `hf_livechat.data.features.load_frame_encoder` builds one.
FrameEncoder = Callable[[np.ndarray], np.ndarray]


def frame_runs(frame_times: Iterable[Sequence[float]], fps: float) -> list[tuple[float, float]]:
    """Merges the frame-time lists of several examples into contiguous `[start, end)` runs, so that each run is
    decoded with one sequential pass (overlapping or adjacent examples share one run)."""
    runs: list[list[float]] = []
    for times in sorted((t for t in frame_times if len(t)), key=lambda t: t[0]):
        start, end = times[0], times[-1] + 1.0 / fps
        if runs and start <= runs[-1][1] + 1e-6:
            runs[-1][1] = max(runs[-1][1], end)
        else:
            runs.append([start, end])
    return [(a, b) for a, b in runs]


def iter_run_frames(
    video: str | os.PathLike, frame_times: Iterable[Sequence[float]], fps: float, size: tuple[int, int]
) -> Iterator[tuple[int, np.ndarray]]:
    """Decodes the frames the examples need, once each: yields `(round(t * fps), RGB frame)` in time order."""
    for start, end in frame_runs(frame_times, fps):
        for t, frame in iter_frames_1fps(video, fps=fps, start=start, end=end, size=size):
            yield round(t * fps), frame


def encode_run_frames(
    video: str | os.PathLike,
    frame_times: Iterable[Sequence[float]],
    fps: float,
    size: tuple[int, int],
    encoder: FrameEncoder,
    batch_size: int = 256,
) -> dict[int, np.ndarray]:
    """Frame index (`round(t * fps)`) -> feature vector for every frame the examples need, decoding and encoding in
    batches as it goes, so that only features (not hours of frames) are held in memory."""
    features: dict[int, np.ndarray] = {}
    indices: list[int] = []
    frames: list[np.ndarray] = []

    def flush():
        encoded = np.asarray(encoder(np.stack(frames)), dtype=np.float32)
        features.update(zip(indices, encoded))
        indices.clear()
        frames.clear()

    for index, frame in iter_run_frames(video, frame_times, fps, size):
        indices.append(index)
        frames.append(frame)
        if len(frames) == batch_size:
            flush()
    if frames:
        flush()
    return features
