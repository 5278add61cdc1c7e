"""Recognise a chat log's format from its first bytes, whatever the file is called."""

from __future__ import annotations

import re
from os import PathLike
from pathlib import Path

from .errors import ChatFormatError

TWITCH_JSON = "twitch-json"
CHAT_DOWNLOADER = "chat-downloader"
TWITCH_IRC = "twitch-irc"
YOUTUBE_LIVE_CHAT = "youtube-live-chat"
BILIBILI_XML = "bilibili-xml"
CHAT_FORMATS = (TWITCH_JSON, CHAT_DOWNLOADER, TWITCH_IRC, YOUTUBE_LIVE_CHAT, BILIBILI_XML)

SNIFF_BYTES = 32 * 1024
# Formats are told apart by their JSON *keys*: a key is a quoted name followed by ':' whose opening quote is not
# escaped, so a chat message whose text happens to be "replayChatItemAction" cannot change the verdict.
_YOUTUBE_KEYS = ("replayChatItemAction", "liveChatContinuation", "addChatItemAction")
_TWITCH_KEYS = ("content_offset_seconds", "comments")
_CHAT_DOWNLOADER_KEYS = ("time_in_seconds", "message_type", "action_type", "time_text")
_IRC_LINE = re.compile(
    r"(?:\d{4}-\d{2}-\d{2}\s+)?\[(?:\d{4}-\d{2}-\d{2}[ T])?\d{1,2}:\d{2}:\d{2}(?:\.\d+)?\]"  # [time] stamp
    r"|@[^ ]* +:[^ ]+ +[A-Z]+ "  # tagged IRC message
    r"|:[^ ]+ +(?:[A-Z]+|\d{3}) "  # IRC message with a prefix
    r"|PING\s"
)


def detect_chat_format(path: str | PathLike[str]) -> str:
    """The format of the chat log at ``path``, one of ``CHAT_FORMATS``, judged from its first 32 KiB.

    Raises ``ChatFormatError`` when the content matches no known format.
    """
    path = Path(path)
    with open(path, "rb") as fp:
        head = fp.read(SNIFF_BYTES).decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    if not head:
        raise ChatFormatError(path, "the file is empty: its chat format cannot be detected; pass format=")
    detected = _detect(head)
    if detected is None:
        snippet = head[:60].replace("\n", "\\n")
        raise ChatFormatError(
            path,
            f"unrecognised chat log format (starts with {snippet!r}); pass format= one of {', '.join(CHAT_FORMATS)}",
        )
    return detected


def _has_key(head: str, names: tuple[str, ...]) -> bool:
    return re.search(r'(?<!\\)"(?:' + "|".join(names) + r')"\s*:', head) is not None


def _detect(head: str) -> str | None:
    if head.startswith("<"):
        return BILIBILI_XML if re.search(r"<i>|<d\s+p=", head) else None
    if head.startswith("{"):
        if _has_key(head, _YOUTUBE_KEYS):
            return YOUTUBE_LIVE_CHAT
        if _has_key(head, _TWITCH_KEYS):
            return TWITCH_JSON
        if _has_key(head, _CHAT_DOWNLOADER_KEYS):
            return CHAT_DOWNLOADER  # its JSON-lines form
        return None
    if re.match(r"\[\s*(?:\{|\]|$)", head):  # a JSON array of message objects
        if _has_key(head, ("content_offset_seconds",)):
            return TWITCH_JSON
        if _has_key(head, ("message",)) or re.match(r"\[\s*\]", head) or not head[1:].strip():
            return CHAT_DOWNLOADER
        return None
    first_line = head.split("\n", 1)[0]
    return TWITCH_IRC if _IRC_LINE.match(first_line) else None
