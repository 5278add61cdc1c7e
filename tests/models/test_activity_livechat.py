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


def _bert_token_fields():
    from hf_livechat import LiveChatProcessor
    from hf_livechat.tokenization import default_tokenizer

    tokenizer = default_tokenizer()
    fields = LiveChatProcessor(tokenizer).config_kwargs()
    return tokenizer, {k: v for k, v in fields.items() if k == "vocab_size" or k.endswith("token_id")}


def test_the_processor_counts_context_comments_by_age():
    """Bin 0 holds the comments of the last `chat_bin_seconds` before the window's end, bin 1 those before; comments
    without times or after the end are refused, never binned somewhere."""
    from hf_livechat import LiveChatProcessor
    from hf_livechat.data.chat import ChatMessage

    tokenizer, _ = _bert_token_fields()
    processor = LiveChatProcessor(tokenizer, chat_time_bins=4, chat_bin_seconds=2.5)
    chats = [
        [{"time": t, "text": "hi"} for t in (100.0, 101.0, 105.5, 108.0, 109.9)],
        [ChatMessage(t, "viewer", "gg") for t in (42.0, 49.0)],
        [],
    ]
    inputs = processor(chat=chats, chat_end_time=[110.0, 50.0, 10.0])
    # ages 10, 9, 4.5, 2, 0.1 -> bins 3 (the oldest edge is closed), 3, 1, 0, 0; ages 8, 1 -> bins 3, 0
    assert inputs["chat_time_histogram"].tolist() == [[2.0, 1.0, 0.0, 2.0], [1.0, 0.0, 0.0, 1.0], [0.0] * 4]
    assert inputs["chat_comment_count"].tolist() == [5.0, 2.0, 0.0]
    assert "chat_time_histogram" not in processor(chat=chats)
    assert "chat_time_histogram" not in LiveChatProcessor(tokenizer)(chat=chats, chat_end_time=[110.0, 50.0, 10.0])
    with pytest.raises(ValueError, match="has no time"):
        processor(chat=[["plain text"]], chat_end_time=5.0)
    with pytest.raises(ValueError, match="comes after its chat_end_time"):
        processor(chat=[[{"time": 12.0, "text": "late"}]], chat_end_time=10.0)
    with pytest.raises(ValueError, match="chat_end_time"):
        processor(chat=chats, chat_end_time=[1.0])


def test_the_time_bins_round_trip_with_the_processor_and_follow_the_config(tmp_path):
    from hf_livechat import LiveChatConfig, LiveChatProcessor

    tokenizer, _ = _bert_token_fields()
    config = LiveChatConfig.from_preset("small")
    assert (config.activity_chat_bins, config.activity_bin_seconds) == (10, 2.0)
    processor = LiveChatProcessor.from_config(tokenizer, config)
    processor.save_pretrained(tmp_path)
    loaded = LiveChatProcessor.from_pretrained(tmp_path)
    assert (loaded.chat_time_bins, loaded.chat_bin_seconds) == (10, 2.0)
    from huggingface_hub.errors import StrictDataclassClassValidationError

    with pytest.raises(StrictDataclassClassValidationError, match="activity_chat_bins"):
        LiveChatConfig(activity_chat_bins=-1)


def test_the_head_reads_when_the_comments_came():
    """Two windows with the same comments, all in the last 2 s or spread over 20 s, get different predictions; a
    head that reads time bins refuses to train or predict without them, and a forward without them (chat given as
    plain strings) gives no activity reading rather than one made up."""
    from hf_livechat import LiveChatProcessor

    tokenizer, token_fields = _bert_token_fields()
    config = tiny_config(activity_chat_count="comments", activity_chat_bins=10, **token_fields)
    processor = LiveChatProcessor.from_config(tokenizer, config)
    model = LiveChatForCommentGeneration(config).eval()
    torch.nn.init.normal_(model.activity_head.count_proj.weight, std=1.0)
    recent = processor(chat=[[{"time": 19.0 + i / 10, "text": f"pog {i}"} for i in range(8)]], chat_end_time=20.0)
    spread = processor(chat=[[{"time": 2.0 * i, "text": f"pog {i}"} for i in range(8)]], chat_end_time=20.0)
    assert torch.equal(recent["chat_input_ids"], spread["chat_input_ids"])
    assert model.predict_activity(**recent) != model.predict_activity(**spread)
    plain = processor(chat=[f"pog {i}" for i in range(8)])
    decoder_input_ids = torch.ones(1, 1, dtype=torch.long)
    assert model(**plain, decoder_input_ids=decoder_input_ids).activity_log_rate is None
    with pytest.raises(ValueError, match="time bins"):
        model.predict_activity(**plain)
    with pytest.raises(ValueError, match="time bins"):
        model(**plain, decoder_input_ids=decoder_input_ids, activity_labels=torch.ones(1))
    assert model(**recent, decoder_input_ids=decoder_input_ids).activity_log_rate is not None


def test_the_count_path_learns_a_rate_that_follows_the_recent_chat():
    """Counts that follow the last seconds of chat, whatever the comments say: training the head brings its loss
    down and its predictions into the order of the recent rate, also beyond the rates it trained on (the power law)."""
    from hf_livechat import LiveChatProcessor

    torch.manual_seed(0)
    tokenizer, token_fields = _bert_token_fields()
    config = tiny_config(activity_chat_count="comments", activity_chat_bins=4, activity_bin_seconds=5.0, **token_fields)
    processor = LiveChatProcessor.from_config(tokenizer, config)
    model = LiveChatForCommentGeneration(config)

    def windows(recent_counts):
        # 6 old comments in every window, then `n` in the last 5 s
        chats = [[{"time": float(t), "text": "hey"} for t in range(2, 8)] + [{"time": 17.0 + i / (n + 1), "text": "hey"} for i in range(n)] for n in recent_counts]
        return processor(chat=chats, chat_end_time=[20.0] * len(chats))

    train = windows([0, 1, 2, 4, 8, 12])
    counts = torch.tensor([1.0, 2.0, 3.0, 5.0, 9.0, 13.0])
    optimizer = torch.optim.Adam(model.activity_head.parameters(), lr=0.05)
    losses = []
    for _ in range(80):
        loss = model(**train, decoder_input_ids=torch.ones(6, 1, dtype=torch.long), activity_labels=counts).activity_loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 1.0
    predicted = model.predict_activity(**windows([1, 6, 20, 40])).tolist()
    assert predicted == sorted(predicted) and predicted[-1] > 13.0


def test_training_clips_the_comment_model_by_its_own_gradient_norm(tmp_path):
    """Dense chat's counts make the activity head's gradient large; clipped together with the comment model's, it
    would shrink every comment update. The comment model is clipped by its own norm (the same clipped gradient
    whatever the counts), the head by the whole model's, as transformers clips everything."""
    from transformers import Seq2SeqTrainingArguments

    from hf_livechat.training.train import LiveChatTrainer

    config = tiny_config()
    torch.manual_seed(0)
    model = LiveChatForCommentGeneration(config)
    args = Seq2SeqTrainingArguments(str(tmp_path), max_grad_norm=1.0, report_to="none", use_cpu=True)
    trainer = LiveChatTrainer(model=model, args=args)
    inputs, labels = tiny_inputs(config), _labels(config, 3)
    head = list(model.activity_head.parameters())
    comment = [p for p in model.parameters() if all(p is not h for h in head)]

    def norm(parameters):
        return torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in parameters if p.grad is not None]))

    def clipped(counts):
        model.zero_grad()
        model(**inputs, labels=labels, activity_labels=torch.tensor(counts)).loss.backward()
        head_before, comment_before = norm(head), norm(comment)
        returned = trainer._clip_grad_norm(model)
        torch.testing.assert_close(returned, comment_before)  # the comment model's norm, which the logs show
        whole = torch.hypot(head_before, comment_before)
        torch.testing.assert_close(norm(head), head_before / whole.clamp_min(1.0))
        return [p.grad.clone() for p in comment if p.grad is not None], head_before / comment_before

    quiet, _ = clipped([0.0, 1.0, 2.0])
    dense, head_share = clipped([90.0, 120.0, 80.0])
    assert head_share > 10  # the head's gradient would have filled a joint clip
    assert len(dense) == len(quiet) > 10
    for quiet_grad, dense_grad in zip(quiet, dense):
        torch.testing.assert_close(dense_grad, quiet_grad)


def test_max_pooling_reads_every_real_slot_and_no_padding():
    """With `activity_pooling="attention+max"` (every preset) the head also reads each memory's element-wise maximum:
    a real slot the learned query barely attends to still moves the prediction, a padded slot never does. Checkpoints
    from before (no `activity_pooling` in their config) keep the attention-only head and load with its weights."""
    from hf_livechat import LiveChatConfig
    from hf_livechat.models.livechat.layers_livechat import MODALITIES, LiveChatActivityHead

    for name in ("tiny", "small", "reference"):
        preset = LiveChatConfig.from_preset(name)
        assert (preset.activity_pooling, preset.activity_dropout) == ("attention+max", 0.3)
    torch.manual_seed(0)
    config = tiny_config(activity_chat_count="comments", activity_chat_bins=3, activity_pooling="attention+max", activity_dropout=0.3)
    head = LiveChatActivityHead(config).eval()
    torch.nn.init.normal_(head.dense.weight, std=1.0)
    with torch.no_grad():
        head.queries[MODALITIES.index("chat")] = torch.randn(config.d_model) * 50  # a sharp query: one slot gets it all
    memories = {m: (torch.randn(2, 6, config.d_model), torch.tensor([[1, 1, 1, 1, 0, 0]] * 2)) for m in MODALITIES}
    counts, bins = torch.tensor([3.0, 3.0]), torch.ones(2, 3)
    before = head(memories, counts, bins)

    query = head.queries[MODALITIES.index("chat")].detach()

    def changed(slot):
        # Pushed away from the query: the slot keeps (almost) no attention, its values change.
        states, mask = memories["chat"]
        states = states.clone()
        states[:, slot] -= 20 * query / query.norm()
        scores = head.layer_norm(states) @ query
        weight = scores.masked_fill(mask == 0, float("-inf")).softmax(-1)[:, slot]
        return head({**memories, "chat": (states, mask)}, counts, bins), weight

    padded, _ = changed(5)
    torch.testing.assert_close(padded, before)
    scores = head.layer_norm(memories["chat"][0][0, :4]) @ query
    ignored = int(scores.argmin())
    assert scores.softmax(-1)[ignored] < 1e-6
    real, weight = changed(ignored)
    assert (weight < 1e-6).all()
    assert not torch.allclose(real, before, atol=1e-2)
    head.max_pool = False  # the same weights without the maximum: the ignored slot no longer matters
    head.dense.weight.data = head.dense.weight.data.view(config.d_model, len(MODALITIES), 2, config.d_model)[:, :, 0].reshape(config.d_model, -1)
    torch.testing.assert_close(changed(ignored)[0][0], head(memories, counts, bins)[0], atol=1e-4, rtol=0)
    from huggingface_hub.errors import StrictDataclassClassValidationError

    with pytest.raises(StrictDataclassClassValidationError, match="activity_pooling must be one of"):
        tiny_config(activity_pooling="mean")
    with pytest.raises(StrictDataclassClassValidationError, match="activity_dropout must be in"):
        tiny_config(activity_dropout=1.0)


def test_a_checkpoint_with_the_attention_only_head_loads_as_saved(tmp_path):
    import json

    config = tiny_config()
    assert config.activity_pooling == "attention"
    model = LiveChatForCommentGeneration(config).eval()
    model.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    saved.pop("activity_pooling")
    (tmp_path / "config.json").write_text(json.dumps(saved))
    loaded = LiveChatForCommentGeneration.from_pretrained(tmp_path).eval()
    inputs = tiny_inputs(config)
    torch.testing.assert_close(loaded.predict_activity(**inputs), model.predict_activity(**inputs))
