"""The thin CLI: generate -> render on a generated video, and clear errors."""

import json

import av
import pytest

from hf_livechat.cli import main
from hf_livechat.pipelines.comment_files import read_comments_json


def test_generate_then_render(model_dir, stream, tmp_path, capsys):
    out = tmp_path / "out" / "vod"
    assert main(["generate", str(stream / "vod.mp4"), "--model", str(model_dir), "--chat", str(stream / "chat.json"), "--transcript", str(stream / "speech.srt"), "-o", str(out), "--stride", "10", "--num-beams", "2"]) == 0
    comments = read_comments_json(out.with_suffix(".json"))
    assert [c["time"] for c in comments] == [20.0, 30.0, 40.0]
    assert out.with_suffix(".ass").is_file() and out.with_suffix(".srt").is_file()
    assert main(["render", str(stream / "vod.mp4"), str(out.with_suffix(".json")), "-o", str(tmp_path / "rendered.mp4")]) == 0
    with av.open(str(tmp_path / "rendered.mp4")) as container:
        assert container.streams.video and container.streams.audio


def test_errors_are_reported_without_a_traceback(tmp_path, capsys):
    (tmp_path / "x.txt").write_text("not a chat log\n")
    assert main(["read-chat", str(tmp_path / "x.txt")]) == 2
    assert "unrecognised chat log format" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["evaluate"])


def test_build_dataset_stops_at_once_when_the_frame_model_cannot_load(tmp_path, capsys):
    assert main(["make-stream", "--out", str(tmp_path / "streams"), "--num-streams", "2", "--duration", "60", "--workers", "1"]) == 0
    manifest = str(tmp_path / "streams" / "manifest.jsonl")
    assert main(["build-dataset", manifest, "--out", str(tmp_path / "ds"), "--feature-model", str(tmp_path / "no-such-model")]) == 1
    err = capsys.readouterr().err
    assert "cannot load the frame feature model" in err and "--feature-model efficientnet-lite0" in err
    assert not list((tmp_path / "ds").glob("data/*/*.parquet"))


def test_a_build_that_builds_nothing_exits_non_zero(tmp_path, capsys):
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    (tmp_path / "broken.chat.json").write_text("{}")
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text('{"vod_id": "v1", "video": "broken.mp4", "chat": "broken.chat.json", "split": "train"}\n')
    with pytest.raises(SystemExit, match="no clip was built"):
        main(["build-dataset", str(manifest), "--out", str(tmp_path / "ds"), "--feature-model", "none"])


def test_evaluate_reports_recall_by_a_dataset_column(model_dir, tmp_path, capsys):
    from clip_dataset_fixtures import write_clip_dataset

    dataset = write_clip_dataset(tmp_path / "clips", {"test": 16}, feature_dim=1280)
    report = tmp_path / "metrics.json"
    assert main(["evaluate", str(model_dir), str(dataset), "--group-by", "streamer", "--json", str(report)]) == 0
    out = capsys.readouterr().out
    assert "R@1 by streamer" in out
    groups = json.loads(report.read_text())["recall@1 by group"]
    assert sorted(groups) == ["s0 (8)", "s1 (8)"] and all(0 <= v <= 1 for v in groups.values())
    assert "activity over 16 response windows" in out
    activity = json.loads(report.read_text())["activity"]
    assert activity["num_windows"] == 16 and activity["model"]["mae"] >= 0 and "spearman" in activity["recent rate"]
    assert main(["evaluate", str(model_dir), str(dataset), "--group-by", "no_such_column"]) == 2
    assert "no such column" in capsys.readouterr().err


def test_every_option_of_every_command_says_what_it_does():
    import argparse

    from hf_livechat.cli import build_parser

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    silent = [f"{name} {action.dest}" for name, command in commands.items() for action in command._actions
              if not isinstance(action, argparse._HelpAction) and not action.help]
    assert not silent, silent


def test_evaluate_model_counts_distractors_marked_also_correct_as_hits(model_dir, tmp_path):
    from clip_dataset_fixtures import write_clip_dataset

    from hf_livechat.evaluation.evaluate import evaluate_model

    dataset = write_clip_dataset(tmp_path / "clips", {"test": 16}, feature_dim=1280)
    plain = evaluate_model(str(model_dir), str(dataset), show_progress=False)["full"]
    never = evaluate_model(str(model_dir), str(dataset), show_progress=False, also_correct=lambda row, truth, text: False)["full"]
    always = evaluate_model(str(model_dir), str(dataset), show_progress=False, also_correct=lambda row, truth, text: True)["full"]
    assert never["recall@1"] == plain["recall@1"] < 1
    assert always["recall@1"] == 1.0 and always["num_queries"] == plain["num_queries"]
