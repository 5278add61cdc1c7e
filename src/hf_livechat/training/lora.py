"""LoRA on the pretrained LM decoder of LiveChat (peft), and merging it back before saving.

Only the LM is adapted: its weights stay frozen and LoRA adapters train on its attention and MLP projections, while
everything LiveChat adds around it (the three encoders, the gated cross-attention blocks or the prefix projector, the
copy head) trains in full. `merge_lora` folds the adapters into the LM's weights, so that a saved model is an ordinary
LiveChat checkpoint (`from_pretrained`, `trust_remote_code`, `push_to_hub`) that needs no peft to load.
"""

from __future__ import annotations

from peft import LoraConfig, inject_adapter_in_model
from peft.tuners.tuners_utils import BaseTunerLayer
from torch import nn


# The attention and MLP projections of each LM family (peft's own table, TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING,
# holds the attention queries and values only).
_LLAMA_STYLE = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
LORA_TARGET_MODULES = {
    "llama": _LLAMA_STYLE,
    "mistral": _LLAMA_STYLE,
    "qwen2": _LLAMA_STYLE,
    "qwen3": _LLAMA_STYLE,
    "gemma": _LLAMA_STYLE,
    "gemma2": _LLAMA_STYLE,
    "phi3": ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"],
    "gpt2": ["c_attn", "c_proj", "c_fc"],
    "gpt_neox": ["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"],
}
DEFAULT_LORA_R = 16


def lora_target_modules(model_type: str) -> list[str]:
    if model_type not in LORA_TARGET_MODULES:
        raise ValueError(
            f"no default LoRA target modules for decoder model_type {model_type!r} (known: {sorted(LORA_TARGET_MODULES)}); "
            "add its attention and MLP projection names to LORA_TARGET_MODULES"
        )
    return list(LORA_TARGET_MODULES[model_type])


def apply_lora(model, r: int = DEFAULT_LORA_R, alpha: int | None = None, dropout: float = 0.05) -> LoraConfig:
    """Injects LoRA adapters (rank `r`, scale `alpha / r`, default alpha = 2 r) into the LM decoder of a
    `LiveChatForCommentGeneration` in place and freezes the LM's own weights; the rest of the model stays trainable.
    Returns the peft config used."""
    decoder = model.get_decoder()
    if not hasattr(decoder, "lm"):
        raise ValueError("LoRA applies to a pretrained LM decoder (LiveChatConfig.with_decoder / train --decoder)")
    if r <= 0:
        raise ValueError(f"LoRA rank must be positive, got {r}")
    lora_config = LoraConfig(
        r=r,
        lora_alpha=alpha if alpha is not None else 2 * r,
        lora_dropout=dropout,
        target_modules=lora_target_modules(decoder.lm.config.model_type),
    )
    # peft marks only the adapters of the module it is given as trainable: the LM alone.
    inject_adapter_in_model(lora_config, decoder.lm)
    return lora_config


def has_lora(model: nn.Module) -> bool:
    return any(isinstance(module, BaseTunerLayer) for module in model.modules())


def merge_lora(model: nn.Module) -> nn.Module:
    """Folds every LoRA adapter into its base layer's weights and puts the base layer back in its place; the LM's
    weights become trainable again, as in a model built without LoRA."""
    for name, module in list(model.named_modules()):
        if isinstance(module, BaseTunerLayer):
            module.merge()
            parent_name, _, child_name = name.rpartition(".")
            setattr(model.get_submodule(parent_name), child_name, module.get_base_layer())
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    return model


__all__ = ["LORA_TARGET_MODULES", "DEFAULT_LORA_R", "apply_lora", "has_lora", "lora_target_modules", "merge_lora"]
