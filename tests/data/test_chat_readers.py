"""Chat-log readers: real files, exact-format fixtures, detection, errors, filters, writers and streaming."""

from __future__ import annotations

import json
import pickle
from datetime import datetime, timezone
from pathlib import Path

import pytest

from hf_livechat.data.chat import (
    ChatFilters,
    ChatFormatError,
    ChatMessage,
    ChatStats,
    Emote,
    advanced_danmaku_text,
    detect_chat_format,
    read_chat,
    write_bilibili_xml,
    write_irc_log,
    write_twitch_json,
)

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def shared_file(relative: str) -> Path:
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"shared sample {relative} is not available")
    return path


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def without_source(messages):
    return [ChatMessage(m.time, m.author, m.text, m.emotes) for m in messages]


# --------------------------------------------------------------------------------------------------------------
# Real files from /work/shared/data
# --------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("relative", "expected_format", "count", "first_time", "last_time"),
    [
        ("twitch_vod_chat/1087079172.json", "twitch-json", 3090, 0.0, 2922.0),
        ("chat_downloader/zVCs9Cug_qM.json", "chat-downloader", 10, -5.0, -3.0),
        ("chat_downloader/youtube_premiered_video_messages.json", "chat-downloader", 7460, 0.0, 858.0),
        # 49 replay actions: 47 text + 1 paid message kept, 1 placeholder left out
        ("youtube_live_chat/chatreplay.json", "youtube-live-chat", 48, 101.308, 3747.045),
        # every mode-7 danmaku's text is recovered, so all <d> elements survive
        ("bilibili_danmaku/2170097.xml", "bilibili-xml", 973, 0.0, 245.536),
        ("bilibili_danmaku/1600157973.xml", "bilibili-xml", 600, 0.0, 113.494),
        ("bilibili_danmaku/371495955.xml", "bilibili-xml", 9600, 0.0, 3688.477),
        ("bilibili_danmaku/18678311.xml", "bilibili-xml", 5, 17.234, 84.847),
    ],
)
def test_real_files_parse_with_documented_counts(relative, expected_format, count, first_time, last_time):
    path = shared_file(relative)
    assert detect_chat_format(path) == expected_format
    stats = ChatStats()
    messages = list(read_chat(path, stats=stats))
    assert len(messages) == count == stats.read == stats.kept
    assert stats.skipped == 0
    assert messages[0].time == first_time and messages[-1].time == last_time
    assert all(a.time <= b.time for a, b in zip(messages, messages[1:], strict=False))
    for message in messages:
        assert all(message.text[e.start : e.end] == e.name for e in message.emotes)


def test_twitch_vod_chat_authors_and_emotes():
    messages = list(read_chat(shared_file("twitch_vod_chat/1087079172.json"), sort=False))
    first = messages[0]
    assert (first.author, first.text, first.source) == ("DunkoPop", "<3", "9FTR2m3UkRaSkQ")
    assert first.emotes == (Emote("<3", 0, 2, "555555584"),)
    third_party = [e for m in messages for e in m.emotes if e.id.endswith("_TK")]
    assert Emote("lionBaby_TK", 0, 11, "1573421_TK") in third_party
    # One comment's `emoticons` range (4-5 in "no :)") disagrees with its fragments, which carry no emote: the
    # fragments win, so no span points past the text.
    assert any(m.text == "no :)" and not m.emotes for m in messages)


def test_chat_downloader_both_schemas_give_author_names():
    current = list(read_chat(shared_file("chat_downloader/zVCs9Cug_qM.json")))
    assert [m.author for m in current[:2]] == ["Zeze", "Qwdelete Delete"]
    assert current[0].text == "Dream" and current[0].source.startswith("CjsKGkNJYmtsb1Rf")
    old = list(read_chat(shared_file("chat_downloader/youtube_premiered_video_messages.json")))
    assert (old[0].author, old[0].text) == ("Zachary Schmitz", "Dream")


def test_youtube_innertube_response_keeps_paid_text_and_counts_placeholder():
    stats = ChatStats()
    messages = list(read_chat(shared_file("youtube_live_chat/chatreplay.json"), stats=stats))
    assert stats.dropped == {"placeholder": 1}
    paid = [(m.time, m.text) for m in messages if m.author == "Svatopluk Čech"]
    assert paid == [(3269.119, "Hello from Czech Republic"), (3747.045, "because everybody love good music")]
    assert messages[0].author == "だにょぉぉーん Frisk" and messages[0].text == "や"


def test_bilibili_advanced_danmaku_text_is_recovered_even_when_truncated():
    messages = list(read_chat(shared_file("bilibili_danmaku/2170097.xml")))
    by_source = {m.source: m for m in messages}
    # p="234.50700,7,..." holds a 300-character JSON array cut off inside its path data.
    truncated = by_source["578031247"]
    assert (truncated.time, truncated.text, truncated.author) == (234.507, "我的爱人 不要哭", "e1335fdd")
    assert not any(m.text.startswith("[") for m in messages)


# --------------------------------------------------------------------------------------------------------------
# Exact-format fixtures
# --------------------------------------------------------------------------------------------------------------
TWITCH_DOWNLOADER = {
    "FileInfo": {"Version": {"Major": 1, "Minor": 4, "Patch": 0}},
    "streamer": {"name": "Northernlion", "id": 14371185},
    "video": {"title": "Fall Guys", "id": "1087079172", "start": 0, "end": 2938, "length": 2938},
    "comments": [
        {
            "_id": "b",
            "content_offset_seconds": 12.5,
            "commenter": {"display_name": "Viewer_Two", "name": "viewer_two", "_id": "2"},
            "message": {
                "body": "hi Kappa there Kappa",
                "fragments": [
                    {"text": "hi ", "emoticon": None},
                    {"text": "Kappa", "emoticon": {"emoticon_id": "25"}},
                    {"text": " there ", "emoticon": None},
                    {"text": "Kappa", "emoticon": {"emoticon_id": "25"}},
                ],
                "emoticons": [{"_id": "25", "begin": 3, "end": 7}, {"_id": "25", "begin": 15, "end": 19}],
            },
        },
        {
            "_id": "a",
            "content_offset_seconds": 3,
            "commenter": {"display_name": "", "name": "first_login"},
            "message": {"body": "first", "fragments": [{"text": "first", "emoticon": None}]},
        },
    ],
    "embeddedData": {"firstParty": [{"id": "25", "data": "iVBORw0KGgo="}]},
}


def test_twitch_downloader_layout(tmp_path):
    path = write(tmp_path, "chat.json", json.dumps(TWITCH_DOWNLOADER, indent=2))
    messages = list(read_chat(path))
    assert messages == [
        ChatMessage(3.0, "first_login", "first", (), "a"),
        ChatMessage(
            12.5, "Viewer_Two", "hi Kappa there Kappa", (Emote("Kappa", 3, 8, "25"), Emote("Kappa", 15, 20, "25")), "b"
        ),
    ]
    assert [m.source for m in read_chat(path, sort=False)] == ["b", "a"]


def test_twitch_comments_as_bare_array_and_emoticon_ranges_without_fragments(tmp_path):
    comment = {
        "content_offset_seconds": 1,
        "commenter": {"display_name": "A"},
        "message": {"body": "ab LUL", "emoticons": [{"_id": "425618", "begin": 3, "end": 5}]},
    }
    path = write(tmp_path, "comments.json", json.dumps([comment]))
    assert detect_chat_format(path) == "twitch-json"
    [message] = read_chat(path)
    assert message.emotes == (Emote("LUL", 3, 6, "425618"),)


def test_plain_irc_log_times_relative_to_first_message_with_midnight_rollover(tmp_path):
    path = write(
        tmp_path, "log.txt", "[23:59:58] <Alice> hello chat\n\n[23:59:59] Bob: colon form\n[0:00:03] <Dave> next day\n"
    )
    messages = list(read_chat(path))
    assert [(m.time, m.author, m.text) for m in messages] == [
        (0.0, "Alice", "hello chat"),
        (1.0, "Bob", "colon form"),
        (5.0, "Dave", "next day"),
    ]
    assert messages[0].source == "log.txt:1" and messages[2].source == "log.txt:4"


def test_plain_irc_log_with_dates_and_start_time(tmp_path):
    path = write(tmp_path, "log.txt", "[2021-07-15 02:01:48] <A> one\n2021-07-15 [02:01:50.25] <B> two\n")
    start = datetime(2021, 7, 15, 2, 0, 0, tzinfo=timezone.utc)
    assert [m.time for m in read_chat(path, start_time=start)] == [108.0, 110.25]
    assert [m.time for m in read_chat(path)] == [0.0, 2.25]
    clock_log = write(tmp_path, "clock.txt", "[1:00:05] <A> offsets as written\n")
    assert [m.time for m in read_chat(clock_log, start_time=0)] == [3605.0]


TAGGED_IRC = (
    ":tmi.twitch.tv 001 justinfan123 :Welcome, GLHF!\n"
    ":justinfan123!justinfan123@justinfan123.tmi.twitch.tv JOIN #northernlion\n"
    "@badge-info=;badges=;color=#FF0000;display-name=Dunko\\sPop;emotes=25:0-4,12-16/1902:6-10;id=m1;"
    "tmi-sent-ts=1626314508745;user-id=1 :dunkopop!dunkopop@dunkopop.tmi.twitch.tv PRIVMSG #northernlion "
    ":Kappa Keepo Kappa\n"
    "PING :tmi.twitch.tv\n"
    "@display-name=;emotes=;id=m2;tmi-sent-ts=1626314510000 :lurker!lurker@lurker.tmi.twitch.tv PRIVMSG #nl "
    ":\x01ACTION waves at @Dunko\x01\n"
    "@emotes=;id=m3;tmi-sent-ts=1626314509000 :x!x@x.tmi.twitch.tv USERNOTICE #nl :resub\n"
)


def test_tagged_irc_privmsg_lines(tmp_path):
    stats = ChatStats()
    path = write(tmp_path, "twitch.log", TAGGED_IRC)
    assert detect_chat_format(path) == "twitch-irc"
    messages = list(read_chat(path, stats=stats))
    assert messages == [
        ChatMessage(
            0.0,
            "Dunko Pop",
            "Kappa Keepo Kappa",
            (Emote("Kappa", 0, 5, "25"), Emote("Keepo", 6, 11, "1902"), Emote("Kappa", 12, 17, "25")),
            "m1",
        ),
        ChatMessage(1.255, "lurker", "waves at @Dunko", (), "m2"),
    ]
    assert stats.dropped["not_a_message"] == 4  # 001, JOIN, PING, USERNOTICE
    start = datetime(2021, 7, 15, 2, 1, 48, tzinfo=timezone.utc)
    assert [m.time for m in read_chat(path, start_time=start)] == [0.745, 2.0]
    assert [m.time for m in read_chat(path, start_time=1626314500)] == [8.745, 10.0]


YT_DLP_LINES = [
    {
        "replayChatItemAction": {
            "videoOffsetTimeMsec": "5000",
            "actions": [
                {
                    "addChatItemAction": {
                        "item": {
                            "liveChatTextMessageRenderer": {
                                "id": "y1",
                                "authorName": {"simpleText": "Ame"},
                                "message": {
                                    "runs": [
                                        {"text": "nice "},
                                        {"emoji": {"emojiId": "😂", "shortcuts": [":joy:"], "image": {}}},
                                        {"text": " "},
                                        {
                                            "emoji": {
                                                "emojiId": "UCx/abc",
                                                "shortcuts": [":_hololiveYay:"],
                                                "isCustomEmoji": True,
                                            }
                                        },
                                    ]
                                },
                            }
                        }
                    }
                }
            ],
        }
    },
    {
        "replayChatItemAction": {
            "videoOffsetTimeMsec": "2500",
            "actions": [
                {
                    "addChatItemAction": {
                        "item": {
                            "liveChatPaidMessageRenderer": {
                                "id": "y2",
                                "authorName": {"simpleText": "Rich"},
                                "purchaseAmountText": {"simpleText": "$5.00"},
                                "message": {"runs": [{"text": "take my money"}]},
                            }
                        }
                    }
                },
                {
                    "addChatItemAction": {
                        "item": {"liveChatPaidMessageRenderer": {"id": "y3", "authorName": {"simpleText": "Q"}}}
                    }
                },
            ],
        }
    },
    {
        "replayChatItemAction": {
            "videoOffsetTimeMsec": "2600",
            "actions": [
                {"addChatItemAction": {"item": {"liveChatPlaceholderItemRenderer": {"id": "y4"}}}},
                {"addLiveChatTickerItemAction": {"item": {}}},
            ],
        }
    },
]


def test_yt_dlp_live_chat_json_lines(tmp_path):
    path = write(
        tmp_path, "video.live_chat.json", "\n".join(json.dumps(line, ensure_ascii=False) for line in YT_DLP_LINES)
    )
    assert detect_chat_format(path) == "youtube-live-chat"
    stats = ChatStats()
    messages = list(read_chat(path, stats=stats))
    assert messages == [
        ChatMessage(2.5, "Rich", "take my money", (), "y2"),
        ChatMessage(
            5.0,
            "Ame",
            "nice 😂 :_hololiveYay:",
            (Emote("😂", 5, 6, "😂"), Emote(":_hololiveYay:", 7, 21, "UCx/abc")),
            "y1",
        ),
    ]
    assert stats.dropped == {"no_text": 1, "placeholder": 1, "not_a_message": 1}


BILIBILI = (
    '<?xml version="1.0" encoding="UTF-8"?><i><chatserver>chat.bilibili.com</chatserver><chatid>1</chatid>'
    '<d p="20.5,1,25,16777215,1408709338,0,aa,2">second</d>'
    '<d p="3.25,5,25,16777215,1408709338,0,bb,1">&lt;first&gt; &amp;</d>'  # classic 8 fields
    '<d p="9,7,25,0,1408961178,0,cc,3,8">[449,425,"1-1",3,"advanced",0,0]</d>'
    '<d p="10,7,25,0,1408961178,0,cc,4,8">not json</d>'
    '<d p="11,8,25,0,1408961178,0,dd,5,8">function(){}</d>'
    "</i>"
)


def test_bilibili_modes_and_order(tmp_path):
    stats = ChatStats()
    path = write(tmp_path, "danmaku.xml", BILIBILI)
    assert list(read_chat(path, stats=stats)) == [
        ChatMessage(3.25, "bb", "<first> &", (), "1"),
        ChatMessage(9.0, "cc", "advanced", (), "3"),
        ChatMessage(20.5, "aa", "second", (), "2"),
    ]
    assert stats.dropped == {"advanced_unreadable": 1, "script_danmaku": 1}
    assert advanced_danmaku_text('[1,2,"a",3,"cut') is None
    assert advanced_danmaku_text('[1,2,"a",3,"kept", "cut') == "kept"


def test_chat_downloader_json_lines_and_emote_positions(tmp_path):
    lines = [
        {
            "author": {"name": "A"},
            "message": ":wave: hi :wave:",
            "time_in_seconds": 1.5,
            "message_id": "c1",
            "emotes": [{"id": "e1", "name": ":wave:"}],
        },
        {"author": "B", "message_type": "membership_item", "time_in_seconds": 2},
    ]
    path = write(tmp_path, "cd.jsonl", "\n".join(json.dumps(line) for line in lines))
    assert detect_chat_format(path) == "chat-downloader"
    stats = ChatStats()
    [message] = read_chat(path, stats=stats)
    assert message.emotes == (Emote(":wave:", 0, 6, "e1"), Emote(":wave:", 10, 16, "e1"))
    assert stats.dropped == {"no_text": 1}


# --------------------------------------------------------------------------------------------------------------
# Format detection
# --------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("chat.json", "[00:00:01] <a> irc despite the name\n", "twitch-irc"),
        ("chat.txt", BILIBILI, "bilibili-xml"),
        ("danmaku.xml", json.dumps(YT_DLP_LINES[0]) + "\n", "youtube-live-chat"),
        ("chat.log", json.dumps(TWITCH_DOWNLOADER), "twitch-json"),
        ("comments.xml", json.dumps([{"message": "hi", "time_in_seconds": 0, "author": "a"}]), "chat-downloader"),
        ("irc.json", TAGGED_IRC.split("\n", 2)[2], "twitch-irc"),
    ],
)
def test_detection_reads_content_not_extension(tmp_path, name, content, expected):
    path = write(tmp_path, name, content)
    assert detect_chat_format(path) == expected
    assert list(read_chat(path))


def test_undetectable_content_names_the_file(tmp_path):
    path = write(tmp_path, "notes.json", "just some prose\n")
    with pytest.raises(ChatFormatError, match="notes.json.*unrecognised chat log format"):
        read_chat(path)


def test_format_argument_overrides_detection(tmp_path):
    path = write(tmp_path, "x.txt", "[00:00:01] <a> hi\n")
    with pytest.raises(ChatFormatError, match="x.txt"):
        list(read_chat(path, format="bilibili-xml"))
    with pytest.raises(ValueError, match="unknown chat format"):
        read_chat(path, format="srt")
    with pytest.raises(ValueError, match="start_time applies to 'twitch-irc'"):
        read_chat(write(tmp_path, "d.xml", BILIBILI), start_time=0)


# --------------------------------------------------------------------------------------------------------------
# Errors name the file and where; errors="skip" counts
# --------------------------------------------------------------------------------------------------------------
def _twitch_with_bad_third_comment() -> str:
    good = {"content_offset_seconds": 1, "commenter": {"display_name": "a"}, "message": {"body": "ok"}}
    bad = {"content_offset_seconds": "soon", "commenter": {"display_name": "b"}, "message": {"body": "x"}}
    return json.dumps({"video": {}, "comments": [good, good, bad, good]}, indent=1)


def test_bad_json_record_names_file_line_and_record(tmp_path):
    path = write(tmp_path, "chat.json", _twitch_with_bad_third_comment())
    with pytest.raises(ChatFormatError) as raised:
        list(read_chat(path))
    error = raised.value
    assert error.record == 2 and error.path.endswith("chat.json")
    assert f"chat.json, line {error.line} (record 2): 'content_offset_seconds' is not a number" in str(error)
    lines = path.read_text().splitlines()
    assert lines[error.line - 1].strip() == "{" and '"soon"' in lines[error.line]  # the line the record starts on

    stats = ChatStats()
    assert [m.text for m in read_chat(path, errors="skip", stats=stats)] == ["ok", "ok", "ok"]
    assert stats.skipped == 1 and "record 2" in stats.errors[0]


def test_truncated_json_raises_or_keeps_what_was_read(tmp_path):
    text = _twitch_with_bad_third_comment().replace('"soon"', "4")
    path = write(tmp_path, "cut.json", text[: text.rindex('"message"')])
    with pytest.raises(ChatFormatError, match=r"cut\.json, line \d+"):
        list(read_chat(path))
    stats = ChatStats()
    assert len(list(read_chat(path, errors="skip", stats=stats))) == 3
    assert stats.skipped == 1


def test_bad_irc_line_names_its_line(tmp_path):
    path = write(tmp_path, "log.txt", "[00:00:01] <a> ok\n[00:00:02] <b> ok\nthis is not chat\n[00:00:61] <c> bad\n")
    with pytest.raises(ChatFormatError, match=r"log\.txt, line 3: expected"):
        list(read_chat(path))
    stats = ChatStats()
    assert len(list(read_chat(path, errors="skip", stats=stats))) == 2
    assert stats.skipped == 2 and "line 4" in stats.errors[1]


def test_bad_danmaku_names_record_and_broken_xml_names_line(tmp_path):
    path = write(tmp_path, "d.xml", BILIBILI.replace('p="20.5,1,25', 'p="20.5,one,25'))
    with pytest.raises(ChatFormatError, match=r"d\.xml, record 0: 'p' has a bad mode"):
        list(read_chat(path))
    broken = write(tmp_path, "broken.xml", BILIBILI.replace("</d>", "</x>", 2).replace("><d ", ">\n<d "))
    with pytest.raises(ChatFormatError, match=r"broken\.xml, line \d+: invalid XML"):
        list(read_chat(broken))


def test_bad_youtube_line_is_skipped_and_counted(tmp_path):
    lines = [json.dumps(YT_DLP_LINES[0]), '{"replayChatItemAction": {"actions": [', json.dumps(YT_DLP_LINES[1])]
    path = write(tmp_path, "live_chat.json", "\n".join(lines))
    with pytest.raises(ChatFormatError, match=r"live_chat\.json, line 2: invalid JSON"):
        list(read_chat(path))
    stats = ChatStats()
    assert len(list(read_chat(path, errors="skip", stats=stats))) == 2
    assert stats.skipped == 1


def test_chat_format_error_survives_pickling():
    error = pickle.loads(pickle.dumps(ChatFormatError("a.json", "broken", line=3, record=1)))
    assert (str(error), error.line, error.record) == ("a.json, line 3 (record 1): broken", 3, 1)


# --------------------------------------------------------------------------------------------------------------
# Filters
# --------------------------------------------------------------------------------------------------------------
def _filter(messages, filters=None):
    stats = ChatStats()
    kept = list((filters or ChatFilters()).apply(messages, stats))
    return kept, stats


def test_mentions_are_replaced_and_emote_spans_shift():
    message = ChatMessage(
        0, "a", "@NorthernLion Kappa hi @x_y LUL", (Emote("Kappa", 14, 19, "25"), Emote("LUL", 28, 31))
    )
    [kept], _ = _filter([message])
    assert kept.text == "@user Kappa hi @user LUL"
    assert [kept.text[e.start : e.end] for e in kept.emotes] == ["Kappa", "LUL"]
    assert kept.emotes == (Emote("Kappa", 6, 11, "25"), Emote("LUL", 21, 24))
    [unchanged], _ = _filter([ChatMessage(0, "a", "mail me@example")])
    assert unchanged.text == "mail me@example"


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (ChatMessage(0, "a", "   "), "empty"),
        (ChatMessage(0, "a", "!uptime"), "command"),
        (ChatMessage(0, "NightBot", "follow the rules"), "bot"),
        (ChatMessage(0, "StreamElements", "hi"), "bot"),
        (ChatMessage(0, "a", "clip: https://clips.twitch.tv/abc"), "url"),
        (ChatMessage(0, "a", "go to www.example.org now"), "url"),
        (ChatMessage(0, "a", "youtu.be/dQw4w9WgXcQ"), "url"),
    ],
)
def test_filters_drop_with_a_counted_reason(message, reason):
    kept, stats = _filter([message])
    assert kept == [] and stats.dropped == {reason: 1}
    assert _filter([message], ChatFilters.keep_all())[0] == [message]


def test_duplicates_within_the_window_per_author():
    messages = [
        ChatMessage(0, "a", "spam"),
        ChatMessage(1, "b", "spam"),
        ChatMessage(5, "a", "spam"),
        ChatMessage(20, "a", "spam"),
        ChatMessage(21, "a", "other"),
        ChatMessage(22, "a", "spam"),
    ]
    kept, stats = _filter(messages, ChatFilters(drop_duplicates=10))
    assert [(m.time, m.author) for m in kept] == [(0, "a"), (1, "b"), (20, "a"), (21, "a"), (22, "a")]
    assert stats.dropped == {"duplicate": 1} and stats.kept == 5
    assert len(_filter(messages, ChatFilters(drop_duplicates=None))[0]) == 6


def test_custom_bot_list_and_read_chat_summary(tmp_path):
    path = write(tmp_path, "log.txt", "[00:00:01] <MyBot> beep\n[00:00:02] <a> !cmd\n[00:00:03] <a> hi @Bob\n")
    stats = ChatStats()
    messages = list(read_chat(path, filters=ChatFilters(drop_bots={"mybot"}), stats=stats))
    assert [m.text for m in messages] == ["hi @user"]
    assert stats.summary() == "read 3, kept 1, dropped 2 (bot 1, command 1), skipped 0 malformed"


# --------------------------------------------------------------------------------------------------------------
# Writers round-trip
# --------------------------------------------------------------------------------------------------------------
MESSAGES = [
    ChatMessage(0.0, "Dunko Pop", "hi Kappa there", (Emote("Kappa", 3, 8, "25"),), "m0"),
    ChatMessage(1.25, "b", "unknown emote :) ok", (Emote(":)", 14, 16, None),), "m1"),
    ChatMessage(2.5, "c;d\\e", " leading space and ; tab\t", (), "m2"),
]


def test_twitch_json_round_trip(tmp_path):
    path = tmp_path / "out.json"
    assert write_twitch_json(MESSAGES, path, video_id="123", streamer="nl") == 3
    assert list(read_chat(path)) == MESSAGES
    header = json.loads(path.read_text())
    assert header["streamer"]["name"] == "nl" and header["video"]["id"] == "123"
    assert header["comments"][0]["message"]["emoticons"] == [{"_id": "25", "begin": 3, "end": 7}]


def test_irc_round_trip(tmp_path):
    path = tmp_path / "out.log"
    start = datetime(2022, 5, 1, 12, 0, tzinfo=timezone.utc)
    assert write_irc_log(MESSAGES, path, start_time=start) == 3
    assert list(read_chat(path, start_time=start)) == MESSAGES
    with pytest.raises(ValueError, match="line break"):
        write_irc_log([ChatMessage(0, "a", "two\nlines")], tmp_path / "bad.log")


def test_bilibili_round_trip(tmp_path):
    path = tmp_path / "out.xml"
    plain = [ChatMessage(m.time, m.author.replace(";", ""), m.text + "\r<&>", (), m.source) for m in MESSAGES]
    assert write_bilibili_xml(plain, path) == 3
    assert list(read_chat(path)) == plain
    with pytest.raises(ValueError, match="author"):
        write_bilibili_xml([ChatMessage(0, "a,b", "x")], tmp_path / "bad.xml")


# --------------------------------------------------------------------------------------------------------------
# Streaming
# --------------------------------------------------------------------------------------------------------------
def _many(count: int) -> list[ChatMessage]:
    return [
        ChatMessage(i * 0.5, f"user{i % 97}", f"message number {i} " + "x" * 40, (), f"id{i}") for i in range(count)
    ]


@pytest.mark.parametrize(
    ("writer", "suffix"), [(write_twitch_json, ".json"), (write_irc_log, ".log"), (write_bilibili_xml, ".xml")]
)
def test_first_message_comes_before_the_file_is_read(tmp_path, writer, suffix):
    path = tmp_path / f"big{suffix}"
    writer(_many(30_000), path)
    # Damage the end, far past the first read buffer: cut the last record short and add garbage.
    path.write_bytes(path.read_bytes()[:-100] + b"\x00 garbage <<<{{{ \n" * 10)
    assert path.stat().st_size > 1_500_000
    stream = read_chat(path, sort=False)
    assert next(stream).text.startswith("message number 0 ")
    with pytest.raises(ChatFormatError):
        list(read_chat(path, sort=False))


def test_records_longer_than_the_read_buffer(tmp_path):
    long_text = "Kappa " + "y" * 200_000
    messages = [
        ChatMessage(1, "a", long_text, (Emote("Kappa", 0, 5, "25"),), "1"),
        ChatMessage(2, "b", "short", (), "2"),
    ]
    path = tmp_path / "long.json"
    write_twitch_json(messages, path)
    assert list(read_chat(path)) == messages
