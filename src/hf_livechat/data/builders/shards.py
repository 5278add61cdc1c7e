"""Atomic writes: a Parquet shard or a text file is either absent or complete, never half-written (temporary file,
then rename). Every builder and the live-comment feature store write their shards through `write_parquet_shard`.
No torch here."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path


def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_parquet_shard(rows: Sequence[dict] | Mapping[str, Sequence], features, path: Path) -> Path:
    """Writes rows (a list of row dicts, or a dict of columns) as one Parquet file with the `datasets.Features`
    `features`, atomically: the file is either absent or complete."""
    from datasets import Dataset
    from datasets.utils.logging import disable_progress_bar, enable_progress_bar, is_progress_bar_enabled

    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(rows, Mapping):
        dataset = Dataset.from_dict(dict(rows), features=features)
    else:
        dataset = Dataset.from_list(list(rows), features=features)
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
