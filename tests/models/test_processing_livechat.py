import numpy as np
import pytest
import torch
from transformers import AutoProcessor

from hf_livechat import LiveChatConfig, LiveChatProcessor
from hf_livechat.tokenization import default_tokenizer, find_emotes, train_chat_tokenizer


@pytest.fixture(scope="module")
def processor():
    return LiveChatProcessor(default_tokenizer(), max_transcript_length=6, max_context_comments=2, max_eval_context_comments=3, max_comment_length=4)


def test_default_tokenizer_is_bert_uncased_reference_vocabulary():
    tokenizer = default_tokenizer()
    assert len(tokenizer) == 30522
    assert (tokenizer.pad_token_id, tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.mask_token_id) == (0, 101, 102, 103)
    config = LiveChatConfig()
    assert (config.vocab_size, config.pad_token_id, config.bos_token_id, config.eos_token_id) == (30522, 0, 101, 102)


def test_single_clip_keeps_the_latest_context(processor):
    tokenizer = processor.tokenizer
    transcript = "one two three four five six seven eight"
    chat = ["first comment", {"text": "second comment"}, "third", "fourth comment here is long"]
    out = processor(video_features=np.ones((5, 8)), transcript=transcript, chat=chat, targets="nice play")
    assert out["video_features"].shape == (1, 5, 8) and out["video_mask"].tolist() == [[1] * 5]
    assert tokenizer.decode(out["transcript_input_ids"][0]) == "three four five six seven eight"
    # Evaluation keeps 3 comments: the last three, each cut to 4 tokens.
    assert out["chat_input_ids"].shape == (1, 3, 4)
    assert [tokenizer.decode(ids[ids != 0]) for ids in out["chat_input_ids"][0]] == ["second comment", "third", "fourth comment here is"]
    assert processor(chat=chat, training=True)["chat_input_ids"].shape == (1, 2, 4)
    labels = out["labels"][0]
    assert labels.tolist() == tokenizer("nice play", add_special_tokens=False)["input_ids"] + [tokenizer.sep_token_id]


def test_batch_pads_and_masks(processor):
    out = processor(
        video_features=[np.ones((3, 8)), np.zeros((0, 8))],
        transcript=["hello there", ""],
        chat=[["hi", "pog"], []],
        targets=["a b c", "d"],
    )
    assert out["video_mask"].tolist() == [[1, 1, 1], [0, 0, 0]]
    assert out["transcript_attention_mask"][1].sum() == 0
    assert out["chat_attention_mask"][1].sum() == 0 and out["chat_attention_mask"][0].any(-1).tolist() == [True, True]
    assert (out["labels"][1] == -100).sum() == out["labels"].shape[1] - 2


def test_token_mode_joins_comments_with_sep():
    processor = LiveChatProcessor(default_tokenizer(), chat_encoder_type="token", max_chat_length=5, max_comment_length=3)
    ids = processor(chat=["a b", "c d e f"])["chat_input_ids"][0]
    # Truncated from the past: the latest tokens survive.
    assert processor.tokenizer.convert_ids_to_tokens(ids.tolist()) == ["[SEP]", "c", "d", "e", "[SEP]"]


def test_mismatched_batches_and_bad_features_raise(processor):
    with pytest.raises(ValueError, match="Mismatched batch sizes"):
        processor(transcript=["a", "b"], chat=[["x"]])
    with pytest.raises(ValueError, match=r"\(frames, feature_dim\)"):
        processor(video_features=[np.ones(4)])
    with pytest.raises(ValueError, match="Nothing to process"):
        processor()


def test_candidates_and_decode(processor):
    cands = processor.encode_candidates([["gg", "nice one"], ["lol"]])
    assert cands["candidate_ids"].shape == (2, 2, 5)
    assert cands["candidate_attention_mask"][1, 1].sum() == 0
    assert processor.batch_decode(torch.tensor([[101, 7592, 102, 0]])) == ["hello"]


def test_processor_round_trips_through_auto_processor(processor, tmp_path):
    processor.save_pretrained(tmp_path)
    loaded = AutoProcessor.from_pretrained(tmp_path)
    assert isinstance(loaded, LiveChatProcessor)
    assert (loaded.max_transcript_length, loaded.max_eval_context_comments, loaded.max_comment_length) == (6, 3, 4)
    a = processor(transcript="some words here", chat=["x y"])
    b = loaded(transcript="some words here", chat=["x y"])
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_trained_chat_tokenizer_keeps_emotes_whole(tmp_path):
    corpus = ["Kappa that was close", "PogChamp what a play", "lol Kappa", "🔥🔥 fire", "PogChamp PogChamp"] * 20
    emotes = find_emotes(corpus, min_count=5)
    assert {"Kappa", "PogChamp", "🔥"} <= set(emotes)
    tokenizer = train_chat_tokenizer(corpus, vocab_size=200, emotes=emotes)
    tokens = tokenizer.tokenize("Kappa PogChamp 🔥 play")
    assert tokens[:3] == ["Kappa", "PogChamp", "🔥"]
    assert (tokenizer.pad_token_id, tokenizer.convert_ids_to_tokens(tokenizer.cls_token_id)) == (0, "[CLS]")
    tokenizer.save_pretrained(tmp_path)
    processor = LiveChatProcessor(tokenizer)
    config = LiveChatConfig(**processor.config_kwargs())
    assert config.vocab_size == len(tokenizer) and config.eos_token_id == tokenizer.sep_token_id


def test_max_length_padding_gives_equal_shapes_and_the_same_model_output(processor):
    import torch

    from hf_livechat import LiveChatForCommentGeneration

    a = processor(video_features=np.ones((2, 8)), transcript="hi", chat=["x"], padding="max_length", max_frames=5)
    b = processor(video_features=np.ones((4, 8)), transcript="a much longer transcript here", chat=["x", "y", "z"], padding="max_length", max_frames=5)
    assert all(a[k].shape == b[k].shape for k in a)
    assert a["video_features"].shape == (1, 5, 8) and a["chat_input_ids"].shape == (1, 3, 4) and a["transcript_input_ids"].shape == (1, 6)
    torch.manual_seed(0)
    model = LiveChatForCommentGeneration(LiveChatConfig(**processor.config_kwargs(), d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, video_feature_dim=8)).eval()
    longest = processor(video_features=np.ones((2, 8)), transcript="hi", chat=["x"])
    labels = torch.tensor([[2000, 102]])
    torch.testing.assert_close(model(**a, labels=labels).logits, model(**longest, labels=labels).logits, atol=1e-5, rtol=1e-4)


def test_chat_with_authors_reads_who_wrote_each_comment_and_survives_a_save(tmp_path):
    from hf_livechat.data.chat import ChatMessage

    chat = [{"time": 1.0, "author": "Zorblem_tv", "text": "first time here"}, ChatMessage(2.0, "Kitfig99", "hi chat")]
    plain = LiveChatProcessor(default_tokenizer(), chat_encoder_type="token")
    named = LiveChatProcessor(default_tokenizer(), chat_encoder_type="token", chat_with_authors=True)
    assert "zorblem" not in plain.decode(plain(chat=chat)["chat_input_ids"][0])
    decoded = named.decode(named(chat=chat)["chat_input_ids"][0])
    assert "zorblem _ tv : first time here" in decoded and "kitfig99 : hi chat" in decoded
    assert named(chat=["no author here"])["chat_input_ids"].shape[0] == 1  # plain strings still work
    named.save_pretrained(tmp_path)
    assert LiveChatProcessor.from_pretrained(tmp_path).chat_with_authors
