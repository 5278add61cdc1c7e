"""The one chat record every reader yields and every later stage consumes."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Emote:
    """An emote inside a message: its name (the text it replaces), an id when the platform gives one, and the
    half-open character span ``[start, end)`` it covers in ``ChatMessage.text``."""

    name: str
    start: int
    end: int
    id: str | None = None


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One live comment.

    Attributes:
        time: offset in seconds from the start of the video (may be negative for pre-stream chat).
        author: display name or user hash, as the platform gives it ("" when unknown).
        text: the message text.
        emotes: emotes with their character spans in ``text``.
        source: an id of where the message came from (platform message id, or ``"<file>:<line>"``).
        badges: the author's badges as the platform names them (Twitch IRC: ``("broadcaster/1", "subscriber/12")``;
            empty when the source has none). Not part of the dataset rows.
    """

    time: float
    author: str
    text: str
    emotes: tuple[Emote, ...] = field(default_factory=tuple)
    source: str = ""
    badges: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        return {
            "time": self.time,
            "author": self.author,
            "text": self.text,
            "emotes": [{"name": e.name, "start": e.start, "end": e.end, "id": e.id} for e in self.emotes],
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, record: dict) -> "ChatMessage":
        emotes = tuple(Emote(e["name"], int(e["start"]), int(e["end"]), e.get("id")) for e in record.get("emotes") or ())
        return cls(
            float(record["time"]), record.get("author") or "", record["text"], emotes, record.get("source") or "",
            tuple(record.get("badges") or ()),
        )
