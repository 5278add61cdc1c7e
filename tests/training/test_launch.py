"""The one rule for `use_cpu`: several processes, or a bf16 run, on a machine without CUDA train with `use_cpu`."""

import torch

from hf_livechat.training.launch import launched_world_size, use_cpu_under_launcher


def test_use_cpu_only_for_several_processes_without_cuda(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert launched_world_size() == 1 and use_cpu_under_launcher() is False
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert launched_world_size() == 2 and use_cpu_under_launcher() is True
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert use_cpu_under_launcher() is False  # NCCL on the GPUs
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert use_cpu_under_launcher() is False  # a plain run keeps transformers' own device choice


def test_bf16_on_a_machine_without_cuda_trains_on_the_cpu(monkeypatch, tmp_path):
    from hf_livechat.training.train import recipe_training_arguments

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert use_cpu_under_launcher(bf16=True) is True
    # transformers refuses bf16 without a GPU unless use_cpu is set: the recipe's arguments must build.
    args = recipe_training_arguments(str(tmp_path), evaluations=0, bf16=True)
    assert args.bf16 and args.use_cpu
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert use_cpu_under_launcher(bf16=True) is False  # autocast on the GPU
