"""The one rule for `use_cpu`: several processes, or a bf16 run, on a machine without CUDA train with `use_cpu`."""

import pytest
import torch

from hf_livechat.training import launch
from hf_livechat.training.launch import cpu_has_bf16_units, launched_world_size, recipe_use_cpu


def test_use_cpu_only_for_several_processes_without_cuda(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert launched_world_size() == 1 and recipe_use_cpu() is False
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert launched_world_size() == 2 and recipe_use_cpu() is True
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert recipe_use_cpu() is False  # NCCL on the GPUs
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert recipe_use_cpu() is False  # a plain run keeps transformers' own device choice


def test_bf16_on_a_machine_without_cuda_trains_on_the_cpu(monkeypatch, tmp_path):
    from hf_livechat.training.train import recipe_training_arguments

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(launch, "cpu_has_bf16_units", lambda: True)
    assert recipe_use_cpu(bf16=True) is True
    # transformers refuses bf16 without a GPU unless use_cpu is set: the recipe's arguments must build.
    args = recipe_training_arguments(str(tmp_path), evaluations=0, bf16=True)
    assert args.bf16 and args.use_cpu
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert recipe_use_cpu(bf16=True) is False  # autocast on the GPU


def test_bf16_on_a_cpu_without_bf16_units_warns(monkeypatch, tmp_path, recwarn):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(launch, "cpu_has_bf16_units", lambda: False)
    with pytest.warns(UserWarning, match="no bfloat16 units"):
        assert recipe_use_cpu(bf16=True) is True
    monkeypatch.setattr(launch, "cpu_has_bf16_units", lambda: None)  # unknown (not Linux): no warning
    recipe_use_cpu(bf16=True)
    assert not [w for w in recwarn if "bfloat16 units" in str(w.message)]


def test_cpu_bf16_units_read_from_the_flags(tmp_path):
    zen4 = tmp_path / "zen4"
    zen4.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16\n")
    zen2 = tmp_path / "zen2"
    zen2.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2\n")
    assert cpu_has_bf16_units(zen4) is True
    neoverse_v2 = tmp_path / "neoverse_v2"
    neoverse_v2.write_text("processor\t: 0\nFeatures\t: fp asimd sve2 bf16 i8mm\n")
    assert cpu_has_bf16_units(neoverse_v2) is True
    assert cpu_has_bf16_units(zen2) is False
    assert cpu_has_bf16_units(tmp_path / "absent") is None


def test_float32_lm_decoder_run_on_a_bf16_cpu_is_told_about_bf16(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(launch, "cpu_has_bf16_units", lambda: True)
    assert "--bf16" in launch.lm_decoder_bf16_hint(bf16=False)
    assert launch.lm_decoder_bf16_hint(bf16=True) is None
    for units in (False, None):  # emulated or unknown: no advice to take
        monkeypatch.setattr(launch, "cpu_has_bf16_units", lambda units=units: units)
        assert launch.lm_decoder_bf16_hint(bf16=False) is None
    monkeypatch.setattr(launch, "cpu_has_bf16_units", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert launch.lm_decoder_bf16_hint(bf16=False) is None  # on a GPU, --bf16 is the user's known choice
