"""PyTorch affect fusion classifier: text, acoustic, visual and synthetic live-comment features -> labels.

This file only uses relative imports so that `save_pretrained` can copy it next to the weights and
`AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True)` loads it without `hf_livechat`.
"""

import inspect
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F
from transformers import AutoModel, PreTrainedModel
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.masking_utils import create_bidirectional_mask
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import SequenceClassifierOutput
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

from .configuration_affect_fusion import DIM_FIELDS, AffectFusionConfig, FeatureDimensionError


# Order of the modalities in the fused sequence, behind the [CLS] slot.
MODALITY_ORDER = ("text", "acoustic", "visual", "live_comment")


# Copied from hf_livechat.models.livechat.layers_livechat.eager_attention_forward
def eager_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float,
    dropout: float = 0.0,
    **kwargs,
):
    attn_weights = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        if attention_mask.dtype == torch.bool:
            attn_weights = attn_weights.masked_fill(~attention_mask, torch.finfo(attn_weights.dtype).min)
        else:
            attn_weights = attn_weights + attention_mask
    attn_weights = F.softmax(attn_weights, dim=-1, dtype=torch.float32).to(query.dtype)
    attn_weights = F.dropout(attn_weights, p=dropout, training=module.training)
    attn_output = torch.matmul(attn_weights, value).transpose(1, 2).contiguous()
    return attn_output, attn_weights


# Copied from hf_livechat.models.v2lc.modeling_v2lc.V2LCAttention with V2LC->AffectFusion, video_hidden_size->d_model, video_num_heads->num_heads
class AffectFusionAttention(nn.Module):
    """Bidirectional multi-head self-attention (an encoder's: `is_causal=False`, which SDPA reads)."""

    def __init__(self, config: AffectFusionConfig):
        super().__init__()
        self.config = config
        self.head_dim = config.d_model // config.num_heads
        self.scaling = self.head_dim**-0.5
        self.dropout = config.attention_dropout
        self.is_causal = False
        self.q_proj = nn.Linear(config.d_model, config.d_model)
        self.k_proj = nn.Linear(config.d_model, config.d_model)
        self.v_proj = nn.Linear(config.d_model, config.d_model)
        self.out_proj = nn.Linear(config.d_model, config.d_model)

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        input_shape = hidden_states.shape[:-1]
        shape = (*input_shape, -1, self.head_dim)
        query = self.q_proj(hidden_states).view(shape).transpose(1, 2)
        key = self.k_proj(hidden_states).view(shape).transpose(1, 2)
        value = self.v_proj(hidden_states).view(shape).transpose(1, 2)
        attention_interface: Callable = ALL_ATTENTION_FUNCTIONS.get_interface(
            self.config._attn_implementation, eager_attention_forward
        )
        attn_output, _ = attention_interface(
            self,
            query,
            key,
            value,
            attention_mask,
            dropout=self.dropout if self.training else 0.0,
            scaling=self.scaling,
        )
        return self.out_proj(attn_output.reshape(*input_shape, -1).contiguous())


class AffectFusionLayer(GradientCheckpointingLayer):
    """Pre-norm transformer encoder layer (bidirectional self-attention, feed-forward)."""

    def __init__(self, config: AffectFusionConfig):
        super().__init__()
        self.self_attn = AffectFusionAttention(config)
        self.self_attn_layer_norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.fc1 = nn.Linear(config.d_model, config.ffn_dim)
        self.fc2 = nn.Linear(config.ffn_dim, config.d_model)
        self.activation_fn = ACT2FN[config.activation_function]
        self.final_layer_norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.dropout = config.dropout

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        residual = hidden_states
        hidden_states = self.self_attn(self.self_attn_layer_norm(hidden_states), attention_mask=attention_mask)
        hidden_states = residual + F.dropout(hidden_states, p=self.dropout, training=self.training)
        residual = hidden_states
        hidden_states = self.fc2(self.activation_fn(self.fc1(self.final_layer_norm(hidden_states))))
        return residual + F.dropout(hidden_states, p=self.dropout, training=self.training)


# Copied from hf_livechat.models.v2lc.modeling_v2lc._text_model_kwargs
def _text_model_kwargs(config) -> dict:
    """`add_pooling_layer=False` for models that accept it: pooling is ours, and an unused pooler would leave
    parameters without gradients (which DDP rejects)."""
    from transformers.models.auto.modeling_auto import MODEL_MAPPING

    model_class = MODEL_MAPPING.get(type(config), None)
    if model_class is not None and "add_pooling_layer" in inspect.signature(model_class.__init__).parameters:
        return {"add_pooling_layer": False}
    return {}


# Copied from hf_livechat.models.v2lc.modeling_v2lc._load_text_weights
def _load_text_weights(text_model: nn.Module, pretrained: nn.Module) -> None:
    """Loads a pretrained text encoder into `text_model`. The checkpoint is loaded as saved (its pooler included, so
    that no load report flags unused weights); the pooler is dropped when `text_model` was built without one."""
    state = pretrained.state_dict()
    if not any(name.startswith("pooler.") for name in text_model.state_dict()):
        state = {name: value for name, value in state.items() if not name.startswith("pooler.")}
    text_model.load_state_dict(state)


# Copied from hf_livechat.models.v2lc.modeling_v2lc._init_linear_embedding_layer_norm
@torch.no_grad()
def _init_linear_embedding_layer_norm(module: nn.Module, std: float) -> None:
    """transformers' usual initialisation of this file's linear, embedding and layer-norm modules; the pretrained
    towers are PreTrainedModels, which transformers hands to their own initialisers."""
    if isinstance(module, nn.Linear):
        init.normal_(module.weight, mean=0.0, std=std)
        if module.bias is not None:
            init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        init.normal_(module.weight, mean=0.0, std=std)
    elif isinstance(module, nn.LayerNorm):
        init.ones_(module.weight)
        init.zeros_(module.bias)


class AffectFusionPreTrainedModel(PreTrainedModel):
    config: AffectFusionConfig
    base_model_prefix = "fusion"
    main_input_name = "text_features"
    input_modalities = ("text", "audio", "video")
    supports_gradient_checkpointing = True
    _no_split_modules = ["AffectFusionLayer"]
    _supports_sdpa = True
    _supports_flash_attn = False
    _supports_flex_attn = False
    _supports_attention_backend = True

    @torch.no_grad()
    def _init_weights(self, module: nn.Module):
        std = self.config.init_std
        _init_linear_embedding_layer_norm(module, std)
        if isinstance(module, AffectFusionForSequenceClassification):
            init.normal_(module.cls_embedding, mean=0.0, std=std)


class AffectFusionForSequenceClassification(AffectFusionPreTrainedModel):
    """Fusion transformer over the modality sequences with a classification / regression head on its `[CLS]` slot."""

    # The loss is a mean over the examples of the micro-batch (MSE / CE / BCE), like every transformers classifier.
    accepts_loss_kwargs = False

    def __init__(self, config: AffectFusionConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        active = config.active_modalities()
        self.text_model = None
        if config.text_config is not None:
            self.text_model = AutoModel.from_config(config.text_config, **_text_model_kwargs(config.text_config))
        input_dims = {m: getattr(config, DIM_FIELDS[m]) for m in active}
        if self.text_model is not None:
            input_dims["text"] = config.text_config.hidden_size
        self.input_projections = nn.ModuleDict({m: nn.Linear(input_dims[m], config.d_model) for m in active})
        self.modality_embeddings = nn.ModuleDict({m: nn.Embedding(1, config.d_model) for m in active})
        self.cls_embedding = nn.Parameter(torch.zeros(config.d_model))
        self.embed_positions = nn.Embedding(config.max_positions, config.d_model)
        self.layers = nn.ModuleList([AffectFusionLayer(config) for _ in range(config.num_layers)])
        self.layer_norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.dropout = config.dropout
        self.classifier_dropout = nn.Dropout(config.classifier_dropout)
        self.classifier = nn.Linear(config.d_model, config.num_labels)
        self.post_init()

    @classmethod
    def from_text_pretrained(cls, text_model_name_or_path: str, **config_kwargs) -> "AffectFusionForSequenceClassification":
        """A fusion classifier whose text encoder starts from a pretrained checkpoint (token-id text input).

        Args:
            text_model_name_or_path: id or folder of any `AutoModel` text encoder (e.g. all-MiniLM-L6-v2).
            config_kwargs: other `AffectFusionConfig` fields (`num_labels`, `acoustic_dim`, ...).
        """
        text_model = AutoModel.from_pretrained(text_model_name_or_path)
        model = cls(AffectFusionConfig(text_config=text_model.config, **config_kwargs))
        _load_text_weights(model.text_model, text_model)
        return model

    def _check_features(self, modality: str, features: torch.Tensor, mask: torch.Tensor | None):
        """-> ((batch, steps, dim) features, (batch, steps) mask); a (batch, dim) vector is one step."""
        if not features.is_floating_point():
            raise ValueError(f"{modality}_features must be a float tensor, got {features.dtype}")
        if features.dim() == 2:
            features = features.unsqueeze(1)
            mask = mask.unsqueeze(1) if mask is not None and mask.dim() == 1 else mask
        if features.dim() != 3:
            raise ValueError(f"{modality}_features must have shape (batch, steps, dim) or (batch, dim), got {tuple(features.shape)}")
        field = DIM_FIELDS[modality]
        self.config.check_feature_dims(source=f"the input {modality}_features", **{field: features.shape[-1]})
        if features.shape[1] > self.config.max_positions:
            raise ValueError(
                f"{modality}_features have {features.shape[1]} steps, more than config.max_positions="
                f"{self.config.max_positions}; downsample them or enlarge the position table"
            )
        if mask is None:
            mask = torch.ones(features.shape[:2], dtype=torch.long, device=features.device)
        if tuple(mask.shape) != tuple(features.shape[:2]):
            raise ValueError(f"{modality}_mask has shape {tuple(mask.shape)} but its features have {tuple(features.shape[:2])} steps")
        return features, mask

    def _embed(self, modality: str, features: torch.Tensor) -> torch.Tensor:
        projected = self.input_projections[modality](features.to(self.classifier.weight.dtype))
        positions = self.embed_positions.weight[: features.shape[1]]
        return projected + positions + self.modality_embeddings[modality].weight

    def _modality_inputs(self, inputs: dict) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """The active modalities present in the batch, as raw (features, mask) pairs."""
        present = {}
        if inputs["input_ids"] is not None:
            if self.text_model is None:
                raise ValueError("This model takes text as text_features (config.text_config is None), not input_ids")
            attention_mask = inputs["attention_mask"]
            if attention_mask is None:
                attention_mask = torch.ones_like(inputs["input_ids"])
            kwargs = {"token_type_ids": inputs["token_type_ids"]} if inputs["token_type_ids"] is not None else {}
            states = self.text_model(input_ids=inputs["input_ids"], attention_mask=attention_mask, **kwargs).last_hidden_state
            present["text"] = (states, attention_mask)
        for modality in MODALITY_ORDER:
            features = inputs[f"{modality}_features"]
            if features is None:
                continue
            if modality == "live_comment" and not self.config.use_live_comment_features:
                continue  # the ablation: live-comment features in the data are deliberately ignored
            if modality not in self.config.active_modalities():
                raise ValueError(
                    f"{modality}_features were given but this model has no {modality} input "
                    f"(config.modalities={self.config.modalities})"
                )
            if modality == "text" and self.text_model is not None:
                raise ValueError("This model encodes text from input_ids (config.text_config is set), not text_features")
            present[modality] = self._check_features(modality, features, inputs[f"{modality}_mask"])
        if not present:
            raise ValueError(f"No modality in the inputs: pass at least one of {self.config.active_modalities()}")
        sizes = {m: t.shape[0] for m, (t, _) in present.items()}
        if len(set(sizes.values())) > 1:
            raise ValueError(f"Mismatched batch sizes between modalities: {sizes}")
        return present

    def forward(
        self,
        text_features: torch.FloatTensor | None = None,
        text_mask: torch.LongTensor | None = None,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.LongTensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
        acoustic_features: torch.FloatTensor | None = None,
        acoustic_mask: torch.LongTensor | None = None,
        visual_features: torch.FloatTensor | None = None,
        visual_mask: torch.LongTensor | None = None,
        live_comment_features: torch.FloatTensor | None = None,
        live_comment_mask: torch.LongTensor | None = None,
        labels: torch.Tensor | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> SequenceClassifierOutput:
        r"""
        text_features (`torch.FloatTensor` of shape `(batch_size, steps, text_dim)` or `(batch_size, text_dim)`):
            Precomputed text features (when `config.text_config` is None).
        input_ids, attention_mask, token_type_ids (`torch.LongTensor` of shape `(batch_size, tokens)`):
            Text as token ids of the text encoder (when `config.text_config` is set).
        acoustic_features / visual_features (`torch.FloatTensor` of shape `(batch_size, steps, dim)`):
            Per-step audio and video features; `*_mask` marks the real steps (1) and the padding (0).
        live_comment_features (`torch.FloatTensor` of shape `(batch_size, lc_dim)` or `(batch_size, steps, lc_dim)`):
            Synthetic live-comment features (a V2LC video embedding, or a sequence of them); ignored when
            `config.use_live_comment_features` is False.
        labels (`torch.Tensor`, *optional*):
            `(batch_size,)` class ids (single-label), `(batch_size,)` / `(batch_size, num_labels)` floats
            (regression), or `(batch_size, num_labels)` multi-hot floats (multi-label).
        inputs_embeds, output_attentions, output_hidden_states, return_dict:
            Accepted because PEFT's sequence-classification wrapper always passes them; `inputs_embeds` must be None
            (text goes in as `text_features` or `input_ids`) and the others are ignored.
        """
        if inputs_embeds is not None:
            raise ValueError("AffectFusion takes text as text_features or input_ids, not inputs_embeds")
        present = self._modality_inputs(
            {
                "input_ids": input_ids,
                "attention_mask": attention_mask,
                "token_type_ids": token_type_ids,
                "text_features": text_features,
                "text_mask": text_mask,
                "acoustic_features": acoustic_features,
                "acoustic_mask": acoustic_mask,
                "visual_features": visual_features,
                "visual_mask": visual_mask,
                "live_comment_features": live_comment_features,
                "live_comment_mask": live_comment_mask,
            }
        )
        batch_size = next(iter(present.values()))[0].shape[0]

        embeds, masks = [self.cls_embedding.to(self.classifier.weight.dtype).expand(batch_size, 1, -1)], []
        masks.append(torch.ones(batch_size, 1, dtype=torch.long, device=embeds[0].device))
        for modality in MODALITY_ORDER:
            if modality in present:
                features, mask = present[modality]
                embeds.append(self._embed(modality, features))
                masks.append(mask.long())
        hidden_states = F.dropout(torch.cat(embeds, dim=1), p=self.dropout, training=self.training)
        mask = torch.cat(masks, dim=1)
        mask_4d = create_bidirectional_mask(config=self.config, inputs_embeds=hidden_states, attention_mask=mask)
        for layer in self.layers:
            hidden_states = layer(hidden_states, mask_4d)
        pooled = self.layer_norm(hidden_states[:, 0])
        logits = self.classifier(self.classifier_dropout(pooled))

        loss = None
        if labels is not None:
            # transformers' sequence-classification loss (MSE / cross-entropy / BCE by config.problem_type, inferred
            # from num_labels and the label dtype when unset), computed in float32 (float labels too: MSE and BCE
            # refuse float64 targets against float32 logits).
            labels = labels.to(logits.device)
            labels = labels.float() if labels.is_floating_point() else labels
            loss = self.loss_function(labels=labels, pooled_logits=logits.float(), config=self.config)
        return SequenceClassifierOutput(loss=loss, logits=logits)


__all__ = ["AffectFusionPreTrainedModel", "AffectFusionForSequenceClassification", "FeatureDimensionError"]
