"""How well a model predicts chat activity: its expected comment count per response window against the real count.

The reference point is the trivial predictor that carries on the chat's own recent rate: the number of comments in the
last response-window length of the context. A model that does not beat it has learned nothing about when chat reacts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from scipy import stats


def response_counts(rows: Sequence[Mapping]) -> np.ndarray:
    """The real number of comments in each clip's response window."""
    return np.array([len(row["response_comments"]) for row in rows], dtype=np.float64)


def recent_rate_counts(rows: Sequence[Mapping]) -> np.ndarray:
    """The trivial predictor: comments in the last `end - context_end` seconds of each clip's context, i.e. the chat's
    recent rate carried over to the response window."""
    from .timing_metrics import recent_counts

    return np.array(
        [recent_counts([c["time"] for c in row["context_comments"]], [row["context_end"]], row["end"] - row["context_end"])[0]
         for row in rows],
        dtype=np.float64,
    )


def correlation_metrics(predicted: np.ndarray, real: np.ndarray) -> dict[str, float]:
    """Spearman and Pearson correlation and mean absolute error (NaN correlations for constant inputs)."""
    predicted, real = np.asarray(predicted, dtype=np.float64), np.asarray(real, dtype=np.float64)
    constant = np.ptp(predicted) == 0 or np.ptp(real) == 0
    return {
        "spearman": float("nan") if constant else float(stats.spearmanr(predicted, real).statistic),
        "pearson": float("nan") if constant else float(stats.pearsonr(predicted, real).statistic),
        "mae": float(np.abs(predicted - real).mean()),
    }


def spearman_gain_interval(predicted, baseline, real, block: int = 15, resamples: int = 2000, seed: int = 0,
                           level: float = 0.95) -> tuple[float, float]:
    """A moving-block bootstrap interval of `spearman(predicted, real) - spearman(baseline, real)` over windows in time
    order: neighbouring sliding clips share comments, so windows are resampled in runs of `block` (15 clips of a 2 s
    stride span one 30 s clip), not one by one, which would claim more certainty than the data holds."""
    predicted, baseline, real = (np.asarray(x, dtype=np.float64) for x in (predicted, baseline, real))
    n = len(real)
    block = max(1, min(block, n))
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, n - block + 1, size=(resamples, -(-n // block)))
    index = (starts[..., None] + np.arange(block)).reshape(resamples, -1)[:, :n]

    def spearman(x):
        a, b = stats.rankdata(x[index], axis=1), stats.rankdata(real[index], axis=1)
        a, b = a - a.mean(1, keepdims=True), b - b.mean(1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1))

    gains = spearman(predicted) - spearman(baseline)
    low, high = np.nanquantile(gains, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def predict_activity(model, processor, rows: Sequence[Mapping], batch_size: int = 16, ablate: Iterable[str] = (),
                     show_progress: bool = False) -> np.ndarray:
    """The model's expected comment count for each clip's response window (batched, encoders only)."""
    import torch
    from tqdm.auto import tqdm

    from ..data.clip_inputs import clip_processor_inputs

    device = next(model.parameters()).device
    predicted = []
    for start in tqdm(range(0, len(rows), batch_size), desc="activity", disable=not show_progress):
        batch = rows[start : start + batch_size]
        inputs = processor(**clip_processor_inputs(batch, model.config.video_feature_dim, ablate=ablate), training=False)
        inputs = {name: value.to(device) if isinstance(value, torch.Tensor) else value for name, value in inputs.items()}
        predicted.append(model.predict_activity(**inputs).cpu().numpy())
    return np.concatenate(predicted) if predicted else np.zeros(0)


def evaluate_activity(model, processor, rows: Sequence[Mapping], batch_size: int = 16, show_progress: bool = False) -> dict:
    """Spearman / Pearson / MAE of the model's predicted counts against the real ones, beside the recent-rate
    predictor's, over `num_windows` clips (in time order), and the model's Spearman gain over the recent rate with a
    95 % block-bootstrap interval ([`spearman_gain_interval`])."""
    if not rows:
        raise ValueError("no clips to evaluate activity on")
    real = response_counts(rows)
    predicted = predict_activity(model, processor, rows, batch_size, show_progress=show_progress)
    recent = recent_rate_counts(rows)
    report = {
        "num_windows": len(rows),
        "mean_count": float(real.mean()),
        "model": correlation_metrics(predicted, real),
        "recent rate": correlation_metrics(recent, real),
    }
    report["spearman gain"] = report["model"]["spearman"] - report["recent rate"]["spearman"]
    report["spearman gain 95% interval"] = list(spearman_gain_interval(predicted, recent, real))
    return report


def format_activity(report: dict) -> str:
    lines = [f"activity over {report['num_windows']} response windows (mean {report['mean_count']:.2f} comments):",
             f"{'predictor':<14}{'spearman':>10}{'pearson':>10}{'mae':>8}"]
    for name in ("model", "recent rate"):
        m = report[name]
        lines.append(f"{name:<14}{m['spearman']:>10.3f}{m['pearson']:>10.3f}{m['mae']:>8.2f}")
    if "spearman gain" in report:
        low, high = report["spearman gain 95% interval"]
        lines.append(f"model - recent rate: Spearman {report['spearman gain']:+.3f} (95% block bootstrap {low:+.3f} to {high:+.3f})")
    return "\n".join(lines)
