"""Synthetic live-comment features (LCAffect): one V2LC video-tower vector per clip, stored under the clip's own id.

**One vector per clip, whatever its length.** V2LC is trained on windows of `L = segment_length` seconds (8 s) at
`fps` frames per second (both read from the model's config when it records them). A clip `[start, end)` of
`d = end - start` seconds is seen through frames on the video's `k / fps` grid:

- `d < L`: the `L`-second window of the clip's source video centred on the clip, shifted to lie inside the source
  (so a 3 s utterance cut from a stream sees the 8 s around it). When the source is shorter than `L` (a file per
  clip, e.g. a MELD utterance) the window is the whole source, and the frames missing from the `L` seconds are
  masked: the video tower attends to real frames only.
- `d >= L`: `n = ceil(d / L)` windows of `L` seconds spread evenly from the clip's start to its end (the first
  starts at `start`, the last ends at `end`; they overlap unless `d` is a multiple of `L`). The clip's vector is the
  mean of the windows' L2-normalised vectors, normalised again.

Precomputed frame features (a `(frames, dim)` array per clip at `fps`) follow the same rule on frames: fewer than
`L * fps` frames are masked, more are cut into windows and averaged (there is no source to centre in).

**The store** is a folder of Parquet shards (`id`, `live_comment_features`) and a JSON sidecar `lc_features.json`
recording the model (a SHA-256 of its weights), the source (its path and a fingerprint of its clips) and the rule.
An extraction into a folder made by another model, from another source or with another rule is refused
(`StaleFeaturesError`) unless `overwrite=True`, which replaces it; one with the same settings resumes: shard `i`
holds clips `[i * shard_size, (i + 1) * shard_size)`, each shard is written atomically, finished shards are kept.
`load_lc_features(folder)` reads a finished store back as `{id: vector}`.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from datasets import Array2D, Dataset, Features, List, Value, concatenate_datasets, load_dataset, load_from_disk
from tqdm.auto import tqdm

from ..data.builders.frames import FrameEncoder, encode_run_frames
from ..data.builders.shards import atomic_write_text, write_parquet_shard
from ..data.media import probe_media


SIDECAR = "lc_features.json"
SHARD_PATTERN = "lc-features-{index:05d}-of-{count:05d}.parquet"
VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".flv", ".ts")
STORE_FORMAT = 1


class StaleFeaturesError(ValueError):
    """A feature folder holds vectors made by another model, from another source or with another rule."""


@dataclass(frozen=True)
class FeatureClip:
    """One benchmark clip: its row `id`, and either a `video` (the span `[start, end)`; `None` = the whole file)
    or precomputed `features` `(frames, dim)` at the extraction's fps."""

    id: str
    video: Path | None = None
    start: float | None = None
    end: float | None = None
    features: np.ndarray | None = None


@dataclass
class LcFeatureSummary:
    """What an extraction did."""

    output_dir: Path
    clips: int = 0
    written_shards: int = 0
    resumed_shards: int = 0
    feature_dim: int | None = None
    model_sha256: str = ""
    seconds: float = 0.0

    def format(self) -> str:
        return (
            f"{self.clips} clips -> {self.feature_dim}-d live-comment features in {self.output_dir} "
            f"({self.written_shards} shards written, {self.resumed_shards} already there) in {self.seconds:.1f} s; "
            f"model sha256 {self.model_sha256[:12]}"
        )


# -- sources ---------------------------------------------------------------------------------------------------------


def _read_clip_manifest(path: Path) -> list[FeatureClip]:
    """JSONL or CSV rows with `id`, `video` (relative to the manifest) and optional `start`, `end` seconds."""
    if path.suffix == ".csv":
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    else:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    clips = []
    for number, row in enumerate(rows, 1):
        if not row.get("id") or not row.get("video"):
            raise ValueError(f"{path}, row {number}: a clip needs an 'id' and a 'video' (got {sorted(row)})")
        video = Path(row["video"]) if Path(row["video"]).is_absolute() else path.parent / row["video"]
        span = [float(row[k]) if row.get(k) not in (None, "") else None for k in ("start", "end")]
        if span[0] is not None and span[1] is not None and span[1] <= span[0]:
            raise ValueError(f"{path}, row {number} (clip {row['id']}): end {span[1]} is not after start {span[0]}")
        clips.append(FeatureClip(str(row["id"]), video, *span))
    return clips


def open_frame_feature_source(source: str | os.PathLike | Dataset, id_column: str | None = None) -> Dataset:
    """A `Dataset` with `id` and `video_features` from a `Dataset`, a `save_to_disk` folder, a folder of Parquet
    shards (a `build-lcaffect` dataset: every split, `segment_id` as the id), or a folder of `<id>.npy` arrays."""
    if not isinstance(source, Dataset):
        folder = Path(source)
        if (folder / "dataset_info.json").is_file():
            source = load_from_disk(str(folder))
        elif parquet := sorted(str(p) for p in folder.rglob("*.parquet")):
            source = load_dataset("parquet", data_files=parquet, split="train")
        else:
            arrays = sorted(folder.glob("*.npy"))
            if not arrays:
                raise ValueError(f"{folder}: no videos, *.npy, *.parquet or dataset_info.json found")
            dim = np.load(arrays[0], mmap_mode="r").shape[-1]
            rows = {"id": [p.stem for p in arrays], "video_features": [np.load(p, allow_pickle=False).astype(np.float32) for p in arrays]}
            source = Dataset.from_dict(rows, features=Features({"id": Value("string"), "video_features": Array2D((None, dim), "float32")}))
    id_column = id_column or ("id" if "id" in source.column_names else "segment_id")
    for column in (id_column, "video_features"):
        if column not in source.column_names:
            raise ValueError(f"frame-feature source has no {column!r} column (columns: {source.column_names})")
    return source.select_columns([id_column, "video_features"]).rename_columns({id_column: "id"} if id_column != "id" else {})


def read_clips(source, id_column: str | None = None) -> tuple[list[FeatureClip], str]:
    """Clips and a fingerprint of the source: a JSONL/CSV manifest of clips, a folder of videos (id = file stem), a
    frame-feature source (see `open_frame_feature_source`), or a list of `FeatureClip`s."""
    if isinstance(source, (list, tuple)):
        clips = list(source)
    elif not isinstance(source, Dataset) and not Path(source).exists():
        raise FileNotFoundError(f"clip source not found: {source}")
    elif isinstance(source, Dataset) or not Path(source).is_file() and not _video_files(Path(source)):
        dataset = open_frame_feature_source(source, id_column).with_format("numpy", columns=["video_features"], output_all_columns=True)
        clips = [FeatureClip(str(row["id"]), features=np.asarray(row["video_features"], dtype=np.float32)) for row in dataset]
    else:
        path = Path(source)
        clips = _read_clip_manifest(path) if path.is_file() else [FeatureClip(p.stem, p) for p in _video_files(path)]
    # By content, not by path or object: the same clips give the same fingerprint in a later session (resume).
    fingerprint = _sha256(json.dumps([
        [c.id, c.video.name if c.video else None, c.video.stat().st_size if c.video and c.video.is_file() else None,
         c.start, c.end, _array_digest(c.features)]
        for c in clips
    ]))  # fmt: skip
    ids = [c.id for c in clips]
    if not clips:
        raise ValueError(f"{source}: no clips found")
    if len(set(ids)) != len(ids):
        duplicates = sorted(i for i, n in Counter(ids).items() if n > 1)
        raise ValueError(f"clip ids must be unique (each names one benchmark row); repeated: {duplicates[:5]}")
    return clips, fingerprint


def _video_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES) if folder.is_dir() else []


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _array_digest(array) -> str | None:
    return None if array is None else hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()[:16]


def model_weights_sha256(model: torch.nn.Module) -> str:
    """SHA-256 of a model's weights (names, dtypes, shapes and bytes, in name order): two models share it exactly
    when they compute the same function."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


# -- the rule --------------------------------------------------------------------------------------------------------


def clip_windows(start: float, end: float, source_duration: float | None, segment_length: float, fps: float) -> list[list[float]]:
    """Frame times (on the `k / fps` grid) of the windows that give a clip `[start, end)` its one vector (see the
    module docstring for the rule). `source_duration`: length of the video the clip is cut from (`None`: unknown,
    the clip is its own source)."""
    if end <= start:
        raise ValueError(f"clip end {end} is not after its start {start}")
    per_window = max(1, math.ceil(segment_length * fps - 1e-9))
    source_end = source_duration if source_duration is not None else end
    if end - start < segment_length:
        if source_end - 0.0 >= segment_length:
            centre = (start + end) / 2
            first = min(max(centre - segment_length / 2, 0.0), source_end - segment_length)
            starts = [first]
        else:  # the whole source, the rest of the window masked
            ticks = [k / fps for k in range(math.ceil(source_end * fps - 1e-9))] or [0.0]
            return [ticks[:per_window]]
    else:
        count = math.ceil((end - start) / segment_length - 1e-9)
        starts = np.linspace(start, end - segment_length, count).tolist()
    windows = []
    for window_start in starts:
        first_tick = round(window_start * fps)
        ticks = [(first_tick + k) / fps for k in range(per_window)]
        windows.append([t for t in ticks if t < source_end - 1e-9] or [first_tick / fps])
    return windows


def frame_windows(features: np.ndarray, frames_per_window: int) -> list[np.ndarray]:
    """The same rule on a clip's precomputed `(frames, dim)` features."""
    frames = len(features)
    if frames == 0:
        raise ValueError("a clip has no frames")
    if frames <= frames_per_window:
        return [features]
    count = math.ceil(frames / frames_per_window - 1e-9)
    starts = np.round(np.linspace(0, frames - frames_per_window, count)).astype(int)
    return [features[s : s + frames_per_window] for s in starts]


# -- extraction ------------------------------------------------------------------------------------------------------


def _model_rule(model, segment_length, fps, frame_size, feature_model) -> dict:
    config = model.config
    if getattr(config, "video_encoder_type", "frame_features") != "frame_features":
        raise ValueError("live-comment features are extracted with a V2LC model over frame features (video_encoder_type='frame_features')")
    rule = {
        "segment_length": float(segment_length or getattr(config, "segment_length", None) or 8.0),
        "fps": float(fps or getattr(config, "fps", None) or 1.0),
        "frame_size": int(frame_size or getattr(config, "frame_size", None) or 224),
        "feature_model": feature_model or getattr(config, "feature_model", None),
        "normalize": True,
    }
    frames = math.ceil(rule["segment_length"] * rule["fps"] - 1e-9)
    if frames > config.max_video_frames:
        raise ValueError(f"{rule['segment_length']:g} s windows at {rule['fps']:g} fps are {frames} frames, over the model's max_video_frames ({config.max_video_frames})")
    return rule


def _check_store(output_dir: Path, expected: dict, overwrite: bool) -> None:
    """Refuses (or, with `overwrite`, clears) a folder holding features of another model, source or rule."""
    sidecar = output_dir / SIDECAR
    shards = list(output_dir.glob("lc-features-*.parquet"))
    if not sidecar.is_file() and not shards:
        return
    if sidecar.is_file():
        recorded = json.loads(sidecar.read_text())
        checks = {
            "model weights (sha256)": (recorded.get("model", {}).get("sha256"), expected["model"]["sha256"]),
            "source": (recorded.get("source", {}).get("fingerprint"), expected["source"]["fingerprint"]),
            "rule": (recorded.get("rule"), expected["rule"]),
            "shard size": (recorded.get("store", {}).get("shard_size"), expected["store"]["shard_size"]),
        }
        differences = [f"{what}: {old!r} there, {new!r} now" for what, (old, new) in checks.items() if old != new]
    else:
        differences = ["no lc_features.json: made by an unknown model"]
    if not differences:
        return
    if not overwrite:
        raise StaleFeaturesError(
            f"{output_dir} holds live-comment features made differently ({'; '.join(differences)}). They would be mixed "
            "with or mistaken for the new ones: pass --overwrite (overwrite=True) to replace them, or choose another folder."
        )
    for path in [*shards, sidecar]:
        path.unlink(missing_ok=True)


def _write_sidecar(output_dir: Path, record: dict) -> None:
    atomic_write_text(output_dir / SIDECAR, json.dumps(record, indent=2))


@torch.no_grad()
def _embed(model, arrays: list[np.ndarray], device, dtype) -> np.ndarray:
    """`(frames, dim)` windows -> their L2-normalised video-tower vectors."""
    frames = max(len(a) for a in arrays)
    features = torch.zeros(len(arrays), frames, arrays[0].shape[1])
    mask = torch.zeros(len(arrays), frames, dtype=torch.long)
    for i, array in enumerate(arrays):
        features[i, : len(array)] = torch.from_numpy(array)
        mask[i, : len(array)] = 1
    embeds = model.get_video_features(features.to(device, dtype), mask.to(device))
    return torch.nn.functional.normalize(embeds.float(), dim=-1).cpu().numpy()


def _clip_arrays(clip: FeatureClip, rule: dict, encoder, frames_per_window: int) -> list[np.ndarray]:
    if clip.features is not None:
        return frame_windows(clip.features, frames_per_window)
    info = probe_media(clip.video)
    if not info.has_video:
        raise ValueError(f"{clip.video}: no video stream (clip {clip.id})")
    duration = info.duration or 0.0
    start = clip.start if clip.start is not None else 0.0
    end = min(clip.end if clip.end is not None else duration, duration)
    if end <= start:
        raise ValueError(f"clip {clip.id}: [{start}, {end}) lies outside its video {clip.video} ({duration:.2f} s)")
    windows = clip_windows(start, end, duration, rule["segment_length"], rule["fps"])
    size = (rule["frame_size"], rule["frame_size"])
    frames = encode_run_frames(clip.video, windows, rule["fps"], size, encoder)
    arrays = []
    for window in windows:
        indices = [round(t * rule["fps"]) for t in window if round(t * rule["fps"]) in frames]
        if not indices:
            raise ValueError(f"clip {clip.id}: no frame could be decoded from {clip.video} in {window[0]:.1f}-{window[-1]:.1f} s")
        arrays.append(np.stack([frames[i] for i in indices]))
    return arrays


def _frame_encoder(rule: dict) -> FrameEncoder:
    from ..data.features import load_frame_encoder

    if not rule["feature_model"]:
        raise ValueError("the V2LC config names no feature_model: pass the image model its frame features came from")
    return load_frame_encoder(rule["feature_model"], rule["frame_size"])


@torch.no_grad()
def extract_lc_features(
    model,
    source,
    output_dir: str | os.PathLike,
    *,
    segment_length: float | None = None,
    fps: float | None = None,
    frame_size: int | None = None,
    feature_model: str | None = None,
    frame_encoder: FrameEncoder | None = None,
    id_column: str | None = None,
    batch_size: int = 64,
    shard_size: int = 1000,
    overwrite: bool = False,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
    progress: bool = True,
) -> LcFeatureSummary:
    """One L2-normalised live-comment vector per clip of `source`, under the clip's id, into the store `output_dir`
    (see the module docstring for the rule and the store).

    Args:
        model: a V2LC model over frame features (`V2LCModel` or anything with its `get_video_features` and config).
        source: a JSONL/CSV manifest of clips (`id`, `video`, optional `start` / `end`), a folder of videos (one clip
            per file, id = file stem), frame features (`Dataset`, Parquet / `save_to_disk` / `*.npy` folder, a
            `build-lcaffect` dataset), or a list of `FeatureClip`s.
        segment_length, fps, frame_size, feature_model: the window rule and the frame features; default: what the
            V2LC config records (its training data's), else 8 s, 1 fps, 224 px.
        frame_encoder: a callable mapping uint8 frames (N, H, W, 3) to features (N, D), instead of `feature_model`.
        id_column: the id column of a frame-feature source (default `id`, else `segment_id`).
        shard_size: clips per Parquet shard (the unit of resuming).
        overwrite: replace a store made by another model, source or rule instead of refusing.
        device, dtype: where and in which precision the video tower runs (default: where it is, float32 on CPU).
    """
    started = time.perf_counter()
    output_dir = Path(output_dir)
    rule = _model_rule(model, segment_length, fps, frame_size, feature_model)
    clips, fingerprint = read_clips(source, id_column)
    if any(c.features is not None for c in clips):
        dims = {c.features.shape[-1] for c in clips if c.features is not None}
        if dims != {model.config.video_feature_dim}:
            raise ValueError(f"frame features are {sorted(dims)}-d but the model expects video_feature_dim={model.config.video_feature_dim}")
    model.eval()
    if device is not None or dtype is not None:
        model.to(device=device, dtype=dtype)
    parameter = next(model.parameters())
    record = {
        "format": STORE_FORMAT,
        "model": {"sha256": model_weights_sha256(model), "name_or_path": getattr(model, "name_or_path", None) or None,
                  "projection_dim": getattr(model.config, "projection_dim", None)},
        "source": {"path": str(source) if isinstance(source, (str, os.PathLike)) else type(source).__name__, "fingerprint": fingerprint},
        "rule": rule,
        "store": {"shard_size": shard_size, "num_clips": len(clips), "num_shards": max(1, math.ceil(len(clips) / shard_size))},
        "complete": False,
    }  # fmt: skip
    output_dir.mkdir(parents=True, exist_ok=True)
    _check_store(output_dir, record, overwrite)
    _write_sidecar(output_dir, record)
    summary = LcFeatureSummary(output_dir, len(clips), model_sha256=record["model"]["sha256"])
    encoder = None
    frames_per_window = math.ceil(rule["segment_length"] * rule["fps"] - 1e-9)
    count = record["store"]["num_shards"]
    bar = tqdm(total=len(clips), desc="live-comment features", unit="clip", disable=not progress)
    for index in range(count):
        path = output_dir / SHARD_PATTERN.format(index=index, count=count)
        chunk = clips[index * shard_size : (index + 1) * shard_size]
        if path.is_file():
            summary.resumed_shards += 1
            bar.update(len(chunk))
            continue
        if encoder is None and any(c.features is None for c in chunk):
            encoder = frame_encoder or _frame_encoder(rule)
        windows, owners = [], []
        for position, clip in enumerate(chunk):
            arrays = _clip_arrays(clip, rule, encoder, frames_per_window)
            if arrays[0].shape[1] != model.config.video_feature_dim:
                raise ValueError(
                    f"frame features are {arrays[0].shape[1]}-d but the model expects video_feature_dim={model.config.video_feature_dim}: "
                    "use the image model the V2LC model was trained with"
                )
            windows += arrays
            owners += [position] * len(arrays)
            bar.update(1)
        vectors = np.concatenate([_embed(model, windows[i : i + batch_size], parameter.device, parameter.dtype) for i in range(0, len(windows), batch_size)])
        # A clip's vector: the mean of its windows' unit vectors, normalised again.
        sums = np.zeros((len(chunk), vectors.shape[1]), dtype=np.float64)
        np.add.at(sums, np.asarray(owners), vectors)
        clip_vectors = (sums / np.linalg.norm(sums, axis=1, keepdims=True).clip(min=1e-12)).astype(np.float32)
        _write_shard(path, [c.id for c in chunk], clip_vectors)
        summary.written_shards += 1
    bar.close()
    summary.feature_dim = int(model.config.projection_dim)
    record["complete"] = True
    record["feature_dim"] = summary.feature_dim
    _write_sidecar(output_dir, record)
    summary.seconds = time.perf_counter() - started
    return summary


def _write_shard(path: Path, ids: list[str], vectors: np.ndarray) -> None:
    features = Features({"id": Value("string"), "live_comment_features": List(Value("float32"))})
    write_parquet_shard({"id": ids, "live_comment_features": vectors.tolist()}, features, path)  # absent or complete


# -- reading the store -----------------------------------------------------------------------------------------------


def lc_feature_store_info(folder: str | os.PathLike) -> dict:
    """The sidecar of a feature store: model sha256, source, rule, clip count, whether it is complete."""
    sidecar = Path(folder) / SIDECAR
    if not sidecar.is_file():
        raise FileNotFoundError(
            f"{folder}: no {SIDECAR}; live-comment features must come from `hf-livechat extract-lc-features`, which records "
            "the model and source that made them"
        )
    return json.loads(sidecar.read_text())


def load_lc_features(folder: str | os.PathLike, model_sha256: str | None = None) -> dict[str, np.ndarray]:
    """`{clip id: float32 vector}` of a finished feature store. Refuses an unfinished store, one whose shards do
    not match its sidecar, and (with `model_sha256`) one made by another model."""
    info = lc_feature_store_info(folder)
    if not info.get("complete"):
        raise ValueError(f"{folder}: the extraction did not finish; run extract-lc-features again to complete it")
    if model_sha256 is not None and info["model"]["sha256"] != model_sha256:
        raise StaleFeaturesError(f"{folder}: features of model {info['model']['sha256'][:12]}, not of {model_sha256[:12]}")
    shards = sorted(Path(folder).glob("lc-features-*.parquet"))
    if len(shards) != info["store"]["num_shards"]:
        raise ValueError(f"{folder}: {len(shards)} shards on disk but the sidecar records {info['store']['num_shards']}")
    table = concatenate_datasets([Dataset.from_parquet(str(p)) for p in shards]) if len(shards) > 1 else Dataset.from_parquet(str(shards[0]))
    vectors = np.asarray(table.with_format("numpy")["live_comment_features"], dtype=np.float32)
    ids = table["id"]
    if len(ids) != info["store"]["num_clips"] or len(set(ids)) != len(ids):
        raise ValueError(f"{folder}: {len(ids)} rows ({len(set(ids))} ids) but the sidecar records {info['store']['num_clips']} clips")
    return dict(zip(ids, vectors))


__all__ = [
    "FeatureClip",
    "LcFeatureSummary",
    "SIDECAR",
    "StaleFeaturesError",
    "clip_windows",
    "extract_lc_features",
    "frame_windows",
    "lc_feature_store_info",
    "load_lc_features",
    "model_weights_sha256",
    "open_frame_feature_source",
    "read_clips",
]
