"""``read_chat``: one entry point over every chat-log format."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from os import PathLike
from pathlib import Path
from typing import Callable, Iterator

from ._parsing import ErrorPolicy, ReadContext
from .bilibili import read_bilibili_xml
from .chat_downloader import read_chat_downloader
from .detect import (
    BILIBILI_XML,
    CHAT_DOWNLOADER,
    CHAT_FORMATS,
    TWITCH_IRC,
    TWITCH_JSON,
    YOUTUBE_LIVE_CHAT,
    detect_chat_format,
)
from .filters import ChatFilters
from .message import ChatMessage
from .stats import ChatStats
from .twitch_irc import read_twitch_irc
from .twitch_json import read_twitch_json
from .youtube import read_youtube_live_chat

_READERS: dict[str, Callable[[ReadContext], Iterator[ChatMessage]]] = {
    TWITCH_JSON: read_twitch_json,
    CHAT_DOWNLOADER: read_chat_downloader,
    TWITCH_IRC: read_twitch_irc,
    YOUTUBE_LIVE_CHAT: read_youtube_live_chat,
    BILIBILI_XML: read_bilibili_xml,
}


def read_chat(
    path: str | PathLike[str],
    format: str | None = None,
    *,
    errors: ErrorPolicy = "raise",
    filters: ChatFilters | None = None,
    sort: bool = True,
    start_time: datetime | float | None = None,
    stats: ChatStats | None = None,
) -> Iterator[ChatMessage]:
    """Read a chat log as :class:`ChatMessage` records with times in seconds from the start of the video.

    Args:
        path: the log file.
        format: one of ``CHAT_FORMATS`` (``"twitch-json"``, ``"chat-downloader"``, ``"twitch-irc"``,
            ``"youtube-live-chat"``, ``"bilibili-xml"``); by default detected from the content.
        errors: ``"raise"`` raises :class:`ChatFormatError` at the first malformed record; ``"skip"`` skips
            malformed records and counts them in ``stats``. Damage that makes the rest of a JSON or XML document
            unreadable ends the read there (counted as one skip) under ``"skip"``.
        filters: clean-up to apply, e.g. ``ChatFilters()`` for the LiveChat setting; ``None`` applies none.
        sort: yield messages in time order (stable for equal times). Sorting must see the whole log first, so it
            holds all of its messages in memory; ``sort=False`` streams in file order with memory independent of
            the log's size (duplicate filtering then compares messages in file order).
        start_time: ``"twitch-irc"`` only: the moment that is time 0, a ``datetime`` or seconds on the log's
            clock (see :mod:`~hf_livechat.data.chat.twitch_irc`); by default the first message.
        stats: counters to add this read's numbers to (read, kept, dropped by reason, skipped).

    Raises:
        ChatFormatError: the format cannot be detected, or (``errors="raise"``) the log is malformed; raised while
            iterating, except for detection, which happens at the call.
    """
    path = Path(path)
    if errors not in ("raise", "skip"):
        raise ValueError(f"errors must be 'raise' or 'skip', got {errors!r}")
    chat_format = format or detect_chat_format(path)
    if chat_format not in _READERS:
        raise ValueError(f"unknown chat format {chat_format!r}; expected one of {', '.join(CHAT_FORMATS)}")
    reader = _READERS[chat_format]
    if start_time is not None:
        if chat_format != TWITCH_IRC:
            raise ValueError(f"start_time applies to 'twitch-irc' logs only; {path} is {chat_format!r}")
        reader = partial(read_twitch_irc, start_time=start_time)
    context = ReadContext(path, errors, stats if stats is not None else ChatStats())
    return _read(reader, context, filters, sort)


def _read(
    reader: Callable[[ReadContext], Iterator[ChatMessage]],
    context: ReadContext,
    filters: ChatFilters | None,
    sort: bool,
) -> Iterator[ChatMessage]:
    messages = reader(context)
    if sort:
        messages = iter(sorted(messages, key=lambda message: message.time))
    if filters is None:
        for message in messages:
            context.stats.kept += 1
            yield message
    else:
        yield from filters.apply(messages, context.stats)
