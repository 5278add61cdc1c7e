"""How far the chat's own counts predict the next 10 s on the real logs: predictors that read only when earlier comments
came, fitted on each log's first 70 %, beside the recent rate, on its last 30 %.

    python bench/bench_activity_counts.py [--data ../shared/data] [--logs northernlion youtube bilibili]
    python bench/bench_activity_counts.py --smoke   # a generated 15-minute Twitch log: seconds, measures nothing

The activity head reads the context's comment counts (10 bins of 2 s, the whole 20 s) through a linear map and the
encoded memories through an MLP. This bench asks what the counts alone can give, without any model: for each log
(the readers and filters of `build-dataset`), a window ends every 2 s; the target is the number of comments in the
next 10 s (windows whose next 10 s lie in the test part; what they count back may lie before it, as live). Rows:

- the count of the last W seconds, for several W (W = 10 is the recent rate the issue's bar names);
- a Poisson regression (`sklearn.linear_model.PoissonRegressor`) on the log-counts of the head's bins (the last
  20 s), and one that also reads 20-120 s back (what a live commenter could keep, and a dataset row does not hold);
  its L2 strength is chosen on the last 15 % of the training part, then it is refitted on the whole of it.

Spearman with the real counts on the test windows, and for the regressions the 95 % moving-block bootstrap interval
of the gain over the recent rate (`evaluation.activity.spearman_gain_interval`). Seconds to run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy import stats
from sklearn.linear_model import PoissonRegressor

from hf_livechat.data.chat import ChatFilters, ChatMessage, read_chat, write_twitch_json
from hf_livechat.evaluation.activity import spearman_gain_interval

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_real_chat import DEFAULT_DATA, TRAIN_FRACTION, find_logs, log_key  # noqa: E402

STRIDE, RESPONSE = 2.0, 10.0
HEAD_EDGES = tuple(range(0, 22, 2))  # the head's 10 bins of 2 s, counted back from the window's end
LONG_EDGES = HEAD_EDGES + (30, 40, 60, 90, 120)
WINDOWS = (2, 4, 6, 10, 20, 40, 60, 120)
ALPHAS = (0.0, 0.01, 0.1, 1.0, 10.0)
VALIDATION_FRACTION = 0.15


class CountWindows:
    """Windows ending every `STRIDE` seconds in `[low, high)` of one log: comment counts back in time, and the target."""

    def __init__(self, times: np.ndarray, low: float, high: float):
        self.times = times
        self.ends = np.arange(low, high, STRIDE)
        self.target = self.count(-RESPONSE, 0)

    def count(self, back_from: float, back_to: float) -> np.ndarray:
        """Comments in `(end - back_to, end - back_from]` of each window (negative: after its end)."""
        upper = np.searchsorted(self.times, self.ends - back_from, "right")
        return upper - np.searchsorted(self.times, self.ends - back_to, "right")

    def features(self, edges) -> np.ndarray:
        return np.log1p(np.stack([self.count(a, b) for a, b in zip(edges[:-1], edges[1:])], axis=1))


def spearman(predicted, real) -> float:
    return float(stats.spearmanr(predicted, real).statistic)


def fitted_regression(times, start, cut, edges) -> tuple[PoissonRegressor, float]:
    """A Poisson regression on `edges`' log-counts, its L2 strength chosen on the latest 15 % of the training part."""
    history = edges[-1]
    split = cut - VALIDATION_FRACTION * (cut - start)
    fit = CountWindows(times, start + history, split - RESPONSE)
    held = CountWindows(times, split, cut - RESPONSE)
    alpha = max(ALPHAS, key=lambda a: spearman(
        PoissonRegressor(alpha=a, max_iter=2000).fit(fit.features(edges), fit.target).predict(held.features(edges)), held.target))
    whole = CountWindows(times, start + history, cut - RESPONSE)
    return PoissonRegressor(alpha=alpha, max_iter=2000).fit(whole.features(edges), whole.target), alpha


def smoke_log(folder: Path) -> dict[str, Path]:
    """A 15-minute Twitch JSON log whose rate drifts and bursts, written with the package's writer (smoke runs only)."""
    rng = np.random.default_rng(0)
    rate = 0.5 + 0.4 * np.sin(np.arange(900) / 60) + (rng.random(900) < 0.05) * 3
    times = [second + rng.random() for second in range(900) for _ in range(rng.poisson(rate[second]))]
    path = folder / "smoke_twitch.json"
    write_twitch_json([ChatMessage(t, f"viewer{i % 9}", "gg", source=str(i)) for i, t in enumerate(times)], path)
    return {"smoke (twitch json)": path}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("HF_LIVECHAT_REAL_DATA", DEFAULT_DATA)))
    parser.add_argument("--logs", nargs="+", default=None, help="only these logs (northernlion, youtube, bilibili)")
    parser.add_argument("--smoke", action="store_true", help="a generated log instead of the real ones, to check that it runs")
    args = parser.parse_args()
    scratch = tempfile.TemporaryDirectory() if args.smoke else None
    found = smoke_log(Path(scratch.name)) if args.smoke else find_logs(args.data)
    logs = {name: path for name, path in found.items() if args.smoke or not args.logs or log_key(name) in args.logs}
    if not logs:
        parser.error(f"none of the asked logs is under {args.data} (see --data)")

    print("| log | test windows (mean count) | last W s: Spearman per W | Poisson regression, last 20 s (alpha): Spearman, "
          "gain over the recent rate (95 % block bootstrap) | the same, last 120 s |")
    print("|---|---|---|---|---|")
    for name, path in logs.items():
        times = np.sort(np.array([m.time for m in read_chat(path, filters=ChatFilters())], dtype=np.float64))
        start, end = times[0], times[-1]
        cut = start + TRAIN_FRACTION * (end - start)
        test = CountWindows(times, cut, end - RESPONSE)
        recent = test.count(0, RESPONSE)
        windows = ", ".join(f"{w}: {spearman(test.count(0, w), test.target):.3f}" for w in WINDOWS)
        cells = []
        for edges in (HEAD_EDGES, LONG_EDGES):
            model, alpha = fitted_regression(times, start, cut, edges)
            predicted = model.predict(test.features(edges))
            low, high = spearman_gain_interval(predicted, recent, test.target)
            gain = spearman(predicted, test.target) - spearman(recent, test.target)
            cells.append(f"{spearman(predicted, test.target):.3f} ({alpha}), {gain:+.3f} ({low:+.3f} to {high:+.3f})")
        print(f"| {name} | {len(test.ends)} ({test.target.mean():.2f}) | {windows} | {cells[0]} | {cells[1]} |")
    if scratch is not None:
        scratch.cleanup()


if __name__ == "__main__":
    main()
