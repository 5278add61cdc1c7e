"""LiveChat under the standard training tools: Seq2SeqTrainer (with gradient accumulation) and PEFT LoRA."""

import pytest
import torch
from livechat_testing import tiny_config, tiny_inputs
from peft import LoraConfig, PeftModel, TaskType, get_peft_model
from transformers import Seq2SeqTrainer, Seq2SeqTrainingArguments

from hf_livechat import LiveChatForCommentGeneration


def make_examples(config, n=8, seed=0):
    """Single examples (no batch dim); the target comment is a function of the transcript so the model can learn."""
    inputs = tiny_inputs(config, batch_size=n, seed=seed)
    examples = []
    for i in range(n):
        example = {k: v[i] for k, v in inputs.items()}
        length = 2 + i % 4  # variable target lengths: micro-batches hold different token counts
        target = (inputs["transcript_input_ids"][i, :length] % 50) + 4
        example["labels"] = torch.cat([target, torch.tensor([config.eos_token_id])])
        examples.append(example)
    return examples


def collate(examples):
    batch = {k: torch.stack([e[k] for e in examples]) for k in examples[0] if k != "labels"}
    length = max(len(e["labels"]) for e in examples)
    batch["labels"] = torch.stack([torch.nn.functional.pad(e["labels"], (0, length - len(e["labels"])), value=-100) for e in examples])
    return batch


def train(model, examples, tmp_path, **overrides):
    kwargs = dict(
        output_dir=str(tmp_path),
        per_device_train_batch_size=4,
        max_steps=1,
        learning_rate=0.1,
        optim="sgd",
        lr_scheduler_type="constant",
        logging_steps=1,
        report_to="none",
        save_strategy="no",
        use_cpu=True,
        remove_unused_columns=False,
        dataloader_drop_last=True,
        seed=0,
        disable_tqdm=True,
    )
    kwargs.update(overrides)
    trainer = Seq2SeqTrainer(model=model, args=Seq2SeqTrainingArguments(**kwargs), train_dataset=examples, data_collator=collate)
    trainer.train()
    return trainer


def test_trainer_lowers_the_loss(tmp_path):
    torch.manual_seed(0)
    config = tiny_config()
    model = LiveChatForCommentGeneration(config)
    examples = make_examples(config)
    trainer = train(model, examples, tmp_path, max_steps=40, learning_rate=3e-3, optim="adamw_torch", per_device_train_batch_size=8)
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert losses[-1] < 0.5 * losses[0], losses


def hand_loss(model, examples):
    """Token-mean cross-entropy over all examples together, the value one big batch would give."""
    with torch.no_grad():
        total, count = 0.0, 0
        for example in examples:
            single = {k: v.unsqueeze(0) for k, v in example.items()}
            loss = model(**single).loss
            total += loss.item() * len(example["labels"])
            count += len(example["labels"])
    return total / count


def test_gradient_accumulation_matches_one_big_batch(tmp_path):
    config = tiny_config()
    torch.manual_seed(0)
    reference = LiveChatForCommentGeneration(config)
    examples = make_examples(config, n=4)
    expected_loss = hand_loss(reference.eval(), examples)

    big, accumulated = LiveChatForCommentGeneration(config), LiveChatForCommentGeneration(config)
    big.load_state_dict(reference.state_dict())
    accumulated.load_state_dict(reference.state_dict())
    big_trainer = train(big, examples, tmp_path / "big", per_device_train_batch_size=4)
    acc_trainer = train(accumulated, examples, tmp_path / "acc", per_device_train_batch_size=2, gradient_accumulation_steps=2)

    for trainer in (big_trainer, acc_trainer):
        logged = trainer.state.log_history[0]["loss"]
        assert logged == pytest.approx(expected_loss, rel=1e-4)
    for (name, p_big), p_acc in zip(big.named_parameters(), accumulated.parameters()):
        torch.testing.assert_close(p_acc, p_big, atol=1e-6, rtol=1e-5, msg=name)
    assert not torch.equal(big.lm_head.weight, reference.lm_head.weight)


def test_lora_adapter_trains_saves_reloads_and_merges(tmp_path):
    torch.manual_seed(0)
    config = tiny_config()
    base = LiveChatForCommentGeneration(config)
    base.save_pretrained(tmp_path / "base")
    lora = LoraConfig(task_type=TaskType.SEQ_2_SEQ_LM, r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], lora_dropout=0.0)
    model = get_peft_model(LiveChatForCommentGeneration.from_pretrained(tmp_path / "base"), lora)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert 0 < trainable < 0.2 * sum(p.numel() for p in model.parameters())

    examples = make_examples(config)
    trainer = train(model, examples, tmp_path / "run", max_steps=30, learning_rate=1e-2, optim="adamw_torch", per_device_train_batch_size=8)
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert losses[-1] < losses[0]

    model.save_pretrained(tmp_path / "adapter")
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()
    batch = collate(examples[:3])
    model.eval()
    with torch.no_grad():
        expected = model(**batch).logits
    reloaded = PeftModel.from_pretrained(LiveChatForCommentGeneration.from_pretrained(tmp_path / "base"), tmp_path / "adapter").eval()
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**batch).logits, expected, atol=1e-5, rtol=1e-5)
        merged = reloaded.merge_and_unload()
        assert isinstance(merged, LiveChatForCommentGeneration)
        torch.testing.assert_close(merged(**batch).logits, expected, atol=1e-4, rtol=1e-4)
        generated = reloaded.generate(**{k: v for k, v in batch.items() if k != "labels"}, max_new_tokens=4)
    assert generated.shape[0] == 3
