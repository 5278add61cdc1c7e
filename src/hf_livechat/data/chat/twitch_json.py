"""Twitch VOD chat as JSON: TwitchDownloader's file, Twitch-Chat-Downloader (``tcd --format json``) output, or a
bare array of Twitch v5 comment objects.

All three hold the same comment objects::

    {"_id": "...", "content_offset_seconds": 12.3,
     "commenter": {"display_name": "DunkoPop", "name": "dunkopop", ...},
     "message": {"body": "hi <3", "fragments": [{"text": "hi "}, {"text": "<3", "emoticon": {"emoticon_id": "9"}}],
                 "emoticons": [{"_id": "9", "begin": 3, "end": 4}], ...}}

The file is streamed: only the ``comments`` array is decoded, one comment at a time, and nothing after it is read.
"""

from __future__ import annotations

import json
from os import PathLike
from typing import Any, Iterable, Iterator

from ._parsing import BadRecord, ReadContext, get_field, make_message, parse_records, to_seconds
from ._json_stream import JsonStream
from .message import ChatMessage, Emote


def read_twitch_json(ctx: ReadContext) -> Iterator[ChatMessage]:
    with open(ctx.path, encoding="utf-8-sig") as fp:
        yield from parse_records(ctx, _comments(JsonStream(fp, ctx.path)), _parse_comment)


def _comments(stream: JsonStream) -> Iterator[tuple[int, int, Any]]:
    if stream.peek() == "[":
        yield from stream.array_items()
        return
    if stream.peek() != "{":
        raise stream.error("expected a JSON object with a 'comments' array")
    for key in stream.object_keys():
        if key == "comments":
            yield from stream.array_items()
            return  # what follows (e.g. TwitchDownloader's embeddedData) is not chat: leave it unread
        stream.value()
    raise stream.error("the JSON object has no 'comments' array")


def _parse_comment(comment: Any) -> ChatMessage:
    time = to_seconds(get_field(comment, "content_offset_seconds"), "content_offset_seconds")
    author = get_field(comment, "commenter", "display_name", kind=str, default="") or get_field(
        comment, "commenter", "name", kind=str, default=""
    )
    body = get_field(comment, "message", "body", kind=str, default=None)
    fragments = get_field(comment, "message", "fragments", kind=list, default=[])
    fragment_text = "".join(get_field(fragment, "text", kind=str) for fragment in fragments)
    if body is None:
        if not fragments:
            raise BadRecord("'message.body' is missing")
        body = fragment_text
    if fragments and fragment_text == body:
        emotes = _emotes_from_fragments(fragments)
    else:  # no fragments to trust: fall back to the emoticon ranges (inclusive ends) over the body
        emotes = _emotes_from_ranges(body, get_field(comment, "message", "emoticons", kind=list, default=[]))
    source = get_field(comment, "_id", kind=(str, int), default="")
    return make_message(time, author, body, emotes, str(source))


def _emotes_from_fragments(fragments: list) -> list[Emote]:
    emotes, offset = [], 0
    for fragment in fragments:
        text = fragment["text"]
        emoticon = get_field(fragment, "emoticon", kind=dict, default=None)
        if emoticon is not None and text:
            emote_id = get_field(emoticon, "emoticon_id", kind=(str, int), default=None)
            emotes.append(Emote(text, offset, offset + len(text), None if emote_id is None else str(emote_id)))
        offset += len(text)
    return emotes


def _emotes_from_ranges(body: str, ranges: list) -> list[Emote]:
    emotes = []
    for emoticon in ranges:
        start = get_field(emoticon, "begin", kind=int)
        end = get_field(emoticon, "end", kind=int) + 1
        emote_id = get_field(emoticon, "_id", kind=(str, int), default=None)
        if not 0 <= start < end <= len(body):
            raise BadRecord(f"emoticon range {start}-{end - 1} is outside the message body")
        emotes.append(Emote(body[start:end], start, end, None if emote_id is None else str(emote_id)))
    return emotes


def write_twitch_json(
    messages: Iterable[ChatMessage],
    path: str | PathLike[str],
    *,
    video_id: str = "",
    streamer: str = "",
    title: str = "",
) -> int:
    """Write ``messages`` in TwitchDownloader's JSON layout (``streamer``, ``video``, ``comments``), one comment per
    line, emotes as message fragments plus ``emoticons`` ranges. Streams: ``messages`` may be a generator.

    Returns the number of comments written. Raises ``ValueError`` for overlapping emote spans.
    """
    count = 0
    with open(path, "w", encoding="utf-8") as fp:
        header = {"streamer": {"name": streamer, "id": None}, "video": {"id": video_id, "title": title}}
        fp.write(json.dumps(header, ensure_ascii=False)[:-1] + ', "comments": [')
        for count, message in enumerate(messages, start=1):
            fp.write("\n" if count == 1 else ",\n")
            fp.write(json.dumps(_comment(message, count - 1), ensure_ascii=False, allow_nan=False))
        fp.write("\n]}\n")
    return count


def _comment(message: ChatMessage, index: int) -> dict:
    fragments, emoticons, offset = [], [], 0
    for emote in sorted(message.emotes, key=lambda emote: emote.start):
        if emote.start < offset or not emote.start < emote.end <= len(message.text):
            raise ValueError(f"message {index}: emote span [{emote.start}, {emote.end}) overlaps another or the text")
        if emote.start > offset:
            fragments.append({"text": message.text[offset : emote.start], "emoticon": None})
        fragments.append({"text": message.text[emote.start : emote.end], "emoticon": {"emoticon_id": emote.id}})
        emoticons.append({"_id": emote.id, "begin": emote.start, "end": emote.end - 1})
        offset = emote.end
    if offset < len(message.text):
        fragments.append({"text": message.text[offset:], "emoticon": None})
    return {
        "_id": message.source,
        "content_offset_seconds": message.time,
        "commenter": {"display_name": message.author, "name": message.author.lower(), "_id": None},
        "message": {"body": message.text, "fragments": fragments, "emoticons": emoticons},
    }
