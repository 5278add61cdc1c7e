"""A browser overlay for live mode: the generated comments scroll across a transparent page as danmaku.

Streamers show chat in OBS with a *browser source*; point one at ``http://127.0.0.1:PORT/`` (``hf-livechat live
--overlay PORT``). The page listens to ``/events`` (server-sent events) and flies each new comment from right to
left on its own lane. The server keeps only the last ``backlog`` comments (a page that connects late gets those)
and each page's queue is bounded too: a stalled browser loses old comments, it never grows the server's memory.

With an activity model (``--when auto``, or any model with an activity head) each window's predicted activity is
pushed too (an ``activity`` event): an **activity meter** in the bottom-left corner fills with the comments the chat
is expected to hold in the next 10 s, on a scale of the highest activity seen so far, with a tick at the level above
which the commenter speaks. A page that connects late gets the latest reading.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

logger = logging.getLogger(__name__)

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>hf-livechat overlay</title>
<style>
  html, body { margin: 0; height: 100%; overflow: hidden; background: transparent; }
  .danmaku { position: absolute; left: 100%; white-space: nowrap; font: bold 32px/1.2 sans-serif; color: #fff;
             text-shadow: -2px -2px 0 #000, 2px -2px 0 #000, -2px 2px 0 #000, 2px 2px 0 #000;
             animation: fly var(--seconds) linear forwards; }
  @keyframes fly { from { transform: translateX(0); } to { transform: translateX(calc(-100vw - 100%)); } }
  #meter { position: absolute; left: 12px; bottom: 12px; width: 200px; display: none; font: bold 14px/1.4 sans-serif;
           color: #fff; text-shadow: -1px -1px 0 #000, 1px -1px 0 #000, -1px 1px 0 #000, 1px 1px 0 #000; }
  #meter-bar { position: relative; height: 12px; border: 2px solid #fff; background: rgba(0, 0, 0, 0.35); }
  #meter-fill { position: absolute; left: 0; top: 0; bottom: 0; width: 0; background: #3c6; transition: width 0.4s; }
  #meter-fill.high { background: #f43; }
  #meter-level { position: absolute; top: -4px; bottom: -4px; width: 2px; background: #ff0; display: none; }
</style></head>
<body>
<div id="meter"><div id="meter-text"></div><div id="meter-bar"><div id="meter-fill"></div><div id="meter-level"></div></div></div>
<script>
  const SCROLL_SECONDS = __SCROLL_SECONDS__, LANES = Math.max(1, Math.floor(window.innerHeight / 40));
  let lane = 0;
  function show(comment) {
    const line = document.createElement("div");
    line.className = "danmaku";
    line.textContent = comment.comment;
    line.dataset.time = comment.time;
    line.style.top = (lane * 40) + "px";
    line.style.setProperty("--seconds", SCROLL_SECONDS + "s");
    lane = (lane + 1) % LANES;
    line.addEventListener("animationend", () => line.remove());
    document.body.appendChild(line);
  }
  let scale = 1;  // the highest activity seen so far fills the bar
  function meter(reading) {
    const box = document.getElementById("meter"), fill = document.getElementById("meter-fill");
    const tick = document.getElementById("meter-level"), level = reading.level;
    scale = Math.max(scale, reading.activity, level || 0);
    box.style.display = "block";
    box.dataset.activity = reading.activity;
    fill.style.width = (100 * reading.activity / scale) + "%";
    fill.classList.toggle("high", level !== null && level !== undefined && reading.activity > level);
    tick.style.display = level === null || level === undefined ? "none" : "block";
    if (level !== null && level !== undefined) tick.style.left = (100 * level / scale) + "%";
    document.getElementById("meter-text").textContent = "chat activity " + reading.activity.toFixed(1) + " / 10 s";
  }
  const events = new EventSource("/events");
  events.onmessage = (event) => show(JSON.parse(event.data));
  events.addEventListener("activity", (event) => meter(JSON.parse(event.data)));
</script>
</body></html>
"""


class CommentOverlay:
    """Serves the overlay page and pushes comments to every open page.

    Args:
        port: the port on 127.0.0.1 (0: any free port; read ``port`` after :meth:`start`).
        scroll_seconds: how long a comment takes to cross the screen.
        backlog: comments kept for pages that connect later; also each page's queue size.
    """

    def __init__(self, port: int = 0, host: str = "127.0.0.1", scroll_seconds: float = 8.0, backlog: int = 50) -> None:
        self.scroll_seconds = scroll_seconds
        self.backlog: deque[dict] = deque(maxlen=backlog)
        self._clients: set[queue.Queue] = set()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self.dropped = 0  # comments a slow page missed
        self.activity: dict | None = None  # the latest activity reading, for pages that connect later
        overlay = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the terminal for comments
                pass

            def do_GET(self):
                if self.path in ("/", "/index.html"):
                    overlay._page(self)
                elif self.path == "/events":
                    overlay._events(self)
                else:
                    self.send_error(404)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> "CommentOverlay":
        self._thread.start()
        return self

    def publish(self, time: float, comment: str, score: float | None = None, activity: float | None = None) -> None:
        event = {"time": time, "comment": comment, "score": score}
        if activity is not None:
            event["activity"] = activity
        with self._lock:
            self.backlog.append(event)
            self._send(("message", event))

    def publish_activity(self, time: float, activity: float, level: float | None = None) -> None:
        """Moves the activity meter: the window ending at `time` expects `activity` comments in the next 10 s; the
        commenter speaks above `level` (None: no level yet)."""
        event = {"time": time, "activity": float(activity), "level": None if level is None else float(level)}
        with self._lock:
            self.activity = event
            self._send(("activity", event))

    def _send(self, item) -> None:
        for client in self._clients:
            try:
                client.put_nowait(item)
            except queue.Full:
                client.get_nowait()
                client.put_nowait(item)
                self.dropped += 1

    def close(self) -> None:
        self._closed.set()
        self._server.shutdown()
        self._server.server_close()

    # -- handlers --------------------------------------------------------------------------------------------------
    def _page(self, handler) -> None:
        body = PAGE.replace("__SCROLL_SECONDS__", repr(float(self.scroll_seconds))).encode("utf-8")
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _events(self, handler) -> None:
        client: queue.Queue = queue.Queue(maxsize=self.backlog.maxlen + 1)  # the backlog and the latest activity
        with self._lock:
            for event in self.backlog:
                client.put_nowait(("message", event))
            if self.activity is not None:
                client.put_nowait(("activity", self.activity))
            self._clients.add(client)
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Cache-Control", "no-cache")
        handler.end_headers()
        try:
            while not self._closed.is_set():
                try:
                    kind, event = client.get(timeout=1.0)
                    data = f"data: {json.dumps(event, ensure_ascii=False)}\n\n"
                    if kind != "message":
                        data = f"event: {kind}\n" + data
                except queue.Empty:
                    data = ": keep-alive\n\n"  # also finds out when the page has gone
                handler.wfile.write(data.encode("utf-8"))
                handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            with self._lock:
                self._clients.discard(client)
