"""The Gradio demo: the request path without a server, the app over HTTP, and in a real headless browser."""

import os
import runpy
import shutil
import socket
from pathlib import Path

import av
import pysubs2
import pytest
from media_fixtures import write_not_media, write_test_video

from hf_livechat.data.chat import ChatMessage, write_twitch_json
from hf_livechat.data.media import MediaError
from hf_livechat.pipelines.demo import build_demo, generate_and_render, pipeline_generate_fn
from hf_livechat.pipelines.comment_files import CommentFormatError, read_comments_json

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
STUB_COMMENTS = [
    {"time": 2.0, "comment": "omg boss", "score": -1.25},
    {"time": 0.5, "comment": "first!", "score": -0.5},
]


class StubGenerator:
    """A ``generate_fn`` that records its arguments and returns fixed comments."""

    def __init__(self, comments=STUB_COMMENTS):
        self.comments, self.calls = comments, []

    def __call__(self, video_path, chat_path, transcript_path):
        self.calls.append((video_path, chat_path, transcript_path))
        return self.comments


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    # H.264, which browsers play: the browser test waits for the player to show the upload.
    path = tmp_path_factory.mktemp("demo") / "stream.mp4"
    return write_test_video(path, seconds=4, fps=10, width=128, height=72, codec="libx264")


def test_generate_and_render_writes_what_the_app_shows(video, tmp_path):
    stub = StubGenerator()
    chat = tmp_path / "chat.json"
    write_twitch_json([ChatMessage(1.0, "viewer", "hello")], chat)
    result = generate_and_render(video, chat, None, generate_fn=stub, out_dir=tmp_path)
    assert stub.calls == [(str(video), str(chat), None)]
    # Comments come back in time order, in the table and in every file.
    assert [c["comment"] for c in result.comments] == ["first!", "omg boss"]
    assert result.table() == [[0.5, "first!", -0.5], [2.0, "omg boss", -1.25]]
    assert read_comments_json(result.files["json"]) == result.comments
    assert [e.plaintext for e in pysubs2.load(str(result.files["ass"])).events] == ["first!", "omg boss"]
    with av.open(str(result.video)) as rendered:
        assert {s.type for s in rendered.streams} == {"video", "audio"}


def test_generate_and_render_rejects_bad_uploads_and_bad_generators(video, tmp_path):
    stub = StubGenerator()
    with pytest.raises(MediaError, match=r"upload\.mp4"):
        generate_and_render(write_not_media(tmp_path / "upload.mp4"), None, None, generate_fn=stub, out_dir=tmp_path)
    assert stub.calls == []  # the model never ran on a broken upload
    broken = StubGenerator([{"comment": "no time"}])
    with pytest.raises(CommentFormatError, match="'time' is missing"):
        generate_and_render(video, None, None, generate_fn=broken, out_dir=tmp_path)


def test_the_default_generator_runs_the_pipeline_of_a_model_folder(model_dir, stream, tmp_path):
    generate = pipeline_generate_fn(str(model_dir))  # loads nothing yet
    result = generate_and_render(
        stream / "vod.mp4", stream / "chat.json", stream / "speech.srt", generate_fn=generate, out_dir=tmp_path
    )
    assert [c["time"] for c in result.comments] == [20.0, 30.0, 40.0]
    assert all(isinstance(c["comment"], str) and c["score"] <= 0 for c in result.comments)
    assert result.video.is_file()


def test_pipeline_generate_fn_loads_lazily():
    generate = pipeline_generate_fn("/no/such/model")  # building the app must not need the model
    with pytest.raises(OSError):
        generate("video.mp4", None, None)


def test_app_py_builds_the_space_demo(monkeypatch):
    gr = pytest.importorskip("gradio")
    monkeypatch.setenv("HF_LIVECHAT_MODEL", "/no/such/model")  # not loaded until a request
    namespace = runpy.run_path(str(REPO_ROOT / "app.py"))
    assert isinstance(namespace["demo"], gr.Blocks)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def app_url():
    """The demo, served on localhost with a stub model."""
    pytest.importorskip("gradio")
    stub = StubGenerator()
    demo = build_demo(generate_fn=stub)
    _, url, _ = demo.launch(
        server_name="127.0.0.1", server_port=_free_port(), prevent_thread_lock=True, quiet=True, ssr_mode=False
    )
    try:
        yield url
    finally:
        demo.close()


def test_the_app_answers_over_http(app_url, video):
    from gradio_client import Client, handle_file

    client = Client(app_url, verbose=False)
    rendered, table, files, summary = client.predict(handle_file(str(video)), None, None, api_name="/generate")
    assert table["data"] == [[0.5, "first!", -0.5], [2.0, "omg boss", -1.25]]
    assert summary == "2 comment(s)."
    assert sorted(Path(f).suffix for f in files) == [".ass", ".json", ".srt"]
    with av.open(rendered) as container:
        assert container.streams.video[0].codec_context.name in ("h264", "mpeg4")


def test_the_app_in_a_headless_browser(app_url, video, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    if CHROMIUM is None:
        pytest.skip("no chromium executable (apt-get install chromium)")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ]
    screenshot = tmp_path / "demo.png"
    with playwright.sync_playwright() as driver:
        # Playwright starts the browser with a fresh temporary profile of its own.
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=flags)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(app_url, wait_until="load")
            generate = page.get_by_role("button", name="Generate comments")
            generate.wait_for()  # the app has rendered
            console = []
            page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
            # The POST itself: the upload's progress stream (GET /upload_progress) answers before the file is stored.
            with page.expect_response(
                lambda response: "/upload?" in response.url and response.request.method == "POST" and response.ok
            ):
                page.locator("input[type=file]").first.set_input_files(str(video))
            try:
                # Attached, not visible: a loaded machine may still be decoding the first frame that gives it a size.
                page.locator("video").first.wait_for(state="attached", timeout=60_000)
            except playwright.Error as error:
                raise AssertionError(f"the player never showed the upload; browser console: {console}") from error
            generate.click()
            page.get_by_text("2 comment(s).").wait_for(timeout=60_000)
            grid = page.get_by_role("grid")
            playwright.expect(grid).to_contain_text("omg boss", timeout=10_000)  # rows render after the header
            table = " ".join(grid.inner_text().split())
            assert "time (s) comment score 0.5 first! -0.5 2 omg boss -1.25" in table
            assert page.locator("video").count() == 2  # the upload and the rendered copy
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    assert screenshot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and screenshot.stat().st_size > 10_000


def test_a_broken_upload_shows_the_reason(app_url, tmp_path):
    from gradio_client import Client, handle_file

    client = Client(app_url, verbose=False)
    with pytest.raises(Exception, match=r"broken\.mp4: not a readable media file"):
        client.predict(handle_file(str(write_not_media(tmp_path / "broken.mp4"))), None, None, api_name="/generate")
