import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hf_livechat.evaluation.ranking_metrics import (
    RankingInputError,
    ground_truth_ranks,
    paper_ranks,
    ranking_metrics,
)


def test_single_ground_truth_ranks_and_metrics():
    scores = [
        [0.9, 0.1, 0.5, 0.3],  # ground truth 0 scores best: rank 1
        [0.2, 0.8, 0.5, 0.1],  # ground truth 2 has 0.8 above it: rank 2
        [0.1, 0.2, 0.3, 0.4],  # ground truth 0 scores worst: rank 4
    ]
    assert ground_truth_ranks(scores, [0, 2, 0]).tolist() == [1, 2, 4]
    metrics = ranking_metrics(scores, [[0], [2], [0]], protocol="livechat")
    assert metrics == {
        "recall@1": pytest.approx(1 / 3),
        "recall@2": pytest.approx(2 / 3),
        "recall@5": 1.0,
        "recall@10": 1.0,
        "mean_rank": pytest.approx(7 / 3),
        "mrr": pytest.approx((1 + 1 / 2 + 1 / 4) / 3),
        "num_queries": 3,
        "protocol": "livechat",
    }


def test_ties_are_pessimistic_by_default():
    scores = [[0.5, 0.5, 0.5, 0.1], [1.0, 1.0, 1.0, 1.0]]
    assert ground_truth_ranks(scores, [1, 0]).tolist() == [3, 4]
    assert ground_truth_ranks(scores, [1, 0], ties="optimistic").tolist() == [1, 1]
    # A model that cannot tell candidates apart gets the worst rank, not the best.
    assert ranking_metrics(scores, [1, 0])["recall@1"] == 0.0
    with pytest.raises(RankingInputError, match="ties"):
        ground_truth_ranks(scores, [1, 0], ties="random")


def test_multi_positive_rank_is_the_best_ranked_ground_truth():
    scores = [[0.1, 0.9, 0.7, 0.8, 0.2]]
    # Ground truths 0 and 2: the better one (0.7) has the distractors 0.9 and 0.8 above it.
    assert ground_truth_ranks(scores, [[0, 2]]).tolist() == [3]
    # Ground truths 2 and 3: the best (0.8) has only 0.9 above it; the other ground truth does not push it down.
    assert ground_truth_ranks(scores, [[2, 3]]).tolist() == [2]
    # Ground truths tied with each other do not count as ties with distractors.
    assert ground_truth_ranks([[0.5, 0.5, 0.1]], [[0, 1]]).tolist() == [1]
    metrics = ranking_metrics(scores, [[0, 2]], protocol="livebot")
    assert (metrics["recall@2"], metrics["recall@5"], metrics["mrr"]) == (0.0, 1.0, pytest.approx(1 / 3))


def test_paper_metric_ranks_the_top_scored_candidate_not_the_ground_truth():
    scores = np.array(
        [
            [0.1, 0.2, 0.9, 0.8, 0.3],  # ground truth 3, second best (true rank 2)
            [0.0, 0.9, 0.5, 0.4, 0.3],  # ground truth 0, scored worst (true rank 5)
            [0.5, 0.5, 0.5, 0.5, 0.5],  # all tied (true pessimistic rank 5)
        ]
    )
    positives = [3, 0, 2]
    # Published order [gt, others in list order]: row 0 is [3, 0, 1, 2, 4]; its top candidate (2) sits at position 3.
    # Row 1: the top candidate 1 sits at position 1. Row 2: a stable sort keeps the ground truth first on ties.
    assert paper_ranks(scores, positives).tolist() == [4, 2, 1]
    assert ground_truth_ranks(scores, positives).tolist() == [2, 5, 5]
    paper = ranking_metrics(scores, positives, protocol="livechat", paper_metric=True)
    assert paper == {
        "recall@1": pytest.approx(1 / 3),
        "recall@2": pytest.approx(2 / 3),
        "recall@5": 1.0,
        "recall@10": 1.0,
        "mean_rank": pytest.approx(7 / 3),
        "mrr": pytest.approx((1 / 4 + 1 / 2 + 1) / 3),
        "num_queries": 3,
        "protocol": "livechat+paper_metric",
    }
    true = ranking_metrics(scores, positives, protocol="livechat")
    assert (true["recall@1"], true["recall@2"], true["mean_rank"], true["mrr"]) == (
        0.0,
        pytest.approx(1 / 3),
        4.0,
        pytest.approx((1 / 2 + 1 / 5 + 1 / 5) / 3),
    )


def test_paper_metric_needs_a_single_ground_truth():
    with pytest.raises(RankingInputError, match="one ground truth"):
        ranking_metrics([[0.1, 0.2, 0.3]], [[0, 1]], paper_metric=True)


@pytest.mark.parametrize(
    "scores, positives, message",
    [
        ([[0.1, np.nan]], [0], "NaN"),
        ([[0.1, 0.2]], [2], "not in"),
        ([[0.1, 0.2]], [[]], "no ground-truth"),
        ([[0.1, 0.2]], [0, 1], "2 ground-truth entries for 1 queries"),
        (np.zeros((0, 10)), [], "shape"),
        ([[0.1, 0.2]], [0.5], "not in"),
    ],
)
def test_bad_inputs_raise(scores, positives, message):
    with pytest.raises(RankingInputError, match=message):
        ranking_metrics(scores, positives)


score_matrices = arrays(np.int8, st.tuples(st.integers(1, 6), st.integers(2, 8)), elements=st.integers(0, 3))


@settings(max_examples=60, deadline=None)
@given(scores=score_matrices, data=st.data())
def test_rank_properties(scores, data):
    num_queries, num_candidates = scores.shape
    positives = [data.draw(st.integers(0, num_candidates - 1)) for _ in range(num_queries)]
    pessimistic = ground_truth_ranks(scores, positives)
    optimistic = ground_truth_ranks(scores, positives, ties="optimistic")
    assert ((1 <= optimistic) & (optimistic <= pessimistic) & (pessimistic <= num_candidates)).all()
    # The paper metric gets R@1 right, with ties broken in favour of the ground truth.
    paper = paper_ranks(scores, positives)
    assert ((paper == 1) == (optimistic == 1)).all()
    # True ranks do not depend on where the candidates sit in the list.
    permutation = np.random.default_rng(0).permutation(num_candidates)
    moved = [int(np.flatnonzero(permutation == p)[0]) for p in positives]
    assert (ground_truth_ranks(scores[:, permutation], moved) == pessimistic).all()
