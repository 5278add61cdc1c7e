"""Data collators that turn dataset clip rows into LiveChat batches.

Rows are those of a `hf-livechat build-dataset` folder (`video_features`, `transcript`, `context_comments`,
`response_comments`, ...). Keep `remove_unused_columns=False` in the training arguments: the collators need the
raw columns.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import torch
from transformers import TrainerCallback

from ..data.clip_inputs import MODALITIES, clip_processor_inputs


def _stable_index(key: str, size: int) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little") % size


@dataclass
class DataCollatorForCommentGeneration:
    """Builds comment-generation batches; the target is one comment of the clip's response window.

    In training (`random_target=True`) the target is drawn uniformly at random from the window anew in every epoch
    (the LiveChat paper's augmentation). The draw is a hash of `(seed, epoch, clip_id)`, not a stateful generator, so
    a run resumed from a checkpoint, or split over several processes, draws exactly the targets an uninterrupted
    single-process run draws. `EpochCallback` keeps `epoch` in step with the Trainer. With `random_target=False` the
    choice is fixed per clip, for evaluation losses that are comparable across runs.

    Args:
        processor: a `LiveChatProcessor`.
        random_target: draw the target at random per epoch (training) or keep one per clip (evaluation).
        training: keep the training number of context comments (`max_context_comments`) instead of the evaluation one.
        seed: seed of the draws.
        drop_modalities: modalities removed as empty inputs from every clip (ablations).
        modality_dropout: probability that each modality of each clip is removed, drawn anew every epoch (with
            `random_target`) like the target: users often have the video only, and a model that never saw a
            modality missing in training does not know what to do without it.
        unconditional_rate: probability that a clip loses all three modalities at once (drawn before
            `modality_dropout`), as classifier-free guidance trains its unconditional model: the same weights then
            know what chat says with no clip at all, which contrastive ranking (`prior_weight`) and guided decoding
            (`guidance_scale`) subtract.
        video_feature_dim: size of a frame feature; with it, a batch whose clips have no frames still gets
            `(0, dim)` video inputs, so every parameter takes part in every step (DDP needs that).
        activity_labels: add `activity_labels`, each clip's number of response comments, the target of the model's
            activity head (turn off for a model built with `activity_head=False`). Quiet clips (no response comment,
            built with `--min-response-comments 0`) then get no target tokens (labels all -100) and teach only the
            head; without activity labels such a clip is an error.
        targets_per_clip: comments of each clip's response window used as targets at once, drawn without
            replacement (a window with fewer gives all of its comments; the rest of its rows are `-100`). With more
            than one, `labels` has `targets_per_clip` rows per clip and the batch says so to the model
            (`targets_per_clip`): an LM decoder then reads the clip's prefix once for all of them.
    """

    processor: object
    random_target: bool = True
    training: bool = True
    seed: int = 0
    drop_modalities: tuple[str, ...] = ()
    modality_dropout: float = 0.0
    unconditional_rate: float = 0.0
    video_feature_dim: int | None = None
    activity_labels: bool = True
    targets_per_clip: int = 1
    epoch: int = 0

    def __post_init__(self):
        for name in ("modality_dropout", "unconditional_rate"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if self.targets_per_clip < 1:
            raise ValueError(f"targets_per_clip must be >= 1, got {self.targets_per_clip}")

    def choose_targets(self, row: dict) -> list[str | None]:
        """`targets_per_clip` targets of the clip (`choose_target`'s one when it is 1); `None` where there is none."""
        if self.targets_per_clip == 1:
            return [self.choose_target(row)]
        comments, key = row["response_comments"], self._draw_key(row)
        order = [] if key is None else np.random.default_rng(_stable_index(key, 2**63)).permutation(len(comments))
        drawn = [comments[i]["text"] for i in order[: self.targets_per_clip]]
        return drawn + [None] * (self.targets_per_clip - len(drawn))

    def _draw_key(self, row: dict) -> str | None:
        """What the clip's target draw is keyed on; `None` for a quiet clip when the activity head trains on it."""
        clip_id = row.get("clip_id")
        if not row["response_comments"]:
            if self.activity_labels:
                return None
            raise ValueError(f"clip {clip_id or '?'} has no response comment to use as a target")
        if clip_id is None:
            raise ValueError("clip rows need a 'clip_id' (the target draw is keyed on it)")
        return f"{self.seed}:{self.epoch}:{clip_id}" if self.random_target else str(clip_id)

    def choose_target(self, row: dict) -> str | None:
        """The clip's target comment; `None` for a quiet clip (no response comment) when the activity head trains on
        it (its count, 0, is all there is to learn)."""
        key = self._draw_key(row)
        if key is None:
            return None
        comments = row["response_comments"]
        return comments[_stable_index(key, len(comments))]["text"]

    def dropped_modalities(self, row: dict) -> tuple[str, ...]:
        """The modalities removed from this clip in this epoch (hash draws, as the target): all of them with
        probability `unconditional_rate`, else each with probability `modality_dropout`."""
        epoch = self.epoch if self.random_target else 0

        def drawn(name: str, probability: float) -> bool:
            return _stable_index(f"{self.seed}:{epoch}:{row.get('clip_id')}:{name}", 1_000_000) < probability * 1_000_000

        if self.unconditional_rate and drawn("unconditional", self.unconditional_rate):
            return MODALITIES
        if not self.modality_dropout:
            return ()
        return tuple(name for name in MODALITIES if drawn(name, self.modality_dropout))

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        targets = [target for r in rows for target in self.choose_targets(r)]
        quiet = [i for i, target in enumerate(targets) if target is None]
        inputs = clip_processor_inputs(
            rows,
            video_feature_dim=self.video_feature_dim,
            ablate=self.drop_modalities,
            row_ablations=[self.dropped_modalities(r) for r in rows],
        )
        batch = dict(self.processor(**inputs, training=self.training))
        batch["labels"] = self.processor.encode_targets([t or "" for t in targets])
        if quiet:
            batch["labels"][quiet] = -100  # nothing to say: these rows teach nothing, quiet clips only the activity head
        if self.targets_per_clip > 1:
            batch["targets_per_clip"] = self.targets_per_clip
        if self.activity_labels:
            batch["activity_labels"] = torch.tensor([float(len(r["response_comments"])) for r in rows])
        return batch


class EpochCallback(TrainerCallback):
    """Tells a collator which epoch the Trainer is in (also after resuming mid-epoch)."""

    def __init__(self, collator):
        self.collator = collator

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.collator.epoch = int(state.epoch or 0)


@dataclass
class DataCollatorForLiveChatPretraining:
    """Masked-LM batches over transcript and chat tokens: `mlm_probability` of the real tokens are chosen, of which
    `mask_share` become `[MASK]` and the rest is split evenly between a random token and the unchanged one (BERT's
    80/10/10 by default; the LiveChat reference code masks all: 1.0); labels hold the original ids there and -100
    elsewhere."""

    processor: object
    mlm_probability: float = 0.15
    mask_share: float = 0.8
    training: bool = True
    seed: int | None = None
    _generator: torch.Generator | None = field(init=False, repr=False)

    def __post_init__(self):
        if not 0 <= self.mask_share <= 1:
            raise ValueError(f"mask_share must be in [0, 1], got {self.mask_share}")
        # None: torch's global generator, restored by the Trainer when a run resumes.
        self._generator = torch.Generator().manual_seed(self.seed) if self.seed is not None else None

    def mask_tokens(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        tokenizer = self.processor.tokenizer
        special = torch.tensor(sorted(set(tokenizer.all_special_ids)))
        candidates = attention_mask.bool() & ~torch.isin(input_ids, special)
        chosen = candidates & (torch.rand(input_ids.shape, generator=self._generator) < self.mlm_probability)
        labels = input_ids.masked_fill(~chosen, -100)
        masked = input_ids.clone()
        roll = torch.rand(input_ids.shape, generator=self._generator)
        masked[chosen & (roll < self.mask_share)] = tokenizer.mask_token_id
        random_positions = chosen & (roll >= self.mask_share) & (roll < (1 + self.mask_share) / 2)
        masked[random_positions] = torch.randint(len(tokenizer), input_ids.shape, generator=self._generator)[random_positions]
        return masked, labels

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        batch = dict(self.processor(**clip_processor_inputs(rows), training=self.training))
        for name in ("transcript", "chat"):
            ids, mask = batch[f"{name}_input_ids"], batch[f"{name}_attention_mask"]
            batch[f"{name}_input_ids"], batch[f"{name}_labels"] = self.mask_tokens(ids, mask)
        return batch
