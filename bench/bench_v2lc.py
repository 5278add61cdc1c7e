"""Throughput of V2LC as users run it: training segments/s through the recipe, and live-comment extraction clips/s.

    python bench/bench_v2lc.py [--dataset SEGMENTS_DIR] [--config small] [--text-model minilm] [--batch-size 64]
                               [--steps N] [--clips 2000] [--bf16]
    python bench/bench_v2lc.py --smoke       # `tiny` towers, 32-d features, batch 4, 16 clips: seconds, to show it runs

Training: segment rows -> `V2LCCollator` (tokenising up to `--max-comments` comments per segment) -> `V2LCTrainer`
(contrastive loss, optimizer step), timed after `--warmup` steps. It reads a `build-lcaffect` folder, or without one
generates segments of the default shapes (8 frames of 2048-d ResNet50 features, 8 comments of chat words).
Extraction: `extract_lc_features` over `--clips` frame-feature clips of MELD-like lengths (1-24 s at 1 fps, mean about
4 s; the rule gives each one vector, averaging the windows of long ones), written to a feature store; frame decoding
and the image backbone are not included (they are the builders' cost, see bench_build.py). On a GPU both run in
bf16 (mixed precision for training, bf16 weights for extraction).
"""

import argparse
import tempfile
import time

import numpy as np
import torch
from datasets import Array2D, Dataset, Features, Value
from transformers import TrainerCallback, TrainingArguments

from hf_livechat.data.builders.v2lc_segments import segment_features
from hf_livechat.pipelines.lc_features import extract_lc_features
from hf_livechat.training.v2lc import V2LC_PRESETS, V2LCCollator, V2LCRecipeArguments, V2LCTrainer, build_model, load_segment_splits


# --smoke: toy sizes in seconds, to check that the script runs (its figures measure nothing).
SMOKE = {"dataset": None, "config": "tiny", "text_model": "tiny", "feature_dim": 32, "batch_size": 4, "max_comments": 4,
         "steps": 1, "warmup": 1, "clips": 16, "extract_batch_size": 8}

WORDS = "gg pog lol nice play wow clutch noob rip omg why what save goal ez hype sad love hate no way lets go".split()


def generated_segments(num_segments: int, feature_dim: int, comments: int = 8, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(num_segments):
        rows.append({
            "segment_id": f"vod{i // 50}-{i}", "vod_id": f"vod{i // 50}", "streamer": "s", "category": "bench",
            "start": 8.0 * i, "end": 8.0 * i + 8, "frame_times": [8.0 * i + k for k in range(8)], "num_comments": comments,
            "comments": [{"time": 8.0 * i + k, "author": f"u{k}", "text": " ".join(rng.choice(WORDS, int(rng.integers(2, 9)))), "emotes": []}
                         for k in range(comments)],
            "video_features": rng.standard_normal((8, feature_dim)).astype(np.float32),
        })  # fmt: skip
    return Dataset.from_list(rows, features=segment_features(feature_dim)).with_format("numpy", columns=["video_features"], output_all_columns=True)


class StepTimer(TrainerCallback):
    def __init__(self, warmup: int, device: torch.device):
        self.warmup, self.device, self.start, self.steps, self.elapsed = warmup, device, None, 0, 0.0

    def on_step_end(self, args, state, control, **kwargs):
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        if state.global_step == self.warmup:
            self.start = time.perf_counter()
        elif state.global_step > self.warmup:
            self.steps, self.elapsed = state.global_step - self.warmup, time.perf_counter() - self.start


def bench_training(args, device, bf16) -> None:
    if args.dataset:
        train_set = load_segment_splits(V2LCRecipeArguments(dataset_dir=args.dataset))["train"]
        source = args.dataset
    else:
        train_set, source = generated_segments(args.batch_size * 4, args.feature_dim), "generated segments"
    feature_dim = train_set.features["video_features"].shape[-1]
    recipe = V2LCRecipeArguments(dataset_dir=args.dataset or "-", config=args.config, text_model=args.text_model, max_comments_per_segment=args.max_comments)
    torch.manual_seed(0)
    model, processor = build_model(recipe, feature_dim)
    print(
        f"V2LC {args.config} video tower + {args.text_model} text tower ({model.num_parameters() / 1e6:.1f}M parameters) on {device}, "
        f"{'bf16' if bf16 else 'fp32'}, {torch.get_num_threads()} threads; data: {source} ({len(train_set)} segments, "
        f"{args.max_comments} comments each)"
    )
    timer = StepTimer(args.warmup, device)
    with tempfile.TemporaryDirectory() as output_dir:
        training_args = TrainingArguments(
            output_dir=output_dir, max_steps=args.warmup + args.steps, per_device_train_batch_size=args.batch_size,
            learning_rate=1e-4, bf16=bf16, use_cpu=device.type == "cpu", report_to="none", save_strategy="no",
            logging_strategy="no", disable_tqdm=True, remove_unused_columns=False, dataloader_pin_memory=device.type == "cuda", seed=0,
        )  # fmt: skip
        collator = V2LCCollator(processor, args.max_comments, training=True)
        V2LCTrainer(model=model, args=training_args, train_dataset=train_set, data_collator=collator, callbacks=[timer]).train()
    rate = timer.steps * args.batch_size / timer.elapsed
    print(f"training: {rate:.1f} segments/s ({1000 * timer.elapsed / timer.steps:.0f} ms per step of {args.batch_size} segments)")
    return model


def bench_extraction(args, model, device, bf16) -> None:
    rng = np.random.default_rng(1)
    # MELD-like utterance lengths: mostly 1-6 s, a tail up to 24 s.
    lengths = np.clip(np.round(rng.gamma(2.0, 2.0, args.clips)), 1, 24).astype(int)
    dim = model.config.video_feature_dim
    clips = Dataset.from_dict(
        {"id": [f"clip{i}" for i in range(args.clips)], "video_features": [rng.standard_normal((n, dim)).astype(np.float32) for n in lengths]},
        features=Features({"id": Value("string"), "video_features": Array2D(shape=(None, dim), dtype="float32")}),
    )
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        summary = extract_lc_features(
            model, clips, out, batch_size=args.extract_batch_size, device=device, dtype=torch.bfloat16 if bf16 else None, progress=False
        )
        elapsed = time.perf_counter() - started
    windows = int(np.ceil(np.maximum(lengths, 8) / 8).sum())
    print(
        f"extraction: {summary.clips / elapsed:.1f} clips/s ({summary.clips} clips of mean {lengths.mean():.1f} s -> {windows} windows, "
        f"store written, in {elapsed:.1f} s)"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default=None, help="a build-lcaffect folder (generated segments when omitted)")
    parser.add_argument("--config", choices=sorted(V2LC_PRESETS), default="small")
    parser.add_argument("--text-model", default="minilm", help="minilm (real weights) | tiny | small | an id/folder")
    parser.add_argument("--feature-dim", type=int, default=2048, help="frame feature size of generated segments")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-comments", type=int, default=8)
    parser.add_argument("--steps", type=int, default=None, help="timed training steps (default 10 on a GPU, 3 on CPU)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--clips", type=int, default=2000, help="clips to extract")
    parser.add_argument("--extract-batch-size", type=int, default=256)
    parser.add_argument("--bf16", action="store_true", help="bf16 (default on a GPU)")
    parser.add_argument("--smoke", action="store_true", help="toy sizes in seconds, to check that the script runs")
    args = parser.parse_args()
    if args.smoke:  # toy sizes; flags given on the command line still win
        parser.set_defaults(**SMOKE)
        args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    bf16 = args.bf16 or device.type == "cuda"
    if args.steps is None:
        args.steps = 10 if device.type == "cuda" else 3
    model = bench_training(args, device, bf16)
    bench_extraction(args, model, device, bf16)


if __name__ == "__main__":
    main()
