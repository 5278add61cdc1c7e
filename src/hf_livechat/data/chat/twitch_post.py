"""Posting comments into a Twitch channel as a bot (torch-free): :class:`ChatPoster` sends each comment through a
logged-in :class:`~hf_livechat.data.chat.irc_client.TwitchChatClient` behind a sliding-window rate limit
(:class:`SlidingWindowLimit`, Twitch's 20 messages per 30 s for a regular account by default). A comment over the
limit is **dropped** and counted, never queued: a live comment that waits is stale. Any ``NOTICE`` the server sends
the bot stops posting for the rest of the run with a clear reason; reading and commenting carry on.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable

from .irc_client import TOKEN_ENV, IRCNotice, Secret, TwitchChatClient, check_nick

logger = logging.getLogger(__name__)

DEFAULT_POST_RATE = (20, 30.0)  # Twitch's limit for a regular account: 20 messages per 30 s
MAX_MESSAGE_CHARS = 500  # Twitch refuses longer chat messages


def parse_rate(spec: str | tuple[int, float]) -> tuple[int, float]:
    """``"20/30"`` -> ``(20, 30.0)``: at most 20 messages in any 30 s."""
    if isinstance(spec, tuple):
        count, seconds = spec
    else:
        count, sep, seconds = str(spec).partition("/")
        if not sep:
            raise ValueError(f"a post rate is MESSAGES/SECONDS, like 20/30; got {spec!r}")
    try:
        count, seconds = int(count), float(seconds)
    except ValueError:
        raise ValueError(f"a post rate is MESSAGES/SECONDS, like 20/30; got {spec!r}") from None
    if count < 1 or not seconds > 0:
        raise ValueError(f"a post rate needs at least 1 message in a positive time; got {spec!r}")
    return count, seconds


class SlidingWindowLimit:
    """At most ``limit`` events in any ``period`` seconds: an event is allowed when fewer than ``limit`` allowed
    events happened in the ``period`` seconds before it. ``clock`` is ``time.monotonic`` unless a test fakes it."""

    def __init__(self, limit: int, period: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.period = parse_rate((limit, period))
        self.clock = clock
        self.times: deque[float] = deque()

    def _forget(self, now: float) -> None:
        while self.times and self.times[0] <= now - self.period:
            self.times.popleft()

    def try_acquire(self) -> bool:
        now = self.clock()
        self._forget(now)
        if len(self.times) >= self.limit:
            return False
        self.times.append(now)
        return True

    def wait_time(self) -> float:
        """Seconds until the next event would be allowed (0: now)."""
        now = self.clock()
        self._forget(now)
        return 0.0 if len(self.times) < self.limit else self.times[0] + self.period - now


def message_text(text: str) -> str:
    """A comment as it is posted: one line, spaces collapsed, at most 500 characters."""
    return " ".join(text.split())[:MAX_MESSAGE_CHARS]


# What ChatPoster.post returns, and the reasons it counts a comment as not posted.
POSTED, DRY_RUN = "posted", "dry-run"
NOT_POSTED = {
    "rate-limited": "over the rate limit",
    "stopped": "after posting stopped",
    "offline": "while not logged in",
    "empty": "empty",
    "duplicate": "the same as the last one within 30 s (Twitch refuses those)",
    "command": "looked like a chat command ('/...' or '.word')",
}
_COMMAND = re.compile(r"[/.]\w")
_DUPLICATE_SECONDS = 30.0


class ChatPoster:
    """Posts comments into a Twitch channel as a bot, within a rate limit; or, with ``dry_run``, says what it would
    post and connects to nothing.

    Args:
        channel: the channel to post in (with or without ``#``).
        nick: the bot's login name (``--bot-nick``).
        token: its OAuth token (a :class:`Secret`; :func:`token_from_env` reads ``TWITCH_OAUTH_TOKEN``). Not needed
            for a dry run.
        server: ``(host, port)``; Twitch's TLS endpoint by default.
        rate: ``(messages, seconds)``: at most that many messages in any window of that many seconds. A comment over
            the limit is dropped (``counts["rate-limited"]``), never queued: a live comment that waits is stale.
        dry_run: connect to nothing, send nothing; :meth:`post` answers what it would have done.
        clock: the rate limit's clock (``time.monotonic``; tests fake it).

    Any NOTICE on the bot's connection stops posting (:attr:`stop_reason`), since on Twitch each answers something
    the bot said (``msg_ratelimit``, ``msg_banned``, ``msg_duplicate``, a refused login...) and posting on would
    only earn more. Comments that Twitch would refuse anyway are not sent: empty ones, the same text as the last
    message within 30 s, and ones that read as chat commands. Longer ones are cut to 500 characters.
    """

    def __init__(
        self,
        channel: str,
        nick: str | None,
        token: Secret | None = None,
        server: tuple[str, int] | None = None,
        *,
        rate: tuple[int, float] = DEFAULT_POST_RATE,
        dry_run: bool = False,
        tls: bool | None = None,
        backoff: tuple[float, float] = (1.0, 60.0),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.channel = channel.strip().lstrip("#").lower()
        self.nick = check_nick(nick) if nick is not None else None
        self.dry_run = dry_run
        self.limit = SlidingWindowLimit(*rate, clock=clock)
        self.clock = clock
        self.posted = 0
        self.counts = {reason: 0 for reason in NOT_POSTED}
        self.stop_reason: str | None = None
        self._last: tuple[float, str] | None = None
        self._thread: threading.Thread | None = None
        self.client: TwitchChatClient | None = None
        if not dry_run:
            if self.nick is None:
                raise ValueError("posting needs the bot's login name (--bot-nick)")
            if token is None:
                raise ValueError(f"posting needs the bot's OAuth token ({TOKEN_ENV})")
            self.client = TwitchChatClient(
                self.channel, server, tls=tls, backoff=backoff, nick=self.nick, token=token, on_notice=self._on_notice
            )
        elif not self.channel or any(c in self.channel for c in " ,\r\n\x07"):
            raise ValueError(f"not a Twitch channel name: {self.channel!r}")

    def __repr__(self) -> str:
        mode = "dry run" if self.dry_run else f"as {self.nick}"
        return f"ChatPoster(#{self.channel}, {mode}, {self.limit.limit}/{self.limit.period:g} s)"

    def start(self) -> "ChatPoster":
        """Connects and logs in on a thread (the connection reads and discards the channel's chat, answers PINGs
        and watches for NOTICEs). Nothing to do for a dry run."""
        if self.client is not None and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="chat-poster", daemon=True)
            self._thread.start()
        return self

    def wait_logged_in(self, timeout: float) -> bool:
        """Waits until the server accepted the login (or posting stopped); ``True`` when the bot can post."""
        deadline = time.monotonic() + timeout
        while self.client is not None and not self.client.logged_in and self.stop_reason is None:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return self.stop_reason is None

    def _run(self) -> None:
        for _ in self.client:  # the channel's chat, which the reader (if any) reads on its own connection
            pass

    def _on_notice(self, notice: IRCNotice) -> None:
        if notice.login_failed and not (self.client and self.client.logged_in):
            reason = (
                f"the server refused the login of {self.nick!r} ({notice.describe()}); check {TOKEN_ENV} and "
                f"--bot-nick"
            )
        else:
            reason = f"the server refused a message ({notice.describe()})"
        self.stop(reason)

    def stop(self, reason: str) -> None:
        """Stops posting for the rest of the run (the first reason is kept)."""
        if self.stop_reason is None:
            self.stop_reason = reason
            logger.warning("posting to #%s stopped: %s", self.channel, reason)
        if self.client is not None:
            self.client.close()

    def post(self, text: str) -> str:
        """Posts one comment (or, in a dry run, decides whether it would be posted). Returns ``"posted"``,
        ``"dry-run"`` (it would have been), or the reason it was not (a key of :data:`NOT_POSTED`, counted in
        ``counts``). Never waits."""
        text = message_text(text)
        reason = self._refuse(text)
        if reason is None and not self.dry_run and not self.client.logged_in:
            reason = "offline"
        if reason is None and not self.limit.try_acquire():
            reason = "rate-limited"
        if reason is None and not self.dry_run:
            try:
                self.client.say(text)
            except ConnectionError:  # the connection went between the two checks: the slot was not used
                self.limit.times.pop()
                reason = "offline"
        if reason is not None:
            self.counts[reason] += 1
            return reason
        self.posted += 1
        self._last = (self.clock(), text.casefold())
        return DRY_RUN if self.dry_run else POSTED

    def _refuse(self, text: str) -> str | None:
        if self.stop_reason is not None:
            return "stopped"
        if not text:
            return "empty"
        if _COMMAND.match(text):
            return "command"
        if self._last is not None and self._last[1] == text.casefold() and self.clock() - self._last[0] < _DUPLICATE_SECONDS:
            return "duplicate"
        return None

    def close(self, timeout: float = 2.0) -> None:
        if self.client is not None:
            self.client.close()
        if self._thread is not None:
            self._thread.join(timeout)

    def summary(self) -> str:
        verb = "would be posted (dry run, nothing sent)" if self.dry_run else "posted"
        rate = f"{self.limit.limit} per {self.limit.period:g} s"
        text = f"posting to #{self.channel}: {self.posted} {verb}"
        dropped = [f"{n} {NOT_POSTED[k]}" + (f" ({rate})" if k == "rate-limited" else "") for k, n in self.counts.items() if n]
        text += f"; not posted: {', '.join(dropped)}" if dropped else f"; rate limit {rate}"
        if self.stop_reason:
            text += f"\nposting stopped: {self.stop_reason}"
        return text
