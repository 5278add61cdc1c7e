"""Outputs of the LiveChat models."""

from dataclasses import dataclass

import torch
from transformers.cache_utils import Cache
from transformers.utils import ModelOutput

from .configuration_livechat import MODALITIES


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
            Encoded transcript tokens (only the summary slot with `transcript_memory="cls"`).
        transcript_attention_mask (`torch.LongTensor` of shape `(batch_size, 1 + tokens)`):
            1 for the null slot and real tokens.
        chat_last_hidden_state (`torch.FloatTensor` of shape `(batch_size, 1 + comments_or_tokens, d_model)`):
            One vector per context comment (`chat_encoder_type="comment"`) or per chat token (`"token"`).
        chat_attention_mask (`torch.LongTensor` of shape `(batch_size, 1 + comments_or_tokens)`):
            1 for the null slot and real comments / tokens.
        copy_source_states / copy_source_ids / copy_source_mask (*optional*, with `config.copy_mechanism`):
            Every transcript and chat token: its encoded state, its id and 1 for real tokens.
        hidden_states (`tuple(torch.FloatTensor)`, *optional*, returned with `output_hidden_states=True`):
            Output of each encoder layer, video layers first, then transcript, then chat.
        attentions (`tuple(torch.FloatTensor)`, *optional*, returned with `output_attentions=True`):
            Self-attention weights of each encoder layer, in the same order (eager attention only).
    """

    video_last_hidden_state: torch.FloatTensor | None = None
    video_attention_mask: torch.LongTensor | None = None
    transcript_last_hidden_state: torch.FloatTensor | None = None
    transcript_attention_mask: torch.LongTensor | None = None
    chat_last_hidden_state: torch.FloatTensor | None = None
    chat_attention_mask: torch.LongTensor | None = None
    copy_source_states: torch.FloatTensor | None = None
    copy_source_ids: torch.LongTensor | None = None
    copy_source_mask: torch.LongTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None

    def memories(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        return {modality: (self[f"{modality}_last_hidden_state"], self[f"{modality}_attention_mask"]) for modality in MODALITIES}

    def expand_batch(self, batch_size: int) -> "LiveChatEncoderOutput":
        """These outputs of one row repeated to `batch_size` rows (views, no copy); layer outputs are left out."""
        fields = {name: value for name, value in self.items() if name not in ("hidden_states", "attentions")}
        for name, value in fields.items():
            if value.shape[0] != 1:
                raise ValueError(f"expand_batch needs outputs of one row, {name} has {value.shape[0]}")
        return LiveChatEncoderOutput(**{name: value.expand(batch_size, *value.shape[1:]) for name, value in fields.items()})


@dataclass
class LiveChatModelOutput(ModelOutput):
    """
    Args:
        last_hidden_state (`torch.FloatTensor` of shape `(batch_size, target_length, d_model)`):
            Decoder output.
        past_key_values (`EncoderDecoderCache`, *optional*):
            Self-attention and cross-attention key/value cache of the decoder.
        decoder_hidden_states (`tuple(torch.FloatTensor)`, *optional*, returned with `output_hidden_states=True`):
            The decoder's embeddings and the output of each decoder layer.
        decoder_attentions (`tuple(torch.FloatTensor)`, *optional*, returned with `output_attentions=True`):
            Self-attention weights of each decoder layer.
        cross_attentions (`tuple(torch.FloatTensor)`, *optional*, returned with `output_attentions=True`):
            Cross-attention weights, per decoder layer one per modality in `config.cross_attention_order`.
        encoder_outputs (`LiveChatEncoderOutput`):
            The encoded modalities (reused across decoding steps).
    """

    last_hidden_state: torch.FloatTensor | None = None
    past_key_values: Cache | None = None
    decoder_hidden_states: tuple[torch.FloatTensor, ...] | None = None
    decoder_attentions: tuple[torch.FloatTensor, ...] | None = None
    cross_attentions: tuple[torch.FloatTensor, ...] | None = None
    encoder_outputs: LiveChatEncoderOutput | None = None


@dataclass
class LiveChatCommentGenerationOutput(ModelOutput):
    """
    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*, returned when `labels` is given):
            Token-level cross-entropy of the target comment (`-100` positions ignored).
        logits (`torch.FloatTensor` of shape `(batch_size, target_length, vocab_size)`):
            Next-token scores (log-probabilities of the mixed distribution with `config.copy_mechanism`).
        past_key_values (`EncoderDecoderCache`, *optional*):
            Decoder cache, for generation.
        decoder_hidden_states, decoder_attentions, cross_attentions: see [`LiveChatModelOutput`].
        encoder_outputs (`LiveChatEncoderOutput`):
            The encoded modalities (with their `hidden_states` / `attentions` when requested).
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    past_key_values: Cache | None = None
    decoder_hidden_states: tuple[torch.FloatTensor, ...] | None = None
    decoder_attentions: tuple[torch.FloatTensor, ...] | None = None
    cross_attentions: tuple[torch.FloatTensor, ...] | None = None
    encoder_outputs: LiveChatEncoderOutput | None = None


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
