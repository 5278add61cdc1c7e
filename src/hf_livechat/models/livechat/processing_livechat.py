"""Processor for LiveChat: frame features, a transcript and chat messages in; model inputs out."""

from collections.abc import Sequence

import numpy as np
import torch
from transformers import BatchFeature, ProcessorMixin

from .configuration_livechat import CHAT_ENCODER_TYPES


def _message_text(message) -> str:
    """Accepts plain strings, dicts with a `text` key, and objects with a `.text` attribute (ChatMessage)."""
    if isinstance(message, str):
        return message
    if isinstance(message, dict):
        return message["text"]
    return message.text


def _message_time(message) -> float:
    """The time of a dict with a `time` key or of a `ChatMessage`; plain strings carry none."""
    time = message.get("time") if isinstance(message, dict) else getattr(message, "time", None)
    if time is None:
        raise ValueError(
            "chat_end_time was given, but a context comment has no time: pass dicts with 'time' or ChatMessages"
        )
    return float(time)


def _message_line(message, with_author: bool) -> str:
    """A context comment as the chat encoder reads it: its text, or `"author: text"` (replies often name the viewer
    they answer, and a new viewer's name exists nowhere but in the author field)."""
    text = _message_text(message)
    author = message.get("author") if isinstance(message, dict) else getattr(message, "author", None)
    return f"{author}: {text}" if with_author and author else text


_REPLACEMENT_CHARACTER = "\ufffd"  # what a decoder writes for the bytes of a character cut in two

# An LM decoder's comment end (and start): a newline, so that the chat reads as lines. SmolLM2-135M-Instruct given
# the previous 15 messages framed as <|im_start|>comment<|im_end|> had a zero-shot per-word perplexity of 1048 on
# Northernlion's chat and 46341 on the YouTube premiere's, against 320 and 3162 as plain lines.
LM_COMMENT_END = "\n"


class LiveChatProcessor(ProcessorMixin):
    r"""
    Builds [`LiveChatForCommentGeneration`] inputs from one clip or a batch of clips.

    Context is truncated from the past: the latest transcript tokens and the latest comments are kept.

    With a BERT-style tokenizer a comment starts with `[CLS]` and ends with `[SEP]`. With a causal LM's tokenizer
    (LiveChat with an LM decoder; it has no `[SEP]`) the transcript, the chat and the targets all use the LM's
    vocabulary and padding uses its pad token (EOS when it has none; masks never read padding from the ids). A comment
    then ends with `comment_end`, one token that also starts the next comment, so that the LM reads the chat as the
    plain lines it met in pretraining (`LM_COMMENT_END`, a newline, is what `hf-livechat train --decoder` uses; each
    comment is tokenized alone, so the newline never merges with its text); without `comment_end`, with the LM's EOS
    token, decoding starting from its BOS (EOS when it has none, as GPT-2).

    Args:
        tokenizer ([`PreTrainedTokenizerFast`]):
            WordPiece tokenizer with `[PAD]`, `[CLS]`, `[SEP]` and `[MASK]` (BERT uncased by default, see
            `hf_livechat.tokenization.default_tokenizer`), or the tokenizer of the LM decoder.
        max_transcript_length (`int`, defaults to 100):
            Transcript tokens kept (the most recent).
        max_context_comments (`int`, defaults to 5):
            Context comments kept in training (`training=True`), the most recent.
        max_eval_context_comments (`int`, defaults to 15):
            Context comments kept otherwise.
        max_comment_length (`int`, defaults to 10):
            Tokens per comment, for context comments and targets (the target adds `[SEP]`).
        max_chat_length (`int`, defaults to 256):
            Chat tokens kept when `chat_encoder_type="token"`.
        chat_encoder_type (`str`, defaults to `"comment"`):
            Must match the model config: `"comment"` gives `chat_input_ids` of shape (batch, comments, tokens),
            `"token"` one `[SEP]`-joined sequence per example.
        context_sampling (`str`, defaults to `"latest"`):
            In training, a clip with more than `max_context_comments` comments keeps the latest ones, or
            (`"random"`, the reference code) a random subset in their order, drawn with torch's global generator (the
            Trainer seeds it per run and per data-loader worker). Evaluation always keeps the latest.
        chat_time_bins (`int`, defaults to 0):
            With `chat_end_time` given, count the context comments in this many bins of `chat_bin_seconds`,
            counting back from the end of the context window (`chat_time_histogram`, which the activity head reads
            with `LiveChatConfig.activity_chat_bins`). 0 gives no histogram.
        chat_bin_seconds (`float`, defaults to 2.0):
            Width of one bin.
        comment_end (`str`, *optional*):
            With a tokenizer without `[SEP]`: the text (one token) that ends a comment and starts the next, e.g.
            `"\n"`; it cannot occur inside a comment (a newline in a message becomes a space). Default: the EOS token.
    """

    tokenizer_class = "AutoTokenizer"

    def __init__(
        self,
        tokenizer=None,
        max_transcript_length: int = 100,
        max_context_comments: int = 5,
        max_eval_context_comments: int = 15,
        max_comment_length: int = 10,
        max_chat_length: int = 256,
        chat_encoder_type: str = "comment",
        context_sampling: str = "latest",
        chat_with_authors: bool = False,
        chat_time_bins: int = 0,
        chat_bin_seconds: float = 2.0,
        comment_end: str | None = None,
        **kwargs,
    ):
        if chat_time_bins < 0 or chat_bin_seconds <= 0:
            raise ValueError(f"chat_time_bins must be >= 0 and chat_bin_seconds > 0, got {chat_time_bins}, {chat_bin_seconds}")
        self.chat_time_bins = chat_time_bins
        self.chat_bin_seconds = chat_bin_seconds
        if chat_encoder_type not in CHAT_ENCODER_TYPES:
            raise ValueError(f"chat_encoder_type must be one of {CHAT_ENCODER_TYPES}, got {chat_encoder_type!r}")
        if context_sampling not in ("latest", "random"):
            raise ValueError(f"context_sampling must be 'latest' or 'random', got {context_sampling!r}")
        self.context_sampling = context_sampling
        self.chat_with_authors = chat_with_authors
        self.max_transcript_length = max_transcript_length
        self.max_context_comments = max_context_comments
        self.max_eval_context_comments = max_eval_context_comments
        self.max_comment_length = max_comment_length
        self.max_chat_length = max_chat_length
        self.chat_encoder_type = chat_encoder_type
        self.comment_end = comment_end
        super().__init__(tokenizer, **kwargs)
        self._comment_end_id = None if comment_end is None else self._single_token(comment_end)

    def _single_token(self, text: str) -> int:
        if self.tokenizer.sep_token_id is not None:
            raise ValueError("comment_end is for tokenizers without [SEP]; a BERT-style tokenizer ends comments with [SEP]")
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) != 1:
            raise ValueError(f"comment_end {text!r} must be one token of the tokenizer, got {len(ids)}")
        return ids[0]

    @classmethod
    def from_config(cls, tokenizer, config) -> "LiveChatProcessor":
        """A processor whose limits and comment end match a `LiveChatConfig`."""
        comment_end = None
        if tokenizer.sep_token_id is None and config.sep_token_id not in (None, tokenizer.eos_token_id):
            comment_end = tokenizer.decode([config.sep_token_id])  # the config's comments are lines, not EOS-ended
        processor = cls(
            tokenizer,
            max_transcript_length=config.max_transcript_length,
            max_context_comments=config.max_context_comments,
            max_eval_context_comments=config.max_eval_context_comments,
            max_comment_length=config.max_comment_length,
            max_chat_length=config.max_chat_length,
            chat_encoder_type=config.chat_encoder_type,
            context_sampling=getattr(config, "context_sampling", "latest"),
            chat_with_authors=getattr(config, "chat_with_authors", False),
            chat_time_bins=getattr(config, "activity_chat_bins", 0),
            chat_bin_seconds=getattr(config, "activity_bin_seconds", 2.0),
            comment_end=comment_end,
        )
        if comment_end is not None and processor.comment_end_token_id != config.sep_token_id:
            raise ValueError(f"the config ends comments with token {config.sep_token_id}, which the tokenizer cannot end them with")
        return processor

    @property
    def comment_end_token_id(self) -> int:
        """What ends a comment: `[SEP]`, else `comment_end`, else the EOS token (a causal LM's tokenizer)."""
        if self._comment_end_id is not None:
            return self._comment_end_id
        tok = self.tokenizer
        end = tok.sep_token_id if tok.sep_token_id is not None else tok.eos_token_id
        if end is None:
            raise ValueError("the tokenizer has neither a [SEP] nor an EOS token to end comments with")
        return end

    @property
    def comment_start_token_id(self) -> int:
        """What decoding starts from: `[CLS]`, else `comment_end` (the previous comment's end), else the BOS (else
        EOS) token of a causal LM's tokenizer."""
        if self._comment_end_id is not None:
            return self._comment_end_id
        tok = self.tokenizer
        return next(t for t in (tok.cls_token_id, tok.bos_token_id, self.comment_end_token_id) if t is not None)

    @property
    def pad_token_id(self) -> int:
        return self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.comment_end_token_id

    def config_kwargs(self) -> dict:
        """Vocabulary size and special token ids a `LiveChatConfig` needs to match this processor's tokenizer.
        `sep_token_id` ends comments and `decoder_start_token_id` starts them. With `comment_end` the config keeps
        the tokenizer's BOS, and its EOS beside the comment end (generation stops at either): transformers' Trainer
        aligns a config's BOS / EOS / PAD with the tokenizer's before training, and would otherwise replace the line
        end with the LM's EOS."""
        tok = self.tokenizer
        end, start = self.comment_end_token_id, self.comment_start_token_id
        lines = self._comment_end_id is not None
        return {
            "vocab_size": len(tok),
            "pad_token_id": self.pad_token_id,
            "bos_token_id": tok.bos_token_id if lines else start,
            "decoder_start_token_id": start,
            "eos_token_id": [end, tok.eos_token_id] if lines and tok.eos_token_id not in (None, end) else end,
            "sep_token_id": end,
            "mask_token_id": tok.mask_token_id,
            "max_transcript_length": self.max_transcript_length,
            "max_context_comments": self.max_context_comments,
            "max_eval_context_comments": self.max_eval_context_comments,
            "max_comment_length": self.max_comment_length,
            "max_chat_length": self.max_chat_length,
            "chat_encoder_type": self.chat_encoder_type,
            "context_sampling": self.context_sampling,
            "chat_with_authors": self.chat_with_authors,
            "activity_chat_bins": self.chat_time_bins,
            "activity_bin_seconds": self.chat_bin_seconds,
        }

    def __call__(
        self,
        video_features=None,
        transcript: str | Sequence[str] | None = None,
        chat: Sequence | None = None,
        chat_end_time: float | Sequence[float] | None = None,
        targets: str | Sequence[str] | None = None,
        training: bool = False,
        padding: str = "longest",
        max_frames: int | None = None,
        return_tensors: str = "pt",
        **kwargs,
    ) -> BatchFeature:
        r"""
        Args:
            video_features: one clip's `(frames, dim)` array, or a list of them (frames may differ; padded, masked).
                `None` or a `(0, dim)` array for a clip without video.
            transcript: the clip's transcript text, or a list of them. `""` or `None` for a clip without speech.
            chat: the clip's context comments (oldest first; strings, dicts with `text`, or `ChatMessage`s), or a
                list of such lists. An empty list for a clip without chat.
            chat_end_time: when the context window ends (the response window starts), in the comments' time base, or
                one per clip: with `chat_time_bins`, gives `chat_time_histogram` (the comments need times).
            targets: the target comment (or one per clip), for training: gives `labels`.
            training: keep `max_context_comments` instead of `max_eval_context_comments` comments.
            padding: `"longest"` pads to the longest example; `"max_length"` pads every modality to its maximum
                (`max_frames` frames, `max_transcript_length` tokens, all context comments), so that batches of
                separately processed examples have equal shapes (pipelines batch them).
            max_frames: frames to pad to with `padding="max_length"`.

        Returns:
            [`BatchFeature`] with `video_features`, `video_mask`, `transcript_input_ids`,
            `transcript_attention_mask`, `chat_input_ids`, `chat_attention_mask`, `chat_comment_count` (the context
            comments given, before any is dropped: the activity head counts them) (and `labels`) for the modalities
            given.
        """
        if return_tensors != "pt":
            raise ValueError("LiveChatProcessor only returns PyTorch tensors (return_tensors='pt')")
        if padding not in ("longest", "max_length"):
            raise ValueError(f"padding must be 'longest' or 'max_length', got {padding!r}")
        fixed = padding == "max_length"
        batch_size = None
        data = {}
        if video_features is not None:
            video_features = self._as_feature_batch(video_features)
            batch_size = len(video_features)
            data.update(self.pad_video_features(video_features, max_frames if fixed else None))
        if transcript is not None:
            transcripts = [transcript] if isinstance(transcript, str) else list(transcript)
            batch_size = self._check_batch(batch_size, len(transcripts), "transcript")
            data.update(self.encode_transcripts(transcripts, fixed))
        if chat is not None:
            chats = [chat] if self._is_single_chat(chat) else list(chat)
            batch_size = self._check_batch(batch_size, len(chats), "chat")
            data.update(self.encode_chats(chats, training=training, fixed=fixed))
            data["chat_comment_count"] = torch.tensor([float(len(c)) for c in chats])
            if chat_end_time is not None and self.chat_time_bins:
                ends = [chat_end_time] * len(chats) if np.ndim(chat_end_time) == 0 else list(chat_end_time)
                self._check_batch(len(chats), len(ends), "chat_end_time")
                data["chat_time_histogram"] = self.chat_time_histogram(chats, ends)
        if targets is not None:
            targets = [targets] if isinstance(targets, str) else list(targets)
            batch_size = self._check_batch(batch_size, len(targets), "targets")
            data["labels"] = self.encode_targets(targets)
        if batch_size is None:
            raise ValueError("Nothing to process: pass video_features, transcript and/or chat")
        return BatchFeature(data=data, tensor_type=None)

    @staticmethod
    def _check_batch(batch_size, size, name):
        if batch_size is not None and size != batch_size:
            raise ValueError(f"Mismatched batch sizes: {name} has {size} examples, other inputs have {batch_size}")
        return size

    @staticmethod
    def _is_single_chat(chat) -> bool:
        return len(chat) == 0 or not isinstance(chat[0], (list, tuple))

    @staticmethod
    def _as_feature_batch(video_features) -> list[torch.Tensor]:
        if isinstance(video_features, (np.ndarray, torch.Tensor)) and video_features.ndim == 2:
            video_features = [video_features]
        batch = [torch.as_tensor(np.asarray(f) if not isinstance(f, torch.Tensor) else f, dtype=torch.float32) for f in video_features]
        for i, features in enumerate(batch):
            if features.ndim != 2:
                raise ValueError(f"video_features[{i}] must have shape (frames, feature_dim), got {tuple(features.shape)}")
        if len({f.shape[1] for f in batch if f.shape[0]}) > 1:
            raise ValueError("video_features of one batch must share the feature dimension")
        return batch

    def pad_video_features(self, batch: list[torch.Tensor], max_frames: int | None = None) -> dict[str, torch.Tensor]:
        dim = next((f.shape[1] for f in batch if f.shape[0]), batch[0].shape[1])
        frames = max(f.shape[0] for f in batch)
        if max_frames is not None:
            if frames > max_frames:
                raise ValueError(f"a clip has {frames} frames, more than max_frames={max_frames}")
            frames = max_frames
        features = torch.zeros(len(batch), frames, dim)
        mask = torch.zeros(len(batch), frames, dtype=torch.long)
        for i, f in enumerate(batch):
            features[i, : f.shape[0]] = f
            mask[i, : f.shape[0]] = 1
        return {"video_features": features, "video_mask": mask}

    def _tokenize(self, texts: list[str]) -> list[list[int]]:
        if self.comment_end is not None:  # one comment_end per comment: the model counts and splits comments by it
            texts = [text.replace(self.comment_end, " ") for text in texts]
        return self.tokenizer(list(texts), add_special_tokens=False)["input_ids"] if texts else []

    def _pad(self, sequences: list[list[int]], pad_value: int, min_length: int = 0) -> torch.Tensor:
        length = max([min_length] + [len(s) for s in sequences])
        out = torch.full((len(sequences), length), pad_value, dtype=torch.long)
        for i, s in enumerate(sequences):
            out[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        return out

    def encode_transcripts(self, transcripts: list[str | None], fixed: bool = False) -> dict[str, torch.Tensor]:
        ids = self._tokenize([t or "" for t in transcripts])
        ids = [seq[-self.max_transcript_length :] if self.max_transcript_length else [] for seq in ids]
        length = self.max_transcript_length if fixed else 0
        input_ids = self._pad(ids, self.pad_token_id, length)
        mask = self._pad([[1] * len(s) for s in ids], 0, length)
        return {"transcript_input_ids": input_ids, "transcript_attention_mask": mask}

    def _keep_comments(self, comments: list[str], keep: int, training: bool) -> list[str]:
        if not keep:
            return []
        if training and self.context_sampling == "random" and len(comments) > keep:
            chosen = torch.randperm(len(comments))[:keep].sort().values.tolist()
            return [comments[i] for i in chosen]
        return comments[-keep:]

    def encode_chats(self, chats: list[Sequence], training: bool = False, fixed: bool = False) -> dict[str, torch.Tensor]:
        keep = self.max_context_comments if training else self.max_eval_context_comments
        texts = [self._keep_comments([_message_line(m, self.chat_with_authors) for m in chat], keep, training) for chat in chats]
        if self.chat_encoder_type == "token":
            sep = self.comment_end_token_id
            joined = []
            for comments in texts:
                seq = []
                for ids in self._tokenize(comments):
                    seq += ids[: self.max_comment_length] + [sep]
                joined.append(seq[-self.max_chat_length :])
            length = self.max_chat_length if fixed else 0
            return {
                "chat_input_ids": self._pad(joined, self.pad_token_id, length),
                "chat_attention_mask": self._pad([[1] * len(s) for s in joined], 0, length),
            }
        num_comments = keep if fixed else max([len(c) for c in texts] + [1])
        input_ids = torch.full((len(texts), num_comments, self.max_comment_length), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros_like(input_ids)
        for i, comments in enumerate(texts):
            for j, ids in enumerate(self._tokenize(comments)):
                ids = ids[: self.max_comment_length]
                input_ids[i, j, : len(ids)] = torch.tensor(ids, dtype=torch.long)
                mask[i, j, : len(ids)] = 1
        return {"chat_input_ids": input_ids, "chat_attention_mask": mask}

    def chat_time_histogram(self, chats: list[Sequence], ends: list[float]) -> torch.Tensor:
        """`(batch, chat_time_bins)` counts of each clip's comments by age: bin 0 holds those of the last
        `chat_bin_seconds` before the clip's end, bin 1 the seconds before, and so on; older comments fall outside."""
        edges = np.arange(self.chat_time_bins + 1) * self.chat_bin_seconds
        histogram = np.zeros((len(chats), self.chat_time_bins), dtype=np.float32)
        for i, (chat, end) in enumerate(zip(chats, ends)):
            ages = float(end) - np.array([_message_time(m) for m in chat], dtype=np.float64)
            if (ages < 0).any():
                raise ValueError(f"a context comment of clip {i} comes after its chat_end_time ({end})")
            histogram[i] = np.histogram(ages, bins=edges)[0]
        return torch.from_numpy(histogram)

    def encode_targets(self, targets: list[str]) -> torch.Tensor:
        """Target comments as labels: up to `max_comment_length` tokens, then `[SEP]`, padded with -100."""
        ids = [seq[: self.max_comment_length] + [self.comment_end_token_id] for seq in self._tokenize(targets)]
        return self._pad(ids, -100)

    def encode_candidates(self, candidates: list[list[str]]) -> dict[str, torch.Tensor]:
        """Candidate comments for ranking: `candidate_ids` / `candidate_attention_mask` of shape
        (batch, num_candidates, max_comment_length + 1)."""
        num = max(len(c) for c in candidates)
        length = self.max_comment_length + 1
        ids = torch.full((len(candidates), num, length), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, cands in enumerate(candidates):
            for j, seq in enumerate(self._tokenize(list(cands))):
                seq = seq[: self.max_comment_length] + [self.comment_end_token_id]
                ids[i, j, : len(seq)] = torch.tensor(seq, dtype=torch.long)
                mask[i, j, : len(seq)] = 1
        return {"candidate_ids": ids, "candidate_attention_mask": mask}

    def batch_decode(self, sequences, skip_special_tokens: bool = True, **kwargs) -> list[str]:
        """The comments as text. A byte-level tokenizer spells an emoji over several tokens, so a comment cut at
        `max_comment_length` can end inside a character: its partial bytes are dropped rather than shown as U+FFFD."""
        texts = self.tokenizer.batch_decode(sequences, skip_special_tokens=skip_special_tokens, **kwargs)
        return [self._comment_text(text, skip_special_tokens) for text in texts]

    def decode(self, sequence, skip_special_tokens: bool = True, **kwargs) -> str:
        """One comment as text (see `batch_decode`)."""
        return self._comment_text(self.tokenizer.decode(sequence, skip_special_tokens=skip_special_tokens, **kwargs), skip_special_tokens)

    def _comment_text(self, text: str, skip_special_tokens: bool) -> str:
        if skip_special_tokens and self.comment_end is not None:  # the start and end, a plain token, as specials are
            text = text.strip(self.comment_end)
        return text.rstrip(_REPLACEMENT_CHARACTER)

    @property
    def model_input_names(self) -> list[str]:
        return [
            "video_features",
            "video_mask",
            "transcript_input_ids",
            "transcript_attention_mask",
            "chat_input_ids",
            "chat_attention_mask",
            "chat_comment_count",
            "chat_time_histogram",
        ]


__all__ = ["LM_COMMENT_END", "LiveChatProcessor"]
