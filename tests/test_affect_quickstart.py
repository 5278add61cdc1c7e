"""The affect quickstart, shrunk: every step runs with the real functions, its outputs exist and load, and a re-run
resumes instead of redoing the work. No thresholds on the figures of so tiny a run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hf_livechat.affect_quickstart import (
    NO_LIVE_COMMENTS,
    TRAINED,
    UNTRAINED,
    AffectQuickstartOptions,
    compare_settings,
    run_affect_quickstart,
)


def tiny(out) -> AffectQuickstartOptions:
    return AffectQuickstartOptions(
        out_dir=str(out), num_games=4, num_streams=4, stream_seconds=40, labelled_seconds=40, frame_size=32,
        v2lc_epochs=1, seeds=(0, 1), affect_max_epochs=1, affect_patience=1, progress=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("affect-quickstart")
    return out, run_affect_quickstart(tiny(out))


def test_every_step_leaves_outputs_that_load(run):
    from datasets import load_dataset
    from transformers import AutoModel

    from hf_livechat.pipelines.lc_features import lc_feature_store_info, load_lc_features

    out, report = run
    assert (out / "streams" / "manifest.jsonl").is_file()
    segments = load_dataset(str(out / "segments"))
    assert len(segments["train"]) > 0 and "video_features" in segments["train"].column_names
    trained = AutoModel.from_pretrained(out / "v2lc")
    untrained = AutoModel.from_pretrained(out / "v2lc-untrained")
    assert trained.config.feature_model == "efficientnet-lite0"
    # The control has the trained model's architecture, not its weights.
    assert trained.config.projection_dim == untrained.config.projection_dim
    assert not np.allclose(trained.video_projection.weight.detach(), untrained.video_projection.weight.detach())

    ids = [json.loads(line)["id"] for line in (out / "labelled" / "manifest.jsonl").read_text().splitlines()]
    stores = {}
    for name in ("trained", "untrained"):
        vectors = load_lc_features(out / "lc-features" / name)
        assert sorted(vectors) == sorted(ids), "one vector per labelled clip, under its id"
        assert all(np.isclose(np.linalg.norm(v), 1, atol=1e-4) for v in vectors.values())
        stores[name] = lc_feature_store_info(out / "lc-features" / name)["model"]["sha256"]
    assert stores["trained"] != stores["untrained"]

    saved = json.loads((out / "affect_evaluation.json").read_text())
    assert set(saved["summary"]) == {NO_LIVE_COMMENTS, TRAINED, UNTRAINED}
    for setting in saved["summary"].values():
        assert 0 <= setting["accuracy"]["mean"] <= 1 and setting["accuracy"]["std"] >= 0
    assert set(saved["verdict"]) == {TRAINED, UNTRAINED}
    assert saved["clips"]["train"] > 0 and saved["clips"]["test"] > 0
    assert report["summary"] == saved["summary"]


def test_a_rerun_resumes(run):
    out, report = run
    stamps = {path: path.stat().st_mtime_ns for path in (out / "v2lc" / "model.safetensors", *sorted((out / "lc-features").rglob("*.parquet")))}
    again = run_affect_quickstart(tiny(out))
    assert again["summary"] == report["summary"]
    assert {path: path.stat().st_mtime_ns for path in stamps} == stamps


def test_compare_settings_applies_the_twice_std_bar():
    summary = {
        NO_LIVE_COMMENTS: {"accuracy": {"mean": 0.50, "std": 0.02}},
        TRAINED: {"accuracy": {"mean": 0.80, "std": 0.03}},
        UNTRAINED: {"accuracy": {"mean": 0.54, "std": 0.03}},
    }
    verdict = compare_settings(summary, metrics=("accuracy",))
    assert verdict[TRAINED]["accuracy"]["beats"] and verdict[TRAINED]["accuracy"]["twice_std"] == pytest.approx(0.06)
    assert not verdict[UNTRAINED]["accuracy"]["beats"]
    assert verdict[UNTRAINED]["accuracy"]["gain"] == pytest.approx(0.04)


def test_the_command_line_maps_its_options(monkeypatch, tmp_path):
    import hf_livechat.affect_quickstart as module
    from hf_livechat.cli import main

    seen = []
    monkeypatch.setattr(module, "run_affect_quickstart", lambda options: seen.append(options) or {})
    assert main(["quickstart", "--affect", "--out", str(tmp_path), "--num-streams", "8", "--duration", "60",
                 "--epochs", "2", "--frame-size", "32", "--seeds", "3", "4"]) == 0
    (options,) = seen
    assert (options.out_dir, options.num_streams, options.stream_seconds, options.v2lc_epochs, options.frame_size,
            options.seeds) == (str(tmp_path), 8, 60.0, 2.0, 32, (3, 4))
    seen.clear()
    assert main(["quickstart", "--affect"]) == 0
    assert seen[0].out_dir == "affect-quickstart" and seen[0] == AffectQuickstartOptions()


def test_options_reject_unknown_settings():
    with pytest.raises(ValueError, match="settings must be among"):
        AffectQuickstartOptions(settings=("text only",))
    with pytest.raises(ValueError, match="at least one seed"):
        AffectQuickstartOptions(seeds=())
