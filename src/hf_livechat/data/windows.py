"""Sliding context windows over a decoded stream: what the model sees at each moment a comment is generated.

Torch-free; shared by the `video-comment-generation` pipeline and the live commenter.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..data.chat import ChatMessage
from ..data.transcripts import TranscriptSegment, segments_in_window


@dataclass
class StreamContext:
    """One stream's decoded inputs, on the video's clock (seconds from its start).

    Attributes:
        frame_times: `(T,)` times of the 1 fps frames, increasing.
        frame_features: `(T, D)` features of those frames.
        messages: chat messages, sorted by time.
        segments: transcript cues, sorted by start.
        duration: the stream's length in seconds.
    """

    frame_times: np.ndarray
    frame_features: np.ndarray
    messages: list[ChatMessage] = field(default_factory=list)
    segments: list[TranscriptSegment] = field(default_factory=list)
    duration: float = 0.0

    def __post_init__(self):
        self.messages = sorted(self.messages, key=lambda m: m.time)
        self.segments = sorted(self.segments, key=lambda s: s.start)
        self._message_times = [m.time for m in self.messages]

    def add_message(self, message: ChatMessage) -> None:
        """Adds a message (e.g. a generated comment fed back into the chat), keeping time order."""
        index = bisect.bisect_right(self._message_times, message.time)
        self._message_times.insert(index, message.time)
        self.messages.insert(index, message)

    def window(self, end: float, context_length: float) -> dict:
        """Processor arguments of the window `[end - context_length, end)`: its frames, speech and chat."""
        start = end - context_length
        lo, hi = np.searchsorted(self.frame_times, [start, end], side="left")
        first, last = bisect.bisect_left(self._message_times, start), bisect.bisect_left(self._message_times, end)
        speech = " ".join(s.text.strip() for s in segments_in_window(self.segments, start, end) if s.text.strip())
        return {
            "video_features": self.frame_features[lo:hi],
            "transcript": speech,
            "chat": [m.text for m in self.messages[first:last]],
        }


def window_ends(duration: float, context_length: float, stride: float, start: float | None = None) -> list[float]:
    """Times at which comments are generated: every `stride` seconds once a full context window has passed (a
    stream shorter than one window gets a single window at its end)."""
    if stride <= 0:
        raise ValueError(f"stride must be positive, got {stride}")
    first = context_length if start is None else start
    if duration < first:
        return [round(duration, 3)] if duration > 0 else []
    count = int(np.floor((duration - first) / stride + 1e-9)) + 1
    return [round(first + i * stride, 3) for i in range(count)]


def as_messages(chat: Sequence) -> list[ChatMessage]:
    """Chat history given as ChatMessages, dicts with `time`/`text` (`author` optional) or `(time, text)` pairs."""
    messages = []
    for i, item in enumerate(chat):
        if isinstance(item, ChatMessage):
            messages.append(item)
        elif isinstance(item, dict) and "time" in item and "text" in item:
            messages.append(ChatMessage(float(item["time"]), item.get("author", ""), item["text"]))
        elif isinstance(item, (tuple, list)) and len(item) == 2:
            messages.append(ChatMessage(float(item[0]), "", str(item[1])))
        else:
            raise ValueError(
                f"chat[{i}] must be a ChatMessage, a dict with 'time' and 'text', or a (time, text) pair; got {item!r}"
            )
    return messages


def as_segments(transcript: Sequence) -> list[TranscriptSegment]:
    segments = []
    for i, item in enumerate(transcript):
        if isinstance(item, TranscriptSegment):
            segments.append(item)
        elif isinstance(item, dict) and {"start", "end", "text"} <= item.keys():
            segments.append(TranscriptSegment(float(item["start"]), float(item["end"]), item["text"]))
        else:
            raise ValueError(f"transcript[{i}] must be a TranscriptSegment or a dict with start/end/text; got {item!r}")
    return segments
