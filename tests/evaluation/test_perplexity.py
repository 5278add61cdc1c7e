"""Per-word perplexity: the formula by hand, and batched target NLL equal to a one-by-one computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from hf_livechat.evaluation.perplexity import (
    case_cost,
    causal_lm_target_nll,
    count_words,
    lowercases,
    per_word_perplexity,
    unknown_pieces,
    unknown_token_cost,
)


def test_count_words_adds_the_line_end():
    assert count_words("KEKW") == 2
    assert count_words("  lol   that was close ") == 5
    assert count_words("") == 1
    assert count_words("哈哈哈哈") == 2  # no spaces: one word


def test_per_word_perplexity_by_hand():
    # 3 + 1 words and 1 + 1 words: total NLL 6 over 6 words -> e^1
    assert per_word_perplexity([4.0, 2.0], ["one two three", "four"]) == pytest.approx(math.e)
    # a single comment: exp(NLL / (words + 1))
    assert per_word_perplexity([math.log(8) * 2], ["a"]) == pytest.approx(8.0)
    assert per_word_perplexity(np.array([0.0]), ["x"]) == 1.0


@pytest.mark.parametrize(
    "nll, texts, message",
    [([1.0], ["a", "b"], "1 NLL values but 2 texts"), ([], [], "at least one"), ([-1.0], ["a"], ">= 0"),
     ([float("nan")], ["a"], "finite")],
)
def test_per_word_perplexity_rejects_bad_input(nll, texts, message):
    with pytest.raises(ValueError, match=message):
        per_word_perplexity(nll, texts)


TEXT = ["lol that was close", "KEKW", "no way he makes that jump", "GG", "chat is this real", "the lads do be falling"]


@pytest.fixture(scope="module")
def tiny_lm():
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator(
        TEXT * 20, trainers.BpeTrainer(vocab_size=300, special_tokens=["<s>", "</s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    )
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>")
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    torch.manual_seed(0)
    return LlamaForCausalLM(config).eval(), tokenizer


def _one_by_one(model, tokenizer, prompt, target, max_length=None):
    prompt_ids = tokenizer(prompt, add_special_tokens=False).input_ids or [tokenizer.bos_token_id]
    target_ids = tokenizer(target, add_special_tokens=False).input_ids
    if max_length is not None:
        prompt_ids = prompt_ids[len(prompt_ids) + len(target_ids) - max_length:] if len(prompt_ids) + len(target_ids) > max_length else prompt_ids
    ids = torch.tensor([prompt_ids + target_ids])
    with torch.no_grad():
        logprobs = torch.log_softmax(model(ids).logits[0, :-1].double(), -1)
    labels = ids[0, 1:]
    token_nll = -logprobs[torch.arange(len(labels)), labels]
    return token_nll[-len(target_ids):].sum().item(), len(target_ids)


def test_batched_nll_equals_one_by_one(tiny_lm):
    model, tokenizer = tiny_lm
    prompts = ["\n".join(TEXT[:k]) + "\n" if k else "" for k in range(len(TEXT))]
    targets = [t + "\n" for t in reversed(TEXT)]
    nll, tokens = causal_lm_target_nll(model, tokenizer, prompts, targets, batch_size=4)
    expected = [_one_by_one(model, tokenizer, p, t) for p, t in zip(prompts, targets)]
    np.testing.assert_allclose(nll, [e[0] for e in expected], rtol=1e-4)
    assert tokens.tolist() == [e[1] for e in expected]
    assert (nll > 0).all()
    # batch size changes nothing
    np.testing.assert_allclose(causal_lm_target_nll(model, tokenizer, prompts, targets, batch_size=1)[0], nll, rtol=1e-4)


def test_long_prompts_lose_their_oldest_tokens(tiny_lm):
    model, tokenizer = tiny_lm
    prompt, target = "\n".join(TEXT * 3) + "\n", "GG\n"
    assert len(tokenizer(prompt).input_ids) > 30
    nll, _ = causal_lm_target_nll(model, tokenizer, [prompt], [target], max_length=30)
    assert nll[0] == pytest.approx(_one_by_one(model, tokenizer, prompt, target, max_length=30)[0], rel=1e-4)


def test_bad_inputs(tiny_lm):
    model, tokenizer = tiny_lm
    with pytest.raises(ValueError, match="2 prompts but 1 targets"):
        causal_lm_target_nll(model, tokenizer, ["a", "b"], ["c"])
    with pytest.raises(ValueError, match="has no tokens"):
        causal_lm_target_nll(model, tokenizer, ["a"], [""])


def test_unknown_tokens_cost_log_of_the_pieces_they_stand_for(tiny_lm):
    from hf_livechat.tokenization import default_tokenizer

    bert = default_tokenizer()  # BERT uncased: the emoji are [UNK], whole pieces
    log = ["gg 💚💚💚", "🦆 lol", "gg", "💚💚💚 again", "a 🐸 b"]
    assert unknown_pieces(bert, log) == {"💚💚💚": 2, "🦆": 1, "🐸": 1}
    targets = ["💚💚💚 gg 🦆", "gg", "new 🍕"]
    costs, pieces = unknown_token_cost(bert, targets, log)
    assert pieces == 4  # the log's three and the target's 🍕
    np.testing.assert_allclose(costs, [2 * math.log(4), 0.0, math.log(4)])
    # an open vocabulary spells everything: nothing to add
    costs, pieces = unknown_token_cost(tiny_lm[1], targets, log)
    assert pieces == 0 and not costs.any()


def test_a_lower_casing_tokenizer_pays_for_the_case_it_drops(tiny_lm):
    from hf_livechat.tokenization import default_tokenizer

    bert = default_tokenizer()  # BERT uncased reads "YES" as "yes"
    assert lowercases(bert) and not lowercases(tiny_lm[1])
    # the chain counted on the log (add-one): a word starts upper-case 3 of 6 times, a letter after a lower-case
    # one is upper-case 1 of 8 times, after an upper-case one 3 of 5 times
    log = ["lol", "LOL", "Hi there"]
    targets = ["OK", "aA", "💚x", "ok 🦆"]  # "💚x" is one [UNK] piece: its letter is the spread's to pay for
    np.testing.assert_allclose(
        case_cost(bert, targets, log), [math.log(2) + math.log(5 / 3), math.log(2) + math.log(8), 0.0, math.log(2) + math.log(8 / 7)]
    )
    # a tokenizer that keeps case already paid for it
    assert not case_cost(tiny_lm[1], targets, log).any()
