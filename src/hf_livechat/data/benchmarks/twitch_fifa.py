"""Converts the Twitch-FIFA video-context dialogue data into LiveChat clip rows, Parquet shards and a dataset card.

Twitch-FIFA (Pasunuru & Bansal, "Game-Based Video-Context Dialogue", EMNLP 2018) pairs 20 s of FIFA-18 stream video
and the chat sent during it with the chat message that came next, among distractors. After conversion each sample
is a clip row with the schema of the LiveChat builder (`clip_features`), so the same training and ranking
evaluation code runs on it. The released data is fetched by hand (Google Drive, linked from
github.com/ramakanth-pasunuru/video-dialogue); nothing here downloads.

Source format (one folder, the authors' `data/fifa`)::

    {split}_word.json           split in train, val, test: a JSON list of samples
    {split}_video_feat.h5       HDF5: one dataset per `video_context_id`, shape (frames, 2048), frame features
    {split}_triplet_word.json   (train only, for the triplet loss; not read here)
    vocab_word, vocab, Wemb_word.npy   (the authors' vocabularies and GloVe matrix; not read here)

    sample = {"video_context_id": "<key of the .h5 dataset>",
              "chat_context": "chat one \u0c09 chat two \u0c09 ...",
              "response": ["candidate 0", ..., "candidate 9"],
              "label": [1, 0, ..., 0]}

Verified from the authors' public code (`utils/twitch_retrieval_data_generator.py`, `train_retrieval.py`,
`test_retrieval.py` of ramakanth-pasunuru/video-dialogue, and the `GameBased` Twitch-FIFA loader of a later
livechat project): the file names above and the split names `train`/`val`/`test`; the four sample keys; that
`response` and `label` are parallel lists and the true response is the one labelled 1 (`argmax(label)`); that the
chat context is one string whose messages are separated by U+0C09 (the `SEGMENT_TOKEN` of the authors' vocabulary);
that the .h5 file is indexed by `video_context_id` and holds a (frames, img_dim) array per sample, `img_dim` 2048 by
default, at most `max_video_enc_steps` = 60 frames used; that evaluation ranks 10 candidates per sample (recall@k
in 10) with the true response first. The README states that the features are Inception-v3 frame-level features
and that the raw videos are at 3 fps.

Assumed (the public code does not say; the paper's prose was not available here): that frame `k` of a feature array
is at `k / 3` s (3 fps, so 60 frames = a 20 s window, which matches `max_video_enc_steps`); that the chat context
spans the same window; the 10 s response window (the LiveChat setting, only nominal here); that the texts are
already tokenised and lower-cased as the word-level vocabulary implies (they are kept verbatim). The release has no
timestamps, authors, streamer names or speech: chat messages keep their order with evenly spaced placeholder
times across the context window (not real times), the ground-truth response is placed at the end of the context,
`author`/`streamer` are empty and `transcript` is empty. Rows also carry the released candidates
(`response_candidates`, `response_candidate_labels`) so that the paper's recall@k-in-10 protocol can be run with
`hf_livechat.evaluation.candidates.released_candidate_sets`.

No torch here; `h5py` reads the feature files.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..builders.livechat import clip_features
from ..builders.shards import write_parquet_shard
from .common import BenchmarkFormatError


SEGMENT_TOKEN = "\u0c09"  # separates the chat messages of a `chat_context` (the authors' vocabulary)
SOURCE_SPLITS = {"train": "train", "val": "validation", "test": "test"}
SAMPLE_KEYS = ("video_context_id", "chat_context", "response", "label")
CATEGORY = "FIFA 18"
DEFAULT_FPS = 3.0
DEFAULT_CONTEXT_SECONDS = 20.0
DEFAULT_RESPONSE_SECONDS = 10.0


class TwitchFifaFormatError(BenchmarkFormatError):
    """A Twitch-FIFA file is missing or malformed; the message names the file and the sample."""


@dataclass(frozen=True)
class TwitchFifaOptions:
    """How the timeless source samples are laid on the clip clock (see the module docstring for what is assumed).

    Attributes:
        fps: frames per second of the released feature arrays.
        context_seconds: length of the context window; longer feature arrays stretch it to `frames / fps`.
        response_seconds: length of the (nominal) response window after the context.
        category: the `category` of every row.
    """

    fps: float = DEFAULT_FPS
    context_seconds: float = DEFAULT_CONTEXT_SECONDS
    response_seconds: float = DEFAULT_RESPONSE_SECONDS
    category: str = CATEGORY

    def __post_init__(self) -> None:
        if self.fps <= 0 or self.context_seconds <= 0 or self.response_seconds <= 0:
            raise ValueError(f"fps, context_seconds and response_seconds must be positive, got {self}")


@dataclass
class ConversionSummary:
    """What a conversion wrote: rows and feature size per split (`datasets` split names)."""

    rows: dict[str, int] = field(default_factory=dict)
    feature_dim: int | None = None
    shards: list[Path] = field(default_factory=list)

    def format(self) -> str:
        splits = ", ".join(f"{split} {n}" for split, n in self.rows.items()) or "none"
        return f"Twitch-FIFA clips: {splits}; {self.feature_dim}-d frame features; {len(self.shards)} shard(s)"


def _h5py():
    try:
        import h5py
    except ImportError as error:
        raise ImportError("Reading Twitch-FIFA feature files needs `h5py` (pip install h5py)") from error
    return h5py


def available_splits(data_dir: str | os.PathLike) -> list[str]:
    """The source splits (`train`, `val`, `test`) whose `{split}_word.json` exists in `data_dir`."""
    return [split for split in SOURCE_SPLITS if (Path(data_dir) / f"{split}_word.json").is_file()]


def read_samples(path: str | os.PathLike) -> list[dict]:
    """Reads and validates one `{split}_word.json`: a list of samples with the four keys, parallel `response` and
    `label` lists and at least one response labelled 1."""
    path = Path(path)
    try:
        samples = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TwitchFifaFormatError(path, "file not found") from None
    except json.JSONDecodeError as error:
        raise TwitchFifaFormatError(path, f"not valid JSON ({error.msg} at line {error.lineno})") from None
    if not isinstance(samples, list):
        raise TwitchFifaFormatError(path, f"expected a JSON list of samples, got {type(samples).__name__}")
    for index, sample in enumerate(samples):
        where = f"sample {index}"
        TwitchFifaFormatError.check_record(path, where, sample, SAMPLE_KEYS, noun="key")
        responses, labels = sample["response"], sample["label"]
        if not isinstance(sample["chat_context"], str):
            raise TwitchFifaFormatError(path, f"{where}: chat_context must be a string")
        if not isinstance(responses, list) or not all(isinstance(r, str) for r in responses) or not responses:
            raise TwitchFifaFormatError(path, f"{where}: response must be a non-empty list of strings")
        if not isinstance(labels, list) or len(labels) != len(responses) or any(label not in (0, 1) for label in labels):
            raise TwitchFifaFormatError(path, f"{where}: label must be a 0/1 list as long as response ({len(responses)})")
        if 1 not in labels:
            raise TwitchFifaFormatError(path, f"{where}: no response is labelled 1")
    return samples


def split_chat_context(chat_context: str) -> list[str]:
    """The chat messages of a `chat_context` string, in order (empty pieces dropped)."""
    return [text.strip() for text in chat_context.split(SEGMENT_TOKEN) if text.strip()]


def _comment(time: float, text: str) -> dict:
    return {"time": time, "author": "", "text": text, "emotes": []}


def sample_to_row(sample: Mapping, features: np.ndarray, split: str, index: int, options: TwitchFifaOptions) -> dict:
    """One source sample (validated by `read_samples`) and its (frames, dim) features -> one clip row."""
    frames = len(features)
    context_end = max(options.context_seconds, frames / options.fps)
    messages = split_chat_context(sample["chat_context"])
    # No timestamps in the release: evenly spaced placeholders keep the messages' order inside the context window.
    times = (np.arange(len(messages)) + 0.5) * (context_end / max(len(messages), 1))
    labels = [int(label) for label in sample["label"]]
    video_context_id = str(sample["video_context_id"])
    return {
        "clip_id": f"twitch-fifa-{split}-{index:06d}",
        "vod_id": video_context_id,
        "streamer": "",
        "category": options.category,
        "clip_index": index,
        "start": 0.0,
        "context_end": context_end,
        "end": context_end + options.response_seconds,
        "input_end": context_end,
        "has_video": True,
        "has_transcript": False,  # the release has no speech
        "frame_times": [k / options.fps for k in range(frames)],
        "transcript": None,
        "transcript_segments": [],
        "context_comments": [_comment(float(t), text) for t, text in zip(times, messages)],
        "response_comments": [_comment(context_end, r) for r, label in zip(sample["response"], labels) if label == 1],
        "video_features": np.asarray(features, dtype=np.float32),
        "response_candidates": list(sample["response"]),
        "response_candidate_labels": labels,
    }


def twitch_fifa_features(feature_dim: int):
    """The clip schema (`clip_features`) plus the released candidates."""
    from datasets import List, Value

    features = clip_features(feature_dim)
    features["response_candidates"] = List(Value("string"))
    features["response_candidate_labels"] = List(Value("int8"))
    return features


def iter_split_rows(data_dir: str | os.PathLike, split: str, options: TwitchFifaOptions | None = None) -> Iterator[dict]:
    """Clip rows of one source split (`train`, `val` or `test`), in file order, features read one sample at a time.

    Raises:
        TwitchFifaFormatError: a file is missing or malformed, a sample has no features in the .h5 file, or the
            feature arrays are not 2-D with one size.
    """
    if split not in SOURCE_SPLITS:
        raise ValueError(f"unknown Twitch-FIFA split {split!r}; expected one of {list(SOURCE_SPLITS)}")
    options = options or TwitchFifaOptions()
    data_dir = Path(data_dir)
    samples = read_samples(data_dir / f"{split}_word.json")
    feature_path = data_dir / f"{split}_video_feat.h5"
    if not feature_path.is_file():
        raise TwitchFifaFormatError(feature_path, "file not found")
    h5py = _h5py()
    try:
        h5 = h5py.File(feature_path, "r")
    except OSError as error:
        raise TwitchFifaFormatError(feature_path, f"not a readable HDF5 file ({error})") from None
    dim = None
    with h5:
        for index, sample in enumerate(samples):
            key = str(sample["video_context_id"])
            if key not in h5:
                raise TwitchFifaFormatError(feature_path, f"no features for video_context_id {key!r} (sample {index})")
            features = np.asarray(h5[key][()])
            if features.ndim != 2 or (dim is not None and features.shape[1] != dim):
                raise TwitchFifaFormatError(
                    feature_path, f"features of {key!r} have shape {features.shape}, expected (frames, {dim or 'dim'})"
                )
            dim = features.shape[1]
            yield sample_to_row(sample, features, split, index, options)


CARD_BODY = """
# Twitch-FIFA clips

The Twitch-FIFA video-context dialogue data (Pasunuru & Bansal, EMNLP 2018,
https://github.com/ramakanth-pasunuru/video-dialogue) converted by hf-livechat `dataset_scripts/twitch_fifa.py` to
the LiveChat clip schema. Research use only, under the Twitch terms the release states.

Each row is one sample: `video_features` are the released {feature_dim}-d frame features at {fps:g} fps over the
context window, `context_comments` the chat context (order kept; the release has no timestamps, so `time` values
are evenly spaced placeholders), `response_comments` the true response, and `response_candidates` /
`response_candidate_labels` the released candidates (10 per sample in validation/test, the true one first). There is
no transcript, author or streamer.

| split | clips |
|---|---|
{split_rows}
"""


def _write_card(out_dir: Path, summary: ConversionSummary, options: TwitchFifaOptions) -> Path:
    from huggingface_hub import DatasetCard, DatasetCardData

    splits = [split for split, n in summary.rows.items() if n]  # an empty split has no shard to load
    split_info = [
        {
            "name": split,
            "num_bytes": sum(p.stat().st_size for p in (out_dir / "data" / split).glob("*.parquet")),
            "num_examples": summary.rows[split],
        }
        for split in splits
    ]
    total_bytes = sum(info["num_bytes"] for info in split_info)
    card_data = DatasetCardData(
        configs=[{"config_name": "default", "data_files": [{"split": s, "path": f"data/{s}/*.parquet"} for s in splits]}],
        dataset_info={
            "features": twitch_fifa_features(summary.feature_dim)._to_yaml_list(),
            "splits": split_info,
            "download_size": total_bytes,
            "dataset_size": total_bytes,
        },
        task_categories=["text-generation"],
        tags=["live-comments", "twitch", "video", "dialogue", "hf-livechat"],
        hf_livechat={
            "feature_model": None,  # released features: no image model here recomputes them
            "feature_source": "Inception-v3 frame features of the Twitch-FIFA release",
            "fps": options.fps,
            "context_length": options.context_seconds,
            "clip_length": options.context_seconds + options.response_seconds,
            "input_span": "context",
            "source": "twitch-fifa",
        },
    )
    split_rows = "\n".join(f"| {split} | {n} |" for split, n in summary.rows.items())
    body = CARD_BODY.format(feature_dim=summary.feature_dim, fps=options.fps, split_rows=split_rows)
    path = out_dir / "README.md"
    tmp = path.with_name("README.md.tmp")
    DatasetCard(f"---\n{card_data.to_yaml()}\n---\n{body}").save(tmp)
    os.replace(tmp, path)
    return path


def _convert_split(rows: Iterator[dict], split_dir: Path, rows_per_shard: int, summary: ConversionSummary) -> int:
    """Writes a split's rows as shards in a temporary folder, then swaps it for `split_dir`: a conversion that fails
    half-way leaves the previous shards untouched."""
    tmp_dir = split_dir.with_name(f".{split_dir.name}.tmp")
    shutil.rmtree(tmp_dir, ignore_errors=True)
    shards: list[Path] = []
    batch: list[dict] = []
    count = 0
    try:
        for row in rows:
            dim = row["video_features"].shape[1]
            if summary.feature_dim is not None and dim != summary.feature_dim:
                raise TwitchFifaFormatError(split_dir, f"{dim}-d features, but an earlier split has {summary.feature_dim}-d")
            summary.feature_dim = dim
            batch.append(row)
            count += 1
            if len(batch) == rows_per_shard:
                shards.append(tmp_dir / f"twitch_fifa-{len(shards):05d}.parquet")
                write_parquet_shard(batch, twitch_fifa_features(dim), shards[-1])
                batch = []
        if batch:
            shards.append(tmp_dir / f"twitch_fifa-{len(shards):05d}.parquet")
            write_parquet_shard(batch, twitch_fifa_features(summary.feature_dim), shards[-1])
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    shutil.rmtree(split_dir, ignore_errors=True)
    if shards:
        os.replace(tmp_dir, split_dir)
        summary.shards.extend(split_dir / shard.name for shard in shards)
    return count


def convert_twitch_fifa(
    data_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    splits: Sequence[str] | None = None,
    options: TwitchFifaOptions | None = None,
    rows_per_shard: int = 1000,
) -> ConversionSummary:
    """Writes `out_dir/data/{train,validation,test}/*.parquet` and a card that `datasets.load_dataset(out_dir)` reads.

    Args:
        data_dir: the folder holding `{split}_word.json` and `{split}_video_feat.h5`.
        out_dir: the dataset folder (shards of the converted splits are replaced once a split converts).
        splits: source splits to convert (`train`, `val`, `test`); default: every split present.
        options: clip clock and category (`TwitchFifaOptions()`: 3 fps, 20 s context, 10 s response).
        rows_per_shard: rows per Parquet file; bounds memory (a 60 x 2048 float32 clip is about 0.5 MB).

    Raises:
        TwitchFifaFormatError: no split found, or a file is missing or malformed (see `iter_split_rows`).
    """
    if rows_per_shard < 1:
        raise ValueError(f"rows_per_shard must be >= 1, got {rows_per_shard}")
    options = options or TwitchFifaOptions()
    out_dir = Path(out_dir)
    splits = list(splits) if splits is not None else available_splits(data_dir)
    if not splits:
        raise TwitchFifaFormatError(data_dir, "no train_word.json, val_word.json or test_word.json found")
    summary = ConversionSummary()
    for split in splits:
        name = SOURCE_SPLITS.get(split, split)
        rows = iter_split_rows(data_dir, split, options)
        summary.rows[name] = _convert_split(rows, out_dir / "data" / name, rows_per_shard, summary)
    _write_card(out_dir, summary, options)
    return summary
