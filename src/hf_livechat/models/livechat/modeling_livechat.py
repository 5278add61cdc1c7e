"""PyTorch LiveChat models with their heads: comment generation (LM head, optional copy mechanism, candidate scoring)
and masked-LM pretraining of the text encoders.

This file, `backbone_livechat.py` and `layers_livechat.py` only use relative imports so that `save_pretrained`
can copy them next to the weights and `AutoModel.from_pretrained(folder, trust_remote_code=True)` loads them without
`hf_livechat` installed.
"""

from typing import Unpack

import torch
from torch import nn
from torch.nn import functional as F
from transformers import GenerationMixin, LogitsProcessor
from transformers.cache_utils import DynamicCache, EncoderDecoderCache
from transformers.utils import TransformersKwargs
from transformers.utils.generic import can_return_tuple

from .backbone_livechat import (
    LiveChatCommentGenerationOutput,
    LiveChatDecoder,
    LiveChatEncoder,
    LiveChatEncoderOutput,
    LiveChatModel,
    LiveChatModelOutput,
    LiveChatPreTrainedModel,
    LiveChatPretrainingOutput,
    shift_tokens_right,
)
from .configuration_livechat import LiveChatConfig
from .layers_livechat import LiveChatCopyHead, LiveChatPretrainingHead


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
            self._cache = EncoderDecoderCache(DynamicCache(config=self.model.config), DynamicCache(config=self.model.config))
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
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.copy_head = LiveChatCopyHead(config) if config.copy_mechanism else None
        # Labels line up with the logits (the decoder inputs are the labels shifted right): transformers' masked-LM
        # loss, which does not shift again.
        self.loss_type = "ForMaskedLM"
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

    def compute_logits(self, hidden_states: torch.Tensor, encoder_outputs: LiveChatEncoderOutput) -> torch.Tensor:
        """Next-token scores from decoder states: the LM head, mixed with the copy distribution when enabled."""
        logits = self.lm_head(hidden_states)
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
        decoder_input_ids: torch.LongTensor | None = None,
        decoder_attention_mask: torch.LongTensor | None = None,
        encoder_outputs: LiveChatEncoderOutput | None = None,
        past_key_values: EncoderDecoderCache | None = None,
        labels: torch.LongTensor | None = None,
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
        if labels is not None:
            if decoder_input_ids is None:
                decoder_input_ids = shift_tokens_right(labels, self.config.pad_token_id, self.config.decoder_start_token_id)
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
            decoder_input_ids=decoder_input_ids,
            decoder_attention_mask=decoder_attention_mask,
            encoder_outputs=encoder_outputs,
            past_key_values=past_key_values,
            use_cache=use_cache,
            **kwargs,
        )
        logits = self.compute_logits(outputs.last_hidden_state, outputs.encoder_outputs)

        loss = None
        if labels is not None:
            loss = self.loss_function(logits, labels, vocab_size=self.config.vocab_size, num_items_in_batch=num_items_in_batch)
        return LiveChatCommentGenerationOutput(
            loss=loss,
            logits=logits,
            past_key_values=outputs.past_key_values,
            decoder_hidden_states=outputs.decoder_hidden_states,
            decoder_attentions=outputs.decoder_attentions,
            cross_attentions=outputs.cross_attentions,
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
                (others[0].shape[0], 0, self.config.video_feature_dim), dtype=self.lm_head.weight.dtype
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
            use_cache=False,
            candidates_per_memory=candidates_per_memory,
        ).last_hidden_state
        # The vocabulary projection is the costliest step: run it on target tokens only, not on padding.
        is_target = labels.ne(-100)
        targets = labels[is_target]
        token_logprobs = -F.cross_entropy(self.lm_head(hidden_states[is_target]).float(), targets, reduction="none")
        candidate_index = is_target.nonzero()[:, 0]
        if self.copy_head is not None:
            # The copy distribution at the target token only: attention mass on context tokens equal to it.
            attention, gate = self.copy_head.attend(
                hidden_states,
                encoder_outputs.copy_source_states.to(hidden_states.dtype),
                encoder_outputs.copy_source_mask,
                candidates_per_memory=candidates_per_memory,
            )
            source_ids = encoder_outputs.copy_source_ids[candidate_index // candidates_per_memory]
            copy = (attention[is_target] * source_ids.eq(targets[:, None])).sum(-1)
            gate = gate[is_target].squeeze(-1)
            token_logprobs = ((1 - gate) * token_logprobs.exp() + gate * copy).clamp_min(1e-12).log()
        scores = token_logprobs.new_zeros(labels.shape[0]).index_add_(0, candidate_index, token_logprobs)
        if length_normalize:
            scores = scores / is_target.sum(-1).clamp(min=1)
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
    "LiveChatModel",
    "LiveChatForCommentGeneration",
    "LiveChatForPretraining",
    "LiveChatEncoderOutput",
    "LiveChatModelOutput",
    "LiveChatCommentGenerationOutput",
    "LiveChatPretrainingOutput",
]
