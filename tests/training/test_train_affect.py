"""The affect training protocol: live-comment features joined by id, seeds, dev-based selection, mean ± std,
MUStARD folds, resuming, and the `train-affect` command."""

import csv
import json

import numpy as np
import pytest
from datasets import ClassLabel, Dataset, DatasetDict, Features, List, Value

from hf_livechat.cli import main as cli_main
from hf_livechat.training import affect as protocol
from hf_livechat.training.affect import (
    AffectProtocolArguments,
    ProtocolResult,
    RunResult,
    affect_training_arguments,
    join_live_comment_features,
    live_comment_settings,
    run_affect_protocol,
    run_live_comment_protocol,
    run_mustard_protocol,
    train_affect_run,
)


def toy_split(n, seed, prefix, informative="text"):
    """Rows whose class is the sign of one coordinate of the `informative` modality; the other modality is noise."""
    rng = np.random.default_rng(seed)
    text = rng.normal(size=(n, 2, 4)).astype(np.float32)
    live = rng.normal(size=(n, 3)).astype(np.float32)
    source = text[:, 0, 0] if informative == "text" else live[:, 0]
    labels = (source > 0).astype(int)
    features = Features({
        "id": Value("string"),
        "text_features": List(List(Value("float32"))),
        "label": ClassLabel(names=["negative", "positive"]),
    })
    split = Dataset.from_dict({"id": [f"{prefix}{i}" for i in range(n)], "text_features": text.tolist(), "label": labels.tolist()}, features=features)
    lc = Dataset.from_dict({"id": split["id"], "live_comment_features": live.tolist()})
    return split, lc


def toy_benchmark(informative="text", sizes=(96, 48, 48)):
    parts = [toy_split(n, seed, f"{name}-", informative) for n, seed, name in zip(sizes, (0, 1, 2), ("train", "dev", "test"))]
    dataset = DatasetDict(train=parts[0][0], validation=parts[1][0], test=parts[2][0])
    features = Dataset.from_dict({
        "id": [i for _, lc in parts for i in lc["id"]],
        "live_comment_features": [v for _, lc in parts for v in lc["live_comment_features"]],
    })
    return dataset, features


def tiny_args(tmp_path, **overrides):
    kwargs = dict(benchmark="classification", seeds=[0, 1], max_epochs=6, patience=3, batch_size=16, learning_rate=3e-3,
                  d_model=16, num_layers=1, num_heads=2, ffn_dim=32, dropout=0.0, output_dir=str(tmp_path / "runs"), progress=False)
    kwargs.update(overrides)
    return AffectProtocolArguments(**kwargs)


# ------------------------------------------------------------------------------------------------------ the join


def test_join_puts_each_vector_on_its_own_row():
    dataset, features = toy_benchmark()
    shuffled = features.shuffle(seed=3)
    joined = join_live_comment_features(dataset, shuffled)
    lookup = dict(zip(features["id"], features["live_comment_features"]))
    for split in joined.values():
        for row in split.select(range(5)):
            np.testing.assert_allclose(row["live_comment_features"], lookup[row["id"]])


def test_join_refuses_missing_and_repeated_ids():
    dataset, features = toy_benchmark()
    without_one = features.filter(lambda row: row["id"] != "test-7")
    with pytest.raises(ValueError, match=r"no live-comment features for 1 of the 48 test rows \(e.g. ids \['test-7'\]\)"):
        join_live_comment_features(dataset, without_one)
    twice = Dataset.from_dict({"id": ["a", "a"], "live_comment_features": [[0.0], [1.0]]})
    with pytest.raises(ValueError, match="1 repeated id"):
        join_live_comment_features(dataset, twice)
    with pytest.raises(ValueError, match="no 'live_comment_features' column"):
        join_live_comment_features(dataset, features.rename_column("live_comment_features", "vector"))


# ---------------------------------------------------------------------------------------------------- the protocol


def test_runs_select_the_best_dev_checkpoint_and_resume(tmp_path):
    dataset, _ = toy_benchmark()
    args = tiny_args(tmp_path, seeds=[0], max_epochs=5, patience=5)
    run = train_affect_run(dataset, args, 0, tmp_path / "run")
    epochs = [epoch for epoch, _ in run.history]
    scores = [score for _, score in run.history]
    assert epochs == [1, 2, 3, 4, 5]
    assert run.dev["weighted_f1"] == pytest.approx(max(scores))  # the kept weights are the best dev epoch's
    assert run.best_epoch == epochs[scores.index(max(scores))]
    assert run.test["accuracy"] > 0.8  # the label is a sign in the text features: learnable
    assert not list((tmp_path / "run").glob("checkpoint-*"))  # only the best model is kept

    # The saved model is the selected checkpoint: re-evaluated on dev it scores the recorded dev metrics.
    import torch
    from transformers import AutoModelForSequenceClassification

    from hf_livechat.evaluation.affect_metrics import affect_metrics
    from hf_livechat.training.affect_collator import AffectFusionCollator

    model = AutoModelForSequenceClassification.from_pretrained(tmp_path / "run" / "model").eval()
    batch = AffectFusionCollator()(list(dataset["validation"]))
    with torch.no_grad():
        logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
    assert affect_metrics("classification", logits.numpy(), batch["labels"].numpy())["weighted_f1"] == pytest.approx(run.dev["weighted_f1"])

    class NoTraining:
        def __init__(self, *args, **kwargs):
            raise AssertionError("a finished run must be read back, not trained again")

    original = protocol.Trainer
    protocol.Trainer = NoTraining
    try:
        assert train_affect_run(dataset, args, 0, tmp_path / "run") == run
        # Other features under the same ids (e.g. re-extracted): the stored run is not theirs.
        other, _ = toy_benchmark()
        other = DatasetDict({name: split.map(lambda row: {"text_features": (np.asarray(row["text_features"]) + 1).tolist()}) for name, split in other.items()})
        with pytest.raises(ValueError, match="holds a run with other settings or other data"):
            train_affect_run(other, args, 0, tmp_path / "run")
        with pytest.raises(ValueError, match="holds a run with other settings"):
            train_affect_run(dataset, tiny_args(tmp_path, seeds=[0], max_epochs=4, patience=5), 0, tmp_path / "run")
    finally:
        protocol.Trainer = original
    rerun = train_affect_run(other, tiny_args(tmp_path, seeds=[0], max_epochs=2, patience=5, overwrite=True), 0, tmp_path / "run")
    assert [epoch for epoch, _ in rerun.history] == [1, 2]


def test_live_comment_features_help_when_they_carry_the_label(tmp_path):
    dataset, features = toy_benchmark(informative="live")
    settings = {"with live comments": join_live_comment_features(dataset, features), "without live comments": dataset}
    result = run_affect_protocol(settings, tiny_args(tmp_path, max_epochs=8, learning_rate=1e-2))
    summary = result.summary()
    assert summary["with live comments"]["accuracy"]["mean"] > 0.8
    assert summary["without live comments"]["accuracy"]["mean"] < 0.7
    # mean ± std are those of the per-seed test metrics (sample standard deviation)
    per_seed = [run.test["accuracy"] for run in result.runs["with live comments"]]
    assert len(per_seed) == 2
    assert summary["with live comments"]["accuracy"]["mean"] == pytest.approx(np.mean(per_seed))
    assert summary["with live comments"]["accuracy"]["std"] == pytest.approx(np.std(per_seed, ddof=1))
    table = result.format_table(["accuracy"])
    assert "mean ± std over 2 seeds" in table and "| with live comments | " in table
    card = (tmp_path / "runs" / "with-live-comments" / "model" / "README.md").read_text()
    assert "live-comment features | True" in card and "| without live comments |" in card
    assert json.loads((tmp_path / "runs" / "with-live-comments" / "model" / "selected_run.json").read_text())["seed"] in (0, 1)


def test_mustard_protocol_averages_folds_then_seeds():
    runs = [RunResult(seed=s, best_epoch=1, dev={}, test={"weighted_f1": f1}, fold=f)
            for s, scores in ((0, (0.6, 0.8)), (1, (0.5, 0.5))) for f, f1 in enumerate(scores)]
    result = ProtocolResult("mustard", {"text": runs}, "weighted_f1")
    assert result.per_seed("text") == {0: {"weighted_f1": pytest.approx(0.7)}, 1: {"weighted_f1": 0.5}}
    assert result.summary()["text"]["weighted_f1"]["mean"] == pytest.approx(0.6)
    assert result.summary()["text"]["weighted_f1"]["std"] == pytest.approx(np.std([0.7, 0.5], ddof=1))
    assert "2 seeds x 2 folds" in result.format_table()


def test_mustard_folds_get_a_stratified_dev_share(tmp_path):
    dataset, _ = toy_benchmark(sizes=(80, 40, 40))
    folds = [DatasetDict(train=dataset["train"], test=dataset["test"]), DatasetDict(train=dataset["validation"].select(range(40)), test=dataset["test"])]
    result = run_mustard_protocol({"text": folds}, tiny_args(tmp_path, benchmark="mustard", seeds=[0], max_epochs=2, dev_fraction=0.25))
    assert [(run.fold, run.seed) for run in result.runs["text"]] == [(0, 0), (1, 0)]
    assert set(result.runs["text"][0].test) == {"weighted_precision", "weighted_recall", "weighted_f1"}
    split = protocol.with_dev_split(folds[0], 0.25)
    assert (len(split["train"]), len(split["validation"])) == (60, 20)
    labels = np.asarray(dataset["train"]["label"])
    share = labels.mean()
    assert abs(np.mean(split["validation"]["label"]) - share) <= 1 / 20 + 1e-9


def test_a_setting_without_validation_gets_a_dev_share(tmp_path):
    dataset, _ = toy_benchmark(sizes=(80, 8, 40))
    result = run_affect_protocol({"speaker-independent": DatasetDict(train=dataset["train"], test=dataset["test"])},
                                 tiny_args(tmp_path, seeds=[0], max_epochs=1, dev_fraction=0.25))
    (run,) = result.runs["speaker-independent"]
    assert "weighted_f1" in run.dev and "weighted_f1" in run.test


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="Unknown benchmark 'iemocap'"):
        AffectProtocolArguments("iemocap")
    with pytest.raises(ValueError, match="seeds must be distinct"):
        AffectProtocolArguments("meld", seeds=[1, 1])
    dataset, _ = toy_benchmark()
    with pytest.raises(ValueError, match="needs a 'validation' split"):
        train_affect_run(DatasetDict(train=dataset["train"], test=dataset["test"]), tiny_args(tmp_path), 0, tmp_path / "r")


# ----------------------------------------------------------------------------------------------------- the command

MELD_HEADER = ["Sr No.", "Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID", "Season", "Episode", "StartTime", "EndTime"]
WORDS = {"joy": "great wonderful yay", "anger": "stupid hate angry", "neutral": "the table is there"}


def write_meld(folder, sizes={"train": 24, "dev": 12, "test": 12}):
    """A MELD-format folder whose emotion shows in the words (ids restart in every split, as in MELD)."""
    folder.mkdir()
    for split, n in sizes.items():
        with open(folder / f"{split}_sent_emo.csv", "w", encoding="utf-8", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(MELD_HEADER)
            for i in range(n):
                emotion = list(WORDS)[i % 3]
                writer.writerow([i + 1, f"{WORDS[emotion]} {i}", "Ross", emotion, "neutral", i // 4, i % 4, 1, 1, "00:00:01,000", "00:00:02,500"])


def extract_store(folder, ids, seed=0):
    """A live-comment feature store made by the real extractor: a tiny random V2LC model over 3 frames per clip."""
    import torch

    from hf_livechat.models.v2lc import V2LCConfig, V2LCModel
    from hf_livechat.pipelines.lc_features import extract_lc_features

    text = {"model_type": "bert", "vocab_size": 64, "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
            "intermediate_size": 32, "max_position_embeddings": 32}
    torch.manual_seed(seed)
    model = V2LCModel(V2LCConfig(text_config=text, video_feature_dim=8, video_hidden_size=16, video_num_layers=1, video_num_heads=2,
                                 video_intermediate_size=32, max_video_frames=8, projection_dim=12))
    rng = np.random.default_rng(seed)
    clips = Dataset.from_dict({"id": ids, "video_features": rng.normal(size=(len(ids), 3, 8)).astype(np.float32).tolist()})
    extract_lc_features(model, clips, folder, segment_length=4, fps=1, progress=False, overwrite=True)


def test_train_affect_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_LIVECHAT_CACHE", str(tmp_path / "cache"))
    write_meld(tmp_path / "meld")
    from hf_livechat.data.benchmarks.meld import load_meld

    ids = [i for split in load_meld(tmp_path / "meld").values() for i in split["id"]]
    extract_store(tmp_path / "lc", ids)
    common = ["train-affect", "--benchmark", "meld", "--data", str(tmp_path / "meld"), "--seeds", "0", "1", "--max-epochs", "2",
              "--d-model", "16", "--num-layers", "1", "--output-dir", str(tmp_path / "out")]
    assert cli_main([*common, "--live-comment-features", str(tmp_path / "lc"), "--no-live-comments"]) == 0
    out = capsys.readouterr().out
    assert "| with live comments |" in out and "| without live comments |" in out and "mean ± std over 2 seeds" in out
    report = json.loads((tmp_path / "out" / "affect_results.json").read_text())
    assert set(report["summary"]) == {"with live comments", "without live comments"}
    assert len(report["runs"]["with live comments"]) == 2
    assert (tmp_path / "out" / "with-live-comments" / "model" / "README.md").is_file()
    assert list((tmp_path / "cache" / "sentence_features").glob("*.npy"))  # the sentence features are cached

    # Features that miss a clip: a clear error and a non-zero exit, not a zero vector.
    extract_store(tmp_path / "lc-partial", ids[1:])
    assert cli_main([*common[:-1], str(tmp_path / "out2"), "--live-comment-features", str(tmp_path / "lc-partial")]) == 2
    assert "no live-comment features for 1 of the 24 train rows (e.g. ids ['train_dia0_utt0'])" in capsys.readouterr().err
    assert cli_main(common) == 2
    assert "pass --live-comment-features DIR" in capsys.readouterr().err


def test_the_command_compares_with_and_without_live_comments():
    assert live_comment_settings("lc", without=False) == {"with live comments": "lc", "without live comments": None}
    assert live_comment_settings("lc", without=True) == {"with live comments": "lc", "without live comments": None}
    assert live_comment_settings(None, without=True) == {"without live comments": None}
    with pytest.raises(ValueError, match="pass --live-comment-features DIR"):
        live_comment_settings(None, without=False)


def test_one_flow_joins_each_store_into_the_benchmark_or_every_fold(tmp_path, monkeypatch):
    dataset, features = toy_benchmark()
    vectors = dict(zip(features["id"], np.asarray(features["live_comment_features"], dtype=np.float32)))
    ran, loaded = [], []
    monkeypatch.setattr(protocol, "run_affect_protocol", lambda datasets, args: ran.append(("affect", datasets)))
    monkeypatch.setattr(protocol, "run_mustard_protocol", lambda datasets, args: ran.append(("folds", datasets)))
    settings = {"plain": None, "trained": "store-a", "untrained": "store-b"}

    def load(folder):
        loaded.append(folder)
        return vectors

    run_live_comment_protocol(dataset, settings, tiny_args(tmp_path), load_features=load)
    kind, datasets = ran.pop()
    assert kind == "affect" and list(datasets) == ["plain", "trained", "untrained"] and loaded == ["store-a", "store-b"]
    assert datasets["plain"] is dataset and "live_comment_features" in datasets["trained"]["test"].column_names
    folds = [DatasetDict(train=dataset["train"], test=dataset["test"]), DatasetDict(train=dataset["validation"], test=dataset["test"])]
    run_live_comment_protocol(folds, {"with": "store-a", "without": None}, tiny_args(tmp_path), load_features=load)
    kind, datasets = ran.pop()
    assert kind == "folds" and len(datasets["with"]) == 2 and datasets["without"] is folds
    assert all("live_comment_features" in fold["train"].column_names for fold in datasets["with"])


def test_training_arguments_follow_the_protocol(tmp_path):
    args = tiny_args(tmp_path, benchmark="mosi", weight_decay=0.05)
    training = affect_training_arguments(args, seed=3, run_dir=tmp_path / "run")
    assert (training.metric_for_best_model, training.greater_is_better, training.load_best_model_at_end) == ("mae", False, True)
    assert (training.seed, training.data_seed, training.weight_decay, training.num_train_epochs) == (3, 3, 0.05, args.max_epochs)
    assert training.eval_strategy.value == "epoch" and training.output_dir == str(tmp_path / "run")


# ------------------------------------------------------------------------------------- the join, for every loader


def vector_of(clip_id: str) -> np.ndarray:
    """A vector that names its clip: distinct ids get distinct vectors."""
    rng = np.random.default_rng(int.from_bytes(clip_id.encode()[-8:].rjust(8, b"\0"), "little") % 2**32 + len(clip_id))
    return rng.normal(size=6).astype(np.float32)


def loader_datasets(tmp_path):
    import pickle

    from hf_livechat.data.benchmarks.meld import load_meld
    from hf_livechat.data.benchmarks.mmsa import load_mmsa
    from hf_livechat.data.benchmarks.mustard import load_mustard, mustard_speaker_independent_split

    write_meld(tmp_path / "meld")
    rng = np.random.default_rng(0)
    mmsa = {}
    for k, split in enumerate(("train", "valid", "test")):
        mmsa[split] = {
            "text": rng.normal(size=(3, 4, 5)).astype(np.float32), "audio": rng.normal(size=(3, 2, 3)).astype(np.float32),
            "vision": rng.normal(size=(3, 2, 3)).astype(np.float32), "regression_labels": rng.uniform(-1, 1, 3).astype(np.float32),
            "id": np.array([f"video_{k}$_${i}" for i in range(3)]),
        }
    (tmp_path / "mmsa.pkl").write_bytes(pickle.dumps(mmsa))
    record = {"utterance": "x", "speaker": "A", "context": [], "context_speakers": [], "sarcasm": True}
    shows = ["BBT", "FRIENDS", "BBT", "FRIENDS"]
    (tmp_path / "sarcasm_data.json").write_text(json.dumps({f"1_{i}": {**record, "show": show} for i, show in enumerate(shows)}))
    return {
        "meld": load_meld(tmp_path / "meld"),
        "mmsa": load_mmsa(tmp_path / "mmsa.pkl", allow_pickle=True),
        "mustard": mustard_speaker_independent_split(load_mustard(tmp_path / "sarcasm_data.json")),
    }


def test_every_loader_joins_live_comment_features_by_its_own_id(tmp_path):
    joined = {}
    for name, dataset in loader_datasets(tmp_path).items():
        ids = [i for split in dataset.values() for i in split["id"]]
        assert len(ids) == len(set(ids)), name
        joined[name] = join_live_comment_features(dataset, {i: vector_of(i) for i in ids}, source=name)
        for split in joined[name].values():
            for row in split:
                np.testing.assert_allclose(row["live_comment_features"], vector_of(row["id"]), err_msg=name)
    # MELD: the test row dia0_utt0 and the train row dia0_utt0 are different clips and get different vectors.
    first_train, first_test = joined["meld"]["train"][0], joined["meld"]["test"][0]
    assert (first_train["dialogue_id"], first_train["utterance_id"]) == (first_test["dialogue_id"], first_test["utterance_id"])
    assert not np.allclose(first_train["live_comment_features"], first_test["live_comment_features"])


def test_mustard_benchmark_uses_the_fold_file_beside_the_json(tmp_path, monkeypatch):
    import pickle

    from hf_livechat.training.affect_benchmarks import load_affect_benchmark

    monkeypatch.setenv("HF_LIVECHAT_CACHE", str(tmp_path / "cache"))
    record = {"speaker": "A", "context_speakers": ["B"], "show": "BBT"}
    clips = {f"1_{i}": {**record, "utterance": f"oh great, {i}", "context": [f"it broke {i}"], "sarcasm": i % 2 == 0} for i in range(10)}
    (tmp_path / "sarcasm_data.json").write_text(json.dumps(clips))
    with pytest.raises(FileNotFoundError, match="speaker-dependent folds not found"):
        load_affect_benchmark("mustard", tmp_path / "sarcasm_data.json")
    folds = [(np.array([i for i in range(10) if i // 2 != k]), np.array([2 * k, 2 * k + 1])) for k in range(5)]
    (tmp_path / "split_indices.p").write_bytes(pickle.dumps(folds, protocol=2))
    loaded = load_affect_benchmark("mustard", tmp_path / "sarcasm_data.json")
    assert [fold["test"]["id"] for fold in loaded] == [[f"1_{2 * k}", f"1_{2 * k + 1}"] for k in range(5)]
    assert np.asarray(loaded[0]["test"][0]["text_features"]).shape == (2, 384)  # the utterance, then its context
