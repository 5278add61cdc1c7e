"""Live-comment features per clip: one vector for a clip of any length under its own id (the documented window rule),
and a feature store that records the model and source and refuses to mix in vectors of another model."""

import json

import numpy as np
import pytest
import torch
from datasets import Array2D, Dataset, Features, Value
from media_fixtures import PALETTE, colour_at, nearest_colour_second, write_test_video

from hf_livechat.cli import main as cli_main
from hf_livechat.models.v2lc import V2LCConfig, V2LCModel
from hf_livechat.pipelines.lc_features import (
    SIDECAR,
    FeatureClip,
    StaleFeaturesError,
    clip_windows,
    extract_lc_features,
    frame_windows,
    load_lc_features,
    model_weights_sha256,
)


def palette_encoder(frames: np.ndarray) -> np.ndarray:
    """A transparent stand-in frame encoder: the palette colour each (lossily decoded) frame shows, exactly."""
    return np.asarray([PALETTE[nearest_colour_second(frame)] for frame in frames], dtype=np.float32)


def tiny_v2lc(seed=0, feature_dim=3) -> V2LCModel:
    torch.manual_seed(seed)
    text = {"model_type": "bert", "vocab_size": 64, "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
            "intermediate_size": 32, "max_position_embeddings": 32}  # fmt: skip
    config = V2LCConfig(text_config=text, video_feature_dim=feature_dim, video_hidden_size=16, video_num_layers=1, video_num_heads=2,
                        video_intermediate_size=32, max_video_frames=8, projection_dim=12, hidden_dropout=0.0)  # fmt: skip
    return V2LCModel(config).eval()


def tower(model, frames: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return torch.nn.functional.normalize(model.get_video_features(torch.tensor(frames, dtype=torch.float32)[None]), dim=-1)[0].numpy()


def test_window_rule():
    # A 3 s file (its own source): its 3 frames, the rest of the 8 s masked.
    assert clip_windows(0.0, 3.0, 3.0, 8.0, 1.0) == [[0.0, 1.0, 2.0]]
    # A 3 s span of a 60 s stream: the 8 s around its centre (11.5 s), on the frame grid.
    assert clip_windows(10.0, 13.0, 60.0, 8.0, 1.0) == [[8.0 + k for k in range(8)]]
    # Near the start or the end, the window shifts to stay inside the source.
    assert clip_windows(1.0, 3.0, 60.0, 8.0, 1.0) == [[float(k) for k in range(8)]]
    assert clip_windows(57.0, 60.0, 60.0, 8.0, 1.0) == [[52.0 + k for k in range(8)]]
    # 20 s: ceil(20 / 8) = 3 windows from its start to its end, overlapping.
    assert clip_windows(0.0, 20.0, 20.0, 8.0, 1.0) == [[s + k for k in range(8)] for s in (0.0, 6.0, 12.0)]
    assert len(clip_windows(0.0, 16.0, 16.0, 8.0, 1.0)) == 2 and len(clip_windows(0.0, 8.0, 8.0, 8.0, 1.0)) == 1
    features = np.arange(20, dtype=np.float32)[:, None]
    assert [w[:, 0].tolist() for w in frame_windows(features, 8)] == [list(range(s, s + 8)) for s in (0, 6, 12)]
    assert len(frame_windows(features[:3], 8)) == 1
    with pytest.raises(ValueError, match="not after its start"):
        clip_windows(5.0, 5.0, 10.0, 8.0, 1.0)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    write_test_video(folder / "stream.mp4", seconds=30, fps=2, width=32, height=32, audio=False)
    write_test_video(folder / "utterance.mp4", seconds=3, fps=2, width=32, height=32, audio=False)
    rows = [
        {"id": "short_file", "video": "utterance.mp4"},
        {"id": "short_span", "video": "stream.mp4", "start": 10.0, "end": 13.0},
        {"id": "long_span", "video": "stream.mp4", "start": 2.0, "end": 22.0},
    ]
    (folder / "clips.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return folder


def test_a_3s_and_a_20s_clip_each_get_exactly_one_vector_under_their_own_id(clips, tmp_path):
    model = tiny_v2lc()
    summary = extract_lc_features(model, clips / "clips.jsonl", tmp_path / "lc", frame_encoder=palette_encoder, progress=False)
    vectors = load_lc_features(tmp_path / "lc")
    assert summary.clips == 3 and sorted(vectors) == ["long_span", "short_file", "short_span"]

    def colours(seconds):
        return np.asarray([colour_at(s) for s in seconds], dtype=np.float32)

    # The frames each vector saw, by the rule: the 3 s file's own 3 frames; the 8 s of the stream around the 3 s span
    # [10, 13); three windows (2, 8, 14 s) of the 20 s span [2, 22), averaged.
    np.testing.assert_allclose(vectors["short_file"], tower(model, colours(range(3))), atol=1e-5)
    np.testing.assert_allclose(vectors["short_span"], tower(model, colours(range(8, 16))), atol=1e-5)
    mean = np.mean([tower(model, colours(range(s, s + 8))) for s in (2, 8, 14)], axis=0)
    np.testing.assert_allclose(vectors["long_span"], mean / np.linalg.norm(mean), atol=1e-5)


def feature_source(num_clips=5, seed=0) -> Dataset:
    rng = np.random.default_rng(seed)
    frames = [rng.normal(size=(n, 3)).astype(np.float32) for n in (3, 20, 8, 1, 12)[:num_clips]]
    return Dataset.from_dict(
        {"id": [f"dia{i}_utt0" for i in range(num_clips)], "video_features": frames},
        features=Features({"id": Value("string"), "video_features": Array2D(shape=(None, 3), dtype="float32")}),
    )


def test_frame_feature_clips_get_one_vector_each_and_resume(tmp_path):
    model, source = tiny_v2lc(), feature_source()
    out = tmp_path / "lc"
    summary = extract_lc_features(model, source, out, shard_size=2, progress=False)
    assert (summary.clips, summary.written_shards, summary.feature_dim) == (5, 3, 12)
    vectors = load_lc_features(out)
    assert list(vectors) == [f"dia{i}_utt0" for i in range(5)]
    frames = np.asarray(source[1]["video_features"], dtype=np.float32)  # 20 frames: windows at 0, 6, 12
    mean = np.mean([tower(model, frames[s : s + 8]) for s in (0, 6, 12)], axis=0)
    np.testing.assert_allclose(vectors["dia1_utt0"], mean / np.linalg.norm(mean), atol=1e-5)
    np.testing.assert_allclose(vectors["dia3_utt0"], tower(model, np.asarray(source[3]["video_features"])), atol=1e-5)

    # The same model and the same clips (rebuilt, as in a new session) resume: a deleted shard is rewritten.
    next(out.glob("lc-features-00001-*.parquet")).unlink()
    summary = extract_lc_features(model, feature_source(), out, shard_size=2, progress=False)
    assert (summary.written_shards, summary.resumed_shards) == (1, 2)
    assert load_lc_features(out).keys() == vectors.keys()


def test_another_model_is_refused_unless_overwrite(tmp_path):
    source, out = feature_source(), tmp_path / "lc"
    first, retrained = tiny_v2lc(seed=0), tiny_v2lc(seed=1)
    extract_lc_features(first, source, out, progress=False)
    old = load_lc_features(out)
    info = json.loads((out / SIDECAR).read_text())
    assert info["model"]["sha256"] == model_weights_sha256(first) and info["complete"] and info["source"]["fingerprint"]

    with pytest.raises(StaleFeaturesError, match="model weights"):
        extract_lc_features(retrained, source, out, progress=False)
    assert load_lc_features(out).keys() == old.keys()  # refused before touching anything
    with pytest.raises(StaleFeaturesError, match="source"):
        extract_lc_features(first, feature_source(4), out, progress=False)

    extract_lc_features(retrained, source, out, overwrite=True, progress=False)
    new = load_lc_features(out, model_sha256=model_weights_sha256(retrained))
    np.testing.assert_allclose(new["dia0_utt0"], tower(retrained, np.asarray(source[0]["video_features"])), atol=1e-5)
    assert not np.allclose(new["dia0_utt0"], old["dia0_utt0"])
    with pytest.raises(StaleFeaturesError, match="features of model"):
        load_lc_features(out, model_sha256=model_weights_sha256(first))


def test_stores_without_a_record_or_unfinished_are_refused(tmp_path):
    model, source, out = tiny_v2lc(), feature_source(), tmp_path / "lc"
    extract_lc_features(model, source, out, progress=False)
    info = json.loads((out / SIDECAR).read_text())
    (out / SIDECAR).write_text(json.dumps({**info, "complete": False}))
    with pytest.raises(ValueError, match="did not finish"):
        load_lc_features(out)
    (out / SIDECAR).unlink()  # shards of unknown origin
    with pytest.raises(FileNotFoundError, match="no lc_features.json"):
        load_lc_features(out)
    with pytest.raises(StaleFeaturesError, match="unknown model"):
        extract_lc_features(model, source, out, progress=False)
    with pytest.raises(ValueError, match="clip ids must be unique"):
        extract_lc_features(model, [FeatureClip("a", features=np.ones((2, 3), np.float32))] * 2, tmp_path / "dup", progress=False)


def test_command_line_refuses_a_stale_store_and_overwrites(clips, tmp_path, capsys):
    first, retrained = tiny_v2lc(seed=0), tiny_v2lc(seed=1)
    for name, model in (("first", first), ("retrained", retrained)):
        model.save_pretrained(tmp_path / name)
    source = tmp_path / "frames"
    source.mkdir()
    for row in feature_source():
        np.save(source / f"{row['id']}.npy", np.asarray(row["video_features"], dtype=np.float32))
    out = tmp_path / "lc"
    assert cli_main(["extract-lc-features", str(source), "--model", str(tmp_path / "first"), "--out", str(out)]) == 0
    assert "5 clips -> 12-d live-comment features" in capsys.readouterr().out
    assert cli_main(["extract-lc-features", str(source), "--model", str(tmp_path / "retrained"), "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    argv = ["extract-lc-features", str(source), "--model", str(tmp_path / "retrained"), "--out", str(out), "--overwrite"]
    assert cli_main(argv) == 0
    assert json.loads((out / SIDECAR).read_text())["model"]["sha256"] == model_weights_sha256(retrained)


def test_command_line_stops_when_the_frame_model_cannot_load(clips, tmp_path, capsys):
    # The same frame-model loader as the dataset builders: one clear message and exit 1, nothing written.
    tiny_v2lc().save_pretrained(tmp_path / "model")
    argv = ["extract-lc-features", str(clips / "clips.jsonl"), "--model", str(tmp_path / "model"), "--out", str(tmp_path / "lc"),
            "--feature-model", str(tmp_path / "no-such-model")]  # fmt: skip
    assert cli_main(argv) == 1
    err = capsys.readouterr().err
    assert "cannot load the frame feature model" in err and "--feature-model efficientnet-lite0" in err
    assert not list((tmp_path / "lc").glob("*.parquet"))
