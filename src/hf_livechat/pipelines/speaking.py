"""When to speak: a policy that turns each window's predicted chat activity into comments, or a fixed pace.

Real chat goes quiet, then bursts a few seconds after something happens. ``when="interval"`` comments on every
window (one comment every stride, whatever happens: the old behaviour). ``when="auto"`` reads the activity model's
prediction for each window (``LiveChatForCommentGeneration.predict_activity``: the expected number of chat comments
in the ``horizon`` seconds after the window) and

- **speaks when the predicted activity is high**: above ``threshold`` times the running median of the stream's
  predicted activity over its last ``history`` windows (``threshold_mode="relative"``, the default: a busy channel
  and a quiet one each find their own bursts), or above ``threshold`` comments per ``horizon`` seconds
  (``threshold_mode="absolute"``);
- **at the predicted rate**: while activity stays high it comments at ``rate_scale`` times the predicted chat rate
  (``rate_scale * activity / horizon`` comments per second), so more comments when the chat is predicted to burst
  harder; the first window of a burst always speaks at once (its comment is what reaches the burst in time);
- **never closer than** ``min_gap`` seconds between two comments (several comments of one window are spread over
  the stride, ``min_gap`` apart at least);
- **never silent longer than** ``max_silence`` seconds: a comment is due then even in a quiet stretch (0: no limit).

Pure logic on times and numbers (no model, no clock): the pipeline, live mode and ``bench/bench_timing.py`` share it.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

WHEN_CHOICES = ("interval", "auto")
THRESHOLD_MODES = ("relative", "absolute")


@dataclass(frozen=True)
class SpeakingPolicy:
    """The knobs of when and how often to comment (see the module docstring).

    Attributes:
        when: ``"interval"`` (a comment every window) or ``"auto"`` (when the predicted activity is high).
        threshold: with ``threshold_mode="relative"``, speak when the activity exceeds this multiple of the running
            median; with ``"absolute"``, when it exceeds this many comments per ``horizon`` seconds.
        threshold_mode: ``"relative"`` or ``"absolute"``.
        rate_scale: comments the commenter posts per predicted chat comment while the activity is high.
        min_gap: seconds between two comments at least.
        max_silence: seconds without a comment at most (0: no limit).
        history: windows of predicted activity the running median covers.
        horizon: seconds the predicted activity counts comments over (the model's response window, 10 s).
    """

    when: str = "interval"
    threshold: float = 1.5
    threshold_mode: str = "relative"
    rate_scale: float = 1.0
    min_gap: float = 2.0
    max_silence: float = 30.0
    history: int = 150
    horizon: float = 10.0

    def __post_init__(self) -> None:
        if self.when not in WHEN_CHOICES:
            raise ValueError(f"when must be one of {WHEN_CHOICES}, got {self.when!r}")
        if self.threshold_mode not in THRESHOLD_MODES:
            raise ValueError(f"threshold_mode must be one of {THRESHOLD_MODES}, got {self.threshold_mode!r}")
        for name in ("threshold", "min_gap", "max_silence"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if not (math.isfinite(self.rate_scale) and self.rate_scale > 0):
            raise ValueError(f"rate_scale must be > 0, got {self.rate_scale!r}")
        if not (math.isfinite(self.horizon) and self.horizon > 0):
            raise ValueError(f"horizon must be > 0, got {self.horizon!r}")
        if int(self.history) != self.history or self.history < 1:
            raise ValueError(f"history must be a whole number of windows >= 1, got {self.history!r}")
        if self.max_silence and self.max_silence < self.min_gap:
            raise ValueError(f"max_silence ({self.max_silence}) must be 0 or at least min_gap ({self.min_gap})")

    @property
    def needs_activity(self) -> bool:
        return self.when == "auto"

    def speaker(self) -> "Speaker":
        """A fresh speaker (the running state of one stream)."""
        return Speaker(self)


@dataclass(frozen=True)
class Decision:
    """What to do after one window: post a comment at each of ``times`` (empty: stay silent).

    ``reason`` says why: ``"interval"``, ``"high"`` (activity above ``level``), ``"max_silence"``, or, when silent,
    ``"low"``, ``"min_gap"`` or ``"rate"`` (high, but the last comment was too recent for the predicted rate).
    """

    times: tuple[float, ...]
    reason: str
    activity: float | None = None
    level: float | None = None  # the activity above which the window counts as high

    @property
    def count(self) -> int:
        return len(self.times)


@dataclass
class Speaker:
    """The state of one stream under a `SpeakingPolicy`: call `decide` once per window, in time order."""

    policy: SpeakingPolicy
    recent: deque = field(init=False)
    last_time: float | None = None  # the last comment's time
    first_time: float | None = None  # the first window's time (silence counts from there before any comment)
    was_high: bool = False

    def __post_init__(self) -> None:
        self.recent = deque(maxlen=int(self.policy.history))

    def level(self) -> float | None:
        """The activity above which a window is high now (None: no history yet, in relative mode)."""
        if self.policy.threshold_mode == "absolute":
            return float(self.policy.threshold)
        if not self.recent:
            return None
        return float(self.policy.threshold * np.median(np.asarray(self.recent)))

    def decide(self, time: float, activity: float | None, stride: float) -> Decision:
        """The comments to post for the window ending at ``time`` (seconds of stream), given its predicted
        ``activity`` (comments expected in the next ``horizon`` seconds; ignored by ``when="interval"``) and the
        ``stride`` (seconds until the next window)."""
        if not (math.isfinite(stride) and stride > 0):
            raise ValueError(f"stride must be > 0, got {stride!r}")
        if self.last_time is not None and time < self.last_time - stride - 1e-9:
            raise ValueError(f"windows must come in time order: {time} after a comment at {self.last_time}")
        if self.first_time is None:
            self.first_time = time
        policy = self.policy
        if policy.when == "interval":
            return self._speak(time, 1, stride, "interval", activity, None)
        if activity is None or not math.isfinite(activity) or activity < 0:
            raise ValueError(f"when='auto' needs each window's predicted activity (a number >= 0), got {activity!r}")
        level = self.level()
        high = level is not None and activity > level
        onset = high and not self.was_high
        self.was_high = high
        self.recent.append(float(activity))
        since = time - (self.last_time if self.last_time is not None else self.first_time)
        spoke_before = self.last_time is not None
        if spoke_before and since < policy.min_gap - 1e-9:
            return Decision((), "min_gap", activity, level)
        if high:
            rate = policy.rate_scale * activity / policy.horizon  # comments per second
            if not onset and spoke_before and since < 1.0 / rate - 1e-9:
                return Decision((), "rate", activity, level)
            # As many as the rate asks over the stride, at least one, at most what min_gap allows in it.
            most = max(1, int(math.floor(stride / policy.min_gap + 1e-9))) if policy.min_gap > 0 else max(1, math.ceil(rate * stride))
            return self._speak(time, min(max(1, int(math.floor(rate * stride + 1e-9))), most), stride, "high", activity, level)
        if policy.max_silence and since >= policy.max_silence - 1e-9:
            return self._speak(time, 1, stride, "max_silence", activity, level)
        return Decision((), "low", activity, level)

    def _speak(self, time: float, count: int, stride: float, reason: str, activity, level) -> Decision:
        spacing = stride / count
        times = tuple(time + i * spacing for i in range(count))
        self.last_time = times[-1]
        return Decision(times, reason, activity, level)


def emission_times(
    window_times, activities, policy: SpeakingPolicy, stride: float
) -> tuple[list[float], list[Decision]]:
    """Runs a fresh speaker over a stream's windows (time order): every comment's time, and each window's decision."""
    speaker = policy.speaker()
    decisions = [speaker.decide(float(t), None if a is None else float(a), stride) for t, a in zip(window_times, activities)]
    return [t for d in decisions for t in d.times], decisions
