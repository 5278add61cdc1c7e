"""Fit the activity head of a trained LiveChat model alone.

The head reads detached encoder states (its loss reaches no other weight), so fitting it after training gives the
head that joint training would give on the final encoders, in minutes instead of a whole run: the encoders run once
over the clips, and the head then trains on the cached states. Use it to give an existing model a head with other
inputs (the chat's time bins) or to fit the head on a stream's own chat.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from ..data.clip_inputs import clip_processor_inputs
from ..evaluation.activity import correlation_metrics, response_counts
from ..models.livechat.layers_livechat import LiveChatActivityHead
from ..models.livechat.modeling_livechat import activity_poisson_loss


_ENCODER_INPUTS = (
    "video_features", "video_mask", "transcript_input_ids", "transcript_attention_mask", "chat_input_ids",
    "chat_attention_mask", "chat_comment_count", "chat_time_histogram",
)


@dataclass
class ActivityFit:
    """What `fit_activity_head` did: the epoch kept (0: the head it started from), the training clips it fitted on, and
    the Poisson losses (and validation Spearman) per check."""

    best_epoch: int
    epochs: int
    train_clips: int = 0
    train_loss: list[float] = field(default_factory=list)
    validation_loss: list[float] = field(default_factory=list)
    validation_spearman: list[float] = field(default_factory=list)


def replace_activity_head(
    model, processor, time_bins: int, bin_seconds: float = 2.0, pooling: str = "attention+max", dropout: float = 0.3
) -> None:
    """Give `model` a new, untrained activity head reading `time_bins` bins of `bin_seconds` (0: none), pooling each
    memory by `pooling` (`config.activity_pooling`) with `dropout` on its hidden layer (the presets' head by default),
    and set its processor to count the bins. The rest of the model is untouched."""
    model.config.activity_head = True
    model.config.activity_chat_count = "comments"
    model.config.activity_chat_bins = time_bins
    model.config.activity_bin_seconds = bin_seconds
    model.config.activity_pooling = pooling
    model.config.activity_dropout = dropout
    model.config.validate_architecture()
    head = LiveChatActivityHead(model.config)
    head.apply(model._init_weights)
    model.activity_head = head.to(next(model.parameters()).device)
    processor.chat_time_bins, processor.chat_bin_seconds = time_bins, bin_seconds


def hold_out_latest(rows: Sequence[Mapping], share: float = 0.15) -> tuple[list[Mapping], list[Mapping]]:
    """`(train, validation)`: the latest `share` of each stream's clips (by `context_end`) held out, as a time split
    cuts them, and the training clips that reach into them dropped (sliding clips share comments)."""
    if not 0 < share < 1:
        raise ValueError(f"share must be between 0 and 1, got {share}")
    by_stream: dict[str, list[Mapping]] = {}
    for row in rows:
        by_stream.setdefault(str(row.get("vod_id")), []).append(row)
    train, validation = [], []
    for stream in by_stream.values():
        stream = sorted(stream, key=lambda row: row["context_end"])
        cut = len(stream) - max(1, int(len(stream) * share + 0.5))
        if cut <= 0:
            train += stream
            continue
        boundary = stream[cut]["start"]
        train += [row for row in stream[:cut] if row["end"] <= boundary]
        validation += stream[cut:]
    return train, validation


def clips_slide(train_set) -> bool:
    """Whether a stream's clips overlap (a `--clip-stride` build: a response window every few seconds, as live mode
    reads them) rather than lying back to back. Reads the time columns of a `datasets.Dataset` alone."""
    times = train_set.select_columns(["vod_id", "start", "end"]).to_list()
    by_stream: dict[str, list[tuple[float, float]]] = {}
    for row in times:
        by_stream.setdefault(str(row["vod_id"]), []).append((row["start"], row["end"]))
    for clips in by_stream.values():
        clips.sort()
        if any(next_start < end for (_, end), (next_start, _) in zip(clips, clips[1:])):
            return True
    return False


def validation_or_held_out(train_set, validation_set=None, share: float = 0.15) -> tuple:
    """`(train, validation, held_out)` for choosing the head's epoch: the validation split when there is one, else
    `hold_out_latest` on the training split, read from its time columns alone (`datasets.Dataset`s in and out: the
    rows, frame features and all, are read a batch at a time later)."""
    if validation_set is not None and len(validation_set):
        return train_set, validation_set, False
    times = train_set.select_columns(["vod_id", "start", "context_end", "end"]).to_list()
    kept, held = hold_out_latest([{**row, "index": i} for i, row in enumerate(times)], share)
    return train_set.select([row["index"] for row in kept]), train_set.select([row["index"] for row in held]), True


@torch.no_grad()
def _encode(model, processor, rows: Sequence[Mapping], order: Sequence[int], batch_size: int, desc: str,
            max_bytes: int | None = None) -> tuple[list[tuple], int]:
    """The detached memories, counts and time bins of the clips `rows[i] for i in order`, a batch at a time, with their
    real response counts; stops before the cached states pass `max_bytes`. Returns the batches and the clips cached."""
    encoder = model.get_encoder()
    device = next(model.parameters()).device
    batches, cached, size = [], 0, 0
    for start in tqdm(range(0, len(order), batch_size), desc=desc):
        batch = [rows[i] for i in order[start : start + batch_size]]
        inputs = processor(**clip_processor_inputs(batch, model.config.video_feature_dim), training=False)
        inputs = {name: inputs[name].to(device) for name in _ENCODER_INPUTS if name in inputs}
        encoded = encoder(**inputs)
        memories = encoded.memories()
        size += sum(t.numel() * t.element_size() for pair in memories.values() for t in pair)
        if max_bytes is not None and batches and size > max_bytes:
            break
        batches.append((
            memories, encoded.chat_comment_count, encoded.chat_time_histogram,
            torch.as_tensor(response_counts(batch), dtype=torch.float32, device=device),
        ))
        cached += len(batch)
    return batches, cached


def _evaluate(head, batches) -> tuple[float, np.ndarray]:
    with torch.no_grad():
        log_rates = [head(memories, count, bins) for memories, count, bins, _ in batches]
        loss = sum(activity_poisson_loss(r, b[-1]).item() * len(r) for r, b in zip(log_rates, batches))
        return loss / sum(len(r) for r in log_rates), torch.cat(log_rates).float().exp().cpu().numpy()


def fit_activity_head(
    model,
    processor,
    train_rows: Sequence[Mapping],
    validation_rows: Sequence[Mapping] = (),
    epochs: int = 200,
    learning_rate: float = 3e-3,
    weight_decay: float = 0.01,
    batch_size: int = 32,
    check_every: int = 5,
    seed: int = 0,
    max_cache_bytes: int = 2 << 30,
) -> ActivityFit:
    """Train `model.activity_head` alone on the clips' real response counts (Poisson loss, AdamW, shuffled batches
    of cached encoder states). With validation clips, the head of the check with the lowest validation loss is kept
    (the head it started from included); without, the last one. The model's other weights do not change.

    `train_rows` and `validation_rows` may be lists or `datasets.Dataset`s (read a batch at a time). The cached states
    of the training clips stay under `max_cache_bytes` (2 GiB): on a large dataset the head fits on a random subset
    (`ActivityFit.train_clips` says how many)."""
    if len(train_rows) == 0:
        raise ValueError("no training clips to fit the activity head on")
    if model.activity_head is None:
        raise ValueError("this model has no activity head: replace_activity_head(model, processor, ...) gives one")
    torch.manual_seed(seed)
    model.eval()
    # Batches mix the stream's moments (rows come in time order), and stay fixed while the head trains on them.
    order = np.random.default_rng(seed).permutation(len(train_rows)).tolist()
    train, train_clips = _encode(model, processor, train_rows, order, batch_size, "encoding training clips", max_cache_bytes)
    validation = []
    if len(validation_rows):
        validation, _ = _encode(model, processor, validation_rows, range(len(validation_rows)), batch_size, "encoding validation clips")
    head = model.activity_head
    optimizer = torch.optim.AdamW(head.parameters(), lr=learning_rate, weight_decay=weight_decay)
    fit = ActivityFit(best_epoch=0, epochs=epochs, train_clips=train_clips)
    best_loss, best_state = float("inf"), copy.deepcopy(head.state_dict())
    real = np.concatenate([b[-1].cpu().numpy() for b in validation]) if validation else None
    if validation:  # the head as it came in is a candidate too
        head.eval()
        best_loss = _evaluate(head, validation)[0]
    head.train()
    progress = tqdm(range(1, epochs + 1), desc="fitting the activity head")
    for epoch in progress:
        for index in torch.randperm(len(train)).tolist():
            memories, count, bins, labels = train[index]
            loss = activity_poisson_loss(head(memories, count, bins), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if epoch % check_every and epoch != epochs:
            continue
        head.eval()
        fit.train_loss.append(_evaluate(head, train)[0])
        if validation:
            loss, predicted = _evaluate(head, validation)
            fit.validation_loss.append(loss)
            fit.validation_spearman.append(correlation_metrics(predicted, real)["spearman"])
        head.train()
        watched = fit.validation_loss[-1] if validation else -epoch  # without validation: the latest
        if watched < best_loss:
            best_loss, best_state, fit.best_epoch = watched, copy.deepcopy(head.state_dict()), epoch
        progress.set_postfix(train=f"{fit.train_loss[-1]:.3f}", validation=f"{fit.validation_loss[-1]:.3f}" if validation else "-")
    head.load_state_dict(best_state)
    head.eval()
    return fit
