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
