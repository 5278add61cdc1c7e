"""Does the commenter speak when the chat does? Bursts of chat, trigger F1, TimeDiff, and a fixed-pace baseline.

Streaming commentators are now scored on *when* they speak as well as on what they say: Proact-VL (Yan et al.,
"Proact-VL: A Proactive VideoLLM for Real-Time AI Companions", arXiv:2603.03447, 2026) reports a trigger F1 and a
TimeDiff against the times of human commentary. We score against the chat's own reaction bursts, event by event
(our definitions, stated here; the paper's exact formulas were not at hand):

- **Bursts.** For a synthetic world the truth log (`<vod_id>.truth.json` from `hf-livechat make-stream`) says when the
  chat reacts: each episode's response window holding replies to its cues is a burst starting when the window opens
  (`bursts_from_truth`). For a real chat log, `detect_bursts` finds them from the message times alone: the number of
  messages in the next `window` seconds, computed every `step` seconds, rises above `factor` times its running
  median over the previous `history` seconds and holds at least `min_count` messages; it lasts while the count
  stays above that level, and starts at its first message from which the next `window / 2` seconds already run at
  that level (so a lone message a few seconds before the burst does not move its start).
- **Trigger F1.** A burst is *hit* when a comment falls in `[start - early, start + tolerance]`; recall is the share of
  bursts hit, precision the share of comments that fall in some burst's window, F1 their harmonic mean.
- **TimeDiff.** For each burst, the delay from its start to the first comment at or after `start - early` (0 for a
  comment in the early margin), capped at `cap` seconds (a burst with no comment by then counts `cap`); the mean over
  bursts. Lower is better.
- **Fixed interval at the same count** (`fixed_interval_scores`): as many comments as the policy under test made,
  evenly spaced over the same stretch; their phase against the bursts is luck, so the scores are averaged over
  `phases` evenly spaced phases (the spread is reported too).

Torch-free.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Burst:
    """A stretch of heightened chat: it starts at ``start`` (seconds) and lasts until ``end``, ``count`` messages."""

    start: float
    end: float
    count: int


@dataclass(frozen=True)
class TimingScores:
    precision: float
    recall: float
    f1: float
    time_diff: float  # seconds (mean capped delay); nan without bursts
    bursts: int
    comments: int
    hits: int  # bursts hit

    def as_dict(self) -> dict:
        return asdict(self)


def _times(values: Iterable[float]) -> np.ndarray:
    times = np.asarray(sorted(float(t) for t in values), dtype=np.float64)
    if times.size and not np.all(np.isfinite(times)):
        raise ValueError("times must be finite numbers")
    return times


def detect_bursts(
    message_times: Iterable[float],
    window: float = 10.0,
    factor: float = 2.0,
    min_count: int = 5,
    history: float = 120.0,
    step: float = 1.0,
) -> list[Burst]:
    """Bursts of a chat log from its message times (seconds), by the rule of the module docstring.

    At each grid time ``g`` (every ``step`` s from the first message) the count ``n(g)`` is the messages in
    ``[g, g + window)`` and the baseline the median of ``n`` over the grid times in ``[g - history, g)``. A burst
    begins at the first ``g`` after the previous burst's end with ``n(g) >= min_count`` and ``n(g) > factor *
    baseline``, its level fixed at ``max(factor * baseline, min_count - 1)``; it goes on while ``n`` stays above that
    level. Its
    messages are those in ``[g_first, g_last + window)``; it ends at the last of them and starts at the first of them
    whose next ``window / 2`` seconds hold more than ``level / 2`` messages (the same rate as the level).
    """
    if window <= 0 or step <= 0 or history <= 0:
        raise ValueError("window, step and history must be > 0")
    if factor < 1:
        raise ValueError(f"factor must be >= 1, got {factor}")
    if min_count < 1:
        raise ValueError(f"min_count must be >= 1, got {min_count}")
    times = _times(message_times)
    if times.size == 0:
        return []
    grid = times[0] + step * np.arange(int(math.floor((times[-1] - times[0]) / step)) + 1)
    counts = np.searchsorted(times, grid + window, side="left") - np.searchsorted(times, grid, side="left")
    lookback = max(1, int(round(history / step)))
    bursts: list[Burst] = []
    first = level = None
    for i, count in enumerate(counts):
        if first is not None:
            if count > level:
                continue
            bursts.append(_burst(times, grid[first], grid[i - 1] + window, window, level))
            first = None
        if bursts and grid[i] <= bursts[-1].end:  # bursts do not overlap: the next begins after the last one's end
            continue
        past = counts[max(0, i - lookback) : i]
        if past.size < window / step:  # no baseline yet: the log's first window of seconds starts no burst
            continue
        baseline = float(np.median(past))
        if count >= min_count and count > factor * baseline:
            first, level = i, max(factor * baseline, min_count - 1)
    if first is not None:
        bursts.append(_burst(times, grid[first], grid[-1] + window, window, level))
    return bursts


def _burst(times: np.ndarray, start: float, end: float, window: float, level: float) -> Burst:
    inside = times[(times >= start) & (times < end)]
    ahead = np.searchsorted(inside, inside + window / 2, side="left") - np.arange(inside.size)  # messages in [t, t + w/2)
    onset = int(np.argmax(ahead > level / 2)) if np.any(ahead > level / 2) else 0
    return Burst(float(inside[onset]), float(inside[-1]), int(inside.size))


def bursts_from_truth(log: Mapping | str | Path, roles: Sequence[str] = ("response",)) -> list[Burst]:
    """The reaction bursts of a synthetic stream from its truth log (a ``*.truth.json`` path or its parsed dict):
    one per episode whose response window ``[context_end, end)`` holds comments of ``roles`` (the replies to its
    cues), starting when the window opens, when the chat's answer to the context is due."""
    if not isinstance(log, Mapping):
        log = json.loads(Path(log).read_text(encoding="utf-8"))
    for key in ("episodes", "comments"):
        if key not in log:
            raise ValueError(f"not a truth log (no {key!r}): make-stream writes <vod_id>.truth.json")
    bursts = []
    for episode in log["episodes"]:
        replies = [
            c["time"]
            for c in log["comments"]
            if c["episode"] == episode["index"] and c["role"] in roles and episode["context_end"] <= c["time"] < episode["end"]
        ]
        if replies:
            bursts.append(Burst(float(episode["context_end"]), float(max(replies)), len(replies)))
    return bursts


def timing_scores(
    comment_times: Iterable[float],
    bursts: Sequence[Burst],
    tolerance: float = 5.0,
    early: float = 1.0,
    cap: float = 10.0,
) -> TimingScores:
    """Trigger precision / recall / F1 and TimeDiff of comments at ``comment_times`` against ``bursts`` (module
    docstring). Precision is 0 without comments; recall, F1 and TimeDiff are nan without bursts."""
    if tolerance < 0 or early < 0 or cap <= 0:
        raise ValueError("tolerance and early must be >= 0, cap > 0")
    comments = _times(comment_times)
    starts = np.asarray(sorted(b.start for b in bursts), dtype=np.float64)
    if comments.size:
        # A comment is on time when some burst's window [start - early, start + tolerance] holds it.
        index = np.searchsorted(starts, comments + early, side="right") - 1  # the last burst starting by t + early
        on_time = (index >= 0) & (comments <= starts[np.clip(index, 0, None)] + tolerance) if starts.size else np.zeros(comments.size, bool)
        precision = float(on_time.mean())
    else:
        precision = 0.0
    if not starts.size:
        return TimingScores(precision, math.nan, math.nan, math.nan, 0, int(comments.size), 0)
    delays = []
    for start in starts:
        after = comments[np.searchsorted(comments, start - early, side="left") :]
        delays.append(min(max(float(after[0]) - start, 0.0), cap) if after.size else cap)
    delays = np.asarray(delays)
    hit = np.array([_has_comment(comments, s - early, s + tolerance) for s in starts])
    recall = float(hit.mean())
    f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return TimingScores(precision, recall, f1, float(delays.mean()), int(starts.size), int(comments.size), int(hit.sum()))


def _has_comment(comments: np.ndarray, low: float, high: float) -> bool:
    i = np.searchsorted(comments, low, side="left")
    return bool(i < comments.size and comments[i] <= high)


def fixed_interval_times(count: int, start: float, end: float, phase: float = 0.0) -> list[float]:
    """``count`` comments evenly spaced over ``[start, end)``: every ``(end - start) / count`` seconds from
    ``start + phase * that``, ``0 <= phase < 1``."""
    if count < 0 or end < start or not 0 <= phase < 1:
        raise ValueError(f"need count >= 0, end >= start and 0 <= phase < 1, got {count}, {start}, {end}, {phase}")
    if count == 0:
        return []
    period = (end - start) / count
    return [start + (i + phase) * period for i in range(count)]


@dataclass(frozen=True)
class FixedIntervalScores:
    """A fixed pace's scores averaged over phases, with their spread over the phases."""

    mean: TimingScores
    f1_min: float
    f1_max: float
    period: float


def fixed_interval_scores(
    count: int, start: float, end: float, bursts: Sequence[Burst], phases: int = 10, **scoring
) -> FixedIntervalScores:
    """Fixed-interval emission with ``count`` comments over ``[start, end)``, scored by `timing_scores`
    (``scoring``: tolerance, early, cap) at ``phases`` evenly spaced phases: the mean, and the F1's range."""
    if phases < 1:
        raise ValueError(f"phases must be >= 1, got {phases}")
    runs = [timing_scores(fixed_interval_times(count, start, end, k / phases), bursts, **scoring) for k in range(phases)]
    fields = ("precision", "recall", "f1", "time_diff")
    mean = TimingScores(
        *(float(np.mean([getattr(r, name) for r in runs])) for name in fields),
        bursts=runs[0].bursts,
        comments=count,
        hits=int(round(np.mean([r.hits for r in runs]))),
    )
    f1s = [r.f1 for r in runs]
    return FixedIntervalScores(mean, float(min(f1s)), float(max(f1s)), (end - start) / count if count else math.inf)


def recent_counts(message_times: Iterable[float], window_ends: Iterable[float], seconds: float = 10.0) -> np.ndarray:
    """Messages in ``[end - seconds, end)`` for each window end: the chat's own recent rate, the trivial activity
    predictor (what the chat did lately, it will do next)."""
    times = _times(message_times)
    ends = np.asarray(list(window_ends), dtype=np.float64)
    return (np.searchsorted(times, ends, side="left") - np.searchsorted(times, ends - seconds, side="left")).astype(np.float64)


def pool_scores(scores: Sequence[TimingScores]) -> TimingScores:
    """Scores of several streams as one: precision over all their comments, recall and TimeDiff over all their
    bursts, F1 from the pooled precision and recall."""
    comments = sum(s.comments for s in scores)
    bursts = sum(s.bursts for s in scores)
    hits = sum(s.hits for s in scores)
    on_time = sum(s.precision * s.comments for s in scores)
    precision = on_time / comments if comments else 0.0
    if not bursts:
        return TimingScores(precision, math.nan, math.nan, math.nan, 0, comments, 0)
    recall = hits / bursts
    f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    time_diff = sum(s.time_diff * s.bursts for s in scores if s.bursts) / bursts
    return TimingScores(precision, recall, f1, time_diff, bursts, comments, hits)
