"""MMSA feature pickles (CH-SIMS, CH-SIMS v2, CMU-MOSI, CMU-MOSEI; aligned or unaligned) -> `datasets`.

No torch here.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from datasets import Array2D, Dataset, DatasetDict, Features, List, Value

from .common import AffectDataError, UnsafePickleError, check_unique_ids


logger = logging.getLogger(__name__)

# Split names as they appear in MMSA pickles -> the `datasets` convention.
MMSA_SPLITS = {"train": "train", "valid": "validation", "test": "test"}


def load_mmsa(path: str | Path, *, allow_pickle: bool = False) -> DatasetDict:
    """Loads an MMSA feature pickle (CH-SIMS, CH-SIMS v2, CMU-MOSI, CMU-MOSEI; aligned or unaligned).

    Unpickling runs code chosen by whoever wrote the file, so it is refused unless `allow_pickle=True`: only pass
    it for files from a source you trust (the official MMSA / CH-SIMS v2 releases).

    The pickle holds `train` / `valid` / `test` dicts of arrays over N examples: `text_bert` (N, 3, L: token ids,
    attention mask, segment ids), `text` (N, L, text_dim), `audio` (N, La, acoustic_dim), `vision` (N, Lv,
    visual_dim), `audio_lengths` / `vision_lengths` (unaligned files only), `regression_labels` (N,), for CH-SIMS
    `regression_labels_T` / `_A` / `_V` (unimodal labels), `id` and optionally `raw_text`.

    Rows: `id`, `raw_text`, `input_ids` / `attention_mask` / `token_type_ids` (the real tokens of `text_bert`),
    `text_features`, `acoustic_features`, `visual_features` (each cut to its real length), `label` (the
    multimodal regression label) and `label_T` / `label_A` / `label_V` when present. As in MMSA's own loader, `-inf`
    in the audio features (log of silence) becomes 0; other non-finite values also become 0, with a warning.

    Returns:
        `DatasetDict` with `train`, `validation` and `test`; `id` (MMSA's `video_id$_$clip_id`) is unique across them.

    Raises:
        UnsafePickleError: without `allow_pickle=True`.
        AffectDataError: a missing split or field, arrays whose shapes do not fit together, or an id that occurs
            twice (live-comment features are joined by id, so a repeated id would give rows each other's features).
    """
    path = Path(path)
    if not allow_pickle:
        raise UnsafePickleError(
            path,
            "MMSA features are pickles, and unpickling can run arbitrary code. Pass allow_pickle=True only for a "
            "file from a source you trust.",
        )
    try:
        with open(path, "rb") as file:
            data = pickle.load(file)
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError) as error:
        raise AffectDataError(path, f"not a readable pickle ({type(error).__name__}: {error})") from error
    if not isinstance(data, Mapping):
        raise AffectDataError(path, f"expected a dict of splits {list(MMSA_SPLITS)}, got {type(data).__name__}")
    missing = [split for split in MMSA_SPLITS if split not in data]
    if missing:
        raise AffectDataError(path, f"missing split(s) {missing}; found {sorted(map(str, data))}")
    dataset = DatasetDict({name: _mmsa_split(path, split, data[split]) for split, name in MMSA_SPLITS.items()})
    check_unique_ids(dataset, source=path)
    return dataset


def _mmsa_split(path: Path, split: str, data) -> Dataset:
    if not isinstance(data, Mapping):
        raise AffectDataError(path, f"split {split!r} must be a dict of arrays, got {type(data).__name__}")
    missing = [key for key in ("audio", "vision", "regression_labels", "id") if key not in data]
    if "text" not in data and "text_bert" not in data:
        missing.append("text or text_bert")
    if missing:
        raise AffectDataError(path, f"split {split!r} lacks field(s) {missing}")

    labels = np.asarray(data["regression_labels"], dtype=np.float32).reshape(-1)
    num_examples = len(labels)
    ids = [str(i) for i in np.asarray(data["id"]).reshape(-1)]
    _expect(path, split, "id", len(ids), num_examples)

    columns: dict[str, list] = {"id": ids}
    features: dict = {"id": Value("string")}
    if "raw_text" in data:
        raw_text = [str(t) for t in np.asarray(data["raw_text"]).reshape(-1)]
        _expect(path, split, "raw_text", len(raw_text), num_examples)
        columns["raw_text"], features["raw_text"] = raw_text, Value("string")

    text_lengths = None
    if "text_bert" in data:
        text_bert = np.asarray(data["text_bert"])
        if text_bert.ndim != 3 or text_bert.shape[1] != 3:
            raise AffectDataError(path, f"split {split!r}: text_bert must have shape (N, 3, L), got {text_bert.shape}")
        _expect(path, split, "text_bert", text_bert.shape[0], num_examples)
        if not np.array_equal(text_bert, np.rint(text_bert)):
            raise AffectDataError(path, f"split {split!r}: text_bert holds non-integer token ids")
        token_rows = np.rint(text_bert).astype(np.int64)
        text_lengths = token_rows[:, 1].sum(axis=1)
        for offset, name in enumerate(("input_ids", "attention_mask", "token_type_ids")):
            columns[name] = [row[offset, :n].tolist() for row, n in zip(token_rows, text_lengths)]
            features[name] = List(Value("int64"))

    modalities = [("text", "text_features", None), ("audio", "acoustic_features", "audio_lengths"), ("vision", "visual_features", "vision_lengths")]
    for key, column, lengths_key in modalities:
        if key not in data:
            continue
        array = np.array(data[key], dtype=np.float32)  # a copy: the fix-ups below must not touch the caller's data
        if array.ndim != 3:
            raise AffectDataError(path, f"split {split!r}: {key} must have shape (N, steps, dim), got {array.shape}")
        _expect(path, split, key, array.shape[0], num_examples)
        array[np.isneginf(array)] = 0.0
        bad = ~np.isfinite(array)
        if bad.any():
            rows = np.unique(np.nonzero(bad)[0])
            logger.warning("%s: split %r: %d non-finite %s values (examples %s...) set to 0", path, split, int(bad.sum()), key, [ids[r] for r in rows[:5]])
            array[bad] = 0.0
        lengths = _sequence_lengths(path, split, data, key, lengths_key, array, text_lengths)
        columns[column] = [example[:n] for example, n in zip(array, lengths)]
        features[column] = Array2D(shape=(None, array.shape[2]), dtype="float32")

    columns["label"], features["label"] = labels.tolist(), Value("float32")
    for modality in "TAV":
        key = f"regression_labels_{modality}"
        if key in data:
            unimodal = np.asarray(data[key], dtype=np.float32).reshape(-1)
            _expect(path, split, key, len(unimodal), num_examples)
            columns[f"label_{modality}"], features[f"label_{modality}"] = unimodal.tolist(), Value("float32")
    return Dataset.from_dict(columns, features=Features(features))


def _expect(path: Path, split: str, key: str, actual: int, expected: int) -> None:
    if actual != expected:
        raise AffectDataError(path, f"split {split!r}: {key} has {actual} examples but regression_labels has {expected}")


def _sequence_lengths(path, split, data, key, lengths_key, array, text_lengths) -> np.ndarray:
    """Real lengths of a feature sequence: the file's `*_lengths` (unaligned data), else the text lengths when the
    sequence is word-aligned with the tokens, else the full padded length."""
    steps = array.shape[1]
    if lengths_key is not None and lengths_key in data:
        lengths = np.asarray(data[lengths_key]).reshape(-1).astype(np.int64)
        _expect(path, split, lengths_key, len(lengths), array.shape[0])
        if (lengths < 0).any():
            raise AffectDataError(path, f"split {split!r}: negative {lengths_key}")
        return np.minimum(lengths, steps)
    if text_lengths is not None and steps == len(data["text_bert"][0][0]):
        return text_lengths
    return np.full(array.shape[0], steps)


__all__ = ["MMSA_SPLITS", "load_mmsa"]
