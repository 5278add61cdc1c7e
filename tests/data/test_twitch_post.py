"""Posting into a Twitch channel as a bot, against a Twitch chat server on 127.0.0.1: the login, PRIVMSG lines, the
sliding-window rate limit (a fake clock), NOTICEs that stop posting, no echo of the bot's own messages, a dry run
that connects to nothing, and the token never shown."""

import logging
import threading
import time

import pytest
from irc_fixtures import BANNED_NOTICE, RATELIMIT_NOTICE, TwitchChatServer

from hf_livechat.data.chat.irc_client import Secret, TwitchChatClient, check_nick, parse_server, token_from_env
from hf_livechat.data.chat.twitch_post import ChatPoster, SlidingWindowLimit, parse_rate

TOKEN = "s3cr3t-t0ken"


def wait_for(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def reading(client):
    """Runs a reading client on a thread; returns the list its messages go to."""
    got = []
    threading.Thread(target=lambda: [got.append(m) for m in client], daemon=True).start()
    return got


def poster_for(server, token=TOKEN, **kwargs):
    poster = ChatPoster("#Chan", "HFBot", Secret(token), parse_server(server.address), backoff=(0.05, 0.2), **kwargs)
    return poster.start()


@pytest.fixture
def chat_server():
    """Starts Twitch chat servers on 127.0.0.1 (``chat_server(**kwargs)``) and closes them after the test."""
    started = []

    def start(**kwargs):
        started.append(TwitchChatServer(**kwargs))
        return started[-1]

    yield start
    for server in started:
        server.close()


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_the_bot_logs_in_and_posts_privmsg_lines_that_the_reader_does_not_take_as_chat(chat_server):
    server = chat_server(token=TOKEN)
    reader = TwitchChatClient("chan", parse_server(server.address), ignore_nicks=["HFBot"])
    chat = reading(reader)
    poster = poster_for(server)
    try:
        assert poster.wait_logged_in(5.0)
        assert wait_for(lambda: len(server.members()) == 2)  # the bot and the anonymous reader both joined
        assert poster.post("hello chat") == "posted"
        assert poster.post("  what a\nplay  ") == "posted"  # one line, trimmed
        assert wait_for(lambda: len(server.posted) == 2)
        server.chat("a viewer says hi", "viewer")
        assert wait_for(lambda: len(chat) == 1)
    finally:
        poster.close()
        reader.close()
    bot_lines = next(lines for lines in server.lines if "NICK hfbot" in lines)
    assert bot_lines[:4] == ["CAP REQ :twitch.tv/tags twitch.tv/commands", f"PASS oauth:{TOKEN}", "NICK hfbot", "JOIN #chan"]
    assert [line for _, nick, line in server.posted] == ["PRIVMSG #chan :hello chat", "PRIVMSG #chan :what a play"]
    assert {nick for _, nick, _ in server.posted} == {"hfbot"}
    # The channel echoed both bot messages to the reader, which skipped them: only the viewer is chat.
    echoed = [line for to, line in server.relayed if to.startswith("justinfan") and " :hfbot!hfbot@hfbot.tmi.twitch.tv PRIVMSG " in line]
    assert len(echoed) == 2
    assert [(m.author, m.text) for m in chat] == [("Viewer", "a viewer says hi")]
    assert reader.stats.ignored == 2 and poster.client.stats.sent == 2
    assert "2 posted" in poster.summary() and "20 per 30 s" in poster.summary()


def test_the_sliding_window_allows_at_most_the_limit_in_any_window():
    clock = FakeClock()
    limit = SlidingWindowLimit(20, 30.0, clock=clock)
    assert sum(limit.try_acquire() for _ in range(100)) == 20  # a burst: the first 20
    clock.now = 29.9
    assert not limit.try_acquire() and limit.wait_time() == pytest.approx(0.1)
    clock.now = 30.0
    assert sum(limit.try_acquire() for _ in range(100)) == 20
    # Sliding, not fixed windows: one a second for 20 s, then a slot frees each second 30 s after it was used.
    clock, allowed = FakeClock(), []
    limit = SlidingWindowLimit(20, 30.0, clock=clock)
    for step in range(0, 1200):  # 10 attempts a second for 120 s
        clock.now = step / 10
        if (step % 10 == 0 or clock.now >= 30) and limit.try_acquire():
            allowed.append(clock.now)
    assert allowed[:20] == [float(s) for s in range(20)] and allowed[20:23] == [30.0, 31.0, 32.0]
    for i, t in enumerate(allowed):  # never more than 20 in any 30 s, and no slot left unused
        assert sum(t - 30 < u <= t for u in allowed) <= 20
        if i >= 20:
            assert t == pytest.approx(allowed[i - 20] + 30.0)


def test_a_burst_of_100_comments_sends_20_and_later_ones_as_the_window_slides(chat_server):
    clock = FakeClock()
    server = chat_server(token=TOKEN)
    poster = poster_for(server, clock=clock)
    try:
        assert poster.wait_logged_in(5.0)
        results = [poster.post(f"comment {i}") for i in range(100)]  # all at t = 0
        assert results.count("posted") == 20 and results.count("rate-limited") == 80
        assert wait_for(lambda: len(server.posted) == 20)
        clock.now = 15.0
        assert poster.post("too soon") == "rate-limited"
        clock.now = 30.0
        assert [poster.post(f"later {i}") for i in range(25)].count("posted") == 20
        assert wait_for(lambda: len(server.posted) == 40)
        time.sleep(0.2)
    finally:
        poster.close()
    sent = [line.split(" :", 1)[1] for _, _, line in server.posted]
    assert sent == [f"comment {i}" for i in range(20)] + [f"later {i}" for i in range(20)]
    assert poster.counts["rate-limited"] == 80 + 1 + 5 and poster.posted == 40
    assert "86 over the rate limit (20 per 30 s)" in poster.summary()


@pytest.mark.parametrize("notice, after, words", [(RATELIMIT_NOTICE, 2, "msg_ratelimit"), (BANNED_NOTICE, 1, "msg_banned")])
def test_a_notice_stops_posting_with_a_clear_reason(chat_server, notice, after, words):
    server = chat_server(token=TOKEN, notices={after: notice})
    poster = poster_for(server)
    try:
        assert poster.wait_logged_in(5.0)
        results = [poster.post(f"comment {i}") for i in range(after)]
        assert wait_for(lambda: poster.stop_reason is not None)
        results += [poster.post("after the notice"), poster.post("and another")]
        time.sleep(0.2)
    finally:
        poster.close()
    assert results == ["posted"] * after + ["stopped", "stopped"]
    assert len(server.posted) == after
    assert words in poster.stop_reason and "refused a message" in poster.stop_reason
    assert notice.rsplit(" :", 1)[1] in poster.stop_reason  # Twitch's own words
    assert "posting stopped: the server refused a message" in poster.summary() and "2 after posting stopped" in poster.summary()


def test_a_refused_login_stops_posting_and_the_token_is_never_shown(chat_server, monkeypatch, capfd, caplog):
    wrong = "wr0ng-t0ken-9f8e7d"
    monkeypatch.setenv("TWITCH_OAUTH_TOKEN", f"oauth:{wrong}")
    caplog.set_level(logging.DEBUG)
    server = chat_server(token=TOKEN)
    token = token_from_env()
    assert token.reveal() == wrong
    poster = poster_for(server, token=wrong)
    texts = []
    try:
        assert not poster.wait_logged_in(5.0)
        texts.append(poster.post("hello"))
        try:
            poster.client.say("hello")
        except ConnectionError as error:
            texts.append(str(error))
        time.sleep(0.3)  # a refused login is not retried with the same token
    finally:
        poster.close()
    assert server.logins == [("hfbot", False)]
    assert "refused the login of 'hfbot' (Login authentication failed)" in poster.stop_reason
    assert "TWITCH_OAUTH_TOKEN" in poster.stop_reason and poster.client.login_error is not None
    assert texts[0] == "stopped"
    out, err = capfd.readouterr()
    shown = [out, err, caplog.text, repr(poster), repr(poster.client), repr(token), str(token), f"{token}", poster.summary(), *texts]
    shown += [repr(poster.client.login_error), repr(poster.client.stats), repr(poster.__dict__), repr(poster.client.__dict__)]
    assert "refused the login" in caplog.text
    for text in shown:
        assert wrong not in text
    # Errors about the variable name it, never its value.
    for bad in ("has two words", "with:colon"):
        monkeypatch.setenv("TWITCH_OAUTH_TOKEN", bad)
        with pytest.raises(ValueError, match="TWITCH_OAUTH_TOKEN") as error:
            token_from_env()
        assert bad not in str(error.value)
    monkeypatch.delenv("TWITCH_OAUTH_TOKEN")
    with pytest.raises(ValueError, match="TWITCH_OAUTH_TOKEN environment variable"):
        token_from_env()


def test_a_dry_run_connects_to_nothing_and_sends_nothing(chat_server):
    server = chat_server(token=TOKEN)
    clock = FakeClock()
    poster = ChatPoster("chan", None, None, parse_server(server.address), dry_run=True, rate=(3, 10.0), clock=clock).start()
    results = [poster.post(text) for text in ("one", "two", "two", "", "/ban someone", "three", "four")]
    poster.close()
    time.sleep(0.2)
    assert results == ["dry-run", "dry-run", "duplicate", "empty", "command", "dry-run", "rate-limited"]
    assert server.lines == [] and server.posted == [] and poster.client is None
    summary = poster.summary()
    assert "3 would be posted (dry run, nothing sent)" in summary and "1 over the rate limit (3 per 10 s)" in summary


def test_comments_twitch_would_refuse_are_not_sent():
    clock = FakeClock()
    poster = ChatPoster("chan", "bot", dry_run=True, clock=clock)
    assert poster.post("same thing") == "dry-run"
    assert poster.post("Same  thing") == "duplicate"
    clock.now = 31.0
    assert poster.post("same thing") == "dry-run"  # Twitch only refuses a repeat within 30 s
    assert poster.post(".timeout viewer 600") == "command" and poster.post("... no way") == "dry-run"


def test_bad_settings_are_clear_errors():
    assert parse_rate("20/30") == (20, 30.0) and parse_rate("100/30") == (100, 30.0)
    for bad in ("20", "0/30", "20/0", "a/b", "20/-1"):
        with pytest.raises(ValueError, match="rate"):
            parse_rate(bad)
    assert check_nick("HF_Bot") == "hf_bot"
    with pytest.raises(ValueError, match="login name"):
        check_nick("two words")
    with pytest.raises(ValueError, match="bot-nick"):
        ChatPoster("chan", None, Secret("x"))
    with pytest.raises(ValueError, match="TWITCH_OAUTH_TOKEN"):
        ChatPoster("chan", "bot", None)
    with pytest.raises(ValueError, match="nick and a token"):
        TwitchChatClient("chan", nick="bot")
