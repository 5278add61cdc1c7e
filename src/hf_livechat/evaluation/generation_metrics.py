"""Metrics for generated comments: BLEU and ROUGE-L (through `evaluate`), distinct-n and perplexity.

`evaluate.load("bleu")` downloads its script from the Hugging Face Hub. The BLEU (sacreBLEU) and ROUGE-L
(`rouge_score`) modules used here ship with the package in `evaluation/metrics/` and load from their file path,
so they work offline (`HF_HUB_OFFLINE=1`):

    >>> bleu = evaluate.load(BLEU_MODULE)

Live comments have as many references as the response window has comments: every metric here takes one reference
or a list of references per prediction.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from pathlib import Path

import evaluate
import numpy as np


METRICS_DIR = Path(__file__).resolve().parent / "metrics"
BLEU_MODULE = str(METRICS_DIR / "livechat_bleu.py")
ROUGE_MODULE = str(METRICS_DIR / "livechat_rouge.py")


@cache
def load_bleu() -> evaluate.EvaluationModule:
    """The offline sacreBLEU corpus-BLEU module (`evaluate.load` on the file shipped with the package)."""
    return evaluate.load(BLEU_MODULE)


@cache
def load_rouge() -> evaluate.EvaluationModule:
    """The offline ROUGE-L module (`evaluate.load` on the file shipped with the package)."""
    return evaluate.load(ROUGE_MODULE)


def whitespace_tokens(text: str) -> list[str]:
    """Lower-cased whitespace tokens: keeps emotes (`PogChamp` -> `pogchamp`) and emoji as tokens."""
    return text.lower().split()


def distinct_n(predictions: Iterable[str], n: int, tokenize: Callable[[str], list[str]] = whitespace_tokens) -> float:
    """Distinct-n (Li et al., 2016): distinct n-grams over all n-grams of all predictions; 0 when there are none."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    ngrams = [tuple(tokens[i : i + n]) for tokens in map(tokenize, predictions) for i in range(len(tokens) - n + 1)]
    return len(set(ngrams)) / len(ngrams) if ngrams else 0.0


def perplexity(token_losses: Iterable) -> float:
    """`exp` of the mean per-token negative log-likelihood (natural log).

    Args:
        token_losses: per-token losses of the reference comments under the model, flat or one sequence per comment
            (e.g. `-log p` of each target token, padding left out). Every token weighs the same.
    """
    losses = [np.ravel(np.asarray(item, dtype=np.float64)) for item in token_losses]
    flat = np.concatenate(losses) if losses else np.empty(0)
    if flat.size == 0:
        raise ValueError("perplexity needs at least one token loss")
    if not np.isfinite(flat).all():
        raise ValueError("token losses must be finite")
    return math.exp(flat.mean())


def _as_reference_lists(references: Sequence, num_predictions: int) -> list[list[str]]:
    if len(references) != num_predictions:
        raise ValueError(f"{num_predictions} predictions but {len(references)} references")
    lists = [[ref] if isinstance(ref, str) else list(ref) for ref in references]
    for i, refs in enumerate(lists):
        if not refs:
            raise ValueError(f"prediction {i} has no reference")
    return lists


def generation_metrics(
    predictions: Sequence[str],
    references: Sequence[str | Sequence[str]],
    token_losses: Iterable | None = None,
    bleu_tokenize: str = "13a",
    rouge_tokenizer: str = "rouge",
) -> dict:
    """BLEU, ROUGE-L, distinct-1/2 (and perplexity) of generated comments.

    Args:
        predictions: generated comments.
        references: per prediction, its reference comment or list of reference comments.
        token_losses: optional per-token losses of the references (see `perplexity`).
        bleu_tokenize: sacreBLEU tokenizer (`"13a"`, `"zh"` for Chinese danmaku, `"char"`...).
        rouge_tokenizer: `"rouge"` (rouge_score's, ASCII only), `"whitespace"` (keeps emoji) or `"char"`.

    Returns:
        `{"bleu": 0-100 corpus BLEU-4, "bleu_precisions": [p1..p4] (0-100), "rouge_l": 0-1 mean F-measure,
        "distinct_1", "distinct_2": 0-1, "num_predictions"}` and `"perplexity"` when `token_losses` is given.
    """
    predictions = list(predictions)
    if not predictions:
        raise ValueError("generation_metrics needs at least one prediction")
    references = _as_reference_lists(references, len(predictions))
    bleu = load_bleu().compute(predictions=predictions, references=references, tokenize=bleu_tokenize)
    rouge = load_rouge().compute(predictions=predictions, references=references, tokenizer=rouge_tokenizer)
    metrics = {
        "bleu": bleu["score"],
        "bleu_precisions": bleu["precisions"],
        "rouge_l": rouge["rougeL"],
        "distinct_1": distinct_n(predictions, 1),
        "distinct_2": distinct_n(predictions, 2),
        "num_predictions": len(predictions),
    }
    if token_losses is not None:
        metrics["perplexity"] = perplexity(token_losses)
    return metrics


__all__ = [
    "BLEU_MODULE",
    "ROUGE_MODULE",
    "distinct_n",
    "generation_metrics",
    "load_bleu",
    "load_rouge",
    "perplexity",
    "whitespace_tokens",
]
