"""The one rule for runs started by a launcher: several processes on a machine without CUDA train with `use_cpu`."""

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
