"""Metrics of the affect benchmarks, computed as their reference code computes them.

- CH-SIMS / CH-SIMS v2: `sims_regression_metrics` (`MetricsTop.__eval_sims_regression` of MMSA and of the CH-SIMS v2
  repository thuiar/ch-sims-v2, which adds `Mult_acc_2_weak` and `R_squre`).
- CMU-MOSI / MOSEI: `mosi_regression_metrics` (MMSA's `__eval_mosei_regression`).
- MELD: `weighted_f1_metrics` (weighted F1, as the MELD papers report).
- MUStARD: `weighted_prf_metrics` (weighted precision / recall / F1, as `train_svm.py` of the MUStARD repository).

`evaluate.load("f1")` fetches its script from the Hub and fails offline, so the scores come from scikit-learn's
`precision_recall_fscore_support` / `f1_score`, which is also what `evaluate`'s f1 module and the reference code call.
No torch here: inputs are array-likes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support, r2_score


# MMSA's CH-SIMS class boundaries: a value v is in class i when edges[i] < v <= edges[i + 1].
SIMS_EDGES = {
    2: (-1.01, 0.0, 1.01),
    3: (-1.01, -0.1, 0.1, 1.01),
    5: (-1.01, -0.7, -0.1, 0.1, 0.7, 1.01),
}
# CH-SIMS v2's "weak sentiment" subset: examples whose (clipped) label lies in [-0.4, 0.4], both ends included.
SIMS_WEAK_BOUND = 0.4


def _flat(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).reshape(-1)


def _bin(values: np.ndarray, edges: tuple[float, ...]) -> np.ndarray:
    # right=True puts v in class i when edges[i] < v <= edges[i + 1], MMSA's rule. The comparison runs in the dtype
    # of `values`: float32 for the CH-SIMS metrics, as in the official code (float32 tensors against Python floats).
    return np.digitize(values, np.asarray(edges[1:-1], dtype=values.dtype), right=True)


def sims_regression_metrics(predictions, labels) -> dict[str, float]:
    """CH-SIMS (v2) regression metrics, as the official code computes them. Predictions and labels are clipped to
    [-1, 1], then:

    - `acc_2` / `acc_3` / `acc_5` (`Mult_acc_2/3/5`): accuracies after binning at (0), (-0.1, 0.1) and
      (-0.7, -0.1, 0.1, 0.7), a value v falling in class i when edges[i] < v <= edges[i + 1];
    - `acc_2_weak` (`Mult_acc_2_weak`): `acc_2` over the examples whose label lies in [-0.4, 0.4] (weak sentiment;
      NaN when there is none);
    - `f1` (`F1_score`): weighted F1 of the 2-class binning;
    - `mae`, `corr` (Pearson) and `r2` (`R_squre`, scikit-learn's `r2_score(labels, predictions)`), on the clipped
      values.
    """
    # Class boundaries are compared in float32, as the official code does with the model's float32 outputs: float32
    # labels such as -0.4 and predictions such as 0.1 fall in the same class as there (in float64 they would not).
    predictions32 = np.clip(np.asarray(predictions, dtype=np.float32).reshape(-1), -1.0, 1.0)
    labels32 = np.clip(np.asarray(labels, dtype=np.float32).reshape(-1), -1.0, 1.0)
    results = {}
    for classes, edges in SIMS_EDGES.items():
        results[f"acc_{classes}"] = float(np.mean(_bin(predictions32, edges) == _bin(labels32, edges)))
    weak = np.abs(labels32) <= np.float32(SIMS_WEAK_BOUND)
    binned_weak = _bin(predictions32[weak], SIMS_EDGES[2]) == _bin(labels32[weak], SIMS_EDGES[2])
    results["acc_2_weak"] = float(np.mean(binned_weak)) if weak.any() else float("nan")
    results["f1"] = float(f1_score(_bin(labels32, SIMS_EDGES[2]), _bin(predictions32, SIMS_EDGES[2]), average="weighted"))
    predictions, labels = predictions32.astype(np.float64), labels32.astype(np.float64)
    results["mae"] = float(np.mean(np.abs(predictions - labels)))
    results["corr"] = float(np.corrcoef(predictions, labels)[0, 1])
    results["r2"] = float(r2_score(labels, predictions))
    return results


def mosi_regression_metrics(predictions, labels) -> dict[str, float]:
    """CMU-MOSI / MOSEI regression metrics, as MMSA computes them: Acc-2 and weighted F1 with zero counted as
    non-negative (`has0`) and with zero-labelled examples left out (`non0`), Acc-5 / Acc-7 after clipping to
    [-2, 2] / [-3, 3] and rounding, MAE and Pearson's Corr (unclipped)."""
    predictions, labels = _flat(predictions), _flat(labels)
    results = {
        "has0_acc_2": float(accuracy_score(labels >= 0, predictions >= 0)),
        "has0_f1": float(f1_score(labels >= 0, predictions >= 0, average="weighted")),
    }
    non_zero = labels != 0
    results["non0_acc_2"] = float(accuracy_score(labels[non_zero] > 0, predictions[non_zero] > 0))
    results["non0_f1"] = float(f1_score(labels[non_zero] > 0, predictions[non_zero] > 0, average="weighted"))
    for classes, bound in ((5, 2.0), (7, 3.0)):
        clipped = np.round(np.clip(predictions, -bound, bound)) == np.round(np.clip(labels, -bound, bound))
        results[f"acc_{classes}"] = float(np.mean(clipped))
    results["mae"] = float(np.mean(np.abs(predictions - labels)))
    results["corr"] = float(np.corrcoef(predictions, labels)[0, 1])
    return results


def weighted_f1_metrics(predictions, labels) -> dict[str, float]:
    """MELD: accuracy and support-weighted F1 over the classes. `predictions` are class ids or `(n, classes)`
    scores (argmax taken)."""
    predictions, labels = _class_ids(predictions), np.asarray(labels).reshape(-1)
    return {
        "accuracy": float(accuracy_score(labels, predictions)),
        "weighted_f1": float(f1_score(labels, predictions, average="weighted", zero_division=0)),
    }


def weighted_prf_metrics(predictions, labels) -> dict[str, float]:
    """MUStARD: support-weighted precision, recall and F1 (scikit-learn's "weighted avg", as the reference
    `train_svm.py` reads from `classification_report`). `predictions` are class ids or `(n, classes)` scores."""
    predictions, labels = _class_ids(predictions), np.asarray(labels).reshape(-1)
    precision, recall, f1, _ = precision_recall_fscore_support(labels, predictions, average="weighted", zero_division=0)
    return {"weighted_precision": float(precision), "weighted_recall": float(recall), "weighted_f1": float(f1)}


def _class_ids(predictions) -> np.ndarray:
    predictions = np.asarray(predictions)
    return predictions.argmax(axis=-1) if predictions.ndim == 2 else predictions.reshape(-1)


BENCHMARK_METRICS: dict[str, Callable[..., dict[str, float]]] = {
    "sims": sims_regression_metrics,
    "simsv2": sims_regression_metrics,
    "mosi": mosi_regression_metrics,
    "mosei": mosi_regression_metrics,
    "meld": weighted_f1_metrics,
    "mustard": weighted_prf_metrics,
    "classification": weighted_f1_metrics,  # any single-label task: accuracy and weighted F1
}


def affect_metrics(benchmark: str, predictions, labels) -> dict[str, float]:
    """The metrics of `benchmark` (`sims`, `simsv2`, `mosi`, `mosei`, `meld`, `mustard`, or `classification`)."""
    try:
        metric = BENCHMARK_METRICS[benchmark.lower()]
    except KeyError:
        raise ValueError(f"Unknown benchmark {benchmark!r}; expected one of {sorted(BENCHMARK_METRICS)}") from None
    return metric(predictions, labels)


def compute_metrics_for(benchmark: str) -> Callable:
    """A `Trainer(compute_metrics=...)` function for `benchmark`: takes an `EvalPrediction`, returns its metrics."""

    def compute_metrics(eval_prediction) -> dict[str, float]:
        logits = eval_prediction.predictions
        logits = logits[0] if isinstance(logits, tuple) else logits
        return affect_metrics(benchmark, logits, eval_prediction.label_ids)

    return compute_metrics


__all__ = [
    "sims_regression_metrics",
    "mosi_regression_metrics",
    "weighted_f1_metrics",
    "weighted_prf_metrics",
    "affect_metrics",
    "compute_metrics_for",
]
