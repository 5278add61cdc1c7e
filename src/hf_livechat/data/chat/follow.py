"""Tail a chat log while it is being written (``hf-livechat live --chat FILE --follow``), torch-free.

Any format :func:`~hf_livechat.data.chat.read_chat` knows can be followed. IRC logs, the usual growing log, are
read incrementally: only complete new lines are parsed, with the IRC-log reader's own line parser. The document
formats (Twitch / chat-downloader / YouTube JSON, Bilibili XML) cannot be parsed from the middle, so when the file
grows it is read again from the start (messages already yielded are skipped); a record cut off at the end by the
writer is simply read on the next pass.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from os import PathLike
from pathlib import Path

from ._lines import decode_line
from ._parsing import BadRecord, ReadContext
from .detect import TWITCH_IRC, detect_chat_format
from .errors import ChatFormatError
from .message import ChatMessage
from .reader import read_chat
from .stats import ChatStats
from .twitch_irc import StampClock, parse_log_line


class FollowedChatLog:
    """Messages of a chat log as it grows. Iterate it; ``close()`` (from any thread) ends the iteration.

    Args:
        path: the log; it may not exist yet.
        format: one of ``CHAT_FORMATS``; detected from the content once there is some.
        poll: seconds between looks at the file.
        idle_timeout: stop when the file has not grown for this many seconds (``None``: follow until closed).
        wall_clock: for IRC logs of raw Twitch lines: keep ``tmi-sent-ts`` as Unix seconds (``clock = "wall"``), so
            the live clock places them; by default times are seconds from the log's first message
            (``clock = "stream"``, the log taken to start with the stream), as for every other format.
    """

    def __init__(
        self,
        path: str | PathLike[str],
        format: str | None = None,
        *,
        poll: float = 0.25,
        idle_timeout: float | None = None,
        wall_clock: bool = False,
        stats: ChatStats | None = None,
    ) -> None:
        if poll <= 0:
            raise ValueError(f"poll must be positive, got {poll}")
        self.path = Path(path)
        self.format = format
        self.poll = poll
        self.idle_timeout = idle_timeout
        self.clock = "wall" if wall_clock else "stream"
        self.stats = stats or ChatStats()
        self._closed = threading.Event()

    def close(self) -> None:
        self._closed.set()

    def __iter__(self) -> Iterator[ChatMessage]:
        chat_format = self._wait_for_format()
        if chat_format is None:
            return
        if self.clock == "wall" and chat_format != TWITCH_IRC:
            raise ValueError(f"wall_clock applies to 'twitch-irc' logs only; {self.path} is {chat_format!r}")
        if chat_format == TWITCH_IRC:
            yield from self._tail_lines()
        else:
            yield from self._reread(chat_format)

    def _grew(self, size: int) -> Iterator[int]:
        """Yields the file's size each time it differs from ``size``; ends on close or after ``idle_timeout``."""
        idle = 0.0
        while not self._closed.is_set():
            try:
                current = self.path.stat().st_size
            except FileNotFoundError:
                current = 0
            if current != size:
                idle, size = 0.0, current
                yield current
                continue
            if self.idle_timeout is not None and idle >= self.idle_timeout:
                return
            self._closed.wait(self.poll)
            idle += self.poll

    def _wait_for_format(self) -> str | None:
        if self.format is not None:
            return self.format
        for _ in self._grew(0):
            try:
                return detect_chat_format(self.path)
            except ChatFormatError:  # too little written yet to tell
                continue
        return None

    def _tail_lines(self) -> Iterator[ChatMessage]:
        ctx = ReadContext(self.path, "skip", self.stats)
        clock = StampClock(0.0 if self.clock == "wall" else None)
        position, number, partial = 0, 0, b""
        for _ in self._grew(-1):
            with open(self.path, "rb") as fp:
                fp.seek(position)
                data = fp.read()
            position += len(data)
            *lines, partial = (partial + data).split(b"\n")  # the last piece may still be being written
            for raw in lines:
                number += 1
                line = decode_line(ctx, number, raw)
                if line is None or not line.strip():
                    continue
                try:
                    message = parse_log_line(ctx, clock, number, line)
                except BadRecord as exc:
                    ctx.bad(str(exc), line=number)
                    continue
                if message is not None:
                    self.stats.read += 1
                    self.stats.kept += 1
                    yield message

    def _reread(self, chat_format: str) -> Iterator[ChatMessage]:
        seen = 0
        for _ in self._grew(-1):
            count = 0
            for message in read_chat(self.path, chat_format, errors="skip", sort=False, stats=ChatStats()):
                count += 1
                if count > seen:
                    self.stats.read += 1
                    self.stats.kept += 1
                    yield message
            seen = max(seen, count)
