"""Windows of a stream as rows of the dataset's schema: what the model sees at each moment, offline or live.

A stream's chat, speech and frames sit on one clock (seconds from the video's start). A window `[start, end)` holds
the chat messages with `start <= time < end`, the transcript cues overlapping it (clipped to it) and the frames with
`start <= time < end`. `make_clips` cuts a VOD's training clips with `StreamContext`, the builder writes them through
`window_row`, and the pipeline and live mode comment on `StreamContext.window`, also a `window_row`: so serving shows
the model what training showed it (context comments with their authors, the transcript joined the same way), and
`data.clip_inputs.clip_processor_inputs` turns either into processor arguments.

Torch-free.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence

import numpy as np

from .builders.schema import comment_rows
from .chat import ChatMessage
from .transcripts import TranscriptSegment, segments_in_window


def join_transcript(segments: Iterable[TranscriptSegment]) -> str:
    """A window's speech as one text, as the dataset stores it: the cues' stripped texts, space-joined."""
    return " ".join(s.text.strip() for s in segments if s.text.strip())


def window_row(
    context_comments: Sequence[ChatMessage],
    transcript: Sequence[TranscriptSegment],
    frame_times: Iterable[float] = (),
    video_features: np.ndarray | None = None,
    **fields,
) -> dict:
    """The model-input columns of a dataset row (`builders.livechat.clip_features`) for one window.

    `context_comments` become the schema's comment rows (time, author, text, emotes), `transcript` (cues inside the
    window) both the joined `transcript` text and `transcript_segments`; `video_features` is added when given.
    `fields` (ids, window times, response comments) are copied into the row first.
    """
    row = dict(fields)
    row["frame_times"] = [float(t) for t in frame_times]
    row["transcript"] = join_transcript(transcript)
    row["transcript_segments"] = [{"start": s.start, "end": s.end, "text": s.text} for s in transcript]
    row["context_comments"] = comment_rows(context_comments)
    if video_features is not None:
        row["video_features"] = video_features
    return row


class StreamContext:
    """One stream's decoded inputs on the video's clock, and its windows.

    Args:
        frame_times: `(T,)` times of the frames, increasing (none: a stream known only by its chat and speech).
        frame_features: `(T, D)` features of those frames.
        messages: chat messages, in any order (kept sorted by time).
        segments: transcript cues, in any order (kept sorted by start).
        duration: the stream's length in seconds.
    """

    def __init__(
        self,
        frame_times: np.ndarray | None = None,
        frame_features: np.ndarray | None = None,
        messages: Iterable[ChatMessage] = (),
        segments: Iterable[TranscriptSegment] = (),
        duration: float = 0.0,
    ):
        self.frame_times = np.asarray(frame_times if frame_times is not None else (), dtype=np.float64)
        self.frame_features = frame_features if frame_features is not None else np.zeros((0, 0), dtype=np.float32)
        if len(self.frame_times) != len(self.frame_features):
            raise ValueError(f"{len(self.frame_times)} frame times for {len(self.frame_features)} frame features")
        self.messages = sorted(messages, key=lambda m: m.time)
        self.segments = sorted(segments, key=lambda s: s.start)
        self.duration = duration
        self.message_times = [m.time for m in self.messages]

    def add_message(self, message: ChatMessage) -> None:
        """Adds a message (e.g. a generated comment fed back into the chat), keeping time order."""
        index = bisect.bisect_right(self.message_times, message.time)
        self.message_times.insert(index, message.time)
        self.messages.insert(index, message)

    def comments_in(self, start: float, end: float) -> list[ChatMessage]:
        """The chat messages with `start <= time < end`, by time."""
        return self.messages[bisect.bisect_left(self.message_times, start) : bisect.bisect_left(self.message_times, end)]

    def speech_in(self, start: float, end: float) -> list[TranscriptSegment]:
        """The transcript cues overlapping `[start, end)`, clipped to it."""
        return segments_in_window(self.segments, start, end)

    def window(self, end: float, context_length: float) -> dict:
        """The dataset row (model-input columns, `window_row`) of the window `[end - context_length, end)`."""
        start = end - context_length
        lo, hi = np.searchsorted(self.frame_times, [start, end], side="left")
        return window_row(
            self.comments_in(start, end),
            self.speech_in(start, end),
            self.frame_times[lo:hi],
            self.frame_features[lo:hi],
            start=start,
            context_end=end,
            input_end=end,
        )


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
    """Transcript cues given as TranscriptSegments or dicts with `start`/`end`/`text`."""
    segments = []
    for i, item in enumerate(transcript):
        if isinstance(item, TranscriptSegment):
            segments.append(item)
        elif isinstance(item, dict) and {"start", "end", "text"} <= item.keys():
            segments.append(TranscriptSegment(float(item["start"]), float(item["end"]), item["text"]))
        else:
            raise ValueError(f"transcript[{i}] must be a TranscriptSegment or a dict with start/end/text; got {item!r}")
    return segments
