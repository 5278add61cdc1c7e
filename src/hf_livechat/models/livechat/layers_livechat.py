"""Building blocks of the LiveChat model: attention, encoder and decoder layers, the per-modality sequence encoders.

Relative imports only: `save_pretrained` copies this file next to `modeling_livechat.py` for remote-code loading.
"""

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F
from transformers import AutoModel
from transformers.activations import ACT2FN
from transformers.cache_utils import Cache, EncoderDecoderCache
from transformers.masking_utils import create_bidirectional_mask
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

from .configuration_livechat import MODALITIES, LiveChatConfig


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
    cross-attention receives keys/values already projected by `project_key_value` (computed once per memory).
    Returns the output and the attention weights (None under SDPA).

    `hidden_size` (queries and output, default `d_model`) and `key_value_size` (memories, default `hidden_size`)
    differ in the gated cross-attention of an LM decoder, whose queries have the LM's width."""

    def __init__(
        self,
        config: LiveChatConfig,
        num_heads: int,
        is_causal: bool = False,
        layer_idx: int | None = None,
        hidden_size: int | None = None,
        key_value_size: int | None = None,
    ):
        super().__init__()
        hidden_size = hidden_size or config.d_model
        key_value_size = key_value_size or hidden_size
        self.config = config
        self.num_heads = num_heads
        self.head_dim = hidden_size // num_heads
        self.scaling = self.head_dim**-0.5
        self.dropout = config.attention_dropout
        self.is_causal = is_causal
        self.layer_idx = layer_idx
        self.q_proj = nn.Linear(hidden_size, hidden_size)
        self.k_proj = nn.Linear(key_value_size, hidden_size)
        self.v_proj = nn.Linear(key_value_size, hidden_size)
        self.out_proj = nn.Linear(hidden_size, hidden_size)

    def project_key_value(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (*states.shape[:-1], self.num_heads, self.head_dim)
        return self.k_proj(states).view(shape).transpose(1, 2), self.v_proj(states).view(shape).transpose(1, 2)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        key_value: tuple[torch.Tensor, torch.Tensor] | None = None,
        past_key_values: Cache | None = None,
        **kwargs,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        input_shape = hidden_states.shape[:-1]
        query = self.q_proj(hidden_states).view(*input_shape, self.num_heads, self.head_dim).transpose(1, 2)
        if key_value is None:
            key, value = self.project_key_value(hidden_states)
            if past_key_values is not None:
                key, value = past_key_values.update(key, value, self.layer_idx)
        else:
            key, value = key_value

        attention_interface: Callable = ALL_ATTENTION_FUNCTIONS.get_interface(
            self.config._attn_implementation, eager_attention_forward
        )
        attn_output, attn_weights = attention_interface(
            self,
            query,
            key,
            value,
            attention_mask,
            dropout=self.dropout if self.training else 0.0,
            scaling=self.scaling,
            **kwargs,
        )
        return self.out_proj(attn_output.reshape(*input_shape, -1).contiguous()), attn_weights


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


class LiveChatResidual(nn.Module):
    """`x + dropout(block(norm(x)))` (pre-norm, the default: stabler to train from scratch) or
    `norm(x + dropout(block(x)))` (post-norm, as the reference code's BERT-style layers)."""

    def __init__(self, config: LiveChatConfig):
        super().__init__()
        self.norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.pre_norm = config.layer_norm_position == "pre"
        self.dropout = config.dropout

    def forward(self, hidden_states: torch.Tensor, block: Callable, **kwargs) -> tuple[torch.Tensor, object]:
        output = block(self.norm(hidden_states) if self.pre_norm else hidden_states, **kwargs)
        extra = None
        if isinstance(output, tuple):
            output, extra = output
        hidden_states = hidden_states + F.dropout(output, p=self.dropout, training=self.training)
        return (hidden_states if self.pre_norm else self.norm(hidden_states)), extra


class LiveChatEncoderLayer(GradientCheckpointingLayer):
    """Transformer encoder layer (bidirectional self-attention, feed-forward)."""

    def __init__(self, config: LiveChatConfig):
        super().__init__()
        self.self_attn = LiveChatAttention(config, config.encoder_attention_heads, is_causal=False)
        self.self_attn_residual = LiveChatResidual(config)
        self.mlp = LiveChatMLP(config, config.encoder_ffn_dim)
        self.mlp_residual = LiveChatResidual(config)

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None, **kwargs) -> torch.Tensor:
        hidden_states, _ = self.self_attn_residual(hidden_states, self.self_attn, attention_mask=attention_mask, **kwargs)
        return self.mlp_residual(hidden_states, self.mlp)[0]


class LiveChatSequenceEncoder(nn.Module):
    """A stack of encoder layers over a sequence whose first position is the modality's null slot (also the
    sequence's summary, like BERT's [CLS])."""

    def __init__(self, config: LiveChatConfig, num_positions: int):
        super().__init__()
        self.config = config
        self.null_embedding = nn.Parameter(torch.zeros(config.d_model))
        self.embed_positions = nn.Embedding(num_positions, config.d_model)
        self.layers = nn.ModuleList([LiveChatEncoderLayer(config) for _ in range(config.encoder_layers)])
        # Pre-norm stacks end with a layer norm; post-norm stacks (BERT) normalise the embeddings instead.
        self.layer_norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.pre_norm = config.layer_norm_position == "pre"
        self.dropout = config.dropout

    @property
    def null_vector(self) -> torch.Tensor:
        return self.null_embedding

    def forward(
        self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor | None = None, **kwargs
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`position_ids` (batch, length), from 1 (0 is the null slot), default 1..length."""
        batch_size, length, _ = inputs_embeds.shape
        if position_ids is None:
            position_ids = torch.arange(1, length + 1, device=inputs_embeds.device).expand(batch_size, -1)
        if position_ids.numel() and int(position_ids.max()) >= self.embed_positions.num_embeddings:
            raise ValueError(
                f"Position {int(position_ids.max())} is beyond this encoder's position table "
                f"({self.embed_positions.num_embeddings - 1} positions); truncate the input or enlarge the config."
            )
        null = self.null_embedding.to(inputs_embeds.dtype).expand(batch_size, 1, -1)
        hidden_states = torch.cat([null, inputs_embeds], dim=1)
        position_ids = torch.cat([position_ids.new_zeros(batch_size, 1), position_ids], dim=1)
        hidden_states = hidden_states + self.embed_positions(position_ids).to(hidden_states.dtype)
        if not self.pre_norm:
            hidden_states = self.layer_norm(hidden_states)
        hidden_states = F.dropout(hidden_states, p=self.dropout, training=self.training)
        attention_mask = torch.cat([attention_mask.new_ones(batch_size, 1), attention_mask], dim=1)
        mask_4d = create_bidirectional_mask(config=self.config, inputs_embeds=hidden_states, attention_mask=attention_mask)
        for layer in self.layers:
            hidden_states = layer(hidden_states, mask_4d, **kwargs)
        return (self.layer_norm(hidden_states) if self.pre_norm else hidden_states), attention_mask


class LiveChatPretrainedTextEncoder(nn.Module):
    """A BERT-family encoder (any `AutoModel` with word embeddings and `position_ids`) in the place of a
    `LiveChatSequenceEncoder`: its `[CLS]` position is the null slot, its output is projected to `d_model`.
    Its structure comes from `config.text_encoder`; `LiveChatEncoder.load_pretrained_text_encoders` loads weights."""

    def __init__(self, config: LiveChatConfig):
        super().__init__()
        text_config = config.text_encoder
        try:
            # The pooler is never used: leaving it out keeps every parameter in the graph (DDP).
            self.model = AutoModel.from_config(text_config, add_pooling_layer=False)
        except TypeError:
            self.model = AutoModel.from_config(text_config)
        self.cls_token_id = config.bos_token_id
        self.projection = nn.Linear(text_config.hidden_size, config.d_model)

    @property
    def hidden_size(self) -> int:
        return self.model.config.hidden_size

    def embed_tokens(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.model.get_input_embeddings()(input_ids)

    @property
    def null_vector(self) -> torch.Tensor:
        return self.embed_tokens(torch.tensor(self.cls_token_id, device=self.projection.weight.device))

    def forward(
        self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor | None = None, **kwargs
    ) -> tuple[torch.Tensor, torch.Tensor]:
        batch_size, length, _ = inputs_embeds.shape
        if position_ids is None:
            position_ids = torch.arange(1, length + 1, device=inputs_embeds.device).expand(batch_size, -1)
        cls = self.null_vector.to(inputs_embeds.dtype).expand(batch_size, 1, -1)
        attention_mask = torch.cat([attention_mask.new_ones(batch_size, 1), attention_mask], dim=1)
        position_ids = torch.cat([position_ids.new_zeros(batch_size, 1), position_ids], dim=1)
        states = self.model(
            inputs_embeds=torch.cat([cls, inputs_embeds], dim=1), attention_mask=attention_mask, position_ids=position_ids
        ).last_hidden_state
        return self.projection(states), attention_mask


class LiveChatDecoderLayer(GradientCheckpointingLayer):
    """Masked self-attention, then one cross-attention block per modality (in `config.cross_attention_order`), then
    the feed-forward block, each with a residual connection (pre- or post-norm, `config.layer_norm_position`)."""

    def __init__(self, config: LiveChatConfig, layer_idx: int):
        super().__init__()
        heads = config.decoder_attention_heads
        self.layer_idx = layer_idx
        self.cross_attention_order = list(config.cross_attention_order)
        self.self_attn = LiveChatAttention(config, heads, is_causal=True, layer_idx=layer_idx)
        self.self_attn_residual = LiveChatResidual(config)
        self.cross_attn = nn.ModuleDict({m: LiveChatAttention(config, heads, layer_idx=layer_idx) for m in MODALITIES})
        self.cross_attn_residual = nn.ModuleDict({m: LiveChatResidual(config) for m in MODALITIES})
        self.mlp = LiveChatMLP(config, config.decoder_ffn_dim)
        self.mlp_residual = LiveChatResidual(config)

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

    def _cross_attend(self, queries, modality, attention_mask, key_value, candidates_per_memory, **kwargs):
        batch_size, length, d_model = queries.shape
        if candidates_per_memory > 1:
            # The candidates of one clip (`score_candidates`) are folded into one longer query over the clip's
            # memory: keys/values are projected and read once, never copied per candidate. Cross-attention has no
            # causal mask, so the result is the same as one row per candidate.
            queries = queries.reshape(batch_size // candidates_per_memory, -1, d_model)
        output, weights = self.cross_attn[modality](queries, attention_mask=attention_mask, key_value=key_value, **kwargs)
        return output.reshape(batch_size, length, d_model), weights

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
        candidates_per_memory: int = 1,
        **kwargs,
    ) -> torch.Tensor:
        # Memories and masks travel as separate tensor arguments so that gradient checkpointing sees them.
        memories = {"video": video_hidden_states, "transcript": transcript_hidden_states, "chat": chat_hidden_states}
        masks = {"video": video_mask, "transcript": transcript_mask, "chat": chat_mask}
        self_cache = past_key_values.self_attention_cache if past_key_values is not None else None
        hidden_states, _ = self.self_attn_residual(
            hidden_states, self.self_attn, attention_mask=self_attn_mask, past_key_values=self_cache, **kwargs
        )
        key_values = self._cross_key_values(memories, past_key_values)
        for modality in self.cross_attention_order:
            hidden_states, _ = self.cross_attn_residual[modality](
                hidden_states,
                self._cross_attend,
                modality=modality,
                attention_mask=masks[modality],
                key_value=key_values[modality],
                candidates_per_memory=candidates_per_memory,
                **kwargs,
            )
        return self.mlp_residual(hidden_states, self.mlp)[0]


class LiveChatGatedCrossAttention(nn.Module):
    """Flamingo's gated cross-attention (Alayrac et al., 2022) before one layer of a pretrained LM decoder: the LM's
    hidden states attend over the clip's memories (video | transcript | chat, `d_model` wide, one sequence), and the
    result is added through `tanh(gate)`. The gate starts at 0, so an untrained block leaves the LM as it was."""

    def __init__(self, config: LiveChatConfig, hidden_size: int, num_heads: int, layer_idx: int):
        super().__init__()
        self.layer_idx = layer_idx
        self.norm = nn.LayerNorm(hidden_size, eps=config.layer_norm_eps)
        self.attn = LiveChatAttention(
            config, num_heads, layer_idx=layer_idx, hidden_size=hidden_size, key_value_size=config.d_model
        )
        self.gate = nn.Parameter(torch.zeros(1))

    def key_value(self, memory: torch.Tensor, past_key_values: EncoderDecoderCache | None):
        """The memory's keys/values, projected once per generation and kept in this layer's cross-attention slot."""
        if past_key_values is not None and past_key_values.is_updated.get(self.layer_idx):
            cached = past_key_values.cross_attention_cache.layers[self.layer_idx]
            return cached.keys, cached.values
        key, value = self.attn.project_key_value(memory)
        if past_key_values is not None:
            past_key_values.cross_attention_cache.update(key, value, self.layer_idx)
            past_key_values.is_updated[self.layer_idx] = True
        return key, value

    def forward(
        self,
        hidden_states: torch.Tensor,
        memory: torch.Tensor,
        memory_mask: torch.Tensor | None,
        past_key_values: EncoderDecoderCache | None = None,
        candidates_per_memory: int = 1,
    ) -> torch.Tensor:
        batch_size, length, width = hidden_states.shape
        queries = self.norm(hidden_states)
        if candidates_per_memory > 1:
            # The candidates of one clip read its memory as one longer query (see LiveChatDecoderLayer._cross_attend).
            queries = queries.reshape(batch_size // candidates_per_memory, -1, width)
        output, _ = self.attn(queries, attention_mask=memory_mask, key_value=self.key_value(memory, past_key_values))
        return hidden_states + torch.tanh(self.gate).to(hidden_states.dtype) * output.reshape(batch_size, length, width)


class LiveChatCopyHead(nn.Module):
    """Pointer / copy distribution (See et al., 2017) over the context tokens (transcript and chat): live chat
    repeats names, memes and emotes it has just seen, tokens a vocabulary softmax learns slowly. A gate mixes
    `p = (1 - g) * softmax(lm_logits) + g * copy_attention`, scattered onto the vocabulary by the tokens' ids.
    `hidden_size` is the decoder's width (an LM decoder's differs from `d_model`, the context tokens' width)."""

    def __init__(self, config: LiveChatConfig, hidden_size: int | None = None):
        super().__init__()
        hidden_size = hidden_size or config.d_model
        self.query = nn.Linear(hidden_size, config.d_model)
        self.gate = nn.Linear(hidden_size + config.d_model, 1)
        self.scaling = config.d_model**-0.5

    def attend(self, hidden_states, source_states, source_mask, candidates_per_memory: int = 1):
        """Copy attention `(batch, length, source)` and gate `(batch, length, 1)`; rows whose context has no token
        get a gate of 0 (nothing to copy)."""
        batch_size, length, _ = hidden_states.shape
        d_model = source_states.shape[-1]
        queries = self.query(hidden_states).reshape(batch_size // candidates_per_memory, -1, d_model)
        scores = torch.matmul(queries, source_states.transpose(1, 2)).float() * self.scaling
        scores = scores.masked_fill(~source_mask.bool().unsqueeze(1), torch.finfo(scores.dtype).min)
        attention = scores.softmax(-1)
        context = torch.matmul(attention.to(source_states.dtype), source_states).reshape(batch_size, length, d_model)
        attention = attention.reshape(batch_size, length, source_states.shape[1])
        has_source = source_mask.bool().any(-1).repeat_interleave(candidates_per_memory)
        gate = torch.sigmoid(self.gate(torch.cat([hidden_states, context], dim=-1)).float())
        return attention, gate * has_source[:, None, None]

    def forward(self, lm_logits, hidden_states, source_states, source_ids, source_mask) -> torch.Tensor:
        """Log-probabilities `(batch, length, vocab)` of the mixed distribution."""
        attention, gate = self.attend(hidden_states, source_states, source_mask)
        copy = torch.zeros_like(lm_logits, dtype=torch.float32).scatter_add_(
            -1, source_ids.unsqueeze(1).expand(-1, attention.shape[1], -1), attention
        )
        probs = (1 - gate) * lm_logits.float().softmax(-1) + gate * copy
        return probs.clamp_min(1e-12).log().to(lm_logits.dtype)


class LiveChatActivityHead(nn.Module):
    """How many comments the response window will hold: a learned query per modality pools its memory (the null slot
    included, so an absent modality pools to "nothing here"; with `config.activity_pooling="attention+max"`, beside the
    element-wise maximum over its slots), and a small MLP (dropout `config.activity_dropout` on its hidden layer) maps
    the pooled vectors and the log-count
    of each memory's real slots (how much chat and speech there was; for the chat, with
    `config.activity_chat_count="comments"`, every comment of the context window) to the log of the expected count
    (a Poisson rate).

    With `config.activity_chat_bins`, the counts and the log-counts of the chat's time bins (when the comments came)
    enter the log-rate through a linear map, and the MLP reads the pooled vectors alone: the count part is a power law
    of the recent rate, which holds beyond the rates seen in training, and the content adds what the counts miss.

    The memories are detached: the head learns from the encoders without pulling them towards counting."""

    def __init__(self, config: LiveChatConfig):
        super().__init__()
        self.queries = nn.Parameter(torch.zeros(len(MODALITIES), config.d_model))
        self.layer_norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.count_comments = config.activity_chat_count == "comments"
        self.time_bins = config.activity_chat_bins
        self.max_pool = config.activity_pooling == "attention+max"
        mlp_counts = 0 if self.time_bins else len(MODALITIES)
        pooled_size = len(MODALITIES) * config.d_model * (2 if self.max_pool else 1)
        self.dense = nn.Linear(pooled_size + mlp_counts, config.d_model)
        self.activation = ACT2FN[config.activation_function]
        self.dropout = nn.Dropout(config.activity_dropout)
        self.out_proj = nn.Linear(config.d_model, 1)
        self.count_proj = nn.Linear(len(MODALITIES) + self.time_bins, 1) if self.time_bins else None

    def forward(
        self,
        memories: dict[str, tuple[torch.Tensor, torch.Tensor]],
        chat_comment_count: torch.Tensor | None = None,
        chat_time_histogram: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """`{modality: (states (batch, slots, d_model), mask (batch, slots))}`, the context comments per clip
        `(batch,)` and their time bins `(batch, activity_chat_bins)` -> log expected count `(batch,)`."""
        pooled, counts = [], []
        for query, modality in zip(self.queries, MODALITIES):
            states, mask = memories[modality]
            states = self.layer_norm(states.detach())
            scores = (states @ query.to(states.dtype)) * states.shape[-1] ** -0.5
            weights = scores.masked_fill(mask == 0, torch.finfo(scores.dtype).min).softmax(-1)
            pooled.append((weights.unsqueeze(-1) * states).sum(1))
            if self.max_pool:
                pooled.append(states.masked_fill(mask.unsqueeze(-1) == 0, torch.finfo(states.dtype).min).amax(1))
            counts.append(torch.log1p((mask.sum(-1) - 1).clamp_min(0).to(states.dtype)))
        if self.count_comments and chat_comment_count is not None:
            counts[MODALITIES.index("chat")] = torch.log1p(chat_comment_count.to(counts[0].dtype))
        counts = torch.stack(counts, dim=-1)
        if self.count_proj is None:
            return self.out_proj(self.dropout(self.activation(self.dense(torch.cat([*pooled, counts], dim=-1))))).squeeze(-1)
        if chat_time_histogram is None:
            raise ValueError(
                f"this activity head reads the chat's time bins (activity_chat_bins={self.time_bins}): pass "
                "chat_time_histogram (LiveChatProcessor gives it when told chat_end_time and the comments' times)"
            )
        if chat_time_histogram.shape[-1] != self.time_bins:
            raise ValueError(
                f"chat_time_histogram has {chat_time_histogram.shape[-1]} bins, the activity head reads {self.time_bins}"
            )
        linear = self.count_proj(torch.cat([counts, torch.log1p(chat_time_histogram.to(counts.dtype))], dim=-1))
        content = self.out_proj(self.dropout(self.activation(self.dense(torch.cat(pooled, dim=-1)))))
        return (linear + content).squeeze(-1)


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
