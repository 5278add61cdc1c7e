"""LiveChat with a pretrained causal LM as its comment decoder (`LiveChatConfig(decoder=...)`), offline: tiny random
llama / qwen2 / gpt2 LMs with a tiny byte-level BPE tokenizer stand in for a downloaded one."""

import json
import os
import subprocess
import sys

import pytest
import torch
from clip_dataset_fixtures import write_clip_dataset
from livechat_testing import tiny_config
from huggingface_hub.errors import StrictDataclassClassValidationError
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoModel, AutoModelForCausalLM, GPT2Config, LlamaConfig, PreTrainedTokenizerFast, Qwen2Config

from hf_livechat import LiveChatConfig, LiveChatForCommentGeneration, LiveChatProcessor
from hf_livechat.models.livechat import LM_COMMENT_END
from hf_livechat.tokenization import default_tokenizer
from hf_livechat.models.livechat.modeling_livechat import COPY_GATE_START_LOGIT, LiveChatLMDecoder, shift_tokens_right
from hf_livechat.training.lora import LORA_TARGET_MODULES, apply_lora, has_lora, merge_lora


TEXT = [
    "let us talk about pizza now", "pizza is great", "hello jazz", "otters are cute", "the boss fight is hard",
    "what a goal", "storm incoming", "bread and snow", "fire in the hole", "hi chat", "LUL", "PogChamp that was close",
] * 20


def lm_tokenizer(with_pad: bool = True) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer with BOS/EOS (and a pad token for llama/qwen2, none for gpt2), as LMs ship them."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    specials = ["<pad>", "<s>", "</s>"] if with_pad else ["<|endoftext|>"]
    tokenizer.train_from_iterator(TEXT, trainers.BpeTrainer(vocab_size=300, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    if with_pad:
        return PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<|endoftext|>", eos_token="<|endoftext|>")


def lm_config(model_type: str, vocab_size: int):
    if model_type == "gpt2":
        return GPT2Config(vocab_size=vocab_size, n_embd=48, n_layer=3, n_head=4, n_positions=128, bos_token_id=0, eos_token_id=0)
    config_class = {"llama": LlamaConfig, "qwen2": Qwen2Config}[model_type]
    return config_class(
        vocab_size=vocab_size, hidden_size=48, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=128, pad_token_id=0, bos_token_id=1, eos_token_id=2,
    )


def save_tiny_lm(folder, model_type: str = "llama", seed: int = 0):
    """A random LM and its tokenizer saved as a pretrained folder (what `--decoder` points at)."""
    tokenizer = lm_tokenizer(with_pad=model_type != "gpt2")
    torch.manual_seed(seed)
    lm = AutoModelForCausalLM.from_config(lm_config(model_type, len(tokenizer)))
    lm.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def livechat_with_lm(folder, comment_end=None, **overrides) -> tuple[LiveChatForCommentGeneration, LiveChatProcessor]:
    """A tiny LiveChat reading the LM at `folder`; comments end with its EOS, or as lines with `comment_end="\n"`
    (what `hf-livechat train --decoder` builds)."""
    tokenizer = PreTrainedTokenizerFast.from_pretrained(folder)
    sizes = tiny_config().to_diff_dict()
    for key in ("model_type", "transformers_version", "vocab_size", "decoder_prompt"):
        sizes.pop(key, None)
    processor = LiveChatProcessor(tokenizer, chat_encoder_type=overrides.get("chat_encoder_type", "comment"), comment_end=comment_end)
    sizes.update({k: v for k, v in processor.config_kwargs().items() if k.endswith("token_id")})
    sizes.update(overrides)
    config = LiveChatConfig.with_decoder(folder, **sizes)
    processor = LiveChatProcessor.from_config(tokenizer, config)
    model = LiveChatForCommentGeneration(config)
    model.get_decoder().load_pretrained_lm()
    return model.eval(), processor


def clip_inputs(processor, targets=None, training=False, feature_dim=12):
    return processor(
        video_features=[torch.randn(5, feature_dim, generator=torch.Generator().manual_seed(i)) for i in range(2)],
        transcript=["let us talk about pizza now", "otters are cute"],
        chat=[["hi chat", "pizza is great", "LUL"], ["what a goal"]],
        targets=targets,
        training=training,
    )


def open_gates(model, value=0.5):
    with torch.no_grad():
        for block in model.get_decoder().gated_cross_attn.values():
            block.gate.fill_(value)


@pytest.mark.parametrize("comment_end", [None, LM_COMMENT_END])
@pytest.mark.parametrize("model_type", ["llama", "qwen2", "gpt2"])
def test_gates_at_zero_give_the_bare_lms_logits_on_the_chat_then_the_comment(tmp_path, model_type, comment_end):
    folder = save_tiny_lm(tmp_path / "lm", model_type)
    model, processor = livechat_with_lm(folder, comment_end=comment_end)
    assert model.config.decoder_prompt == "chat"
    inputs = clip_inputs(processor, targets=["pizza is great", "what a goal"])
    assert all(block.gate.item() == 0 for block in model.get_decoder().gated_cross_attn.values())
    decoder_input_ids = shift_tokens_right(inputs["labels"], model.config.pad_token_id, model.config.decoder_start_token_id)
    bare = AutoModelForCausalLM.from_pretrained(folder).eval()
    tokenizer = processor.tokenizer
    start, end = tokenizer.bos_token_id, tokenizer.eos_token_id
    with torch.no_grad():
        logits = model(**inputs).logits
        for row, chat in enumerate([["hi chat", "pizza is great", "LUL"], ["what a goal"]]):
            # The LM reads the chat unpadded, each comment as a target is written, then the comment.
            if comment_end is None:  # gpt2 starts and ends with one token, <|endoftext|>: written once between comments
                prompt = [token for text in chat for token in [start, *tokenizer(text)["input_ids"], *([end] if end != start else [])]]
            else:  # plain lines: the text the bare LM reads, "\nhi chat\npizza is great\nLUL" then "\n" + the comment
                prompt = tokenizer("".join(comment_end + text for text in chat))["input_ids"]
                assert decoder_input_ids[row, 0] == tokenizer(comment_end)["input_ids"][0]
            expected = bare(input_ids=torch.tensor([prompt + decoder_input_ids[row].tolist()])).logits[0, len(prompt) :]
            assert torch.allclose(logits[row], expected, atol=1e-5), f"row {row}: a left-padded prompt must read as unpadded"
        open_gates(model)
        assert not torch.allclose(model(**inputs).logits, logits, atol=1e-3), "open gates must let the clip in"


def test_the_copy_gate_starts_nearly_closed_so_training_starts_from_the_lm(tmp_path):
    folder = save_tiny_lm(tmp_path / "lm", "llama")
    plain, processor = livechat_with_lm(folder, LM_COMMENT_END, chat_encoder_type="token")
    copying, _ = livechat_with_lm(folder, LM_COMMENT_END, chat_encoder_type="token", copy_mechanism=True)
    inputs = clip_inputs(processor, targets=["pizza is great", "what a goal"])
    with torch.no_grad():
        lm = plain(**inputs).logits.log_softmax(-1)
        mixed = copying(**inputs).logits  # log-probabilities of the copy mixture
    # p = (1 - g) p_lm + g p_copy with g = sigmoid(-4): no token loses more than -log(1 - g) of the LM's log-probability
    closed = torch.log1p(-torch.sigmoid(torch.tensor(COPY_GATE_START_LOGIT)))
    assert (mixed - lm).min() >= closed - 1e-5 and closed > -0.02
    assert not torch.allclose(mixed, lm, atol=1e-4), "the copy head still takes part"


@pytest.mark.parametrize("comment_end", [None, LM_COMMENT_END])
@pytest.mark.parametrize("chat_encoder_type", ["comment", "token"])
def test_the_chat_prompt_is_the_context_comments_as_targets_are_written(tmp_path, chat_encoder_type, comment_end):
    folder = save_tiny_lm(tmp_path / "lm", "llama")
    model, processor = livechat_with_lm(folder, comment_end=comment_end, chat_encoder_type=chat_encoder_type)
    inputs = clip_inputs(processor)
    encoded = model.get_encoder()(**inputs)
    tokenizer = processor.tokenizer
    texts = [
        tokenizer.decode(ids[mask.bool()], skip_special_tokens=False)
        for ids, mask in zip(encoded.chat_prompt_ids, encoded.chat_prompt_mask)
    ]
    if comment_end is None:
        assert texts == ["<s>hi chat</s><s>pizza is great</s><s>LUL</s>", "<s>what a goal</s>"]
    else:  # each line's end starts the next, written once; the comment's own start ends the prompt's last line
        assert texts == ["\nhi chat\npizza is great\nLUL", "\nwhat a goal"]
    # Left-padded: every row's prompt ends at the last column, where its comment starts.
    assert encoded.chat_prompt_mask[:, -1].eq(1).all() and encoded.chat_prompt_mask[1, 0] == 0
    without_chat = model.get_encoder()(**{k: v for k, v in inputs.items() if not k.startswith("chat")})
    assert without_chat.chat_prompt_ids.shape[1] == 0, "no chat, no prompt"
    scratch = LiveChatConfig.with_decoder(folder, decoder_prompt="none", chat_with_authors=True)
    assert scratch.decoder_prompt == "none" and scratch.chat_with_authors
    # The prompt shows the comments as the LM writes them: an author before each would teach it to write names.
    assert not LiveChatConfig.with_decoder(folder, chat_with_authors=True).chat_with_authors
    with pytest.raises(StrictDataclassClassValidationError, match="without authors"):
        LiveChatConfig(**{**scratch.to_dict(), "decoder_prompt": "chat", "chat_with_authors": True})
    with pytest.raises(StrictDataclassClassValidationError, match="needs an LM decoder"):
        LiveChatConfig(decoder_prompt="chat")


@pytest.mark.parametrize("fusion", ["cross_attention", "prefix"])
def test_generation_uses_the_lm_cache_beams_and_guidance(tmp_path, fusion):
    folder = save_tiny_lm(tmp_path / "lm", "llama")
    model, processor = livechat_with_lm(folder, LM_COMMENT_END, decoder_fusion=fusion, chat_encoder_type="token", copy_mechanism=True)
    if fusion == "cross_attention":
        open_gates(model)
        assert model.get_decoder().prefix_projection is None
    else:
        assert model.get_decoder().gated_cross_attn is None
    inputs = clip_inputs(processor)
    cached = model.generate(**inputs, max_new_tokens=6, do_sample=False)
    uncached = model.generate(**inputs, max_new_tokens=6, do_sample=False, use_cache=False)
    assert torch.equal(cached, uncached)
    assert cached[:, 0].eq(model.config.decoder_start_token_id).all()
    beams = model.generate(**inputs, max_new_tokens=6, num_beams=3, num_return_sequences=2)
    assert beams.shape[0] == 4
    guided = model.generate(**inputs, max_new_tokens=6, do_sample=False, guidance_scale=2.0)
    assert guided.shape[0] == 2
    texts = processor.batch_decode(guided)
    assert all(isinstance(text, str) and "\n" not in text for text in texts), "a line's start and end are not text"


@pytest.mark.parametrize("fusion", ["cross_attention", "prefix"])
def test_beams_and_samples_read_each_clips_prefix_once_with_the_same_result(tmp_path, fusion, monkeypatch):
    """Beam search and several returned samples repeat each clip: the LM reads the clip's prefix (chat prompt,
    memory slots) once and shares its cache among the rows, which gives the sequences and scores of every row reading
    it alone, with the prefix read for 2 clips instead of 2 x 4 rows."""
    from transformers.generation.utils import GenerationMixin

    folder = save_tiny_lm(tmp_path / "lm", "llama")
    model, processor = livechat_with_lm(folder, decoder_fusion=fusion, chat_encoder_type="token")
    if fusion == "cross_attention":
        open_gates(model)
    inputs = clip_inputs(processor)
    prefix_rows = []
    original = type(model.get_decoder()).prefill_prefix
    monkeypatch.setattr(type(model.get_decoder()), "prefill_prefix", lambda self, outputs, repeats=1: prefix_rows.append(len(outputs.chat_prompt_ids)) or original(self, outputs, repeats))
    kwargs = dict(max_new_tokens=6, num_beams=4, num_return_sequences=4, return_dict_in_generate=True, output_scores=True)
    shared = model.generate(**inputs, **kwargs)
    torch.manual_seed(0)
    sampled = model.generate(**inputs, max_new_tokens=6, do_sample=True, num_return_sequences=3)
    assert prefix_rows == [2, 2]
    monkeypatch.setattr(type(model), "_expand_inputs_for_generation", GenerationMixin._expand_inputs_for_generation)
    alone = model.generate(**inputs, **kwargs)
    torch.manual_seed(0)
    assert torch.equal(sampled, model.generate(**inputs, max_new_tokens=6, do_sample=True, num_return_sequences=3))
    assert prefix_rows == [2, 2], "every row read its own prefix"
    assert torch.equal(shared.sequences, alone.sequences)
    torch.testing.assert_close(shared.sequences_scores, alone.sequences_scores)


@pytest.mark.parametrize("fusion", ["cross_attention", "prefix"])
def test_candidate_scores_share_the_lm_vocabulary(tmp_path, fusion):
    folder = save_tiny_lm(tmp_path / "lm", "gpt2")
    model, processor = livechat_with_lm(folder, decoder_fusion=fusion, copy_mechanism=True)
    if fusion == "cross_attention":
        open_gates(model)
    inputs = clip_inputs(processor)
    candidates = processor.encode_candidates([["pizza is great", "hi chat", "LUL"], ["what a goal", "otters are cute", "hi"]])
    # gpt2's pad is its EOS: the mask, not the ids, tells where a candidate ends, and its EOS is scored.
    assert processor.pad_token_id == processor.comment_end_token_id == model.config.eos_token_id
    assert candidates["candidate_attention_mask"].sum(-1).tolist() == [
        [len(processor.tokenizer(t)["input_ids"]) + 1 for t in row]
        for row in (["pizza is great", "hi chat", "LUL"], ["what a goal", "otters are cute", "hi"])
    ]
    scores = model.score_candidates(**candidates, **inputs)
    one_by_one = torch.stack(
        [model.score_candidates(candidates["candidate_ids"][:, j : j + 1], candidates["candidate_attention_mask"][:, j : j + 1], **inputs)[:, 0] for j in range(3)],
        dim=1,
    )
    assert torch.allclose(scores, one_by_one, atol=1e-5)
    prior = model.unconditional_candidate_scores(**candidates)
    contrastive = model.score_candidates(**candidates, prior_weight=0.5, **inputs)
    assert torch.allclose(contrastive, scores - 0.5 * prior, atol=1e-5)


def test_processor_uses_the_lm_tokenizer_and_round_trips(tmp_path):
    folder = save_tiny_lm(tmp_path / "lm", "llama")
    model, processor = livechat_with_lm(folder, chat_encoder_type="token")
    tokenizer = processor.tokenizer
    assert (model.config.eos_token_id, model.config.sep_token_id) == (tokenizer.eos_token_id,) * 2
    assert model.config.decoder_start_token_id == tokenizer.bos_token_id
    assert model.config.vocab_size == model.config.decoder.vocab_size == len(tokenizer)
    inputs = clip_inputs(processor, targets=["pizza is great", "what a goal"])
    assert inputs["labels"][0, : inputs["labels"][0].ne(-100).sum()].tolist() == tokenizer("pizza is great")["input_ids"] + [tokenizer.eos_token_id]
    # "token" chat: every comment closed by EOS, which the chat encoder splits on.
    chat = inputs["chat_input_ids"][0][inputs["chat_attention_mask"][0].bool()]
    assert chat.eq(tokenizer.eos_token_id).sum() == 3
    processor.save_pretrained(tmp_path / "processor")
    reloaded = LiveChatProcessor.from_pretrained(tmp_path / "processor")
    again = clip_inputs(reloaded, targets=["pizza is great", "what a goal"])
    assert all(torch.equal(inputs[k], again[k]) for k in inputs)


def test_comments_as_lines_end_with_the_newline_and_the_processor_keeps_it(tmp_path):
    folder = save_tiny_lm(tmp_path / "lm", "llama")
    model, processor = livechat_with_lm(folder, LM_COMMENT_END, chat_encoder_type="token")
    tokenizer = processor.tokenizer
    newline = tokenizer("\n")["input_ids"][0]
    assert model.config.sep_token_id == model.config.decoder_start_token_id == newline
    assert model.config.eos_token_id == [newline, tokenizer.eos_token_id], "generation stops at the line end (or the LM's EOS)"
    assert model.config.pad_token_id == tokenizer.pad_token_id != newline
    inputs = processor(chat=[["hi\nchat", "LUL"]], targets=["what\na goal"])
    chat = inputs["chat_input_ids"][0][inputs["chat_attention_mask"][0].bool()].tolist()
    assert chat == tokenizer("hi chat")["input_ids"] + [newline] + tokenizer("LUL")["input_ids"] + [newline], "one newline per comment"
    assert inputs["labels"][0].tolist() == tokenizer("what a goal")["input_ids"] + [newline]
    assert processor.batch_decode([[newline, *tokenizer("what a goal")["input_ids"], newline]]) == ["what a goal"]
    processor.save_pretrained(tmp_path / "processor")
    assert LiveChatProcessor.from_pretrained(tmp_path / "processor").comment_end_token_id == newline
    assert LiveChatProcessor.from_config(tokenizer, model.config).comment_end == LM_COMMENT_END
    with pytest.raises(ValueError, match="one token"):
        LiveChatProcessor(tokenizer, comment_end="hi chat")
    with pytest.raises(ValueError, match=r"\[SEP\]"):
        LiveChatProcessor(default_tokenizer(), comment_end=LM_COMMENT_END)


def test_a_comment_cut_inside_an_emoji_decodes_without_its_partial_bytes():
    processor = LiveChatProcessor(lm_tokenizer(), chat_encoder_type="token")
    ids = processor.tokenizer("gg 💚💚", add_special_tokens=False)["input_ids"]  # bytes the tiny BPE never merged
    cut = ids[:-1]  # as `max_comment_length` cuts it: inside the second heart
    assert processor.tokenizer.decode(cut).endswith("\ufffd")
    assert processor.decode(cut) == "gg 💚"
    assert processor.batch_decode([cut, ids]) == ["gg 💚", "gg 💚💚"]


def test_config_checks_the_lm_vocabulary():
    # transformers' strict config dataclasses wrap validator errors in StrictDataclassClassValidationError.
    with pytest.raises(StrictDataclassClassValidationError, match="vocabulary"):
        tiny_config(decoder=lm_config("llama", 300).to_dict())
    with pytest.raises(StrictDataclassClassValidationError, match="decoder_fusion"):
        tiny_config(vocab_size=300, decoder=lm_config("llama", 300).to_dict(), decoder_fusion="late")
    config = tiny_config(vocab_size=300, decoder=lm_config("qwen2", 300).to_dict(), cross_attention_interval=2)
    assert type(config.decoder).__name__ == "Qwen2Config"
    assert sorted(LiveChatForCommentGeneration(config).get_decoder().gated_cross_attn) == ["0", "2"]
    assert LiveChatConfig.from_dict(config.to_dict()).decoder.model_type == "qwen2"


def test_lora_trains_only_adapters_and_additions_then_merges_into_a_plain_checkpoint(tmp_path):
    folder = save_tiny_lm(tmp_path / "lm", "llama")
    model, processor = livechat_with_lm(folder, chat_encoder_type="token", copy_mechanism=True)
    apply_lora(model, r=4)
    assert has_lora(model)
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    lm_trainable = {name for name in trainable if ".decoder.lm." in name}
    assert lm_trainable and all("lora_" in name for name in lm_trainable)
    assert {name.split(".")[-4] for name in lm_trainable} == set(LORA_TARGET_MODULES["llama"])
    others = {name for name, _ in model.named_parameters() if ".decoder.lm." not in name}
    assert others <= trainable  # encoders, gated cross-attention, copy head: trained in full
    assert any("gated_cross_attn" in name for name in others)

    torch.manual_seed(0)
    model.train()
    batch = clip_inputs(processor, targets=["pizza is great", "what a goal"], training=True)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    losses = []
    for _ in range(15):
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses
    gates = [block.gate.item() for block in model.get_decoder().gated_cross_attn.values()]
    assert any(g != 0 for g in gates), "the gates must train away from 0"

    model.eval()
    inputs = clip_inputs(processor)
    candidates = processor.encode_candidates([["pizza is great", "hi chat"], ["what a goal", "LUL"]])
    with_adapters = model.score_candidates(**candidates, prior_weight=0.5, **inputs)
    merge_lora(model)
    assert not has_lora(model)
    merged = model.score_candidates(**candidates, prior_weight=0.5, **inputs)
    assert torch.allclose(with_adapters, merged, atol=1e-4)

    model.save_pretrained(tmp_path / "saved")
    processor.save_pretrained(tmp_path / "saved")
    keys = json.loads((tmp_path / "saved" / "config.json").read_text())
    assert keys["decoder"]["model_type"] == "llama"
    loaded = AutoModel.from_pretrained(tmp_path / "saved").eval()
    assert isinstance(loaded, LiveChatForCommentGeneration) and isinstance(loaded.get_decoder(), LiveChatLMDecoder)
    reloaded_processor = LiveChatProcessor.from_pretrained(tmp_path / "saved")
    # The round trip keeps every weight bit for bit; the scores agree to float rounding (same weights in other
    # memory can take another GEMM path: 5e-7 apart on an AVX2-only CPU).
    saved_state, loaded_state = model.state_dict(), loaded.state_dict()
    assert saved_state.keys() == loaded_state.keys()
    assert all(torch.equal(saved_state[key], loaded_state[key]) for key in saved_state)
    reloaded = loaded.score_candidates(**candidates, prior_weight=0.5, **clip_inputs(reloaded_processor))
    torch.testing.assert_close(reloaded, merged, rtol=0, atol=1e-5)


def test_lora_needs_an_lm_decoder():
    with pytest.raises(ValueError, match="LM decoder"):
        apply_lora(LiveChatForCommentGeneration(tiny_config()))


def _cli(*args, timeout=900):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-c", "import sys; from hf_livechat.cli import main; sys.exit(main(sys.argv[1:]))", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)


@pytest.mark.slow
def test_cli_trains_an_lm_decoder_with_lora_and_the_saved_model_evaluates(tmp_path):
    folder = save_tiny_lm(tmp_path / "lm", "llama")
    data = write_clip_dataset(tmp_path / "clips", {"train": 8, "validation": 4, "test": 4})
    out = tmp_path / "model"
    train = _cli("train", str(data), "--output-dir", str(out), "--config", "tiny", "--decoder", folder, "--lora-r", "4",
                 "--epochs", "2", "--batch-size", "4", "--evaluations", "0", "--logging-steps", "1")
    assert train.returncode == 0, (train.stdout + train.stderr)[-4000:]
    assert "LoRA r=4 on the LM decoder" in train.stdout
    saved = json.loads((out / "config.json").read_text())
    assert saved["decoder"]["model_type"] == "llama" and saved["decoder_fusion"] == "cross_attention"
    model = AutoModel.from_pretrained(out)
    assert not has_lora(model) and not any("lora" in name for name, _ in model.named_parameters())
    processor = LiveChatProcessor.from_pretrained(out)
    # Comments are lines, and the Trainer's alignment of the config with the tokenizer's BOS / EOS kept them so.
    newline = processor.tokenizer(LM_COMMENT_END)["input_ids"][0]
    assert processor.comment_end == LM_COMMENT_END and model.config.sep_token_id == model.config.decoder_start_token_id == newline
    assert model.config.eos_token_id == model.generation_config.eos_token_id == [newline, processor.tokenizer.eos_token_id]
    assert "new PAD/BOS/EOS tokens" not in train.stderr
    evaluate = _cli("evaluate", str(out), str(data), "--split", "test", "--json", str(tmp_path / "eval.json"))
    assert evaluate.returncode == 0, (evaluate.stdout + evaluate.stderr)[-4000:]
    assert 0 <= json.loads((tmp_path / "eval.json").read_text())["recall@1"] <= 1

    # The merged checkpoint loads as remote code where neither hf_livechat nor peft can be imported.
    inputs = dict(clip_inputs(processor, feature_dim=model.config.video_feature_dim))
    torch.save(inputs, tmp_path / "inputs.pt")
    with torch.no_grad():
        torch.save(model.eval().generate(**inputs, max_new_tokens=4, do_sample=False), tmp_path / "expected.pt")
    code = f"""
import sys, torch
sys.modules["hf_livechat"] = None
sys.modules["peft"] = None
from transformers import AutoModel
model = AutoModel.from_pretrained({str(out)!r}, trust_remote_code=True).eval()
assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
generated = model.generate(**torch.load({str(tmp_path / "inputs.pt")!r}), max_new_tokens=4, do_sample=False)
assert torch.equal(generated, torch.load({str(tmp_path / "expected.pt")!r})), "generation differs"
print("remote code ok")
"""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    remote = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert "remote code ok" in remote.stdout, remote.stderr[-3000:]


def test_int8_serving_keeps_the_lm_decoders_predictions(tmp_path):
    """`live --quantize int8`: the decoder's linear layers become dynamic int8 ones; the next-token distribution
    stays that of the float model, and generation runs."""
    from hf_livechat.pipelines.quantization import quantize_decoder

    folder = save_tiny_lm(tmp_path / "lm", "llama")
    model, processor = livechat_with_lm(folder, chat_encoder_type="token")
    open_gates(model)
    inputs = clip_inputs(processor, targets=["pizza is great", "what a goal"])
    with torch.no_grad():
        reference = model(**inputs).logits.softmax(-1)
        quantize_decoder(model)
        quantized = model(**inputs).logits.softmax(-1)
    assert not any(type(m) is torch.nn.Linear for m in model.get_decoder().modules())
    assert any(type(m) is torch.nn.Linear for m in model.get_encoder().modules())
    assert (reference - quantized).abs().sum(-1).max() < 0.1  # total variation per position
    assert model.generate(**clip_inputs(processor), max_new_tokens=4, num_beams=2).shape[0] == 2
    with pytest.raises(ValueError, match="quantization must be one of"):
        quantize_decoder(model, "int4")


@pytest.mark.parametrize(
    "fusion, attn_implementation, lm_decoder",
    [("cross_attention", "sdpa", True), ("prefix", "sdpa", True), ("cross_attention", "eager", True), (None, None, False)],
)
def test_several_targets_per_clip_give_the_loss_of_the_clip_repeated_once_per_target(tmp_path, fusion, attn_implementation, lm_decoder):
    """K targets of a clip in one step (an LM decoder packs them after the clip's prefix, each reading the prefix and
    itself): the same loss and gradients as the clip repeated K times with one target each."""
    if lm_decoder:
        folder = save_tiny_lm(tmp_path / "lm", "llama")
        model, processor = livechat_with_lm(folder, decoder_fusion=fusion, copy_mechanism=True)
        model.get_decoder().lm.config._attn_implementation = attn_implementation
        if fusion == "cross_attention":
            open_gates(model)
    else:
        folder = save_tiny_lm(tmp_path / "lm", "llama")  # its tokenizer only
        processor = LiveChatProcessor(PreTrainedTokenizerFast.from_pretrained(folder))
        model = LiveChatForCommentGeneration(tiny_config(vocab_size=len(processor.tokenizer), copy_mechanism=True, pad_token_id=processor.pad_token_id)).eval()
    targets = [["pizza is great", "hi", "what a goal now"], ["LUL", "otters are cute", None]]
    flat = [t for row in targets for t in row]
    labels = processor.encode_targets([t or "" for t in flat])
    labels[5] = -100  # the second clip has two comments
    inputs = clip_inputs(processor)
    packed = model(**inputs, labels=labels, targets_per_clip=3)
    assert packed.logits is None, "several targets per clip: only the target tokens meet the vocabulary"
    repeated = {key: value.repeat_interleave(3, dim=0) for key, value in inputs.items()}
    alone = model(**repeated, labels=labels)
    torch.testing.assert_close(packed.loss, alone.loss, atol=1e-5, rtol=1e-5)
    packed.loss.backward()
    packed_grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    alone.loss.backward()
    for name, p in model.named_parameters():
        if p.grad is not None:
            torch.testing.assert_close(packed_grads[name], p.grad, atol=1e-4, rtol=1e-3, msg=name)
    with pytest.raises(ValueError, match="candidates_per_memory|does not match"):
        model(**inputs, labels=labels[:5], targets_per_clip=3)
