"""The resumable, multi-process build loop over VODs that every VOD -> Parquet dataset builder runs.

A builder subclasses `VodShardBuilder` and says how one VOD becomes rows (`build_vod`), what a row's schema is
(`row_features`) and how the card reads (`write_card`); its options extend `VodBuildOptions`. The loop writes one
shard per VOD atomically (`shards.write_parquet_shard`), records it in `build_state.json` (`state`), skips VODs
already written on a restart, and skips and reports a VOD that cannot be read. Several processes (`torchrun` /
`accelerate launch`, see `hf_livechat.distributed`) share the VODs out between them. With
`options.split_by_time`, a VOD's rows are cut in time order into one shard per split instead. No torch here (the
frame encoder is loaded lazily, and only when some VOD has a video).
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..chat import ChatFormatError, ChatStats
from ..clips import assign_splits, split_by_time
from ..media import MediaError
from .frames import FrameEncoder
from .manifest import ManifestError, VodSource, read_manifest, safe_id
from .shards import write_parquet_shard
from .state import (
    STATE_FILE,
    VodBuildOptions,
    fold_state_parts,
    load_build_state,
    options_fingerprint,
    save_build_state,
    state_part_name,
)


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
            f"built {self.vods_done} VODs ({self.hours:.2f} h of stream) in {self.seconds:.0f} s",
            f"{self.unit}: " + (", ".join(f"{split} {n}" for split, n in sorted(self.examples.items())) or "none"),
            f"comments in {self.unit}: {self.comments}",
            f"chat messages: {self.chat.summary()}",
        ]
        if self.notes:
            lines.append("notes: " + ", ".join(f"{k} {v}" for k, v in sorted(self.notes.items())))
        for vod_id, reason in self.vods_skipped.items():
            lines.append(f"skipped VOD {vod_id}: {reason}")
        return "\n".join(lines)


def record_shards(record: dict, unit: str) -> list[tuple[str, str, int]]:
    """`(split, shard path, rows)` of each shard a VOD's build-state record lists (none for a VOD that gave no rows).

    A record holds `shards` (`{split: path}`) and its row counts under `unit` (`{split: n}`); records written
    before time splits existed hold one `split`, `shard` and count, and read the same."""
    if record.get("status") != "done":
        return []
    if "shards" in record:
        return [(split, path, record[unit][split]) for split, path in sorted(record["shards"].items())]
    return [(record["split"], record["shard"], record[unit])] if record.get("shard") else []


def clear_out_dir(out_dir: str | os.PathLike, processes=None) -> None:
    """`--overwrite`: the main process deletes the output folder; the others wait until it is gone."""
    if processes is None or processes.process_index == 0:
        shutil.rmtree(out_dir, ignore_errors=True)
    if processes is not None and processes.num_processes > 1:
        processes.wait_for_everyone()


class VodShardBuilder:
    """The resumable build loop over VODs; subclasses define `build_vod`, `row_features` and `write_card`, and name
    their options class (a `VodBuildOptions` dataclass: its fingerprint guards restarts).
    """

    options_class: type[VodBuildOptions] = VodBuildOptions

    unit = "examples"
    # Builders whose rows need frames (a contrastive video model) refuse chat-only VODs.
    requires_video = False
    # The row column that orders a VOD's rows in time (`split_by_time`).
    time_column = "start"
    # Failures that make one VOD unusable without saying anything about the others.
    recoverable_errors: tuple[type[Exception], ...] = (MediaError, ChatFormatError, OSError)

    def __init__(self, out_dir: str | os.PathLike, options: VodBuildOptions | None = None, frame_encoder: FrameEncoder | None = None):
        self.out_dir = Path(out_dir)
        self.options = options if options is not None else self.options_class()
        self._frame_encoder = frame_encoder
        self._feature_dim: int | None = None
        self._device = None  # where a lazily loaded frame encoder runs (a multi-process build gives each its own)
        # Whether the rows hold frame features: a frame model is given and some VOD of the build has a video.
        self._store_features = bool(self.options.feature_model or frame_encoder is not None)

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
            from ..features import load_frame_encoder  # torch: only when frames are encoded

            self._frame_encoder = load_frame_encoder(self.options.feature_model, self.options.frame_size, device=self._device)
        return self._frame_encoder

    def card_feature_dim(self, state: dict) -> int | None:
        """The frame-feature size of the shards written so far (None when they hold no features)."""
        dims = {r["feature_dim"] for r in state["vods"].values() if record_shards(r, self.unit)} - {None}
        return next(iter(dims), None)

    def _encoder_feature_dim(self) -> int:
        """The frame encoder's feature size, before any frame of this process was encoded (a chat-only VOD's 0
        frames still need it): the encoder's `feature_dim`, else the size of one encoded black frame."""
        if self._feature_dim is None:
            encoder = self.frame_encoder
            dim = getattr(encoder, "feature_dim", None)
            if dim is None:
                black = np.zeros((1, self.options.frame_size, self.options.frame_size, 3), dtype=np.uint8)
                dim = np.asarray(encoder(black)).shape[-1]
            self._feature_dim = int(dim)
        return self._feature_dim

    def _load_state(self) -> dict:
        return load_build_state(self.out_dir, options_fingerprint(self.options))

    def _save_state(self, state: dict, name: str = STATE_FILE) -> None:
        save_build_state(self.out_dir, state, name)

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
        chat_only = [s.vod_id for s in sources if not s.has_video]
        if chat_only and self.requires_video:
            raise ManifestError(
                f"{type(self).__name__} needs a video for every VOD; {len(chat_only)} have only a chat log: "
                + ", ".join(chat_only[:5]) + (" ..." if len(chat_only) > 5 else "")
            )
        # Chat-only VODs need no frame model; with some videos in the build they get 0 frames of its feature size.
        self._store_features = self._store_features and len(chat_only) < len(sources)
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
        if pending and self.options.feature_model and self._store_features:
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
            state = fold_state_parts(self.out_dir, options_fingerprint(self.options))
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

    @classmethod
    def build_manifest(
        cls,
        manifest: str | os.PathLike | Sequence[VodSource],
        out_dir: str | os.PathLike,
        options: VodBuildOptions | None = None,
        on_error: str = "skip",
        frame_encoder: FrameEncoder | None = None,
        progress: bool = True,
        processes=None,
    ) -> BuildSummary:
        """Builds a dataset folder that `datasets.load_dataset(out_dir)` reads, resuming an interrupted build.

        Args:
            manifest: a JSONL/CSV manifest or a folder of paired files (see `read_manifest`), or `VodSource`s.
            out_dir: the dataset folder (`data/<split>/<vod>.parquet`, `README.md` card, `build_state.json`).
            options: what to build (default: `cls.options_class()`).
            on_error: `"skip"` a VOD that cannot be read (reported in the summary) or `"raise"`.
            frame_encoder: a callable mapping uint8 frames (N, H, W, 3) to features (N, D); defaults to
                `load_frame_encoder(options.feature_model, options.frame_size)`.
            progress: show a progress bar.
            processes: run as one of several processes sharing the VODs (`accelerate.PartialState()`; see `build`).
        """
        sources = read_manifest(manifest) if isinstance(manifest, (str, os.PathLike)) else list(manifest)
        return cls(out_dir, options, frame_encoder).build(sources, on_error=on_error, progress=progress, processes=processes)

    def _is_built(self, record: dict | None) -> bool:
        return bool(record and record["status"] == "done" and all((self.out_dir / path).is_file() for _, path, _ in record_shards(record, self.unit)))

    def _build_record(self, source: VodSource, split: str, on_error: str) -> dict:
        """Builds one VOD's shard; returns its state record (`status` "done" or "failed" with the reason)."""
        vod_summary = BuildSummary(unit=self.unit)
        try:
            rows = self.build_vod(source, split, vod_summary)
        except self.recoverable_errors as error:
            if on_error == "raise":
                raise
            return {"status": "failed", "reason": f"{type(error).__name__}: {error}"}
        by_split: dict[str, list[dict]] = {}
        if self.options.split_by_time and source.split is None:
            rows = sorted(rows, key=lambda row: row[self.time_column])
            for row, row_split in zip(rows, split_by_time(len(rows), self.options.split_by_time)):
                by_split.setdefault(row_split, []).append(row)
            by_split = self._without_overlap(by_split)
        elif rows:
            by_split[split] = rows
        shards = {name: self._write_shard(part, name, source.vod_id) for name, part in by_split.items()}
        return {
            "status": "done",
            "shards": {name: str(path.relative_to(self.out_dir)) for name, path in shards.items()},
            self.unit: {name: len(part) for name, part in by_split.items()},
            "hours": vod_summary.hours,
            "comments": vod_summary.comments,
            "chat": {"read": vod_summary.chat.read, "kept": vod_summary.chat.kept, "dropped": dict(vod_summary.chat.dropped), "skipped": vod_summary.chat.skipped},
            "notes": dict(vod_summary.notes),
            "feature_dim": self._feature_dim if rows and "video_features" in rows[0] else None,
        }

    def _without_overlap(self, by_split: dict[str, list[dict]]) -> dict[str, list[dict]]:
        """Time-split parts without the rows of an earlier part that reach into the next one (sliding clips), so
        that no comment is a target in two splits."""
        if "end" not in next(iter(by_split.values()), [{}])[0]:
            return by_split
        names = [name for name in ("train", "validation", "test") if by_split.get(name)]
        for earlier, later in zip(names, names[1:]):
            boundary = by_split[later][0][self.time_column]
            by_split[earlier] = [row for row in by_split[earlier] if row["end"] <= boundary]
        return {name: part for name, part in by_split.items() if part}

    def _add_record(self, summary: BuildSummary, vod_id: str, record: dict) -> None:
        if record["status"] != "done":
            summary.vods_skipped[vod_id] = record["reason"]
            return
        summary.vods_done += 1
        summary.hours += record["hours"]
        for split, _, count in record_shards(record, self.unit):
            summary.examples[split] += count
        summary.comments += record["comments"]
        chat = record["chat"]
        summary.chat.read += chat["read"]
        summary.chat.kept += chat["kept"]
        summary.chat.dropped.update(chat["dropped"])
        summary.chat.skipped += chat["skipped"]
        summary.notes.update(record["notes"])
