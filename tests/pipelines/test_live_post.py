"""`hf-livechat live --post twitch:CHANNEL`: the comments posted as a bot into a Twitch chat server started on
127.0.0.1, within the rate limit; a NOTICE stops posting while commenting goes on; a dry run sends nothing; the
bot's echoed messages are not fed back twice; the token never shows; the summary's comments per minute."""

import json
import logging
import re
import threading
import time

import pytest
from irc_fixtures import RATELIMIT_NOTICE, TwitchChatServer
from live_fixtures import write_live_media

from hf_livechat.cli import main
from hf_livechat.data.chat.irc_client import Secret
from hf_livechat.pipelines.live_session import LiveOptions, make_poster, run_live
from hf_livechat.pipelines.video_comment_generation import VideoCommentGenerationPipeline

TOKEN = "tok-5ecret-7a1b2c"


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """30 s of stream: windows at 20, 23, 25, 28 and 30 s with --interval 2.5 (a window ends on a frame)."""
    return write_live_media(tmp_path_factory.mktemp("post") / "rec.ts", seconds=30)


def viewers(server, stop, every=0.2):
    """A viewer chats in the channel until `stop` is set."""

    def talk():
        for i in range(1000):
            if stop.wait(every):
                return
            server.chat(f"viewer message {i}", f"viewer{i % 3}")

    thread = threading.Thread(target=talk, daemon=True)
    thread.start()
    return thread


def spy_contexts(monkeypatch):
    """Every window's chat context, as (author, text) pairs."""
    seen = []
    window_inputs = VideoCommentGenerationPipeline.window_inputs

    def spy(self, context, end, length):
        seen.append([(m.author, m.text) for m in context.comments_in(end - length, end)])
        return window_inputs(self, context, end, length)

    monkeypatch.setattr(VideoCommentGenerationPipeline, "window_inputs", spy)
    return seen


def test_live_posts_comments_within_the_rate_limit_without_echo_and_never_shows_the_token(model_dir, recording, tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("TWITCH_OAUTH_TOKEN", f"oauth:{TOKEN}")
    contexts = spy_contexts(monkeypatch)
    server = TwitchChatServer(token=TOKEN, echo=True)  # the channel relays the bot's messages to every reader
    stop = threading.Event()
    viewers(server, stop)
    out, log = tmp_path / "comments.jsonl", tmp_path / "live.log"
    argv = ["live", str(recording), "--model", str(model_dir), "--speed", "6", "--interval", "2.5", "--max-lag", "100"]
    argv += ["--chat", "twitch:chan", "--post", "twitch:chan", "--bot-nick", "HFBot", "--post-rate", "2/30", "--irc-server", server.address]
    argv += ["--out", str(out), "--log-file", str(log)]
    try:
        assert main(argv) == 0
    finally:
        stop.set()
        server.close()
    stdout, stderr = capfd.readouterr()
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["time"] for r in records] == [20.0, 23.0, 25.0, 28.0, 30.0]
    statuses = [r["posted"] for r in records]
    assert statuses.count("posted") == 2 and statuses.count("rate-limited") >= 2, statuses
    # What the server received: PASS and NICK, then one PRIVMSG per posted comment, in the PRIVMSG format.
    bot = next(lines for lines in server.lines if "NICK hfbot" in lines)
    assert f"PASS oauth:{TOKEN}" in bot and bot.index(f"PASS oauth:{TOKEN}") < bot.index("NICK hfbot") < bot.index("JOIN #chan")
    posted = [" ".join(r["comment"].split()) for r in records if r["posted"] == "posted"]
    assert [line for _, _, line in server.posted] == [f"PRIVMSG #chan :{text}" for text in posted]
    # The channel echoed the bot's messages to the reader, which skipped them; the model saw each comment once, as
    # its own fed-back comment, and the viewers' chat.
    assert sum(1 for to, line in server.relayed if to.startswith("justinfan") and ":hfbot!" in line) == 2
    assert all(author.casefold() != "hfbot" for context in contexts for author, _ in context)
    assert any(author.startswith("Viewer") for context in contexts for author, _ in context)
    for comment in (r["comment"] for r in records[:-1] if r["comment"]):
        assert max(sum(text == comment for _, text in context) for context in contexts) >= 1
    assert "2 of the bot's own skipped" in stdout
    assert "posting to #chan as hfbot (at most 2 per 30 s" in stdout and "not posted: over the rate limit" in stdout
    assert "posting to #chan: 2 posted; not posted: 3 over the rate limit (2 per 30 s)" in stdout
    # Comments per minute beside the chat's: 5 comments and 2 posts in 0.5 min of stream.
    assert "comments per minute of stream (0.5 min): 10.0 generated, 4.0 posted; chat " in stdout
    chat_rate = float(stdout.split("; chat ", 1)[1].split(" messages per minute")[0])
    assert chat_rate > 10
    text = log.read_text()
    assert "logged in as hfbot" in text
    for place in (stdout, stderr, out.read_text(), text):
        assert TOKEN not in place


def test_a_notice_stops_posting_while_commenting_goes_on(commenter, recording, tmp_path):
    server = TwitchChatServer(token=TOKEN, notices={1: RATELIMIT_NOTICE})
    printed = []
    options = LiveOptions(
        interval=2.5, speed=6.0, max_lag=100, generate_kwargs={"max_new_tokens": 4}, out=tmp_path / "c.jsonl",
        post="twitch:chan", bot_nick="hfbot", irc_server=server.address, post_token=Secret(TOKEN),
    )
    try:
        report = run_live(recording, commenter, options, echo=printed.append)
    finally:
        server.close()
    records = [json.loads(line) for line in (tmp_path / "c.jsonl").read_text().splitlines()]
    assert len(records) == 5 and report.stats.emitted == 5  # commenting went on
    statuses = [r["posted"] for r in records]
    first = statuses.index("posted")
    assert statuses[first + 1 :] == ["stopped"] * (4 - first), statuses
    assert len(server.posted) == 1
    stops = [line for line in printed if line.startswith("posting stopped:")]
    assert len(stops) == 1 and "msg_ratelimit" in stops[0] and "sending messages too quickly" in stops[0]
    assert stops[0].endswith("comments are still generated, not posted")
    assert "posting stopped: the server refused a message (msg_ratelimit" in report.summary()


def test_a_refused_login_stops_posting_and_the_token_never_shows(commenter, recording, tmp_path, monkeypatch, capfd, caplog):
    wrong = "wr0ng-5ecret-0d9c8b"
    monkeypatch.setenv("TWITCH_OAUTH_TOKEN", f"oauth:{wrong}")
    caplog.set_level(logging.DEBUG)
    server = TwitchChatServer(token=TOKEN)
    printed = []
    options = LiveOptions(
        interval=5, generate_kwargs={"max_new_tokens": 4}, out=tmp_path / "c.jsonl", chat="twitch:chan",
        irc_server=server.address, post="twitch:chan", bot_nick="hfbot",
    )
    try:
        report = run_live(recording, commenter, options, echo=printed.append)
    finally:
        server.close()
    records = [json.loads(line) for line in (tmp_path / "c.jsonl").read_text().splitlines()]
    assert len(records) == 3 and set(r["posted"] for r in records) <= {"offline", "stopped"}  # commenting went on
    assert server.posted == [] and ("hfbot", False) in server.logins
    assert any(line.startswith("posting stopped: the server refused the login of 'hfbot'") for line in printed)
    out, err = capfd.readouterr()
    shown = [out, err, caplog.text, "\n".join(printed), (tmp_path / "c.jsonl").read_text(), report.summary(), repr(options)]
    assert "TWITCH_OAUTH_TOKEN" in report.summary()
    for text in shown:
        assert wrong not in text


def test_a_dry_run_prints_what_it_would_send_and_sends_nothing(commenter, recording, tmp_path):
    server = TwitchChatServer(token=TOKEN)
    printed = []
    options = LiveOptions(
        interval=5, generate_kwargs={"max_new_tokens": 4}, chat="twitch:chan", irc_server=server.address,
        post="twitch:chan", dry_run=True,
    )
    try:
        report = run_live(recording, commenter, options, echo=printed.append)
        time.sleep(0.2)
    finally:
        server.close()
    sends = [line for line in printed if line.startswith("  would send: PRIVMSG #chan :")]
    assert len(sends) == report.posted == report.stats.emitted >= 1  # windows a loaded machine drops are not comments
    assert printed[0].startswith("dry run: each comment that would be posted to #chan is printed; nothing is sent")
    assert server.posted == [] and all(nick.startswith("justinfan") for nick, _ in server.logins)  # only the reader
    assert f"{report.posted} would be posted (dry run, nothing sent)" in report.summary()
    # every generated comment would be posted: the two rates are equal (the stream minutes depend on the frames the
    # machine kept up with)
    rate = re.search(r"comments per minute of stream \(([\d.]+) min\): ([\d.]+) generated, ([\d.]+) would be posted", report.summary())
    assert rate and float(rate[1]) > 0 and rate[2] == rate[3] and float(rate[2]) > 0


def test_without_post_nothing_is_posted_and_bad_settings_are_clear():
    assert make_poster(LiveOptions()) is None
    with pytest.raises(ValueError, match="--dry-run applies to --post"):
        make_poster(LiveOptions(dry_run=True))
    with pytest.raises(ValueError, match="twitch:CHANNEL"):
        make_poster(LiveOptions(post="irc:chan", bot_nick="bot"))
    with pytest.raises(ValueError, match="--bot-nick"):
        make_poster(LiveOptions(post="twitch:chan"))
    with pytest.raises(ValueError, match="N/SECONDS|MESSAGES/SECONDS"):
        make_poster(LiveOptions(post="twitch:chan", bot_nick="bot", post_rate="fast"))


def test_the_command_refuses_to_post_without_a_token(model_dir, recording, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("TWITCH_OAUTH_TOKEN", raising=False)
    argv = ["live", str(recording), "--model", str(model_dir), "--post", "twitch:chan", "--bot-nick", "bot", "--out", str(tmp_path / "c.jsonl")]
    assert main(argv) == 2
    assert "TWITCH_OAUTH_TOKEN environment variable" in capsys.readouterr().err
