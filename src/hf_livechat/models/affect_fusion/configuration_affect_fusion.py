"""Affect fusion classifier configuration (LCAffect: text, audio, vision and synthetic live comments)."""

from huggingface_hub.dataclasses import strict
from transformers import AutoConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec


FEATURE_MODALITIES = ("text", "acoustic", "visual")
# Config field that holds each modality's feature size.
DIM_FIELDS = {"text": "text_dim", "acoustic": "acoustic_dim", "visual": "visual_dim", "live_comment": "lc_dim"}


class FeatureDimensionError(ValueError):
    """A modality's feature size in the data differs from the size the model was built (or trained) for."""


@strict
class AffectFusionConfig(PreTrainedConfig):
    r"""
    Configuration of an [`AffectFusionForSequenceClassification`]: every modality is a feature sequence projected to
    `d_model`, tagged with a modality embedding and a position embedding, and a transformer runs over the
    concatenation behind a `[CLS]` slot whose final state feeds the classification / regression head.

    The modalities are text, acoustic and visual features (as the MMSA, MELD and MUStARD benchmarks ship them), plus
    the synthetic live-comment features of LCAffect (a vector or a sequence from a V2LC model's video tower). A
    modality that is absent from a batch (or, per example, has an all-zero mask) is simply not attended to.

    Args:
        modalities (`list[str]`, defaults to `["text", "acoustic", "visual"]`):
            Which of text / acoustic / visual the model has an input projection for.
        text_dim (`int`, defaults to 768):
            Size of a text feature vector (e.g. 768 for BERT-base features). Unused when `text_config` is set.
        acoustic_dim (`int`, defaults to 33):
            Size of an acoustic feature vector (33 in MMSA's CH-SIMS v2 release, 25 in the official one).
        visual_dim (`int`, defaults to 709):
            Size of a visual feature vector (709 in MMSA's CH-SIMS v2 release, 177 in the official one).
        lc_dim (`int`, defaults to 512):
            Size of a live-comment feature vector (a V2LC model's `projection_dim`).
        use_live_comment_features (`bool`, defaults to `True`):
            Attend to `live_comment_features`. `False` is the ablation: the model has no live-comment input and
            ignores such features in its inputs, so one dataset serves both runs.
        text_config (`PreTrainedConfig` or `dict`, *optional*):
            When set, text comes in as token ids (`input_ids`) and is encoded by `AutoModel.from_config(text_config)`
            (see `AffectFusionForSequenceClassification.from_text_pretrained`); otherwise as `text_features`.
        d_model (`int`, defaults to 128):
            Width of the fusion transformer.
        num_layers (`int`, defaults to 2):
            Layers of the fusion transformer.
        num_heads (`int`, defaults to 4):
            Attention heads.
        ffn_dim (`int`, defaults to 256):
            Inner size of the feed-forward blocks.
        max_positions (`int`, defaults to 1024):
            Size of the position table shared by all modalities (the longest feature sequence of one modality).
        dropout (`float`, defaults to 0.1):
            Dropout on embeddings and residual branches.
        attention_dropout (`float`, defaults to 0.0):
            Dropout on attention probabilities.
        classifier_dropout (`float`, defaults to 0.1):
            Dropout before the head.
        activation_function (`str`, defaults to `"gelu"`):
            Activation of the feed-forward blocks.
        init_std (`float`, defaults to 0.02):
            Standard deviation of the normal initialiser.
        layer_norm_eps (`float`, defaults to 1e-5):
            Epsilon of the layer norms.

    `num_labels`, `problem_type` (`"regression"`, `"single_label_classification"`, `"multi_label_classification"`),
    `id2label` and `label2id` work as in every transformers sequence classifier.
    """

    model_type = "affect_fusion"
    sub_configs_defaults = {
        "text_config": SubConfigSpec(config_class=AutoConfig, model_type="bert", optional=True),
    }

    modalities: list[str] | tuple[str, ...] = ("text", "acoustic", "visual")
    text_dim: int = 768
    acoustic_dim: int = 33
    visual_dim: int = 709
    lc_dim: int = 512
    use_live_comment_features: bool = True
    text_config: PreTrainedConfig | dict | None = None
    d_model: int = 128
    num_layers: int = 2
    num_heads: int = 4
    ffn_dim: int = 256
    max_positions: int = 1024
    dropout: float | int = 0.1
    attention_dropout: float | int = 0.0
    classifier_dropout: float | int = 0.1
    activation_function: str = "gelu"
    init_std: float = 0.02
    layer_norm_eps: float = 1e-5

    def __post_init__(self, **kwargs):
        self.modalities = list(self.modalities)
        super().__post_init__(**kwargs)

    def validate_architecture(self):
        """Checks that the choices and sizes fit together (called on init and before saving)."""
        unknown = [m for m in self.modalities if m not in FEATURE_MODALITIES]
        if unknown or len(set(self.modalities)) != len(self.modalities):
            raise ValueError(f"modalities must be distinct names from {FEATURE_MODALITIES}, got {self.modalities}")
        if not self.modalities and not self.use_live_comment_features:
            raise ValueError("The model needs at least one modality (modalities or use_live_comment_features)")
        if self.text_config is not None and "text" not in self.modalities:
            raise ValueError("text_config is set but 'text' is not among the modalities")
        if self.d_model % self.num_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by num_heads ({self.num_heads})")

    def active_modalities(self) -> list[str]:
        """The modalities this model attends to, live comments included when enabled."""
        return list(self.modalities) + (["live_comment"] if self.use_live_comment_features else [])

    def check_feature_dims(self, source: str = "the data", **dims: int | None) -> None:
        """Raises a [`FeatureDimensionError`] naming the modality, the model's size and the data's size when they
        differ. Pass the data's sizes by field name (`text_dim=768, acoustic_dim=25, ...`); `None` means unknown."""
        for modality, field in DIM_FIELDS.items():
            actual = dims.get(field)
            if actual is None or modality not in self.active_modalities():
                continue
            if modality == "text" and self.text_config is not None:
                continue  # text comes in as token ids
            expected = getattr(self, field)
            if actual != expected:
                model = f"the checkpoint {self.name_or_path!r}" if self.name_or_path else "the model"
                raise FeatureDimensionError(
                    f"{modality} features: {model} expects {field}={expected} but {source} has {actual} features "
                    f"per step. Use features of the kind the model was trained on, or build a new model with "
                    f"{field}={actual}."
                )


__all__ = ["AffectFusionConfig", "FeatureDimensionError"]
