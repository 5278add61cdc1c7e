"""Batching for the affect fusion classifier: pads every modality's feature sequence and builds its mask.

The affect counterpart of LiveChat's `training/collators.py`; V2LC's collator is `training.v2lc.V2LCCollator`.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch


FEATURE_KEYS = ("text_features", "acoustic_features", "visual_features", "live_comment_features")
TOKEN_KEYS = ("input_ids", "attention_mask", "token_type_ids")


@dataclass
class AffectFusionCollator:
    """Collates affect benchmark rows (as the `hf_livechat.data.benchmarks` loaders make them) into
    [`AffectFusionForSequenceClassification`] inputs.

    `*_features` of shape `(steps, dim)` are zero-padded to the longest in the batch with a `*_mask`; `(dim,)`
    vectors are stacked. `label` / `labels` become `labels` (long for integer labels, float otherwise). Other columns
    (ids, raw text) are dropped.

    Args:
        label_column: the row key holding the target (`"label"` by default; `"labels"` is also accepted).
        text_input: `"features"` passes `text_features` (and drops token ids); `"tokens"` passes `input_ids` /
            `attention_mask` / `token_type_ids`, right-padded with `pad_token_id` (and drops `text_features`), for a
            model with a text encoder (`config.text_config` set).
        pad_token_id: padding id for `input_ids`.
        use_live_comment_features: `False` drops `live_comment_features` (the ablation).
    """

    label_column: str = "label"
    text_input: str = "features"
    pad_token_id: int = 0
    use_live_comment_features: bool = True

    def __post_init__(self):
        if self.text_input not in ("features", "tokens"):
            raise ValueError(f"text_input must be 'features' or 'tokens', got {self.text_input!r}")

    def __call__(self, rows: Sequence[dict]) -> dict[str, torch.Tensor]:
        batch = {}
        for key in FEATURE_KEYS:
            if key == "live_comment_features" and not self.use_live_comment_features:
                continue
            if key == "text_features" and self.text_input == "tokens":
                continue
            values = [row.get(key) for row in rows]
            if all(v is None for v in values):
                continue
            if any(v is None for v in values):
                raise ValueError(f"Some rows of the batch have {key} and others do not")
            batch.update(self.pad_features(key, values))
        for key in TOKEN_KEYS:
            if self.text_input == "tokens" and rows[0].get(key) is not None:
                pad = self.pad_token_id if key == "input_ids" else 0
                sequences = [torch.as_tensor(np.asarray(row[key]), dtype=torch.long) for row in rows]
                batch[key] = torch.nn.utils.rnn.pad_sequence(sequences, batch_first=True, padding_value=pad)
        label_key = self.label_column if self.label_column in rows[0] else ("labels" if "labels" in rows[0] else None)
        if label_key is not None and rows[0][label_key] is not None:
            labels = np.asarray([row[label_key] for row in rows])
            dtype = torch.long if np.issubdtype(labels.dtype, np.integer) or labels.dtype == bool else torch.float32
            batch["labels"] = torch.as_tensor(labels.astype(np.int64) if dtype == torch.long else labels, dtype=dtype)
        return batch

    @staticmethod
    def pad_features(key: str, values: list) -> dict[str, torch.Tensor]:
        arrays = [torch.as_tensor(np.asarray(v, dtype=np.float32)) for v in values]
        sequences = [a for a in arrays if a.dim() == 2]
        if not sequences:
            return {key: torch.stack(arrays)}
        # An example without any step comes out of `datasets` as an empty list: give it the feature width.
        arrays = [a.reshape(0, sequences[0].shape[-1]) if a.numel() == 0 else a for a in arrays]
        lengths = [a.shape[0] for a in arrays]
        padded = torch.zeros(len(arrays), max(max(lengths), 1), arrays[0].shape[-1])
        mask = torch.zeros(padded.shape[:2], dtype=torch.long)
        for i, a in enumerate(arrays):
            padded[i, : a.shape[0]] = a
            mask[i, : a.shape[0]] = 1
        return {key: padded, key.replace("_features", "_mask"): mask}


__all__ = ["AffectFusionCollator"]
