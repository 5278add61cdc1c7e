"""Affect benchmark loaders -> `datasets`: MMSA pickles (CH-SIMS, CH-SIMS v2, MOSI, MOSEI), MELD and MUStARD.

Every loader returns rows whose column names are the inputs of `AffectFusionForSequenceClassification`
(`text_features`, `acoustic_features`, `visual_features`, `input_ids`, ...) plus `label` and the benchmark's own
fields, so a dataset can go to the model (through `AffectFusionCollator`) without renaming. Feature sizes are read
from the data, never assumed: see `affect_feature_dims`.

Every loader gives an `id` column that is unique across splits (`check_unique_ids`): live-comment features are looked
up by it in one flat store, so two rows sharing an id would get each other's features.

No torch here.
"""

from __future__ import annotations

import csv
import json
import logging
import pickle
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from datasets import Array2D, ClassLabel, Dataset, DatasetDict, Features, List, Value


logger = logging.getLogger(__name__)

# Split names as they appear in MMSA pickles / MELD file names -> the `datasets` convention.
MMSA_SPLITS = {"train": "train", "valid": "validation", "test": "test"}
MELD_SPLITS = {"train": "train", "dev": "validation", "test": "test"}
# Folders of MELD.Raw that hold each split's clips `dia{D}_utt{U}.mp4`: the ids restart in every split, so a clip is
# only named uniquely together with its split.
MELD_VIDEO_FOLDERS = {"train": "train_splits", "dev": "dev_splits_complete", "test": "output_repeated_splits_test"}
# Label orders of the MELD baselines (declare-lab/MELD), so that class ids match published code.
MELD_EMOTIONS = ("neutral", "surprise", "fear", "sadness", "joy", "disgust", "anger")
MELD_SENTIMENTS = ("neutral", "positive", "negative")
MELD_COLUMNS = (
    "Sr No.", "Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID", "Season", "Episode",
    "StartTime", "EndTime",
)
MUSTARD_FIELDS = ("utterance", "speaker", "context", "context_speakers", "show", "sarcasm")
# MUStARD's speaker-independent setup (data_loader.py of soujanyaporia/MUStARD): FRIENDS is the test show.
MUSTARD_SPEAKER_INDEPENDENT_TEST_SHOW = "FRIENDS"
FEATURE_COLUMNS = {
    "text_features": "text_dim",
    "acoustic_features": "acoustic_dim",
    "visual_features": "visual_dim",
    "live_comment_features": "lc_dim",
}


class AffectDataError(ValueError):
    """An affect benchmark file is malformed; the message names the file and the record."""

    def __init__(self, path: str | Path, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)


class UnsafePickleError(AffectDataError):
    """Loading a pickle was not explicitly allowed."""


# --------------------------------------------------------------------------------------------------------- MMSA


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


def _check_unique_ids(path, ids: Sequence[str]) -> None:
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


# --------------------------------------------------------------------------------------------------------- MELD


_SRT_TIME = re.compile(r"^(\d+):(\d{2}):(\d{2})[,.](\d{1,3})$")


def _srt_seconds(text: str) -> float:
    match = _SRT_TIME.match(text.strip())
    if not match:
        raise ValueError(f"time {text!r} is not HH:MM:SS,mmm")
    hours, minutes, seconds, millis = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + int(seconds) + int(millis.ljust(3, "0")) / 1000


def meld_features() -> Features:
    return Features(
        {
            "id": Value("string"),
            "video_file": Value("string"),
            "sr_no": Value("int32"),
            "utterance": Value("string"),
            "speaker": Value("string"),
            "emotion": ClassLabel(names=list(MELD_EMOTIONS)),
            "sentiment": ClassLabel(names=list(MELD_SENTIMENTS)),
            "dialogue_id": Value("int32"),
            "utterance_id": Value("int32"),
            "season": Value("int32"),
            "episode": Value("int32"),
            "start_time": Value("float64"),
            "end_time": Value("float64"),
        }
    )


def meld_clip_id(split: str, dialogue_id: int, utterance_id: int) -> str:
    """The id of a MELD utterance, unique across splits: `"{split}_dia{D}_utt{U}"` with MELD's own split name
    (`train`, `dev`, `test`). `dia{D}_utt{U}` alone restarts in every split (1,901 of the 2,610 test ids also occur
    in train or dev), so a flat folder of features keyed by it would give test rows other clips' features."""
    if split not in MELD_VIDEO_FOLDERS:
        raise ValueError(f"MELD split must be one of {list(MELD_VIDEO_FOLDERS)}, got {split!r}")
    return f"{split}_dia{dialogue_id}_utt{utterance_id}"


def read_meld_csv(path: str | Path, split: str | None = None) -> Dataset:
    """Reads one MELD `*_sent_emo.csv` (UTF-8, header row, SRT-style `"HH:MM:SS,mmm"` times).

    Rows: `id` (`meld_clip_id`, unique across splits), `video_file` (the clip inside MELD.Raw, e.g.
    `dev_splits_complete/dia0_utt0.mp4`), `sr_no`, `utterance`, `speaker`, `emotion` (7 classes, `MELD_EMOTIONS`
    order), `sentiment` (3 classes), `dialogue_id`, `utterance_id`, `season`, `episode`, `start_time` / `end_time`
    in seconds.

    Args:
        path: the csv.
        split: MELD's split name (`train`, `dev`, `test`); default the file name's prefix (`dev_sent_emo.csv`).

    Raises:
        AffectDataError: a wrong header, or a record with a wrong field count, an unknown label, a non-integer id
            or a bad time (the message gives the line number).
    """
    path = Path(path)
    split = split or path.name.split("_")[0]
    if split not in MELD_VIDEO_FOLDERS:
        raise AffectDataError(path, f"cannot tell the MELD split from the file name; pass split= one of {list(MELD_VIDEO_FOLDERS)}")
    columns: dict[str, list] = {name: [] for name in meld_features()}
    try:
        with open(path, encoding="utf-8-sig", newline="") as file:
            reader = csv.reader(file)
            header = next(reader, None)
            if header is None or tuple(h.strip() for h in header) != MELD_COLUMNS:
                raise AffectDataError(path, f"expected the MELD header {list(MELD_COLUMNS)}, got {header}")
            for record in reader:
                if not record:
                    continue
                line = reader.line_num
                if len(record) != len(MELD_COLUMNS):
                    raise AffectDataError(path, f"line {line}: expected {len(MELD_COLUMNS)} fields, got {len(record)}")
                sr_no, utterance, speaker, emotion, sentiment, dialogue, utt, season, episode, start, end = record
                if emotion not in MELD_EMOTIONS:
                    raise AffectDataError(path, f"line {line}: unknown emotion {emotion!r} (expected one of {MELD_EMOTIONS})")
                if sentiment not in MELD_SENTIMENTS:
                    raise AffectDataError(path, f"line {line}: unknown sentiment {sentiment!r} (expected one of {MELD_SENTIMENTS})")
                try:
                    numbers = [int(v) for v in (sr_no, dialogue, utt, season, episode)]
                    times = [_srt_seconds(start), _srt_seconds(end)]
                except ValueError as error:
                    raise AffectDataError(path, f"line {line}: {error}") from error
                clip = f"dia{numbers[1]}_utt{numbers[2]}"
                values = [
                    meld_clip_id(split, numbers[1], numbers[2]), f"{MELD_VIDEO_FOLDERS[split]}/{clip}.mp4",
                    numbers[0], utterance, speaker, emotion, sentiment, *numbers[1:], *times,
                ]
                for name, value in zip(columns, values):
                    columns[name].append(value)
    except UnicodeDecodeError as error:
        raise AffectDataError(path, f"not UTF-8 ({error}); use the UTF-8 release of MELD") from error
    _check_unique_ids(path, columns["id"])
    return Dataset.from_dict(columns, features=meld_features())


def load_meld(folder: str | Path) -> DatasetDict:
    """Loads MELD's `train_sent_emo.csv`, `dev_sent_emo.csv` and `test_sent_emo.csv` from `folder` as
    `train` / `validation` / `test` (see `read_meld_csv` for the rows; `id` is unique across the three)."""
    folder = Path(folder)
    splits = {}
    for stem, name in MELD_SPLITS.items():
        path = folder / f"{stem}_sent_emo.csv"
        if not path.is_file():
            raise FileNotFoundError(f"MELD split file not found: {path}")
        splits[name] = read_meld_csv(path, split=stem)
    dataset = DatasetDict(splits)
    check_unique_ids(dataset, source=folder)
    return dataset


# ------------------------------------------------------------------------------------------------------ MUStARD


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
        if not isinstance(record, dict):
            raise AffectDataError(path, f"{where}: expected an object, got {type(record).__name__}")
        missing = [field for field in MUSTARD_FIELDS if field not in record]
        if missing:
            raise AffectDataError(path, f"{where}: missing field(s) {missing}")
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
    "AffectDataError",
    "UnsafePickleError",
    "load_mmsa",
    "affect_feature_dims",
    "read_meld_csv",
    "load_meld",
    "load_mustard",
    "mustard_stratified_folds",
    "load_mustard_split_indices",
    "mustard_official_folds",
    "check_unique_ids",
    "meld_clip_id",
    "MELD_VIDEO_FOLDERS",
    "mustard_speaker_independent_split",
    "MELD_EMOTIONS",
    "MELD_SENTIMENTS",
]
