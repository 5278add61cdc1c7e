"""The clean-up applied to chat before it becomes training data, each step a documented, switchable option.

The LiveChat pipeline drops empty messages, chat commands (``!uptime``), bot accounts, links and copy-paste spam,
and replaces ``@name`` mentions with a placeholder so that user names do not leak into generated comments. Text
edits keep every surviving emote span pointing at the same characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Iterable, Iterator

from .message import ChatMessage, Emote
from .stats import ChatStats

DEFAULT_BOTS = frozenset({"nightbot", "streamelements", "moobot", "fossabot", "streamlabs"})
_MENTION = re.compile(r"(?<![\w@])@\w+")
_URL = re.compile(
    r"(?i)\b(?:https?://|www\.)\S+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|net|org|tv|gg|io|ly|be)(?:/\S*)?\b"
)


@dataclass(frozen=True)
class ChatFilters:
    """Which messages to drop and how to rewrite the rest. ``ChatFilters()`` is the LiveChat setting.

    Attributes:
        drop_empty: drop messages whose text is empty or only whitespace.
        drop_commands: drop chat commands, i.e. messages starting with ``!`` (after leading whitespace).
        drop_bots: authors (compared case-insensitively) whose messages are dropped.
        drop_duplicates: drop a message when the same author sent the same text at most this many seconds
            earlier (copy-paste spam); ``None`` keeps repeats. Needs messages in time order, see ``read_chat(sort=)``.
        replace_mentions: replace every ``@name`` with this text (``None`` leaves mentions alone).
        drop_urls: drop messages that contain a link (``http://...``, ``www....``, ``example.com/...``).
    """

    drop_empty: bool = True
    drop_commands: bool = True
    drop_bots: frozenset[str] = DEFAULT_BOTS
    drop_duplicates: float | None = 10.0
    replace_mentions: str | None = "@user"
    drop_urls: bool = True

    def __post_init__(self) -> None:
        # Normalise once so matching is a set lookup, and accept any iterable of names.
        object.__setattr__(self, "drop_bots", frozenset(name.casefold() for name in self.drop_bots))
        if self.drop_duplicates is not None and self.drop_duplicates < 0:
            raise ValueError(f"drop_duplicates must be >= 0 seconds or None, got {self.drop_duplicates}")

    @classmethod
    def keep_all(cls) -> "ChatFilters":
        """Filters that change nothing."""
        return cls(
            drop_empty=False,
            drop_commands=False,
            drop_bots=frozenset(),
            drop_duplicates=None,
            replace_mentions=None,
            drop_urls=False,
        )

    def apply(self, messages: Iterable[ChatMessage], stats: ChatStats | None = None) -> Iterator[ChatMessage]:
        """Yield the messages that pass, rewritten; count drops by reason (and kept ones) in ``stats``."""
        stats = stats if stats is not None else ChatStats()
        last_by_author: dict[str, tuple[float, str]] = {}
        for message in messages:
            reason = self._drop_reason(message, last_by_author)
            if reason is not None:
                stats.dropped[reason] += 1
                continue
            if self.replace_mentions is not None:
                message = replace_spans(
                    message, [(m.start(), m.end(), self.replace_mentions) for m in _MENTION.finditer(message.text)]
                )
            stats.kept += 1
            yield message

    def _drop_reason(self, message: ChatMessage, last_by_author: dict[str, tuple[float, str]]) -> str | None:
        text = message.text
        if self.drop_empty and not text.strip():
            return "empty"
        if message.author.casefold() in self.drop_bots:
            return "bot"
        if self.drop_commands and text.lstrip().startswith("!"):
            return "command"
        if self.drop_urls and _URL.search(text):
            return "url"
        if self.drop_duplicates is not None:
            previous = last_by_author.get(message.author)
            last_by_author[message.author] = (message.time, text)
            if (
                previous is not None
                and previous[1] == text
                and abs(message.time - previous[0]) <= self.drop_duplicates
            ):
                return "duplicate"
        return None


def replace_spans(message: ChatMessage, edits: list[tuple[int, int, str]]) -> ChatMessage:
    """Replace the text spans ``[start, end)`` of ``edits`` (sorted, non-overlapping) with new text.

    Emotes after an edit shift by the change in length; an emote that overlaps an edited span is removed, since
    the characters it named are gone.
    """
    if not edits:
        return message
    pieces, emotes, cursor = [], [], 0
    for start, end, new in edits:
        pieces += [message.text[cursor:start], new]
        cursor = end
    pieces.append(message.text[cursor:])
    for emote in message.emotes:
        if any(start < emote.end and emote.start < end for start, end, _ in edits):
            continue
        shift = sum(len(new) - (end - start) for start, end, new in edits if end <= emote.start)
        emotes.append(Emote(emote.name, emote.start + shift, emote.end + shift, emote.id))
    return replace(message, text="".join(pieces), emotes=tuple(emotes))
