"""Processor for V2LC: segments' frame features and their live comments in; model inputs out."""

from collections.abc import Sequence

import numpy as np
import torch
from transformers import BatchFeature, ProcessorMixin


# Copied from hf_livechat.models.livechat.processing_livechat._message_text with message->comment
def _comment_text(comment) -> str:
    """Accepts plain strings, dicts with a `text` key, and objects with a `.text` attribute (ChatMessage)."""
    if isinstance(comment, str):
        return comment
    if isinstance(comment, dict):
        return comment["text"]
    return comment.text


class V2LCProcessor(ProcessorMixin):
    r"""
    Builds [`V2LCModel`] inputs: pads per-second frame features into `video_features` / `video_mask`, and tokenizes
    comments with the text tower's tokenizer (with its special tokens, as the tower was pretrained).

    Args:
        tokenizer ([`PreTrainedTokenizerFast`]):
            The text tower's tokenizer (e.g. all-MiniLM-L6-v2's BERT uncased WordPiece).
        max_comment_length (`int`, defaults to 32):
            Tokens per comment, special tokens included (live comments are short).
        max_comments_per_segment (`int`, *optional*):
            Comments kept per segment (the first ones); all when `None`.
    """

    tokenizer_class = "AutoTokenizer"

    def __init__(self, tokenizer=None, max_comment_length: int = 32, max_comments_per_segment: int | None = None, **kwargs):
        self.max_comment_length = max_comment_length
        self.max_comments_per_segment = max_comments_per_segment
        super().__init__(tokenizer, **kwargs)

    def __call__(
        self,
        video_features=None,
        comments: Sequence[Sequence] | None = None,
        text: str | Sequence[str] | None = None,
        return_tensors: str = "pt",
        **kwargs,
    ) -> BatchFeature:
        r"""
        Args:
            video_features: one segment's `(frames, dim)` array, or a list of them (frame counts may differ).
            comments: the comments of each segment (a list per segment: strings, dicts with `text`, or
                `ChatMessage`s). Gives `input_ids` of shape `(segments, max_comments, length)`; the missing comments of
                a segment are padding rows (all-zero attention mask), which the model skips.
            text: one comment or a flat list of comments (e.g. retrieval queries): `input_ids` of shape
                `(comments, length)`.

        Returns:
            [`BatchFeature`] with `video_features`, `video_mask`, `input_ids`, `attention_mask` (and
            `token_type_ids` when the tokenizer makes them) for the inputs given.
        """
        if return_tensors != "pt":
            raise ValueError("V2LCProcessor only returns PyTorch tensors (return_tensors='pt')")
        if comments is not None and text is not None:
            raise ValueError("Pass comments (grouped per segment) or text (a flat list), not both")
        data = {}
        if video_features is not None:
            data.update(self.pad_video_features(video_features))
        if comments is not None:
            if video_features is not None and len(comments) != data["video_features"].shape[0]:
                raise ValueError(f"{len(comments)} comment lists for {data['video_features'].shape[0]} segments")
            data.update(self.encode_comments(comments))
        if text is not None:
            data.update(self.encode_text([text] if isinstance(text, str) else list(text)))
        if not data:
            raise ValueError("Nothing to process: pass video_features, comments and/or text")
        return BatchFeature(data=data, tensor_type=None)

    @staticmethod
    def pad_video_features(video_features) -> dict[str, torch.Tensor]:
        """`(frames, dim)` arrays -> zero-padded `video_features` (batch, max_frames, dim) and `video_mask`."""
        if isinstance(video_features, (np.ndarray, torch.Tensor)) and video_features.ndim == 2:
            video_features = [video_features]
        batch = [torch.as_tensor(np.asarray(f) if not isinstance(f, torch.Tensor) else f, dtype=torch.float32) for f in video_features]
        for i, features in enumerate(batch):
            if features.ndim != 2:
                raise ValueError(f"video_features[{i}] must have shape (frames, feature_dim), got {tuple(features.shape)}")
        dims = {f.shape[1] for f in batch}
        if len(dims) > 1:
            raise ValueError(f"video_features of one batch must share the feature dimension, got {sorted(dims)}")
        frames = max(f.shape[0] for f in batch)
        features = torch.zeros(len(batch), frames, dims.pop())
        mask = torch.zeros(len(batch), frames, dtype=torch.long)
        for i, f in enumerate(batch):
            features[i, : f.shape[0]] = f
            mask[i, : f.shape[0]] = 1
        return {"video_features": features, "video_mask": mask}

    def encode_text(self, texts: list) -> dict[str, torch.Tensor]:
        """Flat comments -> `(comments, length)` token ids and masks."""
        encoded = self.tokenizer(
            [_comment_text(t) for t in texts],
            truncation=True,
            max_length=self.max_comment_length,
            padding=True,
            return_tensors="pt",
        )
        return dict(encoded)

    def encode_comments(self, comments: Sequence[Sequence]) -> dict[str, torch.Tensor]:
        """Comments grouped per segment -> `(segments, max_comments, length)` token ids and masks."""
        keep = self.max_comments_per_segment
        groups = [[_comment_text(c) for c in group][:keep] for group in comments]
        flat = [c for group in groups for c in group]
        if not flat:
            raise ValueError("No comments to encode: every segment's comment list is empty")
        encoded = self.encode_text(flat)
        num_comments = max(len(g) for g in groups)
        out = {key: value.new_zeros(len(groups), num_comments, value.shape[1]) for key, value in encoded.items()}
        start = 0
        for i, group in enumerate(groups):
            for key, value in encoded.items():
                out[key][i, : len(group)] = value[start : start + len(group)]
            start += len(group)
        return out

    def batch_decode(self, sequences, skip_special_tokens: bool = True, **kwargs) -> list[str]:
        return self.tokenizer.batch_decode(sequences, skip_special_tokens=skip_special_tokens, **kwargs)

    @property
    def model_input_names(self) -> list[str]:
        return ["video_features", "video_mask", "input_ids", "attention_mask", "token_type_ids"]


__all__ = ["V2LCProcessor"]
