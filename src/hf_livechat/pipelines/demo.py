"""A Gradio app to watch a LiveChat model comment on a video: upload a video (and, optionally, its chat log and a
transcript), get it back with the generated comments scrolling over it, a table of the comments and the
JSON/SRT/ASS files.

Run it with ``python -m hf_livechat.pipelines.demo --model DIR_OR_REPO`` (or ``app.py`` on a Space); build it in
code with :func:`build_demo`, where ``generate_fn`` can replace the model (a test stub, a remote endpoint).
Needs the ``demo`` extra: ``pip install "hf-livechat[demo]"``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data.media import probe_media
from .render import render_comments
from .comment_files import validate_comments, write_comment_files

__all__ = ["DEFAULT_MODEL", "DemoResult", "build_demo", "generate_and_render", "main", "pipeline_generate_fn"]

DEFAULT_MODEL = "livechat-quickstart/model"  # what the quickstart trains
TASK = "video-comment-generation"
TABLE_HEADERS = ["time (s)", "comment", "score"]

# (video path, chat log path or None, transcript path or None) -> [{"time", "comment", ...}, ...]
GenerateFn = Callable[[str, "str | None", "str | None"], Sequence[Mapping[str, Any]]]


def pipeline_generate_fn(
    model: str = DEFAULT_MODEL, feature_model: str | None = None, **pipeline_kwargs: Any
) -> GenerateFn:
    """A ``generate_fn`` running ``pipeline("video-comment-generation", model=model)``.

    The pipeline (model weights, frame feature backbone) is loaded at the first call, so an app starts at once and
    fails on a missing model only when asked to generate; it is then reused by every later call.
    """
    lock = threading.Lock()
    loaded: list = []

    def commenter():
        with lock:  # Gradio runs requests in threads: load once
            if not loaded:
                from transformers import pipeline
                from transformers.pipelines import PIPELINE_REGISTRY

                from . import register_pipelines

                if TASK not in PIPELINE_REGISTRY.get_supported_tasks():
                    register_pipelines()
                extra = {"feature_model": feature_model} if feature_model else {}
                loaded.append(pipeline(TASK, model=model, **extra, **pipeline_kwargs))
        return loaded[0]

    def generate(video_path: str, chat_path: str | None, transcript_path: str | None):
        return commenter()({"video": video_path, "chat": chat_path, "transcript": transcript_path})

    return generate


@dataclass(frozen=True)
class DemoResult:
    """What one request produces: the video with comments burnt in, the comments and their files."""

    video: Path
    comments: list[dict[str, Any]]
    files: dict[str, Path]

    def table(self) -> list[list[Any]]:
        """Rows for the comment table: time (s), comment, score (blank when the generator gives none)."""
        return [
            [round(c["time"], 1), c["comment"], round(c["score"], 3) if c.get("score") is not None else None]
            for c in self.comments
        ]


def generate_and_render(
    video_path: str | os.PathLike,
    chat_path: str | os.PathLike | None,
    transcript_path: str | os.PathLike | None,
    *,
    generate_fn: GenerateFn,
    out_dir: str | os.PathLike,
    scroll_seconds: float = 8.0,
) -> DemoResult:
    """Generate comments for a video and write what the app shows: the rendered video and the comment files.

    Raises:
        MediaError: the video cannot be read.
        CommentFormatError: ``generate_fn`` returned malformed comments.
    """
    video_path = os.fspath(video_path)
    info = probe_media(video_path)  # a broken upload fails here, before the model runs
    comments = validate_comments(
        generate_fn(
            video_path,
            os.fspath(chat_path) if chat_path else None,
            os.fspath(transcript_path) if transcript_path else None,
        )
    )
    comments.sort(key=lambda comment: comment["time"])
    out_dir = Path(out_dir)
    stem = Path(video_path).stem
    files = write_comment_files(
        comments, out_dir / f"{stem}.comments", video_size=(info.width, info.height), scroll_seconds=scroll_seconds
    )
    video = render_comments(
        video_path, comments, out_dir / f"{stem}.danmaku.mp4", scroll_seconds=scroll_seconds, progress=False
    )
    return DemoResult(video=video, comments=comments, files=files)


def _import_gradio():
    try:
        import gradio
    except ImportError as error:
        raise ImportError('the demo needs Gradio: pip install "hf-livechat[demo]"') from error
    return gradio


def build_demo(
    model: str = DEFAULT_MODEL,
    feature_model: str | None = None,
    *,
    generate_fn: GenerateFn | None = None,
    title: str = "LiveChat: live comments for a video",
):
    """The Gradio app: video (+ optional chat log and transcript) in; video with scrolling comments, a comment table
    and the comment files out.

    Args:
        model: a LiveChat model folder or Hub id for the default ``generate_fn`` (loaded at the first request).
        feature_model: the frame feature backbone, when the model's config names none.
        generate_fn: ``(video_path, chat_path_or_None, transcript_path_or_None) -> [{"time", "comment", ...}]``;
            default :func:`pipeline_generate_fn` of ``model``.
        title: the page heading.

    Returns:
        A ``gradio.Blocks``; ``.launch()`` it.
    """
    gr = _import_gradio()
    generate_fn = generate_fn or pipeline_generate_fn(model, feature_model)
    # Each request writes into its own folder under one that lives (and is removed) with the app.
    work_dir = tempfile.TemporaryDirectory(prefix="hf-livechat-demo-")

    def on_generate(video: str | None, chat: str | None, transcript: str | None):
        if not video:
            raise gr.Error("Upload a video first.")
        try:
            result = generate_and_render(
                video, chat, transcript, generate_fn=generate_fn, out_dir=tempfile.mkdtemp(dir=work_dir.name)
            )
        except ValueError as error:  # bad uploads: unreadable video, chat log or transcript (all ValueErrors)
            raise gr.Error(str(error)) from error
        files = [str(path) for path in result.files.values()]
        summary = f"{len(result.comments)} comment(s)."
        return str(result.video), result.table(), files, summary

    with gr.Blocks(title=title) as demo:
        gr.Markdown(
            f"# {title}\n"
            "Upload a stream recording. The model comments every few seconds on the last 20 s of video, speech "
            "and chat; the comments scroll over the video as danmaku. A chat log (Twitch JSON/IRC, chat-downloader, "
            "YouTube live chat, Bilibili XML) and a transcript (SRT/VTT/ASS/Whisper JSON) are optional."
        )
        with gr.Row():
            with gr.Column():
                video_in = gr.Video(label="Video", sources=["upload"])
                chat_in = gr.File(label="Chat log (optional)", type="filepath")
                transcript_in = gr.File(label="Transcript (optional)", type="filepath")
                generate = gr.Button("Generate comments", variant="primary")
            with gr.Column():
                video_out = gr.Video(label="Video with comments", interactive=False)
                summary = gr.Markdown()
                table = gr.Dataframe(headers=TABLE_HEADERS, label="Comments", interactive=False, wrap=True)
                files_out = gr.File(label="Comment files (JSON, SRT, danmaku ASS)", file_count="multiple")
        generate.click(
            on_generate,
            inputs=[video_in, chat_in, transcript_in],
            outputs=[video_out, table, files_out, summary],
            api_name="generate",
        )
    return demo


def main(argv: Sequence[str] | None = None) -> None:
    """Launch the app: ``python -m hf_livechat.pipelines.demo --model DIR_OR_REPO [--port 7860] [--share]``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model",
        default=os.environ.get("HF_LIVECHAT_MODEL", DEFAULT_MODEL),
        help=f"LiveChat model folder or Hub id (default: $HF_LIVECHAT_MODEL, else {DEFAULT_MODEL})",
    )
    parser.add_argument("--feature-model", help="frame feature backbone, if the model's config names none")
    parser.add_argument("--host", default="127.0.0.1", help="0.0.0.0 to serve other machines")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--share", action="store_true", help="also serve through a public Gradio link")
    args = parser.parse_args(argv)
    build_demo(args.model, args.feature_model).launch(server_name=args.host, server_port=args.port, share=args.share)


if __name__ == "__main__":
    main()
