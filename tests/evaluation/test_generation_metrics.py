import math

import evaluate
import pytest
import sacrebleu

from hf_livechat.evaluation.generation_metrics import (
    BLEU_MODULE,
    ROUGE_MODULE,
    distinct_n,
    generation_metrics,
    load_bleu,
    load_rouge,
    perplexity,
)


def test_shipped_modules_load_through_evaluate_from_their_path():
    # Path loading never contacts the Hub (evaluate.load("bleu") would), so it works with HF_HUB_OFFLINE=1.
    bleu, rouge = evaluate.load(BLEU_MODULE), evaluate.load(ROUGE_MODULE)
    assert isinstance(bleu, evaluate.Metric) and bleu.name == "livechat_bleu"
    assert isinstance(rouge, evaluate.Metric) and rouge.name == "livechat_rouge"


def test_bleu_matches_sacrebleu_with_a_varying_number_of_references():
    predictions = ["that was a really great play", "what a save by the keeper", "no way"]
    references = [
        ["that was a great play", "gg"],
        ["what a save by the goalkeeper"],
        ["no way", "no way that went in", "lol"],
    ]
    result = load_bleu().compute(predictions=predictions, references=references)
    streams = [
        ["that was a great play", "what a save by the goalkeeper", "no way"],
        ["gg", None, "no way that went in"],
        [None, None, "lol"],
    ]
    expected = sacrebleu.corpus_bleu(predictions, streams)
    assert result["score"] == pytest.approx(expected.score)
    assert result["precisions"] == pytest.approx(expected.precisions)
    assert 0 < result["score"] < 100
    exact = load_bleu().compute(predictions=["that was a great play"], references=["that was a great play"])
    assert exact["score"] == pytest.approx(100.0)


def test_rouge_l_takes_the_best_reference():
    rouge = load_rouge()
    # LCS("what a play", "what a save") = 2 of 3 tokens each way.
    result = rouge.compute(predictions=["what a play"], references=[["what a save", "nice"]])
    assert result["rougeL"] == pytest.approx(2 / 3)
    two = rouge.compute(predictions=["what a play", "gg"], references=[["nice", "what a play"], "wp"])
    assert two["rougeL"] == pytest.approx(0.5)


def test_rouge_tokenizers_for_emoji_and_cjk():
    rouge = load_rouge()
    emoji = {"predictions": ["😂😂 lol"], "references": ["😂😂 omg"]}
    # rouge_score's own tokenizer drops emoji: only "lol" vs "omg" is left.
    assert rouge.compute(**emoji)["rougeL"] == 0.0
    assert rouge.compute(**emoji, tokenizer="whitespace")["rougeL"] == pytest.approx(0.5)
    chinese = {"predictions": ["太强了"], "references": ["太强"]}
    assert rouge.compute(**chinese)["rougeL"] == 0.0
    assert rouge.compute(**chinese, tokenizer="char")["rougeL"] == pytest.approx(0.8)
    with pytest.raises(ValueError, match="tokenizer"):
        rouge.compute(**emoji, tokenizer="spacy")


def test_distinct_n_counts_over_all_predictions():
    predictions = ["gg gg wp", "GG wp"]
    # Unigrams gg gg wp gg wp: 2 distinct of 5. Bigrams (gg gg) (gg wp) (gg wp): 2 of 3.
    assert distinct_n(predictions, 1) == pytest.approx(2 / 5)
    assert distinct_n(predictions, 2) == pytest.approx(2 / 3)
    assert distinct_n(["gg"], 2) == 0.0
    with pytest.raises(ValueError):
        distinct_n(predictions, 0)


def test_perplexity_weighs_every_token_alike():
    losses = [[math.log(2), math.log(2)], [math.log(8)]]
    assert perplexity(losses) == pytest.approx(2 ** (5 / 3))
    assert perplexity([math.log(4)] * 3) == pytest.approx(4.0)
    with pytest.raises(ValueError, match="at least one"):
        perplexity([])
    with pytest.raises(ValueError, match="finite"):
        perplexity([1.0, float("inf")])


def test_generation_metrics_summary():
    predictions = ["that was a great play", "gg"]
    references = [["that was a great play", "nice"], "gg wp"]
    metrics = generation_metrics(predictions, references, token_losses=[[0.0, 0.0]])
    assert set(metrics) == {
        "bleu",
        "bleu_precisions",
        "rouge_l",
        "distinct_1",
        "distinct_2",
        "num_predictions",
        "perplexity",
    }
    assert metrics["rouge_l"] == pytest.approx((1 + 2 / 3) / 2)
    assert metrics["distinct_1"] == 1.0 and metrics["num_predictions"] == 2 and metrics["perplexity"] == 1.0
    assert "perplexity" not in generation_metrics(predictions, references)
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        generation_metrics(predictions, ["gg"])
    with pytest.raises(ValueError, match="no reference"):
        generation_metrics(predictions, [["gg"], []])
