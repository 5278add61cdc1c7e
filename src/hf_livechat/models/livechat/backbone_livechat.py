"""The LiveChat encoder-decoder: video, transcript and chat encoders, and a decoder with one cross-attention per
modality; the model outputs. The heads live in `modeling_livechat.py`.

Relative imports only: `save_pretrained` copies this file next to the weights for remote-code loading.
"""

from typing import Unpack

import torch
from torch import nn
from torch.nn import functional as F
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.cache_utils import DynamicCache, EncoderDecoderCache
from transformers.masking_utils import create_bidirectional_mask, create_causal_mask
from transformers.modeling_outputs import BaseModelOutputWithPastAndCrossAttentions
from transformers.utils import TransformersKwargs
from transformers.utils.generic import can_return_tuple
from transformers.utils.output_capturing import OutputRecorder, capture_outputs

from .configuration_livechat import MODALITIES, LiveChatConfig
from .layers_livechat import (
    LiveChatAttention,
    LiveChatDecoderLayer,
    LiveChatEncoderLayer,
    LiveChatPretrainedTextEncoder,
    LiveChatPretrainingHead,
    LiveChatSequenceEncoder,
)
from .outputs_livechat import (
    LiveChatCommentGenerationOutput,
    LiveChatEncoderOutput,
    LiveChatModelOutput,
    LiveChatPretrainingOutput,
)


def shift_tokens_right(labels: torch.Tensor, pad_token_id: int, decoder_start_token_id: int) -> torch.Tensor:
    """Builds decoder inputs from labels: prepend the start token, drop the last position, `-100` -> pad."""
    shifted = labels.new_full(labels.shape, pad_token_id)
    shifted[:, 1:] = labels[:, :-1]
    shifted[:, 0] = decoder_start_token_id
    return shifted.masked_fill(shifted == -100, pad_token_id)


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
        if isinstance(module, LiveChatEncoder) and hasattr(module, "video_feature_mean"):
            init.zeros_(module.video_feature_mean)
            init.ones_(module.video_feature_std)


class LiveChatEncoder(LiveChatPreTrainedModel):
    """Encodes the modalities. Any modality may be absent, for one example (all-zero mask) or the whole batch
    (`None`): its memory is then only the null slot. An absent modality still runs through its encoder (with no
    frames / tokens), so that every parameter takes part in every step (DDP without unused parameters)."""

    _can_record_outputs = {
        "hidden_states": OutputRecorder(LiveChatEncoderLayer, capture_initial_hidden_state=False),
        "attentions": OutputRecorder(LiveChatAttention, index=1),
    }

    def __init__(self, config: LiveChatConfig, modalities: tuple[str, ...] = MODALITIES):
        super().__init__(config)
        self.modalities = tuple(modalities)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.d_model, config.pad_token_id)
        if "video" in self.modalities:
            # Frame features are standardised per dimension with statistics of the training frames
            # (`set_video_feature_statistics`; identity until set). Pooled CNN features are non-negative and
            # dominated by the mean frame, which otherwise swamps what tells one frame from another.
            self.register_buffer("video_feature_mean", torch.zeros(config.video_feature_dim))
            self.register_buffer("video_feature_std", torch.ones(config.video_feature_dim))
            self.video_projection = nn.Linear(config.video_feature_dim, config.d_model)
            self.video_encoder = LiveChatSequenceEncoder(config, config.max_video_frames + 1)
        if config.text_encoder is not None:
            self.transcript_encoder = LiveChatPretrainedTextEncoder(config)
            self.chat_encoder = LiveChatPretrainedTextEncoder(config)
            text_width = self.chat_encoder.hidden_size
        else:
            self.transcript_encoder = LiveChatSequenceEncoder(config, config.max_position_embeddings + 1)
            # Chat positions count within one comment (null slot, up to max_comment_length tokens, [SEP]); which
            # comment a token or pooled vector belongs to is told by `comment_positions`.
            self.chat_encoder = LiveChatSequenceEncoder(config, config.max_comment_length + 2)
            text_width = config.d_model
        # Recency of a context comment, numbered from the newest (1) back to `max_context_comments`, the training
        # horizon; older comments (evaluation keeps more) share the last row, so every row used at evaluation is
        # one that training reaches. Row 0 is the chat memory's null slot. Added to pooled comments ("comment"
        # mode, d_model) or to token embeddings ("token" mode, the text encoder's width).
        # Masked-LM pretraining (no video: no memories) reads token states only; "comment" mode adds recency after
        # pooling, so there it has no recency table.
        if config.chat_encoder_type == "token":
            self.comment_positions = nn.Embedding(config.max_context_comments + 1, text_width)
        elif "video" in self.modalities:
            self.comment_positions = nn.Embedding(config.max_context_comments + 1, config.d_model)
        else:
            self.comment_positions = None
        self.post_init()

    def get_input_embeddings(self):
        return self.embed_tokens

    def set_input_embeddings(self, value):
        self.embed_tokens = value

    def load_pretrained_text_encoders(self, name_or_path: str | None = None):
        """Loads the pretrained weights of `config.text_encoder_name_or_path` (or `name_or_path`) into the transcript
        and chat encoders (each its own copy). Call it on a fresh model, not on one loaded from a checkpoint."""
        from transformers import AutoModel

        if self.config.text_encoder is None:
            raise ValueError("This model has LiveChat's own text encoders; build its config with LiveChatConfig.with_text_encoder")
        name_or_path = name_or_path or self.config.text_encoder_name_or_path
        pretrained = AutoModel.from_pretrained(name_or_path).state_dict()
        for encoder in (self.transcript_encoder, self.chat_encoder):
            missing, unexpected = encoder.model.load_state_dict(pretrained, strict=False)
            if missing:
                raise ValueError(f"{name_or_path} lacks weights of the configured text encoder: {missing[:5]}")
        return self

    @torch.no_grad()
    def set_video_feature_statistics(self, mean: torch.Tensor, std: torch.Tensor, min_std: float = 1e-2):
        """Per-dimension mean and standard deviation of the training frames' features, used to standardise every
        frame (saved with the weights). Dimensions that barely vary are divided by `min_std` at most."""
        mean, std = torch.as_tensor(mean, dtype=torch.float32), torch.as_tensor(std, dtype=torch.float32)
        if mean.shape != self.video_feature_mean.shape or std.shape != self.video_feature_std.shape:
            raise ValueError(
                f"video feature statistics must have shape ({self.config.video_feature_dim},), got "
                f"{tuple(mean.shape)} and {tuple(std.shape)}"
            )
        self.video_feature_mean.copy_(mean)
        self.video_feature_std.copy_(std.clamp_min(min_std))
        return self

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

    def _embed(self, encoder, input_ids: torch.Tensor) -> torch.Tensor:
        if isinstance(encoder, LiveChatPretrainedTextEncoder):
            return encoder.embed_tokens(input_ids)
        return self.embed_tokens(input_ids)

    def encode_video(self, video_features: torch.Tensor, video_mask: torch.Tensor | None, **kwargs) -> tuple[torch.Tensor, torch.Tensor]:
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
        standardized = (video_features.float() - self.video_feature_mean.float()) / self.video_feature_std.float()
        embeds = self.video_projection(standardized.to(self.video_projection.weight.dtype))
        return self.video_encoder(embeds, video_mask, **kwargs)

    def encode_transcript(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None, **kwargs) -> tuple[torch.Tensor, torch.Tensor]:
        """All transcript states (summary slot first) and their mask."""
        attention_mask = self._token_mask("transcript", input_ids, attention_mask, expected_dim=2)
        return self.transcript_encoder(self._embed(self.transcript_encoder, input_ids), attention_mask, **kwargs)

    def comment_recency(self, comment_mask: torch.Tensor) -> torch.Tensor:
        """Recency index of each comment from a `(batch, comments)` mask of real comments (oldest first, padding
        anywhere): 1 for the newest, clamped to `max_context_comments`, 0 for padding."""
        newer_or_same = comment_mask.flip(-1).cumsum(-1).flip(-1)
        return (newer_or_same * comment_mask).clamp(max=self.config.max_context_comments)

    def encode_chat(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None, **kwargs
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns the chat memory, its mask, and the token-level states (masked-LM pretraining, copy mechanism)."""
        if self.config.chat_encoder_type == "token":
            attention_mask = self._token_mask("chat", input_ids, attention_mask, expected_dim=2)
            within, comment_index = self._split_comments(input_ids, attention_mask)
            if input_ids.shape[1] and int((within * attention_mask).max()) > self.config.max_comment_length:
                raise ValueError(
                    f"A chat comment has more than max_comment_length={self.config.max_comment_length} tokens before "
                    "its [SEP]: in 'token' mode each comment ends with [SEP] (LiveChatProcessor does this)"
                )
            # Each token's comment, counted from the newest comment (the last one, even without a closing [SEP]).
            last = (comment_index * attention_mask).amax(-1, keepdim=True) if input_ids.shape[1] else comment_index
            recency = ((last - comment_index + 1) * attention_mask).clamp(max=self.config.max_context_comments)
            embeds = self._embed(self.chat_encoder, input_ids)
            embeds = embeds + self.comment_positions(recency).to(embeds.dtype)
            hidden_states, mask = self.chat_encoder(embeds, attention_mask, position_ids=(within + 1) * attention_mask, **kwargs)
            return hidden_states, mask, hidden_states[:, 1:]

        attention_mask = self._token_mask("chat", input_ids, attention_mask, expected_dim=3)
        batch_size, num_comments, length = input_ids.shape
        flat_ids, flat_mask = input_ids.reshape(-1, length), attention_mask.reshape(-1, length)
        token_states, token_mask = self.chat_encoder(self._embed(self.chat_encoder, flat_ids), flat_mask, **kwargs)
        token_states_by_comment = token_states[:, 1:].reshape(batch_size, num_comments, length, -1)
        if self.comment_positions is None:
            return None, None, token_states_by_comment
        if self.config.comment_pooling == "cls":
            pooled = token_states[:, 0]
        else:
            # Mean over each comment's summary slot and tokens: an empty (padding) comment still gives a finite vector.
            weights = token_mask.unsqueeze(-1).to(token_states.dtype)
            pooled = (token_states * weights).sum(1) / weights.sum(1)
        pooled = pooled.view(batch_size, num_comments, -1)
        comment_mask = attention_mask.any(-1).long()
        recency = torch.cat([comment_mask.new_zeros(batch_size, 1), self.comment_recency(comment_mask)], dim=1)
        # The null slot is `comment_positions` row 0 alone.
        memory = torch.cat([pooled.new_zeros(batch_size, 1, pooled.shape[-1]), pooled], dim=1)
        memory = memory + self.comment_positions(recency).to(pooled.dtype)
        mask = torch.cat([comment_mask.new_ones(batch_size, 1), comment_mask], dim=1)
        return memory, mask, token_states_by_comment

    def _split_comments(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """For a `[SEP]`-joined chat sequence: each token's index inside its comment and its comment's index (from
        the oldest). A comment ends with its `[SEP]`."""
        is_sep = input_ids.eq(self.config.sep_token_id) & attention_mask.bool()
        comment_index = is_sep.long().cumsum(-1) - is_sep.long()
        steps = torch.arange(input_ids.shape[1], device=input_ids.device).expand_as(input_ids)
        starts = torch.zeros_like(is_sep)
        starts[:, 1:] = is_sep[:, :-1]
        start_of_comment = torch.where(starts, steps, torch.zeros_like(steps)).cummax(-1).values if input_ids.shape[1] else steps
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

    def _empty_inputs(self, batch_size, video_features, transcript_input_ids, chat_input_ids):
        """Zero-length inputs for the modalities that are absent from the whole batch."""
        device = self.embed_tokens.weight.device
        if video_features is None and "video" in self.modalities:
            video_features = self.video_projection.weight.new_zeros(batch_size, 0, self.config.video_feature_dim)
        if transcript_input_ids is None:
            transcript_input_ids = torch.zeros(batch_size, 0, dtype=torch.long, device=device)
        if chat_input_ids is None:
            # "comment" mode: one empty comment per clip (no clip at all would be an empty batch for the encoder).
            shape = (batch_size, 1, self.config.max_comment_length) if self.config.chat_encoder_type == "comment" else (batch_size, 0)
            chat_input_ids = torch.full(shape, self.config.pad_token_id, dtype=torch.long, device=device)
        return video_features, transcript_input_ids, chat_input_ids

    @capture_outputs
    def forward(
        self,
        video_features: torch.FloatTensor | None = None,
        video_mask: torch.LongTensor | None = None,
        transcript_input_ids: torch.LongTensor | None = None,
        transcript_attention_mask: torch.LongTensor | None = None,
        chat_input_ids: torch.LongTensor | None = None,
        chat_attention_mask: torch.LongTensor | None = None,
        **kwargs: Unpack[TransformersKwargs],
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
            `(batch_size, tokens)` with `[SEP]` closing each comment for `"token"`.
        """
        if "video" not in self.modalities:
            raise ValueError("This encoder was built without video (masked-LM pretraining); use LiveChatForCommentGeneration")
        batch_size = self._batch_size(video_features, transcript_input_ids, chat_input_ids)
        if video_features is None:
            video_mask = None
        if transcript_input_ids is None:
            transcript_attention_mask = None
        if chat_input_ids is None:
            chat_attention_mask = None
        video_features, transcript_input_ids, chat_input_ids = self._empty_inputs(
            batch_size, video_features, transcript_input_ids, chat_input_ids
        )
        video = self.encode_video(video_features, video_mask, **kwargs)
        transcript_states, transcript_mask = self.encode_transcript(transcript_input_ids, transcript_attention_mask, **kwargs)
        chat_states, chat_mask, chat_tokens = self.encode_chat(chat_input_ids, chat_attention_mask, **kwargs)
        output = LiveChatEncoderOutput(
            video_last_hidden_state=video[0],
            video_attention_mask=video[1],
            transcript_last_hidden_state=transcript_states[:, :1] if self.config.transcript_memory == "cls" else transcript_states,
            transcript_attention_mask=transcript_mask[:, :1] if self.config.transcript_memory == "cls" else transcript_mask,
            chat_last_hidden_state=chat_states,
            chat_attention_mask=chat_mask,
        )
        if self.config.copy_mechanism:
            chat_ids = chat_input_ids.reshape(batch_size, -1)
            chat_token_mask = (chat_attention_mask if chat_attention_mask is not None else chat_ids.ne(self.config.pad_token_id)).reshape(batch_size, -1)
            output.copy_source_states = torch.cat([transcript_states[:, 1:], chat_tokens.reshape(batch_size, chat_ids.shape[1], chat_tokens.shape[-1])], dim=1)
            output.copy_source_ids = torch.cat([transcript_input_ids, chat_ids], dim=1)
            output.copy_source_mask = torch.cat([transcript_mask[:, 1:], chat_token_mask.long()], dim=1)
        return output


class LiveChatDecoder(LiveChatPreTrainedModel):
    """Autoregressive comment decoder over the three encoded memories."""

    main_input_name = "input_ids"
    _can_record_outputs = {
        "hidden_states": LiveChatDecoderLayer,
        "attentions": OutputRecorder(LiveChatAttention, index=1, layer_name="self_attn"),
        "cross_attentions": OutputRecorder(LiveChatAttention, index=1, layer_name="cross_attn"),
    }

    def __init__(self, config: LiveChatConfig):
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.d_model, config.pad_token_id)
        self.embed_positions = nn.Embedding(config.max_position_embeddings, config.d_model)
        self.layers = nn.ModuleList([LiveChatDecoderLayer(config, i) for i in range(config.decoder_layers)])
        # Pre-norm stacks end with a layer norm; post-norm stacks normalise the embeddings instead.
        self.layer_norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.pre_norm = config.layer_norm_position == "pre"
        self.dropout = config.dropout
        self.post_init()

    def get_input_embeddings(self):
        return self.embed_tokens

    def set_input_embeddings(self, value):
        self.embed_tokens = value

    @capture_outputs
    def forward(
        self,
        input_ids: torch.LongTensor,
        encoder_outputs: LiveChatEncoderOutput,
        attention_mask: torch.LongTensor | None = None,
        past_key_values: EncoderDecoderCache | None = None,
        use_cache: bool | None = None,
        candidates_per_memory: int = 1,
        **kwargs: Unpack[TransformersKwargs],
    ) -> BaseModelOutputWithPastAndCrossAttentions:
        r"""
        candidates_per_memory (`int`, defaults to 1):
            Decoder rows per encoder row: `score_candidates` runs the K candidates of each clip against that clip's
            memories (rows `i * K ... i * K + K - 1` read memory row `i`). Any other batch mismatch is an error.
        """
        inputs_embeds = self.embed_tokens(input_ids)
        for modality, (memory, _) in encoder_outputs.memories().items():
            if memory.shape[0] * candidates_per_memory != inputs_embeds.shape[0]:
                raise ValueError(
                    f"The decoder batch ({inputs_embeds.shape[0]}) does not match the {modality} memory batch "
                    f"({memory.shape[0]}) times candidates_per_memory ({candidates_per_memory})"
                )
        if use_cache and past_key_values is None:
            past_key_values = EncoderDecoderCache(DynamicCache(config=self.config), DynamicCache(config=self.config))
        past_length = past_key_values.get_seq_length() if past_key_values is not None else 0
        if past_length + input_ids.shape[1] > self.config.max_position_embeddings:
            raise ValueError(f"Decoder length exceeds max_position_embeddings={self.config.max_position_embeddings}")
        hidden_states = inputs_embeds + self.embed_positions.weight[past_length : past_length + input_ids.shape[1]]
        if not self.pre_norm:
            hidden_states = self.layer_norm(hidden_states)
        hidden_states = F.dropout(hidden_states, p=self.dropout, training=self.training)

        self_attn_mask = create_causal_mask(
            config=self.config,
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            past_key_values=past_key_values.self_attention_cache if past_key_values is not None else None,
        )
        memories = {}
        for modality, (memory, mask) in encoder_outputs.memories().items():
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
                candidates_per_memory=candidates_per_memory,
                **kwargs,
            )
        return BaseModelOutputWithPastAndCrossAttentions(
            last_hidden_state=self.layer_norm(hidden_states) if self.pre_norm else hidden_states,
            past_key_values=past_key_values if use_cache else None,
        )


class LiveChatModel(LiveChatPreTrainedModel):
    """The bare LiveChat encoder-decoder: returns the decoder's hidden states."""

    _tied_weights_keys = {
        "encoder.embed_tokens.weight": "shared.weight",
        "decoder.embed_tokens.weight": "shared.weight",
    }

    def __init__(self, config: LiveChatConfig, text_only: bool = False):
        r"""
        text_only (`bool`, defaults to `False`):
            Only the shared embeddings and the transcript and chat encoders, for masked-LM pretraining (which would
            leave the video encoder and the decoder without gradients).
        """
        super().__init__(config)
        self.shared = nn.Embedding(config.vocab_size, config.d_model, config.pad_token_id)
        self.encoder = LiveChatEncoder(config, modalities=("transcript", "chat") if text_only else MODALITIES)
        self.decoder = None if text_only else LiveChatDecoder(config)
        if text_only:
            self._tied_weights_keys = {"encoder.embed_tokens.weight": "shared.weight"}
        self.post_init()

    def get_input_embeddings(self):
        return self.shared

    def set_input_embeddings(self, value):
        self.shared = value
        self.encoder.embed_tokens = value
        if self.decoder is not None:
            self.decoder.embed_tokens = value

    def get_encoder(self, modality=None):
        return self.encoder

    @can_return_tuple
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
        **kwargs: Unpack[TransformersKwargs],
    ) -> LiveChatModelOutput:
        if encoder_outputs is None:
            encoder_outputs = self.encoder(
                video_features=video_features,
                video_mask=video_mask,
                transcript_input_ids=transcript_input_ids,
                transcript_attention_mask=transcript_attention_mask,
                chat_input_ids=chat_input_ids,
                chat_attention_mask=chat_attention_mask,
                **kwargs,
            )
        if decoder_input_ids is None:
            raise ValueError("decoder_input_ids (or labels, from which they are built) are required")
        decoder_outputs = self.decoder(
            input_ids=decoder_input_ids,
            encoder_outputs=encoder_outputs,
            attention_mask=decoder_attention_mask,
            past_key_values=past_key_values,
            use_cache=use_cache,
            **kwargs,
        )
        return LiveChatModelOutput(
            last_hidden_state=decoder_outputs.last_hidden_state,
            past_key_values=decoder_outputs.past_key_values,
            decoder_hidden_states=decoder_outputs.hidden_states,
            decoder_attentions=decoder_outputs.attentions,
            cross_attentions=decoder_outputs.cross_attentions,
            encoder_outputs=encoder_outputs,
        )


__all__ = [
    "LiveChatPreTrainedModel",
    "LiveChatEncoder",
    "LiveChatDecoder",
    "LiveChatModel",
    "LiveChatEncoderOutput",
    "LiveChatModelOutput",
    "LiveChatCommentGenerationOutput",
    "LiveChatPretrainingOutput",
    "shift_tokens_right",
]
