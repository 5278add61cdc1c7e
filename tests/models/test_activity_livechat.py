"""The activity head: how many comments the response window will hold, from the encoded clip."""

import pytest
import torch
from livechat_testing import tiny_config, tiny_inputs

from hf_livechat import LiveChatForCommentGeneration


def _labels(config, batch_size):
    return torch.full((batch_size, 3), 5).index_fill_(1, torch.tensor([2]), config.eos_token_id)


def test_predict_activity_is_the_exponent_of_the_outputs_log_rate():
    config = tiny_config()
    model = LiveChatForCommentGeneration(config).eval()
    inputs = tiny_inputs(config)
    outputs = model(**inputs, labels=_labels(config, 3))
    predicted = model.predict_activity(**inputs, labels=_labels(config, 3))
    assert outputs.activity_log_rate.shape == (3,)
    torch.testing.assert_close(predicted, outputs.activity_log_rate.exp())
    assert (predicted > 0).all()


def test_activity_loss_is_poisson_and_weighted_into_the_loss():
    config = tiny_config(activity_loss_weight=0.5)
    model = LiveChatForCommentGeneration(config).eval()
    inputs, labels = tiny_inputs(config), _labels(config, 3)
    counts = torch.tensor([0.0, 4.0, 9.0])
    plain = model(**inputs, labels=labels)
    with_activity = model(**inputs, labels=labels, activity_labels=counts)
    rate = plain.activity_log_rate.exp()
    factorial = torch.tensor([1.0, 24.0, 362880.0])  # 0!, 4!, 9!
    by_hand = (rate - counts * plain.activity_log_rate + factorial.log()).mean()
    poisson = torch.distributions.Poisson(rate)
    torch.testing.assert_close(by_hand, -poisson.log_prob(counts).mean())
    torch.testing.assert_close(with_activity.activity_loss, by_hand)
    torch.testing.assert_close(with_activity.loss, plain.loss + 0.5 * by_hand)


def test_the_head_does_not_train_the_encoders():
    """The memories are detached: the activity loss alone leaves every encoder parameter without a gradient."""
    config = tiny_config()
    model = LiveChatForCommentGeneration(config)
    outputs = model(**tiny_inputs(config), labels=_labels(config, 3), activity_labels=torch.tensor([1.0, 2.0, 3.0]))
    outputs.activity_loss.backward()
    assert all(p.grad is None for p in model.get_encoder().parameters())
    assert all(p.grad is not None for p in model.activity_head.parameters())


def test_activity_head_learns_counts_that_follow_the_chat():
    """Counts that grow with the number of context comments: training the head brings its loss down and its
    predictions into the counts' order."""
    torch.manual_seed(0)
    config = tiny_config(chat_encoder_type="token")
    model = LiveChatForCommentGeneration(config)
    inputs = tiny_inputs(config, batch_size=8, seed=1)
    comment_len = 5
    kept = torch.arange(8) % 4 + 1  # 1..4 comments per clip
    for row, n in enumerate(kept.tolist()):
        inputs["chat_input_ids"][row, n * comment_len :] = config.pad_token_id
        inputs["chat_attention_mask"][row, n * comment_len :] = 0
    counts = (kept * 3).float()
    optimizer = torch.optim.Adam(model.activity_head.parameters(), lr=0.05)
    losses = []
    for _ in range(60):
        loss = model(**inputs, labels=_labels(config, 8), activity_labels=counts).activity_loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 1.0
    predicted = model.predict_activity(**inputs)
    for low, high in ((0, 1), (1, 2), (2, 3)):
        assert predicted[kept == low + 1].mean() < predicted[kept == high + 1].mean()


def test_models_without_the_head_say_so():
    config = tiny_config(activity_head=False)
    model = LiveChatForCommentGeneration(config).eval()
    inputs = tiny_inputs(config)
    assert model(**inputs, labels=_labels(config, 3)).activity_log_rate is None
    with pytest.raises(ValueError, match="no activity head"):
        model.predict_activity(**inputs)
    with pytest.raises(ValueError, match="without an activity head"):
        model(**inputs, labels=_labels(config, 3), activity_labels=torch.ones(3))



def test_a_checkpoint_saved_without_the_head_loads_without_one(tmp_path):
    """Configs written before the head existed have no `activity_head` key: they load as models without a head,
    not with an untrained one whose readings would look real."""
    import json

    config = tiny_config(activity_head=False)
    LiveChatForCommentGeneration(config).save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    saved.pop("activity_head"), saved.pop("activity_loss_weight")
    (tmp_path / "config.json").write_text(json.dumps(saved))
    assert LiveChatForCommentGeneration.from_pretrained(tmp_path).activity_head is None
    from hf_livechat import LiveChatConfig

    assert all(LiveChatConfig.from_preset(name).activity_head for name in ("tiny", "small", "reference", "reference-code"))


def test_cached_decoding_steps_skip_the_head():
    """`generate` passes the encoder outputs back in at every step: the head runs once per clip, not per token."""
    config = tiny_config()
    model = LiveChatForCommentGeneration(config).eval()
    inputs = tiny_inputs(config)
    encoded = model.get_encoder()(**{k: v for k, v in inputs.items()})
    step = model(encoder_outputs=encoded, decoder_input_ids=torch.ones(3, 1, dtype=torch.long))
    assert step.activity_log_rate is None
    full = model(**inputs, decoder_input_ids=torch.ones(3, 1, dtype=torch.long))
    torch.testing.assert_close(full.activity_log_rate.exp(), model.predict_activity(encoder_outputs=encoded))


def test_the_head_counts_every_context_comment_not_only_those_the_encoder_keeps():
    """Busy chat holds more comments in 20 s than the encoder keeps: with `activity_chat_count="comments"` (every
    preset) the head reads the processor's count of all of them; without it, the comments in the chat inputs."""
    from hf_livechat import LiveChatConfig, LiveChatProcessor
    from hf_livechat.tokenization import default_tokenizer

    assert LiveChatConfig.from_preset("small").activity_chat_count == "comments"
    tokenizer = default_tokenizer()
    token_fields = {k: v for k, v in LiveChatProcessor(tokenizer).config_kwargs().items() if k == "vocab_size" or k.endswith("token_id")}
    config = tiny_config(activity_chat_count="comments", **token_fields)
    processor = LiveChatProcessor.from_config(tokenizer, config)
    model = LiveChatForCommentGeneration(config).eval()
    torch.nn.init.normal_(model.activity_head.dense.weight, std=1.0)
    busy = processor(chat=[[f"pog {i}" for i in range(40)]])
    calm = processor(chat=[[f"pog {i}" for i in range(40 - config.max_eval_context_comments, 40)]])
    assert torch.equal(busy["chat_input_ids"], calm["chat_input_ids"]), "the encoder keeps the same latest comments"
    assert busy["chat_comment_count"].tolist() == [40.0]
    assert model.predict_activity(**busy) != model.predict_activity(**calm)
    counted = model.predict_activity(chat_input_ids=busy["chat_input_ids"], chat_attention_mask=busy["chat_attention_mask"])
    torch.testing.assert_close(counted, model.predict_activity(**calm))
