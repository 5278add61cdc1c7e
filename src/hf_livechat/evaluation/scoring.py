"""Scores candidate comments with a LiveChat model, in batches, and evaluates the ranking.

`rank_candidates` runs the encoders once per clip and every candidate of a batch of clips in one decoder pass
(`LiveChatForCommentGeneration.score_candidates`). `score_candidates_one_by_one` is the naive reference, one full
forward per candidate, kept to check that both agree and to measure the speed-up (`bench/bench_ranking.py`).

Modality ablation evaluates the model with a modality removed the way a clip without it looks: no frames for
`"video"`, an empty transcript for `"transcript"`, no context comments for `"chat"`.

Scoring is contrastive by default: `log P(c | clip) - prior_weight * log P(c | no modality)`
(`DEFAULT_PRIOR_WEIGHT`). The likelihood alone (`prior_weight=0`, the papers' protocol) ranks first the comments chat
writes at every moment; subtracting what the same model expects with every modality removed ranks a comment by
how much this clip raises it. The unconditional scores do not depend on the clip, so they are computed once per
candidate set and shared by every ablation.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from tqdm.auto import tqdm

from ..data.clip_inputs import MODALITIES, check_ablation, clip_processor_inputs
from .candidates import CandidateSet
from .defaults import DEFAULT_PRIOR_WEIGHT
from .ranking_metrics import ranking_metrics


def _model_inputs(processor, model, rows, ablate) -> dict[str, torch.Tensor]:
    inputs = processor(**clip_processor_inputs(rows, model.config.video_feature_dim, ablate))
    return {
        key: value.to(model.device, dtype=model.dtype if value.is_floating_point() else None)
        for key, value in inputs.items()
    }


def _check_candidate_sets(rows, candidate_sets: Sequence[CandidateSet]) -> int:
    if not candidate_sets:
        raise ValueError("No candidate sets to score")
    sizes = {len(s.candidates) for s in candidate_sets}
    if len(sizes) != 1:
        raise ValueError(f"Candidate sets must all have the same number of candidates, got sizes {sorted(sizes)}")
    for s in candidate_sets:
        if not 0 <= s.query_index < len(rows):
            raise ValueError(
                f"Candidate set query_index {s.query_index} is not a row index (there are {len(rows)} rows)"
            )
    return sizes.pop()


@contextmanager
def _eval_mode(model) -> Iterator[None]:
    """No dropout while scoring; the model's training flag is restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


@torch.no_grad()
def rank_candidates(
    model,
    processor,
    rows: Sequence[Mapping],
    candidate_sets: Sequence[CandidateSet],
    batch_size: int = 8,
    device: str | torch.device | None = None,
    ablate: Iterable[str] = (),
    length_normalize: bool = True,
    show_progress: bool = True,
    prior_weight: float = DEFAULT_PRIOR_WEIGHT,
    prior_scores: np.ndarray | None = None,
) -> np.ndarray:
    """Scores of every candidate of every set, encoders run once per clip: the log-likelihood, minus
    `prior_weight` times the unconditional log-likelihood (`prior_scores`, from `unconditional_scores`; computed
    here when not given).

    Args:
        model: a `LiveChatForCommentGeneration`.
        processor: its `LiveChatProcessor`.
        rows: the clips (`video_features`, `transcript`, `context_comments`); `CandidateSet.query_index` indexes them.
        candidate_sets: the sets to score, all of the same size K (see `build_candidates`).
        batch_size: clips per forward pass (each carries its K candidates through the decoder).
        device: moves the model there first; by default it stays where it is.
        ablate: modalities to remove (`"video"`, `"transcript"`, `"chat"`).
        length_normalize: mean (default) or sum of the candidate's token log-probabilities.
        show_progress: show a tqdm progress bar.
        prior_weight: weight of the unconditional term (0: the likelihood alone, as `score_candidates_one_by_one`).
        prior_scores: `(Q, K)` unconditional scores of the same sets (shared across ablations).

    Returns:
        `(Q, K)` float32 scores in `candidate_sets` order; higher is better.
    """
    _check_candidate_sets(rows, candidate_sets)
    ablate = check_ablation(ablate)
    if device is not None:
        model.to(device)
    if prior_weight and prior_scores is None:
        prior_scores = unconditional_scores(model, processor, candidate_sets, batch_size, length_normalize=length_normalize)
    scores = []
    with _eval_mode(model):
        for start in tqdm(
            range(0, len(candidate_sets), batch_size), desc="Scoring candidates", disable=not show_progress
        ):
            batch = candidate_sets[start : start + batch_size]
            inputs = _model_inputs(processor, model, [rows[s.query_index] for s in batch], ablate)
            candidates = processor.encode_candidates([s.candidates for s in batch])
            batch_scores = model.score_candidates(
                candidate_ids=candidates["candidate_ids"].to(model.device),
                candidate_attention_mask=candidates["candidate_attention_mask"].to(model.device),
                length_normalize=length_normalize,
                **inputs,
            )
            scores.append(batch_scores.float().cpu().numpy())
    scores = np.concatenate(scores, axis=0)
    return scores - prior_weight * prior_scores if prior_weight else scores


@torch.no_grad()
def unconditional_scores(
    model, processor, candidate_sets: Sequence[CandidateSet], batch_size: int = 64, length_normalize: bool = True
) -> np.ndarray:
    """`log P(c | no modality)` of every candidate, `(Q, K)` float32: the model with all three modalities removed
    (null memories). It does not depend on the clip, so one pass serves every ablation."""
    scores = []
    with _eval_mode(model):
        for start in range(0, len(candidate_sets), batch_size):
            candidates = processor.encode_candidates([s.candidates for s in candidate_sets[start : start + batch_size]])
            scores.append(
                model.unconditional_candidate_scores(
                    candidates["candidate_ids"].to(model.device),
                    candidates["candidate_attention_mask"].to(model.device),
                    length_normalize=length_normalize,
                ).float().cpu().numpy()
            )
    return np.concatenate(scores, axis=0)


@torch.no_grad()
def score_candidates_one_by_one(
    model,
    processor,
    rows: Sequence[Mapping],
    candidate_sets: Sequence[CandidateSet],
    device: str | torch.device | None = None,
    ablate: Iterable[str] = (),
    length_normalize: bool = True,
    show_progress: bool = False,
    prior_weight: float = DEFAULT_PRIOR_WEIGHT,
) -> np.ndarray:
    """Reference implementation of `rank_candidates`: one full forward (encoders and decoder) per candidate, no
    padding, the score read from the model's own training loss; the unconditional term is the same with all three
    modalities ablated. Slow; for tests and benchmarks."""
    num_candidates = _check_candidate_sets(rows, candidate_sets)
    ablate = check_ablation(ablate)
    if prior_weight:
        likelihood = score_candidates_one_by_one(
            model, processor, rows, candidate_sets, device, ablate, length_normalize, show_progress, prior_weight=0.0
        )
        unconditional = score_candidates_one_by_one(
            model, processor, rows, candidate_sets, device, MODALITIES, length_normalize, show_progress, prior_weight=0.0
        )
        return likelihood - prior_weight * unconditional
    if device is not None:
        model.to(device)
    scores = np.zeros((len(candidate_sets), num_candidates), dtype=np.float32)
    with _eval_mode(model):
        for q, candidate_set in enumerate(tqdm(candidate_sets, desc="Scoring one by one", disable=not show_progress)):
            inputs = _model_inputs(processor, model, [rows[candidate_set.query_index]], ablate)
            for k, candidate in enumerate(candidate_set.candidates):
                labels = processor.encode_targets([candidate]).to(model.device)
                mean_nll = model(**inputs, labels=labels).loss  # mean over the candidate's tokens
                num_tokens = int(labels.ne(-100).sum())
                scores[q, k] = -float(mean_nll) * (1 if length_normalize else num_tokens)
    return scores


def evaluate_ranking(
    model,
    processor,
    rows: Sequence[Mapping],
    candidate_sets: Sequence[CandidateSet],
    batch_size: int = 8,
    device: str | torch.device | None = None,
    ablate: Iterable[str] = (),
    paper_metric: bool = False,
    show_progress: bool = True,
    groups: Sequence[str] | None = None,
    length_normalize: bool = True,
    prior_weight: float = DEFAULT_PRIOR_WEIGHT,
    prior_scores: np.ndarray | None = None,
    compare_prior_weights: Sequence[float] = (),
) -> dict:
    """Scores the candidate sets (`rank_candidates`) and returns `ranking_metrics` for them, with `"scoring"` naming
    the score. With `groups` (a label per candidate set), the result also holds `"recall@1 by group"`:
    `{"<label> (<count>)": recall@1}`. `length_normalize=False` ranks by the sum of the candidate's token
    log-probabilities, as the reference code does (it favours short candidates); the default, the mean, does not.
    `compare_prior_weights` adds `"by prior weight"`: the same metrics for other weights, from the same forward
    passes."""
    likelihood = rank_candidates(
        model,
        processor,
        rows,
        candidate_sets,
        batch_size=batch_size,
        device=device,
        ablate=ablate,
        show_progress=show_progress,
        length_normalize=length_normalize,
        prior_weight=0.0,
    )
    weights = [prior_weight, *compare_prior_weights]
    if any(weights) and prior_scores is None:
        prior_scores = unconditional_scores(model, processor, candidate_sets, batch_size, length_normalize=length_normalize)

    def metrics_at(weight: float) -> dict:
        scores = likelihood - weight * prior_scores if weight else likelihood
        return _ranking_report(scores, candidate_sets, groups, paper_metric, weight, length_normalize)

    metrics = metrics_at(prior_weight)
    if compare_prior_weights:
        metrics["by prior weight"] = {float(weight): metrics_at(weight) for weight in compare_prior_weights}
    return metrics


def scoring_name(prior_weight: float, length_normalize: bool = True) -> str:
    """How candidates were scored, for reports."""
    term = "mean" if length_normalize else "sum"
    if not prior_weight:
        return f"likelihood ({term} log P(c | clip))"
    return f"contrastive ({term} log P(c | clip) - {prior_weight:g} x {term} log P(c | no modality))"


def _ranking_report(scores, candidate_sets, groups, paper_metric, prior_weight, length_normalize) -> dict:
    protocols = {s.protocol for s in candidate_sets}
    positives = [s.positive_indices for s in candidate_sets]
    metrics = ranking_metrics(
        scores,
        positives,
        protocol=protocols.pop() if len(protocols) == 1 else "+".join(sorted(protocols)),
        paper_metric=paper_metric,
    )
    metrics["scoring"] = scoring_name(prior_weight, length_normalize)
    metrics["prior_weight"] = float(prior_weight)
    if groups is not None:
        if len(groups) != len(candidate_sets):
            raise ValueError(f"groups has {len(groups)} labels for {len(candidate_sets)} candidate sets")
        labels = np.asarray(groups)
        metrics["recall@1 by group"] = {
            f"{label} ({int((labels == label).sum())})": ranking_metrics(
                scores[labels == label], [p for p, keep in zip(positives, labels == label) if keep], paper_metric=paper_metric
            )["recall@1"]
            for label in dict.fromkeys(groups)
        }
    return metrics


__all__ = [
    "DEFAULT_PRIOR_WEIGHT",
    "evaluate_ranking",
    "rank_candidates",
    "score_candidates_one_by_one",
    "scoring_name",
    "unconditional_scores",
]
