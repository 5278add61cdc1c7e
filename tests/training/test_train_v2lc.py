"""The V2LC training recipe: split by VOD, training through the CLI, retrieval above chance, resume after a kill, the
temperature clamp, and negatives gathered across 2 processes equal to one process holding the whole batch."""

import json
import math
import multiprocessing
import os
import signal
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from transformers import TrainerCallback, TrainingArguments

from hf_livechat.cli import main as cli_main
from hf_livechat.models.v2lc import LOGIT_SCALE_MAX, V2LCContrastiveLoss, V2LCModel

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from v2lc_segments import write_segment_dataset  # noqa: E402
from v2lc_testing import tiny_v2lc_config, topic_segments  # noqa: E402

from hf_livechat.training.v2lc import (  # noqa: E402
    V2LCRecipeArguments,
    load_segment_splits,
    retrieval_recall,
    train_v2lc,
    v2lc_training_arguments,
)


SPLITS = {"train": ["vod0", "vod1", "vod2"], "validation": ["vod3"], "test": ["vod4"]}


@pytest.fixture(scope="module")
def segments(tmp_path_factory):
    return write_segment_dataset(tmp_path_factory.mktemp("v2lc") / "segments", SPLITS)


def tiny_args(output_dir, **overrides) -> TrainingArguments:
    kwargs = dict(
        output_dir=str(output_dir), num_train_epochs=8, per_device_train_batch_size=12, per_device_eval_batch_size=12,
        learning_rate=3e-3, warmup_steps=3, report_to="none", save_strategy="epoch", save_total_limit=1,
        eval_strategy="no", logging_steps=100, use_cpu=True, disable_tqdm=True, seed=0,
    )  # fmt: skip
    kwargs.update(overrides)
    return TrainingArguments(**kwargs)


def test_training_retrieves_held_out_segments_above_chance(segments, tmp_path, capsys):
    out = tmp_path / "model"
    recipe = V2LCRecipeArguments(dataset_dir=str(segments), config="tiny", text_model="tiny", max_comments_per_segment=4)
    train_v2lc(recipe, tiny_args(out, num_train_epochs=6, save_strategy="no"))
    printed = capsys.readouterr().out
    assert "| video -> comment |" in printed and "| comment -> video |" in printed
    metrics = json.loads((out / "retrieval.json").read_text())
    assert metrics["segments"] == 12  # the test VOD's segments
    for direction in ("video_to_comment", "comment_to_video"):
        # Held-out VOD, 12 segments over 8 topics: chance R@1 is 1/12; the learned mapping is far above it.
        assert metrics[f"chance_{direction}_r1"] < 0.15
        assert metrics[f"{direction}_r1"] > 3 * metrics[f"chance_{direction}_r1"], metrics
        assert metrics[f"{direction}_r5"] >= metrics[f"{direction}_r1"]
    card = (out / "README.md").read_text()
    assert "pipeline_tag: feature-extraction" in card and "| video -> comment |" in card and "text tower" in card
    model = V2LCModel.from_pretrained(out)
    assert model.config.text_pooling == "mean" and model.logit_scale.item() <= math.log(LOGIT_SCALE_MAX) + 1e-6


def test_command_line_trains(segments, tmp_path, capsys):
    out = tmp_path / "model"
    argv = ["train-v2lc", str(segments), "--output-dir", str(out), "--config", "tiny", "--text-model", "tiny", "--epochs", "6",
            "--batch-size", "12", "--learning-rate", "3e-3", "--warmup-steps", "3", "--max-comments", "4"]  # fmt: skip
    assert cli_main(argv) == 0
    assert "| comment -> video |" in capsys.readouterr().out
    metrics = json.loads((out / "retrieval.json").read_text())
    assert metrics["comment_to_video_r1"] > 3 * metrics["chance_comment_to_video_r1"]
    assert list(out.glob("checkpoint-*")) and (out / "processor_config.json").is_file()


def test_the_command_and_the_quickstart_share_one_schedule(tmp_path, monkeypatch):
    import hf_livechat.affect_quickstart as quickstart
    from hf_livechat.training import v2lc

    built = []
    monkeypatch.setattr(v2lc, "train_v2lc", lambda recipe, args: built.append(args) or Path(args.output_dir))
    argv = ["train-v2lc", "segments", "--output-dir", str(tmp_path / "cli"), "--epochs", "3", "--batch-size", "8", "--learning-rate", "1e-3"]
    assert cli_main(argv) == 0
    quickstart._train_v2lc(tmp_path, quickstart.AffectQuickstartOptions(progress=False))
    cli_args, quickstart_args = built
    for args in built:
        assert (args.weight_decay, args.lr_scheduler_type.value, args.save_strategy.value, args.save_total_limit) == (0.01, "cosine", "epoch", 1)
        assert not args.use_cpu  # no launcher here
    assert (cli_args.num_train_epochs, cli_args.per_device_train_batch_size, cli_args.learning_rate) == (3, 8, 1e-3)
    assert cli_args.eval_strategy.value == "epoch" and quickstart_args.eval_strategy.value == "no"
    assert quickstart_args.disable_tqdm and not quickstart_args.dataloader_pin_memory
    overridden = v2lc_training_arguments(str(tmp_path), epochs=1, batch_size=2, learning_rate=1e-3, warmup_steps=0,
                                         logging_steps=1, weight_decay=0.0)
    assert overridden.weight_decay == 0.0


def test_split_by_vod(segments, tmp_path):
    splits = load_segment_splits(V2LCRecipeArguments(dataset_dir=str(segments)))
    assert set(splits["train"]["vod_id"]) == {"vod0", "vod1", "vod2"} and set(splits["test"]["vod_id"]) == {"vod4"}
    # A train split only: whole VODs are held out, never single segments.
    only_train = write_segment_dataset(tmp_path / "only", {"train": [f"v{i}" for i in range(6)]}, segments_per_vod=2)
    splits = load_segment_splits(V2LCRecipeArguments(dataset_dir=str(only_train), held_out_fraction=0.3))
    train_vods, test_vods = set(splits["train"]["vod_id"]), set(splits["test"]["vod_id"])
    assert train_vods and test_vods and not train_vods & test_vods and train_vods | test_vods == {f"v{i}" for i in range(6)}
    leaky = write_segment_dataset(tmp_path / "leaky", {"train": ["a", "b"], "test": ["b"]}, segments_per_vod=2)
    with pytest.raises(ValueError, match=r"VODs \['b'\] are in train and test"):
        load_segment_splits(V2LCRecipeArguments(dataset_dir=str(leaky)))


def test_retrieval_recall_and_chance_by_hand():
    video = torch.eye(3)
    # Comments 0, 1 belong to segment 0, comment 2 to segment 1, comment 3 to segment 2 (but looks like segment 0).
    text = torch.tensor([[1.0, 0, 0], [0.9, 0.1, 0], [0, 1.0, 0.5], [1.0, 0, 0.1]])
    owners = torch.tensor([0, 0, 1, 2])
    r = retrieval_recall(video, text, owners, ks=(1, 2))
    assert r["comment_to_video_r1"] == pytest.approx(3 / 4) and r["comment_to_video_r2"] == 1.0
    # For segment 2, segment 1's comment 2 scores above its own comment 3: a miss at k=1, a hit at k=2.
    assert r["video_to_comment_r1"] == pytest.approx(2 / 3) and r["video_to_comment_r2"] == 1.0
    assert r["chance_comment_to_video_r1"] == pytest.approx(1 / 3)
    # 4 comments, top 1: a segment with n own comments is hit by chance with probability n / 4.
    assert r["chance_video_to_comment_r1"] == pytest.approx((2 / 4 + 1 / 4 + 1 / 4) / 3)
    assert r["chance_video_to_comment_r2"] == pytest.approx(((1 - 1 / 6) + 0.5 + 0.5) / 3)


class SlowSteps(TrainerCallback):
    def on_step_end(self, args, state, control, **kwargs):
        time.sleep(0.3)


class StepRecorder(TrainerCallback):
    def __init__(self):
        self.seen = []

    def on_step_end(self, args, state, control, **kwargs):
        self.seen.append(state.global_step)


def _train_in_child(segments, out):
    torch.set_num_threads(1)  # OpenMP's thread pool does not survive a fork
    recipe = V2LCRecipeArguments(dataset_dir=str(segments), config="tiny", text_model="tiny", max_comments_per_segment=4)
    train_v2lc(recipe, tiny_args(out, num_train_epochs=2, save_strategy="steps", save_steps=2), callbacks=[SlowSteps()])


def test_killed_training_resumes_from_its_last_checkpoint(segments, tmp_path):
    out = tmp_path / "run"
    child = multiprocessing.get_context("fork").Process(target=_train_in_child, args=(segments, out))
    child.start()
    deadline = time.time() + 120
    while time.time() < deadline and not list(out.glob("checkpoint-*/trainer_state.json")):
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    checkpoints = list(out.glob("checkpoint-*"))
    assert checkpoints and not (out / "model.safetensors").exists(), "killed before the end"
    killed_at = max(int(p.name.split("-")[1]) for p in checkpoints)

    recipe = V2LCRecipeArguments(dataset_dir=str(segments), config="tiny", text_model="tiny", max_comments_per_segment=4)
    steps = StepRecorder()
    train_v2lc(recipe, tiny_args(out, num_train_epochs=2, save_strategy="steps", save_steps=2), callbacks=[steps])
    # The resumed run did not start over: its first step follows the checkpoint it resumed from.
    assert steps.seen[0] == killed_at + 1 and steps.seen[-1] == 6  # 36 segments / 12 per step x 2 epochs
    assert (out / "model.safetensors").exists() and (out / "retrieval.json").exists()


def _gather_worker(rank, world_size, init_file, batch, state_dict, result_file):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    try:
        model = V2LCModel(tiny_v2lc_config())
        model.load_state_dict(state_dict)
        ddp = torch.nn.parallel.DistributedDataParallel(model)
        # Rank 0 gets 3 segments, rank 1 gets 2: unequal pieces exercise the padded gather.
        local = {key: value[[slice(0, 3), slice(3, 5)][rank]] for key, value in batch.items()}
        out = ddp(**local, return_loss=False)
        loss = V2LCContrastiveLoss(rank, world_size)(out.video_embeds, out.text_embeds, out.comment_segment_ids, out.logit_scale)
        loss.backward()  # DDP averages the gradients over the processes, as in Trainer
        if rank == 0:
            torch.save({"loss": loss.detach(), "grads": {n: p.grad for n, p in model.named_parameters()}}, result_file)
    finally:
        dist.destroy_process_group()


def test_gathered_negatives_give_the_loss_and_gradients_of_one_process_holding_the_batch(tmp_path):
    torch.manual_seed(0)
    model = V2LCModel(tiny_v2lc_config()).eval()
    batch = topic_segments(5, seed=3)
    single = model(**batch).loss
    single.backward()

    context = torch.multiprocessing.get_context("fork")  # no re-import of torch and transformers per process
    workers = [
        context.Process(target=_gather_worker, args=(rank, 2, str(tmp_path / "init"), batch, model.state_dict(), str(tmp_path / "out.pt")))
        for rank in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [w.exitcode for w in workers] == [0, 0]
    result = torch.load(tmp_path / "out.pt")
    torch.testing.assert_close(result["loss"], single.detach(), rtol=1e-5, atol=1e-6)
    # Gradients of up to ~5, summed in another order over two processes: float32 rounding reaches 5e-6 on an
    # AVX2-only CPU (a missing gather is off by far more: the loss itself differs, below).
    for name, param in model.named_parameters():
        torch.testing.assert_close(result["grads"][name], param.grad, rtol=1e-4, atol=5e-5, msg=name)
    # Without the gather (each process its own batch) the loss differs: the test can fail.
    local = model(**{k: v[:3] for k, v in batch.items()}).loss
    assert not torch.isclose(local, single)
    with pytest.raises(ValueError, match="rank must lie"):
        V2LCContrastiveLoss(rank=2, world_size=2)
    with pytest.raises(RuntimeError, match="no torch.distributed process group"):
        V2LCContrastiveLoss(0, 2)(torch.randn(2, 4), torch.randn(2, 4), torch.arange(2), torch.tensor(10.0))


@pytest.mark.slow  # torchrun starts two processes that each import torch and transformers
def test_example_trains_under_torchrun_with_two_processes(segments, tmp_path):
    import subprocess

    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "ddp"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", str(root / "examples" / "train_v2lc.py"),
        "--dataset_dir", str(segments), "--output_dir", str(out), "--config", "tiny", "--text_model", "tiny",
        "--num_train_epochs", "6", "--per_device_train_batch_size", "6", "--learning_rate", "3e-3",
        "--max_comments_per_segment", "4", "--disable_tqdm", "true",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("| comment -> video |") == 1  # the main process evaluates
    assert "| processes | 2 |" in (out / "README.md").read_text()
    metrics = json.loads((out / "retrieval.json").read_text())
    assert metrics["comment_to_video_r1"] > 2 * metrics["chance_comment_to_video_r1"]
