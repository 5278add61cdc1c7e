"""Read the world's ground-truth logs (``<vod_id>.truth.json``) back: which cue each comment answers."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path


def _read_logs(streams_dir: str | Path) -> list[dict]:
    logs = sorted(Path(streams_dir).glob("*.truth.json"))
    if not logs:
        raise FileNotFoundError(f"no *.truth.json ground-truth logs in {streams_dir}")
    return [json.loads(path.read_text()) for path in logs]


def _episode_of(row: Mapping, episode_seconds: Mapping[str, float]) -> tuple[str, int] | None:
    """The VOD and episode index a clip row starts in, or None for a VOD the logs do not hold."""
    vod_id = str(row["vod_id"])
    if vod_id not in episode_seconds:
        return None
    return vod_id, int(float(row["start"]) // episode_seconds[vod_id])


def comment_cue_labels(streams_dir: str | Path) -> Callable[[Mapping, str], str]:
    """A labeller for evaluation: ``(clip row, comment text) -> label`` where the label is the modality of the cue
    the comment answers in the clip's episode (``"video"``, ``"transcript"`` or ``"chat"``), ``"filler"`` for a
    response-window comment that answers nothing, and ``"unknown"`` for a text the logs do not hold there.

    A text that answers two cues of one episode (rare: two cues sharing a reply) takes the first cue's modality.
    """
    labels: dict[tuple[str, int, str], str] = {}
    episode_seconds: dict[str, float] = {}
    for log in _read_logs(streams_dir):
        vod_id = str(log["vod_id"])
        episode_seconds[vod_id] = float(log["episode_seconds"])
        for comment in log["comments"]:
            if comment["episode"] is None or comment["role"] not in ("response", "filler"):
                continue
            label = comment["cue"]["modality"] if comment["role"] == "response" else "filler"
            labels.setdefault((vod_id, int(comment["episode"]), comment["text"].strip()), label)

    def label_of(row: Mapping, text: str) -> str:
        where = _episode_of(row, episode_seconds)
        return "unknown" if where is None else labels.get((*where, text.strip()), "unknown")

    return label_of


def response_label_counts(streams_dir: str | Path) -> Counter[str]:
    """How many response-window comments of the logs carry each label of `comment_cue_labels` (``"video"``,
    ``"transcript"``, ``"chat"``, ``"filler"``): the make-up of the targets a world offers."""
    label_of = comment_cue_labels(streams_dir)
    counts: Counter[str] = Counter()
    for log in _read_logs(streams_dir):
        episodes = {episode["index"]: episode for episode in log["episodes"]}
        for comment in log["comments"]:
            episode = episodes.get(comment["episode"])
            if episode is not None and comment["time"] >= episode["context_end"]:
                counts[label_of({"vod_id": log["vod_id"], "start": episode["start"]}, comment["text"])] += 1
    return counts


def cue_counts(streams_dir: str | Path) -> Counter[str]:
    """How many cues of each modality the logs' episodes carry."""
    return Counter(cue["modality"] for log in _read_logs(streams_dir) for e in log["episodes"] for cue in e["cues"])


def same_cue_judge(streams_dir: str | Path) -> Callable[[Mapping, str, str], bool]:
    """For `evaluate_model(also_correct=...)`: ``(clip row, ground-truth text, candidate text) -> bool``, whether the
    candidate is a reply, anywhere in the same VOD, to the cue the ground truth answers in the clip's episode.

    When a cue recurs within a VOD (``WorldConfig.cue_recurrence``), the `livechat` protocol's distractors (comments
    of other clips of the same video) include replies to that same cue: right answers that the protocol counts wrong.
    """
    cue_of: dict[tuple[str, int, str], tuple[str, str]] = {}
    replies_to: dict[tuple[str, str], set[tuple[str, str]]] = {}
    episode_seconds: dict[str, float] = {}
    for log in _read_logs(streams_dir):
        vod_id = str(log["vod_id"])
        episode_seconds[vod_id] = float(log["episode_seconds"])
        for comment in log["comments"]:
            if comment["role"] != "response" or comment["episode"] is None:
                continue
            cue = (comment["cue"]["modality"], comment["cue"]["key"])
            text = comment["text"].strip()
            cue_of.setdefault((vod_id, int(comment["episode"]), text), cue)
            replies_to.setdefault((vod_id, text), set()).add(cue)

    def judge(row: Mapping, ground_truth: str, candidate: str) -> bool:
        where = _episode_of(row, episode_seconds)
        cue = None if where is None else cue_of.get((*where, ground_truth.strip()))
        return cue is not None and cue in replies_to.get((where[0], candidate.strip()), ())

    return judge


def cue_reply_predictor(fit_streams_dir: str | Path, streams_dir: str | Path) -> Callable[[Mapping], float]:
    """What knowing the world gives an activity predictor, the ceiling a model's head is measured against:
    ``clip row -> expected comments in its response window``, from the cues its episode carries (read from the logs
    of `streams_dir`) and, for each cue key, its mean reply count in the training logs of `fit_streams_dir` (a key
    they never show: the mean over all their cues), plus the mean count of everything else (filler) there.

    No model can see the truth, and a cue's reply count is drawn afresh each time, so a head that ranks windows as
    well as this has learned all the world lets it."""
    replies: dict[str, list[int]] = {}
    other = []
    for log in _read_logs(fit_streams_dir):
        if log.get("split", "train") != "train":
            continue
        for episode in log["episodes"]:
            window = [c for c in log["comments"] if episode["context_end"] <= c["time"] < episode["end"]]
            answered = Counter(c["cue"]["key"] for c in window if c["role"] == "response" and c["cue"])
            keys = {cue["key"] for cue in episode["cues"]}  # a key cued twice in one episode: its replies once
            for key in keys:
                replies.setdefault(key, []).append(answered[key])
            other.append(len(window) - sum(answered[key] for key in keys))
    if not other:
        raise ValueError(f"no training logs (split 'train') in {fit_streams_dir} to learn the cues' reply counts from")
    mean_replies = {key: sum(counts) / len(counts) for key, counts in replies.items()}
    any_cue = sum(map(sum, replies.values())) / max(1, sum(map(len, replies.values())))
    background = sum(other) / len(other)
    cues_of, episode_seconds = {}, {}
    for log in _read_logs(streams_dir):
        episode_seconds[str(log["vod_id"])] = float(log["episode_seconds"])
        for episode in log["episodes"]:
            cues_of[str(log["vod_id"]), episode["index"]] = [cue["key"] for cue in episode["cues"]]

    def expected(row: Mapping) -> float:
        where = _episode_of(row, episode_seconds)
        if where not in cues_of:
            raise KeyError(f"the logs of {streams_dir} hold no episode for clip {row.get('vod_id')} at {row.get('start')} s")
        return background + sum(mean_replies.get(key, any_cue) for key in cues_of[where])

    return expected
