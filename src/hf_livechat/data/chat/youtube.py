"""YouTube live-chat replay: yt-dlp's ``live_chat.json`` (one JSON object per line) or one raw innertube
``get_live_chat_replay`` response (actions under ``continuationContents.liveChatContinuation.actions``).

Both hold ``replayChatItemAction`` objects::

    {"replayChatItemAction": {"videoOffsetTimeMsec": "101308", "actions": [{"addChatItemAction": {"item": {
        "liveChatTextMessageRenderer": {"id": ..., "authorName": {"simpleText": ...},
                                        "message": {"runs": [{"text": "hi "}, {"emoji": {...}}]}}}}}]}}

Text, paid (Super Chat) and membership messages keep their text; emoji runs become text (the emoji itself, or
the ``:shortcut:`` of a custom emoji) with an ``Emote`` over it. Placeholders (``"placeholder"``), paid messages
without text (``"no_text"``) and other actions such as tickers or deletions (``"not_a_message"``) are counted and
left out. yt-dlp files are streamed line by line; an innertube response is one API reply of a few hundred KB and
is decoded whole.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

from ._parsing import BadRecord, ReadContext, get_field, make_message, parse_records, to_seconds
from ._lines import iter_lines
from .errors import ChatFormatError
from .message import ChatMessage, Emote

_RENDERERS_WITH_TEXT = ("liveChatTextMessageRenderer", "liveChatPaidMessageRenderer", "liveChatMembershipItemRenderer")


def read_youtube_live_chat(ctx: ReadContext) -> Iterator[ChatMessage]:
    records = _response_actions(ctx) if _is_single_response(ctx) else _json_lines_actions(ctx)
    yield from parse_records(ctx, records, lambda record: _parse_action(ctx, *record))


def _is_single_response(ctx: ReadContext) -> bool:
    """yt-dlp writes one whole object per line; a pretty-printed or bare innertube response does not start so."""
    with open(ctx.path, "rb") as fp:
        first_line = fp.readline().decode("utf-8", errors="replace").lstrip("\ufeff")
    try:
        first = json.loads(first_line)
    except ValueError:
        return True
    return isinstance(first, dict) and "continuationContents" in first


def _json_lines_actions(ctx: ReadContext) -> Iterator[tuple[int, None, tuple[Any, Any]]]:
    for number, line in iter_lines(ctx):
        try:
            replay = get_field(json.loads(line), "replayChatItemAction", kind=dict)
            actions = get_field(replay, "actions", kind=list)
        except ValueError as exc:  # one bad line does not stop a JSON-lines file
            ctx.bad(f"invalid JSON: {exc}", line=number)
            continue
        except RecursionError:
            ctx.bad("invalid JSON: nested too deeply", line=number)
            continue
        except BadRecord as exc:
            ctx.bad(str(exc), line=number)
            continue
        offset = replay.get("videoOffsetTimeMsec")
        for action in actions:
            yield number, None, (offset, action)


def _response_actions(ctx: ReadContext) -> Iterator[tuple[None, int, tuple[Any, Any]]]:
    try:
        with open(ctx.path, encoding="utf-8-sig") as fp:
            response = json.load(fp)
    except UnicodeDecodeError as exc:
        raise ChatFormatError(ctx.path, f"not valid UTF-8 ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise ChatFormatError(ctx.path, f"invalid JSON: {exc.msg}", line=exc.lineno) from None
    except (ValueError, RecursionError) as exc:
        raise ChatFormatError(ctx.path, f"invalid JSON: {exc}") from None
    try:
        actions = get_field(response, "continuationContents", "liveChatContinuation", "actions", kind=list)
    except BadRecord as exc:
        raise ChatFormatError(ctx.path, f"not a live chat replay response: {exc}") from None
    for index, action in enumerate(actions):
        replay = action.get("replayChatItemAction") if isinstance(action, dict) else None
        if not isinstance(replay, dict) or not isinstance(replay.get("actions"), list):
            ctx.bad("expected a 'replayChatItemAction' with 'actions'", record=index)
            continue
        for inner in replay["actions"]:
            yield None, index, (replay.get("videoOffsetTimeMsec"), inner)


def _parse_action(ctx: ReadContext, offset_msec: Any, action: Any) -> ChatMessage | None:
    item = get_field(action, "addChatItemAction", "item", kind=dict, default=None)
    if item is None:
        ctx.drop("not_a_message")
        return None
    if "liveChatPlaceholderItemRenderer" in item:
        ctx.drop("placeholder")
        return None
    name = next((name for name in _RENDERERS_WITH_TEXT if name in item), None)
    if name is None:
        ctx.drop("not_a_message")
        return None
    renderer = get_field(item, name, kind=dict)
    runs = get_field(renderer, "message", "runs", kind=list, default=None)
    if runs is None:
        ctx.drop("no_text")
        return None
    if offset_msec is None:
        raise BadRecord("'videoOffsetTimeMsec' is missing")
    time = to_seconds(offset_msec, "videoOffsetTimeMsec") / 1000
    text, emotes = _runs_to_text(runs)
    author = get_field(renderer, "authorName", "simpleText", kind=str, default="")
    source = get_field(renderer, "id", kind=str, default="")
    return make_message(time, author, text, emotes, source)


def _runs_to_text(runs: list) -> tuple[str, list[Emote]]:
    pieces: list[str] = []
    emotes: list[Emote] = []
    offset = 0
    for run in runs:
        if isinstance(run, dict) and "text" in run:
            piece = get_field(run, "text", kind=str)
        elif isinstance(run, dict) and "emoji" in run:
            emoji = get_field(run, "emoji", kind=dict)
            emoji_id = get_field(emoji, "emojiId", kind=str, default=None)
            shortcuts = get_field(emoji, "shortcuts", kind=list, default=[])
            # A custom channel emoji has an opaque id: show its ":shortcut:". A standard emoji's id is the emoji.
            if emoji.get("isCustomEmoji") and shortcuts and isinstance(shortcuts[0], str):
                piece = shortcuts[0]
            elif emoji_id:
                piece = emoji_id
            else:
                raise BadRecord("an emoji run has neither an 'emojiId' nor a shortcut")
            if piece:
                emotes.append(Emote(piece, offset, offset + len(piece), emoji_id))
        else:
            raise BadRecord("a message run is neither text nor emoji")
        pieces.append(piece)
        offset += len(piece)
    return "".join(pieces), emotes
