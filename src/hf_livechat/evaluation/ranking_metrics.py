"""Ranking metrics for candidate comments: Recall@k, mean rank and MRR of the ground truth.

The input is a `(num_queries, num_candidates)` score matrix (higher = more likely) and the positions of each query's
ground truth(s). The *rank* of a query is the rank of its best-ranked ground truth: 1 plus the number of distractors
(non-ground-truth candidates) that score above it. Distractors that score exactly as high count as above it
(`ties="pessimistic"`, the default), so a model that gives every candidate the same score gets the worst rank, not
the best; `ties="optimistic"` counts them below.

`paper_metric=True` reproduces the way the published LiveChat evaluation turned scores into ranks, which over-states
R@k for k > 1, mean rank and MRR (see `paper_ranks`). Its results carry `protocol="<protocol>+paper_metric"`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


RECALL_AT = (1, 2, 5, 10)
TIE_RULES = ("pessimistic", "optimistic")


class RankingInputError(ValueError):
    """Scores and positives do not describe a valid ranking problem."""


def positive_mask(positive_indices: Sequence, num_candidates: int) -> np.ndarray:
    """`(Q, K)` boolean mask from one ground-truth index per query, or a list of indices per query."""
    mask = np.zeros((len(positive_indices), num_candidates), dtype=bool)
    for query, positives in enumerate(positive_indices):
        positives = np.atleast_1d(np.asarray(positives))
        if positives.size == 0:
            raise RankingInputError(f"query {query} has no ground-truth candidate")
        if not np.issubdtype(positives.dtype, np.integer) or positives.min() < 0 or positives.max() >= num_candidates:
            raise RankingInputError(
                f"query {query}: ground-truth indices {positives.tolist()} not in [0, {num_candidates})"
            )
        mask[query, positives] = True
    return mask


def _check_scores(scores, positive_indices) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[0] == 0 or scores.shape[1] == 0:
        raise RankingInputError(f"scores must have shape (num_queries > 0, num_candidates > 0), got {scores.shape}")
    if len(positive_indices) != scores.shape[0]:
        raise RankingInputError(f"{len(positive_indices)} ground-truth entries for {scores.shape[0]} queries")
    if np.isnan(scores).any():
        raise RankingInputError("scores contain NaN")
    return scores


def ground_truth_ranks(scores, positive_indices: Sequence, ties: str = "pessimistic") -> np.ndarray:
    """Rank (1 = best) of each query's best-ranked ground truth among its candidates.

    Args:
        scores: `(Q, K)` candidate scores, higher is better.
        positive_indices: per query, the index of its ground truth or a list of indices (multi-positive, `livebot`).
        ties: `"pessimistic"`: distractors with the same score as the best ground truth rank above it;
            `"optimistic"`: below it. Ground truths never push each other down.

    Returns:
        `(Q,)` integer ranks.
    """
    if ties not in TIE_RULES:
        raise RankingInputError(f"ties must be one of {TIE_RULES}, got {ties!r}")
    scores = _check_scores(scores, positive_indices)
    is_positive = positive_mask(positive_indices, scores.shape[1])
    best_positive = np.where(is_positive, scores, -np.inf).max(axis=1, keepdims=True)
    distractors = ~is_positive
    ahead = (scores > best_positive) & distractors
    if ties == "pessimistic":
        ahead |= (scores == best_positive) & distractors
    return 1 + ahead.sum(axis=1)


def paper_ranks(scores, positive_indices: Sequence) -> np.ndarray:
    """Ranks as the published LiveChat evaluation computed them: *not* the rank of the ground truth.

    Each candidate list is put in the published order: the ground truth first, then the other candidates in their
    list order. The candidates are sorted by score (a stable sort, so ties keep that order) and the "rank" is the
    list position of the top-scored candidate plus one, `argsort(-scores)[0] + 1`, where the rank of the ground
    truth would be the position of index 0 in that sorted order. So:

    - rank 1 whenever the top-scored candidate is the ground truth, and R@1 is right (it equals the true R@1 with
      ties broken in favour of the ground truth: a model that scores every candidate alike gets R@1 = 100 %);
    - otherwise the rank is the list position of the model's wrong favourite, whatever the rank of the ground truth.
      The published candidate lists hold the distractors most-similar-first (`build_candidates(shuffle=False)`
      order), and a model that misses the ground truth tends to pick a distractor close to the context, that is one
      near the front: R@2/R@5, mean rank and MRR then look better than the ground truth's real ranks. On shuffled
      lists the wrong favourite's position is uniform, so these numbers measure nothing about the ground truth.

    Only defined for one ground truth per query.
    """
    scores = _check_scores(scores, positive_indices)
    if any(np.atleast_1d(p).size != 1 for p in positive_indices):
        raise RankingInputError("paper_metric=True is only defined for one ground truth per query (not for livebot)")
    num_queries, num_candidates = scores.shape
    ground_truth = positive_mask(positive_indices, num_candidates).argmax(axis=1)
    others = np.arange(num_candidates - 1)[None, :].repeat(num_queries, axis=0)
    others += others >= ground_truth[:, None]
    published_order = np.concatenate([ground_truth[:, None], others], axis=1)
    reordered = np.take_along_axis(scores, published_order, axis=1)
    # np.argmax returns the first maximum: the same candidate as a stable descending sort puts first.
    return 1 + np.argmax(reordered, axis=1)


def ranking_metrics(
    scores,
    positive_indices: Sequence,
    protocol: str | None = None,
    paper_metric: bool = False,
    ties: str = "pessimistic",
) -> dict:
    """Recall@1/2/5/10, mean rank and mean reciprocal rank of the ground truth.

    Args:
        scores: `(Q, K)` candidate scores, higher is better (e.g. `rank_candidates` output).
        positive_indices: per query, the ground-truth index or indices (`CandidateSet.positive_indices`).
        protocol: the candidate protocol, copied into the result.
        paper_metric: use `paper_ranks` (the published LiveChat computation, inflated) instead of the true ranks;
            the result's `protocol` then ends in `"+paper_metric"`.
        ties: tie rule for the true ranks (see `ground_truth_ranks`).

    Returns:
        `{"recall@1", "recall@2", "recall@5", "recall@10", "mean_rank", "mrr", "num_queries", "protocol"}`; recalls
        and MRR are fractions in [0, 1].
    """
    ranks = (
        paper_ranks(scores, positive_indices) if paper_metric else ground_truth_ranks(scores, positive_indices, ties)
    )
    if paper_metric:
        protocol = f"{protocol or 'unknown'}+paper_metric"
    metrics = {f"recall@{k}": float(np.mean(ranks <= k)) for k in RECALL_AT}
    metrics.update(
        mean_rank=float(np.mean(ranks)),
        mrr=float(np.mean(1.0 / ranks)),
        num_queries=int(ranks.size),
        protocol=protocol,
    )
    return metrics


__all__ = ["RECALL_AT", "RankingInputError", "ground_truth_ranks", "paper_ranks", "positive_mask", "ranking_metrics"]
