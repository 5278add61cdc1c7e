"""Live chat sources behind one interface, and the clock that ties chat time to stream time (torch-free).

A *chat source* is an iterable of :class:`ChatMessage` that yields messages as they arrive, with a ``clock``
attribute and a ``close()`` method:

- ``clock = "wall"``: ``message.time`` is wall-clock Unix seconds (Twitch IRC: ``tmi-sent-ts``);
- ``clock = "stream"``: ``message.time`` is already seconds from the start of the stream (a log recorded beside it,
  or a program's own iterator).

**The live clock.** Stream time 0 is the moment the first frame was decoded minus that frame's own timestamp:
``LiveClock.start(first_frame_time)`` records ``origin = time.time() - first_frame_time`` and a wall-clock message
at Unix time ``u`` lands at stream time ``u - origin``. Messages that arrive before the first frame wait (a bounded
backlog) until the clock starts; they get negative stream times, as pre-stream chat does in chat logs.

:class:`ChatFeed` runs a source on a thread and hands its messages, on the stream clock, to the live loop through
a bounded buffer: when the loop cannot keep up the oldest messages go first (and are counted).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from os import PathLike
from pathlib import Path

from .filters import ChatFilters
from .message import ChatMessage
from .reader import read_chat
from .stats import ChatStats

logger = logging.getLogger(__name__)


class LiveClock:
    """Wall clock <-> stream time. ``origin`` is the Unix time of stream time 0, set once by :meth:`start`."""

    def __init__(self) -> None:
        self.origin: float | None = None

    @property
    def started(self) -> bool:
        return self.origin is not None

    def start(self, stream_time: float, wall_time: float | None = None) -> None:
        """Called with the first frame's stream time as it is decoded; later calls do nothing."""
        if self.origin is None:
            self.origin = (time.time() if wall_time is None else wall_time) - stream_time

    def to_stream(self, wall_time: float) -> float:
        if self.origin is None:
            raise RuntimeError("the live clock has not started: no frame has been decoded yet")
        return wall_time - self.origin

    def now(self) -> float:
        """The stream time of this moment."""
        return self.to_stream(time.time())


class IterableChatSource:
    """A program's own iterable of messages as a chat source (``clock`` says which clock its times are on)."""

    def __init__(self, messages: Iterable[ChatMessage], clock: str = "stream") -> None:
        if clock not in ("stream", "wall"):
            raise ValueError(f"clock must be 'stream' or 'wall', got {clock!r}")
        self.messages = messages
        self.clock = clock
        self._closed = threading.Event()

    def close(self) -> None:
        self._closed.set()

    def __iter__(self) -> Iterator[ChatMessage]:
        for message in self.messages:
            if self._closed.is_set():
                return
            if not isinstance(message, ChatMessage):
                raise TypeError(f"a chat source must yield ChatMessage records, got {type(message).__name__}")
            yield message


def open_chat_source(
    spec: str | PathLike[str] | Iterable[ChatMessage],
    *,
    follow: bool = False,
    irc_server: str | None = None,
    format: str | None = None,
    idle_timeout: float | None = None,
):
    """The chat source a command-line ``--chat SPEC`` names.

    - ``"twitch:CHANNEL"``: the channel's chat over IRC (``irc_server="HOST:PORT"`` for a mirror or a test server);
    - a file with ``follow=True``: tailed as it grows (:class:`~hf_livechat.data.chat.follow.FollowedChatLog`);
    - a file without ``follow``: a finished log, read whole (a recording replayed live);
    - any other iterable of ``ChatMessage``: used as it is, on the stream clock.
    """
    if isinstance(spec, str) and spec.startswith("twitch:"):
        from .irc_client import TwitchChatClient, parse_server

        channel = spec[len("twitch:") :]
        return TwitchChatClient(channel, parse_server(irc_server) if irc_server else None)
    if irc_server:
        raise ValueError("--irc-server applies to a 'twitch:CHANNEL' chat source only")
    if isinstance(spec, (str, PathLike)):
        if follow:
            from .follow import FollowedChatLog

            return FollowedChatLog(spec, format, idle_timeout=idle_timeout)
        if not Path(spec).is_file():
            raise FileNotFoundError(f"chat log not found: {spec} (use --follow for a log that is still to be written)")
        return IterableChatSource(read_chat(spec, format), "stream")
    if follow:
        raise ValueError("follow applies to a chat log file")
    return IterableChatSource(spec, "stream")


class ChatFeed:
    """Runs a chat source on a daemon thread; :meth:`drain` returns what arrived, on the stream clock.

    Args:
        source: a chat source (see the module docstring).
        clock: the live clock that places wall-clock messages.
        filters: the LiveChat clean-up (bots, commands, links, spam), ``ChatFilters()`` by default; ``None``: none.
        max_backlog: messages held at most between two drains; beyond it the oldest are dropped (``dropped``).
    """

    def __init__(self, source, clock: LiveClock, filters: ChatFilters | None = ChatFilters(), max_backlog: int = 1000) -> None:
        self.source = source
        self.clock = clock
        self.filters = filters
        self.stats = ChatStats()
        self.received = 0
        self.dropped = 0
        self.error: BaseException | None = None
        self._backlog: deque[ChatMessage] = deque()
        self._max_backlog = max_backlog
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="chat-feed", daemon=True)

    def start(self) -> "ChatFeed":
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            messages = iter(self.source)
            if self.filters is not None:
                messages = self.filters.apply(messages, self.stats)
            for message in messages:
                with self._lock:
                    if len(self._backlog) >= self._max_backlog:
                        self._backlog.popleft()
                        self.dropped += 1
                    self._backlog.append(message)
                    self.received += 1
        except BaseException as error:  # reported by the loop; a chat failure must not kill the stream silently
            self.error = error
            logger.error("chat source stopped: %s", error)

    def drain(self) -> list[ChatMessage]:
        """Messages that arrived since the last call, time-ordered, on the stream clock. Wall-clock messages stay in
        the backlog until the clock has started."""
        if self.source.clock == "wall" and not self.clock.started:
            return []
        with self._lock:
            messages = list(self._backlog)
            self._backlog.clear()
        if self.source.clock == "wall":
            messages = [dataclasses.replace(m, time=self.clock.to_stream(m.time)) for m in messages]
        return sorted(messages, key=lambda m: m.time)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def close(self, timeout: float = 2.0) -> None:
        self.source.close()
        if self._thread.is_alive():
            self._thread.join(timeout)
