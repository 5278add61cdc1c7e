"""Bilibili danmaku XML (``comment.bilibili.com/<cid>.xml``)::

    <i><chatid>2170097</chatid>...<d p="238.217,1,25,16777215,1650905732,0,f22be95d,1038631579162865664,10">hi</d>

``p`` holds 8 fields (time in s, mode, font size, colour, send time, pool, user hash, row id) or 9 (plus weight).
Modes 1-6 are scrolling, top, bottom and reverse text danmaku and are read as they are. Mode 7 ("advanced"
positioned danmaku) carries a JSON array whose element 4 is the displayed text: that text is read. Bilibili cuts
stored text at a length limit, which can truncate the array after its text, so the array is decoded element by
element; one whose text cannot be recovered is counted as ``"advanced_unreadable"``. Modes 8 (code) and 9 (BAS)
are scripts, not comments, and are counted as ``"script_danmaku"``.

The file is streamed with ``iterparse``, each element cleared once read. Elements come in no particular time order.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from os import PathLike
from typing import Iterable, Iterator

from ._parsing import BadRecord, ReadContext, make_message, parse_records, to_seconds
from .errors import ChatFormatError
from .message import ChatMessage

_TEXT_MODES = frozenset({1, 2, 3, 4, 5, 6})
_ADVANCED_MODE = 7
_SCRIPT_MODES = frozenset({8, 9})
_ADVANCED_TEXT_INDEX = 4
_JSON = json.JSONDecoder()


def read_bilibili_xml(ctx: ReadContext) -> Iterator[ChatMessage]:
    yield from parse_records(ctx, _danmaku_elements(ctx), lambda record: _parse_danmaku(ctx, *record))


def _danmaku_elements(ctx: ReadContext) -> Iterator[tuple[None, int, tuple[str | None, str]]]:
    index = 0
    root = None
    try:
        for event, element in ET.iterparse(ctx.path, events=("start", "end")):
            if root is None:
                root = element
                if root.tag != "i":
                    raise ChatFormatError(ctx.path, f"the root element is <{root.tag}>, not Bilibili's <i>", line=1)
            if event == "end" and element.tag == "d":
                yield None, index, (element.get("p"), element.text or "")
                index += 1
                root.clear()  # drop the parsed elements so memory stays flat on long files
    except ET.ParseError as exc:
        line, column = exc.position
        raise ChatFormatError(ctx.path, f"invalid XML: {exc.msg} (column {column})", line=line) from None
    except (LookupError, UnicodeError) as exc:  # the XML declaration names an unknown or wrong encoding
        raise ChatFormatError(ctx.path, f"cannot decode the XML: {exc}") from None


def _parse_danmaku(ctx: ReadContext, p: str | None, text: str) -> ChatMessage | None:
    if p is None:
        raise BadRecord("<d> has no 'p' attribute")
    fields = p.split(",")
    if len(fields) < 8:
        raise BadRecord(f"'p' has {len(fields)} fields, expected 8 or 9: {p!r}")
    time = to_seconds(fields[0], "p.time")
    if not re.fullmatch(r"\d+", fields[1]):
        raise BadRecord(f"'p' has a bad mode: {fields[1]!r}")
    mode = int(fields[1])
    if mode in _SCRIPT_MODES:
        ctx.drop("script_danmaku")
        return None
    if mode == _ADVANCED_MODE:
        text = advanced_danmaku_text(text)
        if text is None:
            ctx.drop("advanced_unreadable")
            return None
    elif mode not in _TEXT_MODES:
        raise BadRecord(f"unknown danmaku mode {mode}")
    return make_message(time, fields[6], text, (), fields[7])


def advanced_danmaku_text(payload: str) -> str | None:
    """The displayed text of a mode-7 danmaku payload (element 4 of its JSON array), or ``None``.

    Elements are decoded one by one, so a payload cut short after the text still yields it.
    """
    position = _skip_space(payload, 0)
    if not payload.startswith("[", position):
        return None
    position += 1
    for index in range(_ADVANCED_TEXT_INDEX + 1):
        position = _skip_space(payload, position)
        if index:
            if not payload.startswith(",", position):
                return None
            position = _skip_space(payload, position + 1)
        try:
            value, position = _JSON.raw_decode(payload, position)
        except (ValueError, RecursionError):
            return None
    return value if isinstance(value, str) else None


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def write_bilibili_xml(messages: Iterable[ChatMessage], path: str | PathLike[str], *, cid: int = 0) -> int:
    """Write ``messages`` as Bilibili danmaku XML: plain scrolling danmaku (mode 1) with 9-field ``p`` attributes
    holding the time (5 decimals), the author as user hash and the source as row id.

    Danmaku have no emotes, so emotes are not written. Returns the number written. Raises ``ValueError`` when an
    author or source contains a comma (the ``p`` separator) or a text holds a character XML 1.0 cannot carry.
    """
    count = 0
    with open(path, "w", encoding="utf-8") as fp:
        fp.write(
            f'<?xml version="1.0" encoding="UTF-8"?><i><chatserver>chat.bilibili.com</chatserver>'
            f"<chatid>{int(cid)}</chatid><mission>0</mission><maxlimit>8000</maxlimit><state>0</state>"
            "<real_name>0</real_name><source>k-v</source>\n"
        )
        for count, message in enumerate(messages, start=1):
            source = message.source or str(count - 1)
            for name, value in (("author", message.author), ("source", source), ("text", message.text)):
                if _XML_INVALID.search(value) or (name != "text" and "," in value):
                    raise ValueError(f"message {count - 1}: its {name} {value!r} cannot be written to danmaku XML")
            p = f"{message.time:.5f},1,25,16777215,0,0,{message.author},{source},10"
            fp.write(f"<d p={_quote_attribute(p)}>{_escape_text(message.text)}</d>\n")
        fp.write("</i>\n")
    return count


_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _escape_text(text: str) -> str:
    # "\r" would be normalised to "\n" by any XML parser: write it as a character reference.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _quote_attribute(value: str) -> str:
    escaped = _escape_text(value).replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")
    return f'"{escaped}"'
