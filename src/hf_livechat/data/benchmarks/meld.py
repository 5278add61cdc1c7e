"""MELD (Poria et al., ACL 2019) `*_sent_emo.csv` files -> `datasets`: utterances of Friends with 7 emotions and 3
sentiments, and the clip each one names in MELD.Raw.

No torch here.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

from .common import AffectDataError, check_unique_file_ids, check_unique_ids


# Split names as they appear in MELD file names -> the `datasets` convention.
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
    check_unique_file_ids(path, columns["id"])
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


__all__ = [
    "MELD_COLUMNS",
    "MELD_EMOTIONS",
    "MELD_SENTIMENTS",
    "MELD_SPLITS",
    "MELD_VIDEO_FOLDERS",
    "load_meld",
    "meld_clip_id",
    "meld_features",
    "read_meld_csv",
]
