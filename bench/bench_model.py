"""LiveChat model throughput at the reference config: training samples/s and generation ms per comment.

    python bench/bench_model.py [--batch-size 16] [--steps 10] [--device cpu|cuda] [--dtype float32|bfloat16]
    python bench/bench_model.py --smoke      # a model of the `tiny` preset's sizes, batch 2, one step: it runs

Inputs have the paper's shapes: 20 context frames of 2048-d features, a 100-token transcript, 5 context comments of
10 tokens (15 at generation time), 11-token targets. On a GPU it also prints the model FLOPs utilisation (FLOPs counted
with torch.utils.flop_counter over one training step, against the device's dense bf16 peak given by --peak-tflops).
"""

import argparse
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from hf_livechat import LiveChatConfig, LiveChatForCommentGeneration


# --smoke: toy sizes in seconds, to check that the script runs (its figures measure nothing). The model keeps the
# reference config's input layout (per-comment chat) at the `tiny` preset's widths, with 64-d frame features.
SMOKE = {"batch_size": 2, "steps": 1, "warmup": 1, "repeats": 1}
SMOKE_SIZES = dict(d_model=64, encoder_layers=1, decoder_layers=1, encoder_attention_heads=4, decoder_attention_heads=4,
                   encoder_ffn_dim=128, decoder_ffn_dim=128, video_feature_dim=64)


def make_batch(config: LiveChatConfig, batch_size: int, num_comments: int, device) -> dict:
    g = torch.Generator().manual_seed(0)
    batch = {
        "video_features": torch.randn(batch_size, 20, config.video_feature_dim, generator=g),
        "transcript_input_ids": torch.randint(1000, config.vocab_size, (batch_size, config.max_transcript_length), generator=g),
        "chat_input_ids": torch.randint(1000, config.vocab_size, (batch_size, num_comments, config.max_comment_length), generator=g),
    }
    return {k: v.to(device) for k, v in batch.items()}


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default=None, help="bfloat16 (default on GPU) or float32 (default on CPU)")
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak of the GPU (H100 SXM: 989)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed training steps first")
    parser.add_argument("--repeats", type=int, default=3, help="timed generate calls per decoding setting")
    parser.add_argument("--smoke", action="store_true", help="toy sizes in seconds, to check that the script runs")
    args = parser.parse_args()
    if args.smoke:  # toy sizes; flags given on the command line still win
        parser.set_defaults(**SMOKE)
        args = parser.parse_args()
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype or ("bfloat16" if device.type == "cuda" else "float32"))

    torch.manual_seed(0)
    config = LiveChatConfig(**SMOKE_SIZES) if args.smoke else LiveChatConfig()
    model = LiveChatForCommentGeneration(config).to(device)
    print(f"{'smoke-sized' if args.smoke else 'reference'} LiveChat: {model.num_parameters() / 1e6:.1f}M parameters, {device}, {dtype}, attention={model.config._attn_implementation}")

    batch = make_batch(config, args.batch_size, config.max_context_comments, device)
    batch["labels"] = torch.randint(1000, config.vocab_size, (args.batch_size, config.max_comment_length + 1), device=device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.train()

    def step():
        with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(args.warmup):
        step()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    synchronize(device)
    elapsed = time.perf_counter() - start
    samples_per_s = args.steps * args.batch_size / elapsed
    print(f"training: {samples_per_s:.1f} samples/s (batch {args.batch_size}, {elapsed / args.steps * 1000:.1f} ms/step)")

    with FlopCounterMode(display=False) as counter:
        step()
    flops_per_sample = counter.get_total_flops() / args.batch_size
    achieved = flops_per_sample * samples_per_s
    print(f"model FLOPs: {flops_per_sample / 1e9:.2f} GFLOP per training sample, {achieved / 1e12:.3f} TFLOP/s achieved")
    if device.type == "cuda":
        print(f"MFU: {achieved / (args.peak_tflops * 1e12) * 100:.2f}% of {args.peak_tflops:.0f} TFLOP/s")

    model.eval()
    gen_inputs = make_batch(config, args.batch_size, config.max_eval_context_comments, device)
    for num_beams in (1, 4):
        with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            model.generate(**gen_inputs, max_new_tokens=4, num_beams=num_beams)  # warm-up
            synchronize(device)
            start = time.perf_counter()
            repeats = args.repeats
            for _ in range(repeats):
                out = model.generate(
                    **gen_inputs, max_new_tokens=config.max_comment_length + 1, min_new_tokens=config.max_comment_length + 1, num_beams=num_beams
                )
            synchronize(device)
        ms = (time.perf_counter() - start) / (repeats * args.batch_size) * 1000
        print(f"generation ({'greedy' if num_beams == 1 else f'beam {num_beams}'}): {ms:.2f} ms/comment "
              f"(batch {args.batch_size}, {out.shape[1] - 1} tokens each)")


if __name__ == "__main__":
    main()
