"""Timing metrics against hand-computed values: trigger precision / recall / F1, TimeDiff, the fixed-interval
baseline over phases, burst detection from message times, and bursts from a world's truth log."""

from __future__ import annotations

import json
import math

import pytest

from hf_livechat.evaluation.timing_metrics import (
    Burst,
    bursts_from_truth,
    detect_bursts,
    fixed_interval_scores,
    fixed_interval_times,
    pool_scores,
    recent_counts,
    timing_scores,
)

BURSTS = [Burst(10, 15, 3), Burst(40, 44, 2), Burst(70, 72, 4)]


def test_timing_scores_by_hand():
    # Windows [start - 1, start + 5]: [9, 15], [39, 45], [69, 75].
    # 9.5 and 12 fall in the first, 41 in the second; 30, 46, 80 in none: precision 3/6. Bursts 10 and 40 are hit,
    # 70 is not: recall 2/3, F1 = 2 * 0.5 * 2/3 / (0.5 + 2/3) = 4/7.
    # TimeDiff: 9.5 is early (0), 41 - 40 = 1, 80 - 70 = 10 (at the cap): 11/3.
    scores = timing_scores([46, 9.5, 12, 30, 41, 80], BURSTS, tolerance=5, early=1, cap=10)
    assert scores.precision == pytest.approx(0.5)
    assert scores.recall == pytest.approx(2 / 3)
    assert scores.f1 == pytest.approx(4 / 7)
    assert scores.time_diff == pytest.approx(11 / 3)
    assert (scores.bursts, scores.comments, scores.hits) == (3, 6, 2)


def test_timing_scores_edges():
    # Without comments: nothing is hit and every delay is the cap.
    none = timing_scores([], BURSTS, cap=8)
    assert (none.precision, none.recall, none.f1, none.time_diff) == (0.0, 0.0, 0.0, 8.0)
    # A comment exactly at start + tolerance counts; just after, it does not; one beyond the early margin neither.
    assert timing_scores([15.0], [Burst(10, 12, 2)], tolerance=5, early=1).recall == 1.0
    assert timing_scores([15.01], [Burst(10, 12, 2)], tolerance=5, early=1).recall == 0.0
    assert timing_scores([8.9], [Burst(10, 12, 2)], tolerance=5, early=1).precision == 0.0
    no_bursts = timing_scores([1.0, 2.0], [])
    assert no_bursts.precision == 0.0 and math.isnan(no_bursts.f1) and no_bursts.bursts == 0
    with pytest.raises(ValueError):
        timing_scores([1.0], BURSTS, cap=0)


def test_fixed_interval_by_hand():
    assert fixed_interval_times(4, 0, 100, 0.5) == [12.5, 37.5, 62.5, 87.5]
    assert fixed_interval_times(0, 0, 100) == []
    with pytest.raises(ValueError):
        fixed_interval_times(2, 0, 10, phase=1.0)
    # 2 comments over [0, 60): every 30 s. Phase 0: at 0 and 30, no burst hit (F1 0, delays 30 - 10 -> cap 10 and
    # none -> 10). Phase 0.5: at 15 and 45, both on time (F1 1, delays 5 and 5). Mean F1 0.5, TimeDiff 7.5.
    fixed = fixed_interval_scores(2, 0, 60, [Burst(10, 12, 3), Burst(40, 42, 3)], phases=2, tolerance=5, early=1, cap=10)
    assert fixed.mean.f1 == pytest.approx(0.5)
    assert fixed.mean.precision == pytest.approx(0.5) and fixed.mean.recall == pytest.approx(0.5)
    assert fixed.mean.time_diff == pytest.approx(7.5)
    assert (fixed.f1_min, fixed.f1_max, fixed.period, fixed.mean.comments) == (0.0, 1.0, 30.0, 2)


def test_detect_bursts_by_hand():
    # One background message every 10 s (at 5, 15, ..., 195): every 10 s window holds exactly one. Eight messages
    # at 100.0, 100.5, ..., 103.5 burst. The count over [g, g + 10) first reaches 5 (>= min_count, > 2 x median 1)
    # at g = 92 (95 and 100.0 to 101.5); level max(2, 4) = 4; the count stays above 4 up to g = 102 (105 and 102 to
    # 103.5) and drops to 3 at g = 103. The burst's messages are those in [92, 112): 95, the eight, 105 (10). The
    # lone 95 does not start it: [95, 100) holds 1 message, not more than level / 2 = 2; [100, 105) holds 8.
    background = [5.0 + 10 * i for i in range(20)]
    burst = [100.0 + 0.5 * i for i in range(8)]
    bursts = detect_bursts(background + burst, window=10, factor=2, min_count=5, history=60, step=1)
    assert bursts == [Burst(100.0, 105.0, 10)]
    # A steady chat has no burst; neither has an empty one.
    assert detect_bursts([0.5 * i for i in range(400)]) == []
    assert detect_bursts([]) == []
    with pytest.raises(ValueError):
        detect_bursts([1.0], factor=0.5)


def test_bursts_from_truth(tmp_path):
    log = {
        "episodes": [
            {"index": 0, "start": 0.0, "context_end": 20.0, "end": 30.0},
            {"index": 1, "start": 30.0, "context_end": 50.0, "end": 60.0},
        ],
        "comments": [
            {"time": 5.0, "role": "filler", "episode": 0},
            {"time": 21.0, "role": "response", "episode": 0},
            {"time": 27.5, "role": "response", "episode": 0},
            {"time": 52.0, "role": "filler", "episode": 1},  # episode 1: no reply, no burst
        ],
    }
    path = tmp_path / "1.truth.json"
    path.write_text(json.dumps(log))
    assert bursts_from_truth(path) == [Burst(20.0, 27.5, 2)]
    assert bursts_from_truth(log, roles=("response", "filler")) == [Burst(20.0, 27.5, 2), Burst(50.0, 52.0, 1)]
    with pytest.raises(ValueError, match="truth log"):
        bursts_from_truth({"episodes": []})


def test_recent_counts():
    assert recent_counts([1, 2, 9.9, 10, 15], [10, 20]).tolist() == [3.0, 2.0]


def test_pool_scores_by_hand():
    # Stream 1: 3 of 6 comments on time, 2 of 3 bursts hit, TimeDiff 11/3 (test_timing_scores_by_hand).
    # Stream 2: 1 comment, on time, 1 burst hit after 2 s. Pooled: precision 4/7, recall 3/4, TimeDiff (11 + 2) / 4.
    one = timing_scores([46, 9.5, 12, 30, 41, 80], BURSTS, tolerance=5, early=1, cap=10)
    two = timing_scores([102.0], [Burst(100, 104, 5)], tolerance=5, early=1, cap=10)
    pooled = pool_scores([one, two])
    assert pooled.precision == pytest.approx(4 / 7) and pooled.recall == pytest.approx(3 / 4)
    assert pooled.f1 == pytest.approx(2 * (4 / 7) * (3 / 4) / (4 / 7 + 3 / 4))
    assert pooled.time_diff == pytest.approx(13 / 4)
    assert (pooled.bursts, pooled.comments, pooled.hits) == (4, 7, 3)
    # The same as scoring both streams on one timeline.
    joined = timing_scores([46, 9.5, 12, 30, 41, 80, 102.0], [*BURSTS, Burst(100, 104, 5)], tolerance=5, early=1, cap=10)
    assert (joined.precision, joined.recall, joined.time_diff) == pytest.approx((pooled.precision, pooled.recall, pooled.time_diff))
