"""How a training run learns that a launcher (`torchrun`, `accelerate launch`) started it as several processes."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

# CPU flags of bfloat16 arithmetic units in Linux's /proc/cpuinfo (x86, then Arm's); without them torch emulates
# bf16, many times slower.
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")


def launched_world_size() -> int:
    """The number of processes the launcher started (`WORLD_SIZE`; 1 for a plain run)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def recipe_use_cpu(*, bf16: bool = False) -> bool:
    """The `use_cpu` a recipe's `TrainingArguments` need on a machine without CUDA: True when launched as several
    processes, or for a bf16 run. transformers only sets up DDP (over gloo) across CPU processes with `use_cpu=True`;
    without it every process silently trains its own copy on the whole dataset. And it refuses `bf16=True` without a GPU
    unless told `use_cpu` (CPU autocast in bfloat16, fast on CPUs with bf16 units; warns on a CPU known to lack them).
    Otherwise a plain run keeps transformers' own device choice."""
    if launched_world_size() <= 1 and not bf16:
        return False
    import torch

    use_cpu = not torch.cuda.is_available()
    if use_cpu and bf16 and cpu_has_bf16_units() is False:
        warnings.warn(
            f"bf16 on this CPU, which has no bfloat16 units (none of {', '.join(BF16_CPU_FLAGS)} in /proc/cpuinfo): "
            "torch emulates them, and training runs many times slower than without --bf16",
            stacklevel=2,
        )
    return use_cpu


def cpu_has_bf16_units(cpuinfo: str | Path = "/proc/cpuinfo") -> bool | None:
    """Whether the CPU has bfloat16 units, from its flags (None where `cpuinfo` cannot be read: not Linux)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return None
    flags = set(text.split())
    return any(flag in flags for flag in BF16_CPU_FLAGS)


def lm_decoder_bf16_hint(bf16: bool) -> str | None:
    """A note for a float32 LM-decoder run on a machine without CUDA whose CPU has bf16 units: there `--bf16` trains
    faster (a pretrained LM's GEMMs dominate its step; a from-scratch `small` gains nothing)."""
    import torch

    if bf16 or torch.cuda.is_available() or not cpu_has_bf16_units():
        return None
    return ("this CPU has bfloat16 units: --bf16 (autocast, the weights stay float32) trains an LM decoder faster "
            "(1.6 times as fast per step on a Zen 5 EPYC's 2 cores; docs/model.md)")


__all__ = ["cpu_has_bf16_units", "launched_world_size", "lm_decoder_bf16_hint", "recipe_use_cpu"]
