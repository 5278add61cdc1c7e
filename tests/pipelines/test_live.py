"""Live mode: rolling window, real-time pacing, dropping windows instead of queueing."""

import time

import numpy as np
import pytest
from conftest import SECONDS

from hf_livechat.data.chat import ChatMessage
from hf_livechat.data.transcripts import TranscriptSegment
from hf_livechat.pipelines.live import LiveCommenter, video_events


def test_live_commenter_keeps_up_with_real_time(commenter, stream):
    chat = [ChatMessage(float(t), "viewer", f"chat {t}") for t in range(0, SECONDS, 2)]
    speech = [TranscriptSegment(float(s), s + 3.0, f"words {s}") for s in range(0, SECONDS - 3, 5)]
    speed = 4.0  # the 47 s stream plays in ~12 s of wall time
    live = LiveCommenter(commenter, interval=5.0, max_lag=1.0, generate_kwargs={"max_new_tokens": 6})
    start = time.monotonic()
    comments = list(live.run(video_events(stream / "vod.mp4", chat, speech, frame_size=64, realtime=True, speed=speed), speed=speed))
    wall = time.monotonic() - start
    # Every 5 s from the first full window; on a quiet machine none is dropped (one is tolerated on a busy CI box).
    assert set(c.time for c in comments) <= {20.0, 25.0, 30.0, 35.0, 40.0, 45.0}
    assert live.stats.emitted + live.stats.dropped == 6 and live.stats.dropped <= 1
    assert wall < SECONDS / speed + 3.0  # finished with the stream, not long after
    pct = live.stats.percentiles()
    assert 0 < pct["p50"] <= pct["p95"] < 1.0
    assert "latency p50" in live.stats.summary()
    # The commenter's pace beside the chat's, per minute of stream: 24 messages in the 47 s of frames.
    assert live.stats.chat_messages == 24 and live.stats.stream_minutes == pytest.approx(SECONDS / 60)
    rates = live.stats.rates(posted=2)
    assert rates["chat"] == pytest.approx(24 / (SECONDS / 60)) and rates["posted"] == pytest.approx(2 / (SECONDS / 60))
    assert f"{len(comments) / (SECONDS / 60):.1f} generated, 2.6 posted; chat 30.6 messages per minute" in live.stats.rate_line(posted=2)


def test_a_slow_model_drops_windows_instead_of_queueing(commenter, stream):
    live = LiveCommenter(commenter, interval=2.0, max_lag=0.2, generate_kwargs={"max_new_tokens": 4})
    original = live._generate

    def slow_generate(*args, **kwargs):
        time.sleep(0.6)  # slower than the stream: 2 s of stream every 0.25 s of wall time
        return original(*args, **kwargs)

    live._generate = slow_generate
    speed = 8.0
    start = time.monotonic()
    comments = list(live.run(video_events(stream / "vod.mp4", frame_size=64, realtime=True, speed=speed), speed=speed))
    wall = time.monotonic() - start
    assert live.stats.dropped > 0 and comments
    assert live.stats.emitted + live.stats.dropped == len(np.arange(20, SECONDS + 1, 2))
    # Bounded: it never falls further behind than one generation plus the allowed lag.
    assert wall < SECONDS / speed + 0.6 + 0.2 + 2.0


def test_feed_back_and_window_contents(commenter, stream):
    live = LiveCommenter(commenter, interval=10.0, generate_kwargs={"max_new_tokens": 5})
    comments = list(live.run(video_events(stream / "vod.mp4", frame_size=64), feed_back=True, speed=None))
    assert [c.time for c in comments] == [20.0, 30.0, 40.0] and live.stats.dropped == 0
