"""Evaluation of live-comment models: candidate protocols, batched candidate scoring, ranking and generation metrics.

    from hf_livechat.evaluation import build_candidates, evaluate_ranking
    from hf_livechat.evaluation.generation_metrics import generation_metrics

    sets = build_candidates(rows, protocol="livechat", seed=0)
    evaluate_ranking(model, processor, rows, sets)      # {"recall@1": ..., "mean_rank": ..., "mrr": ..., ...}
    generation_metrics(predictions, references)          # BLEU, ROUGE-L, distinct-1/2 (+ perplexity)

`ranking_metrics` and `generation_metrics` are both a submodule and its main function: import the functions from
the submodules (the package attribute is the module). Importing this package is cheap: the torch-based scoring and
the `evaluate`-based metrics load on first use.
"""

from importlib import import_module

from .candidates import PROTOCOLS, CandidateError, CandidateSet, CandidateSets, build_candidates
from .defaults import DEFAULT_PRIOR_WEIGHT
from .ranking_metrics import RankingInputError, ground_truth_ranks, paper_ranks


_LAZY = {
    "rank_candidates": ".scoring",
    "evaluate_ranking": ".scoring",
    "score_candidates_one_by_one": ".scoring",
    "unconditional_scores": ".scoring",
    "distinct_n": ".generation_metrics",
    "perplexity": ".generation_metrics",
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_LAZY[name], __name__), name)


__all__ = [
    "DEFAULT_PRIOR_WEIGHT",
    "PROTOCOLS",
    "CandidateError",
    "CandidateSet",
    "CandidateSets",
    "RankingInputError",
    "build_candidates",
    "distinct_n",
    "evaluate_ranking",
    "ground_truth_ranks",
    "paper_ranks",
    "perplexity",
    "rank_candidates",
    "score_candidates_one_by_one",
    "unconditional_scores",
]
