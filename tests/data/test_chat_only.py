"""Datasets from a chat log alone (or a chat log and a transcript): clips on the chat's clock, absent inputs marked
absent, time splits of one log, and training / evaluation on such a dataset."""

import json
from pathlib import Path

import numpy as np
import pytest
from datasets import load_dataset
from media_fixtures import write_test_video

from hf_livechat.cli import main
from hf_livechat.data.builders.livechat import BuildOptions, build_livechat_dataset
from hf_livechat.data.builders.manifest import ManifestError, read_manifest
from hf_livechat.data.builders.v2lc_segments import build_lcaffect_dataset
from hf_livechat.data.chat import ChatFilters, ChatMessage, write_twitch_json
from hf_livechat.data.clip_dataset import dataset_build_info, load_clip_dataset, video_feature_statistics
from hf_livechat.data.clip_inputs import clip_processor_inputs
from hf_livechat.data.clips import ClipConfig, split_by_time
from hf_livechat.data.transcripts import TranscriptSegment, write_srt


EVERY_CLIP = ClipConfig(selection="all")


def write_manifest(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def write_chat(path: Path, times, prefix: str = "msg") -> Path:
    messages = [ChatMessage(float(t), f"user{i % 5}", f"{prefix} {i} at {t:g}") for i, t in enumerate(times)]
    write_twitch_json(messages, path, video_id=path.stem, streamer="someone")
    return path


def raw_comments(path: Path) -> list[tuple[float, str, str]]:
    """The Twitch log's comments read with `json`, not with the package's reader."""
    comments = json.loads(path.read_text(encoding="utf-8"))["comments"]
    return [(float(c["content_offset_seconds"]), c["commenter"]["display_name"], c["message"]["body"]) for c in comments]


def test_chat_only_build_of_a_real_twitch_log(shared_data, tmp_path):
    real_log = shared_data / "twitch_vod_chat" / "1087079172.json"  # Northernlion, 48.7 min, 3,090 comments
    if not real_log.is_file():
        pytest.skip(f"the real Twitch chat sample is absent ({real_log})")
    manifest = write_manifest(tmp_path / "m.jsonl", [{"chat": str(real_log), "streamer": "Northernlion", "category": "Fall Guys"}])
    options = BuildOptions(clips=EVERY_CLIP, filters=ChatFilters.keep_all(), split_by_time=(0.7,), feature_model="timm/resnet50.a1_in1k")
    out = tmp_path / "ds"
    # A frame model is named, as the CLI's default does, but no VOD has a video: nothing is loaded or stored.
    summary = build_livechat_dataset(manifest, out, options, progress=False)
    assert summary.vods_done == 1 and not summary.vods_skipped and summary.notes["vods_without_video"] == 1

    comments = raw_comments(real_log)
    duration = max(t for t, _, _ in comments)  # the chat's clock: the last message
    assert summary.hours == pytest.approx(duration / 3600)
    expected = {}
    for k in range(int(duration // 30)):
        context = sorted(c for c in comments if 30 * k <= c[0] < 30 * k + 20)
        response = sorted(c for c in comments if 30 * k + 20 <= c[0] < 30 * k + 30)
        if response:
            expected[f"1087079172-{k}"] = (context, response)

    dataset = load_dataset(str(out))
    rows = sorted((row for split in dataset.values() for row in split), key=lambda row: row["start"])
    assert [row["clip_id"] for row in rows] == list(expected) and len(rows) > 90  # 48.7 min of chat: ~97 clips
    for row in rows:
        assert row["has_video"] is False and row["frame_times"] == [] and "video_features" not in row
        assert row["has_transcript"] is False and row["transcript"] is None and row["transcript_segments"] == []
        assert row["streamer"] == "Northernlion" and row["end"] - row["start"] == 30 and row["context_end"] - row["start"] == 20
        context, response = expected[row["clip_id"]]
        assert sorted((c["time"], c["author"], c["text"]) for c in row["context_comments"]) == context
        assert sorted((c["time"], c["author"], c["text"]) for c in row["response_comments"]) == response

    # The first 70 % of the log's clips train, the last 30 % test, none shared.
    train, test = dataset["train"], dataset["test"]
    assert set(dataset) == {"train", "test"} and len(train) == int(len(rows) * 0.7 + 0.5)
    assert max(train["end"]) <= min(test["start"])
    card = (out / "README.md").read_text()
    assert "first 70% train, last 30% test" in card and "every VOD is a chat log without its video" in card
    assert dataset_build_info(str(out))["feature_model"] is None  # no frame model for a model trained on it to inherit


def test_chat_and_transcript_without_video(tmp_path):
    chat = write_chat(tmp_path / "talk.json", np.arange(1.0, 100.0, 2.0))
    srt = tmp_path / "talk.srt"
    write_srt([TranscriptSegment(2.0, 6.0, "hello chat"), TranscriptSegment(18.0, 24.0, "look at this")], srt)
    no_speech = write_chat(tmp_path / "quiet.json", np.arange(1.0, 100.0, 2.0), prefix="quiet")
    manifest = write_manifest(
        tmp_path / "m.jsonl",
        [{"chat": "talk.json", "transcript": "talk.srt", "duration": 120, "split": "train"}, {"chat": "quiet.json", "split": "train"}],
    )
    sources = read_manifest(manifest)
    assert [(s.vod_id, s.video, s.duration) for s in sources] == [("talk", None, 120.0), ("quiet", None, None)]
    out = tmp_path / "ds"
    summary = build_livechat_dataset(manifest, out, BuildOptions(clips=EVERY_CLIP), progress=False)
    assert summary.notes["vods_without_video"] == 2 and summary.notes["vods_without_transcript"] == 1

    rows = {row["clip_id"]: row for row in load_dataset(str(out), split="train")}
    # `duration` 120 s gives 4 clips (the last one without chat: dropped); the last message (99 s) gives 3.
    assert sorted(rows) == ["quiet-0", "quiet-1", "quiet-2", "talk-0", "talk-1", "talk-2"]
    first, second = rows["talk-0"], rows["talk-1"]
    assert first["has_transcript"] is True and first["transcript"] == "hello chat look at this"
    assert first["transcript_segments"][-1] == {"start": 18.0, "end": 20.0, "text": "look at this"}  # clipped to the context
    assert second["has_transcript"] is True and second["transcript"] == ""  # a transcript with no speech there: silence
    assert rows["quiet-0"]["has_transcript"] is False and rows["quiet-0"]["transcript"] is None  # no transcript at all
    assert all(row["has_video"] is False and row["frame_times"] == [] for row in rows.values())
    assert [c["text"] for c in first["response_comments"]] == [f"msg {i} at {t:g}" for i, t in enumerate(range(1, 100, 2)) if 20 <= t < 30]

    inputs = clip_processor_inputs([first, rows["quiet-0"]])
    assert inputs["transcript"] == ["hello chat look at this", ""] and "video_features" not in inputs  # no row has frames
    inputs = clip_processor_inputs([first, rows["quiet-0"]], video_feature_dim=16)
    assert [v.shape for v in inputs["video_features"]] == [(0, 16), (0, 16)]


def mean_colour_encoder(frames: np.ndarray) -> np.ndarray:
    return frames.reshape(len(frames), -1, 3).mean(1).astype(np.float32)


def test_videos_and_chat_logs_in_one_build_share_one_schema(tmp_path):
    write_test_video(tmp_path / "game.mp4", seconds=35, fps=4, width=32, height=32)
    write_chat(tmp_path / "game.json", np.arange(0.5, 35.0, 1.0))
    write_chat(tmp_path / "logonly.json", np.arange(0.5, 65.0, 1.0))
    (tmp_path / "notes.json").write_text('{"not": "a chat log"}')  # not a VOD: skipped by the folder pairing
    sources = read_manifest(tmp_path)
    assert [(s.vod_id, s.has_video) for s in sources] == [("game", True), ("logonly", False)]

    out = tmp_path / "ds"
    options = BuildOptions(clips=EVERY_CLIP, split_ratios=(1.0, 0.0, 0.0))
    summary = build_livechat_dataset(sources, out, options, frame_encoder=mean_colour_encoder, progress=False)
    assert summary.vods_done == 2 and summary.examples["train"] == 3
    train = load_clip_dataset(str(out), "train")
    rows = {row["clip_id"]: row for row in train}
    assert rows["game-0"]["has_video"] and np.asarray(rows["game-0"]["video_features"]).shape == (20, 3)
    for clip_id in ("logonly-0", "logonly-1"):
        assert rows[clip_id]["has_video"] is False and np.asarray(rows[clip_id]["video_features"]).shape == (0, 3)
    # The frame statistics come from the real frames only.
    mean, std = video_feature_statistics(train)
    real = np.asarray(rows["game-0"]["video_features"], dtype=np.float64)
    np.testing.assert_allclose(mean, real.mean(0), rtol=1e-5)
    inputs = clip_processor_inputs([rows["logonly-0"], rows["game-0"]])
    assert [v.shape for v in inputs["video_features"]] == [(0, 3), (20, 3)]
    # A row that says its video is absent stays without video, whatever its features column holds.
    inputs = clip_processor_inputs([{**rows["game-0"], "has_video": False, "has_transcript": False}])
    assert inputs["video_features"][0].shape == (0, 3) and inputs["transcript"] == [""]


def test_training_on_a_split_whose_clips_have_no_frames(tmp_path, capsys):
    """A mixed build whose train split holds only the chat-only VOD: the model takes the dataset's feature size, and
    the frame statistics, which have no frame to read, are skipped."""
    write_test_video(tmp_path / "game.mp4", seconds=65, fps=4, width=32, height=32)
    write_chat(tmp_path / "game.json", np.arange(0.5, 65.0, 1.0))
    write_chat(tmp_path / "logonly.json", np.arange(0.5, 125.0, 1.0))
    manifest = write_manifest(tmp_path / "m.jsonl", [{"video": "game.mp4", "chat": "game.json", "split": "validation"}, {"chat": "logonly.json", "split": "train"}])
    data, model = tmp_path / "ds", tmp_path / "model"
    build_livechat_dataset(manifest, data, BuildOptions(clips=EVERY_CLIP), frame_encoder=mean_colour_encoder, progress=False)
    train = load_clip_dataset(str(data), "train")
    assert len(train) == 4 and video_feature_statistics(train) is None
    assert main(["train", str(data), "--output-dir", str(model), "--config", "tiny", "--epochs", "1", "--batch-size", "4", "--evaluations", "0"]) == 0
    assert json.loads((model / "config.json").read_text())["video_feature_dim"] == 3


def test_rows_without_a_chat_log_are_refused(tmp_path):
    write_chat(tmp_path / "c.json", [1.0, 25.0])
    (tmp_path / "v.mp4").write_bytes(b"")
    cases = {
        '{"transcript": "x.srt", "streamer": "a"}': "has neither a chat log nor a video",
        '{"video": "v.mp4"}': "missing required field 'chat'",
        '{"chat": "c.json", "duration": -3}': "duration must be a positive number",
        '{"chat": "c.json", "duration": "long"}': "duration must be a number",
    }
    for line, message in cases.items():
        manifest = tmp_path / "m.jsonl"
        manifest.write_text(line + "\n")
        with pytest.raises(ManifestError, match=message):
            read_manifest(manifest)
    csv = tmp_path / "m.csv"
    csv.write_text("video,chat,transcript\n,,\n")
    with pytest.raises(ManifestError, match=r"m.csv:2: the row has neither a chat log nor a video"):
        read_manifest(csv)
    # Segments pair frames with comments: the LCAffect build refuses chat-only VODs before building anything.
    manifest = write_manifest(tmp_path / "chat.jsonl", [{"chat": "c.json"}])
    with pytest.raises(ManifestError, match="needs a video for every VOD; 1 have only a chat log: c"):
        build_lcaffect_dataset(manifest, tmp_path / "segments", progress=False)
    assert not (tmp_path / "segments" / "data").exists()


def test_split_by_time_counts_and_errors():
    assert split_by_time(10, (0.7,)) == ["train"] * 7 + ["test"] * 3
    assert split_by_time(10, (0.8, 0.1)) == ["train"] * 8 + ["validation", "test"]
    assert split_by_time(95, (0.7,)).count("train") == 67  # 66.5 rounds up
    assert split_by_time(0, (0.7,)) == []
    for bad in [(), (1.0,), (0.7, 0.3), (0.5, 0.2, 0.1), (0.0,), (-0.1,)]:
        with pytest.raises(ValueError, match="shares"):
            split_by_time(10, bad)
    with pytest.raises(ValueError, match="split_by_time"):
        BuildOptions(split_by_time=(0.9, 0.2))


def test_split_by_time_keeps_a_vod_with_an_explicit_split_whole(tmp_path):
    write_chat(tmp_path / "a.json", np.arange(0.5, 301.0, 3.0))
    write_chat(tmp_path / "b.json", np.arange(0.5, 301.0, 3.0))
    manifest = write_manifest(tmp_path / "m.jsonl", [{"chat": "a.json"}, {"chat": "b.json", "split": "validation"}])
    out = tmp_path / "ds"
    summary = build_livechat_dataset(manifest, out, BuildOptions(clips=EVERY_CLIP, split_by_time=(0.8,)), progress=False)
    assert dict(summary.examples) == {"train": 8, "test": 2, "validation": 10}
    dataset = load_dataset(str(out))
    assert set(dataset["validation"]["vod_id"]) == {"b"} and set(dataset["test"]["vod_id"]) == {"a"}
    assert dataset["test"]["clip_index"] == [8, 9]
    # A restart finds every shard and rebuilds nothing; the card counts both VODs.
    again = build_livechat_dataset(manifest, out, BuildOptions(clips=EVERY_CLIP, split_by_time=(0.8,)), progress=False)
    assert dict(again.examples) == dict(summary.examples)
    assert "| train | 8 | 1 |" in (out / "README.md").read_text()


def test_cli_split_by_time_argument(tmp_path, capsys):
    logs = tmp_path / "logs"
    logs.mkdir()
    write_chat(logs / "a.json", np.arange(0.5, 301.0, 3.0))
    out = tmp_path / "ds"
    assert main(["build-dataset", str(logs), "--out", str(out), "--selection", "all", "--split-by-time", "0.6,0.2"]) == 0
    assert "clips: test 2, train 6, validation 2" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["build-dataset", str(logs), "--out", str(out), "--split-by-time", "0.7,0.4"])
    assert "sum to less than 1" in capsys.readouterr().err


def test_sliding_clips_split_by_time_share_no_comment_between_splits(tmp_path, capsys):
    logs = tmp_path / "logs"
    logs.mkdir()
    write_chat(logs / "a.json", np.arange(0.5, 301.0, 3.0))
    out = tmp_path / "ds"
    assert main(["build-dataset", str(logs), "--out", str(out), "--selection", "all", "--clip-stride", "5",
                 "--split-by-time", "0.7"]) == 0
    dataset = load_dataset(str(out))
    train, test = dataset["train"], dataset["test"]
    # A clip every 5 s; the train clips that reach into the test part are dropped.
    starts = sorted(list(train["start"]) + list(test["start"]))
    assert np.allclose(np.diff(starts)[:10], 5.0) and len(test) >= 15
    assert max(train["end"]) <= min(test["start"]) < max(train["end"]) + 30
    targets = lambda split: {c["text"] for row in split["response_comments"] for c in row}
    assert not targets(train) & targets(test)
    assert "a clip starting every 5 s" in (out / "README.md").read_text()


def test_a_tiny_model_trains_and_evaluates_on_a_chat_only_dataset(tmp_path, capsys):
    rng = np.random.default_rng(0)
    words = ["pog", "lul", "gg", "clip it", "no way", "kekw"]
    times = np.sort(rng.uniform(0, 600, 900))
    messages = [ChatMessage(float(t), f"u{rng.integers(30)}", f"{words[int(t // 30) % len(words)]} {rng.integers(3)}") for t in times]
    write_twitch_json(messages, tmp_path / "log.json", video_id="log", streamer="s")
    data, model = tmp_path / "ds", tmp_path / "model"
    assert main(["build-dataset", str(tmp_path / "log.json"), "--out", str(data), "--selection", "all", "--split-by-time", "0.7"]) == 0
    assert main(["train", str(data), "--output-dir", str(model), "--config", "tiny", "--epochs", "1", "--batch-size", "8", "--evaluations", "0"]) == 0
    config = json.loads((model / "config.json").read_text())
    # No frames in the data: the preset's video_feature_dim and frame model stay, a consistent pair for later videos.
    assert config["video_feature_dim"] == 2048 and config["feature_model"] == "timm/resnet50.a1_in1k"
    capsys.readouterr()
    report = tmp_path / "eval.json"
    assert main(["evaluate", str(model), str(data), "--split", "test", "--protocol", "livechat", "--json", str(report)]) == 0
    metrics = json.loads(report.read_text())
    assert metrics["num_queries"] == 6 and 0 <= metrics["recall@1"] <= 1 and 1 <= metrics["mean_rank"] <= 10
