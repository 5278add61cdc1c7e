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
"""

from __future__ import annotations

import logging
import random
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ._parsing import BadRecord, ReadContext
from .message import ChatMessage
from .stats import ChatStats
from .twitch_irc import StampClock, parse_irc_message

logger = logging.getLogger(__name__)

DEFAULT_SERVER = ("irc.chat.twitch.tv", 6697)  # TLS; 6667 is the plain-text port
# IRCv3: up to 8191 bytes of tags, plus the 512 bytes a classic IRC line may take.
MAX_LINE_BYTES = 8191 + 512
_ANONYMOUS_PASS = "SCHMOOPIIE"


@dataclass
class IRCStats:
    """What happened on the connection: the chat counters plus the connection's own events."""

    chat: ChatStats = field(default_factory=ChatStats)
    connections: int = 0
    reconnects: int = 0  # RECONNECT notices obeyed
    drops: int = 0  # connections lost or refused
    pings: int = 0
    oversize: int = 0  # lines over MAX_LINE_BYTES, skipped

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
    ) -> None:
        channel = channel.strip().lstrip("#").lower()
        if not channel or any(c in channel for c in " ,\r\n\x07"):
            raise ValueError(f"not a Twitch channel name: {channel!r}")
        self.channel = channel
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

    def close(self) -> None:
        self._closed.set()
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __iter__(self) -> Iterator[ChatMessage]:
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
                sock.close()
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
        nick = f"justinfan{random.randint(10000, 99999)}"
        self._send(sock, "CAP REQ :twitch.tv/tags twitch.tv/commands", f"PASS {_ANONYMOUS_PASS}", f"NICK {nick}", f"JOIN #{self.channel}")
        self.stats.connections += 1
        return sock

    @staticmethod
    def _send(sock: socket.socket, *lines: str) -> None:
        sock.sendall("".join(f"{line}\r\n" for line in lines).encode("utf-8"))

    def _session(self, sock: socket.socket) -> Iterator[tuple[str, ChatMessage | None]]:
        """``("message", msg)`` per chat message; ends with ``("reconnect", None)`` or ``("idle", None)``, or
        returns when the server closes the connection."""
        for line in self._lines(sock):
            if line is None:
                yield "idle", None
                return
            command = line.split(" ", 2)
            # Skip tags and prefix to find the command word.
            words = [w for w in command if not w.startswith(("@", ":"))] or [""]
            if line.startswith("PING"):
                self.stats.pings += 1
                self._send(sock, "PONG" + line[4:])
                continue
            if words[0] == "RECONNECT":
                yield "reconnect", None
                return
            message = self._parse(line)
            if message is not None:
                yield "message", message

    def _lines(self, sock: socket.socket) -> Iterator[str | None]:
        """Decoded lines without their ``\\r\\n``; ``None`` when the connection has been silent too long."""
        buffer = b""
        skipping = False
        last_heard = time.monotonic()
        while not self._closed.is_set():
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
