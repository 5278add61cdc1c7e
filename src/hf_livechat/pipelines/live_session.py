"""`hf-livechat live`: comment on a live stream as it plays, with its live chat and its live speech.

One loop ties the live parts together, all bounded:

    LiveStream (decoder thread) --frames--> LiveCommenter (this thread) --comments--> terminal, JSONL, overlay
          \\--audio--> LiveTranscriber (ASR thread) --segments--/
    chat source (ChatFeed thread) --messages--/

Stream time is the decoded video's clock from its first frame; chat that arrives on the wall clock (Twitch IRC) is
placed on it by the live clock (:class:`~hf_livechat.data.chat.sources.LiveClock`: stream time 0 = the wall-clock
moment the first frame was decoded, minus that frame's timestamp).

With ``post="twitch:CHANNEL"`` each comment is also posted into the channel by a bot
(:class:`~hf_livechat.data.chat.twitch_post.ChatPoster`: its own logged-in IRC connection, a sliding-window rate limit
that drops what is over it, any server NOTICE stops posting while commenting goes on); ``dry_run`` prints the line
that would be sent instead. The bot's own messages, as the channel echoes them to the chat reader, are skipped: the
commenter already has each of its comments in its context once.
"""

from __future__ import annotations

import heapq
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..data.chat.irc_client import Secret, parse_server, token_from_env
from ..data.chat.twitch_post import DEFAULT_POST_RATE, NOT_POSTED, ChatPoster, message_text, parse_rate
from ..data.chat.sources import ChatFeed, LiveClock, open_chat_source
from .live import LiveCommenter, LiveFrame, LiveStats
from .live_asr import LiveTranscriber
from .live_overlay import CommentOverlay
from .live_stream import LiveStream
from .speaking import SpeakingPolicy

logger = logging.getLogger(__name__)


@dataclass
class LiveOptions:
    """What `hf-livechat live` takes besides the source and the model (see `hf-livechat live --help`)."""

    interval: float | None = None  # seconds between windows (None: 5 s, or 2 s with when="auto")
    when: str = "interval"  # "interval": a comment every window; "auto": when the predicted activity is high
    min_gap: float = 2.0  # with when="auto": seconds between two comments at least
    max_silence: float = 30.0  # with when="auto": seconds without a comment at most (0: no limit)
    activity_threshold: float = 1.5  # with when="auto": high = above this multiple of the running median activity
    rate_scale: float = 1.0  # with when="auto": comments per predicted chat comment while the activity is high
    chat: object = None  # "twitch:CHANNEL", a chat log path, or an iterable of ChatMessage
    follow_chat: bool = False
    irc_server: str | None = None
    asr_model: str | None = None
    asr_engine: str | None = None
    out: str | os.PathLike | None = None
    overlay_port: int | None = None
    follow: bool = False  # the source is a file still being written
    idle_timeout: float = 10.0
    speed: float | None = None  # replay a recording at this multiple of real time
    max_lag: float = 1.0
    generate_kwargs: dict = field(default_factory=dict)
    repeat_penalty: float | None = None
    post: str | None = None  # "twitch:CHANNEL": post each comment there (the IRC server is irc_server's, if given)
    bot_nick: str | None = None  # the bot's login name
    post_rate: str | tuple[int, float] = DEFAULT_POST_RATE  # at most N messages in any S seconds ("20/30")
    dry_run: bool = False  # print what would be posted; connect to nothing
    post_token: Secret | None = None  # None: read TWITCH_OAUTH_TOKEN


def speaking_policy(options: LiveOptions) -> tuple[SpeakingPolicy, float]:
    """The speaking policy and the window interval of `options` (``ValueError`` for a bad setting)."""
    policy = SpeakingPolicy(
        options.when, threshold=options.activity_threshold, rate_scale=options.rate_scale, min_gap=options.min_gap, max_silence=options.max_silence
    )
    interval = options.interval if options.interval is not None else (2.0 if policy.when == "auto" else 5.0)
    return policy, interval


@dataclass
class LiveReport:
    stats: LiveStats
    frames_decoded: int = 0
    frames_dropped: int = 0
    chat_received: int = 0
    chat_dropped: int = 0
    asr: str = ""
    overlay_url: str = ""
    has_chat: bool = False
    posted: int | None = None  # comments posted (or, in a dry run, that would have been); None: not posting
    dry_run: bool = False
    posting: str = ""  # the poster's summary
    own_skipped: int = 0  # the bot's own messages read back from the chat, not fed to the model again

    def summary(self) -> str:
        label = "would be posted" if self.dry_run else "posted"
        lines = [self.stats.summary(), self.stats.rate_line(self.posted, chat=self.has_chat, posted_label=label)]
        lines.append(f"frames: {self.frames_decoded} decoded, {self.frames_dropped} dropped")
        if self.chat_received or self.chat_dropped or self.own_skipped:
            chat = f"chat: {self.chat_received} messages, {self.chat_dropped} dropped (backlog full)"
            if self.own_skipped:
                chat += f", {self.own_skipped} of the bot's own skipped"
            lines.append(chat)
        if self.posting:
            lines.append(self.posting)
        if self.asr:
            lines.append(self.asr)
        return "\n".join(lines)


class _WithoutOwnMessages:
    """A chat source without the bot's own messages (the channel echoes what the bot posts; the commenter has fed
    each of its comments back already). Twitch IRC skips them by nick in the client; any source by author."""

    def __init__(self, source, nick: str) -> None:
        self.source = source
        self.clock = source.clock
        self.nick = nick.casefold()
        self.skipped = 0
        if hasattr(source, "ignore_nicks"):  # the Twitch IRC client: match the login name of the prefix
            source.ignore_nicks.add(self.nick)

    def close(self) -> None:
        self.source.close()

    def __iter__(self):
        for message in self.source:
            if message.author.casefold() == self.nick:
                self.skipped += 1
                continue
            yield message

    @property
    def own_skipped(self) -> int:
        return self.skipped + getattr(getattr(self.source, "stats", None), "ignored", 0)


def make_poster(options: LiveOptions) -> ChatPoster | None:
    """The bot that posts the comments (not started), or ``None`` without ``options.post``. Raises ``ValueError``
    for a bad ``--post``, ``--bot-nick`` or ``--post-rate``, or a missing token (named, never shown)."""
    if not options.post:
        if options.dry_run:
            raise ValueError("--dry-run applies to --post twitch:CHANNEL")
        return None
    if not str(options.post).startswith("twitch:") or not str(options.post)[len("twitch:") :].strip("# "):
        raise ValueError(f"--post takes twitch:CHANNEL, got {options.post!r}")
    channel = str(options.post)[len("twitch:") :]
    rate = parse_rate(options.post_rate)
    server = parse_server(options.irc_server) if options.irc_server else None
    if options.dry_run:
        return ChatPoster(channel, options.bot_nick, None, server, rate=rate, dry_run=True)
    if not options.bot_nick:
        raise ValueError("--post needs the bot's login name: --bot-nick NICK")
    token = options.post_token if options.post_token is not None else token_from_env()
    return ChatPoster(channel, options.bot_nick, token, server, rate=rate)


def live_events(stream: LiveStream, feed: ChatFeed | None, asr: LiveTranscriber | None) -> Iterator[tuple[float, object]]:
    """Frames as they are decoded, with the chat and speech that arrived meanwhile (stream time). Chat stamped
    ahead of the video (a finished log replayed with its recording) is held back until the video reaches it."""
    ahead: list[tuple[float, int, object]] = []  # a heap of messages the video has not reached yet
    count = 0
    for item in stream.frames(timeout=0.2, with_arrival=True):
        if feed is not None:
            for message in feed.drain():
                heapq.heappush(ahead, (message.time, count, message))
                count += 1
        while item is not None and ahead and ahead[0][0] < item[0] + 1.0:  # the frame at t shows [t, t + 1)
            time, _, message = heapq.heappop(ahead)
            yield time, message
        if asr is not None:
            for segment in asr.drain():
                yield segment.end, segment
        if item is not None:
            yield item[0], LiveFrame(item[1], item[2])


def run_live(source, commenter, options: LiveOptions | None = None, echo=print) -> LiveReport:
    """Comments on `source` as it plays until it ends or Ctrl-C. Each comment is echoed as it comes (time, text,
    score, latency), appended to `options.out` (JSONL) and pushed to the overlay. Returns what happened."""
    options = options or LiveOptions()
    policy, interval = speaking_policy(options)
    poster = make_poster(options)  # before anything starts: a bad setting or a missing token ends the run here
    clock = LiveClock()
    feed = asr = overlay = None
    out = None
    own = None
    if options.chat is not None:
        # --irc-server also serves --post: it reaches the chat source only when that is Twitch too.
        twitch_chat = isinstance(options.chat, str) and options.chat.startswith("twitch:")
        irc_server = options.irc_server if twitch_chat or poster is None else None
        chat_source = open_chat_source(options.chat, follow=options.follow_chat, irc_server=irc_server)
        if poster is not None and poster.nick:
            chat_source = own = _WithoutOwnMessages(chat_source, poster.nick)
        feed = ChatFeed(chat_source, clock).start()
    if options.asr_model:
        asr = LiveTranscriber(options.asr_model, options.asr_engine).start()
    stream = LiveStream(
        source,
        frame_size=commenter.frame_size,
        follow=options.follow,
        idle_timeout=options.idle_timeout,
        speed=options.speed,
        on_audio=asr.feed if asr is not None else None,
        clock=clock,
    )
    extra = {} if options.repeat_penalty is None else {"repeat_penalty": options.repeat_penalty}
    live = LiveCommenter(commenter, interval=interval, max_lag=options.max_lag, generate_kwargs=options.generate_kwargs, policy=policy, **extra)
    report = LiveReport(live.stats, has_chat=feed is not None, dry_run=options.dry_run)
    announced = False
    try:
        if poster is not None:
            poster.start()
            rate = f"at most {poster.limit.limit} per {poster.limit.period:g} s"
            if poster.dry_run:
                echo(f"dry run: each comment that would be posted to #{poster.channel} is printed; nothing is sent ({rate})")
            else:
                echo(f"posting to #{poster.channel} as {poster.nick} ({rate}; comments over it are dropped)")
        if options.overlay_port is not None:
            overlay = CommentOverlay(options.overlay_port).start()
            report.overlay_url = overlay.url
            echo(f"overlay: {overlay.url} (add it to OBS as a browser source)")
        if options.out:
            Path(options.out).parent.mkdir(parents=True, exist_ok=True)
            out = open(options.out, "a", encoding="utf-8")
        stream.start()

        def on_window(time, activity, decision):
            if overlay is not None and activity is not None:
                overlay.publish_activity(time, activity, decision.level)

        for comment in live.run(live_events(stream, feed, asr), speed=options.speed or 1.0, on_window=on_window):
            line = f"{comment.time:8.1f} s  {comment.comment!r}  score {comment.score:.2f}  latency {comment.latency * 1000:.0f} ms"
            record = {"time": comment.time, "comment": comment.comment, "score": comment.score, "latency": comment.latency}
            if comment.activity is not None:
                line += f"  activity {comment.activity:.1f}"
                record["activity"] = comment.activity
            if poster is not None:
                status = record["posted"] = poster.post(comment.comment)
                if status in NOT_POSTED and status != "stopped":
                    line += f"  (not posted: {NOT_POSTED[status]})"
            echo(line)
            if poster is not None and status == "dry-run":
                echo(f"  would send: PRIVMSG #{poster.channel} :{message_text(comment.comment)}")
            if poster is not None and poster.stop_reason and not announced:
                announced = True
                echo(f"posting stopped: {poster.stop_reason}; comments are still generated, not posted")
            if out is not None:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                out.flush()
            if overlay is not None:
                overlay.publish(comment.time, comment.comment, comment.score, comment.activity)
    except KeyboardInterrupt:
        echo("stopped")
    finally:
        stream.stop()
        if poster is not None:
            poster.close()
            report.posted, report.posting = poster.posted, poster.summary()
        if own is not None:
            report.own_skipped = own.own_skipped
        if feed is not None:
            feed.close()
            report.chat_received, report.chat_dropped = feed.received, feed.dropped
        if asr is not None:
            asr.close(timeout=5.0)
            report.asr = asr.summary()
        if overlay is not None:
            overlay.close()
        if out is not None:
            out.close()
        report.frames_decoded, report.frames_dropped = stream.frames_decoded, stream.frames_dropped
    return report
