"""Counters that say what a read kept, dropped and skipped, so a dataset build can end with a summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

MAX_KEPT_ERRORS = 20


@dataclass
class ChatStats:
    """What happened to the records of one or more chat logs.

    Pass one instance to several :func:`~hf_livechat.data.chat.read_chat` calls to total a whole dataset build.

    Attributes:
        read: chat messages the readers decoded (before filtering).
        kept: messages that passed the filters and were yielded.
        dropped: reason -> count for messages the filters removed (``"empty"``, ``"bot"``, ``"command"``, ``"url"``,
            ``"duplicate"``) and for items of a log that are not chat (``"not_a_message"``, ``"placeholder"``,
            ``"no_text"``, ``"script_danmaku"``, ``"advanced_unreadable"``).
        skipped: malformed records skipped because the read used ``errors="skip"``.
        errors: the messages of the first skipped records (at most ``MAX_KEPT_ERRORS``), to show the user.
    """

    read: int = 0
    kept: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    skipped: int = 0
    errors: list[str] = field(default_factory=list)

    def record_skip(self, error: Exception) -> None:
        self.skipped += 1
        if len(self.errors) < MAX_KEPT_ERRORS:
            self.errors.append(str(error))

    def update(self, other: "ChatStats") -> None:
        """Add the counts of ``other`` to this one."""
        self.read += other.read
        self.kept += other.kept
        self.dropped.update(other.dropped)
        self.skipped += other.skipped
        self.errors.extend(other.errors[: max(0, MAX_KEPT_ERRORS - len(self.errors))])

    def summary(self) -> str:
        """One human-readable line, e.g. ``read 3090, kept 2950, dropped 140 (bot 12, command 128), skipped 0``."""
        dropped = sum(self.dropped.values())
        reasons = ", ".join(f"{reason} {count}" for reason, count in self.dropped.most_common())
        text = f"read {self.read}, kept {self.kept}, dropped {dropped}"
        if reasons:
            text += f" ({reasons})"
        text += f", skipped {self.skipped} malformed"
        if self.errors:
            text += f"; first error: {self.errors[0]}"
        return text
