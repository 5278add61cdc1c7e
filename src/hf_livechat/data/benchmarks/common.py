"""What the loaders of published datasets share: their error type, and for the affect benchmarks (MMSA, MELD,
MUStARD) the unique-id checks and the feature sizes of a loaded set.

The affect loaders (`mmsa.py`, `meld.py`, `mustard.py`) return rows whose column names are the inputs of
`AffectFusionForSequenceClassification` (`text_features`, `acoustic_features`, `visual_features`, `input_ids`, ...)
plus `label` and the benchmark's own fields, so a dataset can go to the model (through
`hf_livechat.training.affect_collator.AffectFusionCollator`) without renaming. Feature sizes are read from the data,
never assumed: see `affect_feature_dims`.

Every affect loader gives an `id` column that is unique across splits (`check_unique_ids`): live-comment features
are looked up by it in one flat store, so two rows sharing an id would get each other's features.

No torch here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from datasets import Array2D, Dataset, DatasetDict, List


FEATURE_COLUMNS = {
    "text_features": "text_dim",
    "acoustic_features": "acoustic_dim",
    "visual_features": "visual_dim",
    "live_comment_features": "lc_dim",
}


class BenchmarkFormatError(ValueError):
    """A file of a published dataset is missing or malformed; the message names the file and the record."""

    def __init__(self, path: str | os.PathLike, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)

    @classmethod
    def check_record(cls, path: str | os.PathLike, where: str, record, keys: Sequence[str], noun: str = "field") -> None:
        """Raises this error unless `record` (one record of a JSON file, named by `where`) is an object holding every
        one of `keys`."""
        if not isinstance(record, dict):
            raise cls(path, f"{where}: expected an object, got {type(record).__name__}")
        missing = [key for key in keys if key not in record]
        if missing:
            raise cls(path, f"{where}: missing {noun}(s) {missing}")


class AffectDataError(BenchmarkFormatError):
    """An affect benchmark file (MMSA, MELD, MUStARD) is malformed; the message names the file and the record."""


class UnsafePickleError(AffectDataError):
    """Loading a pickle was not explicitly allowed."""


def affect_feature_dims(dataset: Dataset | DatasetDict) -> dict[str, int | None]:
    """The feature sizes of a loaded affect dataset, keyed by `AffectFusionConfig` field (`text_dim`,
    `acoustic_dim`, `visual_dim`, `lc_dim`; `None` for a modality the data lacks)."""
    if isinstance(dataset, DatasetDict):
        dataset = next(iter(dataset.values()))
    dims = {}
    for column, field in FEATURE_COLUMNS.items():
        feature = dataset.features.get(column)
        if feature is None:
            dims[field] = None
        elif isinstance(feature, Array2D):
            dims[field] = feature.shape[1]
        elif isinstance(feature, List) and hasattr(feature, "length") and feature.length not in (None, -1):
            dims[field] = feature.length
        else:
            dims[field] = _last_axis(dataset, column)
    return dims


def _last_axis(dataset: Dataset, column: str) -> int | None:
    """The size of the last axis of a column's values: a vector's length, or a sequence's per-step size."""
    for row in dataset.select_columns([column]).select(range(min(len(dataset), 50))):
        value = np.asarray(row[column], dtype=np.float32)
        if value.size:
            return int(value.shape[-1])
    return None


def check_unique_file_ids(path, ids: Sequence[str]) -> None:
    """Raises an `AffectDataError` naming `path` when an id of one file occurs twice."""
    seen, repeated = set(), []
    for clip_id in ids:
        if clip_id in seen:
            repeated.append(clip_id)
        seen.add(clip_id)
    if repeated:
        raise AffectDataError(path, f"{len(repeated)} repeated id(s), e.g. {repeated[:3]}; ids must name one clip each")


def check_unique_ids(dataset: DatasetDict, source: str | Path = "the dataset") -> None:
    """Raises an `AffectDataError` when an `id` occurs twice, within a split or across splits.

    Live-comment features are looked up by `id` in one flat store, so an id shared by two rows (MELD's
    `dia{D}_utt{U}` restarts in every split) would hand one clip's features to the other."""
    where: dict[str, str] = {}
    for name, split in dataset.items():
        if "id" not in split.column_names:
            raise AffectDataError(source, f"split {name!r} has no id column")
        for clip_id in split["id"]:
            if clip_id in where:
                raise AffectDataError(
                    source, f"id {clip_id!r} occurs in {where[clip_id]!r} and again in {name!r}; ids must be unique across splits"
                )
            where[clip_id] = name


__all__ = [
    "FEATURE_COLUMNS",
    "AffectDataError",
    "BenchmarkFormatError",
    "UnsafePickleError",
    "affect_feature_dims",
    "check_unique_file_ids",
    "check_unique_ids",
]
