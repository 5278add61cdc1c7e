"""Training throughput of the LiveChat recipe as users run it: dataset rows -> random-target collator -> Trainer.

    python bench/bench_train.py [--dataset livechat-quickstart/dataset] [--config reference|small|tiny]
                                [--batch-size 32] [--steps 20] [--bf16] [--peak-tflops 989]
    python bench/bench_train.py --config small --decoder smollm2-135m --batch-size 8 --steps 3   # the LM decoder (LoRA r 16)
    python bench/bench_train.py --smoke     # `tiny`, generated clips of 32-d features, batch 4, 2 steps: it runs

Unlike `bench_model.py` (one fixed batch, the bare model), this counts everything a training step costs in the
recipe: tokenising the context and the randomly drawn target in the collator, the DataLoader, the Trainer's
optimizer step. It reads a dataset built by `hf-livechat build-dataset` (the quickstart's by default) or, without
one, generates clips of the paper's shapes (20 frames, a 100-token transcript, 15 context comments). Samples/s are
timed after `--warmup` steps; on a GPU it also prints the model FLOPs utilisation (FLOPs of one training step
counted with torch.utils.flop_counter, against the device's dense bf16 peak `--peak-tflops`).
"""

import argparse
import os
import tempfile
import time

import numpy as np
import torch
from datasets import Dataset
from torch.utils.flop_counter import FlopCounterMode
from transformers import Seq2SeqTrainingArguments, TrainerCallback

from hf_livechat.data.builders.livechat import clip_features
from hf_livechat.models.livechat import LiveChatConfig, LiveChatForCommentGeneration, LiveChatProcessor
from hf_livechat.tokenization import default_tokenizer
from hf_livechat.training.collators import DataCollatorForCommentGeneration
from hf_livechat.data.clip_dataset import load_clip_dataset
from hf_livechat.training.lora import apply_lora
from hf_livechat.training.train import (
    CONFIG_PRESETS,
    LiveChatRecipeArguments,
    LiveChatTrainer,
    build_config,
    dataset_feature_dim,
    load_tokenizer,
    preset_config_kwargs,
    resolve_decoder,
)


# --smoke: toy sizes in seconds, to check that the script runs (its figures measure nothing).
SMOKE = {"dataset": "", "config": "tiny", "batch_size": 4, "steps": 1, "warmup": 1, "feature_dim": 32}

WORDS = "gg pog lol nice play wow clutch noob rip omg why what save goal ez hype sad love hate no way lets go".split()


def generated_clips(num_clips: int, feature_dim: int, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)

    def sentence(n: int) -> str:
        return " ".join(rng.choice(WORDS, n))

    def comments(start: float, count: int) -> list[dict]:
        return [{"time": start + k, "author": f"u{k}", "text": sentence(int(rng.integers(2, 9))), "emotes": []} for k in range(count)]

    rows = []
    for i in range(num_clips):
        start = 30.0 * i
        rows.append({
            "clip_id": f"clip{i}", "vod_id": f"vod{i // 10}", "streamer": "s", "category": "bench", "clip_index": i,
            "start": start, "context_end": start + 20, "end": start + 30, "input_end": start + 20,
            "has_video": True, "has_transcript": True,
            "frame_times": [start + k for k in range(20)],
            "transcript": sentence(100), "transcript_segments": [],
            "context_comments": comments(start, 15), "response_comments": comments(start + 21, 5),
            "video_features": rng.standard_normal((20, feature_dim)).astype(np.float32),
        })
    return Dataset.from_list(rows, features=clip_features(feature_dim))


class StepTimer(TrainerCallback):
    """Wall time of the steps after the first `warmup` (compilation, allocator and DataLoader start-up excluded)."""

    def __init__(self, warmup: int, device: torch.device):
        self.warmup, self.device, self.start, self.steps = warmup, device, None, 0

    def on_step_end(self, args, state, control, **kwargs):
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        if state.global_step == self.warmup:
            self.start = time.perf_counter()
        elif state.global_step > self.warmup:
            self.steps = state.global_step - self.warmup
            self.elapsed = time.perf_counter() - self.start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="livechat-quickstart/dataset", help="a build-dataset folder (generated clips when missing)")
    parser.add_argument("--config", choices=sorted(CONFIG_PRESETS), default="reference")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20, help="timed steps")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--bf16", action="store_true", help="bf16 mixed precision (default on a GPU)")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak of the GPU (H100 SXM: 989)")
    parser.add_argument("--feature-dim", type=int, default=None, help="frame feature size of generated clips (default: the reference's 2048)")
    parser.add_argument("--decoder", default=None, help="a pretrained causal LM as the decoder (e.g. smollm2-135m), as train --decoder")
    parser.add_argument("--lora-r", type=int, default=16, help="with --decoder: LoRA rank (0: the whole LM trains)")
    parser.add_argument("--targets-per-clip", type=int, default=None,
                        help="target comments per clip and step (default: train's, 1, or 8 with --decoder)")
    parser.add_argument("--smoke", action="store_true", help="toy sizes in seconds, to check that the script runs")
    args = parser.parse_args()
    if args.smoke:  # toy sizes; flags given on the command line still win
        parser.set_defaults(**SMOKE)
        args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    bf16 = args.bf16 or device.type == "cuda"

    if args.dataset and os.path.isdir(args.dataset):
        train_set, source = load_clip_dataset(args.dataset, "train"), args.dataset
    else:
        feature_dim = args.feature_dim or LiveChatConfig().video_feature_dim
        shapes = "paper shapes" if feature_dim == LiveChatConfig().video_feature_dim else f"{feature_dim}-d frame features"
        train_set, source = generated_clips(args.batch_size * 4, feature_dim), f"generated clips ({shapes})"
    feature_dim = dataset_feature_dim(train_set)  # None: a chat-only dataset
    if args.decoder:  # as `hf-livechat train --decoder NAME --lora-r R` builds it
        # Generated clips have no dataset card: an empty folder stands for one.
        no_card = tempfile.TemporaryDirectory()
        card_dir = args.dataset if args.dataset and os.path.isdir(args.dataset) else no_card.name
        recipe = LiveChatRecipeArguments(dataset_dir=card_dir, config=args.config, decoder=args.decoder, lora_r=args.lora_r)
        tokenizer = load_tokenizer(resolve_decoder(args.decoder))
        config = build_config(recipe, tokenizer, feature_dim)
    else:
        tokenizer = default_tokenizer()
        dims = {"video_feature_dim": feature_dim} if feature_dim else {}
        config = LiveChatConfig(**{**preset_config_kwargs(args.config), **dims, "vocab_size": len(tokenizer)})
    processor = LiveChatProcessor.from_config(tokenizer, config)
    torch.manual_seed(0)
    model = LiveChatForCommentGeneration(config)
    if args.decoder:
        model.get_decoder().load_pretrained_lm()
        if args.lora_r:
            apply_lora(model, r=args.lora_r)
    targets_per_clip = args.targets_per_clip or (recipe.resolved_targets_per_clip(config) if args.decoder else 1)
    collator = DataCollatorForCommentGeneration(processor, random_target=True, training=True, seed=0, targets_per_clip=targets_per_clip)
    print(
        f"{args.config} LiveChat{f' + {args.decoder} decoder (LoRA r {args.lora_r})' if args.decoder else ''} "
        f"({model.num_parameters() / 1e6:.1f}M parameters) on {device}, "
        f"{'bf16' if bf16 else 'fp32'}, {torch.get_num_threads()} threads; data: {source} ({len(train_set)} clips)"
    )

    timer = StepTimer(args.warmup, device)
    with tempfile.TemporaryDirectory() as output_dir:
        training_args = Seq2SeqTrainingArguments(
            output_dir=output_dir, max_steps=args.warmup + args.steps, per_device_train_batch_size=args.batch_size,
            learning_rate=1e-4, bf16=bf16, use_cpu=device.type == "cpu", report_to="none", save_strategy="no",
            logging_strategy="no", disable_tqdm=True, remove_unused_columns=False,
            dataloader_num_workers=args.workers, seed=0,
        )
        trainer = LiveChatTrainer(
            model=model, args=training_args, train_dataset=train_set, data_collator=collator, callbacks=[timer]
        )
        trainer.train()
    samples_per_s = timer.steps * args.batch_size / timer.elapsed
    print(f"training: {samples_per_s:.1f} samples/s ({1000 * timer.elapsed / timer.steps:.0f} ms per step of {args.batch_size} "
          f"clips, {targets_per_clip} target comment{'s' if targets_per_clip > 1 else ''} each)")

    batch = {k: v.to(device) if torch.is_tensor(v) else v for k, v in collator([train_set[i] for i in range(args.batch_size)]).items()}
    with FlopCounterMode(display=False) as counter:
        model(**batch).loss.backward()
    flops_per_sample = counter.get_total_flops() / args.batch_size
    achieved = flops_per_sample * samples_per_s
    print(f"model FLOPs: {flops_per_sample / 1e9:.2f} GFLOP per training sample, {achieved / 1e12:.3f} TFLOP/s achieved")
    if device.type == "cuda":
        print(f"MFU: {100 * achieved / (args.peak_tflops * 1e12):.2f}% of {args.peak_tflops:.0f} TFLOP/s")


if __name__ == "__main__":
    main()
