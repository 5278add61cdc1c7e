"""The copy mechanism (`copy_mechanism=True`): a pointer distribution over the context tokens mixed into the LM head."""

import math

import pytest
import torch
from livechat_testing import tiny_config, tiny_inputs, unpad_example

from hf_livechat import LiveChatForCommentGeneration


@pytest.mark.parametrize("chat_encoder_type", ["comment", "token"])
def test_copy_logits_are_a_distribution_and_candidate_scores_match_the_forward(chat_encoder_type):
    torch.manual_seed(0)
    model = LiveChatForCommentGeneration(tiny_config(copy_mechanism=True, chat_encoder_type=chat_encoder_type, init_std=0.3)).eval()
    inputs = tiny_inputs(model.config)
    decoder_input_ids = torch.randint(4, model.config.vocab_size, (3, 4))
    logits = model(**inputs, decoder_input_ids=decoder_input_ids).logits
    torch.testing.assert_close(logits.logsumexp(-1), torch.zeros(3, 4), atol=1e-4, rtol=0)
    # The context's tokens (row 0's) get more probability mass than the LM head alone gives them.
    lm_only = model.lm_head(model.model(**inputs, decoder_input_ids=decoder_input_ids).last_hidden_state).softmax(-1)
    context = torch.cat([inputs["transcript_input_ids"][0].flatten(), inputs["chat_input_ids"][0].flatten()]).unique()
    assert (logits[0].exp()[:, context].sum(-1) > lm_only[0][:, context].sum(-1) + 1e-3).all()

    candidates = torch.randint(4, model.config.vocab_size, (3, 4, 5), generator=torch.Generator().manual_seed(5))
    candidates[:, 0, :3] = inputs["transcript_input_ids"][:, :3]  # copyable
    candidates[:, :, -1] = 0
    candidates[:, 1, 3:] = 0
    scores = model.score_candidates(candidates, **inputs)
    for b in range(3):
        alone = unpad_example(inputs, b)
        for c in range(4):
            ids = candidates[b, c][candidates[b, c] != 0].unsqueeze(0)
            loss = model(**alone, labels=ids).loss
            assert math.isclose(scores[b, c].item(), -loss.item(), rel_tol=1e-4, abs_tol=1e-5)


def test_the_copy_mechanism_learns_to_repeat_unseen_context_tokens():
    """Targets are a chat token drawn from a large vocabulary, new in every batch: only copying can predict it."""
    def batch(step, config):
        g = torch.Generator().manual_seed(step)
        inputs = tiny_inputs(config, batch_size=8, seed=step)
        chat = inputs["chat_input_ids"]
        rows = torch.arange(8)
        picked = chat[rows, 0, torch.randint(0, 3, (8,), generator=g)] if chat.dim() == 3 else chat[rows, 0]
        picked[1] = chat[1, 0, 0] if chat.dim() == 3 else chat[1, 0]
        labels = torch.stack([picked, torch.full_like(picked, config.eos_token_id)], dim=1)
        return inputs, labels

    final = {}
    for copy in (False, True):
        torch.manual_seed(0)
        model = LiveChatForCommentGeneration(tiny_config(copy_mechanism=copy, vocab_size=400)).train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
        losses = []
        for step in range(60):
            inputs, labels = batch(step, model.config)
            loss = model(**inputs, labels=labels[:, :1]).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            losses.append(loss.item())
        final[copy] = sum(losses[-10:]) / 10
    assert final[True] < 0.5 * final[False], final


@pytest.mark.parametrize("num_beams", [1, 3])
def test_generation_with_copy_is_the_same_cached_and_uncached(num_beams):
    torch.manual_seed(0)
    model = LiveChatForCommentGeneration(tiny_config(copy_mechanism=True, init_std=0.3)).eval()
    inputs = tiny_inputs(model.config)
    cached = model.generate(**inputs, max_new_tokens=6, num_beams=num_beams, use_cache=True)
    uncached = model.generate(**inputs, max_new_tokens=6, num_beams=num_beams, use_cache=False)
    assert torch.equal(cached, uncached)
