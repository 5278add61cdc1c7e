"""Live mode with `when="auto"`: the commenter speaks where the predicted activity is high, holds a window's later
comments until the stream reaches them, reports how many windows it spoke on, writes each comment's activity to the
JSONL and moves the overlay's activity meter (server-sent events on 127.0.0.1; the page in headless Chromium)."""

import http.client
import importlib.util
import json
import shutil
import time

import numpy as np
import pytest

from hf_livechat.cli import main
from hf_livechat.pipelines.live import LiveCommenter, video_events
from hf_livechat.pipelines.live_overlay import CommentOverlay
from hf_livechat.pipelines.live_session import LiveOptions, run_live, speaking_policy
from hf_livechat.pipelines.speaking import SpeakingPolicy

# Windows every 2 s at 20, 22, ..., 46 (the 47 s test stream): scripted activity, high at 26 (one comment) and at
# 36 (20 per 10 s: 2 comments per 2 s stride with min_gap 1).
SCRIPT = {26.0: 4.0, 36.0: 20.0}
AUTO = SpeakingPolicy("auto", threshold_mode="absolute", threshold=3, min_gap=1, max_silence=0)


@pytest.fixture
def scripted(commenter, monkeypatch):
    """The model's activity for a window is read from SCRIPT by the window's end (1 elsewhere)."""
    looked_at = []

    def window_activity(context=None, end=None, context_length=None, inputs=None):
        end = float(inputs["time"][0]) if inputs is not None else end
        looked_at.append(end)
        return SCRIPT.get(end, 1.0)

    monkeypatch.setattr(commenter, "window_activity", window_activity)
    return looked_at


def test_auto_speaks_on_high_windows_and_holds_the_rest_of_a_window(commenter, stream, scripted):
    live = LiveCommenter(commenter, interval=2.0, generate_kwargs={"max_new_tokens": 4}, policy=AUTO)
    windows = []
    comments = list(live.run(video_events(stream / "vod.mp4", frame_size=64), speed=None, on_window=lambda t, a, d: windows.append((t, a, d.count))))
    assert [c.time for c in comments] == [26.0, 36.0, 37.0]
    assert [c.activity for c in comments] == [4.0, 20.0, 20.0]
    assert scripted == [float(t) for t in np.arange(20, 47, 2)]
    assert [(t, n) for t, _, n in windows if n] == [(26.0, 1), (36.0, 2)]
    assert live.stats.windows == 14 and live.stats.silent == 12 and live.stats.emitted == 3
    assert "spoke on 2 of 14 windows" in live.stats.summary()
    assert comments[1].comment != comments[2].comment or not comments[1].comment  # two different candidates


def test_auto_needs_an_activity_model(commenter, monkeypatch):
    monkeypatch.setattr(type(commenter), "has_activity", property(lambda self: False))
    with pytest.raises(ValueError, match="activity head"):
        LiveCommenter(commenter, policy=SpeakingPolicy("auto"))


def test_options_give_the_policy_and_the_interval():
    policy, interval = speaking_policy(LiveOptions(when="auto", min_gap=3, max_silence=20))
    assert (policy.when, policy.min_gap, policy.max_silence, interval) == ("auto", 3, 20, 2.0)
    assert speaking_policy(LiveOptions())[1] == 5.0 and speaking_policy(LiveOptions(interval=7))[1] == 7
    with pytest.raises(ValueError, match="max_silence"):
        speaking_policy(LiveOptions(when="auto", min_gap=5, max_silence=3))


class EventReader:
    """A page's connection to the overlay's /events: reads the server-sent events one by one."""

    def __init__(self, port: int, timeout: float = 10.0):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.connection.request("GET", "/events")
        self.response = self.connection.getresponse()
        assert self.response.status == 200 and self.response.getheader("Content-Type") == "text/event-stream"
        self.timeout = timeout

    def next(self) -> tuple[str, dict]:
        """The next event as (event name, data); keep-alive comments are skipped."""
        name, deadline = "message", time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            line = self.response.readline().decode("utf-8").rstrip("\n")
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                return name, json.loads(line[len("data: ") :])
        raise TimeoutError("no event from the overlay")

    def close(self):
        self.connection.close()


def test_overlay_sends_the_activity_meter_readings():
    overlay = CommentOverlay(0, backlog=5).start()
    try:
        overlay.publish(20.0, "early comment", -1.0, activity=4.5)
        overlay.publish_activity(22.0, 1.0, 1.5)  # the latest reading waits for a page that connects late
        page = EventReader(overlay.port)
        assert page.next() == ("message", {"time": 20.0, "comment": "early comment", "score": -1.0, "activity": 4.5})
        assert page.next() == ("activity", {"time": 22.0, "activity": 1.0, "level": 1.5})
        overlay.publish_activity(24.0, 9.0, None)  # a connected page gets each new reading
        assert page.next() == ("activity", {"time": 24.0, "activity": 9.0, "level": None})
        overlay.publish(26.0, "next comment")
        assert page.next() == ("message", {"time": 26.0, "comment": "next comment", "score": None})
        page.close()
        assert overlay.activity == {"time": 24.0, "activity": 9.0, "level": None}
    finally:
        overlay.close()


def chromium_path():
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(chromium_path() is None or importlib.util.find_spec("playwright") is None, reason="needs chromium and playwright")
def test_overlay_page_draws_the_activity_meter():
    from playwright.sync_api import sync_playwright

    overlay = CommentOverlay(0).start()
    flags = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path(), args=flags)
            page = browser.new_page(viewport={"width": 640, "height": 360})
            page.goto(overlay.url)
            assert page.eval_on_selector("#meter", "e => getComputedStyle(e).display") == "none"  # no reading yet
            overlay.publish_activity(20.0, 2.0, 3.0)
            page.wait_for_function("document.getElementById('meter').dataset.activity === '2'", timeout=10000)
            low = page.evaluate("[document.getElementById('meter-fill').style.width, document.getElementById('meter-fill').className, document.getElementById('meter-level').style.left]")
            overlay.publish_activity(22.0, 6.0, 3.0)
            page.wait_for_function("document.getElementById('meter').dataset.activity === '6'", timeout=10000)
            high = page.evaluate("[document.getElementById('meter-fill').style.width, document.getElementById('meter-fill').className, document.getElementById('meter-text').textContent]")
            browser.close()
    finally:
        overlay.close()
    # Scale 3 (the level is the highest so far): 2 of 3 fills two thirds, below the level's tick at 100 %.
    assert low[0].startswith("66.6") and low[1] == "" and low[2] == "100%"
    # Scale 6 now: full, above the level, in the "high" colour.
    assert high == ["100%", "high", "chat activity 6.0 / 10 s"]


def test_live_command_when_auto_writes_activity_and_the_summary(model_dir, stream, tmp_path, capsys, monkeypatch):
    from hf_livechat.pipelines.video_comment_generation import VideoCommentGenerationPipeline

    def window_activity(self, context=None, end=None, context_length=None, inputs=None):
        return SCRIPT.get(float(inputs["time"][0]), 1.0)

    monkeypatch.setattr(VideoCommentGenerationPipeline, "window_activity", window_activity)
    out = tmp_path / "comments.jsonl"
    argv = ["live", str(stream / "vod.mp4"), "--model", str(model_dir), "--when", "auto", "--min-gap", "2", "--max-silence", "0",
            "--activity-threshold", "2", "--speed", "10", "--max-lag", "1000", "--out", str(out), "--chat", str(stream / "chat.json")]
    assert main(argv) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    # Relative threshold 2 x the running median 1: the windows at 26 and 36 are high; min_gap 2 with a 2 s stride
    # allows one comment per window.
    assert [(c["time"], c["activity"]) for c in lines] == [(26.0, 4.0), (36.0, 20.0)]
    printed = capsys.readouterr().out
    assert "spoke on 2 of 14 windows" in printed and "activity 20.0" in printed
    assert "messages per minute" in printed  # the pace beside the chat's


def test_live_and_the_pipeline_read_the_same_activity(commenter, stream):
    """Without patches: each live window's activity is the model's reading of the window the pipeline builds too."""
    live = LiveCommenter(commenter, interval=10.0, generate_kwargs={"max_new_tokens": 3})
    comments = list(live.run(video_events(stream / "vod.mp4", frame_size=64), feed_back=False, speed=None))
    offline = commenter(str(stream / "vod.mp4"), stride=10, max_new_tokens=3)
    assert [c.time for c in comments] == [c["time"] for c in offline] == [20.0, 30.0, 40.0]
    assert [c.activity for c in comments] == pytest.approx([c["activity"] for c in offline], rel=1e-4)
    assert all(c.activity > 0 for c in comments)
