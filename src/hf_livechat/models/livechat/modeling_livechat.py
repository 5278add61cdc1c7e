"""PyTorch LiveChat model, in one file as transformers keeps its models: the outputs, the encoder (video, transcript
and chat encoders), the decoder (one cross-attention per modality in every layer), the bare `LiveChatModel`, and the
heads: comment generation (LM head, optional copy mechanism, candidate scoring, classifier-free guidance) and
masked-LM pretraining of the text encoders. The layers live in `layers_livechat.py`, as in transformers' larger models.

This file, `layers_livechat.py` and `configuration_livechat.py` only use relative imports, so that `save_pretrained`
copies them flat next to the weights and `AutoModel.from_pretrained(folder, trust_remote_code=True)` loads them
without `hf_livechat` installed.
"""

from dataclasses import dataclass
from functools import partial
from typing import Unpack

import torch
from torch import nn
from torch.nn import functional as F
from transformers import AutoModelForCausalLM, GenerationMixin, LogitsProcessor, PreTrainedModel
from transformers import initialization as init
from transformers.cache_utils import DynamicCache, EncoderDecoderCache
from transformers.masking_utils import create_bidirectional_mask, create_causal_mask
from transformers.modeling_outputs import BaseModelOutputWithPastAndCrossAttentions, Seq2SeqLMOutput, Seq2SeqModelOutput
from transformers.utils import ModelOutput, TransformersKwargs
from transformers.utils.generic import can_return_tuple
from transformers.utils.output_capturing import OutputRecorder, capture_outputs

from .configuration_livechat import MODALITIES, LiveChatConfig
from .layers_livechat import (
    LiveChatActivityHead,
    LiveChatAttention,
    LiveChatCopyHead,
    LiveChatDecoderLayer,
    LiveChatEncoderLayer,
    LiveChatGatedCrossAttention,
    LiveChatPretrainedTextEncoder,
    LiveChatPretrainingHead,
    LiveChatSequenceEncoder,
)


@dataclass
class LiveChatEncoderOutput(ModelOutput):
    """
    The three encoded modalities. Each memory starts with a learned "null" slot that is always attended to, so a
    modality that is absent (all-zero mask) still gives finite attention: the model sees "nothing here".

    Args:
        last_hidden_state (`torch.FloatTensor` of shape `(batch_size, video_length + transcript_length + chat_length, d_model)`):
            The three memories concatenated along the sequence, video | transcript | chat (each with its null slot):
            the sequence whose keys and values the decoder's cross-attention cache holds (one slot per layer), and
            what transformers reads as an encoder's `last_hidden_state`. The decoder reads each memory on its own,
            with its own mask and its own cross-attention block (see `memories()`).
        video_last_hidden_state (`torch.FloatTensor` of shape `(batch_size, 1 + frames, d_model)`):
            Encoded frames.
        video_attention_mask (`torch.LongTensor` of shape `(batch_size, 1 + frames)`):
            1 for the null slot and real frames.
        transcript_last_hidden_state (`torch.FloatTensor` of shape `(batch_size, 1 + tokens, d_model)`):
            Encoded transcript tokens (only the summary slot with `transcript_memory="cls"`).
        transcript_attention_mask (`torch.LongTensor` of shape `(batch_size, 1 + tokens)`):
            1 for the null slot and real tokens.
        chat_last_hidden_state (`torch.FloatTensor` of shape `(batch_size, 1 + comments_or_tokens, d_model)`):
            One vector per context comment (`chat_encoder_type="comment"`) or per chat token (`"token"`).
        chat_attention_mask (`torch.LongTensor` of shape `(batch_size, 1 + comments_or_tokens)`):
            1 for the null slot and real comments / tokens.
        copy_source_states / copy_source_ids / copy_source_mask (*optional*, with `config.copy_mechanism`):
            Every transcript and chat token: its encoded state, its id and 1 for real tokens.
        chat_prompt_ids / chat_prompt_mask (`torch.LongTensor` of shape `(batch_size, prompt_length)`, *optional*, with
        `config.decoder_prompt="chat"`):
            The context comments as text for the LM decoder (see [`LiveChatEncoder.chat_as_prompt`]), left-padded.
        chat_comment_count (`torch.FloatTensor` of shape `(batch_size,)`, *optional*):
            The context comments of each clip, as given to the processor (the activity head counts them).
        chat_time_histogram (`torch.FloatTensor` of shape `(batch_size, activity_chat_bins)`, *optional*):
            The context comments by age, as the processor counts them (the activity head reads them).
        hidden_states (`tuple(torch.FloatTensor)`, *optional*, returned with `output_hidden_states=True`):
            Output of each encoder layer, video layers first, then transcript, then chat.
        attentions (`tuple(torch.FloatTensor)`, *optional*, returned with `output_attentions=True`):
            Self-attention weights of each encoder layer, in the same order (eager attention only).
    """

    last_hidden_state: torch.FloatTensor | None = None
    video_last_hidden_state: torch.FloatTensor | None = None
    video_attention_mask: torch.LongTensor | None = None
    transcript_last_hidden_state: torch.FloatTensor | None = None
    transcript_attention_mask: torch.LongTensor | None = None
    chat_last_hidden_state: torch.FloatTensor | None = None
    chat_attention_mask: torch.LongTensor | None = None
    copy_source_states: torch.FloatTensor | None = None
    copy_source_ids: torch.LongTensor | None = None
    copy_source_mask: torch.LongTensor | None = None
    chat_prompt_ids: torch.LongTensor | None = None
    chat_prompt_mask: torch.LongTensor | None = None
    chat_comment_count: torch.FloatTensor | None = None
    chat_time_histogram: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None

    def memories(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        return {modality: (self[f"{modality}_last_hidden_state"], self[f"{modality}_attention_mask"]) for modality in MODALITIES}

    def concatenated_memories(self) -> torch.FloatTensor:
        """`last_hidden_state`, or, for outputs built without it, the memories concatenated in the same order."""
        if self.last_hidden_state is not None:
            return self.last_hidden_state
        return torch.cat([memory for memory, _ in self.memories().values()], dim=1)

    def expand_batch(self, batch_size: int) -> "LiveChatEncoderOutput":
        """These outputs of one row repeated to `batch_size` rows (views, no copy); layer outputs are left out."""
        fields = {name: value for name, value in self.items() if name not in ("hidden_states", "attentions")}
        for name, value in fields.items():
            if value.shape[0] != 1:
                raise ValueError(f"expand_batch needs outputs of one row, {name} has {value.shape[0]}")
        return LiveChatEncoderOutput(**{name: value.expand(batch_size, *value.shape[1:]) for name, value in fields.items()})


@dataclass
class LiveChatModelOutput(Seq2SeqModelOutput):
    """
    [`~transformers.modeling_outputs.Seq2SeqModelOutput`] with the encoded modalities beside it.

    Args:
        last_hidden_state (`torch.FloatTensor` of shape `(batch_size, target_length, d_model)`):
            Decoder output.
        past_key_values (`EncoderDecoderCache`, *optional*):
            Self-attention and cross-attention key/value cache of the decoder (the cross-attention slot of a layer
            holds the three memories concatenated, as `encoder_last_hidden_state`).
        decoder_hidden_states (`tuple(torch.FloatTensor)`, *optional*, returned with `output_hidden_states=True`):
            The decoder's embeddings and the output of each decoder layer.
        decoder_attentions (`tuple(torch.FloatTensor)`, *optional*, returned with `output_attentions=True`):
            Self-attention weights of each decoder layer.
        cross_attentions (`tuple(torch.FloatTensor)`, *optional*, returned with `output_attentions=True`):
            Cross-attention weights, per decoder layer one per modality in `config.cross_attention_order` (each
            over its own memory).
        encoder_last_hidden_state (`torch.FloatTensor` of shape `(batch_size, memory_length, d_model)`):
            The three memories concatenated along the sequence, video | transcript | chat (each starting with its
            null slot): `encoder_outputs.last_hidden_state`. Each modality's part is in `encoder_outputs`.
        encoder_hidden_states (`tuple(torch.FloatTensor)`, *optional*, returned with `output_hidden_states=True`):
            Output of each encoder layer, the video encoder's first, then the transcript's, then the chat's.
        encoder_attentions (`tuple(torch.FloatTensor)`, *optional*, returned with `output_attentions=True`):
            Self-attention weights of each encoder layer, in the same order.
        encoder_outputs (`LiveChatEncoderOutput`):
            The encoded modalities one by one, with their masks (reused across decoding steps).
    """

    encoder_outputs: LiveChatEncoderOutput | None = None


@dataclass
class LiveChatCommentGenerationOutput(Seq2SeqLMOutput):
    """
    [`~transformers.modeling_outputs.Seq2SeqLMOutput`] with the encoded modalities beside it.

    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*, returned when `labels` is given):
            Token-level cross-entropy of the target comment (`-100` positions ignored).
        logits (`torch.FloatTensor` of shape `(batch_size, target_length, vocab_size)`, *optional*):
            Next-token scores (log-probabilities of the mixed distribution with `config.copy_mechanism`); `None` for a
            training batch of several targets per clip (`targets_per_clip > 1`), whose loss meets the vocabulary at
            the target tokens only.
        past_key_values (`EncoderDecoderCache`, *optional*):
            Decoder cache, for generation.
        decoder_hidden_states, decoder_attentions, cross_attentions, encoder_last_hidden_state, encoder_hidden_states,
        encoder_attentions: see [`LiveChatModelOutput`].
        encoder_outputs (`LiveChatEncoderOutput`):
            The encoded modalities one by one (with their `hidden_states` / `attentions` when requested).
        activity_log_rate (`torch.FloatTensor` of shape `(batch_size,)`, *optional*, with `config.activity_head`):
            Log of the expected number of comments in the response window after each clip's context; computed when
            the encoders run in this call or `activity_labels` is given (not at every cached decoding step).
        activity_loss (`torch.FloatTensor` of shape `()`, *optional*, returned when `activity_labels` is given):
            The activity head's Poisson negative log-likelihood (already weighted into `loss`).
    """

    encoder_outputs: LiveChatEncoderOutput | None = None
    activity_log_rate: torch.FloatTensor | None = None
    activity_loss: torch.FloatTensor | None = None


@dataclass
class LiveChatPretrainingOutput(ModelOutput):
    """
    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*):
            Masked-LM cross-entropy over the masked transcript and chat tokens together.
        transcript_logits (`torch.FloatTensor`):
            Token predictions: with `transcript_labels`, `(labelled_tokens, vocab_size)` at the labelled positions
            only (row-major order); without, `(batch_size, transcript_length, vocab_size)` at every position.
        chat_logits (`torch.FloatTensor`):
            The same for the chat tokens (every position: the shape of `chat_input_ids` plus the vocabulary).
    """

    loss: torch.FloatTensor | None = None
    transcript_logits: torch.FloatTensor | None = None
    chat_logits: torch.FloatTensor | None = None


# Copied from transformers.models.bart.modeling_bart.shift_tokens_right
def shift_tokens_right(input_ids: torch.Tensor, pad_token_id: int, decoder_start_token_id: int):
    """
    Shift input ids one token to the right.
    """
    shifted_input_ids = input_ids.new_zeros(input_ids.shape)
    shifted_input_ids[:, 1:] = input_ids[:, :-1].clone()
    shifted_input_ids[:, 0] = decoder_start_token_id

    if pad_token_id is None:
        raise ValueError("self.model.config.pad_token_id has to be defined.")
    # replace possible -100 values in labels by `pad_token_id`
    shifted_input_ids.masked_fill_(shifted_input_ids == -100, pad_token_id)

    return shifted_input_ids


def activity_poisson_loss(log_rate: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """The activity head's loss: the exact Poisson negative log-likelihood of the real comment counts (with log y!,
    so that the logged loss is >= 0 whatever the counts), averaged over clips."""
    log_rate, counts = log_rate.float(), counts.float()
    return (log_rate.exp() - counts * log_rate + torch.lgamma(counts + 1)).mean()


COPY_GATE_START_LOGIT = -4.0  # an LM decoder's copy gate at the start of training


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
        copy_head = getattr(self, "copy_head", None)
        if copy_head is not None and module is copy_head.gate and self.config.decoder is not None:
            # An LM decoder's copy gate starts nearly closed (weights 0, sigmoid(-4) = 0.018), so that training starts
            # from the LM here too: half open, the copy attention of untrained encoders took half of every token's
            # mass, and the untrained LM decoder's per-word perplexity on Northernlion's chat was 856.7 against 320.0.
            init.zeros_(module.weight)
            init.constant_(module.bias, COPY_GATE_START_LOGIT)
            return
        # Linear, embedding (padding row zeroed) and layer-norm modules: transformers' default, with `config.init_std`.
        super()._init_weights(module)
        std = self.config.init_std
        if isinstance(module, LiveChatSequenceEncoder):
            init.normal_(module.null_embedding, mean=0.0, std=std)
        elif isinstance(module, LiveChatPretrainingHead):
            init.zeros_(module.bias)
        elif isinstance(module, LiveChatGatedCrossAttention):
            init.zeros_(module.gate)  # training starts from the LM itself
        elif isinstance(module, LiveChatActivityHead):
            init.normal_(module.queries, mean=0.0, std=std)
        if isinstance(module, LiveChatEncoder) and hasattr(module, "video_feature_mean"):
            init.zeros_(module.video_feature_mean)
            init.ones_(module.video_feature_std)


    def resize_token_embeddings(self, new_num_tokens=None, pad_to_multiple_of=None, mean_resizing=True):
        embeddings = super().resize_token_embeddings(new_num_tokens, pad_to_multiple_of, mean_resizing)
        if self.config.text_encoder is not None:
            # Pretrained text encoders embed the transcript and chat tokens with their own tables: they follow.
            for module in self.modules():
                if isinstance(module, LiveChatPretrainedTextEncoder):
                    module.model.resize_token_embeddings(embeddings.num_embeddings, mean_resizing=mean_resizing)
            self.config.text_encoder.vocab_size = embeddings.num_embeddings
        return embeddings


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

    def count_comments(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.FloatTensor:
        """The comments in the chat inputs `(batch,)`: what the activity head counts when the processor's count of
        the whole context window (`chat_comment_count`, which may hold more) is not given."""
        if input_ids.dim() == 3:
            return attention_mask.any(-1).sum(-1).float()
        return (input_ids.eq(self.config.sep_token_id) & attention_mask.bool()).sum(-1).float()

    def chat_as_prompt(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The context comments as the LM decoder's text prompt `(ids, mask)`, oldest first: each written as a target
        comment is (start token, its tokens, end token), so that the comment to write continues the pattern. When one
        token both ends and starts comments (a newline: the chat as lines), each comment's end is the next one's start,
        written once. Rows are left-padded, so that every row's prompt ends where its comment starts."""
        start, end = self.config.decoder_start_token_id, self.config.sep_token_id
        end_written = start != end
        if input_ids.dim() == 3:
            # One row per comment: close each real comment with the end token, after its last real token.
            batch_size, num_comments, length = input_ids.shape
            lengths = attention_mask.sum(-1, keepdim=True)
            steps = torch.arange(length + 1, device=input_ids.device)
            ids = torch.cat([input_ids, input_ids.new_full((batch_size, num_comments, 1), end)], dim=-1)
            ids = ids.masked_fill(steps == lengths, end)
            mask = ((steps <= lengths) if end_written else (steps < lengths)) & (lengths > 0)
            is_start = (steps == 0) & (lengths > 0)
            ids, mask, is_start = (t.reshape(batch_size, -1) for t in (ids, mask, is_start))
        else:
            # One `[SEP]`-joined sequence: a comment starts at the first token and after each end token.
            ids, mask = input_ids, attention_mask.bool()
            is_end = ids.eq(end) & mask
            after_end = torch.cat([torch.ones_like(mask[:, :1]), is_end[:, :-1]], dim=1)
            is_start = mask & after_end
            if not end_written:
                mask = mask & ~is_end
        ids = torch.stack([torch.full_like(ids, start), ids], dim=-1).flatten(1)
        mask = torch.stack([is_start, mask], dim=-1).flatten(1)
        # Real tokens last, in their order (a stable sort on the mask), then drop the columns no row uses.
        order = mask.long().argsort(dim=-1, stable=True)
        ids, mask = ids.gather(1, order), mask.gather(1, order).long()
        ids = ids.masked_fill(mask == 0, self.config.pad_token_id)
        used = int(mask.sum(-1).max()) if mask.numel() else 0
        return ids[:, ids.shape[1] - used :], mask[:, mask.shape[1] - used :]

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

    # The last layer output recorded is the chat encoder's; `last_hidden_state` (all three memories) must not replace it.
    @capture_outputs(tie_last_hidden_states=False)
    def forward(
        self,
        video_features: torch.FloatTensor | None = None,
        video_mask: torch.LongTensor | None = None,
        transcript_input_ids: torch.LongTensor | None = None,
        transcript_attention_mask: torch.LongTensor | None = None,
        chat_input_ids: torch.LongTensor | None = None,
        chat_attention_mask: torch.LongTensor | None = None,
        chat_comment_count: torch.FloatTensor | None = None,
        chat_time_histogram: torch.FloatTensor | None = None,
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
        chat_comment_count (`torch.FloatTensor` of shape `(batch_size,)`, *optional*):
            How many comments each clip's context window holds, before the processor keeps the latest: carried to
            the outputs for the activity head. Without it, the comments in `chat_input_ids` are counted.
        chat_time_histogram (`torch.FloatTensor` of shape `(batch_size, activity_chat_bins)`, *optional*):
            The context comments counted by age (the processor gives it with `chat_end_time`): carried to the outputs
            for the activity head.
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
        chat_token_mask = self._token_mask("chat", chat_input_ids, chat_attention_mask, expected_dim=chat_input_ids.dim())
        if chat_comment_count is None:
            chat_comment_count = self.count_comments(chat_input_ids, chat_token_mask)
        transcript_memory, transcript_memory_mask = transcript_states, transcript_mask
        if self.config.transcript_memory == "cls":
            transcript_memory, transcript_memory_mask = transcript_states[:, :1], transcript_mask[:, :1]
        output = LiveChatEncoderOutput(
            last_hidden_state=torch.cat([video[0], transcript_memory, chat_states], dim=1),
            video_last_hidden_state=video[0],
            video_attention_mask=video[1],
            transcript_last_hidden_state=transcript_memory,
            transcript_attention_mask=transcript_memory_mask,
            chat_last_hidden_state=chat_states,
            chat_attention_mask=chat_mask,
            chat_comment_count=chat_comment_count,
            chat_time_histogram=chat_time_histogram,
        )
        if self.config.copy_mechanism:
            chat_ids = chat_input_ids.reshape(batch_size, -1)
            output.copy_source_states = torch.cat([transcript_states[:, 1:], chat_tokens.reshape(batch_size, chat_ids.shape[1], chat_tokens.shape[-1])], dim=1)
            output.copy_source_ids = torch.cat([transcript_input_ids, chat_ids], dim=1)
            output.copy_source_mask = torch.cat([transcript_mask[:, 1:], chat_token_mask.reshape(batch_size, -1).long()], dim=1)
        if self.config.decoder_prompt == "chat":
            output.chat_prompt_ids, output.chat_prompt_mask = self.chat_as_prompt(chat_input_ids, chat_token_mask)
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

    def new_cache(self) -> EncoderDecoderCache:
        return EncoderDecoderCache(DynamicCache(config=self.config), DynamicCache(config=self.config))

    def cached_length(self, past_key_values: EncoderDecoderCache, encoder_outputs: LiveChatEncoderOutput) -> int:
        """Comment tokens already in the cache."""
        return past_key_values.get_seq_length()

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
            past_key_values = self.new_cache()
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


class LiveChatLMDecoder(LiveChatPreTrainedModel):
    """A pretrained causal LM (`config.decoder`, any `AutoModelForCausalLM`) as the comment decoder. It reads the
    three memories, concatenated as one sequence with a learned embedding of each slot's modality, in one of two ways
    (`config.decoder_fusion`):

    - `"cross_attention"` (Flamingo): a [`LiveChatGatedCrossAttention`] block before every
      `config.cross_attention_interval`-th LM layer, run by a forward pre-hook on that layer (the LM's own modules
      and weight names stay as they are, so its pretrained weights and LoRA targets apply unchanged). The LM keeps its
      own self-attention cache; each block keeps its memory keys/values in the cross-attention cache.
    - `"prefix"` (LLaVA): an MLP projects every memory slot to the LM's width, and the LM reads them as embeddings
      before the comment's tokens (they fill the start of its cache).

    Returns the LM's last hidden states (after its final norm); its own head gives the logits.
    """

    main_input_name = "input_ids"

    def __init__(self, config: LiveChatConfig):
        super().__init__(config)
        lm_config = config.decoder
        self.lm = AutoModelForCausalLM.from_config(lm_config)
        self.hidden_size = lm_config.hidden_size
        self.modality_embeddings = nn.Embedding(len(MODALITIES), config.d_model)
        self.gated_cross_attn = None
        self.prefix_projection = None
        if config.decoder_fusion == "cross_attention":
            layers = self.lm_layers()
            self.gated_cross_attn = nn.ModuleDict(
                {
                    str(index): LiveChatGatedCrossAttention(config, self.hidden_size, lm_config.num_attention_heads, index)
                    for index in range(0, len(layers), config.cross_attention_interval)
                }
            )
            for index, layer in enumerate(layers):
                layer.register_forward_pre_hook(partial(self._before_lm_layer, index), with_kwargs=True)
        else:
            self.prefix_projection = nn.Sequential(
                nn.Linear(config.d_model, self.hidden_size), nn.GELU(), nn.Linear(self.hidden_size, self.hidden_size)
            )
        self.post_init()

    def get_input_embeddings(self):
        return self.lm.get_input_embeddings()

    def set_input_embeddings(self, value):
        self.lm.set_input_embeddings(value)

    def lm_layers(self) -> nn.ModuleList:
        """The LM's stack of decoder layers (`model.layers` for llama / qwen2 / mistral, `transformer.h` for gpt2)."""
        for child in self.lm.base_model.children():
            if isinstance(child, nn.ModuleList) and len(child) == self.config.decoder.num_hidden_layers:
                return child
        raise ValueError(f"no list of {self.config.decoder.num_hidden_layers} layers found in {type(self.lm).__name__}")

    def load_pretrained_lm(self, name_or_path: str | None = None):
        """Loads the pretrained weights of `config.decoder_name_or_path` (or `name_or_path`) into the LM. Call it on
        a fresh model, not on one loaded from a LiveChat checkpoint (which holds the trained LM)."""
        name_or_path = name_or_path or self.config.decoder_name_or_path
        if not name_or_path:
            raise ValueError("no pretrained LM to load: config.decoder_name_or_path is not set")
        pretrained = AutoModelForCausalLM.from_pretrained(name_or_path, dtype=self.lm.dtype)
        try:
            self.lm.load_state_dict(pretrained.state_dict())
        except RuntimeError as error:
            raise ValueError(f"{name_or_path} does not match the configured decoder: {error}") from error
        return self

    def new_cache(self) -> EncoderDecoderCache:
        """The LM's own self-attention cache (its layer types) and a cross-attention cache for the gated blocks."""
        return EncoderDecoderCache(DynamicCache(config=self.config.decoder), DynamicCache())

    def cached_length(self, past_key_values: EncoderDecoderCache, encoder_outputs: LiveChatEncoderOutput) -> int:
        """Comment tokens already in the cache (the cache starts with the prefix: memory slots, chat prompt)."""
        length = past_key_values.get_seq_length()
        if length:
            length -= self.prefix_length(encoder_outputs)
        return length

    def prefix_length(self, encoder_outputs: LiveChatEncoderOutput) -> int:
        """Positions the LM reads before the comment: the projected memory slots and the chat prompt."""
        length = encoder_outputs.concatenated_memories().shape[1] if self.prefix_projection is not None else 0
        if encoder_outputs.chat_prompt_ids is not None:
            length += encoder_outputs.chat_prompt_ids.shape[1]
        return length

    def _before_lm_layer(self, index: int, layer: nn.Module, args: tuple, kwargs: dict):
        # Every layer takes the memory arguments out of what goes on to the LM's attention; inserted layers use them.
        memory = kwargs.pop("livechat_memory", None)
        memory_mask = kwargs.pop("livechat_memory_mask", None)
        cross_cache = kwargs.pop("livechat_cross_cache", None)
        candidates_per_memory = kwargs.pop("livechat_candidates_per_memory", 1)
        if memory is None or str(index) not in self.gated_cross_attn:
            return args, kwargs
        block = self.gated_cross_attn[str(index)]
        if args:
            args = (block(args[0], memory, memory_mask, cross_cache, candidates_per_memory), *args[1:])
        else:
            kwargs["hidden_states"] = block(kwargs["hidden_states"], memory, memory_mask, cross_cache, candidates_per_memory)
        return args, kwargs

    def _prefix(self, memory, memory_mask, encoder_outputs: LiveChatEncoderOutput):
        """What the LM reads before the comment, as embeddings `(rows, positions, hidden)` and a mask (None, None
        when nothing): the projected memory slots (prefix fusion), then the chat prompt."""
        parts, masks = [], []
        if self.prefix_projection is not None:
            parts.append(self.prefix_projection(memory))
            masks.append(memory_mask)
        if encoder_outputs.chat_prompt_ids is not None:
            parts.append(self.lm.get_input_embeddings()(encoder_outputs.chat_prompt_ids))
            masks.append(encoder_outputs.chat_prompt_mask)
        prefix = torch.cat(parts, dim=1).to(self.lm.dtype) if parts else None
        if prefix is None or prefix.shape[1] == 0:
            return None, None
        return prefix, torch.cat(masks, dim=1)

    def _fusion_kwargs(self, memory, memory_mask, cross_cache, candidates_per_memory: int) -> dict:
        """What the inserted gated cross-attention blocks read, passed through the LM's layers ({} without them)."""
        if self.gated_cross_attn is None:
            return {}
        memory_mask_4d = create_bidirectional_mask(
            config=self.config, inputs_embeds=memory[:, :1], attention_mask=memory_mask, encoder_hidden_states=memory
        )
        return {
            "livechat_memory": memory,
            "livechat_memory_mask": memory_mask_4d,
            "livechat_cross_cache": cross_cache,
            "livechat_candidates_per_memory": candidates_per_memory,
        }

    def prefill_prefix(self, encoder_outputs: LiveChatEncoderOutput, repeats: int = 1) -> EncoderDecoderCache | None:
        """The cache after the LM read each clip's prefix (memory slots, chat prompt) once, every row then repeated
        `repeats` times for the clip's candidates or beams (None when there is no prefix): the prefix is most of
        the tokens the LM reads, so reading it once per clip instead of once per row divides the cost of scoring and
        of beam search by about the number of rows per clip."""
        memory, memory_mask = self._memory(encoder_outputs)
        prefix, prefix_mask = self._prefix(memory, memory_mask, encoder_outputs)
        if prefix is None:
            return None
        self_cache = DynamicCache(config=self.config.decoder)
        self.lm.base_model(
            inputs_embeds=prefix, attention_mask=prefix_mask, position_ids=self._positions(prefix_mask, prefix.shape[1]),
            past_key_values=self_cache, use_cache=True, **self._fusion_kwargs(memory, memory_mask, None, 1),
        )
        self_cache.batch_repeat_interleave(repeats)
        return EncoderDecoderCache(self_cache, DynamicCache())

    def _packs_candidates(self) -> bool:
        """Whether the LM's attention takes the block mask of `_packed_candidates` (SDPA and eager do; flash kernels
        take no custom mask, and those runs repeat the prefix cache instead)."""
        return self.lm.config._attn_implementation in ("sdpa", "eager")

    def _packed_candidates(self, inputs_embeds, attention_mask, prefix, prefix_mask, fusion: dict, **kwargs) -> torch.Tensor:
        """Hidden states `(rows, length, hidden)` of the K comments of each clip (rows `i * K ... i * K + K - 1`)
        read in one sequence per clip: its prefix, then every comment's real tokens, each comment attending to the
        prefix and to itself only (a block mask) at the positions it would have after the prefix alone. The prefix is
        read once per clip and no padding is read between comments: K training targets (or ranking candidates) cost
        about one prefix plus their own tokens. Positions a comment does not have (padding) get zeros."""
        batch_size, prefix_width = prefix.shape[:2]
        rows, length = inputs_embeds.shape[:2]
        per_clip = rows // batch_size
        real = attention_mask.bool() if attention_mask is not None else inputs_embeds.new_ones(rows, length, dtype=torch.bool)
        row_index, token_index = real.nonzero(as_tuple=True)
        clip_index = row_index // per_clip
        # each real token's place after its clip's prefix: the tokens of the clip's earlier comments, then its rank
        tokens_per_row = real.sum(-1)
        clip_tokens = tokens_per_row.view(batch_size, per_clip)
        row_start = (clip_tokens.cumsum(-1) - clip_tokens).view(-1)
        rank = real.long().cumsum(-1)[row_index, token_index] - 1
        slot = prefix_width + row_start[row_index] + rank
        width = prefix_width + int(clip_tokens.sum(-1).max())

        packed = prefix.new_zeros(batch_size, width, prefix.shape[-1])
        packed[:, :prefix_width] = prefix
        packed[clip_index, slot] = inputs_embeds[row_index, token_index].to(prefix.dtype)
        # segment of every packed position: 0 prefix, r + 1 the comment of row r, -1 padding
        segment = torch.full((batch_size, width), -1, dtype=torch.long, device=prefix.device)
        segment[:, :prefix_width] = torch.where(prefix_mask.bool(), 0, -1)
        segment[clip_index, slot] = row_index + 1
        prefix_tokens = prefix_mask.long().sum(-1)
        positions = torch.zeros_like(segment)
        positions[:, :prefix_width] = self._positions(prefix_mask, prefix_width)
        positions[clip_index, slot] = prefix_tokens[clip_index] + rank

        query, key = segment.unsqueeze(2), segment.unsqueeze(1)
        causal = torch.ones(width, width, dtype=torch.bool, device=prefix.device).tril()
        allowed = causal & (key >= 0) & ((key == 0) | (key == query))
        allowed |= torch.eye(width, dtype=torch.bool, device=prefix.device)  # padding attends to itself, never NaN
        allowed = allowed.unsqueeze(1)
        if self.lm.config._attn_implementation == "eager":  # eager adds the mask to the scores
            allowed = torch.zeros(allowed.shape, dtype=packed.dtype, device=packed.device).masked_fill(~allowed, torch.finfo(packed.dtype).min)
        outputs = self.lm.base_model(
            inputs_embeds=packed, attention_mask=allowed, position_ids=positions, use_cache=False, **fusion, **kwargs
        )
        hidden_states = outputs.last_hidden_state.new_zeros(rows, length, outputs.last_hidden_state.shape[-1])
        hidden_states[row_index, token_index] = outputs.last_hidden_state[clip_index, slot]
        return hidden_states

    @staticmethod
    def _positions(attention_mask: torch.Tensor, length: int) -> torch.LongTensor:
        """Position ids of the last `length` inputs: real positions counted from each row's first one, so that a
        left-padded prompt reads as the LM would read it unpadded."""
        return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)[:, -length:]

    def _memory(self, encoder_outputs: LiveChatEncoderOutput) -> tuple[torch.Tensor, torch.Tensor]:
        memories, masks = [], []
        for index, (memory, mask) in enumerate(encoder_outputs.memories().values()):
            memories.append(memory + self.modality_embeddings.weight[index].to(memory.dtype))
            masks.append(mask)
        return torch.cat(memories, dim=1).to(self.lm.dtype), torch.cat(masks, dim=1)

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
            Decoder rows per encoder row (see [`LiveChatDecoder`]).
        """
        memory, memory_mask = self._memory(encoder_outputs)
        if memory.shape[0] * candidates_per_memory != input_ids.shape[0]:
            raise ValueError(
                f"The decoder batch ({input_ids.shape[0]}) does not match the memory batch ({memory.shape[0]}) times "
                f"candidates_per_memory ({candidates_per_memory})"
            )
        if use_cache and past_key_values is None:
            past_key_values = self.new_cache()
        self_cache = past_key_values.self_attention_cache if past_key_values is not None else None
        fusion = self._fusion_kwargs(memory, memory_mask, past_key_values, candidates_per_memory)
        prefix, prefix_mask = self._prefix(memory, memory_mask, encoder_outputs)
        if prefix is None:
            outputs = self.lm.base_model(
                input_ids=input_ids,
                attention_mask=attention_mask,
                past_key_values=self_cache,
                use_cache=use_cache,
                **fusion,
                **kwargs,
            )
            hidden_states = outputs.last_hidden_state
        else:
            past_length = self_cache.get_seq_length() if self_cache is not None else 0
            inputs_embeds = self.lm.get_input_embeddings()(input_ids)
            if past_length == 0 and candidates_per_memory > 1 and not use_cache and self._packs_candidates():
                fusion = self._fusion_kwargs(memory, memory_mask, None, 1)
                hidden_states = self._packed_candidates(inputs_embeds, attention_mask, prefix, prefix_mask, fusion, **kwargs)
                return BaseModelOutputWithPastAndCrossAttentions(last_hidden_state=hidden_states)
            if past_length == 0 and candidates_per_memory > 1:
                # Candidate scoring: the prefix runs once per clip and its cache is shared by the clip's candidates.
                self_cache = self.prefill_prefix(encoder_outputs, candidates_per_memory).self_attention_cache
                prefix_mask = prefix_mask.repeat_interleave(candidates_per_memory, dim=0)
                past_length, use_cache = prefix.shape[1], True
            elif past_length == 0:
                inputs_embeds = torch.cat([prefix, inputs_embeds], dim=1)
            if attention_mask is None:
                attention_mask = input_ids.new_ones(input_ids.shape[0], max(past_length - prefix.shape[1], 0) + input_ids.shape[1])
            attention_mask = torch.cat([prefix_mask.to(attention_mask.dtype), attention_mask], dim=1)
            outputs = self.lm.base_model(
                inputs_embeds=inputs_embeds,
                attention_mask=attention_mask,
                position_ids=self._positions(attention_mask, inputs_embeds.shape[1]),
                past_key_values=self_cache,
                use_cache=use_cache,
                **fusion,
                **kwargs,
            )
            hidden_states = outputs.last_hidden_state[:, -input_ids.shape[1] :]
        return BaseModelOutputWithPastAndCrossAttentions(
            last_hidden_state=hidden_states,
            past_key_values=past_key_values if use_cache else None,
            hidden_states=getattr(outputs, "hidden_states", None),
            attentions=getattr(outputs, "attentions", None),
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
        if text_only:
            self.decoder = None
        elif config.decoder is not None:
            self.decoder = LiveChatLMDecoder(config)
        else:
            self.decoder = LiveChatDecoder(config)
        if not isinstance(self.decoder, LiveChatDecoder):
            # An LM decoder embeds the comment tokens with its own (pretrained) table.
            self._tied_weights_keys = {"encoder.embed_tokens.weight": "shared.weight"}
        self.post_init()

    def get_input_embeddings(self):
        return self.shared

    def set_input_embeddings(self, value):
        self.shared = value
        self.encoder.embed_tokens = value
        if isinstance(self.decoder, LiveChatDecoder):
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
        chat_comment_count: torch.FloatTensor | None = None,
        chat_time_histogram: torch.FloatTensor | None = None,
        decoder_input_ids: torch.LongTensor | None = None,
        decoder_attention_mask: torch.LongTensor | None = None,
        encoder_outputs: LiveChatEncoderOutput | None = None,
        past_key_values: EncoderDecoderCache | None = None,
        use_cache: bool | None = None,
        candidates_per_memory: int = 1,
        **kwargs: Unpack[TransformersKwargs],
    ) -> LiveChatModelOutput:
        r"""
        candidates_per_memory (`int`, defaults to 1):
            Decoder rows per clip: rows `i * K ... i * K + K - 1` of `decoder_input_ids` read clip `i`.
        """
        if encoder_outputs is None:
            encoder_outputs = self.encoder(
                video_features=video_features,
                video_mask=video_mask,
                transcript_input_ids=transcript_input_ids,
                transcript_attention_mask=transcript_attention_mask,
                chat_input_ids=chat_input_ids,
                chat_attention_mask=chat_attention_mask,
                chat_comment_count=chat_comment_count,
                chat_time_histogram=chat_time_histogram,
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
            candidates_per_memory=candidates_per_memory,
            **kwargs,
        )
        return LiveChatModelOutput(
            last_hidden_state=decoder_outputs.last_hidden_state,
            past_key_values=decoder_outputs.past_key_values,
            decoder_hidden_states=decoder_outputs.hidden_states,
            decoder_attentions=decoder_outputs.attentions,
            cross_attentions=decoder_outputs.cross_attentions,
            encoder_last_hidden_state=encoder_outputs.concatenated_memories(),
            encoder_hidden_states=encoder_outputs.hidden_states,
            encoder_attentions=encoder_outputs.attentions,
            encoder_outputs=encoder_outputs,
        )


class LiveChatGuidanceLogitsProcessor(LogitsProcessor):
    r"""Classifier-free guidance for LiveChat (Ho & Salimans, 2022; Sanchez et al., 2023): next-token log-probabilities
    become `uncond + guidance_scale * (cond - uncond)`, where `uncond` comes from the same decoder reading null
    memories (every modality absent). A comment that chat always writes scores the same with or without the clip and
    loses its edge; what this moment adds is amplified. `guidance_scale=1` is plain decoding.

    The unconditional decoder runs on the rows `generate` passes (beams and samples included) with its own cache.
    Beam search reorders rows between steps; each row's cache is taken from the row of the previous step whose
    tokens it extends, and recomputed when no row matches.

    Args:
        model ([`LiveChatForCommentGeneration`]): the model being decoded.
        guidance_scale (`float`): 1 is plain decoding; above 1 favours what the clip adds over what chat always says.
    """

    def __init__(self, model: "LiveChatForCommentGeneration", guidance_scale: float):
        self.model = model
        self.guidance_scale = float(guidance_scale)
        self._null_memories = None
        self._cache = None
        self._previous_ids = None

    def _unconditional_logits(self, input_ids: torch.LongTensor) -> torch.FloatTensor:
        if self._null_memories is None:
            self._null_memories = self.model.null_encoder_outputs(1)
        reuse = None
        if self._cache is not None and self._previous_ids.shape[1] == input_ids.shape[1] - 1:
            extends = (input_ids[:, None, :-1] == self._previous_ids[None]).all(-1)
            if bool(extends.any(-1).all()):
                reuse = extends.float().argmax(-1)
        if reuse is None:
            self._cache = self.model.get_decoder().new_cache()
            new_tokens = input_ids
        else:
            self._cache.reorder_cache(reuse)
            new_tokens = input_ids[:, -1:]
        memories = self._null_memories.expand_batch(input_ids.shape[0])
        hidden_states = self.model.model.decoder(
            input_ids=new_tokens, encoder_outputs=memories, past_key_values=self._cache, use_cache=True
        ).last_hidden_state[:, -1:]
        self._previous_ids = input_ids
        return self.model.compute_logits(hidden_states, memories)[:, -1]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        conditional = scores.float().log_softmax(-1)
        if self.guidance_scale == 1:
            return conditional.to(scores.dtype)
        unconditional = self._unconditional_logits(input_ids).float().log_softmax(-1)
        return (unconditional + self.guidance_scale * (conditional - unconditional)).to(scores.dtype)


class LiveChatForCommentGeneration(LiveChatPreTrainedModel, GenerationMixin):
    """LiveChat with its language-model head (tied to the shared token embeddings): trains with `labels` and
    generates comments with `generate()` (greedy, beam search, sampling; encoders run once, cached decoding)."""

    _tied_weights_keys = {"lm_head.weight": "model.shared.weight"}
    _keys_to_ignore_on_load_unexpected = [r"mlm_head\..*"]
    # The loss is normalised by `num_items_in_batch` when the Trainer passes it, so that gradient accumulation gives
    # the same loss as one big batch.
    accepts_loss_kwargs = True

    def __init__(self, config: LiveChatConfig):
        super().__init__(config)
        self.model = LiveChatModel(config)
        if config.decoder is None:
            self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        else:
            # The LM decoder's own head (`get_output_embeddings`), tied or not as the LM has it.
            self.lm_head = None
            self._tied_weights_keys = {}
        decoder_width = config.decoder.hidden_size if config.decoder is not None else None
        self.copy_head = LiveChatCopyHead(config, hidden_size=decoder_width) if config.copy_mechanism else None
        self.activity_head = LiveChatActivityHead(config) if config.activity_head else None
        # Labels line up with the logits (the decoder inputs are the labels shifted right): transformers' masked-LM
        # loss, which does not shift again.
        self.loss_type = "ForMaskedLM"
        self.post_init()

    def get_encoder(self, modality=None):
        return self.model.encoder

    def get_decoder(self):
        return self.model.decoder

    def get_output_embeddings(self):
        return self.lm_head if self.lm_head is not None else self.model.decoder.lm.get_output_embeddings()

    def set_output_embeddings(self, new_embeddings):
        if self.lm_head is None:
            self.model.decoder.lm.set_output_embeddings(new_embeddings)
        else:
            self.lm_head = new_embeddings

    def _prepare_cache_for_generation(self, generation_config, model_kwargs, *args, **kwargs):
        super()._prepare_cache_for_generation(generation_config, model_kwargs, *args, **kwargs)
        cache = model_kwargs.get("past_key_values")
        if isinstance(self.model.decoder, LiveChatLMDecoder) and cache is not None and not getattr(cache, "_is_user_defined", False):
            # generate sizes its cache from LiveChat's config; an LM decoder's self-attention cache follows the LM's.
            model_kwargs["past_key_values"] = self.model.decoder.new_cache()

    def save_pretrained(self, save_directory, *args, **kwargs):
        if self._auto_class is not None:
            # One class answers both AutoModel and AutoModelForSeq2SeqLM in remote-code loading.
            name = f"{self.__class__.__module__.split('.')[-1]}.{self.__class__.__name__}"
            auto_map = dict(getattr(self.config, "auto_map", None) or {})
            auto_map.update({"AutoModel": name, "AutoModelForSeq2SeqLM": name})
            self.config.auto_map = auto_map
        return super().save_pretrained(save_directory, *args, **kwargs)

    def compute_logits(self, hidden_states: torch.Tensor, encoder_outputs: LiveChatEncoderOutput) -> torch.Tensor:
        """Next-token scores from decoder states: the LM head, mixed with the copy distribution when enabled."""
        logits = self.get_output_embeddings()(hidden_states)
        if self.copy_head is None:
            return logits
        return self.copy_head(
            logits,
            hidden_states,
            encoder_outputs.copy_source_states.to(hidden_states.dtype),
            encoder_outputs.copy_source_ids,
            encoder_outputs.copy_source_mask,
        )

    @can_return_tuple
    def forward(
        self,
        video_features: torch.FloatTensor | None = None,
        video_mask: torch.LongTensor | None = None,
        transcript_input_ids: torch.LongTensor | None = None,
        transcript_attention_mask: torch.LongTensor | None = None,
        chat_input_ids: torch.LongTensor | None = None,
        chat_attention_mask: torch.LongTensor | None = None,
        chat_comment_count: torch.FloatTensor | None = None,
        chat_time_histogram: torch.FloatTensor | None = None,
        decoder_input_ids: torch.LongTensor | None = None,
        decoder_attention_mask: torch.LongTensor | None = None,
        encoder_outputs: LiveChatEncoderOutput | None = None,
        past_key_values: EncoderDecoderCache | None = None,
        labels: torch.LongTensor | None = None,
        activity_labels: torch.FloatTensor | None = None,
        targets_per_clip: int = 1,
        use_cache: bool | None = None,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.LongTensor | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        decoder_inputs_embeds: torch.FloatTensor | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> LiveChatCommentGenerationOutput:
        r"""
        labels (`torch.LongTensor` of shape `(batch_size, target_length)`, *optional*):
            Target comment token ids ending with `[SEP]`; `-100` positions are ignored by the loss. When given without
            `decoder_input_ids`, the decoder inputs are the labels shifted right behind `[CLS]`.
        targets_per_clip (`int`, defaults to 1):
            Target comments per clip: `labels` has `batch_size * targets_per_clip` rows, rows `i * K ... i * K + K - 1`
            the targets of clip `i` (`-100` rows for a clip with fewer comments). The clip is encoded once; an LM
            decoder reads its prefix once and the K comments after it in one sequence. With K > 1 the output holds
            the loss and no `logits`: only the target tokens are projected onto the vocabulary.
        activity_labels (`torch.FloatTensor` of shape `(batch_size,)`, *optional*):
            How many comments each clip's response window holds: the activity head's Poisson target.
        chat_comment_count (`torch.FloatTensor` of shape `(batch_size,)`, *optional*):
            How many comments each clip's context window holds (the processor gives it): the activity head reads it.
        chat_time_histogram (`torch.FloatTensor` of shape `(batch_size, activity_chat_bins)`, *optional*):
            The context comments counted by age (the processor gives it with `chat_end_time`). A head with
            `config.activity_chat_bins` needs it: without it the outputs hold no `activity_log_rate`, and
            `activity_labels` raise.
        input_ids, attention_mask, inputs_embeds, decoder_inputs_embeds:
            Accepted because PEFT's seq2seq wrapper always passes them; LiveChat has no single `input_ids` and
            raises if any of them is set.
        kwargs:
            `output_attentions`, `output_hidden_states` (see [`LiveChatCommentGenerationOutput`]; attention weights
            need `attn_implementation="eager"`), `return_dict=False` for a tuple, and `num_items_in_batch`: the
            number of target tokens in the whole (accumulated) batch, passed by the Trainer so that the summed loss
            is normalised once over all micro-batches.
        """
        for name, value in (("input_ids", input_ids), ("inputs_embeds", inputs_embeds), ("decoder_inputs_embeds", decoder_inputs_embeds)):
            if value is not None:
                raise ValueError(
                    f"LiveChat takes video_features / transcript_input_ids / chat_input_ids, not {name}; "
                    "use LiveChatProcessor to build the inputs."
                )
        num_items_in_batch = kwargs.pop("num_items_in_batch", None)
        if targets_per_clip < 1:
            raise ValueError(f"targets_per_clip must be >= 1, got {targets_per_clip}")
        if labels is not None:
            if decoder_input_ids is None:
                decoder_input_ids = shift_tokens_right(labels, self.config.pad_token_id, self.config.decoder_start_token_id)
                if targets_per_clip > 1 and decoder_attention_mask is None:
                    decoder_attention_mask = labels.ne(-100).long()  # what the packed targets read: no padding
            use_cache = False
        use_cache = use_cache if use_cache is not None else self.config.use_cache
        if self.training:
            use_cache = False

        outputs: LiveChatModelOutput = self.model(
            video_features=video_features,
            video_mask=video_mask,
            transcript_input_ids=transcript_input_ids,
            transcript_attention_mask=transcript_attention_mask,
            chat_input_ids=chat_input_ids,
            chat_attention_mask=chat_attention_mask,
            chat_comment_count=chat_comment_count,
            chat_time_histogram=chat_time_histogram,
            decoder_input_ids=decoder_input_ids,
            decoder_attention_mask=decoder_attention_mask,
            encoder_outputs=encoder_outputs,
            past_key_values=past_key_values,
            use_cache=use_cache,
            candidates_per_memory=targets_per_clip,
            **kwargs,
        )
        loss = logits = None
        if labels is not None and targets_per_clip > 1:
            # Several targets per clip are a training batch: only their tokens are projected onto the vocabulary.
            token_logprobs, _ = self._target_token_log_probs(
                outputs.last_hidden_state, labels, outputs.encoder_outputs, targets_per_clip
            )
            loss = -token_logprobs.sum() / (num_items_in_batch if num_items_in_batch is not None else max(len(token_logprobs), 1))
        else:
            logits = self.compute_logits(outputs.last_hidden_state, outputs.encoder_outputs)
            if labels is not None:
                loss = self.loss_function(logits, labels, vocab_size=self.config.vocab_size, num_items_in_batch=num_items_in_batch)
        activity_log_rate = activity_loss = None
        # Not at each decoding step of `generate`, which passes the same encoder outputs in again and again.
        # A head reading the chat's time bins has nothing to read when the chat came without times (plain strings).
        times_missing = self.config.activity_chat_bins and outputs.encoder_outputs.chat_time_histogram is None
        if self.activity_head is not None and (
            activity_labels is not None or (encoder_outputs is None and not times_missing)
        ):
            activity_log_rate = self._activity_log_rate(outputs.encoder_outputs)
            if activity_labels is not None:
                activity_loss = activity_poisson_loss(activity_log_rate, activity_labels)
                weighted = self.config.activity_loss_weight * activity_loss
                if labels is not None and num_items_in_batch is not None:
                    # Accumulated micro-batches sum their losses: weight each by its share of the target tokens.
                    weighted = weighted * labels.ne(-100).sum() / num_items_in_batch
                loss = weighted if loss is None else loss + weighted
        elif activity_labels is not None:
            raise ValueError("activity_labels given to a model without an activity head (config.activity_head=False)")
        return LiveChatCommentGenerationOutput(
            loss=loss,
            logits=logits,
            past_key_values=outputs.past_key_values,
            decoder_hidden_states=outputs.decoder_hidden_states,
            decoder_attentions=outputs.decoder_attentions,
            cross_attentions=outputs.cross_attentions,
            encoder_last_hidden_state=outputs.encoder_last_hidden_state,
            encoder_hidden_states=outputs.encoder_hidden_states,
            encoder_attentions=outputs.encoder_attentions,
            encoder_outputs=outputs.encoder_outputs,
            activity_log_rate=activity_log_rate,
            activity_loss=activity_loss,
        )

    @torch.no_grad()
    def predict_activity(
        self, encoder_outputs: LiveChatEncoderOutput | None = None, **model_inputs
    ) -> torch.FloatTensor:
        """Expected number of comments `(batch_size,)` in the response window that follows each clip's context.

        Args:
            encoder_outputs: encoded clips, when already computed (e.g. by `generate`); otherwise the encoders run on
                `model_inputs`.
            model_inputs: what `LiveChatProcessor` returns (video, transcript and chat inputs; targets and decoder
                inputs are ignored).
        """
        if self.activity_head is None:
            raise ValueError("This model has no activity head (config.activity_head=False): train one with it on")
        if encoder_outputs is None:
            names = (
                "video_features", "video_mask", "transcript_input_ids", "transcript_attention_mask", "chat_input_ids",
                "chat_attention_mask", "chat_comment_count", "chat_time_histogram",
            )
            encoder_outputs = self.get_encoder()(**{name: model_inputs[name] for name in names if name in model_inputs})
        return self._activity_log_rate(encoder_outputs).float().exp()

    def _activity_log_rate(self, encoder_outputs: LiveChatEncoderOutput) -> torch.FloatTensor:
        return self.activity_head(
            encoder_outputs.memories(), encoder_outputs.chat_comment_count, encoder_outputs.chat_time_histogram
        )

    def _expand_inputs_for_generation(self, expand_size: int = 1, is_encoder_decoder: bool = False, input_ids=None, **model_kwargs):
        # Beams and returned sequences repeat each clip: an LM decoder reads the clip's prefix once, not once per row.
        decoder = self.model.decoder
        if (
            expand_size > 1
            and isinstance(decoder, LiveChatLMDecoder)
            and model_kwargs.get("encoder_outputs") is not None
            and model_kwargs.get("past_key_values") is None
            and model_kwargs.get("use_cache", True)
        ):
            cache = decoder.prefill_prefix(model_kwargs["encoder_outputs"], expand_size)
            if cache is not None:
                model_kwargs["past_key_values"] = cache
        return super()._expand_inputs_for_generation(expand_size, is_encoder_decoder, input_ids, **model_kwargs)

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
            decoder_input_ids = decoder_input_ids[:, self.model.decoder.cached_length(past_key_values, encoder_outputs) :]
        inputs = {
            "decoder_input_ids": decoder_input_ids,
            "decoder_attention_mask": decoder_attention_mask,
            "encoder_outputs": encoder_outputs,
            "past_key_values": past_key_values,
            "use_cache": use_cache,
        }
        inputs.update({k: kwargs[k] for k in ("output_attentions", "output_hidden_states") if k in kwargs})
        return inputs

    @torch.no_grad()
    def generate(self, video_features: torch.FloatTensor | None = None, **kwargs):
        """`GenerationMixin.generate` keyed on `video_features`. Without video (None), an empty frame sequence is
        passed so that generation still knows the batch size from the other modalities."""
        if video_features is None and kwargs.get("encoder_outputs") is None:
            others = [kwargs.get(k) for k in ("transcript_input_ids", "chat_input_ids") if kwargs.get(k) is not None]
            if not others:
                raise ValueError("generate() needs at least one of video_features, transcript_input_ids, chat_input_ids")
            video_features = others[0].new_zeros(
                (others[0].shape[0], 0, self.config.video_feature_dim), dtype=self.dtype
            )
        return super().generate(video_features=video_features, **kwargs)

    def null_encoder_outputs(self, batch_size: int = 1) -> LiveChatEncoderOutput:
        """Encoder outputs with every modality absent (each memory is its null slot alone): what the model knows of
        a comment before it sees a clip. The same for every row, so one row can be expanded to any batch."""
        encoder = self.get_encoder()
        empty = encoder._empty_inputs(batch_size, None, None, None)
        return encoder(**dict(zip(("video_features", "transcript_input_ids", "chat_input_ids"), empty)))

    def _get_logits_processor(self, generation_config, *args, **kwargs):
        # `guidance_scale` means classifier-free guidance on null memories here (LiveChatGuidanceLogitsProcessor),
        # not transformers' decoder-only version, which would re-run the model on a negative prompt.
        guidance_scale = generation_config.guidance_scale
        if guidance_scale is None or guidance_scale == 1:
            return super()._get_logits_processor(generation_config, *args, **kwargs)
        generation_config.guidance_scale = None
        try:
            processors = super()._get_logits_processor(generation_config, *args, **kwargs)
        finally:
            generation_config.guidance_scale = guidance_scale
        processors.insert(0, LiveChatGuidanceLogitsProcessor(self, guidance_scale))
        return processors

    def _target_token_log_probs(
        self, hidden_states: torch.Tensor, labels: torch.LongTensor, encoder_outputs: LiveChatEncoderOutput, candidates_per_memory: int
    ) -> tuple[torch.FloatTensor, torch.LongTensor]:
        """Log-probabilities of the target tokens (`labels` other than `-100`, in row order) and the row of each.
        The vocabulary projection is the costliest step: it runs on target tokens only, not on padding."""
        is_target = labels.ne(-100)
        targets = labels[is_target]
        token_logprobs = -F.cross_entropy(
            self.get_output_embeddings()(hidden_states[is_target]).float(), targets, reduction="none"
        )
        row_index = is_target.nonzero()[:, 0]
        if self.copy_head is not None:
            # The copy distribution at the target token only: attention mass on context tokens equal to it.
            attention, gate = self.copy_head.attend(
                hidden_states,
                encoder_outputs.copy_source_states.to(hidden_states.dtype),
                encoder_outputs.copy_source_mask,
                candidates_per_memory=candidates_per_memory,
            )
            source_ids = encoder_outputs.copy_source_ids[row_index // candidates_per_memory]
            copy = (attention[is_target] * source_ids.eq(targets[:, None])).sum(-1)
            gate = gate[is_target].squeeze(-1)
            token_logprobs = ((1 - gate) * token_logprobs.exp() + gate * copy).clamp_min(1e-12).log()
        return token_logprobs, row_index

    def _candidate_log_likelihood(
        self,
        labels: torch.LongTensor,
        encoder_outputs: LiveChatEncoderOutput,
        candidates_per_memory: int,
        length_normalize: bool,
    ) -> torch.FloatTensor:
        """Per-candidate log-likelihood `(rows,)` of `labels` (`-100` after each candidate's end), each memory row
        read by `candidates_per_memory` consecutive label rows."""
        decoder_input_ids = shift_tokens_right(labels, self.config.pad_token_id, self.config.decoder_start_token_id)
        hidden_states = self.model.decoder(
            input_ids=decoder_input_ids,
            encoder_outputs=encoder_outputs,
            attention_mask=labels.ne(-100).long(),
            use_cache=False,
            candidates_per_memory=candidates_per_memory,
        ).last_hidden_state
        token_logprobs, row_index = self._target_token_log_probs(hidden_states, labels, encoder_outputs, candidates_per_memory)
        scores = token_logprobs.new_zeros(labels.shape[0]).index_add_(0, row_index, token_logprobs)
        if length_normalize:
            scores = scores / labels.ne(-100).sum(-1).clamp(min=1)
        return scores

    @torch.no_grad()
    def score_candidates(
        self,
        candidate_ids: torch.LongTensor,
        candidate_attention_mask: torch.LongTensor | None = None,
        length_normalize: bool = True,
        prior_weight: float = 0.0,
        prior_scores: torch.FloatTensor | None = None,
        **model_inputs,
    ) -> torch.FloatTensor:
        """Scores candidate comments: `log P(c | clip) - prior_weight * log P(c | no modality)`, the encoders run once
        per query.

        At `prior_weight=0` this is the papers' likelihood; at 1 the pointwise mutual information of comment and
        clip, which ranks a comment by how much the clip raises it rather than by how often chat writes it.

        Args:
            candidate_ids: `(batch_size, num_candidates, length)` candidate token ids ending with `[SEP]` (pad after).
            candidate_attention_mask: 1 for real tokens; defaults to `candidate_ids != pad`.
            length_normalize: mean instead of sum of token log-probabilities (for both terms).
            prior_weight: weight of the unconditional term.
            prior_scores: `(batch_size, num_candidates)` unconditional scores already computed
                ([`~LiveChatForCommentGeneration.unconditional_candidate_scores`]), e.g. shared by several ablations.
            model_inputs: the encoder inputs (video_features, transcript_input_ids, chat_input_ids, masks).

        Returns:
            `(batch_size, num_candidates)` scores; higher is better.
        """
        batch_size, num_candidates, length = candidate_ids.shape
        labels = self._candidate_labels(candidate_ids, candidate_attention_mask)
        # The decoder folds each clip's candidates onto that clip's memories, so nothing is expanded per candidate.
        scores = self._candidate_log_likelihood(labels, self.get_encoder()(**model_inputs), num_candidates, length_normalize)
        scores = scores.view(batch_size, num_candidates)
        if prior_weight:
            if prior_scores is None:
                prior_scores = self.unconditional_candidate_scores(candidate_ids, candidate_attention_mask, length_normalize)
            scores = scores - prior_weight * prior_scores.to(scores)
        return scores

    @torch.no_grad()
    def unconditional_candidate_scores(
        self,
        candidate_ids: torch.LongTensor,
        candidate_attention_mask: torch.LongTensor | None = None,
        length_normalize: bool = True,
    ) -> torch.FloatTensor:
        """`log P(c | no modality)` of each candidate `(batch_size, num_candidates)`: every candidate of the batch
        reads one shared set of null memories."""
        batch_size, num_candidates, _ = candidate_ids.shape
        labels = self._candidate_labels(candidate_ids, candidate_attention_mask)
        scores = self._candidate_log_likelihood(labels, self.null_encoder_outputs(1), labels.shape[0], length_normalize)
        return scores.view(batch_size, num_candidates)

    def _candidate_labels(self, candidate_ids, candidate_attention_mask) -> torch.LongTensor:
        length = candidate_ids.shape[-1]
        if candidate_attention_mask is None:
            candidate_attention_mask = candidate_ids.ne(self.config.pad_token_id).long()
        return candidate_ids.reshape(-1, length).masked_fill(candidate_attention_mask.reshape(-1, length) == 0, -100)


class LiveChatForPretraining(LiveChatPreTrainedModel):
    """Masked-LM pretraining of the transcript and chat encoders (the first stage of the LiveChat recipe). It holds
    only the shared embeddings and the text encoders, so every parameter trains (DDP); its checkpoint loads into
    [`LiveChatForCommentGeneration`] (shared `model.*` weights; the video encoder and the decoder start fresh)."""

    _tied_weights_keys = {"mlm_head.decoder.weight": "model.shared.weight"}
    _keys_to_ignore_on_load_unexpected = [r"lm_head\..*", r"copy_head\..*", r"model\.decoder\..*", r"model\.encoder\.video_.*"]

    def __init__(self, config: LiveChatConfig):
        super().__init__(config)
        self.model = LiveChatModel(config, text_only=True)
        self.mlm_head = LiveChatPretrainingHead(config)
        self.loss_type = "ForMaskedLM"
        self.post_init()

    def _predict(self, states: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        # With labels, only the labelled (~15 %) positions go through the vocabulary projection.
        return self.mlm_head(states if labels is None else states[labels.ne(-100)])

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
        **kwargs: Unpack[TransformersKwargs],
    ) -> LiveChatPretrainingOutput:
        r"""
        video_features / video_mask: accepted (the collators pass them) and ignored: pretraining is text only.
        transcript_labels / chat_labels (`torch.LongTensor`, same shapes as the input ids, *optional*):
            Original ids at masked positions, `-100` elsewhere (see `DataCollatorForLiveChatPretraining`).
        """
        encoder = self.model.encoder
        encoder._batch_size(video_features, transcript_input_ids, chat_input_ids)
        transcript_logits = chat_logits = None
        if transcript_input_ids is not None:
            states = encoder.encode_transcript(transcript_input_ids, transcript_attention_mask)[0][:, 1:]
            transcript_logits = self._predict(states, transcript_labels)
        if chat_input_ids is not None:
            chat_logits = self._predict(encoder.encode_chat(chat_input_ids, chat_attention_mask)[2], chat_labels)
        predicted = [
            (logits, labels[labels.ne(-100)])
            for logits, labels in ((transcript_logits, transcript_labels), (chat_logits, chat_labels))
            if logits is not None and labels is not None
        ]
        loss = None
        if predicted and sum(len(targets) for _, targets in predicted) == 0:
            loss = sum(logits.sum() for logits, _ in predicted) * 0.0  # nothing masked in this batch
        elif predicted:
            logits = torch.cat([logits for logits, _ in predicted])
            targets = torch.cat([targets for _, targets in predicted])
            loss = self.loss_function(
                logits, targets, vocab_size=self.config.vocab_size, num_items_in_batch=kwargs.get("num_items_in_batch")
            )
        return LiveChatPretrainingOutput(loss=loss, transcript_logits=transcript_logits, chat_logits=chat_logits)


__all__ = [
    "LiveChatGuidanceLogitsProcessor",
    "LiveChatPreTrainedModel",
    "LiveChatEncoder",
    "LiveChatDecoder",
    "LiveChatLMDecoder",
    "LiveChatModel",
    "LiveChatForCommentGeneration",
    "LiveChatForPretraining",
    "LiveChatEncoderOutput",
    "LiveChatModelOutput",
    "LiveChatCommentGenerationOutput",
    "LiveChatPretrainingOutput",
    "shift_tokens_right",
]
