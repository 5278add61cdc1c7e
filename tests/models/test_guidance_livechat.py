"""Contrastive scoring, the null-memory pass and classifier-free guidance of LiveChatForCommentGeneration."""

import pytest
import torch
from transformers import LogitsProcessorList

from hf_livechat import LiveChatForCommentGeneration
from hf_livechat.models.livechat.modeling_livechat import LiveChatGuidanceLogitsProcessor

from livechat_testing import tiny_config, tiny_inputs


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


MODES = [dict(chat_encoder_type="comment"), dict(chat_encoder_type="token", copy_mechanism=True)]


def _model(**overrides):
    torch.manual_seed(0)
    return LiveChatForCommentGeneration(tiny_config(**overrides)).eval()


def _candidates(batch_size=3, num_candidates=4, length=6, seed=1):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(4, 99, (batch_size, num_candidates, length), generator=g)
    ids[:, :, -1] = 2  # [SEP]
    ids[:, 1, 3:] = 0  # a shorter candidate: [SEP] then padding
    ids[:, 1, 2] = 2
    return ids


def _all_ablated(config, batch_size):
    """The inputs the processor gives a clip with every modality removed: no frames, no transcript, no chat."""
    chat_shape = (batch_size, 0) if config.chat_encoder_type == "token" else (batch_size, 1, config.max_comment_length)
    return {
        "video_features": torch.zeros(batch_size, 0, config.video_feature_dim),
        "transcript_input_ids": torch.zeros(batch_size, 0, dtype=torch.long),
        "chat_input_ids": torch.zeros(chat_shape, dtype=torch.long),
    }


@pytest.mark.parametrize("overrides", MODES)
def test_null_memory_pass_equals_ablating_all_three_modalities(overrides):
    model = _model(**overrides)
    candidates = _candidates()
    unconditional = model.unconditional_candidate_scores(candidates)
    ablated = model.score_candidates(candidates, **_all_ablated(model.config, 3))
    torch.testing.assert_close(unconditional, ablated, atol=1e-5, rtol=1e-5)
    # the null memories are the same for every row: one row expanded equals a batch of them
    expanded = model.null_encoder_outputs(1).expand_batch(3)
    batch = model.null_encoder_outputs(3)
    for name in ("video_last_hidden_state", "transcript_last_hidden_state", "chat_last_hidden_state"):
        torch.testing.assert_close(expanded[name], batch[name])


@pytest.mark.parametrize("overrides", MODES)
@pytest.mark.parametrize("prior_weight", [0.5, 1.0])
def test_contrastive_score_is_likelihood_minus_weighted_unconditional(overrides, prior_weight):
    model = _model(**overrides)
    inputs = tiny_inputs(model.config)
    candidates = _candidates()
    likelihood = model.score_candidates(candidates, **inputs)
    # by hand: each candidate's mean token log-probability from a plain forward, with and without the clip
    labels = candidates.reshape(-1, candidates.shape[-1]).masked_fill(candidates.reshape(-1, candidates.shape[-1]) == 0, -100)

    def mean_log_prob(encoder_inputs, row):
        batch = {k: v[row // 4 : row // 4 + 1] for k, v in encoder_inputs.items()}
        target = labels[row : row + 1]
        logits = model(**batch, labels=target).logits.float().log_softmax(-1)
        keep = target.ne(-100)
        return logits[0][keep[0]].gather(-1, target[keep][:, None]).mean()

    null_inputs = _all_ablated(model.config, 3)
    by_hand = torch.stack([mean_log_prob(inputs, r) - prior_weight * mean_log_prob(null_inputs, r) for r in range(12)])
    contrastive = model.score_candidates(candidates, prior_weight=prior_weight, **inputs)
    torch.testing.assert_close(contrastive.flatten(), by_hand, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(contrastive, likelihood - prior_weight * model.unconditional_candidate_scores(candidates))
    assert not torch.allclose(contrastive, likelihood)


@pytest.mark.parametrize("overrides", MODES)
@pytest.mark.parametrize("decoding", [dict(num_beams=3), dict(num_beams=1), dict(do_sample=True, top_k=5)])
def test_guidance_at_one_equals_plain_decoding(overrides, decoding):
    model = _model(**overrides)
    inputs = tiny_inputs(model.config)

    def run(**extra):
        torch.manual_seed(3)
        return model.generate(**inputs, max_new_tokens=6, **decoding, **extra)

    plain = run()
    torch.testing.assert_close(run(guidance_scale=1.0), plain)
    processor = LogitsProcessorList([LiveChatGuidanceLogitsProcessor(model, 1.0)])
    torch.testing.assert_close(run(logits_processor=processor), plain)


@pytest.mark.parametrize("overrides", MODES)
def test_guidance_mixes_conditional_and_unconditional_log_probs(overrides):
    model = _model(**overrides)
    inputs = tiny_inputs(model.config)
    encoder_outputs = model.get_encoder()(**inputs)
    prefix = torch.tensor([[1, 17, 40], [1, 17, 41], [1, 5, 6]])
    conditional = model(encoder_outputs=encoder_outputs, decoder_input_ids=prefix, use_cache=False).logits[:, -1]
    unconditional = model(**_all_ablated(model.config, 3), decoder_input_ids=prefix, use_cache=False).logits[:, -1]
    guided = LiveChatGuidanceLogitsProcessor(model, 2.5)(prefix, conditional)
    expected = unconditional.log_softmax(-1) + 2.5 * (conditional.log_softmax(-1) - unconditional.log_softmax(-1))
    torch.testing.assert_close(guided, expected, atol=1e-4, rtol=1e-4)


def test_guidance_cache_follows_reordered_beams():
    """Rows that extend other rows of the previous step (beam reordering) reuse their cache; the result equals a
    fresh unconditional pass."""
    model = _model(chat_encoder_type="token", copy_mechanism=True)
    processor = LiveChatGuidanceLogitsProcessor(model, 2.0)
    step1 = torch.tensor([[1, 7], [1, 8], [1, 9]])
    processor._unconditional_logits(step1)
    step2 = torch.tensor([[1, 9, 4], [1, 7, 5], [1, 7, 6]])  # rows 1 and 2 extend the old row 0, row 0 the old row 2
    cached = processor._unconditional_logits(step2)
    fresh = LiveChatGuidanceLogitsProcessor(model, 2.0)._unconditional_logits(step2)
    torch.testing.assert_close(cached, fresh, atol=1e-5, rtol=1e-5)


def test_generate_with_guidance_scale_uses_the_guided_scores():
    model = _model(chat_encoder_type="token", copy_mechanism=True)
    inputs = tiny_inputs(model.config)
    kwargs = dict(max_new_tokens=1, num_beams=1, do_sample=False, output_scores=True, return_dict_in_generate=True)
    guided = model.generate(**inputs, guidance_scale=4.0, **kwargs).scores[0]
    encoder_outputs = model.get_encoder()(**inputs)
    start = torch.full((3, 1), model.config.decoder_start_token_id)
    conditional = model(encoder_outputs=encoder_outputs, decoder_input_ids=start, use_cache=False).logits[:, -1]
    expected = LiveChatGuidanceLogitsProcessor(model, 4.0)(start, conditional)
    torch.testing.assert_close(guided, expected, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(guided, conditional.log_softmax(-1), atol=1e-3)


def test_video_features_are_standardised_with_saved_training_statistics(tmp_path):
    model = _model(chat_encoder_type="token")
    inputs = tiny_inputs(model.config)
    encoder = model.get_encoder()
    before = encoder(**inputs).video_last_hidden_state
    mean, std = torch.full((12,), 3.0), torch.full((12,), 2.0)
    std[0] = 0.0  # a dimension that never varies is divided by min_std, not by zero
    encoder.set_video_feature_statistics(mean, std)
    shifted = dict(inputs, video_features=inputs["video_features"] * 2.0 + 3.0)
    assert not torch.allclose(encoder(**shifted).video_last_hidden_state, before)
    # standardising x * 2 + 3 with mean 3 and std 2 gives x back (all but the constant dimension)
    shifted["video_features"][..., 0] = 3.0
    reference = dict(inputs, video_features=inputs["video_features"].clone())
    reference["video_features"][..., 0] = 0.0
    with_stats = encoder(**shifted).video_last_hidden_state
    encoder.set_video_feature_statistics(torch.zeros(12), torch.ones(12))
    torch.testing.assert_close(with_stats, encoder(**reference).video_last_hidden_state, atol=1e-4, rtol=1e-4)
    encoder.set_video_feature_statistics(mean, std)
    model.save_pretrained(tmp_path)
    loaded = LiveChatForCommentGeneration.from_pretrained(tmp_path).eval()
    torch.testing.assert_close(loaded.get_encoder().video_feature_std, std.clamp_min(1e-2))
    torch.testing.assert_close(loaded.get_encoder()(**shifted).video_last_hidden_state, with_stats)
    with pytest.raises(ValueError, match="shape"):
        encoder.set_video_feature_statistics(torch.zeros(5), torch.ones(5))
