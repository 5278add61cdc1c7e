"""The speaking policy: interval mode comments on every window; auto mode speaks on high predicted activity, at
the predicted rate, never closer than min_gap, never silent longer than max_silence (hand-computed cases and
properties over random activity streams)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hf_livechat.pipelines.speaking import SpeakingPolicy, emission_times


def test_interval_speaks_on_every_window():
    times, decisions = emission_times([20, 25, 30], [None, None, None], SpeakingPolicy("interval"), stride=5)
    assert times == [20, 25, 30]
    assert [d.reason for d in decisions] == ["interval"] * 3


def test_auto_relative_threshold_by_hand():
    # Median of the earlier windows' activity is 1, the level 1.5: the windows at 6 and 8 are high. The rate is
    # 5 / 10 s = 0.5 comments/s, one every 2 s: both speak (the second is exactly 2 s after the first).
    policy = SpeakingPolicy("auto", threshold=1.5, min_gap=2, max_silence=0)
    times, decisions = emission_times([0, 2, 4, 6, 8, 10, 12], [1, 1, 1, 5, 5, 1, 1], policy, stride=2)
    assert times == [6, 8]
    assert [d.reason for d in decisions] == ["low", "low", "low", "high", "high", "low", "low"]
    assert decisions[0].level is None and decisions[3].level == pytest.approx(1.5)


def test_auto_rate_limits_a_long_burst():
    # Activity 2.5 per 10 s with rate_scale 1: 0.25 comments/s, one every 4 s; windows every 2 s. The onset speaks
    # at once, then every other window.
    policy = SpeakingPolicy("auto", threshold_mode="absolute", threshold=1.0, min_gap=1, max_silence=0)
    times, decisions = emission_times([0, 2, 4, 6, 8], [2.5] * 5, policy, stride=2)
    assert times == [0, 4, 8]
    assert [d.reason for d in decisions] == ["high", "rate", "high", "rate", "high"]


def test_auto_several_comments_spread_over_the_stride():
    # 10 predicted comments per 10 s: 1 per s; a 4 s stride holds 4, spaced 1 s apart (min_gap 1 allows 4).
    policy = SpeakingPolicy("auto", threshold_mode="absolute", threshold=1.0, min_gap=1, max_silence=0)
    times, _ = emission_times([0], [10.0], policy, stride=4)
    assert times == [0, 1, 2, 3]
    # min_gap 1.5 allows only floor(4 / 1.5) = 2 in the stride, 2 s apart.
    times, _ = emission_times([0], [10.0], SpeakingPolicy("auto", threshold_mode="absolute", threshold=1.0, min_gap=1.5, max_silence=0), stride=4)
    assert times == [0, 2]
    # rate_scale 0.5 halves the rate: 2 in the stride.
    times, _ = emission_times([0], [10.0], SpeakingPolicy("auto", threshold_mode="absolute", threshold=1.0, rate_scale=0.5, min_gap=1, max_silence=0), stride=4)
    assert times == [0, 2]


def test_auto_max_silence_in_a_quiet_stream():
    policy = SpeakingPolicy("auto", max_silence=10, min_gap=2)
    windows = list(range(0, 32, 2))
    times, decisions = emission_times(windows, [1.0] * len(windows), policy, stride=2)
    assert times == [10, 20, 30]
    assert {d.reason for d in decisions if d.count} == {"max_silence"}


def test_auto_min_gap_after_a_max_silence_comment():
    # A comment forced by max_silence at 10, then a burst at 11 (stride 1): min_gap 3 holds it until 13.
    policy = SpeakingPolicy("auto", threshold_mode="absolute", threshold=4, max_silence=10, min_gap=3)
    windows = list(range(0, 15))
    activity = [0.0] * 11 + [9.0] * 4
    times, decisions = emission_times(windows, activity, policy, stride=1)
    assert times == [10, 13]
    assert [d.reason for d in decisions[10:]] == ["max_silence", "min_gap", "min_gap", "high", "min_gap"]


def test_bad_settings_and_inputs_are_refused():
    for bad in (dict(when="sometimes"), dict(threshold_mode="median"), dict(min_gap=-1), dict(rate_scale=0),
                dict(history=0), dict(max_silence=1, min_gap=2), dict(threshold=math.nan)):
        with pytest.raises(ValueError):
            SpeakingPolicy(**bad)
    speaker = SpeakingPolicy("auto").speaker()
    with pytest.raises(ValueError, match="predicted activity"):
        speaker.decide(0.0, None, 2.0)
    with pytest.raises(ValueError, match="stride"):
        speaker.decide(0.0, 1.0, 0.0)


@settings(max_examples=200, deadline=None)
@given(
    activity=st.lists(st.floats(0, 50, allow_nan=False), min_size=1, max_size=80),
    stride=st.sampled_from([0.5, 1.0, 2.0, 5.0]),
    min_gap=st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0]),
    max_silence=st.sampled_from([0.0, 5.0, 12.0]),
    threshold=st.floats(0.5, 4.0),
    mode=st.sampled_from(["relative", "absolute"]),
    rate_scale=st.floats(0.1, 3.0),
)
def test_auto_properties(activity, stride, min_gap, max_silence, threshold, mode, rate_scale):
    if max_silence and max_silence < min_gap:
        return
    policy = SpeakingPolicy("auto", threshold=threshold, threshold_mode=mode, rate_scale=rate_scale, min_gap=min_gap, max_silence=max_silence)
    windows = [i * stride for i in range(len(activity))]
    times, decisions = emission_times(windows, activity, policy, stride)
    assert times == sorted(times)
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert all(gap >= min_gap - 1e-9 for gap in gaps)  # never closer than min_gap
    for window, decision in zip(windows, decisions):
        assert all(window <= t < window + stride for t in decision.times)  # a window's comments fall in its stride
        if decision.count:
            assert decision.reason in ("high", "max_silence")
        if decision.reason == "high":
            assert decision.activity > decision.level
    if max_silence:  # never silent for longer than max_silence (plus the stride: windows are discrete)
        marks = [0.0, *times]
        assert all(b - a < max_silence + stride + 1e-9 for a, b in zip(marks, marks[1:]))
        assert windows[-1] - marks[-1] < max_silence + stride
