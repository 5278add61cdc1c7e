"""`hf-livechat live`: comment on a live stream as it plays, with its live chat and its live speech.

One loop ties the live parts together, all bounded:

    LiveStream (decoder thread) --frames--> LiveCommenter (this thread) --comments--> terminal, JSONL, overlay
          \\--audio--> LiveTranscriber (ASR thread) --segments--/
    chat source (ChatFeed thread) --messages--/

Stream time is the decoded video's clock from its first frame; chat that arrives on the wall clock (Twitch IRC) is
placed on it by the live clock (:class:`~hf_livechat.data.chat.sources.LiveClock`: stream time 0 = the wall-clock
moment the first frame was decoded, minus that frame's timestamp).
"""

from __future__ import annotations

import heapq
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..data.chat.sources import ChatFeed, LiveClock, open_chat_source
from .live import LiveCommenter, LiveFrame, LiveStats
from .live_asr import LiveTranscriber
from .live_overlay import CommentOverlay
from .live_stream import LiveStream

logger = logging.getLogger(__name__)


@dataclass
class LiveOptions:
    """What `hf-livechat live` takes besides the source and the model (see `hf-livechat live --help`)."""

    interval: float = 5.0
    chat: object = None  # "twitch:CHANNEL", a chat log path, or an iterable of ChatMessage
    follow_chat: bool = False
    irc_server: str | None = None
    asr_model: str | None = None
    asr_engine: str | None = None
    out: str | os.PathLike | None = None
    overlay_port: int | None = None
    follow: bool = False  # the source is a file still being written
    idle_timeout: float = 10.0
    speed: float | None = None  # replay a recording at this multiple of real time
    max_lag: float = 1.0
    generate_kwargs: dict = field(default_factory=dict)
    repeat_penalty: float | None = None


@dataclass
class LiveReport:
    stats: LiveStats
    frames_decoded: int = 0
    frames_dropped: int = 0
    chat_received: int = 0
    chat_dropped: int = 0
    asr: str = ""
    overlay_url: str = ""

    def summary(self) -> str:
        lines = [self.stats.summary(), f"frames: {self.frames_decoded} decoded, {self.frames_dropped} dropped"]
        if self.chat_received or self.chat_dropped:
            lines.append(f"chat: {self.chat_received} messages, {self.chat_dropped} dropped (backlog full)")
        if self.asr:
            lines.append(self.asr)
        return "\n".join(lines)


def live_events(stream: LiveStream, feed: ChatFeed | None, asr: LiveTranscriber | None) -> Iterator[tuple[float, object]]:
    """Frames as they are decoded, with the chat and speech that arrived meanwhile (stream time). Chat stamped
    ahead of the video (a finished log replayed with its recording) is held back until the video reaches it."""
    ahead: list[tuple[float, int, object]] = []  # a heap of messages the video has not reached yet
    count = 0
    for item in stream.frames(timeout=0.2, with_arrival=True):
        if feed is not None:
            for message in feed.drain():
                heapq.heappush(ahead, (message.time, count, message))
                count += 1
        while item is not None and ahead and ahead[0][0] < item[0] + 1.0:  # the frame at t shows [t, t + 1)
            time, _, message = heapq.heappop(ahead)
            yield time, message
        if asr is not None:
            for segment in asr.drain():
                yield segment.end, segment
        if item is not None:
            yield item[0], LiveFrame(item[1], item[2])


def run_live(source, commenter, options: LiveOptions | None = None, echo=print) -> LiveReport:
    """Comments on `source` as it plays until it ends or Ctrl-C. Each comment is echoed as it comes (time, text,
    score, latency), appended to `options.out` (JSONL) and pushed to the overlay. Returns what happened."""
    options = options or LiveOptions()
    clock = LiveClock()
    feed = asr = overlay = None
    out = None
    if options.chat is not None:
        chat_source = open_chat_source(options.chat, follow=options.follow_chat, irc_server=options.irc_server)
        feed = ChatFeed(chat_source, clock).start()
    if options.asr_model:
        asr = LiveTranscriber(options.asr_model, options.asr_engine).start()
    stream = LiveStream(
        source,
        frame_size=commenter.frame_size,
        follow=options.follow,
        idle_timeout=options.idle_timeout,
        speed=options.speed,
        on_audio=asr.feed if asr is not None else None,
        clock=clock,
    )
    extra = {} if options.repeat_penalty is None else {"repeat_penalty": options.repeat_penalty}
    live = LiveCommenter(commenter, interval=options.interval, max_lag=options.max_lag, generate_kwargs=options.generate_kwargs, **extra)
    report = LiveReport(live.stats)
    try:
        if options.overlay_port is not None:
            overlay = CommentOverlay(options.overlay_port).start()
            report.overlay_url = overlay.url
            echo(f"overlay: {overlay.url} (add it to OBS as a browser source)")
        if options.out:
            Path(options.out).parent.mkdir(parents=True, exist_ok=True)
            out = open(options.out, "a", encoding="utf-8")
        stream.start()
        for comment in live.run(live_events(stream, feed, asr), speed=options.speed or 1.0):
            echo(f"{comment.time:8.1f} s  {comment.comment!r}  score {comment.score:.2f}  latency {comment.latency * 1000:.0f} ms")
            if out is not None:
                out.write(json.dumps({"time": comment.time, "comment": comment.comment, "score": comment.score, "latency": comment.latency}, ensure_ascii=False) + "\n")
                out.flush()
            if overlay is not None:
                overlay.publish(comment.time, comment.comment, comment.score)
    except KeyboardInterrupt:
        echo("stopped")
    finally:
        stream.stop()
        if feed is not None:
            feed.close()
            report.chat_received, report.chat_dropped = feed.received, feed.dropped
        if asr is not None:
            asr.close(timeout=5.0)
            report.asr = asr.summary()
        if overlay is not None:
            overlay.close()
        if out is not None:
            out.close()
        report.frames_decoded, report.frames_dropped = stream.frames_decoded, stream.frames_dropped
    return report
