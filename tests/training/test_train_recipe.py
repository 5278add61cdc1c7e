"""The training recipe as users run it: the example script, resume after a kill, and 2-process DDP on CPU."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from clip_dataset_fixtures import write_clip_dataset
from safetensors.torch import load_file
from transformers import AutoModel, AutoProcessor

from hf_livechat import LiveChatForCommentGeneration


REPO = Path(__file__).resolve().parents[2]
TINY = ["--config", "tiny", "--use_cpu", "--report_to", "none", "--disable_tqdm", "true", "--seed", "0", "--dataloader_num_workers", "0"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_clip_dataset(tmp_path_factory.mktemp("clips"), {"train": 24, "validation": 8})


def run_example(args, **kwargs):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, str(REPO / "examples" / "train_livechat.py"), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)


def test_example_trains_and_saves_a_loadable_model(dataset, tmp_path):
    out = tmp_path / "model"
    proc = run_example(["--dataset_dir", str(dataset), "--output_dir", str(out), "--max_steps", "40", "--per_device_train_batch_size", "8", "--learning_rate", "3e-3", "--logging_steps", "5", "--eval_strategy", "steps", "--eval_steps", "20", "--save_strategy", "no", *TINY])
    log, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, log[-3000:]
    history = json.loads((out / "trainer_state.json").read_text())["log_history"] if (out / "trainer_state.json").exists() else None
    losses = [float(line.split("'loss': '")[1].split("'")[0]) for line in log.splitlines() if "'loss': '" in line]
    assert len(losses) >= 4 and losses[-1] < 0.7 * losses[0], losses
    assert history is None or history
    model = AutoModel.from_pretrained(out)
    processor = AutoProcessor.from_pretrained(out)
    assert isinstance(model, LiveChatForCommentGeneration) and model.config.video_feature_dim == 8
    inputs = processor(video_features=torch.zeros(20, 8), transcript="let us talk about jazz now", chat=["hello jazz"])
    assert processor.batch_decode(model.generate(**inputs, max_new_tokens=6))[0]


def test_killed_training_resumes_to_the_same_weights(dataset, tmp_path):
    common = ["--dataset_dir", str(dataset), "--max_steps", "14", "--per_device_train_batch_size", "4", "--save_steps", "4", "--save_strategy", "steps", "--eval_strategy", "no", "--logging_steps", "3", "--learning_rate", "1e-3", *TINY]
    reference = run_example([*common, "--output_dir", str(tmp_path / "reference")])
    log, _ = reference.communicate(timeout=600)
    assert reference.returncode == 0, log[-3000:]

    out = tmp_path / "resumed"
    first = run_example([*common, "--output_dir", str(out)], start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and not (out / "checkpoint-4" / "trainer_state.json").exists():
        time.sleep(0.1)
    os.killpg(first.pid, signal.SIGKILL)
    first.communicate()
    assert not (out / "model.safetensors").exists(), "the run finished before it could be killed"

    second = run_example([*common, "--output_dir", str(out)])
    log, _ = second.communicate(timeout=600)
    assert second.returncode == 0, log[-3000:]
    assert (out / "checkpoint-12").is_dir()  # continued past the kill
    expected, resumed = load_file(tmp_path / "reference" / "model.safetensors"), load_file(out / "model.safetensors")
    for name, tensor in expected.items():
        torch.testing.assert_close(resumed[name], tensor, msg=name)


def test_cli_train_keeps_the_checkpoint_with_the_best_validation_ranking(dataset, tmp_path, capsys):
    from hf_livechat.cli import main

    out = tmp_path / "model"
    argv = ["train", str(dataset), "--output-dir", str(out), "--config", "tiny", "--epochs", "2", "--evaluations", "2",
            "--batch-size", "8", "--warmup-steps", "0", "--logging-steps", "5", "--modality-dropout", "0.2",
            "--config-overrides", "max_context_comments=6", "--min-selection-queries", "1"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "checkpoint selection: contrastive Recall@1 on" in printed
    assert "activity head refitted on the final encoders (24 clips)" in printed and "on 8 validation clips" in printed
    state = json.loads((out / "trainer_state.json").read_text())
    rankings = [entry for entry in state["log_history"] if "eval_recall@1" in entry]
    assert len(rankings) == 2 and all(0 <= entry["eval_recall@1"] <= 1 for entry in rankings)
    best = max(rankings, key=lambda entry: entry["eval_recall@1"])
    assert state["best_metric"] == best["eval_recall@1"]
    assert state["best_model_checkpoint"].endswith(f"checkpoint-{best['step']}")
    # the saved model is the best checkpoint's (tied embeddings included), its activity head then refitted alone
    saved, kept = load_file(out / "model.safetensors"), load_file(Path(state["best_model_checkpoint"]) / "model.safetensors")
    for name, tensor in kept.items():
        if not name.startswith("activity_head."):
            torch.testing.assert_close(saved[name], tensor, msg=name)
    config = json.loads((out / "config.json").read_text())
    assert config["max_context_comments"] == 6  # --config-overrides reached the config


def test_cli_train_keeps_the_last_weights_when_validation_is_too_small_to_select_on(dataset, tmp_path, capsys):
    from hf_livechat.cli import main

    out = tmp_path / "model"
    argv = ["train", str(dataset), "--output-dir", str(out), "--config", "tiny", "--epochs", "2", "--evaluations", "2",
            "--batch-size", "8", "--warmup-steps", "0", "--no-refit-activity"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "checkpoint selection: off, validation has" in printed and "the last weights are kept" in printed
    assert "activity head refitted" not in printed  # --no-refit-activity: the head too is the last checkpoint's
    state = json.loads((out / "trainer_state.json").read_text())
    assert sum("eval_recall@1" in entry for entry in state["log_history"]) == 2  # still evaluated, for the log
    last = sorted(out.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))[-1]
    assert last.name == f"checkpoint-{state['global_step']}"
    saved, final = load_file(out / "model.safetensors"), load_file(last / "model.safetensors")
    for name, tensor in final.items():
        torch.testing.assert_close(saved[name], tensor, msg=name)


def test_cli_train_without_a_validation_split_keeps_the_last_weights(tmp_path, caplog):
    from hf_livechat.cli import main

    data = write_clip_dataset(tmp_path / "clips", {"train": 16})
    out = tmp_path / "model"
    assert main(["train", str(data), "--output-dir", str(out), "--config", "tiny", "--epochs", "1", "--batch-size", "8"]) == 0
    assert (out / "model.safetensors").is_file()
    assert "training without evaluation" in caplog.text
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["best_model_checkpoint"] is None and not any("eval_recall@1" in e for e in state["log_history"])


def test_a_launched_run_that_would_train_separate_copies_stops(monkeypatch, tmp_path):
    from transformers import Seq2SeqTrainingArguments

    from hf_livechat.training.train import check_launch

    args = Seq2SeqTrainingArguments(output_dir=str(tmp_path), report_to="none")
    check_launch(args)  # one process: fine
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(RuntimeError, match="its own copy"):
        check_launch(args)


@pytest.mark.slow
def test_two_process_ddp_sees_different_data_and_ends_with_equal_weights(dataset, tmp_path):
    driver = tmp_path / "driver.py"
    driver.write_text(
        textwrap.dedent(
            """
            import hashlib, json, os, sys
            import torch
            from transformers import Seq2SeqTrainer
            from hf_livechat.training import collators, train

            rank = int(os.environ["RANK"])
            seen = []
            original = collators.DataCollatorForCommentGeneration.__call__
            def recording_call(self, rows):
                if self.random_target:
                    seen.extend(r["clip_id"] for r in rows)
                return original(self, rows)
            collators.DataCollatorForCommentGeneration.__call__ = recording_call

            weights = {}
            original_train = Seq2SeqTrainer.train
            def train_and_hash(self, *args, **kwargs):
                result = original_train(self, *args, **kwargs)
                model = self.accelerator.unwrap_model(self.model)
                digest = hashlib.sha256()
                for name, tensor in sorted(model.state_dict().items()):
                    digest.update(tensor.detach().float().numpy().tobytes())
                weights["sha"] = digest.hexdigest()
                return result
            Seq2SeqTrainer.train = train_and_hash

            from transformers import Seq2SeqTrainingArguments
            recipe = train.LiveChatRecipeArguments(dataset_dir=sys.argv[1], config="tiny", eval_split=None)
            args = Seq2SeqTrainingArguments(output_dir=sys.argv[2], max_steps=4, per_device_train_batch_size=3, use_cpu=True,
                                            report_to="none", save_strategy="no", disable_tqdm=True, seed=0, ddp_backend="gloo")
            train.train_livechat(recipe, args)
            import torch.distributed as dist
            world = dist.get_world_size() if dist.is_initialized() else 1
            with open(os.path.join(sys.argv[2], f"rank{rank}.json"), "w") as f:
                json.dump({"seen": seen, "sha": weights["sha"], "world": world}, f)
            """
        )
    )
    out = tmp_path / "ddp"
    out.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517", str(driver), str(dataset), str(out)],
        capture_output=True, text=True, env=env, timeout=900,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert all(r["world"] == 2 for r in ranks)
    assert ranks[0]["seen"] and ranks[1]["seen"]
    assert not set(ranks[0]["seen"][:3]) & set(ranks[1]["seen"][:3]), "both processes got the same first batch"
    assert ranks[0]["sha"] == ranks[1]["sha"], "weights differ between processes after training"


def test_a_short_run_warms_up_for_a_tenth_of_its_steps(tmp_path, capsys):
    from hf_livechat.cli import main

    data = write_clip_dataset(tmp_path / "clips", {"train": 16})
    out = tmp_path / "model"
    # 10 epochs of 2 batches: 20 steps, which the recipe's 30 warm-up steps would fill entirely
    assert main(["train", str(data), "--output-dir", str(out), "--config", "tiny", "--epochs", "10", "--batch-size", "8",
                 "--logging-steps", "1", "--no-refit-activity"]) == 0
    assert "warm-up: 2 steps, a tenth of the run's 20 (not 30)" in capsys.readouterr().out
    rates = [e["learning_rate"] for e in json.loads((out / "trainer_state.json").read_text())["log_history"] if "learning_rate" in e]
    assert len(rates) == 20 and max(rates) == pytest.approx(1e-3, rel=0.02) and rates.index(max(rates)) <= 2
