"""PyTorch V2LC model: a CLIP-style dual encoder aligning video segments with the live comments written during them.

This file only uses relative imports so that `save_pretrained` can copy it next to the weights and
`AutoModel.from_pretrained(folder, trust_remote_code=True)` loads it without `hf_livechat` installed.
"""

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn import functional as F
from transformers import AutoModel, PreTrainedModel
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.masking_utils import create_bidirectional_mask
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers.utils import ModelOutput

from .configuration_v2lc import V2LCConfig


# CLIP's ceiling on the temperature: logits at most 100 x cosine similarity, so the loss cannot collapse onto a
# near-argmax and the training stays stable.
LOGIT_SCALE_MAX = 100.0


@dataclass
class V2LCOutput(ModelOutput):
    """
    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*, returned when `return_loss=True`):
            Symmetric contrastive loss of this batch: the mean of the multi-positive video->comment loss and the
            comment->video cross-entropy.
        logits_per_video (`torch.FloatTensor` of shape `(num_segments, num_comments)`):
            Scaled cosine similarities between this batch's segments and comments.
        logits_per_text (`torch.FloatTensor` of shape `(num_comments, num_segments)`):
            The transpose of `logits_per_video`.
        video_embeds (`torch.FloatTensor` of shape `(num_segments, projection_dim)`):
            L2-normalised segment embeddings.
        text_embeds (`torch.FloatTensor` of shape `(num_comments, projection_dim)`):
            L2-normalised comment embeddings; comments that were padding (all-zero attention mask) are left out.
        comment_segment_ids (`torch.LongTensor` of shape `(num_comments,)`):
            Index of the segment each comment of `text_embeds` belongs to.
        logit_scale (`torch.FloatTensor` of shape `()`):
            The temperature `exp(logit_scale)`, clamped at 100, that scales the logits (for losses computed outside).
    """

    loss: torch.FloatTensor | None = None
    logits_per_video: torch.FloatTensor | None = None
    logits_per_text: torch.FloatTensor | None = None
    video_embeds: torch.FloatTensor | None = None
    text_embeds: torch.FloatTensor | None = None
    comment_segment_ids: torch.LongTensor | None = None
    logit_scale: torch.FloatTensor | None = None


def multi_positive_contrastive_loss(
    logits_per_video: torch.Tensor, comment_segment_ids: torch.Tensor, multi_positive_loss: str = "mil_nce"
) -> torch.Tensor:
    """Symmetric contrastive loss for segments that each own several comments.

    Video->text: for segment `v`, `p(t | v) = softmax_t(logits[v])`; with `"mil_nce"` its loss is
    `-log sum_{t in pos(v)} p(t | v)`, with `"mean"` it is `-mean_{t in pos(v)} log p(t | v)`. Segments without any
    comment in the batch are left out of this term. Text->video: plain cross-entropy of each comment against its
    segment. The loss is the mean of the two directions.

    Args:
        logits_per_video: `(num_segments, num_comments)` scaled similarities.
        comment_segment_ids: `(num_comments,)` segment index of every comment.
        multi_positive_loss: `"mil_nce"` or `"mean"` (see [`V2LCConfig`]).
    """
    logits_per_video = logits_per_video.float()
    num_segments = logits_per_video.shape[0]
    positives = comment_segment_ids.unsqueeze(0) == torch.arange(num_segments, device=logits_per_video.device).unsqueeze(1)
    has_positive = positives.any(dim=1)
    log_probs = logits_per_video.log_softmax(dim=1)
    if multi_positive_loss == "mil_nce":
        video_losses = -log_probs.masked_fill(~positives, float("-inf")).logsumexp(dim=1)
    elif multi_positive_loss == "mean":
        video_losses = -(log_probs * positives).sum(dim=1) / positives.sum(dim=1).clamp(min=1)
    else:
        raise ValueError(f"multi_positive_loss must be 'mil_nce' or 'mean', got {multi_positive_loss!r}")
    video_to_text = video_losses[has_positive].mean()
    text_to_video = F.cross_entropy(logits_per_video.t(), comment_segment_ids)
    return (video_to_text + text_to_video) / 2


@torch.no_grad()
def retrieval_accuracy(logits_per_video: torch.Tensor, comment_segment_ids: torch.Tensor) -> dict[str, float]:
    """Recall@1 in both directions: the share of segments whose best-scoring comment is one of their own, and the
    share of comments whose best-scoring segment is theirs."""
    num_segments = logits_per_video.shape[0]
    owns_comment = torch.zeros(num_segments, dtype=torch.bool, device=logits_per_video.device)
    owns_comment[comment_segment_ids] = True
    best_comment = logits_per_video.argmax(dim=1)
    video_hits = comment_segment_ids[best_comment] == torch.arange(num_segments, device=logits_per_video.device)
    comment_hits = logits_per_video.argmax(dim=0) == comment_segment_ids
    return {
        "video_to_comment_r1": video_hits[owns_comment].float().mean().item(),
        "comment_to_video_r1": comment_hits.float().mean().item(),
    }


def gather_with_grad(tensor: torch.Tensor, world_size: int) -> tuple[torch.Tensor, list[int]]:
    """Concatenates `tensor` from the `world_size` processes of the default process group along dim 0 (sizes may
    differ). Float tensors keep their autograd graph (`torch.distributed.nn.functional.all_gather`), so every
    process can compute the global-batch loss and backpropagate into its own features; integer tensors are gathered
    without gradients. Returns the gathered tensor and the per-process sizes; with `world_size=1`, the tensor as is.
    """
    if world_size == 1:
        return tensor, [tensor.shape[0]]
    if not (dist.is_available() and dist.is_initialized()):
        raise RuntimeError(f"world_size={world_size} but no torch.distributed process group is initialised")
    if dist.get_world_size() != world_size:
        raise ValueError(f"world_size={world_size} but the process group has {dist.get_world_size()} processes")
    size = torch.tensor([tensor.shape[0]], device=tensor.device)
    sizes = [torch.zeros_like(size) for _ in range(world_size)]
    dist.all_gather(sizes, size)
    sizes = [int(s.item()) for s in sizes]
    # Collectives need equal shapes: pad to the largest piece, gather, then cut the padding off.
    padded = F.pad(tensor, (0, 0) * (tensor.dim() - 1) + (0, max(sizes) - tensor.shape[0]))
    if tensor.is_floating_point():
        from torch.distributed.nn.functional import all_gather  # differentiable; imported only when distributed

        pieces = all_gather(padded)
    else:
        pieces = [torch.empty_like(padded) for _ in sizes]
        dist.all_gather(pieces, padded.contiguous())
    return torch.cat([piece[:n] for piece, n in zip(pieces, sizes)]), sizes


class V2LCContrastiveLoss(nn.Module):
    """The multi-positive contrastive loss over the global batch of `world_size` processes, as open_clip's
    `ClipLoss(rank, world_size)`: each process gathers every process's embeddings (with gradients to its own) and
    computes the same global loss. Under DDP, whose gradient averaging divides by `world_size` what the gather's
    backward summed over `world_size` identical losses, the gradients equal those of one process holding the whole
    batch.

    Args:
        rank: this process's index (`TrainingArguments.process_index`); it offsets the segment ids of its comments.
        world_size: number of processes (`TrainingArguments.world_size`); 1 computes the local loss.
        multi_positive_loss: `"mil_nce"` or `"mean"` (see [`V2LCConfig`]).
    """

    def __init__(self, rank: int = 0, world_size: int = 1, multi_positive_loss: str = "mil_nce"):
        super().__init__()
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must lie in [0, world_size={world_size}), got {rank}")
        self.rank, self.world_size, self.multi_positive_loss = rank, world_size, multi_positive_loss

    def forward(
        self, video_embeds: torch.Tensor, text_embeds: torch.Tensor, comment_segment_ids: torch.Tensor, logit_scale: torch.Tensor
    ) -> torch.Tensor:
        """`video_embeds` (local segments, D) and `text_embeds` (local comments, D), both L2-normalised;
        `comment_segment_ids` index the local segments; `logit_scale` is the (clamped) temperature `exp(t)`."""
        all_video, video_sizes = gather_with_grad(video_embeds, self.world_size)
        all_text, _ = gather_with_grad(text_embeds, self.world_size)
        # Segment ids become global: offset this process's ids by the segments of the processes before it.
        all_segment_ids, _ = gather_with_grad(comment_segment_ids + sum(video_sizes[: self.rank]), self.world_size)
        return multi_positive_contrastive_loss(logit_scale * all_video @ all_text.t(), all_segment_ids, self.multi_positive_loss)


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


class V2LCAttention(nn.Module):
    """Bidirectional multi-head self-attention (an encoder's: `is_causal=False`, which SDPA reads)."""

    def __init__(self, config: V2LCConfig):
        super().__init__()
        self.config = config
        self.head_dim = config.video_hidden_size // config.video_num_heads
        self.scaling = self.head_dim**-0.5
        self.dropout = config.attention_dropout
        self.is_causal = False
        self.q_proj = nn.Linear(config.video_hidden_size, config.video_hidden_size)
        self.k_proj = nn.Linear(config.video_hidden_size, config.video_hidden_size)
        self.v_proj = nn.Linear(config.video_hidden_size, config.video_hidden_size)
        self.out_proj = nn.Linear(config.video_hidden_size, config.video_hidden_size)

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


class V2LCMLP(nn.Module):
    def __init__(self, config: V2LCConfig):
        super().__init__()
        self.fc1 = nn.Linear(config.video_hidden_size, config.video_intermediate_size)
        self.fc2 = nn.Linear(config.video_intermediate_size, config.video_hidden_size)
        self.activation_fn = ACT2FN[config.activation_function]

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.activation_fn(self.fc1(hidden_states)))


class V2LCEncoderLayer(GradientCheckpointingLayer):
    """Pre-norm transformer encoder layer (bidirectional self-attention, feed-forward)."""

    def __init__(self, config: V2LCConfig):
        super().__init__()
        self.self_attn = V2LCAttention(config)
        self.self_attn_layer_norm = nn.LayerNorm(config.video_hidden_size, eps=config.layer_norm_eps)
        self.mlp = V2LCMLP(config)
        self.final_layer_norm = nn.LayerNorm(config.video_hidden_size, eps=config.layer_norm_eps)
        self.dropout = config.hidden_dropout

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        residual = hidden_states
        hidden_states = self.self_attn(self.self_attn_layer_norm(hidden_states), attention_mask=attention_mask)
        hidden_states = residual + F.dropout(hidden_states, p=self.dropout, training=self.training)
        residual = hidden_states
        hidden_states = self.mlp(self.final_layer_norm(hidden_states))
        return residual + F.dropout(hidden_states, p=self.dropout, training=self.training)


class V2LCFrameEncoder(nn.Module):
    """Temporal transformer over per-second frame features; returns one vector per segment.

    A learned `[CLS]` slot leads the sequence; it is always attended to, so a segment without frames (all-zero mask)
    still gets a finite vector."""

    def __init__(self, config: V2LCConfig):
        super().__init__()
        self.config = config
        self.feature_projection = nn.Linear(config.video_feature_dim, config.video_hidden_size)
        self.cls_embedding = nn.Parameter(torch.zeros(config.video_hidden_size))
        self.embed_positions = nn.Embedding(config.max_video_frames + 1, config.video_hidden_size)
        self.layers = nn.ModuleList([V2LCEncoderLayer(config) for _ in range(config.video_num_layers)])
        self.layer_norm = nn.LayerNorm(config.video_hidden_size, eps=config.layer_norm_eps)
        self.dropout = config.hidden_dropout

    def forward(self, video_features: torch.Tensor, video_mask: torch.Tensor | None) -> torch.Tensor:
        if video_features.dim() != 3 or not video_features.is_floating_point():
            raise ValueError(
                f"video_features must be a float tensor (batch, frames, {self.config.video_feature_dim}), "
                f"got {tuple(video_features.shape)} {video_features.dtype}"
            )
        batch_size, frames, dim = video_features.shape
        if dim != self.config.video_feature_dim:
            raise ValueError(
                f"video_features have {dim} features per frame but this model expects "
                f"config.video_feature_dim={self.config.video_feature_dim}"
            )
        if frames > self.config.max_video_frames:
            raise ValueError(
                f"{frames} frames exceed config.max_video_frames={self.config.max_video_frames}; "
                "shorten the segments or enlarge the position table"
            )
        if video_mask is None:
            video_mask = torch.ones(batch_size, frames, dtype=torch.long, device=video_features.device)
        if tuple(video_mask.shape) != (batch_size, frames):
            raise ValueError(f"video_mask has shape {tuple(video_mask.shape)} but video_features have {(batch_size, frames)}")

        embeds = self.feature_projection(video_features.to(self.feature_projection.weight.dtype))
        cls = self.cls_embedding.to(embeds.dtype).expand(batch_size, 1, -1)
        hidden_states = torch.cat([cls, embeds], dim=1) + self.embed_positions.weight[: frames + 1].to(embeds.dtype)
        hidden_states = F.dropout(hidden_states, p=self.dropout, training=self.training)
        mask = torch.cat([video_mask.new_ones(batch_size, 1), video_mask], dim=1)
        mask_4d = create_bidirectional_mask(config=self.config, inputs_embeds=hidden_states, attention_mask=mask)
        for layer in self.layers:
            hidden_states = layer(hidden_states, mask_4d)
        hidden_states = self.layer_norm(hidden_states)
        if self.config.video_pooling == "cls":
            return hidden_states[:, 0]
        # Mean over the [CLS] slot and the real frames.
        weights = mask.unsqueeze(-1).to(hidden_states.dtype)
        return (hidden_states * weights).sum(1) / weights.sum(1)


def _masked_mean(hidden_states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.unsqueeze(-1).to(hidden_states.dtype)
    return (hidden_states * weights).sum(1) / weights.sum(1).clamp(min=1e-9)


def _text_model_kwargs(config) -> dict:
    """`add_pooling_layer=False` for models that accept it: pooling is ours, and an unused pooler would leave
    parameters without gradients (which DDP rejects)."""
    from transformers.models.auto.modeling_auto import MODEL_MAPPING

    model_class = MODEL_MAPPING.get(type(config), None)
    if model_class is not None and "add_pooling_layer" in inspect.signature(model_class.__init__).parameters:
        return {"add_pooling_layer": False}
    return {}


def _load_text_weights(text_model: nn.Module, pretrained: nn.Module) -> None:
    """Loads a pretrained text encoder into `text_model`. The checkpoint is loaded as saved (its pooler included, so
    that no load report flags unused weights); the pooler is dropped when `text_model` was built without one."""
    state = pretrained.state_dict()
    if not any(name.startswith("pooler.") for name in text_model.state_dict()):
        state = {name: value for name, value in state.items() if not name.startswith("pooler.")}
    text_model.load_state_dict(state)


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


class V2LCPreTrainedModel(PreTrainedModel):
    config: V2LCConfig
    base_model_prefix = "v2lc"
    main_input_name = "video_features"
    input_modalities = ("video", "text")
    supports_gradient_checkpointing = True
    _no_split_modules = ["V2LCEncoderLayer"]
    _supports_sdpa = True
    _supports_flash_attn = False
    _supports_flex_attn = False
    _supports_attention_backend = True

    @torch.no_grad()
    def _init_weights(self, module: nn.Module):
        std = self.config.init_std
        _init_linear_embedding_layer_norm(module, std)
        if isinstance(module, V2LCFrameEncoder):
            init.normal_(module.cls_embedding, mean=0.0, std=std)
        elif isinstance(module, V2LCModel):
            init.constant_(module.logit_scale, self.config.logit_scale_init_value)


class V2LCModel(V2LCPreTrainedModel):
    """Video and text towers, their projections into a shared space, and a learnable temperature."""

    def __init__(self, config: V2LCConfig):
        super().__init__(config)
        self.text_model = AutoModel.from_config(config.text_config, **_text_model_kwargs(config.text_config))
        if config.video_encoder_type == "frame_features":
            self.video_model = V2LCFrameEncoder(config)
            video_width = config.video_hidden_size
        else:
            self.video_model = AutoModel.from_config(config.video_config)
            video_width = config.video_config.hidden_size
        self.video_projection = nn.Linear(video_width, config.projection_dim, bias=False)
        self.text_projection = nn.Linear(config.text_config.hidden_size, config.projection_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(config.logit_scale_init_value))
        self.post_init()

    def get_input_embeddings(self):
        return self.text_model.get_input_embeddings()

    def clamped_logit_scale(self) -> torch.Tensor:
        """`exp(logit_scale)`, at most `LOGIT_SCALE_MAX` (100, as CLIP)."""
        return self.logit_scale.clamp(max=math.log(LOGIT_SCALE_MAX)).exp()

    @classmethod
    def from_text_pretrained(cls, text_model_name_or_path: str, config: V2LCConfig | None = None, **config_kwargs) -> "V2LCModel":
        """A V2LC model whose text tower starts from a pretrained checkpoint (e.g. all-MiniLM-L6-v2); the video tower,
        projections and temperature are newly initialised.

        Args:
            text_model_name_or_path: id or folder of any `AutoModel` text encoder.
            config: a `V2LCConfig` to start from; its `text_config` is replaced by the checkpoint's.
            config_kwargs: other `V2LCConfig` fields (`projection_dim`, `text_pooling`, `video_feature_dim`...).
        """
        text_model = AutoModel.from_pretrained(text_model_name_or_path)
        if config is None:
            config = V2LCConfig(text_config=text_model.config, **config_kwargs)
        else:
            config = V2LCConfig(**{**config.to_dict(), **config_kwargs, "text_config": text_model.config})
        model = cls(config)
        _load_text_weights(model.text_model, text_model)
        return model

    def get_video_features(
        self,
        video_features: torch.FloatTensor | None = None,
        video_mask: torch.LongTensor | None = None,
        pixel_values: torch.FloatTensor | None = None,
    ) -> torch.FloatTensor:
        """Projected (not normalised) segment embeddings, `(batch_size, projection_dim)`.

        Args:
            video_features: `(batch_size, frames, video_feature_dim)` per-second frame features
                (`video_encoder_type="frame_features"`).
            video_mask: `(batch_size, frames)`, 1 for real frames.
            pixel_values: the video model's input (`video_encoder_type="auto"`, e.g. `(batch, frames, 3, H, W)`).
        """
        if self.config.video_encoder_type == "frame_features":
            if video_features is None:
                raise ValueError("This V2LC model encodes frame features: pass video_features (batch, frames, dim)")
            pooled = self.video_model(video_features, video_mask)
        else:
            if pixel_values is None:
                raise ValueError(f"This V2LC model wraps a {self.config.video_config.model_type} video model: pass pixel_values")
            hidden_states = self.video_model(pixel_values=pixel_values).last_hidden_state
            # "cls" is only allowed (V2LCConfig) for towers whose token 0 is a trained [CLS] token.
            pooled = hidden_states[:, 0] if self.config.video_pooling == "cls" else hidden_states.mean(dim=1)
        return self.video_projection(pooled)

    def get_text_features(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.LongTensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
    ) -> torch.FloatTensor:
        """Projected (not normalised) comment embeddings, `(num_comments, projection_dim)` for `(num_comments,
        length)` token ids."""
        if input_ids.dim() != 2 or input_ids.is_floating_point():
            raise ValueError(f"input_ids must be integer token ids (num_comments, length), got {tuple(input_ids.shape)}")
        if attention_mask is None:
            attention_mask = self._default_attention_mask(input_ids)
        kwargs = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
        hidden_states = self.text_model(input_ids=input_ids, attention_mask=attention_mask, **kwargs).last_hidden_state
        pooled = hidden_states[:, 0] if self.config.text_pooling == "cls" else _masked_mean(hidden_states, attention_mask)
        return self.text_projection(pooled)

    def _default_attention_mask(self, input_ids: torch.Tensor) -> torch.Tensor:
        pad_token_id = getattr(self.config.text_config, "pad_token_id", None)
        if pad_token_id is None:
            return torch.ones_like(input_ids)
        return input_ids.ne(pad_token_id).long()

    def _flatten_comments(self, input_ids, attention_mask, token_type_ids, comment_segment_ids, num_segments):
        """(B, K, L) comments -> the non-empty ones as (N, L) with their segment ids; (N, L) comments are kept."""
        if attention_mask is None:
            attention_mask = self._default_attention_mask(input_ids)
        if attention_mask.shape != input_ids.shape:
            raise ValueError(f"attention_mask has shape {tuple(attention_mask.shape)} but input_ids have {tuple(input_ids.shape)}")
        if input_ids.dim() == 3:
            if comment_segment_ids is not None:
                raise ValueError("comment_segment_ids is only for flat (num_comments, length) input_ids")
            if input_ids.shape[0] != num_segments:
                raise ValueError(f"input_ids hold comments of {input_ids.shape[0]} segments but the batch has {num_segments}")
            keep = attention_mask.any(dim=-1).reshape(-1)
            segment_ids = torch.arange(num_segments, device=input_ids.device).repeat_interleave(input_ids.shape[1])
            flat = lambda t: t.reshape(-1, t.shape[-1])[keep] if t is not None else None  # noqa: E731
            return flat(input_ids), flat(attention_mask), flat(token_type_ids), segment_ids[keep]
        if input_ids.dim() != 2:
            raise ValueError(f"input_ids must have shape (segments, comments, length) or (comments, length), got {tuple(input_ids.shape)}")
        if comment_segment_ids is None:
            if input_ids.shape[0] != num_segments:
                raise ValueError(
                    f"{input_ids.shape[0]} comments for {num_segments} segments: pass comment_segment_ids, or "
                    "input_ids of shape (segments, comments, length)"
                )
            comment_segment_ids = torch.arange(num_segments, device=input_ids.device)
        if comment_segment_ids.shape != (input_ids.shape[0],):
            raise ValueError(f"comment_segment_ids must have shape ({input_ids.shape[0]},), got {tuple(comment_segment_ids.shape)}")
        if len(comment_segment_ids) and (comment_segment_ids.min() < 0 or comment_segment_ids.max() >= num_segments):
            raise ValueError(f"comment_segment_ids must lie in [0, {num_segments}), got {comment_segment_ids.tolist()}")
        return input_ids, attention_mask, token_type_ids, comment_segment_ids.long()

    def forward(
        self,
        video_features: torch.FloatTensor | None = None,
        video_mask: torch.LongTensor | None = None,
        pixel_values: torch.FloatTensor | None = None,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.LongTensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
        comment_segment_ids: torch.LongTensor | None = None,
        return_loss: bool = True,
    ) -> V2LCOutput:
        r"""
        video_features (`torch.FloatTensor` of shape `(num_segments, frames, video_feature_dim)`, *optional*):
            Per-second frame features of each segment (`video_encoder_type="frame_features"`).
        video_mask (`torch.LongTensor` of shape `(num_segments, frames)`, *optional*):
            1 for real frames, 0 for padding.
        pixel_values (`torch.FloatTensor`, *optional*):
            Video model input (`video_encoder_type="auto"`).
        input_ids (`torch.LongTensor`):
            The comments: `(num_segments, comments_per_segment, length)` (padding comments have an all-zero
            attention mask), or flat `(num_comments, length)` with `comment_segment_ids` (or one comment per
            segment without it).
        comment_segment_ids (`torch.LongTensor` of shape `(num_comments,)`, *optional*):
            Segment index of each flat comment.
        return_loss (`bool`, defaults to `True`):
            Compute the contrastive loss of this batch (for the loss over the batches of several processes, use
            [`V2LCContrastiveLoss`] with their rank and world size on the returned embeddings).
        """
        video_embeds = self.get_video_features(video_features, video_mask, pixel_values)
        if input_ids is None:
            raise ValueError("input_ids (the live comments) are required")
        input_ids, attention_mask, token_type_ids, comment_segment_ids = self._flatten_comments(
            input_ids, attention_mask, token_type_ids, comment_segment_ids, video_embeds.shape[0]
        )
        text_embeds = self.get_text_features(input_ids, attention_mask, token_type_ids)

        video_embeds = F.normalize(video_embeds, dim=-1)
        text_embeds = F.normalize(text_embeds, dim=-1)
        logit_scale = self.clamped_logit_scale()
        logits_per_video = logit_scale * video_embeds @ text_embeds.t()

        loss = None
        if return_loss:
            # This batch only: the training recipe gathers negatives across processes with `V2LCContrastiveLoss(rank,
            # world_size)`, outside the model, so the model never reads global distributed state.
            loss = multi_positive_contrastive_loss(logits_per_video, comment_segment_ids, self.config.multi_positive_loss)
        return V2LCOutput(
            loss=loss,
            logits_per_video=logits_per_video,
            logits_per_text=logits_per_video.t(),
            video_embeds=video_embeds,
            text_embeds=text_embeds,
            comment_segment_ids=comment_segment_ids,
            logit_scale=logit_scale,
        )


__all__ = [
    "V2LCPreTrainedModel",
    "V2LCModel",
    "V2LCOutput",
    "V2LCFrameEncoder",
    "V2LCContrastiveLoss",
    "LOGIT_SCALE_MAX",
    "multi_positive_contrastive_loss",
    "retrieval_accuracy",
    "gather_with_grad",
]
