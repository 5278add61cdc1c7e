"""MUStARD (Castro et al., ACL 2019) `sarcasm_data.json` -> `datasets`, with its two protocols: the authors'
speaker-dependent 5 folds (`split_indices.p`) and the speaker-independent split (test on FRIENDS).

No torch here.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from datasets import ClassLabel, Dataset, DatasetDict, Features, List, Value

from .common import AffectDataError


MUSTARD_FIELDS = ("utterance", "speaker", "context", "context_speakers", "show", "sarcasm")
# MUStARD's speaker-independent setup (data_loader.py of soujanyaporia/MUStARD): FRIENDS is the test show.
MUSTARD_SPEAKER_INDEPENDENT_TEST_SHOW = "FRIENDS"


def mustard_features() -> Features:
    return Features(
        {
            "id": Value("string"),
            "utterance": Value("string"),
            "speaker": Value("string"),
            "context": List(Value("string")),
            "context_speakers": List(Value("string")),
            "show": Value("string"),
            "label": ClassLabel(names=["not_sarcastic", "sarcastic"]),
        }
    )


class _RepeatedKeyError(ValueError):
    pass


def _object_without_repeated_keys(pairs: list) -> dict:
    data = dict(pairs)
    if len(data) != len(pairs):
        seen = set()
        raise _RepeatedKeyError(next(key for key, _ in pairs if key in seen or seen.add(key)))
    return data


def load_mustard(path: str | Path) -> Dataset:
    """Reads MUStARD's `sarcasm_data.json` (an object keyed by clip id) into one `Dataset`, in file order.

    Rows: `id`, `utterance`, `speaker`, `context` (preceding utterances, oldest first), `context_speakers`, `show`,
    and `label` (1 = sarcastic). Split it with `mustard_stratified_folds` or `mustard_speaker_independent_split`.

    Raises:
        AffectDataError: invalid JSON, or a record with a missing / mistyped field (the message names the clip id).
    """
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as file:
            # json.load silently keeps the last of two equal keys; a clip id given twice must be an error instead.
            data = json.load(file, object_pairs_hook=_object_without_repeated_keys)
    except json.JSONDecodeError as error:
        raise AffectDataError(path, f"invalid JSON: {error}") from error
    except _RepeatedKeyError as error:
        raise AffectDataError(path, f"key {error.args[0]!r} occurs twice in one object (a clip id or a field given twice)") from error
    if not isinstance(data, dict):
        raise AffectDataError(path, f"expected an object keyed by clip id, got {type(data).__name__}")
    columns: dict[str, list] = {name: [] for name in mustard_features()}
    for clip_id, record in data.items():
        where = f"record {clip_id!r}"
        AffectDataError.check_record(path, where, record, MUSTARD_FIELDS)
        for field in ("utterance", "speaker", "show"):
            if not isinstance(record[field], str):
                raise AffectDataError(path, f"{where}: {field} must be a string, got {record[field]!r}")
        for field in ("context", "context_speakers"):
            if not isinstance(record[field], list) or not all(isinstance(v, str) for v in record[field]):
                raise AffectDataError(path, f"{where}: {field} must be a list of strings")
        if len(record["context"]) != len(record["context_speakers"]):
            raise AffectDataError(path, f"{where}: {len(record['context'])} context utterances but {len(record['context_speakers'])} context speakers")
        if not isinstance(record["sarcasm"], bool):
            raise AffectDataError(path, f"{where}: sarcasm must be true or false, got {record['sarcasm']!r}")
        columns["id"].append(clip_id)
        for field in ("utterance", "speaker", "context", "context_speakers", "show"):
            columns[field].append(record[field])
        columns["label"].append(int(record["sarcasm"]))
    return Dataset.from_dict(columns, features=mustard_features())


def mustard_stratified_folds(
    dataset: Dataset, n_folds: int = 5, seed: int = 0, split_indices: Sequence[tuple[Sequence[int], Sequence[int]]] | None = None
) -> list[DatasetDict]:
    """MUStARD's speaker-dependent protocol: stratified k-fold cross-validation (the paper reports the mean of the
    per-fold weighted P / R / F1 over 5 folds).

    Args:
        dataset: from `load_mustard`.
        n_folds: number of folds (5 in the paper).
        seed: shuffling seed of scikit-learn's `StratifiedKFold(shuffle=True)`.
        split_indices: explicit `(train_indices, test_indices)` pairs instead, e.g. the authors' fold file
            (`load_mustard_split_indices`; `mustard_official_folds` checks them against the dataset).

    Returns:
        one `DatasetDict(train=..., test=...)` per fold.
    """
    if split_indices is None:
        from sklearn.model_selection import StratifiedKFold

        splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        split_indices = list(splitter.split(np.zeros(len(dataset)), dataset["label"]))
    folds = []
    for train_indices, test_indices in split_indices:
        if set(map(int, train_indices)) & set(map(int, test_indices)):
            raise ValueError("A fold's train and test indices overlap")
        folds.append(DatasetDict(train=dataset.select(train_indices), test=dataset.select(test_indices)))
    return folds


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles Python containers, numbers and numpy arrays only: any other global (a function an attacker could
    call) is refused. numpy arrays pickle as `_reconstruct(ndarray, shape, dtype)` plus their raw bytes."""

    def find_class(self, module: str, name: str):
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name == "_reconstruct":
            return np.ndarray.__reduce__(np.zeros(0))[0]  # numpy's own `_reconstruct`, wherever this numpy keeps it
        if module == "numpy" and name in ("ndarray", "dtype"):
            return getattr(np, name)
        if module == "_codecs" and name == "encode":  # protocol 2 written by Python 3 stores bytes as encode(str)
            import codecs

            return codecs.encode
        raise pickle.UnpicklingError(f"refused to load {module}.{name}: a fold file holds index arrays only")


def load_mustard_split_indices(path: str | Path) -> list[tuple[list[int], list[int]]]:
    """Reads the authors' speaker-dependent folds, `data/split_indices.p` of soujanyaporia/MUStARD: a pickle of 5
    `(train_indices, test_indices)` numpy arrays over the clips of `sarcasm_data.json` in file order.

    The pickle is read with an unpickler that builds numpy arrays and nothing else, so no code of the file runs.

    Raises:
        AffectDataError: not such a list, an unreadable pickle, or a global other than numpy's array builders.
    """
    path = Path(path)
    try:
        with open(path, "rb") as file:
            folds = _ArrayUnpickler(file, encoding="latin1").load()
        return [(list(map(int, train)), list(map(int, test))) for train, test in folds]
    except (pickle.UnpicklingError, EOFError, TypeError, ValueError) as error:
        raise AffectDataError(path, f"expected a pickled list of (train_indices, test_indices) pairs ({error})") from error


def mustard_official_folds(dataset: Dataset, split_indices: str | Path | Sequence[tuple[Sequence[int], Sequence[int]]]) -> list[DatasetDict]:
    """MUStARD's speaker-dependent setting on the authors' 5 folds (`split_indices.p`, see
    `load_mustard_split_indices`), so that figures compare with the paper's. (Those folds are not exactly stratified
    over the released labels: their test sets hold 61 to 76 sarcastic clips of 138.)

    Raises:
        AffectDataError: the folds do not fit the dataset (an index out of range, or test sets that do not cover
            every clip exactly once).
    """
    folds = load_mustard_split_indices(split_indices) if isinstance(split_indices, (str, Path)) else split_indices
    tested = sorted(int(i) for _, test in folds for i in test)
    if tested != list(range(len(dataset))):
        raise AffectDataError(
            split_indices if isinstance(split_indices, (str, Path)) else "split_indices",
            f"the folds' test sets must cover the {len(dataset)} clips exactly once; use the fold file made for this "
            f"sarcasm_data.json",
        )
    return mustard_stratified_folds(dataset, split_indices=folds)


def mustard_speaker_independent_split(dataset: Dataset) -> DatasetDict:
    """MUStARD's speaker-independent setup: test on FRIENDS (356 utterances), train on the other shows (BBT, THE
    GOLDEN GIRLS, SARCASMOHOLICS; 334 utterances).

    This follows the authors' code (`speaker_independent_split` in soujanyaporia/MUStARD's `data_loader.py`, whose
    loop puts `show == "FRIENDS"` in the test set; its docstring, which says the opposite, is stale), so that the
    speakers of the test set never occur in training.
    """
    is_test = [show == MUSTARD_SPEAKER_INDEPENDENT_TEST_SHOW for show in dataset["show"]]
    return DatasetDict(
        train=dataset.select([i for i, test in enumerate(is_test) if not test]),
        test=dataset.select([i for i, test in enumerate(is_test) if test]),
    )


__all__ = [
    "MUSTARD_FIELDS",
    "MUSTARD_SPEAKER_INDEPENDENT_TEST_SHOW",
    "load_mustard",
    "load_mustard_split_indices",
    "mustard_features",
    "mustard_official_folds",
    "mustard_speaker_independent_split",
    "mustard_stratified_folds",
]
