"""Twitch chat read live over IRC: ``ChatMessage`` records as they arrive (torch-free).

The client logs in the anonymous read-only way Twitch documents (``PASS SCHMOOPIIE``, ``NICK justinfan<digits>``),
asks for the IRCv3 ``twitch.tv/tags`` and ``twitch.tv/commands`` capabilities and joins one channel. Each
``PRIVMSG`` is parsed by the IRC-log reader (:mod:`~hf_livechat.data.chat.twitch_irc`): display name, ``emotes``
spans, ``id``, and the time from ``tmi-sent-ts``, or from the moment the line arrived when the tag is missing.

Times are **wall-clock Unix seconds** (``clock = "wall"``); the live loop turns them into stream time with
:class:`~hf_livechat.data.chat.sources.LiveClock`.

The connection is kept up: ``PING`` gets its ``PONG``, a ``RECONNECT`` notice or a dropped connection is followed
by a new connection (after an exponential backoff for drops, at once for ``RECONNECT``) that joins the channel
again. Lines over :data:`MAX_LINE_BYTES` and malformed lines are skipped and counted in ``stats``; neither stops
the client.

**Posting** (``hf-livechat live --post twitch:CHANNEL``): the same client logs in as a bot, ``PASS oauth:TOKEN`` and
``NICK bot``, when given a ``nick`` and a ``token`` (:class:`Secret`: its repr and str never show it), and
:meth:`TwitchChatClient.say` queues a ``PRIVMSG #channel :text`` that the connection's own thread sends at once
(one thread does all the socket's reading and writing, as a TLS socket needs). :class:`~hf_livechat.data.chat.twitch_post.ChatPoster` puts a rate limit
(:class:`~hf_livechat.data.chat.twitch_post.SlidingWindowLimit`, Twitch's 20 messages per 30 s for a regular account by default) in front of it: a
comment over the limit is **dropped** and counted, never queued, because a live comment that waits is stale. Any
``NOTICE`` the server sends the bot (``msg_ratelimit``, ``msg_banned``, a refused login, ...) answers something it
said, so it stops posting for the rest of the run with a clear reason (:attr:`~hf_livechat.data.chat.twitch_post.ChatPoster.stop_reason`); the reader
and the commenter carry on. ``ignore_nicks`` makes a reading client skip the bot's own messages as the channel
echoes them back, so they are not fed to the model a second time.
"""

from __future__ import annotations

import logging
import os
import random
import re
import selectors
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ._parsing import BadRecord, ReadContext
from .message import ChatMessage
from .stats import ChatStats
from .twitch_irc import IRCLine, StampClock, parse_irc_message, split_irc_line

logger = logging.getLogger(__name__)

DEFAULT_SERVER = ("irc.chat.twitch.tv", 6697)  # TLS; 6667 is the plain-text port
# IRCv3: up to 8191 bytes of tags, plus the 512 bytes a classic IRC line may take.
MAX_LINE_BYTES = 8191 + 512
_ANONYMOUS_PASS = "SCHMOOPIIE"
TOKEN_ENV = "TWITCH_OAUTH_TOKEN"
_NICK = re.compile(r"[a-z0-9_]{1,25}")


class Secret:
    """A credential that never shows itself: ``repr``, ``str`` and f-strings print ``'***'``; :meth:`reveal` gives
    the value to the one place that sends it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __reduce__(self):  # pickling would write it out
        raise TypeError("a Secret cannot be pickled")


def token_from_env(name: str = TOKEN_ENV) -> Secret:
    """The bot's OAuth token from the environment (with or without its ``oauth:`` prefix), as a :class:`Secret`.
    Errors name the variable, never the value."""
    value = os.environ.get(name, "").strip()
    if value.lower().startswith("oauth:"):
        value = value[len("oauth:") :]
    if not value:
        raise ValueError(f"posting needs the bot's OAuth token in the {name} environment variable (it is not set)")
    if any(c.isspace() or c in "\x00:" for c in value):
        raise ValueError(f"the {name} environment variable does not hold an OAuth token (it has spaces or other separators)")
    return Secret(value)


def redact(text: str, secret: Secret | None) -> str:
    """``text`` with every occurrence of the secret replaced by ``***`` (for text a server or a library wrote)."""
    value = secret.reveal() if secret is not None else ""
    return text.replace(value, "***") if value else text


@dataclass(frozen=True)
class IRCNotice:
    """A ``NOTICE`` from the server: ``msg_id`` is Twitch's ``msg-id`` tag (``msg_ratelimit``, ``msg_banned``, ...;
    ``""`` for a login failure, which comes untagged); ``target`` is the channel, or ``*`` before login."""

    msg_id: str
    target: str
    text: str

    @property
    def login_failed(self) -> bool:
        return self.target == "*" or not self.msg_id and "auth" in self.text.lower()

    def describe(self) -> str:
        return f"{self.msg_id}: {self.text}" if self.msg_id else self.text


@dataclass
class IRCStats:
    """What happened on the connection: the chat counters plus the connection's own events."""

    chat: ChatStats = field(default_factory=ChatStats)
    connections: int = 0
    reconnects: int = 0  # RECONNECT notices obeyed
    drops: int = 0  # connections lost or refused
    pings: int = 0
    oversize: int = 0  # lines over MAX_LINE_BYTES, skipped
    notices: int = 0
    ignored: int = 0  # messages from ignore_nicks (the bot's own, echoed by the channel), skipped
    sent: int = 0  # PRIVMSGs sent by say()
    unsent: int = 0  # PRIVMSGs queued by say() whose connection dropped before they went out

    @property
    def malformed(self) -> int:
        return self.chat.skipped


def parse_server(spec: str) -> tuple[str, int]:
    """``"HOST:PORT"`` -> ``(host, port)``, with a clear error for anything else."""
    host, sep, port = spec.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"IRC server must be HOST:PORT, got {spec!r}")
    return host, int(port)


class TwitchChatClient:
    """Reads one Twitch channel's chat live. Iterate it for messages; ``close()`` (from any thread) ends it.

    Args:
        channel: the channel name, with or without ``#``.
        server: ``(host, port)``; Twitch's TLS endpoint by default.
        tls: wrap the connection in TLS; by default only for Twitch's own server, so a test or mirror on
            ``127.0.0.1`` speaks plain text.
        backoff: first and longest wait in seconds before reconnecting after a drop (doubled per failed try).
        idle_timeout: seconds without any line after which the connection counts as dead (Twitch pings every
            five minutes or so).
        nick, token: log in as this account (``PASS oauth:TOKEN``; ``token`` a :class:`Secret` or a string) to
            :meth:`say` things; both ``None``: the anonymous read-only login.
        ignore_nicks: skip ``PRIVMSG``s from these nicks (the bot's own messages, as the channel echoes them).
        on_notice: called with each :class:`IRCNotice`, on the client's thread. A refused login also ends the
            client (the same token would be refused again): ``login_error`` says why.
    """

    clock = "wall"

    def __init__(
        self,
        channel: str,
        server: tuple[str, int] | None = None,
        *,
        tls: bool | None = None,
        backoff: tuple[float, float] = (1.0, 60.0),
        idle_timeout: float = 360.0,
        stats: IRCStats | None = None,
        nick: str | None = None,
        token: Secret | str | None = None,
        ignore_nicks: Iterable[str] = (),
        on_notice: Callable[[IRCNotice], None] | None = None,
    ) -> None:
        channel = channel.strip().lstrip("#").lower()
        if not channel or any(c in channel for c in " ,\r\n\x07"):
            raise ValueError(f"not a Twitch channel name: {channel!r}")
        if (nick is None) != (token is None):
            raise ValueError("a logged-in client needs both a nick and a token (neither: the anonymous login)")
        if nick is not None:
            nick = check_nick(nick)
        self.channel = channel
        self.nick = nick
        self._token = Secret(token) if isinstance(token, str) else token
        self.ignore_nicks = {n.strip().lower() for n in ignore_nicks}
        self.on_notice = on_notice
        self.login_error: IRCNotice | None = None
        self.server = tuple(server) if server else DEFAULT_SERVER
        self.tls = (self.server == DEFAULT_SERVER) if tls is None else tls
        self.backoff = backoff
        self.idle_timeout = idle_timeout
        self.stats = stats or IRCStats()
        self._closed = threading.Event()
        self._sock: socket.socket | None = None
        self._ctx = ReadContext(Path(f"#{channel}"), "skip", self.stats.chat)
        self._clock = StampClock(0.0)  # origin 0: times stay Unix seconds
        self._number = 0
        self._welcomed = threading.Event()  # the server accepted this connection's login (001)
        self._outbox: deque[str] = deque()
        # say() wakes the connection's thread through this pair to send at once; made while the client runs.
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None

    def __repr__(self) -> str:
        who = self.nick or "anonymous"
        return f"TwitchChatClient(#{self.channel}, {self.server[0]}:{self.server[1]}, {who})"

    @property
    def logged_in(self) -> bool:
        return self._welcomed.is_set() and self._sock is not None

    def say(self, text: str) -> None:
        """Queue ``PRIVMSG #channel :text``; the connection's thread sends it at once. Raises ``ConnectionError``
        while the client is not logged in (connecting, reconnecting, refused, closed). Line breaks become spaces."""
        if self._token is None:
            raise ConnectionError("the anonymous login cannot send messages")
        if not self.logged_in or self._closed.is_set():
            raise ConnectionError(f"not logged in to {self.server[0]}:{self.server[1]}")
        text = " ".join(text.replace("\x00", " ").splitlines())
        self._outbox.append(f"PRIVMSG #{self.channel} :{text}")
        self._wake()

    def _wake(self) -> None:
        wake = self._wake_w
        if wake is None:
            return
        try:
            wake.send(b"x")
        except OSError:  # the pipe is full (the thread is already awake) or closed
            pass

    def close(self) -> None:
        self._closed.set()
        self._wake()
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __iter__(self) -> Iterator[ChatMessage]:
        if self._closed.is_set():
            return
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        try:
            yield from self._connections()
        finally:
            wake_r, wake_w = self._wake_r, self._wake_w
            self._wake_r = self._wake_w = None
            wake_r.close()
            wake_w.close()

    def _connections(self) -> Iterator[ChatMessage]:
        wait = self.backoff[0]
        while not self._closed.is_set():
            try:
                sock = self._connect()
            except OSError as error:
                self.stats.drops += 1
                logger.warning("IRC %s:%d: cannot connect (%s); retrying in %.1f s", *self.server, error, wait)
                self._closed.wait(wait)
                wait = min(wait * 2, self.backoff[1])
                continue
            reason = "closed"
            try:
                for kind, message in self._session(sock):
                    if kind == "message":
                        wait = self.backoff[0]  # a working connection resets the backoff
                        yield message
                    else:
                        reason = kind
                        break
                else:
                    reason = "dropped"
            except OSError:
                reason = "dropped"
            finally:
                self._sock = None
                self._welcomed.clear()
                self.stats.unsent += len(self._outbox)
                self._outbox.clear()
                sock.close()
            if reason == "login refused":
                self._closed.set()
            if self._closed.is_set():
                return
            if reason == "reconnect":
                self.stats.reconnects += 1
                logger.info("IRC: server asked to reconnect")
                continue
            self.stats.drops += 1
            logger.warning("IRC %s:%d: connection %s; reconnecting in %.1f s", *self.server, reason, wait)
            self._closed.wait(wait)
            wait = min(wait * 2, self.backoff[1])

    # -- one connection ------------------------------------------------------------------------------------------
    def _connect(self) -> socket.socket:
        sock = socket.create_connection(self.server, timeout=10.0)
        if self.tls:
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self.server[0])
        sock.settimeout(0.5)  # short, so close() and idle checks are seen promptly
        self._sock = sock
        self._welcomed.clear()
        if self._token is None:
            password, nick = _ANONYMOUS_PASS, f"justinfan{random.randint(10000, 99999)}"
        else:
            password, nick = f"oauth:{self._token.reveal()}", self.nick
        self._send(sock, "CAP REQ :twitch.tv/tags twitch.tv/commands", f"PASS {password}", f"NICK {nick}", f"JOIN #{self.channel}")
        self.stats.connections += 1
        return sock

    @staticmethod
    def _send(sock: socket.socket, *lines: str) -> None:
        # Never logged: the login's lines hold the token.
        sock.sendall("".join(f"{line}\r\n" for line in lines).encode("utf-8"))

    def _flush(self, sock: socket.socket) -> None:
        """Send what say() queued (on the connection's own thread: it alone reads and writes the socket)."""
        try:
            while self._wake_r.recv(4096):
                pass
        except OSError:  # nothing to read (BlockingIOError) or closed
            pass
        while self._outbox and self._welcomed.is_set():
            line = self._outbox.popleft()
            self._send(sock, line)
            self.stats.sent += 1

    def _session(self, sock: socket.socket) -> Iterator[tuple[str, ChatMessage | None]]:
        """``("message", msg)`` per chat message; ends with ``("reconnect", None)`` or ``("idle", None)``, or
        returns when the server closes the connection."""
        for line in self._lines(sock):
            if line is None:
                yield "idle", None
                return
            # Skip tags and prefix to find the command word.
            words = [w for w in line.split(" ", 3)[:3] if not w.startswith(("@", ":"))] or [""]
            if line.startswith("PING"):
                self.stats.pings += 1
                self._send(sock, "PONG" + line[4:])
                continue
            if words[0] == "RECONNECT":
                yield "reconnect", None
                return
            if words[0] in ("001", "NOTICE") or (words[0] == "PRIVMSG" and self.ignore_nicks):
                parts = split_irc_line(line)
                if parts is not None and parts.command == "001":
                    self._welcomed.set()
                    if self._token is not None:
                        logger.info("IRC %s:%d: logged in as %s, in #%s", *self.server, self.nick, self.channel)
                    continue
                if parts is not None and parts.command == "NOTICE":
                    if self._notice(parts):
                        yield "login refused", None
                        return
                    continue
                if parts is not None and parts.nick.lower() in self.ignore_nicks:
                    self.stats.ignored += 1
                    continue
            message = self._parse(line)
            if message is not None:
                yield "message", message

    def _notice(self, parts: IRCLine) -> bool:
        """Hands a NOTICE on; ``True`` when it refuses the login (the client then stops)."""
        self.stats.notices += 1
        notice = IRCNotice(parts.tags.get("msg-id", ""), parts.target, redact(parts.text, self._token))
        refused = notice.login_failed and not self._welcomed.is_set()
        if refused:
            self.login_error = notice
            logger.error("IRC %s:%d refused the login of %r: %s", *self.server, self.nick or "justinfan", notice.describe())
        else:
            logger.info("IRC NOTICE %s: %s", notice.target, notice.describe())
        if self.on_notice is not None:
            try:
                self.on_notice(notice)
            except Exception:  # a failing handler must not take the connection down
                logger.exception("IRC: the NOTICE handler failed")
        return refused

    def _lines(self, sock: socket.socket) -> Iterator[str | None]:
        """Decoded lines without their ``\\r\\n``; ``None`` when the connection has been silent too long."""
        with selectors.DefaultSelector() as selector:
            selector.register(sock, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            yield from self._read_lines(sock, selector)

    def _read_lines(self, sock: socket.socket, selector: selectors.BaseSelector) -> Iterator[str | None]:
        buffer = b""
        skipping = False
        last_heard = time.monotonic()
        while not self._closed.is_set():
            self._flush(sock)
            pending = isinstance(sock, ssl.SSLSocket) and sock.pending()
            if not pending:  # wait for the server or for say(), whichever comes first
                ready = [key.fileobj for key, _ in selector.select(0.5)]
                if sock not in ready:
                    if time.monotonic() - last_heard > self.idle_timeout:
                        yield None
                        return
                    continue
            try:
                data = sock.recv(65536)
            except (socket.timeout, ssl.SSLWantReadError):
                if time.monotonic() - last_heard > self.idle_timeout:
                    yield None
                    return
                continue
            if not data:
                return
            last_heard = time.monotonic()
            if skipping:  # the rest of an oversize line: drop it up to its end
                end = data.find(b"\n")
                if end < 0:
                    continue
                data, skipping = data[end + 1 :], False
            buffer += data
            *complete, buffer = buffer.split(b"\n")
            for raw in complete:
                if len(raw) > MAX_LINE_BYTES:
                    self.stats.oversize += 1
                    continue
                line = raw.rstrip(b"\r")
                try:
                    text = line.decode("utf-8")
                except UnicodeDecodeError as exc:
                    self._number += 1
                    self._ctx.bad(f"not valid UTF-8 ({exc.reason})", line=self._number)
                    continue
                if text.strip():
                    yield text
            if len(buffer) > MAX_LINE_BYTES:  # too long to keep: count it once and drop it whole
                self.stats.oversize += 1
                buffer, skipping = b"", True

    def _parse(self, line: str) -> ChatMessage | None:
        self._number += 1
        arrived_us = round(time.time() * 10**6)
        try:
            # The arrival time stands in for a missing tmi-sent-ts.
            return parse_irc_message(self._ctx, self._clock, self._number, line, arrived_us, False)
        except BadRecord as exc:
            self._ctx.bad(str(exc), line=self._number)
            return None


def check_nick(nick: str) -> str:
    """A Twitch login name, lower-cased (``ValueError`` otherwise)."""
    name = nick.strip().lower()
    if not _NICK.fullmatch(name):
        raise ValueError(f"not a Twitch login name: {nick!r} (1 to 25 letters, digits or '_')")
    return name
