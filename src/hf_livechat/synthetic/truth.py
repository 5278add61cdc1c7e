"""Read the world's ground-truth logs (``<vod_id>.truth.json``) back: which cue each comment answers."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path


def comment_cue_labels(streams_dir: str | Path) -> Callable[[Mapping, str], str]:
    """A labeller for evaluation: ``(clip row, comment text) -> label`` where the label is the modality of the cue
    the comment answers in the clip's episode (``"video"``, ``"transcript"`` or ``"chat"``), ``"filler"`` for a
    response-window comment that answers nothing, and ``"unknown"`` for a text the logs do not hold there.

    A text that answers two cues of one episode (rare: two cues sharing a reply) takes the first cue's modality.
    """
    labels: dict[tuple[str, int, str], str] = {}
    episode_seconds: dict[str, float] = {}
    logs = sorted(Path(streams_dir).glob("*.truth.json"))
    if not logs:
        raise FileNotFoundError(f"no *.truth.json ground-truth logs in {streams_dir}")
    for path in logs:
        log = json.loads(path.read_text())
        vod_id = str(log["vod_id"])
        episode_seconds[vod_id] = float(log["episode_seconds"])
        for comment in log["comments"]:
            if comment["episode"] is None or comment["role"] not in ("response", "filler"):
                continue
            label = comment["cue"]["modality"] if comment["role"] == "response" else "filler"
            labels.setdefault((vod_id, int(comment["episode"]), comment["text"].strip()), label)

    def label_of(row: Mapping, text: str) -> str:
        vod_id = str(row["vod_id"])
        if vod_id not in episode_seconds:
            return "unknown"
        episode = int(float(row["start"]) // episode_seconds[vod_id])
        return labels.get((vod_id, episode, text.strip()), "unknown")

    return label_of
