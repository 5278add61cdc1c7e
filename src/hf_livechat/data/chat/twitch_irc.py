"""Twitch chat logged from IRC, one message a line, in either of two shapes.

Plain logs::

    [12:01:48] <DunkoPop> hi <3             (also [1:01:48], [2021-07-15 12:01:48], 2021-07-15 [12:01:48],
    [0:00:05] DunkoPop: hi <3                and the "user: message" form TwitchDownloader's text export uses)

Raw IRCv3 lines, as the Twitch chat server sends them (optionally after a ``[time]`` stamp)::

    @display-name=Dunko;emotes=555555584:3-4;tmi-sent-ts=1626314508745 :dunko!dunko@dunko.tmi.twitch.tv PRIVMSG #nl :<3

Only ``PRIVMSG`` lines are chat; other commands (JOIN, PING, USERNOTICE, ...) are counted as ``"not_a_message"``.
Emote spans come from the ``emotes`` tag. Times are clock readings, so they are made relative to an origin: the
first message's stamp, or ``start_time`` when given (a ``datetime``, or seconds on the log's own clock: since
midnight for time-only stamps, Unix seconds for dated stamps and ``tmi-sent-ts``). Time-only stamps that jump back
by more than 12 hours are taken to have passed midnight.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from os import PathLike
from typing import Iterable, Iterator, NamedTuple

from ._parsing import BadRecord, ReadContext, make_message, parse_records
from ._lines import iter_lines
from .message import ChatMessage, Emote

_STAMP = re.compile(
    r"(?:(?P<outer_date>\d{4}-\d{2}-\d{2})\s+)?"
    r"\[(?:(?P<date>\d{4}-\d{2}-\d{2})[ T])?(?P<h>\d{1,2}):(?P<m>\d{2}):(?P<s>\d{2})(?:\.(?P<frac>\d{1,6}))?\]\s*"
)
_ANGLE_MESSAGE = re.compile(r"<(?P<user>[^<>]*)> ?(?P<text>.*)", re.DOTALL)
_COLON_MESSAGE = re.compile(r"(?P<user>[^\s<>:]+): ?(?P<text>.*)", re.DOTALL)
# IRC separates tokens with spaces only: a tag value may hold a raw tab or form feed.
_IRC_MESSAGE = re.compile(
    r"(?:@(?P<tags>[^ ]*) +)?(?::(?P<prefix>[^ ]+) +)?(?P<command>[A-Za-z]+|\d{3})(?P<params>(?: .*)?)", re.DOTALL
)
_PRIVMSG_PARAMS = re.compile(r" +(?P<channel>[^ ]+) +:?(?P<text>.*)", re.DOTALL)
_TAG_ESCAPES = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}
_HALF_DAY_US = 12 * 3600 * 10**6
_DAY_US = 24 * 3600 * 10**6
DEFAULT_LOG_START = datetime(2021, 1, 1, tzinfo=timezone.utc)


class StampClock:
    """Turns a chat's clock readings (log stamps, ``tmi-sent-ts``) into seconds from the origin, in integer
    microseconds so that millisecond stamps come back exactly. Shared by the log reader, the followed log and the
    live IRC client; an origin of ``0.0`` keeps Unix seconds."""

    def __init__(self, start_time: datetime | float | None) -> None:
        self.start_time = start_time
        self.origin: int | None = None
        self.days = 0
        self.last_time_of_day: int | None = None

    def seconds(self, stamp_us: int, *, time_of_day: bool) -> float:
        if time_of_day:
            if self.last_time_of_day is not None and stamp_us < self.last_time_of_day - _HALF_DAY_US:
                self.days += 1
            self.last_time_of_day = stamp_us
            stamp_us += self.days * _DAY_US
        if self.origin is None:
            self.origin = self._origin(stamp_us, time_of_day)
        return (stamp_us - self.origin) / 10**6

    def _origin(self, first_stamp_us: int, time_of_day: bool) -> int:
        start = self.start_time
        if start is None:
            return first_stamp_us
        if isinstance(start, datetime):
            if time_of_day:
                return ((start.hour * 60 + start.minute) * 60 + start.second) * 10**6 + start.microsecond
            return _unix_us(start)
        return round(start * 10**6)


def _unix_us(moment: datetime) -> int:
    if moment.tzinfo is None:  # log stamps carry no zone: read them, and naive start times, as UTC
        moment = moment.replace(tzinfo=timezone.utc)
    delta = moment - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86400 + delta.seconds) * 10**6 + delta.microseconds


def read_twitch_irc(ctx: ReadContext, start_time: datetime | float | None = None) -> Iterator[ChatMessage]:
    clock = StampClock(start_time)
    records = ((number, None, (number, line)) for number, line in iter_lines(ctx))
    yield from parse_records(ctx, records, lambda record: parse_log_line(ctx, clock, *record))


def parse_log_line(ctx: ReadContext, clock: StampClock, number: int, line: str) -> ChatMessage | None:
    """One line of an IRC chat log (plain or raw IRCv3, optionally stamped): a message, or ``None`` for a line that
    is not chat; raises ``BadRecord``."""
    stamp = _STAMP.match(line)
    rest = line[stamp.end() :] if stamp else line
    stamp_us, time_of_day = _stamp_us(stamp) if stamp else (None, False)
    if rest.startswith(("@", ":")) or re.match(r"(?:[A-Z]+|\d{3})(?: |$)", rest):
        return parse_irc_message(ctx, clock, number, rest, stamp_us, time_of_day)
    if stamp is None:
        raise BadRecord("expected '[hh:mm:ss] <user> message' or an IRC message")
    match = _ANGLE_MESSAGE.fullmatch(rest) or _COLON_MESSAGE.fullmatch(rest)
    if match is None:
        raise BadRecord("expected '<user> message' after the time stamp")
    time = clock.seconds(stamp_us, time_of_day=time_of_day)
    return make_message(time, match["user"], match["text"], (), f"{ctx.path.name}:{number}")


def _stamp_us(stamp: re.Match) -> tuple[int, bool]:
    hours, minutes, seconds = int(stamp["h"]), int(stamp["m"]), int(stamp["s"])
    if minutes > 59 or seconds > 59:
        raise BadRecord(f"bad time stamp {stamp.group(0).strip()!r}")
    fraction_us = int((stamp["frac"] or "").ljust(6, "0"))
    time_of_day_us = ((hours * 60 + minutes) * 60 + seconds) * 10**6 + fraction_us
    date = stamp["date"] or stamp["outer_date"]
    if date is None:
        return time_of_day_us, True
    try:
        day = datetime.strptime(date, "%Y-%m-%d")
    except ValueError:
        raise BadRecord(f"bad date {date!r}") from None
    return _unix_us(day) + time_of_day_us, False


def parse_irc_message(
    ctx: ReadContext, clock: StampClock, number: int, line: str, stamp_us: int | None, time_of_day: bool
) -> ChatMessage | None:
    """One raw IRCv3 line (as the chat server sends it): a ``ChatMessage`` for a ``PRIVMSG``, ``None`` for other
    commands (counted as ``"not_a_message"``); raises ``BadRecord``. The time is ``tmi-sent-ts``, else ``stamp_us``
    (microseconds on the log's clock; ``time_of_day`` when they count from midnight)."""
    match = _IRC_MESSAGE.fullmatch(line)
    if match is None:
        raise BadRecord("malformed IRC message")
    if match["command"] != "PRIVMSG":
        ctx.drop("not_a_message")
        return None
    params = _PRIVMSG_PARAMS.fullmatch(match["params"])
    if params is None:
        raise BadRecord("PRIVMSG without a channel and text")
    tags = _parse_tags(match["tags"] or "")
    text = params["text"]
    if text.startswith("\x01ACTION ") and text.endswith("\x01"):  # "/me waves" arrives as CTCP ACTION
        text = text[len("\x01ACTION ") : -1]
    sent = tags.get("tmi-sent-ts")
    if sent:
        if not sent.isdigit():
            raise BadRecord(f"bad 'tmi-sent-ts' tag {sent!r}")
        time = clock.seconds(int(sent) * 1000, time_of_day=False)
    elif stamp_us is not None:
        time = clock.seconds(stamp_us, time_of_day=time_of_day)
    else:
        raise BadRecord("no 'tmi-sent-ts' tag and no [time] stamp")
    nick = (match["prefix"] or "").split("!", 1)[0]
    author = tags.get("display-name") or nick
    emotes = _parse_emotes(tags.get("emotes", ""), text)
    badges = tuple(badge for badge in tags.get("badges", "").split(",") if badge)  # "broadcaster/1,subscriber/12"
    return make_message(time, author, text, emotes, tags.get("id") or f"{ctx.path.name}:{number}", badges)


class IRCLine(NamedTuple):
    """One server line, split: ``@tags :nick!user@host COMMAND target :text``."""

    tags: dict[str, str]
    nick: str  # the prefix's nick ("" for the server's own lines, "tmi.twitch.tv" as the server names itself)
    command: str
    target: str  # the first parameter (a channel, ``*``, or the client's nick); "" when none
    text: str  # the trailing parameter; "" when none


def split_irc_line(line: str) -> IRCLine | None:
    """Split a raw IRC(v3) line for the client's own use (login replies, NOTICEs, whose nick a PRIVMSG is from);
    ``None`` for a line that is not IRC."""
    match = _IRC_MESSAGE.fullmatch(line)
    if match is None:
        return None
    params = match["params"].lstrip(" ")
    head, colon, trailing = params.partition(" :") if not params.startswith(":") else ("", ":", params[1:])
    words = head.split()
    text = trailing if colon else (" ".join(words[1:]) if len(words) > 1 else "")
    nick = (match["prefix"] or "").split("!", 1)[0]
    return IRCLine(_parse_tags(match["tags"] or ""), nick, match["command"].upper(), words[0] if words else "", text)


def _parse_tags(raw: str) -> dict[str, str]:
    tags = {}
    for item in raw.split(";") if raw else ():
        key, _, value = item.partition("=")
        tags[key] = _unescape_tag(value)
    return tags


def _unescape_tag(value: str) -> str:
    return re.sub(r"\\(.?)", lambda m: _TAG_ESCAPES.get(m[1], m[1]), value, flags=re.DOTALL)


def _parse_emotes(raw: str, text: str) -> list[Emote]:
    """``25:0-4,12-16/1902:6-10`` -> emotes; ends in the tag are inclusive. An empty id means "unknown"."""
    emotes = []
    for group in raw.split("/") if raw else ():
        emote_id, separator, ranges = group.partition(":")
        if not separator:
            raise BadRecord(f"bad 'emotes' tag {raw!r}")
        for span in ranges.split(","):
            start, dash, end = span.partition("-")
            if not (dash and start.isdigit() and end.isdigit()):
                raise BadRecord(f"bad emote range {span!r} in the 'emotes' tag")
            start_index, end_index = int(start), int(end) + 1
            if not 0 <= start_index < end_index <= len(text):
                raise BadRecord(f"emote range {span!r} is outside the message")
            emotes.append(Emote(text[start_index:end_index], start_index, end_index, emote_id or None))
    return emotes


def write_irc_log(
    messages: Iterable[ChatMessage],
    path: str | PathLike[str],
    *,
    channel: str = "livechat",
    start_time: datetime = DEFAULT_LOG_START,
) -> int:
    """Write ``messages`` as raw Twitch IRCv3 ``PRIVMSG`` lines with ``display-name``, ``emotes``, ``id`` and
    ``tmi-sent-ts`` (``start_time`` + message time, in milliseconds) tags.

    Read it back with ``read_chat(path, start_time=start_time)`` to get the same times (to the millisecond).
    Emotes without an id are written with an empty id and read back with ``id=None``. Returns the number of lines
    written. Raises ``ValueError`` for text that holds a line break or NUL (IRC cannot carry them) and for emote
    ids holding one of ``:,/;`` or whitespace.
    """
    start_ms = _unix_us(start_time) // 1000
    count = 0
    with open(path, "w", encoding="utf-8", newline="\n") as fp:
        for count, message in enumerate(messages, start=1):
            if any(char in message.text for char in "\r\n\x00"):
                raise ValueError(f"message {count - 1}: IRC text cannot contain a line break or NUL")
            nick = re.sub(r"[^a-z0-9_]", "_", message.author.lower())
            tags = {
                "display-name": _escape_tag(message.author),
                "emotes": _format_emotes(message, count - 1),
                "id": _escape_tag(message.source),
                "tmi-sent-ts": str(start_ms + round(message.time * 1000)),
            }
            tag_text = ";".join(f"{key}={value}" for key, value in tags.items())
            fp.write(f"@{tag_text} :{nick}!{nick}@{nick}.tmi.twitch.tv PRIVMSG #{channel} :{message.text}\n")
    return count


def _escape_tag(value: str) -> str:
    return (
        value.replace("\\", "\\\\").replace(";", "\\:").replace(" ", "\\s").replace("\r", "\\r").replace("\n", "\\n")
    )


def _format_emotes(message: ChatMessage, index: int) -> str:
    by_id: dict[str, list[str]] = {}
    for emote in message.emotes:
        emote_id = emote.id or ""
        if re.search(r"[:,/;\s]", emote_id):
            raise ValueError(f"message {index}: emote id {emote_id!r} cannot be written to an IRC 'emotes' tag")
        by_id.setdefault(emote_id, []).append(f"{emote.start}-{emote.end - 1}")
    return "/".join(f"{emote_id}:{','.join(spans)}" for emote_id, spans in by_id.items())
