"""Issue 13, defects 3 and 4: transformers' output conventions (attentions, hidden states, tuples, generate's
dict outputs) and explicit candidate folding."""

import pytest
import torch
from livechat_testing import random_labels, tiny_config, tiny_inputs

from hf_livechat import LiveChatForCommentGeneration


@pytest.fixture
def model():
    torch.manual_seed(0)
    model = LiveChatForCommentGeneration(tiny_config(init_std=0.3)).eval()
    model.set_attn_implementation("eager")  # SDPA computes no attention weights
    return model


def test_output_attentions_and_hidden_states(model):
    config = model.config
    inputs, labels = tiny_inputs(config), random_labels(config)
    out = model(**inputs, labels=labels, output_attentions=True, output_hidden_states=True)
    batch, length = labels.shape
    assert len(out.decoder_attentions) == config.decoder_layers
    assert out.decoder_attentions[0].shape == (batch, config.decoder_attention_heads, length, length)
    # Causal: nothing attends to the future.
    assert out.decoder_attentions[0].triu(1).abs().max() == 0
    # One cross-attention per modality per layer, in cross_attention_order; each row sums to one over its memory.
    assert len(out.cross_attentions) == 3 * config.decoder_layers
    video_memory = out.encoder_outputs.video_last_hidden_state.shape[1]
    assert out.cross_attentions[0].shape == (batch, config.decoder_attention_heads, length, video_memory)
    torch.testing.assert_close(out.cross_attentions[0].sum(-1), torch.ones(batch, config.decoder_attention_heads, length))
    assert len(out.decoder_hidden_states) == config.decoder_layers + 1
    assert out.encoder_outputs.attentions is not None and len(out.encoder_outputs.attentions) == 3 * config.encoder_layers
    assert len(out.encoder_outputs.hidden_states) == 3 * config.encoder_layers
    # Asking for them does not change the result.
    torch.testing.assert_close(out.logits, model(**inputs, labels=labels).logits)
    plain = model(**inputs, labels=labels)
    assert plain.decoder_attentions is None and plain.cross_attentions is None and plain.decoder_hidden_states is None


def test_seq2seq_output_names_beside_the_modalities(model):
    """The `Seq2SeqModelOutput` / `Seq2SeqLMOutput` names: `encoder_last_hidden_state` is the three memories
    concatenated video | transcript | chat (the sequence of the decoder's cross-attention cache), the encoder's layer
    outputs and attentions are `encoder_outputs.hidden_states` / `.attentions`."""
    from transformers.modeling_outputs import Seq2SeqLMOutput, Seq2SeqModelOutput

    inputs, labels = tiny_inputs(model.config), random_labels(model.config)
    out = model(**inputs, labels=labels, output_attentions=True, output_hidden_states=True)
    assert isinstance(out, Seq2SeqLMOutput)
    memories = out.encoder_outputs.memories()
    expected = torch.cat([memories[m][0] for m in ("video", "transcript", "chat")], dim=1)
    assert torch.equal(out.encoder_last_hidden_state, expected)
    assert out.encoder_outputs.last_hidden_state is out.encoder_last_hidden_state
    assert out.encoder_hidden_states is out.encoder_outputs.hidden_states and len(out.encoder_hidden_states) == 3
    # The last entry stays the chat encoder's last layer (one row per comment here), not the concatenated memories.
    assert out.encoder_hidden_states[-1].shape[0] == inputs["chat_input_ids"].shape[0] * inputs["chat_input_ids"].shape[1]
    assert out.encoder_attentions is out.encoder_outputs.attentions
    base = model.model(**inputs, decoder_input_ids=labels.clamp(min=0))
    assert isinstance(base, Seq2SeqModelOutput) and torch.equal(base.encoder_last_hidden_state, expected)
    assert base.encoder_hidden_states is None and base.encoder_attentions is None
    # Generation with a static cache sizes the cross-attention cache from `encoder_outputs[0]`: the memory length.
    assert out.encoder_outputs[0].shape[1] == sum(memory.shape[1] for memory, _ in memories.values())


def test_return_dict_false_gives_a_tuple(model):
    inputs, labels = tiny_inputs(model.config), random_labels(model.config)
    out = model(**inputs, labels=labels, return_dict=False)
    assert isinstance(out, tuple)
    torch.testing.assert_close(out[0], model(**inputs, labels=labels).loss)
    torch.testing.assert_close(out[1], model(**inputs, labels=labels).logits)


def test_generate_returns_attentions_and_scores_in_a_dict(model):
    inputs = tiny_inputs(model.config)
    out = model.generate(
        **inputs, max_new_tokens=4, min_new_tokens=4, output_attentions=True, output_hidden_states=True,
        output_scores=True, return_dict_in_generate=True,
    )
    steps = out.sequences.shape[1] - 1
    assert len(out.decoder_attentions) == steps and len(out.decoder_attentions[0]) == model.config.decoder_layers
    assert len(out.cross_attentions) == steps and len(out.cross_attentions[0]) == 3 * model.config.decoder_layers
    assert len(out.scores) == steps and len(out.encoder_attentions) == 3 * model.config.encoder_layers
    assert torch.equal(out.sequences, model.generate(**inputs, max_new_tokens=4, min_new_tokens=4))


def test_a_tiled_decoder_batch_raises_instead_of_reading_other_clips(model):
    inputs = tiny_inputs(model.config)
    encoder_outputs = model.get_encoder()(**inputs)
    decoder_input_ids = torch.full((6, 3), 7)  # twice the encoder batch, e.g. a `.repeat(2, 1)`
    with pytest.raises(ValueError, match="candidates_per_memory"):
        model(encoder_outputs=encoder_outputs, decoder_input_ids=decoder_input_ids)
    # Folding is explicit: rows i*2 and i*2+1 read clip i.
    folded = model.model.decoder(decoder_input_ids, encoder_outputs, candidates_per_memory=2).last_hidden_state
    alone = model.model.decoder(decoder_input_ids[::2], encoder_outputs).last_hidden_state
    torch.testing.assert_close(folded[::2], alone, atol=1e-5, rtol=1e-4)
