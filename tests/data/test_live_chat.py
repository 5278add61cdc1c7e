"""Live chat sources: the Twitch IRC client against a Twitch-dialect server on 127.0.0.1, a followed log, the clock."""

import socket
import threading
import time

import pytest
from irc_fixtures import SENT_MS, TwitchDialectServer, privmsg

from hf_livechat.data.chat import ChatFilters, ChatMessage, Emote, write_twitch_json
from hf_livechat.data.chat.follow import FollowedChatLog
from hf_livechat.data.chat.irc_client import MAX_LINE_BYTES, TwitchChatClient, parse_server
from hf_livechat.data.chat.sources import ChatFeed, IterableChatSource, LiveClock, open_chat_source


def collect(client, count, timeout=10.0):
    got = []
    thread = threading.Thread(target=lambda: [got.append(m) for m in client if len(got) < count or client.close()], daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    client.close()
    thread.join(2)
    return got


def test_irc_client_speaks_twitch_and_survives_reconnect_drop_and_bad_lines():
    server = TwitchDialectServer([
        [
            privmsg("hello Kappa world", "alice", 0, emotes="25:6-10"),
            "<PING>",
            "@tags-but-no-command",
            ":bob!bob@bob.tmi.twitch.tv PRIVMSG",
            "@badges=;tmi-sent-ts=notanumber :bob!bob@bob.tmi.twitch.tv PRIVMSG #chan :bad time",
            "@" + "x" * (MAX_LINE_BYTES + 10) + " :a!a@a PRIVMSG #chan :too long",
            privmsg("second", "bob", 1500),
            ":tmi.twitch.tv RECONNECT",
        ],
        [privmsg("after reconnect", "carol", 3000), "<DROP>"],
        [privmsg("after drop", "dave", 4000), privmsg("/me waves", "erin", 5000, emotes="")],
    ])
    client = TwitchChatClient("#Chan", parse_server(server.address), backoff=(0.05, 0.2))
    assert client.tls is False  # only Twitch's own server gets TLS by default
    messages = collect(client, 5)
    assert [m.text for m in messages] == ["hello Kappa world", "second", "after reconnect", "after drop", "/me waves"]
    first = messages[0]
    assert first.author == "Alice" and first.emotes == (Emote("Kappa", 6, 11, "25"),)
    assert first.badges == ("subscriber/12",)
    assert first.time == SENT_MS / 1000 and messages[1].time == pytest.approx(SENT_MS / 1000 + 1.5)
    assert client.clock == "wall"
    # Every connection logs in anonymously, asks for tags and joins the channel.
    assert len(server.received) == 3
    for lines in server.received:
        assert lines[0] == "CAP REQ :twitch.tv/tags twitch.tv/commands" and lines[1] == "PASS SCHMOOPIIE"
        assert lines[2].startswith("NICK justinfan") and lines[3] == "JOIN #chan"
    assert server.pongs == ["PONG :tmi.twitch.tv"]
    stats = client.stats
    assert (stats.reconnects, stats.drops, stats.pings, stats.oversize) == (1, 1, 1, 1)
    assert stats.malformed == 3 and "bad 'tmi-sent-ts'" in " ".join(stats.chat.errors)


def test_irc_client_backs_off_while_the_server_is_down():
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens: every connection is refused
    client = TwitchChatClient("chan", ("127.0.0.1", port), backoff=(0.05, 0.1))
    assert collect(client, 1, timeout=0.6) == []
    assert 3 <= client.stats.drops <= 12  # retried, but not in a busy loop


def test_bad_channel_and_server_specs_are_clear_errors():
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_server("localhost")
    with pytest.raises(ValueError, match="channel"):
        TwitchChatClient("two words")
    with pytest.raises(ValueError, match="twitch:CHANNEL"):
        open_chat_source("chat.log", irc_server="127.0.0.1:6667")
    with pytest.raises(FileNotFoundError, match="--follow"):
        open_chat_source("/nonexistent/chat.log")


def test_followed_irc_log_yields_lines_as_they_are_written(tmp_path):
    path = tmp_path / "live.log"
    log = FollowedChatLog(path, poll=0.02, idle_timeout=1.0)
    got = []
    thread = threading.Thread(target=lambda: got.extend(log), daemon=True)
    thread.start()
    time.sleep(0.1)
    with open(path, "w", encoding="utf-8") as fp:
        fp.write(privmsg("one", ms=0) + "\n")
        fp.flush()
        time.sleep(0.15)
        assert [m.text for m in got] == ["one"]
        fp.write("garbage line\n" + privmsg("two", ms=2000)[:40])  # the second line is still being written
        fp.flush()
        time.sleep(0.15)
        assert [m.text for m in got] == ["one"]
        fp.write(privmsg("two", ms=2000)[40:] + "\n")
    thread.join(3)
    assert [(m.text, m.time) for m in got] == [("one", 0.0), ("two", 2.0)]
    assert log.stats.skipped == 1 and not thread.is_alive()


def test_followed_json_log_is_reread_as_it_grows(tmp_path):
    path = tmp_path / "chat.json"
    messages = [ChatMessage(float(t), f"u{t}", f"message {t}") for t in range(6)]
    log = FollowedChatLog(path, poll=0.02, idle_timeout=0.5)
    got = []
    thread = threading.Thread(target=lambda: got.extend(log), daemon=True)
    thread.start()
    write_twitch_json(messages[:3], path)
    time.sleep(0.2)
    write_twitch_json(messages, path)
    thread.join(3)
    assert [m.text for m in got] == [m.text for m in messages]


def test_chat_feed_places_wall_clock_messages_on_the_stream_clock():
    clock = LiveClock()
    wall = [ChatMessage(1000.0, "a", "early"), ChatMessage(1012.5, "b", "later")]
    feed = ChatFeed(IterableChatSource(wall, clock="wall"), clock, filters=None).start()
    time.sleep(0.1)
    assert feed.drain() == []  # no frame yet: the clock has not started, the messages wait
    clock.start(stream_time=2.0, wall_time=1010.0)  # the frame at 2 s was decoded at Unix time 1010
    assert [(m.text, m.time) for m in feed.drain()] == [("early", -8.0), ("later", 4.5)]


def test_chat_feed_is_bounded_and_filters():
    spam = [ChatMessage(float(i), f"user{i}", f"message {i}") for i in range(50)] + [ChatMessage(60.0, "x", "!command")]
    feed = ChatFeed(IterableChatSource(spam), LiveClock(), filters=ChatFilters(), max_backlog=10).start()
    feed._thread.join(2)
    drained = feed.drain()
    assert len(drained) == 10 and feed.dropped == 40 and drained[-1].text == "message 49"
    assert sum(feed.stats.dropped.values()) == 1  # the command, by the LiveChat filters
