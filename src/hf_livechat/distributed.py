"""Telling a program started by a launcher (`torchrun`, `accelerate launch`) from a plain run."""

from __future__ import annotations

import os


def launched_processes():
    """`accelerate.PartialState()` when this program runs as one of several processes (`torchrun`, `accelerate
    launch`), else None: a plain single-process run never imports torch or accelerate here."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    import torch
    from accelerate import PartialState

    # Without `cpu=True` accelerate treats CPU-only processes as independent single-process runs.
    return PartialState(cpu=not torch.cuda.is_available())
