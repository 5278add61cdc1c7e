"""xenova/chat-downloader output: a JSON array of messages (or JSON lines of them).

Two schemas are read: the current one, ``{"author": {"name": ..., "id": ...}, "message": ..., "time_in_seconds":
-5, "message_id": ..., "emotes": [{"id", "name", ...}]}``, and the older chat-replay-downloader one, where
``author`` is a plain string. Items without text (e.g. a membership notice without a message) are counted as
``"no_text"``. chat-downloader gives emotes without positions; their spans are found by searching the text for
each emote's name (YouTube writes custom emotes as ``:name:`` shortcuts).
"""

from __future__ import annotations

import json
from typing import Any, Iterator

from ._parsing import BadRecord, ReadContext, get_field, make_message, parse_records, to_seconds
from ._json_stream import JsonStream
from ._lines import iter_lines
from .message import ChatMessage, Emote


def read_chat_downloader(ctx: ReadContext) -> Iterator[ChatMessage]:
    yield from parse_records(ctx, _records(ctx), lambda item: _parse_item(ctx, item))


def _records(ctx: ReadContext) -> Iterator[tuple[int | None, int | None, Any]]:
    with open(ctx.path, encoding="utf-8-sig") as fp:
        stream = JsonStream(fp, ctx.path)
        if stream.peek() == "[":
            yield from stream.array_items()
            return
    yield from _json_lines(ctx)


def _json_lines(ctx: ReadContext) -> Iterator[tuple[int, None, Any]]:
    for number, line in iter_lines(ctx):
        try:
            yield number, None, json.loads(line)
        except ValueError as exc:  # one bad line does not stop a JSON-lines file
            ctx.bad(f"invalid JSON: {exc}", line=number)
        except RecursionError:
            ctx.bad("invalid JSON: nested too deeply", line=number)


def _parse_item(ctx: ReadContext, item: Any) -> ChatMessage | None:
    if not isinstance(item, dict):
        raise BadRecord(f"expected a message object, found {type(item).__name__}")
    text = get_field(item, "message", kind=str, default=None)
    if text is None:
        ctx.drop("no_text")
        return None
    if "time_in_seconds" in item:
        time = to_seconds(item["time_in_seconds"], "time_in_seconds")
    elif "video_offset_time_msec" in item:
        time = to_seconds(item["video_offset_time_msec"], "video_offset_time_msec") / 1000
    else:
        raise BadRecord("'time_in_seconds' is missing")
    author = item.get("author")
    if isinstance(author, dict):  # current schema
        author = get_field(author, "name", kind=str, default="")
    elif author is None:
        author = ""
    elif not isinstance(author, str):
        raise BadRecord(f"'author' has the wrong type ({type(author).__name__})")
    emotes = _locate_emotes(text, get_field(item, "emotes", kind=list, default=[]))
    source = get_field(item, "message_id", kind=(str, int), default="")
    return make_message(time, author, text, emotes, str(source))


def _locate_emotes(text: str, emotes: list) -> list[Emote]:
    named = []
    for emote in emotes:
        name = get_field(emote, "name", kind=str)
        emote_id = get_field(emote, "id", kind=(str, int), default=None)
        if name:
            named.append((name, None if emote_id is None else str(emote_id)))
    spans: list[Emote] = []
    taken = [False] * len(text)
    for name, emote_id in sorted(set(named), key=lambda pair: -len(pair[0])):  # longest first: ":a_b:" before ":a"
        start = text.find(name)
        while start != -1:
            end = start + len(name)
            if not any(taken[start:end]):
                spans.append(Emote(name, start, end, emote_id))
                taken[start:end] = [True] * len(name)
            start = text.find(name, end)
    return spans
