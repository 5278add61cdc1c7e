import numpy as np
import pytest
from scipy import stats

from hf_livechat.evaluation.activity import correlation_metrics, recent_rate_counts, response_counts


def _row(context_times, response_count, context_end=20.0, end=30.0):
    return {
        "context_end": context_end,
        "end": end,
        "context_comments": [{"time": t, "text": "x"} for t in context_times],
        "response_comments": [{"time": end - 1, "text": "y"}] * response_count,
    }


def test_recent_rate_counts_the_last_response_length_of_the_context():
    rows = [_row([1.0, 9.9, 10.0, 19.5], 2), _row([], 0), _row([25.0, 31.0, 36.0], 1, context_end=40.0, end=45.0)]
    # window lengths 10, 10 and 5 s: comments at or after 10 s, none, at or after 35 s
    assert recent_rate_counts(rows).tolist() == [2.0, 0.0, 1.0]
    assert response_counts(rows).tolist() == [2.0, 0.0, 1.0]


def test_correlation_metrics_by_hand():
    m = correlation_metrics(np.array([1.0, 2.0, 3.0, 4.0]), np.array([10.0, 20.0, 40.0, 30.0]))
    assert m["spearman"] == pytest.approx(0.8)
    assert m["mae"] == pytest.approx((9 + 18 + 37 + 26) / 4)
    assert np.isnan(correlation_metrics(np.ones(4), np.arange(4.0))["spearman"])


def test_the_spearman_gain_interval_brackets_the_gain_and_widens_with_correlated_windows():
    from hf_livechat.evaluation.activity import spearman_gain_interval

    rng = np.random.default_rng(0)
    real = np.repeat(rng.poisson(5, 40), 10).astype(float)  # 40 moments, each seen by 10 sliding windows
    good, noisy = real + rng.normal(0, 1, 400), real + rng.normal(0, 6, 400)
    low, high = spearman_gain_interval(good, noisy, real, block=10)
    gain = stats.spearmanr(good, real).statistic - stats.spearmanr(noisy, real).statistic
    assert 0 < low < gain < high
    assert spearman_gain_interval(noisy, noisy, real) == (0.0, 0.0)
    one_by_one = spearman_gain_interval(good, noisy, real, block=1)
    assert one_by_one[1] - one_by_one[0] < high - low
