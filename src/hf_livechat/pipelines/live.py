"""Live mode: comment on a stream as it plays, keeping a rolling context window and up with real time.

A live source is a time-ordered iterable of events `(time, item)`, where `item` is a frame (`(H, W, 3)` uint8), a
`ChatMessage` or a `TranscriptSegment`. `video_events` makes one from a recording merged with a known chat and
transcript, optionally paced to the wall clock; `hf-livechat live` makes one from a live stream, its live chat and
its live speech (:mod:`~hf_livechat.pipelines.live_session`).

The commenter holds only the last `context_length` seconds (and at most `max_messages` chat messages and
`max_segments` transcript segments of them). A window is due every `interval` seconds of stream time; when the model
is still busy with an earlier window the due window is dropped (and counted), so nothing queues up: a slow model
comments less often, never later and later.

When to speak follows a :class:`~hf_livechat.pipelines.speaking.SpeakingPolicy`: ``when="interval"`` comments on every
window; ``when="auto"`` asks the model for each window's predicted chat activity and comments only when it is high,
at the predicted rate (a window's extra comments are held back and released over its stride, as the stream reaches
their time), never closer than ``min_gap`` and never silent longer than ``max_silence``.

So that the comments read like a chat, not a loop, the commenter keeps what it said recently in view: its comments
are fed back into the chat context the next windows see, and each window's comment is picked among its beams with a
penalty on repeating the last comments (:mod:`~hf_livechat.pipelines.diversity`).
"""

from __future__ import annotations

import time as _time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from ..data.chat import ChatMessage
from ..data.media import iter_frames_1fps
from ..data.transcripts import TranscriptSegment
from ..data.windows import StreamContext
from .diversity import DEFAULT_RECENT_COMMENTS, DEFAULT_REPEAT_PENALTY, DiversityCounter, format_diversity
from .speaking import SpeakingPolicy
from .video_comment_generation import GENERATE_DEFAULTS, pick_comments

# Latencies kept for the percentiles: the last this many windows (hours of stream at a comment every few seconds).
MAX_LATENCIES = 4096


@dataclass
class LiveComment:
    time: float  # stream time of the window end the comment answers
    comment: str
    score: float
    latency: float  # wall-clock seconds from the window's last input to the comment
    activity: float | None = None  # the window's predicted activity (comments expected in the next 10 s), if known


@dataclass
class LiveFrame:
    """A frame with the `time.monotonic()` at which it arrived (was decoded), so that latency counts the time it
    waited in the decoder's queue too."""

    image: np.ndarray
    arrived: float


@dataclass
class LiveStats:
    emitted: int = 0
    dropped: int = 0
    latencies: deque = field(default_factory=lambda: deque(maxlen=MAX_LATENCIES))
    diversity: DiversityCounter = field(default_factory=DiversityCounter)
    stream_start: float | None = None  # stream time of the first frame
    stream_end: float | None = None  # end of the last frame's second
    chat_messages: int = 0  # viewer chat on [stream_start, stream_end) that reached the commenter (not its own)
    windows: int = 0  # windows looked at (not dropped)
    silent: int = 0  # of them, windows the speaking policy kept quiet on

    @property
    def stream_minutes(self) -> float:
        if self.stream_start is None or self.stream_end is None:
            return 0.0
        return max(self.stream_end - self.stream_start, 0.0) / 60.0

    def rates(self, posted: int | None = None) -> dict[str, float]:
        """Per minute of stream time: comments generated (and posted, when given) beside the chat's own messages."""
        minutes = self.stream_minutes
        if minutes <= 0:
            return {}
        rates = {"generated": self.emitted / minutes, "chat": self.chat_messages / minutes}
        if posted is not None:
            rates["posted"] = posted / minutes
        return rates

    def rate_line(self, posted: int | None = None, chat: bool = True, posted_label: str = "posted") -> str:
        """``comments per minute of stream (2.5 min): 12.0 generated, 10.0 posted; chat 45.3 messages per
        minute`` -- the commenter's pace beside the real chat's, on the same clock."""
        rates = self.rates(posted)
        if not rates:
            return "comments per minute: n/a (no frame)"
        text = f"comments per minute of stream ({self.stream_minutes:.1f} min): {rates['generated']:.1f} generated"
        if posted is not None:
            text += f", {rates['posted']:.1f} {posted_label}"
        return text + (f"; chat {rates['chat']:.1f} messages per minute" if chat else "; no chat")

    def percentiles(self) -> dict[str, float]:
        if not self.latencies:
            return {}
        values = np.percentile(np.asarray(self.latencies), [50, 90, 95, 99])
        return {f"p{q}": float(v) for q, v in zip((50, 90, 95, 99), values)}

    def summary(self) -> str:
        pct = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in self.percentiles().items())
        text = f"{self.emitted} comments, {self.dropped} windows dropped to keep up; latency {pct or 'n/a'}"
        if self.silent:
            text += f"; spoke on {self.windows - self.silent} of {self.windows} windows"
        if self.diversity.count:
            text += "; " + format_diversity(self.diversity.figures()).split(": ", 1)[1]
        return text


def video_events(
    source,
    chat: Iterable[ChatMessage] = (),
    transcript: Iterable[TranscriptSegment] = (),
    frame_size: int = 224,
    realtime: bool = False,
    speed: float = 1.0,
) -> Iterator[tuple[float, object]]:
    """Frames at 1 fps from `source` (PyAV), merged in time order with chat and transcript events. With
    `realtime=True` events are released when the wall clock reaches their time (`speed` > 1 plays faster)."""
    frames = iter_frames_1fps(source, size=(frame_size, frame_size))
    others = sorted([(m.time, m) for m in chat] + [(s.end, s) for s in transcript], key=lambda e: e[0])
    start = _time.monotonic()
    index = 0
    for t, frame in frames:
        while index < len(others) and others[index][0] <= t:
            yield others[index]
            index += 1
        if realtime:
            delay = start + t / speed - _time.monotonic()
            if delay > 0:
                _time.sleep(delay)
        yield t, frame
    yield from others[index:]


class LiveCommenter:
    """Generates comments from a live event stream with a `video-comment-generation` pipeline's model.

    Args:
        commenter: a `VideoCommentGenerationPipeline` (its model, processor and frame feature model are used).
        interval: seconds of stream time between comments.
        context_length: seconds of context the model sees (the model's 20 s window by default).
        max_lag: a due window is dropped when processing is more than this many seconds behind the stream.
        generate_kwargs: passed to `generate`, over the pipeline's `GENERATE_DEFAULTS` (8 beams, each a candidate;
            give `num_beams=1` for greedy decoding).
        repeat_penalty: subtracted from a candidate's mean log-probability per unit of word overlap with one of the
            last `recent_comments` comments (0: no penalty).
        max_messages, max_segments: chat messages and transcript segments the rolling context holds at most.
        policy: when to speak (`SpeakingPolicy`; default: on every window). With `when="auto"` `interval` is how
            often a window is looked at, and the model must predict activity.
    """

    def __init__(
        self,
        commenter,
        interval: float = 5.0,
        context_length: float | None = None,
        max_lag: float = 1.0,
        generate_kwargs: dict | None = None,
        repeat_penalty: float = DEFAULT_REPEAT_PENALTY,
        recent_comments: int = DEFAULT_RECENT_COMMENTS,
        max_messages: int = 200,
        max_segments: int = 50,
        policy: SpeakingPolicy | None = None,
    ):
        if interval <= 0:
            raise ValueError(f"interval must be positive, got {interval}")
        self.commenter = commenter
        self.interval = interval
        self.context_length = float(context_length or commenter.context_length)
        self.max_lag = max_lag
        given = dict(generate_kwargs or {})
        if given.get("do_sample") and "num_beams" not in given:
            given["num_beams"] = 1  # sampling asked for: plain sampling, not beam sampling
        self.generate_kwargs = {**GENERATE_DEFAULTS, **given}
        beams = self.generate_kwargs.get("num_beams", 1)
        if "num_return_sequences" not in given and not self.generate_kwargs.get("do_sample"):
            self.generate_kwargs["num_return_sequences"] = beams  # every beam is a candidate, never more
        if self.generate_kwargs["num_return_sequences"] > beams and not self.generate_kwargs.get("do_sample"):
            raise ValueError(f"num_return_sequences ({self.generate_kwargs['num_return_sequences']}) cannot exceed num_beams ({beams})")
        self.repeat_penalty = repeat_penalty
        self.recent: deque[str] = deque(maxlen=recent_comments)
        self.max_messages = max_messages
        self.max_segments = max_segments
        self.stats = LiveStats()
        self.policy = policy or SpeakingPolicy()
        self.with_activity = bool(getattr(commenter, "has_activity", False))
        if self.policy.needs_activity and not self.with_activity:
            raise ValueError("when='auto' needs a model with an activity head (config.activity_head): train one with it on")

    def run(
        self, events: Iterable[tuple[float, object]], feed_back: bool = True, speed: float | None = 1.0, on_window=None
    ) -> Iterator[LiveComment]:
        """Yields comments as windows come due. `speed` is how fast the source plays relative to the wall clock
        (1.0 for a live stream); it sets when the commenter counts as behind. `speed=None` processes a recording as
        fast as possible and never drops a window. `feed_back`: later windows see the comments as chat.
        `on_window(time, activity, decision)` is called for every window looked at, silent ones too."""
        frame_times: deque[float] = deque()
        features: deque[np.ndarray] = deque()
        messages: deque[ChatMessage] = deque(maxlen=self.max_messages)
        segments: deque[TranscriptSegment] = deque(maxlen=self.max_segments)
        next_due = self.context_length
        origin = None  # (stream time, wall time) of the first frame
        chat_times: list[float] = []  # chat since the last frame, counted (for the chat's rate) when a frame follows
        speaker = self.policy.speaker()
        held: deque[LiveComment] = deque()  # a window's later comments, released when the stream reaches their time
        for t, item in events:
            arrived = _time.monotonic()
            if isinstance(item, ChatMessage):
                messages.append(item)
                chat_times.append(t)
                continue
            if isinstance(item, TranscriptSegment):
                segments.append(item)
                continue
            if isinstance(item, LiveFrame):
                arrived, item = item.arrived, item.image
            origin = origin or (t, arrived)
            if self.stats.stream_start is None:
                self.stats.stream_start = t
            self.stats.stream_end = t + 1.0
            while held and held[0].time <= t + 1.0 + 1e-6:
                yield held.popleft()
            self.stats.chat_messages += sum(1 for c in chat_times if c >= self.stats.stream_start)
            chat_times.clear()
            frame_times.append(t)
            features.append(self.commenter.encode_frames(np.asarray(item)[None])[0])
            self._forget_before(t + 1.0 - self.context_length, frame_times, features, messages, segments)
            window_end = t + 1.0  # the frame at t stands for the second [t, t + 1)
            if window_end + 1e-6 < next_due:
                continue
            passed = 0
            while next_due <= window_end + 1e-6:
                next_due += self.interval
                passed += 1
            self.stats.dropped += passed - 1  # windows that came due while their frames were lost (decoder queue)
            # Behind is measured now, not when the frame arrived: a frame that waited in a queue is late.
            lag = (_time.monotonic() - origin[1]) - (window_end - origin[0]) / speed if speed else 0.0
            if lag > self.max_lag:
                self.stats.dropped += 1  # skip this window to catch up; never queue it
                continue
            context = StreamContext(np.asarray(frame_times), np.stack(features), list(messages), list(segments), window_end)
            inputs = self.commenter.window_inputs(context, window_end, self.context_length)  # once, for both calls
            activity = self.commenter.window_activity(inputs=inputs) if self.with_activity else None
            decision = speaker.decide(window_end, activity, self.interval)
            self.stats.windows += 1
            if on_window is not None:
                on_window(window_end, activity, decision)
            if not decision.times:
                self.stats.silent += 1
                continue
            comments = self._generate(context, inputs, decision.times, arrived, activity)
            for comment in comments:
                if feed_back and comment.comment:
                    messages.append(ChatMessage(comment.time, "model", comment.comment))
            yield comments[0]
            held.extend(comments[1:])
        yield from held  # the stream ended within their stride

    @staticmethod
    def _forget_before(horizon, frame_times, features, messages, segments) -> None:
        while frame_times and frame_times[0] < horizon:
            frame_times.popleft()
            features.popleft()
        while messages and messages[0].time < horizon:
            messages.popleft()
        while segments and segments[0].end <= horizon:
            segments.popleft()

    def _generate(self, context: StreamContext, inputs: dict, times: tuple[float, ...], arrived: float, activity: float | None) -> list[LiveComment]:
        candidates = self.commenter.window_candidates(context, times[0], self.context_length, self.generate_kwargs, inputs=inputs)
        picks = pick_comments(candidates, list(self.recent), len(times), self.repeat_penalty, self.recent.maxlen or 0)
        done = _time.monotonic()
        comments = []
        for time, best in zip(times, picks):
            comment = LiveComment(time, candidates[best][0], float(candidates[best][1]), done - arrived, activity)
            self.recent.append(comment.comment)
            self.stats.emitted += 1
            self.stats.diversity.add(comment.comment)
            comments.append(comment)
        self.stats.latencies.append(done - arrived)
        return comments
