import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from hf_livechat import LiveChatForCommentGeneration, LiveChatProcessor
from hf_livechat.evaluation import CandidateSet, build_candidates
from hf_livechat.data.clip_inputs import clip_processor_inputs as query_inputs
from hf_livechat.evaluation.scoring import evaluate_ranking, rank_candidates, score_candidates_one_by_one
from hf_livechat.tokenization import default_tokenizer


sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from livechat_testing import tiny_config  # noqa: E402


WORDS = "gg pog lol nice play wow kappa clutch noob rip omg why what save goal ez hype sad love hate".split()


@pytest.fixture(autouse=True)
def one_thread():
    # Tiny models on a shared 2-core machine run many times faster without intra-op threads.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def processor():
    return LiveChatProcessor(
        default_tokenizer(),
        max_transcript_length=12,
        max_context_comments=3,
        max_eval_context_comments=4,
        max_comment_length=6,
        max_chat_length=48,
    )


@pytest.fixture(scope="module")
def model(processor):
    torch.manual_seed(0)
    return LiveChatForCommentGeneration(tiny_config(**processor.config_kwargs())).eval()


@pytest.fixture(scope="module")
def rows():
    rng = np.random.default_rng(0)

    def comments(count):
        return [
            {"time": float(i), "author": "a", "text": " ".join(rng.choice(WORDS, rng.integers(1, 5)))}
            for i in range(count)
        ]

    return [
        {
            "vod_id": f"vod{i % 2}",
            "transcript": " ".join(rng.choice(WORDS, 10)),
            # Clips differ in frames and comments, so batches need padding.
            "video_features": rng.standard_normal((int(rng.integers(1, 6)), 12)).astype(np.float32),
            "context_comments": comments(int(rng.integers(0, 7))),
            "response_comments": comments(int(rng.integers(1, 4))),
        }
        for i in range(10)
    ]


@pytest.fixture(scope="module")
def candidate_sets(rows):
    return build_candidates(rows, "livechat", num_candidates=6, seed=0)


def test_batched_scores_equal_one_forward_per_candidate(model, processor, rows, candidate_sets):
    batched = rank_candidates(model, processor, rows, candidate_sets, batch_size=4, show_progress=False)
    reference = score_candidates_one_by_one(model, processor, rows, candidate_sets)
    assert batched.shape == (len(candidate_sets), 6) and batched.dtype == np.float32
    np.testing.assert_allclose(batched, reference, atol=1e-4)
    np.testing.assert_array_equal(np.argsort(-batched, axis=1), np.argsort(-reference, axis=1))
    # The batch size changes nothing.
    np.testing.assert_allclose(
        rank_candidates(model, processor, rows, candidate_sets, batch_size=3, show_progress=False), batched, atol=1e-5
    )


@pytest.mark.parametrize("prior_weight", [0.0, 0.5, 1.0])
def test_contrastive_scores_equal_the_likelihood_minus_the_all_ablated_likelihood(model, processor, rows, candidate_sets, prior_weight):
    """Computed by hand: one forward per candidate with the clip, one with every modality removed."""
    sets = candidate_sets[:3]
    likelihood = score_candidates_one_by_one(model, processor, rows, sets, prior_weight=0)
    unconditional = score_candidates_one_by_one(model, processor, rows, sets, ablate=("video", "transcript", "chat"), prior_weight=0)
    batched = rank_candidates(model, processor, rows, sets, prior_weight=prior_weight, show_progress=False)
    np.testing.assert_allclose(batched, likelihood - prior_weight * unconditional, atol=1e-4)
    metrics = evaluate_ranking(model, processor, rows, sets, prior_weight=prior_weight, compare_prior_weights=[0.0], show_progress=False)
    assert metrics["prior_weight"] == prior_weight and ("contrastive" in metrics["scoring"]) == (prior_weight > 0)
    assert metrics["by prior weight"][0.0]["mrr"] == evaluate_ranking(model, processor, rows, sets, prior_weight=0, show_progress=False)["mrr"]


def test_sum_of_log_probabilities(model, processor, rows, candidate_sets):
    sets = candidate_sets[:2]
    summed = rank_candidates(model, processor, rows, sets, length_normalize=False, show_progress=False)
    reference = score_candidates_one_by_one(model, processor, rows, sets, length_normalize=False)
    np.testing.assert_allclose(summed, reference, atol=1e-4)


def test_evaluate_ranking_can_rank_by_the_sum_of_log_probabilities(model, processor, rows, candidate_sets):
    """The reference code sums token log-probabilities; `evaluate_ranking` defaults to the mean."""
    from hf_livechat.evaluation.ranking_metrics import ranking_metrics

    positives = [s.positive_indices for s in candidate_sets]
    for length_normalize in (True, False):
        scores = rank_candidates(model, processor, rows, candidate_sets, length_normalize=length_normalize, show_progress=False)
        # the default score is contrastive: the likelihood minus the unconditional likelihood
        metrics = evaluate_ranking(model, processor, rows, candidate_sets, length_normalize=length_normalize, show_progress=False)
        assert metrics["mrr"] == ranking_metrics(scores, positives)["mrr"]
    default = evaluate_ranking(model, processor, rows, candidate_sets, prior_weight=0, show_progress=False)
    summed = evaluate_ranking(model, processor, rows, candidate_sets, length_normalize=False, prior_weight=0, show_progress=False)
    assert default["mrr"] != summed["mrr"]  # candidates of different lengths rank differently


@pytest.mark.parametrize("ablate", [("video",), ("transcript",), ("chat",), ("video", "transcript", "chat")])
def test_ablation_matches_the_reference_and_changes_the_scores(model, processor, rows, candidate_sets, ablate):
    sets = candidate_sets[:3]
    ablated = rank_candidates(model, processor, rows, sets, ablate=ablate, show_progress=False)
    np.testing.assert_allclose(
        ablated, score_candidates_one_by_one(model, processor, rows, sets, ablate=ablate), atol=1e-4
    )
    full = rank_candidates(model, processor, rows, sets, show_progress=False)
    assert not np.allclose(ablated, full)


def test_ablation_empties_the_modality_inputs(rows):
    full = query_inputs(rows[:2], 12)
    assert [f.shape for f in full["video_features"]] == [r["video_features"].shape for r in rows[:2]]
    assert full["transcript"] == [r["transcript"] for r in rows[:2]]
    ablated = query_inputs(rows[:2], 12, ablate=("video", "chat"))
    assert [f.shape for f in ablated["video_features"]] == [(0, 12), (0, 12)]
    assert ablated["chat"] == [[], []] and ablated["transcript"] == full["transcript"]
    assert query_inputs(rows[:2], 12, ablate="transcript")["transcript"] == ["", ""]
    # A clip without features counts as a clip without video.
    assert query_inputs([{"transcript": "hi"}], 12)["video_features"][0].shape == (0, 12)
    assert query_inputs([{"video_features": []}], 12)["video_features"][0].shape == (0, 12)
    with pytest.raises(ValueError, match="Unknown modalities"):
        query_inputs(rows, 12, ablate=("audio",))


def test_evaluate_ranking_reports_the_metrics(model, processor, rows, candidate_sets):
    model.train()
    metrics = evaluate_ranking(model, processor, rows, candidate_sets, show_progress=False)
    assert model.training  # scoring ran in eval mode and restored the flag
    model.eval()
    assert metrics["num_queries"] == len(candidate_sets) and metrics["protocol"] == "livechat"
    assert 1 <= metrics["mean_rank"] <= 6 and metrics["recall@10"] == 1.0
    paper = evaluate_ranking(model, processor, rows, candidate_sets, paper_metric=True, show_progress=False)
    assert paper["protocol"] == "livechat+paper_metric" and paper["recall@1"] >= metrics["recall@1"]


def test_recall_at_1_by_group_is_the_recall_of_each_group_alone(model, processor, rows, candidate_sets):
    from hf_livechat.evaluation.ranking_metrics import ground_truth_ranks

    groups = ["even" if i % 2 == 0 else "odd" for i in range(len(candidate_sets))]
    metrics = evaluate_ranking(model, processor, rows, candidate_sets, groups=groups, show_progress=False)
    scores = rank_candidates(model, processor, rows, candidate_sets, show_progress=False)
    hits = ground_truth_ranks(scores, [s.positive_indices for s in candidate_sets]) == 1
    expected = {
        f"even ({len(hits[0::2])})": float(hits[0::2].mean()),
        f"odd ({len(hits[1::2])})": float(hits[1::2].mean()),
    }
    assert metrics["recall@1 by group"] == pytest.approx(expected)
    with pytest.raises(ValueError, match="labels"):
        evaluate_ranking(model, processor, rows, candidate_sets, groups=groups[:-1], show_progress=False)


def test_a_model_trained_on_the_answer_ranks_it_first(model, processor, rows):
    torch.manual_seed(0)
    trained = LiveChatForCommentGeneration(model.config)
    trained.load_state_dict(model.state_dict())
    batch = processor(**query_inputs(rows[:2], 12), targets=["clutch save", "clutch save"])
    optimizer = torch.optim.Adam(trained.parameters(), lr=1e-2)
    for _ in range(15):
        trained(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    sets = [
        CandidateSet(0, ["gg", "clutch save", "nice play"], [1], "manual"),
        CandidateSet(1, ["why", "lol", "clutch save"], [2], "manual"),
    ]
    # the likelihood: the model writes "clutch save" whatever the clip (contrastive scoring would not favour it)
    metrics = evaluate_ranking(trained, processor, rows, sets, prior_weight=0, show_progress=False)
    assert metrics["recall@1"] == 1.0 and metrics["mrr"] == 1.0 and metrics["protocol"] == "manual"


def test_bad_candidate_sets_raise(model, processor, rows):
    with pytest.raises(ValueError, match="same number of candidates"):
        rank_candidates(
            model, processor, rows, [CandidateSet(0, ["a", "b"], [0], "x"), CandidateSet(1, ["a"], [0], "x")]
        )
    with pytest.raises(ValueError, match="query_index 99"):
        rank_candidates(model, processor, rows, [CandidateSet(99, ["a", "b"], [0], "x")])
    with pytest.raises(ValueError, match="No candidate sets"):
        rank_candidates(model, processor, rows, [])
