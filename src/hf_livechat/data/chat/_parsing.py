"""What every format reader shares: the error policy, the counters, and checked construction of messages."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Literal

from .errors import ChatFormatError
from .message import ChatMessage, Emote
from .stats import ChatStats

ErrorPolicy = Literal["raise", "skip"]


class BadRecord(Exception):
    """Raised inside a reader for one malformed record; the reader turns it into a ``ChatFormatError`` or a skip."""


@dataclass
class ReadContext:
    path: Path
    errors: ErrorPolicy
    stats: ChatStats

    def bad(self, reason: str, *, line: int | None = None, record: int | None = None) -> None:
        """Report a malformed record: raise under ``errors="raise"``, count it under ``errors="skip"``."""
        error = ChatFormatError(self.path, reason, line=line, record=record)
        if self.errors == "raise":
            raise error
        self.stats.record_skip(error)

    def drop(self, reason: str) -> None:
        """Count an item of the log that is not a chat message (a join notice, a placeholder, ...)."""
        self.stats.dropped[reason] += 1


def get_field(record: Any, *keys: str, kind: type | tuple[type, ...] = object, default: Any = ...) -> Any:
    """``record[k1][k2]...`` checked for presence and type, raising ``BadRecord`` with the dotted name."""
    value = record
    for depth, key in enumerate(keys):
        if not isinstance(value, dict):
            name = ".".join(keys[:depth]) or "record"
            raise BadRecord(f"{name!r} is not an object")
        if key not in value or value[key] is None:
            if default is not ...:
                return default
            raise BadRecord(f"{'.'.join(keys)!r} is missing")
        value = value[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    # JSON true/false are ints to isinstance(); a number field holding one is still malformed.
    if not isinstance(value, kinds) or (isinstance(value, bool) and not {bool, object} & set(kinds)):
        raise BadRecord(f"{'.'.join(keys)!r} has the wrong type ({type(value).__name__})")
    return value


def to_seconds(value: Any, name: str) -> float:
    """A finite float from a JSON number or numeric string, else ``BadRecord``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise BadRecord(f"{name!r} is not a number")
    try:
        seconds = float(value)
    except (ValueError, OverflowError):
        raise BadRecord(f"{name!r} is not a number: {value!r}") from None
    if not math.isfinite(seconds):
        raise BadRecord(f"{name!r} is not finite: {value!r}")
    return seconds


def make_message(
    time: float, author: str, text: str, emotes: Iterable[Emote] = (), source: str = "", badges: Iterable[str] = ()
) -> ChatMessage:
    """A ``ChatMessage`` whose emote spans are checked against its text."""
    emotes = tuple(sorted(emotes, key=lambda emote: (emote.start, emote.end)))
    for emote in emotes:
        if not 0 <= emote.start < emote.end <= len(text):
            raise BadRecord(f"emote {emote.name!r} span [{emote.start}, {emote.end}) is outside the text")
    return ChatMessage(time=time, author=author, text=text, emotes=emotes, source=source, badges=tuple(badges))


def parse_records(
    ctx: ReadContext,
    records: Iterable[tuple[int | None, int | None, Any]],
    parse: Callable[[Any], ChatMessage | None],
) -> Iterator[ChatMessage]:
    """Turn ``(line, record_index, raw)`` items into messages with ``parse`` (which returns ``None`` for items that
    are not chat, after counting them with ``ctx.drop``), applying the error policy.

    A ``ChatFormatError`` raised by ``records`` itself means the file cannot be read past that point (broken JSON or
    XML): it propagates under ``errors="raise"``; under ``errors="skip"`` it is counted and the read ends there.
    """
    try:
        for line, index, raw in records:
            try:
                message = parse(raw)
            except BadRecord as exc:
                ctx.bad(str(exc), line=line, record=index)
                continue
            if message is not None:
                ctx.stats.read += 1
                yield message
    except ChatFormatError as exc:
        if ctx.errors == "raise":
            raise
        ctx.stats.record_skip(exc)
