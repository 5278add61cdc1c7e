"""Defect 1 of issue 13: the chat positions used at evaluation must be positions that training reaches."""

import numpy as np
import pytest
import torch
from livechat_testing import tiny_config

from hf_livechat import LiveChatForCommentGeneration, LiveChatProcessor
from hf_livechat.tokenization import default_tokenizer


WORDS = "pog nice play lol gg wp clutch insane omg what a shot ez clap kekw hype".split()


def _clips(num_clips=4, num_comments=20, seed=0):
    rng = np.random.default_rng(seed)
    chats = [[" ".join(rng.choice(WORDS, size=rng.integers(1, 13))) for _ in range(num_comments)] for _ in range(num_clips)]
    return {
        "video_features": [rng.standard_normal((6, 12)).astype("float32") for _ in range(num_clips)],
        "transcript": ["so what do we do now"] * num_clips,
        "chat": chats,
        "targets": ["gg wp"] * num_clips,
    }


def _rows_with_gradient(model, batch) -> dict[str, set[int]]:
    """Rows of every position / recency table that the loss of `batch` reaches."""
    model.zero_grad()
    model(**batch).loss.backward()
    return {
        name: set(torch.nonzero(param.grad.abs().sum(-1)).flatten().tolist())
        for name, param in model.named_parameters()
        if "position" in name and param.grad is not None
    }


@pytest.mark.parametrize("chat_encoder_type", ["comment", "token"])
def test_every_position_used_at_evaluation_is_trained(chat_encoder_type):
    processor = LiveChatProcessor(
        default_tokenizer(), max_context_comments=5, max_eval_context_comments=15, max_chat_length=200,
        chat_encoder_type=chat_encoder_type,
    )
    config = tiny_config(**processor.config_kwargs(), max_position_embeddings=256)
    torch.manual_seed(0)
    model = LiveChatForCommentGeneration(config).train()
    clips = _clips()
    trained = _rows_with_gradient(model, processor(**clips, training=True))
    used_at_evaluation = _rows_with_gradient(model, processor(**clips, training=False))
    assert "model.encoder.comment_positions.weight" in used_at_evaluation
    for name, rows in used_at_evaluation.items():
        assert rows <= trained.get(name, set()), f"{name}: rows {sorted(rows - trained.get(name, set()))} never trained"


@pytest.mark.parametrize("chat_encoder_type", ["comment", "token"])
def test_the_newest_comment_has_the_same_recency_in_training_and_evaluation(chat_encoder_type):
    """The memory slot of the newest comment (or its last tokens) is identical whether 5 or 15 comments are kept."""
    processor = LiveChatProcessor(
        default_tokenizer(), max_context_comments=5, max_eval_context_comments=15, max_chat_length=200,
        chat_encoder_type=chat_encoder_type,
    )
    config = tiny_config(**processor.config_kwargs(), max_position_embeddings=256, encoder_layers=0)
    torch.manual_seed(0)
    encoder = LiveChatForCommentGeneration(config).eval().get_encoder()
    chat = _clips(num_clips=1)["chat"]
    memories = []
    for training in (True, False):
        batch = processor(chat=chat, training=training)
        memories.append(encoder(chat_input_ids=batch["chat_input_ids"], chat_attention_mask=batch["chat_attention_mask"]).chat_last_hidden_state)
    # Without encoder layers each slot depends only on its own tokens and positions: the newest ones must agree.
    if chat_encoder_type == "comment":
        torch.testing.assert_close(memories[0][:, -5:], memories[1][:, -5:])
    else:
        tail = processor(chat=chat[0][-5:])["chat_input_ids"].shape[1]
        torch.testing.assert_close(memories[0][:, -tail:], memories[1][:, -tail:])
