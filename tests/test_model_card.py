import re

import pytest
import torch
from huggingface_hub import ModelCard
from media_fixtures import write_test_video

from hf_livechat import LiveChatConfig, LiveChatForCommentGeneration, LiveChatProcessor
from hf_livechat.model_card import write_model_card
from hf_livechat.tokenization import default_tokenizer

METRICS = {
    "full": {"recall@1": 0.4123456, "mrr": 0.61, "mean_rank": 2.5, "protocol": "livechat"},
    "no video": {"recall@1": 0.305, "mrr": 0.52, "mean_rank": 3.1},
}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A small random LiveChat model over the offline EfficientNet-Lite0 features, saved as a training run would."""
    folder = tmp_path_factory.mktemp("livechat-tiny")
    processor = LiveChatProcessor(default_tokenizer(), max_transcript_length=16, max_eval_context_comments=4)
    config = LiveChatConfig(
        **processor.config_kwargs(),
        d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
        encoder_ffn_dim=32, decoder_ffn_dim=32, video_feature_dim=1280, feature_model="efficientnet-lite0",
        frame_size=64,
    )  # fmt: skip
    torch.manual_seed(0)
    LiveChatForCommentGeneration(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def test_card_metadata_and_figures(model_dir):
    path = write_model_card(
        model_dir,
        dataset="hf-livechat/livechat-clips",
        metrics=METRICS,
        training={"epochs": 3, "learning_rate": 3e-4},
        model_id="hf-livechat/livechat-tiny",
    )
    assert path == model_dir / "README.md"
    card = ModelCard.load(path)
    data = card.data.to_dict()
    assert data["library_name"] == "transformers" and data["pipeline_tag"] == "text-generation"
    assert data["datasets"] == ["hf-livechat/livechat-clips"]
    assert data["metrics"] == ["recall@1", "mrr", "mean_rank"]
    assert "danmaku" in data["tags"]
    # The Hub's evaluation results: the first row (the model as evaluated), not the ablations.
    results = {result.metric_type: result.metric_value for result in card.data.eval_results}
    assert results == {"recall@1": 0.4123456, "mrr": 0.61, "mean_rank": 2.5}
    # The figures table: one row per setting, 4 significant digits, a blank where a setting lacks a metric.
    assert "| | recall@1 | mrr | mean_rank |" in card.text
    assert "| full | 0.4123 | 0.61 | 2.5 |" in card.text
    assert "| no video | 0.305 | 0.52 | 3.1 |" in card.text
    # Sections, the architecture read from config.json, and the hyperparameters.
    for heading in ("## Intended use", "## Training data", "## Evaluation", "## Limitations", "## How to use"):
        assert heading in card.text
    assert "| frame feature model | efficientnet-lite0 |" in card.text and "| hidden size | 16 |" in card.text
    assert "| learning_rate | 0.0003 |" in card.text
    assert 'pipeline("video-comment-generation", model="hf-livechat/livechat-tiny")' in card.text


def test_local_dataset_and_flat_metrics(model_dir, tmp_path):
    dataset = tmp_path / "dataset"
    dataset.mkdir()
    card = ModelCard.load(write_model_card(model_dir, dataset=dataset, metrics={"recall@1": 0.25, "split": "test"}))
    # A local folder means nothing on the Hub: named in the text, kept out of the metadata.
    assert "datasets" not in card.data.to_dict() and card.data.eval_results is None
    assert str(dataset) in card.text
    assert "| test | 0.25 |" in card.text


def test_card_without_results(model_dir):
    card = ModelCard.load(write_model_card(model_dir))
    assert "No evaluation results recorded." in card.text and "metrics" not in card.data.to_dict()


def test_missing_template_is_a_clear_error(model_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match="model card template not found"):
        write_model_card(model_dir, template_path=tmp_path / "nope.md")


def test_the_cards_example_code_runs(model_dir, tmp_path, monkeypatch):
    card = ModelCard.load(write_model_card(model_dir, model_id=str(model_dir)))
    code = re.search(r"```python\n(.*?)```", card.text, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    write_test_video("stream.mp4", seconds=21, fps=2, width=64, height=64)  # the file the example names
    namespace = {}
    exec(compile(code, "model card example", "exec"), namespace)
    assert [comment["time"] for comment in namespace["comments"]] == [20.0]
