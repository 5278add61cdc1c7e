"""How a training run learns that a launcher (`torchrun`, `accelerate launch`) started it as several processes."""

from __future__ import annotations

import os


def launched_world_size() -> int:
    """The number of processes the launcher started (`WORLD_SIZE`; 1 for a plain run)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def use_cpu_under_launcher(*, bf16: bool = False) -> bool:
    """The `use_cpu` a recipe's `TrainingArguments` need on a machine without CUDA: True when launched as several
    processes, or for a bf16 run. transformers only sets up DDP (over gloo) across CPU processes with `use_cpu=True`;
    without it every process silently trains its own copy on the whole dataset. And it refuses `bf16=True` without a GPU
    unless told `use_cpu` (CPU autocast in bfloat16, fast on CPUs with bf16 units). Otherwise a plain run keeps
    transformers' own device choice."""
    if launched_world_size() <= 1 and not bf16:
        return False
    import torch

    return not torch.cuda.is_available()


__all__ = ["launched_world_size", "use_cpu_under_launcher"]
