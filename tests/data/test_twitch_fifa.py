"""Twitch-FIFA conversion: fixture files in the released layout ({split}_word.json + {split}_video_feat.h5) ->
LiveChat clip rows -> Parquet -> load_dataset, and the errors bad files raise."""

import json

import numpy as np
import pytest
from datasets import load_dataset

from hf_livechat.data.builders.livechat import clip_features
from hf_livechat.evaluation.candidates import released_candidate_sets
from hf_livechat.data.benchmarks.twitch_fifa import (
    SEGMENT_TOKEN,
    TwitchFifaFormatError,
    TwitchFifaOptions,
    convert_twitch_fifa,
    iter_split_rows,
    split_chat_context,
)
from hf_livechat.data.clip_inputs import clip_processor_inputs


h5py = pytest.importorskip("h5py")

DIM = 8
FRAMES = 60  # 20 s at 3 fps, the authors' max_video_enc_steps


def sample(split: str, index: int, num_candidates: int) -> dict:
    chats = [f"{split} {index} chat {k}" for k in range(3)]
    responses = [f"{split} {index} true reply"] + [f"{split} {index} distractor {k}" for k in range(num_candidates - 1)]
    return {
        "video_context_id": f"{split}_video{index}",
        # The release separates messages with the segment token; spacing around it varies.
        "chat_context": f" {SEGMENT_TOKEN} ".join(chats[:2]) + SEGMENT_TOKEN + chats[2],
        "response": responses,
        "label": [1] + [0] * (num_candidates - 1),
    }


def features_of(video_context_id: str) -> np.ndarray:
    seed = sum(map(ord, video_context_id))
    return np.random.default_rng(seed).standard_normal((FRAMES, DIM)).astype(np.float32)


def write_split(folder, split: str, samples: list[dict]) -> None:
    (folder / f"{split}_word.json").write_text(json.dumps(samples), encoding="utf-8")
    with h5py.File(folder / f"{split}_video_feat.h5", "w") as h5:
        for s in samples:
            h5.create_dataset(s["video_context_id"], data=features_of(s["video_context_id"]))


@pytest.fixture
def release(tmp_path):
    folder = tmp_path / "fifa"
    folder.mkdir()
    write_split(folder, "train", [sample("train", i, 2) for i in range(5)])
    write_split(folder, "val", [sample("val", i, 10) for i in range(3)])
    write_split(folder, "test", [sample("test", i, 10) for i in range(4)])
    return folder


def test_convert_and_load_dataset(release, tmp_path):
    out = tmp_path / "dataset"
    summary = convert_twitch_fifa(release, out, rows_per_shard=2)
    assert summary.rows == {"train": 5, "validation": 3, "test": 4} and summary.feature_dim == DIM
    assert len(list((out / "data" / "train").glob("*.parquet"))) == 3  # 2 + 2 + 1 rows

    dataset = load_dataset(str(out))
    assert {name: len(split) for name, split in dataset.items()} == summary.rows
    for name, source in (("train", "train"), ("validation", "val"), ("test", "test")):
        for index, row in enumerate(dataset[name]):
            expected = sample(source, index, 10 if source != "train" else 2)
            assert row["vod_id"] == expected["video_context_id"] and row["clip_index"] == index
            np.testing.assert_array_equal(np.asarray(row["video_features"], np.float32), features_of(row["vod_id"]))
            assert row["frame_times"] == pytest.approx([k / 3 for k in range(FRAMES)])
            assert row["start"] == 0 and row["context_end"] == row["input_end"] == 20 and row["end"] == 30
            assert [c["text"] for c in row["context_comments"]] == [f"{source} {index} chat {k}" for k in range(3)]
            times = [c["time"] for c in row["context_comments"]]
            assert times == sorted(times) and 0 <= times[0] and times[-1] < row["context_end"]
            assert [c["text"] for c in row["response_comments"]] == [f"{source} {index} true reply"]
            assert row["response_candidates"] == expected["response"]
            assert row["response_candidate_labels"] == expected["label"]
            assert row["transcript"] is None and not row["has_transcript"] and row["category"] == "FIFA 18"


def test_rows_have_the_livechat_schema_and_feed_the_processor(release):
    rows = list(iter_split_rows(release, "test"))
    schema = clip_features(DIM)
    assert all(set(schema) <= set(row) for row in rows)
    inputs = clip_processor_inputs(rows)
    assert [v.shape for v in inputs["video_features"]] == [(FRAMES, DIM)] * len(rows)
    assert inputs["chat"][0][0]["text"] == "test 0 chat 0" and inputs["transcript"] == [""] * len(rows)


def test_released_candidates_keep_the_true_response_first(release):
    sets = released_candidate_sets(list(iter_split_rows(release, "val")))
    assert [s.query_index for s in sets] == [0, 1, 2]
    assert all(len(s.candidates) == 10 and s.positive_indices == [0] for s in sets)
    assert sets[1].positives == ["val 1 true reply"]


def test_options_stretch_the_context_to_the_frames(release):
    row = next(iter_split_rows(release, "val", TwitchFifaOptions(fps=2.0, context_seconds=20.0, response_seconds=5.0)))
    assert row["context_end"] == 30.0 and row["end"] == 35.0  # 60 frames at 2 fps outlast the 20 s context
    assert row["frame_times"][-1] == 29.5


def test_split_chat_context_drops_empty_pieces():
    assert split_chat_context(f"a b {SEGMENT_TOKEN}{SEGMENT_TOKEN}  c {SEGMENT_TOKEN} ") == ["a b", "c"]


def test_only_present_splits_are_converted(release, tmp_path):
    (release / "test_word.json").unlink()
    summary = convert_twitch_fifa(release, tmp_path / "out")
    assert set(summary.rows) == {"train", "validation"}
    assert set(load_dataset(str(tmp_path / "out"))) == {"train", "validation"}


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda s: s.pop("label"), r"sample 1: missing key\(s\) \['label'\]"),
        (lambda s: s.update(label=[0] * len(s["response"])), "sample 1: no response is labelled 1"),
        (lambda s: s.update(label=[1]), "sample 1: label must be a 0/1 list as long as response"),
        (lambda s: s.update(chat_context=["a", "b"]), "sample 1: chat_context must be a string"),
    ],
)
def test_malformed_samples_name_the_file_and_sample(release, corrupt, message):
    samples = json.loads((release / "val_word.json").read_text())
    corrupt(samples[1])
    (release / "val_word.json").write_text(json.dumps(samples))
    with pytest.raises(TwitchFifaFormatError, match=message) as error:
        list(iter_split_rows(release, "val"))
    assert error.value.path.endswith("val_word.json")


def test_missing_features_and_files_are_errors(release, tmp_path):
    with h5py.File(release / "test_video_feat.h5", "a") as h5:
        del h5["test_video2"]
    with pytest.raises(TwitchFifaFormatError, match=r"test_video_feat.h5: no features for video_context_id 'test_video2' \(sample 2\)"):
        list(iter_split_rows(release, "test"))
    with h5py.File(release / "test_video_feat.h5", "a") as h5:
        h5["test_video2"] = np.zeros(DIM, np.float32)  # one vector, not (frames, dim)
    with pytest.raises(TwitchFifaFormatError, match=r"features of 'test_video2' have shape \(8,\), expected \(frames, 8\)"):
        list(iter_split_rows(release, "test"))
    (release / "val_video_feat.h5").write_bytes(b"not hdf5")
    with pytest.raises(TwitchFifaFormatError, match="val_video_feat.h5: not a readable HDF5 file"):
        list(iter_split_rows(release, "val"))
    (release / "train_word.json").write_text("{not json")
    with pytest.raises(TwitchFifaFormatError, match="train_word.json: not valid JSON"):
        list(iter_split_rows(release, "train"))
    with pytest.raises(TwitchFifaFormatError, match="no train_word.json"):
        convert_twitch_fifa(tmp_path, tmp_path / "out")


def test_failed_conversion_keeps_previous_shards(release, tmp_path):
    out = tmp_path / "dataset"
    convert_twitch_fifa(release, out, splits=["test"])
    before = sorted(p.name for p in (out / "data" / "test").iterdir())
    with h5py.File(release / "test_video_feat.h5", "a") as h5:
        del h5["test_video3"]
    with pytest.raises(TwitchFifaFormatError):
        convert_twitch_fifa(release, out, splits=["test"], rows_per_shard=1)
    assert sorted(p.name for p in (out / "data" / "test").iterdir()) == before
    assert [p.name for p in (out / "data").iterdir()] == ["test"]  # no temporary folder left behind
    assert len(load_dataset(str(out))["test"]) == 4
