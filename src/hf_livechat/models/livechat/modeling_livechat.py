"""PyTorch LiveChat model: video, transcript and chat encoders, and a decoder with one cross-attention per modality.

This file only uses relative imports so that `save_pretrained` can copy it next to the weights and
`AutoModel.from_pretrained(folder, trust_remote_code=True)` loads it without `hf_livechat` installed.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from transformers import GenerationMixin, PreTrainedModel
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.cache_utils import Cache, DynamicCache, EncoderDecoderCache
from transformers.masking_utils import create_bidirectional_mask, create_causal_mask
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers.utils import ModelOutput

from .configuration_livechat import MODALITIES, LiveChatConfig


def shift_tokens_right(labels: torch.Tensor, pad_token_id: int, decoder_start_token_id: int) -> torch.Tensor:
    """Builds decoder inputs from labels: prepend the start token, drop the last position, `-100` -> pad."""
    shifted = labels.new_full(labels.shape, pad_token_id)
    shifted[:, 1:] = labels[:, :-1]
    shifted[:, 0] = decoder_start_token_id
    return shifted.masked_fill(shifted == -100, pad_token_id)


@dataclass
class LiveChatEncoderOutput(ModelOutput):
    """
    The three encoded modalities. Each memory starts with a learned "null" slot that is always attended to, so a
    modality that is absent (all-zero mask) still gives finite attention: the model sees "nothing here".

    Args:
        video_last_hidden_state (`torch.FloatTensor` of shape `(batch_size, 1 + frames, d_model)`):
            Encoded frames.
        video_attention_mask (`torch.LongTensor` of shape `(batch_size, 1 + frames)`):
            1 for the null slot and real frames.
        transcript_last_hidden_state (`torch.FloatTensor` of shape `(batch_size, 1 + tokens, d_model)`):
            Encoded transcript tokens.
        transcript_attention_mask (`torch.LongTensor` of shape `(batch_size, 1 + tokens)`):
            1 for the null slot and real tokens.
        chat_last_hidden_state (`torch.FloatTensor` of shape `(batch_size, 1 + comments_or_tokens, d_model)`):
            One vector per context comment (`chat_encoder_type="comment"`) or per chat token (`"token"`).
        chat_attention_mask (`torch.LongTensor` of shape `(batch_size, 1 + comments_or_tokens)`):
            1 for the null slot and real comments / tokens.
    """

    video_last_hidden_state: torch.FloatTensor | None = None
    video_attention_mask: torch.LongTensor | None = None
    transcript_last_hidden_state: torch.FloatTensor | None = None
    transcript_attention_mask: torch.LongTensor | None = None
    chat_last_hidden_state: torch.FloatTensor | None = None
    chat_attention_mask: torch.LongTensor | None = None

    def memories(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        return {modality: (self[f"{modality}_last_hidden_state"], self[f"{modality}_attention_mask"]) for modality in MODALITIES}


@dataclass
class LiveChatModelOutput(ModelOutput):
    """
    Args:
        last_hidden_state (`torch.FloatTensor` of shape `(batch_size, target_length, d_model)`):
            Decoder output.
        past_key_values (`EncoderDecoderCache`, *optional*):
            Self-attention and cross-attention key/value cache of the decoder.
        encoder_outputs (`LiveChatEncoderOutput`):
            The encoded modalities (reused across decoding steps).
    """

    last_hidden_state: torch.FloatTensor | None = None
    past_key_values: Cache | None = None
    encoder_outputs: LiveChatEncoderOutput | None = None


@dataclass
class LiveChatCommentGenerationOutput(ModelOutput):
    """
    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*, returned when `labels` is given):
            Token-level cross-entropy of the target comment (`-100` positions ignored).
        logits (`torch.FloatTensor` of shape `(batch_size, target_length, vocab_size)`):
            Next-token scores.
        past_key_values (`EncoderDecoderCache`, *optional*):
            Decoder cache, for generation.
        encoder_outputs (`LiveChatEncoderOutput`):
            The encoded modalities.
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    past_key_values: Cache | None = None
    encoder_outputs: LiveChatEncoderOutput | None = None


@dataclass
class LiveChatPretrainingOutput(ModelOutput):
    """
    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*):
            Masked-LM cross-entropy over the masked transcript and chat tokens together.
        transcript_logits (`torch.FloatTensor` of shape `(batch_size, transcript_length, vocab_size)`):
            Token predictions at every transcript position.
        chat_logits (`torch.FloatTensor` of shape `(batch_size, ..., vocab_size)`):
            Token predictions at every chat token position (shape of `chat_input_ids`).
    """

    loss: torch.FloatTensor | None = None
    transcript_logits: torch.FloatTensor | None = None
    chat_logits: torch.FloatTensor | None = None


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


class LiveChatAttention(nn.Module):
    """Multi-head attention. Self-attention projects its own keys/values (and appends them to the cache);
    cross-attention receives keys/values already projected by `project_key_value` (computed once per memory)."""

    def __init__(self, config: LiveChatConfig, num_heads: int, is_causal: bool = False, layer_idx: int | None = None):
        super().__init__()
        self.config = config
        self.num_heads = num_heads
        self.head_dim = config.d_model // num_heads
        self.scaling = self.head_dim**-0.5
        self.dropout = config.attention_dropout
        self.is_causal = is_causal
        self.layer_idx = layer_idx
        self.q_proj = nn.Linear(config.d_model, config.d_model)
        self.k_proj = nn.Linear(config.d_model, config.d_model)
        self.v_proj = nn.Linear(config.d_model, config.d_model)
        self.out_proj = nn.Linear(config.d_model, config.d_model)

    def project_key_value(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (*states.shape[:-1], -1, self.head_dim)
        return self.k_proj(states).view(shape).transpose(1, 2), self.v_proj(states).view(shape).transpose(1, 2)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        key_value: tuple[torch.Tensor, torch.Tensor] | None = None,
        past_key_values: Cache | None = None,
    ) -> torch.Tensor:
        input_shape = hidden_states.shape[:-1]
        query = self.q_proj(hidden_states).view(*input_shape, -1, self.head_dim).transpose(1, 2)
        if key_value is None:
            key, value = self.project_key_value(hidden_states)
            if past_key_values is not None:
                key, value = past_key_values.update(key, value, self.layer_idx)
        else:
            key, value = key_value

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


class LiveChatMLP(nn.Module):
    def __init__(self, config: LiveChatConfig, inner_dim: int):
        super().__init__()
        self.fc1 = nn.Linear(config.d_model, inner_dim)
        self.fc2 = nn.Linear(inner_dim, config.d_model)
        self.activation_fn = ACT2FN[config.activation_function]
        self.activation_dropout = config.activation_dropout

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = self.activation_fn(self.fc1(hidden_states))
        hidden_states = F.dropout(hidden_states, p=self.activation_dropout, training=self.training)
        return self.fc2(hidden_states)


class LiveChatEncoderLayer(GradientCheckpointingLayer):
    """Pre-norm transformer encoder layer (bidirectional self-attention, feed-forward)."""

    def __init__(self, config: LiveChatConfig):
        super().__init__()
        self.self_attn = LiveChatAttention(config, config.encoder_attention_heads, is_causal=False)
        self.self_attn_layer_norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.mlp = LiveChatMLP(config, config.encoder_ffn_dim)
        self.final_layer_norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.dropout = config.dropout

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        residual = hidden_states
        hidden_states = self.self_attn(self.self_attn_layer_norm(hidden_states), attention_mask=attention_mask)
        hidden_states = residual + F.dropout(hidden_states, p=self.dropout, training=self.training)
        residual = hidden_states
        hidden_states = self.mlp(self.final_layer_norm(hidden_states))
        return residual + F.dropout(hidden_states, p=self.dropout, training=self.training)


class LiveChatSequenceEncoder(nn.Module):
    """A stack of encoder layers over a sequence whose first position is the modality's null slot."""

    def __init__(self, config: LiveChatConfig, num_positions: int):
        super().__init__()
        self.config = config
        self.null_embedding = nn.Parameter(torch.zeros(config.d_model))
        self.embed_positions = nn.Embedding(num_positions, config.d_model)
        self.layers = nn.ModuleList([LiveChatEncoderLayer(config) for _ in range(config.encoder_layers)])
        self.layer_norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.dropout = config.dropout

    def forward(
        self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`position_ids` (batch, length), from 1 (0 is the null slot), default 1..length."""
        batch_size, length, _ = inputs_embeds.shape
        if position_ids is None:
            position_ids = torch.arange(1, length + 1, device=inputs_embeds.device).expand(batch_size, -1)
        if length and int(position_ids.max()) >= self.embed_positions.num_embeddings:
            raise ValueError(
                f"Position {int(position_ids.max())} is beyond this encoder's position table "
                f"({self.embed_positions.num_embeddings - 1} positions); truncate the input or enlarge the config."
            )
        null = self.null_embedding.to(inputs_embeds.dtype).expand(batch_size, 1, -1)
        hidden_states = torch.cat([null, inputs_embeds], dim=1)
        position_ids = torch.cat([position_ids.new_zeros(batch_size, 1), position_ids], dim=1)
        hidden_states = hidden_states + self.embed_positions(position_ids).to(hidden_states.dtype)
        hidden_states = F.dropout(hidden_states, p=self.dropout, training=self.training)
        attention_mask = torch.cat([attention_mask.new_ones(batch_size, 1), attention_mask], dim=1)
        mask_4d = create_bidirectional_mask(config=self.config, inputs_embeds=hidden_states, attention_mask=attention_mask)
        for layer in self.layers:
            hidden_states = layer(hidden_states, mask_4d)
        return self.layer_norm(hidden_states), attention_mask


class LiveChatDecoderLayer(GradientCheckpointingLayer):
    """Masked self-attention, then one cross-attention block per modality (in `config.cross_attention_order`), then
    the feed-forward block; all pre-norm with residual connections."""

    def __init__(self, config: LiveChatConfig, layer_idx: int):
        super().__init__()
        heads = config.decoder_attention_heads
        self.layer_idx = layer_idx
        self.cross_attention_order = list(config.cross_attention_order)
        self.self_attn = LiveChatAttention(config, heads, is_causal=True, layer_idx=layer_idx)
        self.self_attn_layer_norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.cross_attn = nn.ModuleDict({m: LiveChatAttention(config, heads, layer_idx=layer_idx) for m in MODALITIES})
        self.cross_attn_layer_norm = nn.ModuleDict(
            {m: nn.LayerNorm(config.d_model, eps=config.layer_norm_eps) for m in MODALITIES}
        )
        self.mlp = LiveChatMLP(config, config.decoder_ffn_dim)
        self.final_layer_norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.dropout = config.dropout

    def _cross_key_values(
        self, memories: dict[str, torch.Tensor], past_key_values: EncoderDecoderCache | None
    ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Keys/values of the three memories. With a cache they are projected once, stored in this layer's single
        cross-attention slot concatenated along the sequence (video | transcript | chat), and split by length later."""
        lengths = [memories[m].shape[1] for m in MODALITIES]
        if past_key_values is not None and past_key_values.is_updated.get(self.layer_idx):
            cached = past_key_values.cross_attention_cache.layers[self.layer_idx]
            keys, values = cached.keys.split(lengths, dim=2), cached.values.split(lengths, dim=2)
            return {m: (k, v) for m, k, v in zip(MODALITIES, keys, values)}
        key_values = {m: self.cross_attn[m].project_key_value(memories[m]) for m in MODALITIES}
        if past_key_values is not None:
            past_key_values.cross_attention_cache.update(
                torch.cat([key_values[m][0] for m in MODALITIES], dim=2),
                torch.cat([key_values[m][1] for m in MODALITIES], dim=2),
                self.layer_idx,
            )
            past_key_values.is_updated[self.layer_idx] = True
        return key_values

    def forward(
        self,
        hidden_states: torch.Tensor,
        self_attn_mask: torch.Tensor | None,
        video_hidden_states: torch.Tensor,
        video_mask: torch.Tensor | None,
        transcript_hidden_states: torch.Tensor,
        transcript_mask: torch.Tensor | None,
        chat_hidden_states: torch.Tensor,
        chat_mask: torch.Tensor | None,
        past_key_values: EncoderDecoderCache | None = None,
    ) -> torch.Tensor:
        # Memories and masks travel as separate tensor arguments so that gradient checkpointing sees them.
        memories = {"video": video_hidden_states, "transcript": transcript_hidden_states, "chat": chat_hidden_states}
        masks = {"video": video_mask, "transcript": transcript_mask, "chat": chat_mask}

        residual = hidden_states
        self_cache = past_key_values.self_attention_cache if past_key_values is not None else None
        hidden_states = self.self_attn(
            self.self_attn_layer_norm(hidden_states), attention_mask=self_attn_mask, past_key_values=self_cache
        )
        hidden_states = residual + F.dropout(hidden_states, p=self.dropout, training=self.training)

        key_values = self._cross_key_values(memories, past_key_values)
        batch_size, length, d_model = hidden_states.shape
        memory_batch_size = video_hidden_states.shape[0]
        for modality in self.cross_attention_order:
            residual = hidden_states
            # When several decoder rows share one memory row (the candidates of one clip in `score_candidates`),
            # their positions are folded into one longer query: each clip's keys/values are projected and read
            # once, never copied per candidate. Cross-attention has no causal mask, so the result is the same.
            queries = self.cross_attn_layer_norm[modality](hidden_states).reshape(memory_batch_size, -1, d_model)
            hidden_states = self.cross_attn[modality](
                queries, attention_mask=masks[modality], key_value=key_values[modality]
            ).reshape(batch_size, length, d_model)
            hidden_states = residual + F.dropout(hidden_states, p=self.dropout, training=self.training)

        residual = hidden_states
        hidden_states = self.mlp(self.final_layer_norm(hidden_states))
        return residual + F.dropout(hidden_states, p=self.dropout, training=self.training)


class LiveChatPreTrainedModel(PreTrainedModel):
    config: LiveChatConfig
    base_model_prefix = "model"
    main_input_name = "video_features"
    input_modalities = ("video", "text")
    supports_gradient_checkpointing = True
    _no_split_modules = ["LiveChatEncoderLayer", "LiveChatDecoderLayer"]
    _skip_keys_device_placement = ["past_key_values"]
    _supports_sdpa = True
    _supports_flash_attn = False
    _supports_flex_attn = False
    _supports_attention_backend = True

    @torch.no_grad()
    def _init_weights(self, module: nn.Module):
        std = self.config.init_std
        if isinstance(module, nn.Linear):
            init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            init.normal_(module.weight, mean=0.0, std=std)
            if module.padding_idx is not None and not getattr(module.weight, "_is_hf_initialized", False):
                init.zeros_(module.weight[module.padding_idx])
        elif isinstance(module, nn.LayerNorm):
            init.ones_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, LiveChatSequenceEncoder):
            init.normal_(module.null_embedding, mean=0.0, std=std)
        elif isinstance(module, LiveChatPretrainingHead):
            init.zeros_(module.bias)


class LiveChatEncoder(LiveChatPreTrainedModel):
    """Encodes the three modalities. Any modality may be absent, for one example (all-zero mask) or the whole batch
    (`None`): its memory is then only the null slot."""

    def __init__(self, config: LiveChatConfig):
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.d_model, config.pad_token_id)
        self.video_projection = nn.Linear(config.video_feature_dim, config.d_model)
        self.video_encoder = LiveChatSequenceEncoder(config, config.max_video_frames + 1)
        self.transcript_encoder = LiveChatSequenceEncoder(config, config.max_position_embeddings + 1)
        # Chat positions count within one comment (null slot, up to max_comment_length tokens, [SEP]); which comment
        # a token or pooled vector belongs to is told by `comment_positions`.
        self.chat_encoder = LiveChatSequenceEncoder(config, config.max_comment_length + 2)
        # Recency of a context comment, numbered from the newest (1) back to `max_context_comments`, the training
        # horizon; older comments (evaluation keeps more) share the last row, so every row used at evaluation is
        # one that training reaches. Row 0 is the null slot.
        self.comment_positions = nn.Embedding(config.max_context_comments + 1, config.d_model)
        self.post_init()

    def get_input_embeddings(self):
        return self.embed_tokens

    def set_input_embeddings(self, value):
        self.embed_tokens = value

    def _batch_size(self, video_features, transcript_input_ids, chat_input_ids) -> int:
        sizes = {name: t.shape[0] for name, t in (("video_features", video_features), ("transcript_input_ids", transcript_input_ids), ("chat_input_ids", chat_input_ids)) if t is not None}
        if not sizes:
            raise ValueError(
                "All modalities are empty: pass at least one of video_features, transcript_input_ids or chat_input_ids "
                "(an absent modality for some examples is expressed with an all-zero mask)."
            )
        if len(set(sizes.values())) > 1:
            raise ValueError(f"Mismatched batch sizes between modalities: {sizes}")
        return next(iter(sizes.values()))

    def _null_memory(self, encoder: LiveChatSequenceEncoder, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        empty = self.embed_tokens.weight.new_zeros(batch_size, 0, self.config.d_model)
        return encoder(empty, torch.zeros(batch_size, 0, dtype=torch.long, device=empty.device))

    def encode_video(self, video_features: torch.Tensor, video_mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        if video_features.dim() != 3 or not video_features.is_floating_point():
            raise ValueError(
                f"video_features must be a float tensor (batch, frames, {self.config.video_feature_dim}), "
                f"got {tuple(video_features.shape)} {video_features.dtype}"
            )
        if video_features.shape[-1] != self.config.video_feature_dim:
            raise ValueError(
                f"video_features have {video_features.shape[-1]} features per frame but this model expects "
                f"config.video_feature_dim={self.config.video_feature_dim} (features of {self.config.feature_model!r})"
            )
        if video_mask is None:
            video_mask = torch.ones(video_features.shape[:2], dtype=torch.long, device=video_features.device)
        self._check_mask("video_mask", video_mask, video_features.shape[:2])
        embeds = self.video_projection(video_features.to(self.video_projection.weight.dtype))
        return self.video_encoder(embeds, video_mask)

    def encode_transcript(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        attention_mask = self._token_mask("transcript", input_ids, attention_mask, expected_dim=2)
        return self.transcript_encoder(self.embed_tokens(input_ids), attention_mask)

    def comment_recency(self, comment_mask: torch.Tensor) -> torch.Tensor:
        """Recency index of each comment from a `(batch, comments)` mask of real comments (oldest first, padding
        anywhere): 1 for the newest, clamped to `max_context_comments`, 0 for padding."""
        newer_or_same = comment_mask.flip(-1).cumsum(-1).flip(-1)
        return (newer_or_same * comment_mask).clamp(max=self.config.max_context_comments)

    def encode_chat(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns the chat memory, its mask, and the token-level states (for masked-LM pretraining)."""
        if self.config.chat_encoder_type == "token":
            attention_mask = self._token_mask("chat", input_ids, attention_mask, expected_dim=2)
            within, comment_index = self._split_comments(input_ids, attention_mask)
            # Each token's comment, counted from the newest comment (the last one, even without a closing [SEP]).
            last = (comment_index * attention_mask).amax(-1, keepdim=True)
            recency = ((last - comment_index + 1) * attention_mask).clamp(max=self.config.max_context_comments)
            embeds = self.embed_tokens(input_ids) + self.comment_positions(recency).to(self.embed_tokens.weight.dtype)
            hidden_states, mask = self.chat_encoder(embeds, attention_mask, position_ids=(within + 1) * attention_mask)
            return hidden_states, mask, hidden_states[:, 1:]

        attention_mask = self._token_mask("chat", input_ids, attention_mask, expected_dim=3)
        batch_size, num_comments, length = input_ids.shape
        flat_ids, flat_mask = input_ids.reshape(-1, length), attention_mask.reshape(-1, length)
        token_states, token_mask = self.chat_encoder(self.embed_tokens(flat_ids), flat_mask)
        # Mean over each comment's null slot and tokens: an empty (padding) comment still gives a finite vector.
        weights = token_mask.unsqueeze(-1).to(token_states.dtype)
        pooled = (token_states * weights).sum(1) / weights.sum(1)
        pooled = pooled.view(batch_size, num_comments, -1)
        comment_mask = attention_mask.any(-1).long()
        null = self.chat_encoder.null_embedding.to(pooled.dtype).expand(batch_size, 1, -1)
        recency = torch.cat([comment_mask.new_zeros(batch_size, 1), self.comment_recency(comment_mask)], dim=1)
        memory = torch.cat([null, pooled], dim=1) + self.comment_positions(recency).to(pooled.dtype)
        mask = torch.cat([comment_mask.new_ones(batch_size, 1), comment_mask], dim=1)
        return memory, mask, token_states[:, 1:].reshape(batch_size, num_comments, length, -1)

    def _split_comments(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """For a `[SEP]`-joined chat sequence: each token's index inside its comment and its comment's index (from
        the oldest). A comment ends with its `[SEP]`."""
        is_sep = input_ids.eq(self.config.sep_token_id) & attention_mask.bool()
        comment_index = is_sep.long().cumsum(-1) - is_sep.long()
        steps = torch.arange(input_ids.shape[1], device=input_ids.device).expand_as(input_ids)
        starts = torch.zeros_like(is_sep)
        starts[:, 1:] = is_sep[:, :-1]
        start_of_comment = torch.where(starts, steps, torch.zeros_like(steps)).cummax(-1).values
        return steps - start_of_comment, comment_index

    def _token_mask(self, name, input_ids, attention_mask, expected_dim):
        if input_ids.dim() != expected_dim or input_ids.is_floating_point():
            shape = "(batch, tokens)" if expected_dim == 2 else "(batch, comments, tokens)"
            raise ValueError(
                f"{name}_input_ids must be integer token ids of shape {shape} for this config "
                f"(chat_encoder_type={self.config.chat_encoder_type!r}), got {tuple(input_ids.shape)} {input_ids.dtype}"
            )
        if attention_mask is None:
            attention_mask = input_ids.ne(self.config.pad_token_id).long()
        self._check_mask(f"{name}_attention_mask", attention_mask, input_ids.shape)
        return attention_mask

    @staticmethod
    def _check_mask(name: str, mask: torch.Tensor, expected_shape):
        if tuple(mask.shape) != tuple(expected_shape):
            raise ValueError(f"{name} has shape {tuple(mask.shape)} but its inputs have shape {tuple(expected_shape)}")

    def forward(
        self,
        video_features: torch.FloatTensor | None = None,
        video_mask: torch.LongTensor | None = None,
        transcript_input_ids: torch.LongTensor | None = None,
        transcript_attention_mask: torch.LongTensor | None = None,
        chat_input_ids: torch.LongTensor | None = None,
        chat_attention_mask: torch.LongTensor | None = None,
        **kwargs,
    ) -> LiveChatEncoderOutput:
        r"""
        video_features (`torch.FloatTensor` of shape `(batch_size, frames, video_feature_dim)`, *optional*):
            Per-second frame features (e.g. a ResNet50's pooled output), oldest first.
        video_mask (`torch.LongTensor` of shape `(batch_size, frames)`, *optional*):
            1 for real frames, 0 for padding.
        transcript_input_ids (`torch.LongTensor` of shape `(batch_size, tokens)`, *optional*):
            The streamer's speech in the context window.
        chat_input_ids (`torch.LongTensor`, *optional*):
            Context comments: `(batch_size, comments, tokens)` for `chat_encoder_type="comment"`,
            `(batch_size, tokens)` with `[SEP]` between comments for `"token"`.
        """
        batch_size = self._batch_size(video_features, transcript_input_ids, chat_input_ids)
        if video_features is not None:
            video = self.encode_video(video_features, video_mask)
        else:
            video = self._null_memory(self.video_encoder, batch_size)
        if transcript_input_ids is not None:
            transcript = self.encode_transcript(transcript_input_ids, transcript_attention_mask)
        else:
            transcript = self._null_memory(self.transcript_encoder, batch_size)
        if chat_input_ids is not None:
            chat = self.encode_chat(chat_input_ids, chat_attention_mask)[:2]
        else:
            chat = self._null_memory(self.chat_encoder, batch_size)
        return LiveChatEncoderOutput(
            video_last_hidden_state=video[0],
            video_attention_mask=video[1],
            transcript_last_hidden_state=transcript[0],
            transcript_attention_mask=transcript[1],
            chat_last_hidden_state=chat[0],
            chat_attention_mask=chat[1],
        )


class LiveChatDecoder(LiveChatPreTrainedModel):
    """Autoregressive comment decoder over the three encoded memories."""

    main_input_name = "input_ids"

    def __init__(self, config: LiveChatConfig):
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.d_model, config.pad_token_id)
        self.embed_positions = nn.Embedding(config.max_position_embeddings, config.d_model)
        self.layers = nn.ModuleList([LiveChatDecoderLayer(config, i) for i in range(config.decoder_layers)])
        self.layer_norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.dropout = config.dropout
        self.post_init()

    def get_input_embeddings(self):
        return self.embed_tokens

    def set_input_embeddings(self, value):
        self.embed_tokens = value

    def forward(
        self,
        input_ids: torch.LongTensor,
        encoder_outputs: LiveChatEncoderOutput,
        attention_mask: torch.LongTensor | None = None,
        past_key_values: EncoderDecoderCache | None = None,
        use_cache: bool | None = None,
    ) -> LiveChatModelOutput:
        inputs_embeds = self.embed_tokens(input_ids)
        if use_cache and past_key_values is None:
            past_key_values = EncoderDecoderCache(DynamicCache(config=self.config), DynamicCache(config=self.config))
        past_length = past_key_values.get_seq_length() if past_key_values is not None else 0
        if past_length + input_ids.shape[1] > self.config.max_position_embeddings:
            raise ValueError(f"Decoder length exceeds max_position_embeddings={self.config.max_position_embeddings}")
        positions = self.embed_positions.weight[past_length : past_length + input_ids.shape[1]]
        hidden_states = F.dropout(inputs_embeds + positions, p=self.dropout, training=self.training)

        self_attn_mask = create_causal_mask(
            config=self.config,
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            past_key_values=past_key_values.self_attention_cache if past_key_values is not None else None,
        )
        memories = {}
        for modality, (memory, mask) in encoder_outputs.memories().items():
            if inputs_embeds.shape[0] % memory.shape[0]:
                raise ValueError(
                    f"The decoder batch ({inputs_embeds.shape[0]}) must be a multiple of the {modality} memory batch "
                    f"({memory.shape[0]})."
                )
            memories[modality] = memory.to(hidden_states.dtype)
            # Built for a single query position: a cross-attention mask does not depend on the query, and the
            # (batch, 1, 1, memory) shape broadcasts over any number of decoder positions.
            memories[f"{modality}_mask"] = create_bidirectional_mask(
                config=self.config,
                inputs_embeds=inputs_embeds.new_empty(memory.shape[0], 1, inputs_embeds.shape[-1]),
                attention_mask=mask,
                encoder_hidden_states=memory,
            )
        for layer in self.layers:
            hidden_states = layer(
                hidden_states,
                self_attn_mask,
                memories["video"],
                memories["video_mask"],
                memories["transcript"],
                memories["transcript_mask"],
                memories["chat"],
                memories["chat_mask"],
                past_key_values=past_key_values,
            )
        return LiveChatModelOutput(
            last_hidden_state=self.layer_norm(hidden_states),
            past_key_values=past_key_values if use_cache else None,
            encoder_outputs=encoder_outputs,
        )


class LiveChatModel(LiveChatPreTrainedModel):
    """The bare LiveChat encoder-decoder: returns the decoder's hidden states."""

    _tied_weights_keys = {
        "encoder.embed_tokens.weight": "shared.weight",
        "decoder.embed_tokens.weight": "shared.weight",
    }

    def __init__(self, config: LiveChatConfig):
        super().__init__(config)
        self.shared = nn.Embedding(config.vocab_size, config.d_model, config.pad_token_id)
        self.encoder = LiveChatEncoder(config)
        self.decoder = LiveChatDecoder(config)
        self.post_init()

    def get_input_embeddings(self):
        return self.shared

    def set_input_embeddings(self, value):
        self.shared = value
        self.encoder.embed_tokens = value
        self.decoder.embed_tokens = value

    def get_encoder(self, modality=None):
        return self.encoder

    def forward(
        self,
        video_features: torch.FloatTensor | None = None,
        video_mask: torch.LongTensor | None = None,
        transcript_input_ids: torch.LongTensor | None = None,
        transcript_attention_mask: torch.LongTensor | None = None,
        chat_input_ids: torch.LongTensor | None = None,
        chat_attention_mask: torch.LongTensor | None = None,
        decoder_input_ids: torch.LongTensor | None = None,
        decoder_attention_mask: torch.LongTensor | None = None,
        encoder_outputs: LiveChatEncoderOutput | None = None,
        past_key_values: EncoderDecoderCache | None = None,
        use_cache: bool | None = None,
    ) -> LiveChatModelOutput:
        if encoder_outputs is None:
            encoder_outputs = self.encoder(
                video_features=video_features,
                video_mask=video_mask,
                transcript_input_ids=transcript_input_ids,
                transcript_attention_mask=transcript_attention_mask,
                chat_input_ids=chat_input_ids,
                chat_attention_mask=chat_attention_mask,
            )
        if decoder_input_ids is None:
            raise ValueError("decoder_input_ids (or labels, from which they are built) are required")
        return self.decoder(
            input_ids=decoder_input_ids,
            encoder_outputs=encoder_outputs,
            attention_mask=decoder_attention_mask,
            past_key_values=past_key_values,
            use_cache=use_cache,
        )


class LiveChatForCommentGeneration(LiveChatPreTrainedModel, GenerationMixin):
    """LiveChat with its language-model head (tied to the shared token embeddings): trains with `labels` and
    generates comments with `generate()` (greedy, beam search, sampling; encoders run once, cached decoding)."""

    _tied_weights_keys = {"lm_head.weight": "model.shared.weight"}
    # The loss is normalised by `num_items_in_batch` when the Trainer passes it, so that gradient accumulation gives
    # the same loss as one big batch.
    accepts_loss_kwargs = True

    def __init__(self, config: LiveChatConfig):
        super().__init__(config)
        self.model = LiveChatModel(config)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.post_init()

    def get_encoder(self, modality=None):
        return self.model.encoder

    def get_decoder(self):
        return self.model.decoder

    def save_pretrained(self, save_directory, *args, **kwargs):
        if self._auto_class is not None:
            # One class answers both AutoModel and AutoModelForSeq2SeqLM in remote-code loading.
            name = f"{self.__class__.__module__.split('.')[-1]}.{self.__class__.__name__}"
            auto_map = dict(getattr(self.config, "auto_map", None) or {})
            auto_map.update({"AutoModel": name, "AutoModelForSeq2SeqLM": name})
            self.config.auto_map = auto_map
        return super().save_pretrained(save_directory, *args, **kwargs)

    def forward(
        self,
        video_features: torch.FloatTensor | None = None,
        video_mask: torch.LongTensor | None = None,
        transcript_input_ids: torch.LongTensor | None = None,
        transcript_attention_mask: torch.LongTensor | None = None,
        chat_input_ids: torch.LongTensor | None = None,
        chat_attention_mask: torch.LongTensor | None = None,
        decoder_input_ids: torch.LongTensor | None = None,
        decoder_attention_mask: torch.LongTensor | None = None,
        encoder_outputs: LiveChatEncoderOutput | None = None,
        past_key_values: EncoderDecoderCache | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        num_items_in_batch: int | torch.Tensor | None = None,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.LongTensor | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        decoder_inputs_embeds: torch.FloatTensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> LiveChatCommentGenerationOutput:
        r"""
        labels (`torch.LongTensor` of shape `(batch_size, target_length)`, *optional*):
            Target comment token ids ending with `[SEP]`; `-100` positions are ignored by the loss. When given without
            `decoder_input_ids`, the decoder inputs are the labels shifted right behind `[CLS]`.
        num_items_in_batch (`int`, *optional*):
            Number of target tokens in the whole (accumulated) batch; the Trainer passes it so the summed loss is
            normalised once over all micro-batches.
        input_ids, attention_mask, inputs_embeds, decoder_inputs_embeds, output_attentions, output_hidden_states,
        return_dict:
            Accepted because PEFT's seq2seq wrapper always passes them; LiveChat has no single `input_ids` and
            raises if any of them is set.
        """
        for name, value in (("input_ids", input_ids), ("inputs_embeds", inputs_embeds), ("decoder_inputs_embeds", decoder_inputs_embeds)):
            if value is not None:
                raise ValueError(
                    f"LiveChat takes video_features / transcript_input_ids / chat_input_ids, not {name}; "
                    "use LiveChatProcessor to build the inputs."
                )
        if labels is not None:
            if decoder_input_ids is None:
                decoder_input_ids = shift_tokens_right(labels, self.config.pad_token_id, self.config.decoder_start_token_id)
            use_cache = False
        use_cache = use_cache if use_cache is not None else self.config.use_cache
        if self.training:
            use_cache = False

        outputs = self.model(
            video_features=video_features,
            video_mask=video_mask,
            transcript_input_ids=transcript_input_ids,
            transcript_attention_mask=transcript_attention_mask,
            chat_input_ids=chat_input_ids,
            chat_attention_mask=chat_attention_mask,
            decoder_input_ids=decoder_input_ids,
            decoder_attention_mask=decoder_attention_mask,
            encoder_outputs=encoder_outputs,
            past_key_values=past_key_values,
            use_cache=use_cache,
        )
        logits = self.lm_head(outputs.last_hidden_state)

        loss = None
        if labels is not None:
            loss = comment_loss(logits, labels, num_items_in_batch)
        return LiveChatCommentGenerationOutput(
            loss=loss,
            logits=logits,
            past_key_values=outputs.past_key_values,
            encoder_outputs=outputs.encoder_outputs,
        )

    def prepare_inputs_for_generation(
        self,
        decoder_input_ids: torch.LongTensor,
        past_key_values: EncoderDecoderCache | None = None,
        encoder_outputs: LiveChatEncoderOutput | None = None,
        decoder_attention_mask: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        **kwargs,
    ) -> dict:
        if past_key_values is not None and past_key_values.get_seq_length() > 0:
            decoder_input_ids = decoder_input_ids[:, past_key_values.get_seq_length() :]
        return {
            "decoder_input_ids": decoder_input_ids,
            "decoder_attention_mask": decoder_attention_mask,
            "encoder_outputs": encoder_outputs,
            "past_key_values": past_key_values,
            "use_cache": use_cache,
        }

    @torch.no_grad()
    def generate(self, video_features: torch.FloatTensor | None = None, **kwargs):
        """`GenerationMixin.generate` keyed on `video_features`. Without video (None), an empty frame sequence is
        passed so that generation still knows the batch size from the other modalities."""
        if video_features is None and kwargs.get("encoder_outputs") is None:
            others = [kwargs.get(k) for k in ("transcript_input_ids", "chat_input_ids") if kwargs.get(k) is not None]
            if not others:
                raise ValueError("generate() needs at least one of video_features, transcript_input_ids, chat_input_ids")
            video_features = others[0].new_zeros(
                (others[0].shape[0], 0, self.config.video_feature_dim), dtype=self.lm_head.weight.dtype
            )
        return super().generate(video_features=video_features, **kwargs)

    @torch.no_grad()
    def score_candidates(
        self,
        candidate_ids: torch.LongTensor,
        candidate_attention_mask: torch.LongTensor | None = None,
        length_normalize: bool = True,
        **model_inputs,
    ) -> torch.FloatTensor:
        """Log-likelihood of candidate comments, the encoders run once per query.

        Args:
            candidate_ids: `(batch_size, num_candidates, length)` candidate token ids ending with `[SEP]` (pad after).
            candidate_attention_mask: 1 for real tokens; defaults to `candidate_ids != pad`.
            length_normalize: mean instead of sum of token log-probabilities.
            model_inputs: the encoder inputs (video_features, transcript_input_ids, chat_input_ids, masks).

        Returns:
            `(batch_size, num_candidates)` scores; higher is more likely.
        """
        batch_size, num_candidates, length = candidate_ids.shape
        if candidate_attention_mask is None:
            candidate_attention_mask = candidate_ids.ne(self.config.pad_token_id).long()
        labels = candidate_ids.reshape(-1, length).masked_fill(candidate_attention_mask.reshape(-1, length) == 0, -100)
        decoder_input_ids = shift_tokens_right(labels, self.config.pad_token_id, self.config.decoder_start_token_id)
        # The encoders run once per clip; the decoder folds each clip's candidates onto its memories (see
        # `LiveChatDecoderLayer`), so nothing is expanded per candidate.
        encoder_outputs = self.get_encoder()(**model_inputs)
        hidden_states = self.model.decoder(
            input_ids=decoder_input_ids, encoder_outputs=encoder_outputs, use_cache=False
        ).last_hidden_state
        # The vocabulary projection is the costliest step: run it on target tokens only, not on padding.
        is_target = labels.ne(-100)
        token_logprobs = -F.cross_entropy(
            self.lm_head(hidden_states[is_target]).float(), labels[is_target], reduction="none"
        )
        candidate_index = is_target.nonzero()[:, 0]
        scores = token_logprobs.new_zeros(batch_size * num_candidates).index_add_(0, candidate_index, token_logprobs)
        if length_normalize:
            scores = scores / is_target.sum(-1).clamp(min=1)
        return scores.view(batch_size, num_candidates)


def comment_loss(logits: torch.Tensor, labels: torch.Tensor, num_items_in_batch=None) -> torch.Tensor:
    """Token cross-entropy; mean over target tokens, or sum / `num_items_in_batch` under gradient accumulation."""
    reduction = "sum" if num_items_in_batch is not None else "mean"
    loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100, reduction=reduction)
    if num_items_in_batch is not None:
        if torch.is_tensor(num_items_in_batch):
            num_items_in_batch = num_items_in_batch.to(loss.device)
        loss = loss / num_items_in_batch
    return loss


class LiveChatPretrainingHead(nn.Module):
    """BERT-style masked-LM head (transform, then the tied token embeddings)."""

    def __init__(self, config: LiveChatConfig):
        super().__init__()
        self.dense = nn.Linear(config.d_model, config.d_model)
        self.activation = ACT2FN[config.activation_function]
        self.layer_norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.decoder = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.layer_norm(self.activation(self.dense(hidden_states)))) + self.bias


class LiveChatForPretraining(LiveChatPreTrainedModel):
    """Masked-LM pretraining of the transcript and chat encoders (the first stage of the LiveChat recipe). Its
    checkpoint loads into [`LiveChatForCommentGeneration`] (shared `model.*` weights; the decoder starts fresh)."""

    _tied_weights_keys = {"mlm_head.decoder.weight": "model.shared.weight"}
    _keys_to_ignore_on_load_unexpected = [r"lm_head\..*"]

    def __init__(self, config: LiveChatConfig):
        super().__init__(config)
        self.model = LiveChatModel(config)
        self.mlm_head = LiveChatPretrainingHead(config)
        self.post_init()

    def forward(
        self,
        video_features: torch.FloatTensor | None = None,
        video_mask: torch.LongTensor | None = None,
        transcript_input_ids: torch.LongTensor | None = None,
        transcript_attention_mask: torch.LongTensor | None = None,
        chat_input_ids: torch.LongTensor | None = None,
        chat_attention_mask: torch.LongTensor | None = None,
        transcript_labels: torch.LongTensor | None = None,
        chat_labels: torch.LongTensor | None = None,
    ) -> LiveChatPretrainingOutput:
        r"""
        transcript_labels / chat_labels (`torch.LongTensor`, same shapes as the input ids, *optional*):
            Original ids at masked positions, `-100` elsewhere (see `DataCollatorForLiveChatPretraining`).
        """
        encoder = self.model.encoder
        encoder._batch_size(video_features, transcript_input_ids, chat_input_ids)
        transcript_logits = chat_logits = None
        losses, counts = [], []
        if transcript_input_ids is not None:
            states = encoder.encode_transcript(transcript_input_ids, transcript_attention_mask)[0][:, 1:]
            transcript_logits = self.mlm_head(states)
        if chat_input_ids is not None:
            chat_logits = self.mlm_head(encoder.encode_chat(chat_input_ids, chat_attention_mask)[2])
        for logits, labels in ((transcript_logits, transcript_labels), (chat_logits, chat_labels)):
            if logits is not None and labels is not None:
                losses.append(F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100, reduction="sum"))
                counts.append(labels.ne(-100).sum())
        loss = torch.stack(losses).sum() / torch.stack(counts).sum().clamp(min=1) if losses else None
        return LiveChatPretrainingOutput(loss=loss, transcript_logits=transcript_logits, chat_logits=chat_logits)


__all__ = [
    "LiveChatPreTrainedModel",
    "LiveChatEncoder",
    "LiveChatDecoder",
    "LiveChatModel",
    "LiveChatForCommentGeneration",
    "LiveChatForPretraining",
    "LiveChatEncoderOutput",
    "LiveChatModelOutput",
    "LiveChatCommentGenerationOutput",
    "LiveChatPretrainingOutput",
]
