"""Synthetic live-comment features: a V2LC video tower run over frame-feature sequences, written as Parquet shards.

LCAffect feeds these vectors to an affect classifier as a fourth modality. The job is resumable: shard `i` covers
rows `[i * shard_size, (i + 1) * shard_size)` of the source, a shard already on disk is skipped, and every shard is
written to a temporary file first and renamed into place, so an interrupted run never leaves a half-written shard.

`extract_segment_lc_features` goes from videos (or a segment dataset built by `build-lcaffect`) to the same
vectors: frames at 1 fps, frame features, the V2LC video tower over 8-second segments, one shard per VOD.

The model is passed in (anything with V2LC's `get_video_features(video_features, video_mask)`); this module does not
import the model code (the command line loads it with `AutoModel`).
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from datasets import Array2D, Dataset, Features, List, Value, load_dataset, load_from_disk
from tqdm.auto import tqdm

from .builders.common import FrameEncoder, encode_run_frames
from .builders.lcaffect import SegmentConfig, make_segments
from .builders.manifest import VodSource, read_manifest, safe_id
from .media import MediaError, probe_media


SHARD_PATTERN = "lc-features-{index:05d}-of-{count:05d}.parquet"


@dataclass
class LcFeatureSummary:
    """What an extraction run did."""

    output_dir: Path
    num_rows: int
    num_shards: int
    written_shards: int
    skipped_shards: int
    feature_dim: int | None


def open_frame_feature_source(source: str | Path | Dataset) -> Dataset:
    """A `Dataset` from a `Dataset`, a `save_to_disk` folder, a folder of Parquet shards, or a folder of `<id>.npy`
    arrays of shape (frames, dim)."""
    if isinstance(source, Dataset):
        return source
    source = Path(source)
    if not source.is_dir():
        raise FileNotFoundError(f"Frame-feature source not found (expected a folder): {source}")
    if (source / "dataset_info.json").is_file():
        return load_from_disk(str(source))
    parquet = sorted(str(p) for p in source.rglob("*.parquet"))
    if parquet:
        return load_dataset("parquet", data_files=parquet, split="train")
    arrays = sorted(source.glob("*.npy"))
    if not arrays:
        raise ValueError(f"{source}: no dataset_info.json, *.parquet or *.npy frame features found")

    def rows():
        for path in arrays:
            features = np.load(path, allow_pickle=False)
            if features.ndim != 2:
                raise ValueError(f"{path}: frame features must have shape (frames, dim), got {features.shape}")
            yield {"id": path.stem, "video_features": features.astype(np.float32)}

    dim = np.load(arrays[0], mmap_mode="r").shape[-1]
    features = Features({"id": Value("string"), "video_features": Array2D(shape=(None, dim), dtype="float32")})
    return Dataset.from_generator(rows, features=features)


@torch.no_grad()
def extract_lc_features(
    model,
    source: str | Path | Dataset,
    output_dir: str | Path,
    *,
    id_column: str = "id",
    features_column: str = "video_features",
    keep_columns: Sequence[str] = (),
    batch_size: int = 32,
    shard_size: int = 1000,
    normalize: bool = True,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> LcFeatureSummary:
    """Runs `model.get_video_features` over every row's frame features and writes `id_column` + `keep_columns` +
    `live_comment_features` (one `projection_dim` vector per row) as Parquet shards in `output_dir`.

    Args:
        model: a V2LC model (frame-feature video tower).
        source: see `open_frame_feature_source`; rows need `id_column` and `features_column` (frames, dim).
        output_dir: folder of the shards (`lc-features-00000-of-00004.parquet`...); `load_dataset("parquet",
            data_dir=output_dir)` reads them back.
        id_column: the row id, written under the same name.
        keep_columns: more columns of the source copied to the output (e.g. `vod_id`, `start`, `end`).
        batch_size: segments per forward pass.
        shard_size: rows per shard. Resuming needs the same source and shard size as the interrupted run.
        normalize: L2-normalise the vectors (the space V2LC's contrastive loss uses).
        device: where to run the model (its current device by default).
        progress: show a tqdm bar.
    """
    dataset = open_frame_feature_source(source)
    for column in (id_column, features_column, *keep_columns):
        if column not in dataset.column_names:
            raise ValueError(f"Frame-feature source has no column {column!r} (columns: {dataset.column_names})")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    model.eval()
    if device is not None:
        model.to(device)
    device = next(model.parameters()).device

    num_shards = max(1, math.ceil(len(dataset) / shard_size))
    written = skipped = 0
    feature_dim = None
    bar = tqdm(total=len(dataset), desc="live-comment features", unit="segment", disable=not progress)
    for index in range(num_shards):
        path = output_dir / SHARD_PATTERN.format(index=index, count=num_shards)
        rows = range(index * shard_size, min((index + 1) * shard_size, len(dataset)))
        if path.is_file():
            skipped += 1
            bar.update(len(rows))
            continue
        shard = dataset.select(rows).with_format("numpy", columns=[features_column])
        vectors = []
        for start in range(0, len(shard), batch_size):
            batch = [np.asarray(f, dtype=np.float32) for f in shard[start : start + batch_size][features_column]]
            vectors.append(_embed(model, batch, device, normalize))
            bar.update(len(batch))
        vectors = np.concatenate(vectors) if vectors else np.zeros((0, 0), dtype=np.float32)
        feature_dim = int(vectors.shape[1]) if len(vectors) else feature_dim
        columns = dataset.select(rows).select_columns([id_column, *keep_columns])
        schema = {id_column: Value("string"), **{c: dataset.features[c] for c in keep_columns}}
        _write_shard(path, {**columns.to_dict(), id_column: [str(i) for i in columns[id_column]]}, schema, vectors)
        written += 1
    bar.close()
    return LcFeatureSummary(output_dir, len(dataset), num_shards, written, skipped, feature_dim)


@torch.no_grad()
def _embed(model, batch: list[np.ndarray], device, normalize: bool) -> np.ndarray:
    """One batch of `(frames, dim)` arrays -> `(len(batch), projection_dim)` video-tower vectors."""
    embeds = model.get_video_features(**_pad(batch, device)).float()
    if normalize:
        embeds = torch.nn.functional.normalize(embeds, dim=-1)
    return embeds.cpu().numpy()


def _pad(batch: list[np.ndarray], device) -> dict[str, torch.Tensor]:
    frames = max(max(f.shape[0] for f in batch), 1)
    dim = next((f.shape[-1] for f in batch if f.ndim == 2), None)
    features = torch.zeros(len(batch), frames, dim)
    mask = torch.zeros(len(batch), frames, dtype=torch.long)
    for i, f in enumerate(batch):
        if f.size:
            features[i, : f.shape[0]] = torch.tensor(f)
            mask[i, : f.shape[0]] = 1
    return {"video_features": features.to(device), "video_mask": mask.to(device)}


def _write_shard(path: Path, columns: dict[str, list], schema: dict, vectors: np.ndarray) -> None:
    features = Features({**schema, "live_comment_features": List(Value("float32"))})
    shard = Dataset.from_dict({**columns, "live_comment_features": vectors.tolist()}, features=features)
    temporary = path.with_name(f".{path.name}.tmp")
    shard.to_parquet(str(temporary))
    os.replace(temporary, path)  # atomic: a shard is either absent or complete



# -- from videos or a segment dataset --------------------------------------------------------------------------------


@dataclass
class SegmentLcFeatureSummary:
    """What `extract_segment_lc_features` did (shards on disk from an earlier run count as resumed)."""

    output_dir: Path
    segments: int = 0
    written_shards: int = 0
    resumed_shards: int = 0
    vods_skipped: dict[str, str] = field(default_factory=dict)
    feature_dim: int | None = None
    seconds: float = 0.0

    def format(self) -> str:
        lines = [
            f"{self.segments} segments -> {self.feature_dim}-d live-comment features in {self.output_dir} "
            f"({self.written_shards} shards written, {self.resumed_shards} already there) in {self.seconds:.0f} s"
        ]
        lines += [f"skipped VOD {vod_id}: {reason}" for vod_id, reason in self.vods_skipped.items()]
        return "\n".join(lines)


def is_segment_dataset(path: str | os.PathLike) -> bool:
    """Whether `path` is a dataset folder written by a builder (`data/<split>/*.parquet`), not a video folder."""
    return Path(path).is_dir() and any(Path(path).glob("data/*/*.parquet"))


def _check_model_fits(model, frames: int | None, feature_dim: int | None) -> None:
    """Clear errors for inputs the video tower cannot take (it would fail deep inside, or silently misread them)."""
    config = model.config
    if getattr(config, "video_encoder_type", "frame_features") != "frame_features":
        raise ValueError("Live-comment features from segments need a V2LC model over frame features (video_encoder_type='frame_features')")
    if frames is not None and frames > config.max_video_frames:
        raise ValueError(f"Segments of {frames} frames exceed the model's max_video_frames ({config.max_video_frames})")
    if feature_dim is not None and feature_dim != config.video_feature_dim:
        raise ValueError(
            f"Frame features are {feature_dim}-d but the model expects video_feature_dim={config.video_feature_dim}: "
            "use the feature model the V2LC model was trained with"
        )


@torch.no_grad()
def extract_segment_lc_features(
    model,
    source: str | os.PathLike | Sequence[VodSource],
    output_dir: str | os.PathLike,
    *,
    feature_model: str | None = None,
    frame_encoder: FrameEncoder | None = None,
    segment_length: float = 8.0,
    stride: float | None = None,
    fps: float = 1.0,
    frame_size: int = 224,
    batch_size: int = 32,
    normalize: bool = True,
    device: str | torch.device | None = None,
    on_error: str = "skip",
    progress: bool = True,
) -> SegmentLcFeatureSummary:
    """Synthetic live-comment features of video segments: `segment_id`, `vod_id`, `start`, `end` and
    `live_comment_features` (the V2LC video tower's `projection_dim` vector) per segment, as Parquet.

    From a **manifest** (JSONL/CSV or a folder of paired files, see `read_manifest`; only the videos are read): every
    `segment_length` window on the grid of `stride` (default: the segment length) that ends within a video, frames at
    `fps` encoded by the image model, one shard `<vod>.parquet` per VOD. Segment ids match `build-lcaffect`'s for the
    same windowing. From a **segment dataset folder** (`build-lcaffect` output): the rows' own `video_features`,
    one folder of shards per split (see `extract_lc_features`).

    Both resume: a shard already on disk is kept, and every shard is written atomically.

    Args:
        model: a V2LC model over frame features.
        source: manifest path, folder of videos + chat logs, segment dataset folder, or `VodSource`s.
        output_dir: where the shards go; `load_dataset("parquet", data_dir=output_dir)` reads them.
        feature_model: image model for frame features (`"efficientnet-lite0"` for the offline backbone); defaults to
            the `feature_model` the V2LC config names. Its features must have the model's `video_feature_dim`.
        frame_encoder: a callable mapping uint8 frames (N, H, W, 3) to features (N, D), instead of `feature_model`.
        frame_size: side of the square frames given to the feature model.
        batch_size: segments per forward pass of the video tower.
        normalize: L2-normalise the vectors (the space V2LC's contrastive loss uses).
        on_error: `"skip"` a video that cannot be read (reported in the summary) or `"raise"`.
    """
    if on_error not in ("skip", "raise"):
        raise ValueError(f"on_error must be 'skip' or 'raise', got {on_error!r}")
    started = time.perf_counter()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    model.eval()
    if device is not None:
        model.to(device)
    device = next(model.parameters()).device
    summary = SegmentLcFeatureSummary(output_dir)

    if not isinstance(source, (str, os.PathLike)) or not is_segment_dataset(source):
        sources = read_manifest(source) if isinstance(source, (str, os.PathLike)) else list(source)
        config = SegmentConfig(segment_length=segment_length, stride=stride, fps=fps, min_comments=0, max_comments=None)
        _check_model_fits(model, config.frames_per_segment, None)
        encoder = frame_encoder or _frame_encoder(model, feature_model, frame_size)
        _check_model_fits(model, None, getattr(encoder, "feature_dim", None))  # fail before decoding anything
        for vod in tqdm(sources, desc="live-comment features", unit="vod", disable=not progress):
            shard = output_dir / f"{safe_id(vod.vod_id)}.parquet"
            if shard.is_file():
                import pyarrow.parquet as pq

                summary.resumed_shards += 1
                summary.segments += pq.read_metadata(shard).num_rows
                continue
            try:
                rows, vectors = _vod_segment_vectors(model, vod, config, encoder, frame_size, batch_size, normalize, device)
            except (MediaError, OSError) as error:
                if on_error == "raise":
                    raise
                summary.vods_skipped[vod.vod_id] = f"{type(error).__name__}: {error}"
                continue
            if rows["segment_id"]:
                schema = {"segment_id": Value("string"), "vod_id": Value("string"), "start": Value("float32"), "end": Value("float32")}
                _write_shard(shard, rows, schema, vectors)
                summary.written_shards += 1
                summary.segments += len(vectors)
                summary.feature_dim = int(vectors.shape[1])
    else:
        dataset = load_dataset(str(source))
        for split, rows in dataset.items():
            if "video_features" not in rows.column_names:
                raise ValueError(f"{source}: split {split!r} has no video_features (build it with a --feature-model)")
            _check_model_fits(model, None, rows.features["video_features"].shape[1])
            result = extract_lc_features(
                model, rows, output_dir / split, id_column="segment_id", keep_columns=("vod_id", "start", "end"),
                batch_size=batch_size, normalize=normalize, progress=progress,
            )  # fmt: skip
            summary.segments += result.num_rows
            summary.written_shards += result.written_shards
            summary.resumed_shards += result.skipped_shards
            summary.feature_dim = result.feature_dim or summary.feature_dim
    summary.seconds = time.perf_counter() - started
    return summary


def _frame_encoder(model, feature_model: str | None, frame_size: int) -> FrameEncoder:
    from .backbones import resolve_feature_model
    from .features import FrameFeatureExtractor

    feature_model = feature_model or getattr(model.config, "feature_model", None)
    if not feature_model:
        raise ValueError("The V2LC config names no feature_model: pass the image model its frame features came from")
    return FrameFeatureExtractor(resolve_feature_model(feature_model), input_size=(frame_size, frame_size))


def _vod_segment_vectors(model, vod: VodSource, config: SegmentConfig, encoder, frame_size, batch_size, normalize, device):
    """The segment columns and video-tower vectors of one video (segments past its readable end are dropped)."""
    info = probe_media(vod.video)
    if not info.has_video:
        raise MediaError(f"{vod.video}: no video stream")
    segments = make_segments(vod.vod_id, [], info.duration or 0.0, config)
    size = (frame_size, frame_size)
    features = encode_run_frames(vod.video, [s.frame_times for s in segments], config.fps, size, encoder) if segments else {}
    arrays, kept = [], []
    for segment in segments:
        indices = [round(t * config.fps) for t in segment.frame_times]
        if all(i in features for i in indices):
            arrays.append(np.stack([features[i] for i in indices]))
            kept.append(segment)
    if arrays:
        _check_model_fits(model, len(arrays[0]), arrays[0].shape[1])
    vectors = [_embed(model, arrays[i : i + batch_size], device, normalize) for i in range(0, len(arrays), batch_size)]
    columns = {
        "segment_id": [s.segment_id for s in kept],
        "vod_id": [s.vod_id for s in kept],
        "start": [s.start for s in kept],
        "end": [s.end for s in kept],
    }
    return columns, (np.concatenate(vectors) if vectors else np.zeros((0, 0), dtype=np.float32))


# -- command line ----------------------------------------------------------------------------------------------------


def _run_cli(args: argparse.Namespace) -> None:
    from transformers import AutoModel  # V2LC is registered with the Auto classes when hf_livechat is imported

    model = AutoModel.from_pretrained(args.model)
    summary = extract_segment_lc_features(
        model,
        args.source,
        args.out,
        feature_model=args.feature_model,
        segment_length=args.segment_length,
        stride=args.stride,
        frame_size=args.frame_size,
        batch_size=args.batch_size,
        device=args.device,
        on_error=args.on_error,
    )
    print(summary.format())
    print(f"features: load with datasets.load_dataset('parquet', data_dir={str(args.out)!r})")


def add_cli_parser(subparsers) -> argparse.ArgumentParser:
    """Registers `extract-lc-features` on an `argparse` subparsers object (its `func` default runs the extraction)."""
    p = subparsers.add_parser("extract-lc-features", help="synthetic live-comment features: a V2LC video tower over 8 s segments")
    p.add_argument("source", metavar="MANIFEST_OR_DIR", help="manifest / folder of videos, or a build-lcaffect dataset folder")
    p.add_argument("--model", required=True, help="V2LC model folder or id")
    p.add_argument("--out", required=True)
    p.add_argument("--feature-model", default=None, help="image model for frame features (default: the one the V2LC config names)")
    p.add_argument("--frame-size", type=int, default=224)
    p.add_argument("--segment-length", type=float, default=8.0)
    p.add_argument("--stride", type=float, default=None, help="seconds between segment starts (default: the segment length)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default=None)
    p.add_argument("--on-error", choices=["skip", "raise"], default="skip", help="videos that cannot be read")
    p.set_defaults(func=_run_cli)
    return p


__all__ = [
    "LcFeatureSummary",
    "SegmentLcFeatureSummary",
    "add_cli_parser",
    "extract_lc_features",
    "extract_segment_lc_features",
    "is_segment_dataset",
    "open_frame_feature_source",
]
