"""Affect benchmark loaders (real MELD / MUStARD files, MMSA-layout fixture pickles) and their metrics."""

import json
import pickle

import numpy as np
import pytest

from hf_livechat.data.benchmarks.common import AffectDataError, UnsafePickleError, affect_feature_dims, check_unique_ids
from hf_livechat.data.benchmarks.meld import MELD_EMOTIONS, load_meld, meld_clip_id, read_meld_csv
from hf_livechat.data.benchmarks.mmsa import load_mmsa
from hf_livechat.data.benchmarks.mustard import (
    load_mustard,
    load_mustard_split_indices,
    mustard_official_folds,
    mustard_speaker_independent_split,
    mustard_stratified_folds,
)
from hf_livechat.evaluation.affect_metrics import (
    affect_metrics,
    mosi_regression_metrics,
    sims_regression_metrics,
    weighted_f1_metrics,
    weighted_prf_metrics,
)


def mmsa_split(num, rng, text_dim=768, audio_dim=33, vision_dim=709, length=6, unimodal=True, lengths=True, first=0):
    """One split in the exact layout of MMSA's unaligned CH-SIMS v2 pickles."""
    text_bert = np.zeros((num, 3, length))
    real = rng.integers(3, length + 1, num)
    for i, n in enumerate(real):
        text_bert[i, 0, :n] = [101, *rng.integers(1000, 9000, n - 2), 102]
        text_bert[i, 1, :n] = 1
    audio = rng.normal(size=(num, 8, audio_dim)).astype(np.float32)
    audio[0, 0, :3] = -np.inf  # log-energy of silence, as in the released files
    split = {
        "raw_text": np.array([f"utterance {i}" for i in range(num)]),
        "text_bert": text_bert,
        "text": rng.normal(size=(num, length, text_dim)).astype(np.float32),
        "audio": audio,
        "vision": rng.normal(size=(num, 5, vision_dim)).astype(np.float32),
        "regression_labels": rng.uniform(-1, 1, num).astype(np.float32),
        "id": np.array([f"video_{i:04d}$_${i}" for i in range(first, first + num)]),
    }
    if lengths:
        split["audio_lengths"] = [int(x) for x in rng.integers(0, 9, num)]
        split["vision_lengths"] = rng.integers(1, 6, num)
    if unimodal:
        for m in "TAV":
            split[f"regression_labels_{m}"] = rng.uniform(-1, 1, num).astype(np.float32)
    return split


@pytest.fixture
def mmsa_pickle(tmp_path):
    rng = np.random.default_rng(0)
    data = {"train": mmsa_split(5, rng), "valid": mmsa_split(3, rng, first=5), "test": mmsa_split(4, rng, first=8)}
    path = tmp_path / "unaligned.pkl"
    path.write_bytes(pickle.dumps(data, protocol=4))
    return path, data


def test_mmsa_pickle_requires_explicit_opt_in(mmsa_pickle):
    with pytest.raises(UnsafePickleError, match="allow_pickle=True"):
        load_mmsa(mmsa_pickle[0])


def test_mmsa_pickle_rows_match_the_arrays(mmsa_pickle):
    path, data = mmsa_pickle
    dataset = load_mmsa(path, allow_pickle=True)
    assert {name: len(split) for name, split in dataset.items()} == {"train": 5, "validation": 3, "test": 4}
    assert affect_feature_dims(dataset) == {"text_dim": 768, "acoustic_dim": 33, "visual_dim": 709, "lc_dim": None}
    train = data["train"]
    for i, row in enumerate(dataset["train"]):
        n_tokens = int(train["text_bert"][i, 1].sum())
        assert row["input_ids"] == train["text_bert"][i, 0, :n_tokens].astype(int).tolist()
        assert row["input_ids"][0] == 101 and row["input_ids"][-1] == 102
        np.testing.assert_allclose(row["text_features"], train["text"][i, :n_tokens])
        audio = np.asarray(row["acoustic_features"]).reshape(-1, 33)
        assert len(audio) == train["audio_lengths"][i]
        expected_audio = np.where(np.isneginf(train["audio"][i]), 0, train["audio"][i])[: len(audio)]
        np.testing.assert_allclose(audio, expected_audio)
        assert len(row["visual_features"]) == train["vision_lengths"][i]
        assert row["label"] == pytest.approx(float(train["regression_labels"][i]))
        assert row["label_A"] == pytest.approx(float(train["regression_labels_A"][i]))
        assert row["id"] == train["id"][i] and row["raw_text"] == f"utterance {i}"
    assert np.isneginf(train["audio"][0, 0, 0])  # the caller's arrays are left untouched


def test_mmsa_official_sims_v2_dims_and_aligned_files_without_lengths(tmp_path):
    rng = np.random.default_rng(1)
    data = {
        s: mmsa_split(3, rng, audio_dim=25, vision_dim=177, unimodal=False, lengths=False, first=3 * k)
        for k, s in enumerate(("train", "valid", "test"))
    }
    for split in data.values():  # word-aligned: audio / vision have one step per token
        split["audio"] = rng.normal(size=(3, 6, 25)).astype(np.float32)
        split["vision"] = rng.normal(size=(3, 6, 177)).astype(np.float32)
    path = tmp_path / "aligned.pkl"
    path.write_bytes(pickle.dumps(data))
    dataset = load_mmsa(path, allow_pickle=True)
    assert affect_feature_dims(dataset)["acoustic_dim"] == 25 and affect_feature_dims(dataset)["visual_dim"] == 177
    row = dataset["test"][1]
    assert len(row["acoustic_features"]) == len(row["input_ids"]) == int(data["test"]["text_bert"][1, 1].sum())
    assert "label_T" not in dataset["test"].column_names


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda d: d.pop("valid"), r"missing split\(s\) \['valid'\]"),
        (lambda d: d["train"].pop("regression_labels"), r"split 'train' lacks field\(s\) \['regression_labels'\]"),
        (lambda d: d["test"].update(audio=d["test"]["audio"][:2]), "split 'test': audio has 2 examples but regression_labels has 4"),
        (lambda d: d["train"].update(text_bert=d["train"]["text_bert"][:, :2]), r"text_bert must have shape \(N, 3, L\)"),
        (lambda d: d["train"].update(vision=d["train"]["vision"][:, 0]), r"vision must have shape \(N, steps, dim\)"),
    ],
)
def test_malformed_mmsa_pickles_are_rejected(mmsa_pickle, corrupt, message):
    path, data = mmsa_pickle
    corrupt(data)
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(AffectDataError, match=message) as error:
        load_mmsa(path, allow_pickle=True)
    assert str(path) in str(error.value)


def test_truncated_pickle_is_a_clear_error(tmp_path):
    path = tmp_path / "broken.pkl"
    path.write_bytes(pickle.dumps({"train": {}})[:10])
    with pytest.raises(AffectDataError, match="not a readable pickle"):
        load_mmsa(path, allow_pickle=True)


def test_real_meld_csvs(shared_data):
    dataset = load_meld(shared_data / "meld")
    assert {name: len(split) for name, split in dataset.items()} == {"train": 9989, "validation": 1109, "test": 2610}
    train = dataset["train"]
    assert train.features["emotion"].names == list(MELD_EMOTIONS)
    first = train[0]
    assert first["utterance"] == "also I was the point person on my company’s transition from the KL-5 to GR-6 system."
    assert (first["speaker"], first["dialogue_id"], first["utterance_id"], first["season"], first["episode"]) == ("Chandler", 0, 0, 8, 21)
    assert first["start_time"] == pytest.approx(16 * 60 + 16.059) and first["end_time"] == pytest.approx(16 * 60 + 21.731)
    emotions = train.features["emotion"].int2str(train["emotion"])
    assert emotions.count("neutral") == 4710 and emotions.count("fear") == 268
    assert len(set(train["dialogue_id"])) == 1038


def test_malformed_meld_csv_names_file_and_line(tmp_path, shared_data):
    lines = (shared_data / "meld" / "dev_sent_emo.csv").read_text(encoding="utf-8").splitlines()
    bad = tmp_path / "dev_sent_emo.csv"
    bad.write_text("\n".join(lines[:3] + [lines[3].replace(",neutral,", ",bored,", 1)] + lines[4:6]) + "\n", encoding="utf-8")
    with pytest.raises(AffectDataError, match=r"dev_sent_emo.csv: line 4: unknown emotion 'bored'"):
        read_meld_csv(bad)
    bad.write_text(lines[0] + "\n" + lines[1].replace('"00:', '"0x:', 1) + "\n", encoding="utf-8")
    with pytest.raises(AffectDataError, match=r"line 2: time '0x:"):
        read_meld_csv(bad)
    bad.write_text("Utterance,Emotion\nhi,joy\n", encoding="utf-8")
    with pytest.raises(AffectDataError, match="expected the MELD header"):
        read_meld_csv(bad)


def test_real_mustard_and_its_splits(shared_data):
    dataset = load_mustard(shared_data / "mustard" / "sarcasm_data.json")
    assert len(dataset) == 690 and sum(dataset["label"]) == 345
    first = dataset[0]
    assert first["id"] == "1_60" and first["speaker"] == "SHELDON" and first["show"] == "BBT" and first["label"] == 1
    assert first["context_speakers"] == ["LEONARD", "SHELDON"]

    folds = mustard_stratified_folds(dataset, n_folds=5, seed=0)
    test_ids = [set(fold["test"]["id"]) for fold in folds]
    assert sum(len(ids) for ids in test_ids) == 690 and len(set().union(*test_ids)) == 690
    assert all(sum(fold["test"]["label"]) == 69 and len(fold["test"]) == 138 for fold in folds)  # stratified: 50 % sarcastic
    assert [f["test"]["id"] for f in mustard_stratified_folds(dataset, seed=0)] == [f["test"]["id"] for f in folds]

    independent = mustard_speaker_independent_split(dataset)
    assert set(independent["test"]["show"]) == {"FRIENDS"} and len(independent["test"]) == 356
    assert set(independent["train"]["show"]) == {"BBT", "GOLDENGIRLS", "SARCASMOHOLICS"} and len(independent["train"]) == 334


@pytest.mark.parametrize(
    "record, message",
    [
        ({"utterance": "x", "speaker": "A", "context": [], "context_speakers": [], "show": "BBT"}, r"record 'c1': missing field\(s\) \['sarcasm'\]"),
        ({"utterance": "x", "speaker": "A", "context": ["a"], "context_speakers": [], "show": "BBT", "sarcasm": True}, "1 context utterances but 0 context speakers"),
        ({"utterance": "x", "speaker": "A", "context": [], "context_speakers": [], "show": "BBT", "sarcasm": "yes"}, "sarcasm must be true or false"),
    ],
)
def test_malformed_mustard_records_are_rejected(tmp_path, record, message):
    path = tmp_path / "sarcasm_data.json"
    path.write_text(json.dumps({"c1": record}))
    with pytest.raises(AffectDataError, match=message):
        load_mustard(path)
    path.write_text('{"c1": ')
    with pytest.raises(AffectDataError, match="invalid JSON"):
        load_mustard(path)


def mmsa_sims_reference(predictions, labels):
    """`__eval_sims_regression` of the CH-SIMS v2 repository (thuiar/ch-sims-v2, utils/metricsTop.py), loop for loop
    and in the labels' float32, as the reference for ours."""
    from sklearn.metrics import f1_score, r2_score

    preds = np.clip(np.asarray(predictions, dtype=np.float32), -1.0, 1.0)
    truth = np.clip(np.asarray(labels, dtype=np.float32), -1.0, 1.0)
    out = {}
    for name, edges in (("2", [-1.01, 0.0, 1.01]), ("3", [-1.01, -0.1, 0.1, 1.01]), ("5", [-1.01, -0.7, -0.1, 0.1, 0.7, 1.01])):
        p, t = preds.copy(), truth.copy()
        for i in range(len(edges) - 1):
            p[np.logical_and(preds > edges[i], preds <= edges[i + 1])] = i
            t[np.logical_and(truth > edges[i], truth <= edges[i + 1])] = i
        out[f"acc_{name}"] = np.sum(np.round(p) == np.round(t)) / len(t)
        if name == "2":
            out["f1"] = f1_score(t, p, average="weighted")
            weak = [x for x in np.where(truth >= -0.4)[0] if x in np.where(truth <= 0.4)[0]]
            out["acc_2_weak"] = np.sum(np.round(p[weak]) == np.round(t[weak])) / len(weak)
    out["mae"] = np.mean(np.abs(preds - truth))
    out["corr"] = np.corrcoef(preds, truth)[0][1]
    out["r2"] = r2_score(truth, preds)
    return out


def test_sims_metrics_match_the_official_code():
    rng = np.random.default_rng(0)
    # CH-SIMS labels are float32 multiples of 0.2, so -0.4 and 0.4 (the weak subset's ends) occur and must count.
    labels = np.concatenate([rng.choice([-1.0, -0.8, -0.6, -0.4, -0.2, 0.0, 0.2, 0.4, 0.6, 0.8, 1.0], 200), [-0.4, 0.4, -0.4, 0.4]])
    labels = labels.astype(np.float32)
    predictions = np.clip(labels + rng.normal(0, 0.4, len(labels)), -1.5, 1.5).astype(np.float32)
    predictions[-4:] = [-0.7, -0.1, 0.1, 0.7]  # exactly on the class boundaries
    ours, reference = sims_regression_metrics(predictions, labels), mmsa_sims_reference(predictions, labels)
    assert ours.keys() == reference.keys()
    for key in ours:
        assert ours[key] == pytest.approx(reference[key], rel=1e-5), key
    perfect = sims_regression_metrics(labels, labels)
    assert perfect["acc_5"] == perfect["acc_2_weak"] == perfect["r2"] == 1.0


def test_sims_weak_accuracy_and_r2_by_hand():
    labels = np.array([-0.4, 0.4, 0.2, -0.2, 0.8, -1.0], dtype=np.float32)
    predictions = np.array([0.1, 0.3, -0.2, -0.1, 0.9, -0.8], dtype=np.float32)
    metrics = sims_regression_metrics(predictions, labels)
    # weak subset: the four labels in [-0.4, 0.4]; right sign for 0.4 -> 0.3 and -0.2 -> -0.1 only.
    assert metrics["acc_2_weak"] == pytest.approx(0.5)
    residual = np.sum((labels - predictions) ** 2, dtype=np.float64)
    assert metrics["r2"] == pytest.approx(1 - residual / np.sum((labels - labels.mean()) ** 2, dtype=np.float64), rel=1e-5)
    assert np.isnan(sims_regression_metrics([0.9, -0.9], [0.8, -1.0])["acc_2_weak"])  # no weak example: not a number


def test_mosi_metrics_by_hand():
    labels = np.array([-2.4, -0.6, 0.0, 1.2, 3.0])
    predictions = np.array([-1.8, 0.4, 0.2, 1.4, 2.2])
    metrics = mosi_regression_metrics(predictions, labels)
    assert metrics["has0_acc_2"] == pytest.approx(4 / 5)  # only -0.6 -> 0.4 flips sign (0.0 counts as non-negative)
    assert metrics["non0_acc_2"] == pytest.approx(3 / 4)
    assert metrics["acc_7"] == pytest.approx(3 / 5)  # rounded: -2/-2, -1/0, 0/0, 1/1, 3/2
    assert metrics["mae"] == pytest.approx(np.mean([0.6, 1.0, 0.2, 0.2, 0.8]))


def test_weighted_metrics_by_hand():
    labels = [0, 0, 0, 1, 1, 2]
    predictions = np.eye(3)[[0, 0, 1, 1, 0, 2]]  # scores: argmax is taken
    # class 0: P 2/3 R 2/3; class 1: P 1/2 R 1/2; class 2: P 1 R 1; weights 3, 2, 1 out of 6.
    f1 = (3 * 2 / 3 + 2 * 1 / 2 + 1 * 1) / 6
    assert weighted_f1_metrics(predictions, labels) == {"accuracy": pytest.approx(4 / 6), "weighted_f1": pytest.approx(f1)}
    assert weighted_prf_metrics(predictions, labels) == {
        "weighted_precision": pytest.approx(f1), "weighted_recall": pytest.approx(4 / 6), "weighted_f1": pytest.approx(f1),
    }
    with pytest.raises(ValueError, match="Unknown benchmark 'iemocap'"):
        affect_metrics("iemocap", predictions, labels)


# ------------------------------------------------------------------------------------------ ids unique across splits


def test_meld_ids_are_unique_across_splits(shared_data):
    dataset = load_meld(shared_data / "meld")
    ids = {name: split["id"] for name, split in dataset.items()}
    assert sum(map(len, ids.values())) == len(set().union(*ids.values())) == 13708
    plain = {name: {i.split("_", 1)[1] for i in values} for name, values in ids.items()}
    assert len(plain["test"] & (plain["train"] | plain["validation"])) == 1901  # why the split must be in the id
    first_test = dataset["test"][0]
    assert first_test["id"] == meld_clip_id("test", first_test["dialogue_id"], first_test["utterance_id"]) == "test_dia0_utt0"
    assert first_test["video_file"] == "output_repeated_splits_test/dia0_utt0.mp4"
    assert dataset["validation"][0]["id"].startswith("dev_dia")


def test_meld_csv_needs_a_known_split(tmp_path, shared_data):
    lines = (shared_data / "meld" / "dev_sent_emo.csv").read_text(encoding="utf-8").splitlines()
    (tmp_path / "utterances.csv").write_text("\n".join(lines[:3]) + "\n", encoding="utf-8")
    with pytest.raises(AffectDataError, match="cannot tell the MELD split"):
        read_meld_csv(tmp_path / "utterances.csv")
    assert read_meld_csv(tmp_path / "utterances.csv", split="dev")["id"] == ["dev_dia0_utt0", "dev_dia0_utt1"]
    (tmp_path / "dev_sent_emo.csv").write_text("\n".join([lines[0], lines[1], lines[1]]) + "\n", encoding="utf-8")
    with pytest.raises(AffectDataError, match="repeated id"):
        read_meld_csv(tmp_path / "dev_sent_emo.csv")


def test_mmsa_ids_are_unique_across_splits(mmsa_pickle):
    path, data = mmsa_pickle
    dataset = load_mmsa(path, allow_pickle=True)
    all_ids = [i for split in dataset.values() for i in split["id"]]
    assert len(all_ids) == len(set(all_ids)) == 12
    data["test"]["id"] = data["train"]["id"][:4]  # the test clips claim train ids
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(AffectDataError, match=r"occurs in 'train' and again in 'test'"):
        load_mmsa(path, allow_pickle=True)


def test_mustard_ids_are_unique_and_folds_disjoint(tmp_path, shared_data):
    dataset = load_mustard(shared_data / "mustard" / "sarcasm_data.json")
    assert len(set(dataset["id"])) == len(dataset) == 690
    for fold in [*mustard_stratified_folds(dataset, seed=0), mustard_speaker_independent_split(dataset)]:
        check_unique_ids(fold)
        assert not set(fold["train"]["id"]) & set(fold["test"]["id"])
    # A clip id given twice in the json: json.load would silently keep the second record.
    record = json.dumps({"utterance": "x", "speaker": "A", "context": [], "context_speakers": [], "show": "BBT", "sarcasm": True})
    (tmp_path / "sarcasm_data.json").write_text(f'{{"c1": {record}, "c1": {record}}}')
    with pytest.raises(AffectDataError, match="key 'c1' occurs twice"):
        load_mustard(tmp_path / "sarcasm_data.json")


def mustard_like(n: int):
    from datasets import Dataset

    return Dataset.from_dict({"id": [f"c{i}" for i in range(n)], "label": [i % 2 for i in range(n)]})


def test_mustard_fold_file_is_read_without_running_its_code(tmp_path):
    folds = [(np.array([i for i in range(10) if i // 2 != k]), np.array([2 * k, 2 * k + 1])) for k in range(5)]
    path = tmp_path / "split_indices.p"
    path.write_bytes(pickle.dumps(folds, protocol=2))  # as the authors wrote it
    assert load_mustard_split_indices(path) == [(list(map(int, a)), list(map(int, b))) for a, b in folds]
    splits = mustard_official_folds(mustard_like(10), path)
    assert [fold["test"]["id"] for fold in splits] == [[f"c{2 * k}", f"c{2 * k + 1}"] for k in range(5)]
    with pytest.raises(AffectDataError, match="cover the 12 clips exactly once"):
        mustard_official_folds(mustard_like(12), path)

    marker = tmp_path / "ran"
    path.write_bytes(pickle.dumps(_Touch(marker)))
    with pytest.raises(AffectDataError, match="refused to load"):
        load_mustard_split_indices(path)
    assert not marker.exists()


class _Touch:
    """A pickle whose loading would create a file."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (pathlib.Path(self.path),))


def test_authors_mustard_folds(shared_data):
    import os
    from pathlib import Path

    path = Path(os.environ.get("MUSTARD_SPLIT_INDICES", shared_data / "mustard" / "split_indices.p"))
    if not path.is_file():
        pytest.skip(f"the authors' split_indices.p is not at {path} (set MUSTARD_SPLIT_INDICES)")
    folds = mustard_official_folds(load_mustard(shared_data / "mustard" / "sarcasm_data.json"), path)
    assert [(len(f["train"]), len(f["test"])) for f in folds] == [(552, 138)] * 5
    assert [sum(f["test"]["label"]) for f in folds] == [74, 71, 63, 76, 61]
