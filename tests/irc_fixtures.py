"""A Twitch-dialect IRC server on 127.0.0.1 for the live chat tests: tags, PING/PONG, RECONNECT, dropped
connections, each connection playing its own script."""

import socket
import threading
import time

SENT_MS = 1_700_000_000_000


def privmsg(text, user="viewer", ms=0, emotes="", badges="subscriber/12", msg_id=None):
    tags = f"badges={badges};display-name={user.capitalize()};emotes={emotes};id={msg_id or text.replace(' ', '-')};tmi-sent-ts={SENT_MS + ms}"
    return f"@{tags} :{user}!{user}@{user}.tmi.twitch.tv PRIVMSG #chan :{text}"


class TwitchDialectServer:
    """Plays one script per connection. A script is a list of lines to send; ``"<PING>"`` sends a PING and waits
    for its PONG; ``"<DROP>"`` closes the connection without a word; ``("<SLEEP>", s)`` waits. Records every line
    the client sent. A line given as a callable is called when it is sent (for tags stamped with the time then)."""

    def __init__(self, scripts):
        self.scripts = list(scripts)
        self.received: list[list[str]] = []
        self.pongs: list[str] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        for script in self.scripts:
            conn, _ = self.listener.accept()
            lines: list[str] = []
            self.received.append(lines)
            reader = conn.makefile("r", encoding="utf-8", newline="\r\n")
            while not any(line.startswith("JOIN") for line in lines):
                lines.append(reader.readline().rstrip("\r\n"))
            conn.sendall(b":tmi.twitch.tv 001 justinfan :Welcome, GLHF!\r\n:tmi.twitch.tv CAP * ACK :twitch.tv/tags\r\n")
            for line in script:
                if line == "<PING>":
                    conn.sendall(b"PING :tmi.twitch.tv\r\n")
                    self.pongs.append(reader.readline().rstrip("\r\n"))
                elif line == "<DROP>":
                    break
                elif isinstance(line, tuple):
                    time.sleep(line[1])
                elif callable(line):
                    conn.sendall(line().encode("utf-8") + b"\r\n")
                else:
                    conn.sendall(line.encode("utf-8") + b"\r\n")
            else:
                time.sleep(0.2)  # keep the last connection open a moment, as a live server would
            conn.shutdown(socket.SHUT_RDWR)  # the reader's file still holds the socket: close() alone sends nothing
            reader.close()
            conn.close()


RATELIMIT_NOTICE = "@msg-id=msg_ratelimit :tmi.twitch.tv NOTICE #chan :Your message was not sent because you are sending messages too quickly."
BANNED_NOTICE = "@msg-id=msg_banned :tmi.twitch.tv NOTICE #chan :You are permanently banned from talking in chan."


class TwitchChatServer:
    """A Twitch chat server for bots on 127.0.0.1: many connections at once, as the real one.

    Each connection logs in with ``PASS``/``NICK``: ``justinfan...`` with any password reads anonymously; another
    nick must give ``PASS oauth:<token>``, else it gets ``NOTICE * :Login authentication failed`` and is closed.
    A logged-in connection gets ``001`` and, once it JOINs, hears the channel. A PRIVMSG from a logged-in bot is
    recorded in ``posted`` (``(time.monotonic(), nick, raw line)``) and relayed, tagged, to every other connection
    that joined (to the sender too with ``echo=True``); anonymous connections cannot post. ``notices`` maps ``n``
    to a NOTICE line sent to the bot after its n-th PRIVMSG. :meth:`chat` sends a viewer's message to every reader.
    ``lines`` keeps every line each connection sent, in order."""

    def __init__(self, token="s3cr3t-t0ken", notices=None, echo=False):
        self.token = token
        self.notices = dict(notices or {})
        self.echo = echo
        self.posted: list[tuple[float, str, str]] = []
        self.relayed: list[tuple[str, str]] = []  # (to nick, line) for every PRIVMSG relayed
        self.lines: list[list[str]] = []
        self.logins: list[tuple[str, bool]] = []  # (nick, accepted)
        self._members: list[tuple[str, socket.socket]] = []
        self._lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _send(conn, line):
        try:
            conn.sendall(line.encode("utf-8") + b"\r\n")
        except OSError:
            pass

    def _serve(self, conn):
        lines: list[str] = []
        with self._lock:
            self.lines.append(lines)
        reader = conn.makefile("r", encoding="utf-8", newline="\r\n")
        password = nick = None
        count = 0
        try:
            for raw in reader:
                line = raw.rstrip("\r\n")
                lines.append(line)
                if line.startswith("PASS "):
                    password = line[5:]
                elif line.startswith("NICK "):
                    nick = line[5:]
                    accepted = nick.startswith("justinfan") or password == f"oauth:{self.token}"
                    self.logins.append((nick, accepted))
                    if not accepted:
                        self._send(conn, ":tmi.twitch.tv NOTICE * :Login authentication failed")
                        return
                    self._send(conn, f":tmi.twitch.tv 001 {nick} :Welcome, GLHF!")
                elif line.startswith("JOIN ") and nick:
                    with self._lock:
                        self._members.append((nick, conn))
                    self._send(conn, f":{nick}!{nick}@{nick}.tmi.twitch.tv JOIN #chan")
                elif line.startswith("PING"):
                    self._send(conn, "PONG" + line[4:])
                elif line.startswith("PRIVMSG ") and nick and not nick.startswith("justinfan"):
                    count += 1
                    self.posted.append((time.monotonic(), nick, line))
                    text = line.split(" :", 1)[1]
                    self._relay(privmsg_now(text, nick), nick)
                    if count in self.notices:
                        self._send(conn, self.notices[count])
        finally:
            with self._lock:
                self._members = [(n, c) for n, c in self._members if c is not conn]
            reader.close()
            conn.close()

    def _relay(self, line, sender):
        with self._lock:
            members = list(self._members)
        for nick, conn in members:
            if nick != sender or self.echo:
                self.relayed.append((nick, line))
                self._send(conn, line)

    def chat(self, text, user="viewer"):
        """A viewer says something in the channel."""
        self._relay(privmsg_now(text, user), user)

    def members(self):
        with self._lock:
            return [nick for nick, _ in self._members]

    def close(self):
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() waiting on another thread
        except OSError:
            pass
        self.listener.close()
        with self._lock:
            members, self._members = list(self._members), []
        for _, conn in members:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def privmsg_now(text, user):
    """A chat line stamped with this moment, as Twitch stamps ``tmi-sent-ts``."""
    stamp = round(time.time() * 1000)
    return f"@display-name={user.capitalize()};emotes=;id={user}-{stamp}-{abs(hash(text)) % 10**6};tmi-sent-ts={stamp} :{user}!{user}@{user}.tmi.twitch.tv PRIVMSG #chan :{text}"
