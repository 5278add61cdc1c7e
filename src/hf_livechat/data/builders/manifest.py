"""The list of VODs a dataset is built from: a JSONL or CSV manifest, or a folder whose files pair by name."""

from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path


VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm", ".mov", ".flv", ".ts", ".avi", ".m4v")
CHAT_SUFFIXES = (".json", ".jsonl", ".xml", ".log", ".txt")
TRANSCRIPT_SUFFIXES = (".srt", ".vtt", ".ass", ".ssa")


class ManifestError(ValueError):
    """A manifest row is missing a field or points at a file that does not exist."""


@dataclass(frozen=True)
class VodSource:
    """One VOD of a build: its files and metadata. Paths are absolute."""

    vod_id: str
    video: Path
    chat: Path
    transcript: Path | None = None
    streamer: str = ""
    category: str = ""
    split: str | None = None


def safe_id(text: str) -> str:
    """A file-name-safe form of a VOD id."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "vod"


def _source_from_row(row: dict, base: Path, where: str) -> VodSource:
    for key in ("video", "chat"):
        if not row.get(key):
            raise ManifestError(f"{where}: missing required field {key!r}")
    paths = {}
    for key in ("video", "chat", "transcript"):
        value = row.get(key)
        if value:
            path = (base / value).resolve()
            if not path.is_file():
                raise ManifestError(f"{where}: {key} file not found: {path}")
            paths[key] = path
    vod_id = str(row.get("vod_id") or paths["video"].stem)
    return VodSource(
        vod_id=vod_id,
        video=paths["video"],
        chat=paths["chat"],
        transcript=paths.get("transcript"),
        streamer=str(row.get("streamer") or ""),
        category=str(row.get("category") or ""),
        split=row.get("split") or None,
    )


def _pair_folder(folder: Path) -> list[VodSource]:
    sources = []
    files = sorted(p for p in folder.iterdir() if p.is_file())
    by_stem: dict[str, list[Path]] = {}
    for path in files:
        by_stem.setdefault(path.stem.removesuffix(".live_chat"), []).append(path)
    for stem, group in sorted(by_stem.items()):
        video = next((p for p in group if p.suffix.lower() in VIDEO_SUFFIXES), None)
        if video is None:
            continue
        chat = next((p for p in group if p.suffix.lower() in CHAT_SUFFIXES), None)
        if chat is None:
            raise ManifestError(f"{folder}: video {video.name} has no chat log named {stem}.json/.xml/.log/.txt")
        transcript = next((p for p in group if p.suffix.lower() in TRANSCRIPT_SUFFIXES), None)
        sources.append(VodSource(vod_id=stem, video=video.resolve(), chat=chat.resolve(), transcript=transcript and transcript.resolve()))
    if not sources:
        raise ManifestError(f"{folder}: no video files ({', '.join(VIDEO_SUFFIXES)}) found")
    return sources


def read_manifest(path: str | os.PathLike) -> list[VodSource]:
    """Reads a JSONL or CSV manifest (one VOD per row: `video`, `chat`, optional `transcript`, `streamer`,
    `category`, `vod_id`, `split`; paths relative to the manifest), or pairs the files of a folder by name
    (`x.mp4` + `x.json` [+ `x.srt`]). VOD ids must be unique."""
    path = Path(path)
    if path.is_dir():
        sources = _pair_folder(path)
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
