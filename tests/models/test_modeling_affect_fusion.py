import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments

from hf_livechat.models.affect_fusion import (
    AffectFusionConfig,
    AffectFusionForSequenceClassification,
    FeatureDimensionError,
)
from hf_livechat.training.affect_collator import AffectFusionCollator


def tiny_config(**overrides) -> AffectFusionConfig:
    kwargs = dict(text_dim=6, acoustic_dim=5, visual_dim=4, lc_dim=3, d_model=16, num_layers=1, num_heads=2, ffn_dim=32,
                  dropout=0.0, classifier_dropout=0.0, num_labels=1)
    kwargs.update(overrides)
    return AffectFusionConfig(**kwargs)


def make_model(seed=0, **overrides) -> AffectFusionForSequenceClassification:
    torch.manual_seed(seed)
    return AffectFusionForSequenceClassification(tiny_config(**overrides)).eval()


def tiny_batch(batch_size=4, seed=0) -> dict:
    g = torch.Generator().manual_seed(seed)
    batch = {
        "text_features": torch.randn(batch_size, 7, 6, generator=g),
        "text_mask": torch.ones(batch_size, 7, dtype=torch.long),
        "acoustic_features": torch.randn(batch_size, 9, 5, generator=g),
        "acoustic_mask": torch.ones(batch_size, 9, dtype=torch.long),
        "visual_features": torch.randn(batch_size, 3, 4, generator=g),
        "visual_mask": torch.ones(batch_size, 3, dtype=torch.long),
        "live_comment_features": torch.randn(batch_size, 3, generator=g),
    }
    batch["acoustic_mask"][1, 4:] = 0
    batch["acoustic_features"][1, 4:] = 0
    return batch


@pytest.mark.parametrize(
    "problem_type, num_labels, labels, expected",
    [
        ("regression", 1, torch.tensor([0.5, -0.2, 0.1, 0.9]), lambda logits, y: torch.nn.functional.mse_loss(logits.squeeze(-1), y)),
        ("single_label_classification", 3, torch.tensor([0, 2, 1, 2]), lambda logits, y: torch.nn.functional.cross_entropy(logits, y)),
        ("multi_label_classification", 2, torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]]),
         lambda logits, y: torch.nn.functional.binary_cross_entropy_with_logits(logits, y)),
    ],
)
def test_losses_follow_problem_type(problem_type, num_labels, labels, expected):
    model = make_model(num_labels=num_labels)
    out = model(**tiny_batch(), labels=labels)
    assert out.logits.shape == (4, num_labels)
    assert model.config.problem_type == problem_type  # inferred from num_labels and the labels' dtype
    torch.testing.assert_close(out.loss, expected(out.logits, labels))


def test_loss_comes_from_transformers_loss_utilities():
    from transformers.loss.loss_utils import ForSequenceClassificationLoss

    model = make_model(num_labels=3)
    assert model.loss_function is ForSequenceClassificationLoss
    labels = torch.tensor([0, 2, 1, 2])
    # A custom loss plugs in as in any transformers model (here: class weights for an imbalanced benchmark).
    weights = torch.tensor([1.0, 4.0, 2.0])
    model.loss_function = lambda labels, pooled_logits, config, **kwargs: torch.nn.functional.cross_entropy(pooled_logits, labels, weight=weights)
    out = model(**tiny_batch(), labels=labels)
    torch.testing.assert_close(out.loss, torch.nn.functional.cross_entropy(out.logits, labels, weight=weights))


def test_float64_regression_labels():
    model = make_model(num_labels=1)
    labels = torch.tensor([0.5, -0.2, 0.1, 0.9], dtype=torch.float64)  # e.g. straight from a numpy float64 column
    out = model(**tiny_batch(), labels=labels)
    torch.testing.assert_close(out.loss, torch.nn.functional.mse_loss(out.logits.squeeze(-1), labels.float()))


def test_output_changes_when_only_live_comment_features_change():
    model = make_model(init_std=0.3)  # a wider init so that an untrained model's outputs are not all near zero
    batch = tiny_batch()
    reference = model(**batch).logits
    changed = model(**{**batch, "live_comment_features": batch["live_comment_features"] + 1.0}).logits
    assert (changed - reference).abs().max() > 1e-3
    # The ablation model ignores them.
    ablation = make_model(use_live_comment_features=False, init_std=0.3)
    torch.testing.assert_close(ablation(**batch).logits, ablation(**{**batch, "live_comment_features": batch["live_comment_features"] + 1.0}).logits)
    assert "live_comment" not in ablation.input_projections


def test_padding_steps_are_ignored():
    model = make_model()
    batch = tiny_batch()
    alone = {k: v[1:2] for k, v in batch.items()}
    alone["acoustic_features"], alone["acoustic_mask"] = alone["acoustic_features"][:, :4], alone["acoustic_mask"][:, :4]
    torch.testing.assert_close(model(**batch).logits[1:2], model(**alone).logits, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("use_live_comment_features", [True, False])
def test_fusion_trains_with_and_without_live_comment_features(use_live_comment_features):
    """A target that depends on the live-comment vector: learnable only when the model sees it."""
    model = make_model(use_live_comment_features=use_live_comment_features, num_layers=2).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for step in range(100):
        batch = tiny_batch(16, seed=step)
        labels = batch["live_comment_features"].sum(-1) + 0.3 * batch["text_features"][:, 0, 0]
        loss = model(**batch, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    first, last = np.mean(losses[:5]), np.mean(losses[-10:])
    if use_live_comment_features:
        assert last < 0.3 * first
    else:
        assert last > 0.5 * first  # the live-comment signal (variance 3) is out of its reach


def test_dimension_mismatch_names_modality_and_sizes(tmp_path):
    model = make_model()
    with pytest.raises(FeatureDimensionError, match=r"acoustic features: the model expects acoustic_dim=5 but the input .* has 25"):
        model(**{**tiny_batch(), "acoustic_features": torch.randn(4, 9, 25)})
    model.save_pretrained(tmp_path)
    reloaded = AutoModelForSequenceClassification.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match=rf"visual features: the checkpoint '{tmp_path}' expects visual_dim=4 but dataset X has 177"):
        reloaded.config.check_feature_dims(source="dataset X", text_dim=6, acoustic_dim=5, visual_dim=177)
    reloaded.config.check_feature_dims(text_dim=6, acoustic_dim=5, visual_dim=4, lc_dim=None)


def test_bad_inputs_raise_clear_errors():
    model = make_model(modalities=["text"])
    with pytest.raises(ValueError, match="no acoustic input"):
        model(**tiny_batch())
    with pytest.raises(ValueError, match="No modality in the inputs"):
        model(labels=torch.zeros(2))
    with pytest.raises(ValueError, match="takes text as text_features"):
        model(input_ids=torch.ones(2, 3, dtype=torch.long))


def test_missing_modalities_and_empty_sequences_give_finite_outputs():
    model = make_model()
    batch = tiny_batch()
    batch["visual_mask"][0] = 0
    assert torch.isfinite(model(**batch).logits).all()
    assert torch.isfinite(model(text_features=batch["text_features"]).logits).all()


def test_token_id_text_encoder():
    text_config = {"model_type": "bert", "vocab_size": 40, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
                   "intermediate_size": 16, "max_position_embeddings": 16}
    model = make_model(text_config=text_config, num_labels=2)
    ids = torch.randint(1, 40, (2, 5))
    out = model(input_ids=ids, attention_mask=torch.ones_like(ids), acoustic_features=torch.randn(2, 3, 5), labels=torch.tensor([0, 1]))
    assert out.logits.shape == (2, 2) and torch.isfinite(out.loss)


def test_collator_pads_and_trainer_trains(tmp_path):
    rng = np.random.default_rng(0)
    rows = [
        {"id": str(i), "text_features": rng.normal(size=(int(rng.integers(1, 6)), 6)).tolist(),
         "acoustic_features": rng.normal(size=(int(rng.integers(0, 4)), 5)).tolist() or [],
         "visual_features": rng.normal(size=(2, 4)).tolist(), "live_comment_features": rng.normal(size=3).tolist(),
         "label": float(i % 3) - 1}
        for i in range(24)
    ]
    collator = AffectFusionCollator()
    batch = collator(rows[:4])
    assert batch["text_mask"].sum(1).tolist() == [len(r["text_features"]) for r in rows[:4]]
    assert batch["acoustic_features"].shape[-1] == 5 and batch["labels"].dtype == torch.float32
    assert batch["live_comment_features"].shape == (4, 3)
    assert "live_comment_features" not in AffectFusionCollator(use_live_comment_features=False)(rows[:4])
    assert "input_ids" not in batch
    token_rows = [{"input_ids": [101, 7, 102][: 2 + i % 2], "attention_mask": [1, 1, 1][: 2 + i % 2], "label": i % 2} for i in range(3)]
    tokens = AffectFusionCollator(text_input="tokens")(token_rows)
    assert tokens["input_ids"].tolist() == [[101, 7, 0], [101, 7, 102], [101, 7, 0]]
    assert tokens["labels"].dtype == torch.long

    model = make_model().train()
    args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=8, max_steps=6, learning_rate=1e-2,
                             report_to=[], use_cpu=True, save_strategy="no", remove_unused_columns=False, logging_steps=2)
    trainer = Trainer(model=model, args=args, train_dataset=rows, data_collator=collator)
    result = trainer.train()
    assert np.isfinite(result.training_loss)


def test_save_reload_and_remote_code(tmp_path):
    model = make_model(num_labels=3, id2label={0: "neg", 1: "neu", 2: "pos"})
    batch = tiny_batch()
    model.save_pretrained(tmp_path)
    reloaded = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    assert isinstance(reloaded, AffectFusionForSequenceClassification) and reloaded.config.id2label[2] == "pos"
    torch.testing.assert_close(reloaded(**batch).logits, model(**batch).logits, rtol=0, atol=0)
    assert json.loads((tmp_path / "config.json").read_text())["auto_map"]["AutoModelForSequenceClassification"] == (
        "modeling_affect_fusion.AffectFusionForSequenceClassification"
    )
    torch.save(batch, tmp_path / "inputs.pt")
    torch.save(model(**batch).logits.detach(), tmp_path / "expected.pt")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = f"""
        import sys; sys.modules['hf_livechat'] = None
        import torch
        from transformers import AutoModelForSequenceClassification
        folder = {str(tmp_path)!r}
        model = AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True).eval()
        assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
        with torch.no_grad():
            assert torch.equal(model(**torch.load(folder + "/inputs.pt")).logits, torch.load(folder + "/expected.pt"))
        print("ok")
    """
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")


def test_peft_lora_sequence_classification(tmp_path):
    from peft import LoraConfig, TaskType, get_peft_model

    model = make_model(num_labels=3)
    lora = get_peft_model(model, LoraConfig(task_type=TaskType.SEQ_CLS, r=4, target_modules=["q_proj", "v_proj"]))
    lora.train()
    out = lora(**tiny_batch(), labels=torch.tensor([0, 1, 2, 0]))
    out.loss.backward()
    trainable = {n for n, p in lora.named_parameters() if p.requires_grad}
    assert any("lora_" in n for n in trainable) and any("classifier" in n for n in trainable)
    assert all("lora_" in n or "classifier" in n for n in trainable)
