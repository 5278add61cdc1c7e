"""CPU serving: the comment decoder's linear layers in int8.

Decoding reads every decoder weight once per generated token, so on a CPU its speed is the memory bandwidth those
weights take: a pretrained LM decoder (SmolLM2-135M: 30 layers and a 49k-token output layer) spends most of a live
window there. PyTorch's dynamic int8 quantization stores those weights in a quarter of the bytes and quantizes the
activations on the fly; the encoders stay in float32 (they run once per window and are small).
"""

from __future__ import annotations

import torch
from torch import nn


QUANTIZATIONS = ("int8",)


def quantize_decoder(model, quantization: str = "int8"):
    """Replace the comment decoder's `nn.Linear` layers of a CPU model by dynamically quantized int8 ones, in place
    (serving only: the quantized decoder does not train, and its output layer no longer shares the embedding's
    weights). Returns the model."""
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {QUANTIZATIONS}, got {quantization!r}")
    device = next(model.parameters()).device
    if device.type != "cpu":
        raise ValueError(f"int8 dynamic quantization serves on the CPU; this model is on {device}")
    model.eval()
    model.model.decoder = torch.ao.quantization.quantize_dynamic(model.model.decoder, {nn.Linear}, dtype=torch.qint8)
    return model
