"""The quickstart chain end to end, shrunk (6 short streams, 32 px frames, a tiny model, one epoch): every step runs
with the real backbone and the normal commands' functions, its outputs load, and a re-run resumes."""

import json

import pytest

from hf_livechat.quickstart import QuickstartOptions, run_quickstart


SETTINGS = ["full", "no video", "no transcript", "no chat"]


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory):
    out = tmp_path_factory.mktemp("quickstart")
    options = QuickstartOptions(out_dir=str(out), num_streams=6, stream_seconds=300, epochs=1, config="tiny", frame_size=32)
    return out, options, run_quickstart(options)


def test_every_step_leaves_its_output(quickstart):
    out, _, result = quickstart
    assert (out / "streams" / "manifest.jsonl").is_file()
    assert (out / "dataset" / "README.md").is_file()
    assert list(result["timings"]) == ["make-stream", "build-dataset", "train", "evaluate", "generate"]

    evaluation = json.loads((out / "evaluation.json").read_text())
    for setting in SETTINGS:
        metrics = evaluation[setting]
        assert metrics["num_queries"] > 0 and metrics["protocol"] == "livechat"
        assert 0.0 <= metrics["recall@1"] <= metrics["recall@5"] <= metrics["recall@10"] == 1.0
    for setting in SETTINGS:
        by_cue = evaluation[setting]["recall@1 by group"]
        counts = {column.split(" (")[0]: int(column.split("(")[1].rstrip(")")) for column in by_cue}
        assert set(counts) == {"video", "transcript", "chat"}
        assert sum(counts.values()) == evaluation["full"]["num_queries"]
        assert all(0.0 <= value <= 1.0 for value in by_cue.values())


def test_the_model_loads_and_generated_comments_lie_in_the_stream(quickstart):
    from transformers import AutoModel

    out, options, result = quickstart
    model = AutoModel.from_pretrained(out / "model")
    assert type(model).__name__ == "LiveChatForCommentGeneration"
    assert "recall@1" in (out / "model" / "README.md").read_text()  # the card carries the evaluation
    assert set(result["generated"]) == {"all inputs", "video only"}
    for generated in result["generated"].values():
        times = [c["time"] for c in generated]
        assert generated and times == sorted(times) and 20.0 <= times[0] and times[-1] <= options.stream_seconds
        assert all(isinstance(c["comment"], str) and c["comment"] for c in generated)
    assert len(list((out / "generated").glob("*.video-only.json"))) == 1


def test_a_rerun_from_the_command_line_resumes_instead_of_starting_over(quickstart, capsys):
    from hf_livechat.cli import main

    out, options, first = quickstart
    weights = (out / "model" / "model.safetensors").stat().st_mtime_ns
    evaluation = (out / "evaluation.json").read_text()
    argv = ["quickstart", "--out", str(out), "--num-streams", "6", "--duration", "300", "--frame-size", "32",
            "--config", "tiny", "--epochs", "1"]
    assert main(argv) == 0
    assert (out / "model" / "model.safetensors").stat().st_mtime_ns == weights  # not trained again
    assert (out / "evaluation.json").read_text() == evaluation
    assert "3/5 train: LiveChat 'tiny', 1 epochs" in capsys.readouterr().out
