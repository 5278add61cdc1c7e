"""Load a built LiveChat clip dataset (a `build-dataset` folder or a Hub dataset id) and read its card."""

from __future__ import annotations

import os
from pathlib import Path


def resolve_dataset_dir(name_or_path: str) -> str:
    """A local folder as is; a Hub dataset id as its snapshot folder (downloaded, or taken from the HF cache when
    offline: `datasets` itself only reuses its own processed cache offline, not the Hub cache)."""
    if os.path.isdir(name_or_path):
        return name_or_path
    from huggingface_hub import snapshot_download

    return snapshot_download(name_or_path, repo_type="dataset")


def load_clip_dataset(dataset_dir: str, split: str):
    """One split of a LiveChat clip dataset (folder or Hub id), `video_features` as numpy arrays, other columns as
    Python objects."""
    from datasets import load_dataset

    dataset = load_dataset(resolve_dataset_dir(dataset_dir), split=split)
    if "video_features" in dataset.column_names:
        dataset = dataset.with_format("numpy", columns=["video_features"], output_all_columns=True)
    return dataset


def dataset_build_info(dataset_dir: str) -> dict:
    """The `hf_livechat` block of a built dataset's card (feature model, frame size, windows); {} when absent."""
    from huggingface_hub import DatasetCard

    readme = Path(resolve_dataset_dir(dataset_dir)) / "README.md"  # a Hub id: its snapshot, offline too
    if not readme.is_file():
        return {}
    return dict(DatasetCard.load(readme, repo_type="dataset").data.to_dict().get("hf_livechat") or {})


def video_feature_statistics(dataset, max_clips: int = 2000, seed: int = 0):
    """Per-dimension mean and standard deviation of the real frames' features of (up to `max_clips` random clips
    of) a clip dataset split, as float32 numpy arrays; `None` when it has no frames."""
    import numpy as np

    if "video_features" not in dataset.column_names or len(dataset) == 0:
        return None
    indices = np.random.default_rng(seed).permutation(len(dataset))[:max_clips]
    clips = dataset.select(np.sort(indices))["video_features"]
    frames = [np.asarray(f, dtype=np.float64).reshape(-1, np.shape(f)[-1]) for f in clips if f is not None and np.size(f)]
    if not frames:
        return None
    frames = np.concatenate(frames)
    return frames.mean(0).astype(np.float32), frames.std(0).astype(np.float32)
