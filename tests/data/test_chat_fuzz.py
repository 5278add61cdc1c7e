"""Property tests for the chat readers: writer -> reader round trips, and damaged files that must end in a
``ChatFormatError`` (or valid messages), never another exception. About 10,500 generated cases in all."""

from __future__ import annotations

import json
import math
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hf_livechat.data.chat import (
    ChatFormatError,
    ChatMessage,
    ChatStats,
    Emote,
    detect_chat_format,
    read_chat,
    write_bilibili_xml,
    write_irc_log,
    write_twitch_json,
)

ROUND_TRIP = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DAMAGE = settings(max_examples=1200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
IRC_START = datetime(2021, 7, 15, tzinfo=timezone.utc)

# Lone surrogates are not text; each format then bans what it cannot carry (see the writers' docstrings).
ANY_CHARS = st.characters(exclude_categories=("Cs",))
IRC_CHARS = st.characters(exclude_categories=("Cs",), exclude_characters="\r\n\x00\x01")
XML_CHARS = st.characters(exclude_categories=("Cs", "Cc"), exclude_characters="\ufffe\uffff") | st.sampled_from(
    "\t\n\r"
)
EMOTE_IDS = st.none() | st.text("abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=8)


@pytest.fixture(scope="module")
def workdir():
    # Thousands of small writes: a RAM-backed directory keeps them from dominating the run time.
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() and os.access(shm, os.W_OK) else None) as directory:
        yield Path(directory)


@st.composite
def chat_messages(draw, chars, times, authors=None, emotes=True):
    text = draw(st.text(chars, max_size=24))
    spans = []
    if emotes and text:
        cuts = sorted(draw(st.sets(st.integers(0, len(text)), max_size=6)))
        # consecutive cut pairs are the emote spans; an odd last cut opens none
        spans = [(a, b) for a, b in zip(cuts[::2], cuts[1::2], strict=False)]
    return ChatMessage(
        time=draw(times),
        author=draw(authors if authors is not None else st.text(chars, max_size=10)),
        text=text,
        emotes=tuple(Emote(text[a:b], a, b, draw(EMOTE_IDS)) for a, b in spans),
        source=draw(st.text("abcdef0123456789", max_size=8)),
    )


TWITCH_MESSAGES = chat_messages(ANY_CHARS, st.floats(-1e5, 1e7, allow_nan=False, allow_infinity=False))
IRC_MESSAGES = chat_messages(IRC_CHARS, st.integers(-(10**6), 10**9).map(lambda ms: ms / 1000))
BILIBILI_MESSAGES = chat_messages(
    XML_CHARS,
    st.integers(-(10**7), 10**10).map(lambda units: units / 100_000),
    authors=st.text(st.characters(exclude_categories=("Cs", "Cc"), exclude_characters=",\ufffe\uffff"), max_size=10),
    emotes=False,
)


def without_source(messages):
    return [ChatMessage(m.time, m.author, m.text, m.emotes) for m in messages]


@ROUND_TRIP
@given(messages=st.lists(TWITCH_MESSAGES, max_size=5))
# Message text that names another format's key must not change the detected format.
@example(messages=[ChatMessage(0.0, "", "replayChatItemAction")])
@example(messages=[ChatMessage(0.0, "time_in_seconds", '"addChatItemAction": {')])
def test_twitch_json_round_trip(workdir, messages):
    path = workdir / "round.json"
    write_twitch_json(messages, path, video_id="1", streamer="s")
    assert detect_chat_format(path) == "twitch-json"
    assert list(read_chat(path, sort=False)) == messages


@ROUND_TRIP
@given(messages=st.lists(IRC_MESSAGES, max_size=5))
def test_irc_round_trip(workdir, messages):
    path = workdir / "round.log"
    write_irc_log(messages, path, start_time=IRC_START)
    if messages:  # an empty log has nothing to detect a format from
        assert detect_chat_format(path) == "twitch-irc"
    read = read_chat(path, "twitch-irc", sort=False, start_time=IRC_START)
    assert without_source(read) == without_source(messages)


@ROUND_TRIP
@given(messages=st.lists(BILIBILI_MESSAGES, max_size=5))
def test_bilibili_round_trip(workdir, messages):
    path = workdir / "round.xml"
    write_bilibili_xml(messages, path)
    assert detect_chat_format(path) == "bilibili-xml"
    assert without_source(read_chat(path, sort=False)) == without_source(messages)


# --------------------------------------------------------------------------------------------------------------
# Damaged files
# --------------------------------------------------------------------------------------------------------------
def _yt_dlp_lines(messages: list[ChatMessage]) -> bytes:
    lines = []
    for message in messages:
        runs, cursor = [], 0
        for emote in message.emotes:
            runs += [
                {"text": message.text[cursor : emote.start]},
                {"emoji": {"emojiId": emote.name, "shortcuts": [f":{emote.id}:"]}},
            ]
            cursor = emote.end
        runs.append({"text": message.text[cursor:]})
        renderer = {"id": message.source, "authorName": {"simpleText": message.author}, "message": {"runs": runs}}
        action = {"addChatItemAction": {"item": {"liveChatTextMessageRenderer": renderer}}}
        replay = {"actions": [action], "videoOffsetTimeMsec": str(round(message.time * 1000))}
        lines.append(json.dumps({"replayChatItemAction": replay}, ensure_ascii=False))
    return "\n".join(lines).encode()


def _chat_downloader_array(messages: list[ChatMessage]) -> bytes:
    items = [
        {
            "author": {"name": m.author},
            "message": m.text,
            "time_in_seconds": m.time,
            "message_id": m.source,
            "emotes": [{"id": e.id, "name": e.name} for e in m.emotes],
        }
        for m in messages
    ]
    return json.dumps(items, indent=1, ensure_ascii=False).encode()


def _written(writer):
    def encode(messages: list[ChatMessage], workdir: Path) -> bytes:
        path = workdir / "source.tmp"
        writer(messages, path)
        return path.read_bytes()

    return encode


FORMATS = {
    "twitch-json": (_written(write_twitch_json), TWITCH_MESSAGES),
    "twitch-irc": (_written(write_irc_log), IRC_MESSAGES),
    "bilibili-xml": (_written(write_bilibili_xml), BILIBILI_MESSAGES),
    "youtube-live-chat": (lambda messages, _: _yt_dlp_lines(messages), TWITCH_MESSAGES),
    "chat-downloader": (lambda messages, _: _chat_downloader_array(messages), TWITCH_MESSAGES),
}


@st.composite
def damage(draw, data: bytes) -> bytes:
    """A few byte flips, a truncation, an insertion or a deletion."""
    kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
    position = draw(st.integers(0, max(len(data) - 1, 0)))
    if kind == "truncate":
        return data[:position]
    if kind == "insert":
        return data[:position] + draw(st.binary(min_size=1, max_size=8)) + data[position:]
    if kind == "delete":
        return data[:position] + data[position + draw(st.integers(1, 16)) :]
    damaged = bytearray(data)
    for _ in range(draw(st.integers(1, 3))):
        if damaged:
            damaged[draw(st.integers(0, len(damaged) - 1))] = draw(st.integers(0, 255))
    return bytes(damaged)


def _assert_valid(message: ChatMessage) -> None:
    assert isinstance(message.time, float) and math.isfinite(message.time)
    assert isinstance(message.author, str) and isinstance(message.text, str)
    for emote in message.emotes:
        assert 0 <= emote.start < emote.end <= len(message.text)
        assert message.text[emote.start : emote.end] == emote.name


@DAMAGE
@pytest.mark.parametrize("chat_format", sorted(FORMATS))
@given(data=st.data())
def test_damaged_files_raise_only_chat_format_error(workdir, chat_format, data):
    encode, messages = FORMATS[chat_format]
    original = encode(data.draw(st.lists(messages, min_size=1, max_size=4)), workdir)
    path = workdir / "damaged.chat"
    path.write_bytes(data.draw(damage(original)))

    try:
        detect_chat_format(path)
    except ChatFormatError:
        pass
    try:
        for message in read_chat(path, chat_format, sort=False):
            _assert_valid(message)
    except ChatFormatError as error:
        assert str(error).startswith(str(path))
    stats = ChatStats()
    for message in read_chat(path, chat_format, errors="skip", stats=stats):  # skipping never raises
        _assert_valid(message)
    assert stats.skipped == len(stats.errors) or len(stats.errors) == 20
