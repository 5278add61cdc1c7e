"""Live sources: HLS served over http.server on 127.0.0.1 and a file still being written, decoded as they play."""

import threading
import time

import pytest
from live_fixtures import LiveHLS, write_live_media
from media_fixtures import nearest_colour_second

from hf_livechat.data.chat.sources import LiveClock
from hf_livechat.pipelines.live_stream import LiveStream


@pytest.fixture(scope="module")
def hls_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hls")
    write_live_media(folder / "live.m3u8", seconds=12)  # six 2 s MPEG-TS segments
    return folder


def test_hls_over_http_is_decoded_as_it_is_published(hls_folder):
    hls = LiveHLS(hls_folder, speed=6.0)
    clock = LiveClock()
    audio = []
    stream = LiveStream(hls.url, frame_size=32, clock=clock, on_audio=lambda t, s: audio.append((t, s.size)), options={"live_start_index": "0"})
    start = time.monotonic()
    frames = [item for item in stream.frames(timeout=0.5) if item is not None]
    wall = time.monotonic() - start
    hls.close()
    assert [t for t, _ in frames] == [float(s) for s in range(12)]
    assert [nearest_colour_second(f) for _, f in frames] == [s % 12 for s in range(12)]
    assert frames[0][1].shape[:2] == (32, 32) and clock.started
    assert wall > 12 / 6.0 - 2.5  # it waited for segments to be published, it did not read a finished file
    assert stream.has_audio and abs(sum(n for _, n in audio) / 16000 - 12) < 0.5 and audio[0][0] < 0.2


def test_a_growing_file_is_followed_until_it_stops_growing(tmp_path, hls_folder):
    source = b"".join((hls_folder / f"live{i}.ts").read_bytes() for i in range(6))  # one MPEG-TS recording
    growing = tmp_path / "growing.ts"
    growing.write_bytes(b"")

    def writer():
        for i in range(0, len(source), 8192):
            with open(growing, "ab") as fp:
                fp.write(source[i : i + 8192])
            time.sleep(0.01)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    stream = LiveStream(growing, frame_size=32, follow=True, idle_timeout=0.5)
    frames = [item for item in stream.frames(timeout=0.5) if item is not None]
    thread.join()
    assert [t for t, _ in frames] == [float(s) for s in range(12)]
    assert [nearest_colour_second(f) for _, f in frames] == list(range(12))
    assert stream.frames_dropped == 0


def test_a_replay_is_paced_and_a_slow_consumer_loses_old_frames_not_the_stream(hls_folder, tmp_path):
    recording = tmp_path / "rec.ts"
    recording.write_bytes(b"".join((hls_folder / f"live{i}.ts").read_bytes() for i in range(6)))
    start = time.monotonic()
    stream = LiveStream(recording, frame_size=32, speed=8.0, max_frames=2)
    got = []
    for item in stream.frames(timeout=0.2):
        if item is not None:
            got.append(item[0])
            time.sleep(0.4)  # slower than the 8x replay (one frame every 0.125 s)
    wall = time.monotonic() - start
    assert 11 / 8.0 - 0.2 < wall < 11 / 8.0 + 3 * 0.4 + 1.0
    assert stream.frames_dropped > 0 and got[-1] == 11.0 and got == sorted(got)
    assert stream.frames_decoded == 12 and len(got) + stream.frames_dropped == 12


def test_a_source_that_cannot_be_opened_is_a_clear_error(tmp_path):
    bad = tmp_path / "not-media.ts"
    bad.write_bytes(b"this is not a video" * 100)
    with pytest.raises(ValueError, match="cannot open the live source"):
        list(LiveStream(str(bad)).frames())
    with pytest.raises(FileNotFoundError, match="--follow"):
        LiveStream(tmp_path / "missing.ts", follow=True)
