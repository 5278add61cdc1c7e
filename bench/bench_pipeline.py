"""video-comment-generation pipeline throughput: per-window latency (p50/p95) and windows/s at batch 1 and 16.

    python bench/bench_pipeline.py [--config reference|small] [--device cpu|cuda] [--windows 64]
    python bench/bench_pipeline.py --smoke  # `tiny`, 2 windows, 2 latency probes: seconds, to show it runs

The frame features are precomputed (the feature model's cost is measured by bench/bench_build.py), so the figures
are those of the LiveChat model and the pipeline around it: windowing, processing, beam-free greedy generation.
Target on an H100 at the reference config: <= 30 ms per window.
"""

import argparse
import tempfile
import time

import numpy as np
import torch
from transformers import pipeline

import hf_livechat  # noqa: F401  (registers the pipeline)
from hf_livechat import LiveChatConfig, LiveChatForCommentGeneration, LiveChatProcessor
from hf_livechat.tokenization import default_tokenizer
from hf_livechat.training.train import CONFIG_PRESETS, preset_config_kwargs


# --smoke: toy sizes in seconds, to check that the script runs (its figures measure nothing).
SMOKE = {"config": "tiny", "windows": 2, "latency_windows": 2}

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="reference", choices=list(CONFIG_PRESETS))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--windows", type=int, default=64)
    parser.add_argument("--latency-windows", type=int, default=8, help="single windows timed for the latency percentiles")
    parser.add_argument("--smoke", action="store_true", help="toy sizes in seconds, to check that the script runs")
    args = parser.parse_args()
    if args.smoke:  # toy sizes; flags given on the command line still win
        parser.set_defaults(**SMOKE)
        args = parser.parse_args()

    tokenizer = default_tokenizer()
    config = LiveChatConfig(**{**LiveChatProcessor(tokenizer).config_kwargs(), **preset_config_kwargs(args.config)})
    processor = LiveChatProcessor.from_config(tokenizer, config)  # the preset's chat encoding (token-level for small)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as folder:
        LiveChatForCommentGeneration(config).save_pretrained(folder)
        processor.save_pretrained(folder)
        dtype = torch.bfloat16 if args.device.startswith("cuda") else torch.float32
        commenter = pipeline("video-comment-generation", model=folder, device=args.device, dtype=dtype)
    rng = np.random.default_rng(0)
    seconds = 20 + args.windows - 1
    inputs = {
        "video_features": rng.standard_normal((seconds, config.video_feature_dim), dtype=np.float32),
        "chat": [(float(t), f"chat message number {t} PogChamp") for t in range(0, seconds, 1)],
        "transcript": [{"start": float(t), "end": t + 2.0, "text": f"the streamer says sentence {t}"} for t in range(0, seconds, 2)],
    }
    gen = {"max_new_tokens": config.max_comment_length + 1, "min_new_tokens": config.max_comment_length + 1}
    print(f"LiveChat '{args.config}' ({commenter.model.num_parameters() / 1e6:.1f}M parameters) on {args.device}, {args.windows} windows")
    for batch_size in (1, 16):
        commenter(inputs, stride=1, batch_size=batch_size, **gen)  # warm-up
        start = time.perf_counter()
        commenter(inputs, stride=1, batch_size=batch_size, **gen)
        elapsed = time.perf_counter() - start
        # Per-window latency: one window alone, repeated.
        latencies = []
        for i in range(args.latency_windows):
            single = {**inputs, "video_features": inputs["video_features"][i : i + 20]}
            t0 = time.perf_counter()
            commenter(single, stride=1, batch_size=batch_size, **gen)
            latencies.append(time.perf_counter() - t0)
        p50, p95 = np.percentile(latencies, [50, 95]) * 1000
        print(f"batch {batch_size:>2}: {args.windows / elapsed:7.1f} windows/s ({elapsed / args.windows * 1000:6.1f} ms/window amortised); "
              f"single-window latency p50 {p50:.1f} ms, p95 {p95:.1f} ms")


if __name__ == "__main__":
    main()
