import math

import pytest
import torch
from huggingface_hub.errors import StrictDataclassClassValidationError
from livechat_testing import random_labels, tiny_config, tiny_inputs, unpad_example
from transformers import AutoConfig, AutoModel, AutoModelForSeq2SeqLM

from hf_livechat import LiveChatConfig, LiveChatForCommentGeneration, LiveChatForPretraining


@pytest.fixture(params=["comment", "token"])
def chat_encoder_type(request):
    return request.param


def make_model(seed=0, **overrides) -> LiveChatForCommentGeneration:
    torch.manual_seed(seed)
    # A larger init spreads the logits so that generation is not degenerate in an untrained model.
    return LiveChatForCommentGeneration(tiny_config(init_std=0.3, **overrides)).eval()


def test_default_config_is_the_reference_model():
    config = LiveChatConfig()
    assert (config.d_model, config.encoder_layers, config.decoder_layers) == (256, 4, 4)
    assert (config.encoder_attention_heads, config.decoder_attention_heads) == (8, 8)
    assert (config.encoder_ffn_dim, config.decoder_ffn_dim, config.dropout) == (512, 512, 0.1)
    assert (config.video_feature_dim, config.vocab_size) == (2048, 30522)
    assert (config.max_transcript_length, config.max_context_comments, config.max_eval_context_comments) == (100, 5, 15)
    assert config.max_comment_length == 10
    assert config.chat_encoder_type == "comment"
    assert config.cross_attention_order == ["video", "transcript", "chat"]


def test_config_rejects_bad_choices():
    # transformers' strict config dataclasses wrap validator errors in StrictDataclassClassValidationError.
    with pytest.raises(StrictDataclassClassValidationError, match="cross_attention_order"):
        LiveChatConfig(cross_attention_order=["video", "chat"])
    with pytest.raises(StrictDataclassClassValidationError, match="chat_encoder_type"):
        LiveChatConfig(chat_encoder_type="sentence")


def test_forward_shapes_and_loss(chat_encoder_type):
    model = make_model(chat_encoder_type=chat_encoder_type)
    inputs, labels = tiny_inputs(model.config), random_labels(model.config)
    out = model(**inputs, labels=labels)
    assert out.logits.shape == (3, labels.shape[1], model.config.vocab_size)
    expected = torch.nn.functional.cross_entropy(out.logits.reshape(-1, model.config.vocab_size), labels.reshape(-1))
    torch.testing.assert_close(out.loss, expected)
    assert torch.isfinite(out.logits).all()


def test_lm_head_is_tied_to_shared_embeddings():
    model = make_model()
    assert model.lm_head.weight is model.model.shared.weight
    assert model.model.encoder.embed_tokens.weight is model.model.shared.weight
    assert model.model.decoder.embed_tokens.weight is model.model.shared.weight


def test_save_and_reload_give_identical_logits(tmp_path):
    model = make_model()
    inputs, labels = tiny_inputs(model.config), random_labels(model.config)
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file()
    assert AutoConfig.from_pretrained(tmp_path).model_type == "livechat"
    for auto_class in (AutoModel, AutoModelForSeq2SeqLM):
        reloaded = auto_class.from_pretrained(tmp_path).eval()
        assert isinstance(reloaded, LiveChatForCommentGeneration)
        torch.testing.assert_close(reloaded(**inputs, labels=labels).logits, model(**inputs, labels=labels).logits, rtol=0, atol=0)


@pytest.mark.parametrize("mode", ["greedy", "beam", "sample"])
def test_cached_and_uncached_generation_give_identical_tokens(mode, chat_encoder_type):
    model = make_model(chat_encoder_type=chat_encoder_type)
    inputs = tiny_inputs(model.config)
    kwargs = {"greedy": {}, "beam": {"num_beams": 3}, "sample": {"do_sample": True, "top_k": 20}}[mode]
    outputs = []
    for use_cache in (True, False):
        torch.manual_seed(123)
        outputs.append(model.generate(**inputs, max_new_tokens=7, use_cache=use_cache, **kwargs))
    assert torch.equal(outputs[0], outputs[1])
    diversity = max(len(row[1:].unique()) for row in outputs[0])
    assert diversity > 2, "degenerate generation: the test would not detect cache errors"


def test_encoders_run_once_during_generation():
    model = make_model()
    calls = []
    model.get_encoder().register_forward_hook(lambda *args: calls.append(1))
    model.generate(**tiny_inputs(model.config), max_new_tokens=6, num_beams=2)
    assert len(calls) == 1


def test_padded_batch_rows_match_examples_alone(chat_encoder_type):
    model = make_model(chat_encoder_type=chat_encoder_type)
    inputs = tiny_inputs(model.config)
    decoder_input_ids = torch.randint(4, model.config.vocab_size, (3, 5), generator=torch.Generator().manual_seed(3))
    batched = model(**inputs, decoder_input_ids=decoder_input_ids).logits
    generated = model.generate(**inputs, max_new_tokens=6)
    for i in range(3):
        alone_inputs = unpad_example(inputs, i)
        alone = model(**alone_inputs, decoder_input_ids=decoder_input_ids[i : i + 1]).logits
        torch.testing.assert_close(batched[i : i + 1], alone, atol=1e-5, rtol=1e-4)
        alone_generated = model.generate(**alone_inputs, max_new_tokens=6)
        assert torch.equal(generated[i : i + 1, : alone_generated.shape[1]], alone_generated)


@pytest.mark.parametrize("modality", ["video", "transcript", "chat"])
def test_changing_one_modality_changes_the_logits(modality):
    model = make_model()
    inputs = tiny_inputs(model.config)
    decoder_input_ids = torch.full((3, 4), 7)
    reference = model(**inputs, decoder_input_ids=decoder_input_ids).logits
    changed = dict(inputs)
    if modality == "video":
        changed["video_features"] = inputs["video_features"] + torch.randn_like(inputs["video_features"])
    else:
        key = f"{modality}_input_ids"
        changed[key] = torch.where(inputs[key] != 0, (inputs[key] + 7) % (model.config.vocab_size - 4) + 4, inputs[key])
    logits = model(**changed, decoder_input_ids=decoder_input_ids).logits
    assert (logits - reference).abs().max() > 1e-3


def test_every_encoder_receives_gradients(chat_encoder_type):
    model = make_model(chat_encoder_type=chat_encoder_type).train()
    model(**tiny_inputs(model.config), labels=random_labels(model.config)).loss.backward()
    encoder = model.model.encoder
    for name in ("video_encoder", "transcript_encoder", "chat_encoder", "video_projection"):
        grads = [p.grad for p in getattr(encoder, name).parameters() if p.requires_grad]
        assert grads and all(g is not None for g in grads), name
        assert sum(g.abs().sum() for g in grads) > 0, name


def test_absent_modalities_give_finite_outputs():
    model = make_model()
    inputs, labels = tiny_inputs(model.config), random_labels(model.config)
    # Per example: no video for row 0, no transcript for row 1, no chat for row 2.
    inputs["video_mask"][0] = 0
    inputs["transcript_input_ids"][1] = 0
    inputs["transcript_attention_mask"][1] = 0
    inputs["chat_input_ids"][2] = 0
    inputs["chat_attention_mask"][2] = 0
    out = model(**inputs, labels=labels)
    assert torch.isfinite(out.logits).all() and torch.isfinite(out.loss)
    # Whole batch without video / without transcript and chat.
    for missing in (["video_features", "video_mask"], ["transcript_input_ids", "transcript_attention_mask", "chat_input_ids", "chat_attention_mask"]):
        partial = {k: v for k, v in inputs.items() if k not in missing}
        out = model(**partial, labels=labels)
        assert torch.isfinite(out.logits).all()
        assert model.generate(**partial, max_new_tokens=3).shape[0] == 3


def test_bad_inputs_raise_clear_errors():
    model = make_model()
    inputs = tiny_inputs(model.config)
    labels = random_labels(model.config)
    with pytest.raises(ValueError, match="video_feature_dim=12"):
        model(**{**inputs, "video_features": torch.randn(3, 6, 7)}, labels=labels)
    with pytest.raises(ValueError, match="Mismatched batch sizes"):
        model(**{**inputs, "transcript_input_ids": inputs["transcript_input_ids"][:2], "transcript_attention_mask": None}, labels=labels)
    with pytest.raises(ValueError, match="All modalities are empty"):
        model(labels=labels)
    with pytest.raises(ValueError, match="video_mask has shape"):
        model(**{**inputs, "video_mask": inputs["video_mask"][:, :2]}, labels=labels)
    with pytest.raises(ValueError, match=r"\(batch, comments, tokens\)"):
        model(**{**inputs, "chat_input_ids": inputs["chat_input_ids"][:, 0], "chat_attention_mask": None}, labels=labels)


def test_candidate_scores_match_per_candidate_forward():
    model = make_model()
    inputs = tiny_inputs(model.config)
    candidates = torch.randint(4, model.config.vocab_size, (3, 4, 5), generator=torch.Generator().manual_seed(5))
    candidates[:, :, -1] = 0
    candidates[:, 1, 3:] = 0
    scores = model.score_candidates(candidates, **inputs)
    for b in range(3):
        alone = unpad_example(inputs, b)
        for c in range(4):
            ids = candidates[b, c][candidates[b, c] != 0].unsqueeze(0)
            loss = model(**alone, labels=ids).loss
            assert math.isclose(scores[b, c].item(), -loss.item(), rel_tol=1e-4, abs_tol=1e-5)


def test_gradient_checkpointing_gives_the_same_gradients():
    model = make_model().train()
    inputs, labels = tiny_inputs(model.config), random_labels(model.config)
    model(**inputs, labels=labels).loss.backward()
    reference = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    model.activation_checkpointing_enable()
    model(**inputs, labels=labels).loss.backward()
    for name, grad in reference.items():
        torch.testing.assert_close(dict(model.named_parameters())[name].grad, grad, atol=1e-6, rtol=1e-5)


def test_bfloat16_forward_and_generate():
    model = make_model().to(torch.bfloat16)
    inputs = tiny_inputs(model.config)
    out = model(**inputs, labels=random_labels(model.config))
    assert out.logits.dtype == torch.bfloat16 and torch.isfinite(out.loss)
    assert model.generate(**inputs, max_new_tokens=4).shape[0] == 3


def test_sdpa_and_eager_attention_agree():
    model = make_model()
    inputs = tiny_inputs(model.config)
    labels = random_labels(model.config)
    sdpa = model(**inputs, labels=labels).logits
    model.set_attn_implementation("eager")
    eager = model(**inputs, labels=labels).logits
    torch.testing.assert_close(sdpa, eager, atol=1e-4, rtol=1e-4)


def test_masked_lm_pretraining_trains_and_loads_into_the_generation_model(tmp_path):
    torch.manual_seed(0)
    config = tiny_config()
    model = LiveChatForPretraining(config)
    inputs = tiny_inputs(config)
    labels_t = torch.full_like(inputs["transcript_input_ids"], -100)
    labels_t[:, 2] = inputs["transcript_input_ids"][:, 2]
    labels_c = torch.full_like(inputs["chat_input_ids"], -100)
    labels_c[:, 0, 1] = inputs["chat_input_ids"][:, 0, 1]
    masked = dict(inputs)
    masked["transcript_input_ids"] = inputs["transcript_input_ids"].clone()
    masked["transcript_input_ids"][:, 2] = config.mask_token_id
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(25):
        loss = model(**masked, transcript_labels=labels_t, chat_labels=labels_c).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    assert model.mlm_head.decoder.weight is model.model.shared.weight
    model.save_pretrained(tmp_path)
    generator = LiveChatForCommentGeneration.from_pretrained(tmp_path)
    torch.testing.assert_close(generator.model.shared.weight, model.model.shared.weight)
    torch.testing.assert_close(
        generator.model.encoder.transcript_encoder.layers[0].mlp.fc1.weight,
        model.model.encoder.transcript_encoder.layers[0].mlp.fc1.weight,
    )
