"""Issue 13, defects 2 and 5: every parameter trains in every step (DDP without unused parameters), and masked-LM
pretraining projects only the masked positions onto the vocabulary."""

import pytest
import torch
from livechat_testing import random_labels, tiny_config, tiny_inputs

from hf_livechat import LiveChatForCommentGeneration, LiveChatForPretraining

REFERENCE_OPTIONS = dict(
    cross_attention_order=["chat", "transcript", "video"], layer_norm_position="post", comment_pooling="cls", transcript_memory="cls"
)
ABSENT = {
    "nothing": (),
    "video": ("video_features", "video_mask"),
    "transcript": ("transcript_input_ids", "transcript_attention_mask"),
    "chat": ("chat_input_ids", "chat_attention_mask"),
    "video and chat": ("video_features", "video_mask", "chat_input_ids", "chat_attention_mask"),
}


def _parameters_without_gradient(model, inputs, labels) -> list[str]:
    model.zero_grad(set_to_none=True)
    # The training collator gives every batch its response counts, so the activity head trains in every step too.
    counts = {"activity_labels": torch.arange(labels.shape[0], dtype=torch.float)} if model.activity_head is not None else {}
    model(**inputs, labels=labels, **counts).loss.backward()
    return [name for name, param in model.named_parameters() if param.requires_grad and param.grad is None]


@pytest.mark.parametrize("chat_encoder_type", ["comment", "token"])
@pytest.mark.parametrize("copy_mechanism", [False, True])
def test_every_parameter_gets_a_nonzero_gradient_with_all_modalities(chat_encoder_type, copy_mechanism):
    torch.manual_seed(0)
    model = LiveChatForCommentGeneration(tiny_config(chat_encoder_type=chat_encoder_type, copy_mechanism=copy_mechanism)).train()
    inputs, labels = tiny_inputs(model.config), random_labels(model.config)
    assert _parameters_without_gradient(model, inputs, labels) == []
    zero = [name for name, param in model.named_parameters() if not param.grad.abs().sum() > 0]
    assert zero == []


def test_the_reference_code_options_train_every_parameter():
    torch.manual_seed(0)
    model = LiveChatForCommentGeneration(tiny_config(**REFERENCE_OPTIONS)).train()
    assert _parameters_without_gradient(model, tiny_inputs(model.config), random_labels(model.config)) == []


@pytest.mark.parametrize("absent", list(ABSENT))
@pytest.mark.parametrize("chat_encoder_type", ["comment", "token"])
@pytest.mark.parametrize("copy_mechanism", [False, True])
def test_a_batch_without_a_modality_still_reaches_every_parameter(absent, chat_encoder_type, copy_mechanism):
    """DDP with find_unused_parameters=False raises at the next step if any parameter is left out of the graph."""
    torch.manual_seed(0)
    model = LiveChatForCommentGeneration(tiny_config(chat_encoder_type=chat_encoder_type, copy_mechanism=copy_mechanism)).train()
    inputs = {k: v for k, v in tiny_inputs(model.config).items() if k not in ABSENT[absent]}
    assert _parameters_without_gradient(model, inputs, random_labels(model.config)) == []


def test_a_batch_without_a_modality_gives_the_same_output_as_empty_masks():
    torch.manual_seed(0)
    model = LiveChatForCommentGeneration(tiny_config()).eval()
    inputs, labels = tiny_inputs(model.config), random_labels(model.config)
    without_chat = {k: v for k, v in inputs.items() if not k.startswith("chat")}
    masked = dict(inputs, chat_attention_mask=torch.zeros_like(inputs["chat_attention_mask"]))
    torch.testing.assert_close(model(**without_chat, labels=labels).logits, model(**masked, labels=labels).logits)


def _masked_batch(config, seed=0):
    g = torch.Generator().manual_seed(seed)
    inputs = tiny_inputs(config)
    labels = {}
    for name in ("transcript", "chat"):
        ids = inputs[f"{name}_input_ids"]
        chosen = (torch.rand(ids.shape, generator=g) < 0.3) & inputs[f"{name}_attention_mask"].bool() & ids.ne(config.sep_token_id)
        labels[f"{name}_labels"] = ids.masked_fill(~chosen, -100)
        inputs[f"{name}_input_ids"] = ids.masked_fill(chosen, config.mask_token_id)
    return inputs, labels


@pytest.mark.parametrize("chat_encoder_type", ["comment", "token"])
def test_pretraining_projects_only_masked_positions_and_trains_every_parameter(chat_encoder_type):
    torch.manual_seed(0)
    model = LiveChatForPretraining(tiny_config(chat_encoder_type=chat_encoder_type)).train()
    inputs, labels = _masked_batch(model.config)
    out = model(**inputs, **labels)
    num_masked = {name: int(labels[f"{name}_labels"].ne(-100).sum()) for name in ("transcript", "chat")}
    assert out.transcript_logits.shape == (num_masked["transcript"], model.config.vocab_size)
    assert out.chat_logits.shape == (num_masked["chat"], model.config.vocab_size)
    # The same loss as projecting every position and ignoring the unlabelled ones.
    full = model(**inputs)
    reference = torch.nn.functional.cross_entropy(
        torch.cat([full.transcript_logits.reshape(-1, model.config.vocab_size), full.chat_logits.reshape(-1, model.config.vocab_size)]),
        torch.cat([labels["transcript_labels"].reshape(-1), labels["chat_labels"].reshape(-1)]),
    )
    torch.testing.assert_close(out.loss, reference)
    out.loss.backward()
    assert [n for n, p in model.named_parameters() if p.grad is None] == []
    # No decoder and no video encoder: they would never receive a gradient in pretraining.
    assert not any(n.startswith(("model.decoder", "model.encoder.video")) for n, _ in model.named_parameters())
