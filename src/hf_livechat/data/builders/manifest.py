"""The list of VODs a dataset is built from: a JSONL or CSV manifest, or a folder whose files pair by name.

A row needs a chat log; the video and the transcript are optional. A row without a video is a chat-only VOD: its
clips are cut on the chat's own clock (to its last message, or to the row's `duration`), and its rows say that the
video is absent (`has_video` false) instead of carrying frames.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path


logger = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm", ".mov", ".flv", ".ts", ".avi", ".m4v")
CHAT_SUFFIXES = (".json", ".jsonl", ".xml", ".log", ".txt")
TRANSCRIPT_SUFFIXES = (".srt", ".vtt", ".ass", ".ssa")


class ManifestError(ValueError):
    """A manifest row is missing a field or points at a file that does not exist."""


@dataclass(frozen=True)
class VodSource:
    """One VOD of a build: its files and metadata. Paths are absolute.

    Attributes:
        vod_id: unique id of the VOD (default: the video's file stem, or the chat log's when there is no video).
        video: the video file, or `None` for a chat-only VOD (chat log, and maybe a transcript, without the video).
        chat: the chat log (any format `read_chat` detects).
        transcript: a sidecar SRT/VTT/ASS/JSON transcript, if any.
        streamer, category: metadata copied into every row.
        split: an explicit split for the whole VOD, overriding the assignment.
        duration: seconds of stream of a chat-only VOD (default: the time of its last kept message); a VOD with a
            video takes its length from the video (a `duration` in its row is not used).
    """

    vod_id: str
    video: Path | None
    chat: Path
    transcript: Path | None = None
    streamer: str = ""
    category: str = ""
    split: str | None = None
    duration: float | None = None

    @property
    def has_video(self) -> bool:
        return self.video is not None


def safe_id(text: str) -> str:
    """A file-name-safe form of a VOD id."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "vod"


def _chat_stem(path: Path) -> str:
    return path.stem.removesuffix(".live_chat")


def _duration(value, where: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        duration = float(value)
    except (TypeError, ValueError):
        raise ManifestError(f"{where}: duration must be a number of seconds, got {value!r}") from None
    if not math.isfinite(duration) or duration <= 0:
        raise ManifestError(f"{where}: duration must be a positive number of seconds, got {value!r}")
    return duration


def _source_from_row(row: dict, base: Path, where: str) -> VodSource:
    if not row.get("chat"):
        if not row.get("video"):
            raise ManifestError(
                f"{where}: the row has neither a chat log nor a video; a row needs a 'chat' log (the 'video' and "
                "'transcript' are optional: without a video the clips are cut on the chat's own clock)"
            )
        raise ManifestError(f"{where}: missing required field 'chat' (the live comments are the targets: a video alone gives no clip)")
    paths = {}
    for key in ("video", "chat", "transcript"):
        value = row.get(key)
        if value:
            path = (base / value).resolve()
            if not path.is_file():
                raise ManifestError(f"{where}: {key} file not found: {path}")
            paths[key] = path
    # A video's own length wins over the row's (manifests of VODs may list it for information).
    duration = _duration(row.get("duration"), where) if "video" not in paths else None
    vod_id = str(row.get("vod_id") or (paths["video"].stem if "video" in paths else _chat_stem(paths["chat"])))
    return VodSource(
        vod_id=vod_id,
        video=paths.get("video"),
        chat=paths["chat"],
        transcript=paths.get("transcript"),
        streamer=str(row.get("streamer") or ""),
        category=str(row.get("category") or ""),
        split=row.get("split") or None,
        duration=duration,
    )


def _is_chat_log(path: Path) -> bool:
    from ..chat import ChatFormatError, detect_chat_format

    try:
        detect_chat_format(path)
    except (ChatFormatError, OSError):
        return False
    return True


def _pair_folder(folder: Path) -> list[VodSource]:
    sources = []
    files = sorted(p for p in folder.iterdir() if p.is_file())
    by_stem: dict[str, list[Path]] = {}
    for path in files:
        by_stem.setdefault(_chat_stem(path), []).append(path)
    for stem, group in sorted(by_stem.items()):
        video = next((p for p in group if p.suffix.lower() in VIDEO_SUFFIXES), None)
        chats = [p for p in group if p.suffix.lower() in CHAT_SUFFIXES]
        transcript = next((p for p in group if p.suffix.lower() in TRANSCRIPT_SUFFIXES), None)
        if video is None:
            # A chat log without a video is a chat-only VOD; other JSON/text files (a manifest, notes) are not.
            chat = next((p for p in chats if _is_chat_log(p)), None)
            if chat is None:
                if chats:
                    logger.info("%s: %s is no chat log that hf-livechat reads; not a VOD", folder, chats[0].name)
                continue
        else:
            chat = chats[0] if chats else None
            if chat is None:
                raise ManifestError(f"{folder}: video {video.name} has no chat log named {stem}.json/.xml/.log/.txt")
        sources.append(
            VodSource(
                vod_id=stem,
                video=video and video.resolve(),
                chat=chat.resolve(),
                transcript=transcript and transcript.resolve(),
            )
        )
    if not sources:
        raise ManifestError(
            f"{folder}: no VOD found (a video {', '.join(VIDEO_SUFFIXES)} with its chat log, or a chat log alone)"
        )
    return sources


def read_manifest(path: str | os.PathLike) -> list[VodSource]:
    """Reads a JSONL or CSV manifest (one VOD per row: `chat`, optional `video`, `transcript`, `duration` (chat-only
    rows), `streamer`, `category`, `vod_id`, `split`; paths relative to the manifest), or pairs the files of a folder
    by name (`x.mp4` + `x.json` [+ `x.srt`], or a chat log alone: `x.json` [+ `x.srt`]), or takes one chat log as
    a chat-only VOD. VOD ids must be unique."""
    path = Path(path)
    if path.is_dir():
        sources = _pair_folder(path)
    elif path.suffix.lower() in set(CHAT_SUFFIXES) - {".jsonl"} and _is_chat_log(path):
        sources = [VodSource(vod_id=_chat_stem(path), video=None, chat=path.resolve())]
    elif path.suffix.lower() == ".csv":
        with open(path, newline="", encoding="utf-8") as handle:
            sources = [_source_from_row(row, path.parent, f"{path}:{i + 2}") for i, row in enumerate(csv.DictReader(handle))]
    else:
        sources = []
        with open(path, encoding="utf-8") as handle:
            for line_number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as error:
                    raise ManifestError(f"{path}:{line_number}: not valid JSON ({error.msg})") from None
                if not isinstance(row, dict):
                    raise ManifestError(f"{path}:{line_number}: expected a JSON object per line")
                sources.append(_source_from_row(row, path.parent, f"{path}:{line_number}"))
    seen: set[str] = set()
    for source in sources:
        if source.vod_id in seen:
            raise ManifestError(f"{path}: duplicate vod_id {source.vod_id!r}")
        seen.add(source.vod_id)
    return sources
