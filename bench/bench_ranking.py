"""Batched candidate scoring against one forward pass per candidate: speed ratio and identical ranks.

    python bench/bench_ranking.py [--queries 2] [--candidates 100] [--config reference|small] [--device cpu]
    python bench/bench_ranking.py --smoke   # `small`, 1 clip x 4 candidates: seconds, to show it runs

Both paths score the same clips and candidate sets with the same randomly initialised model:
`rank_candidates` (encoders once per clip, every candidate of a batch of clips in one decoder pass) and
`score_candidates_one_by_one` (a full forward per candidate, the way a naive evaluation loop does it). Inputs have
the paper's shapes: 20 frames of `video_feature_dim` features, a transcript filling `max_transcript_length`,
15 context comments, candidates of up to `max_comment_length` tokens. It also prints the share of the vocabulary
projection, which both paths compute for every target token: the FLOPs ratio exact batching can reach is bounded by
it (about 14x for the reference model's 30,522-word vocabulary).
"""

import argparse
import time

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from hf_livechat import LiveChatConfig, LiveChatForCommentGeneration, LiveChatProcessor
from hf_livechat.evaluation import CandidateSet
from hf_livechat.evaluation.scoring import rank_candidates, score_candidates_one_by_one
from hf_livechat.tokenization import default_tokenizer


# --smoke: toy sizes in seconds, to check that the script runs (its figures measure nothing).
SMOKE = {"queries": 1, "candidates": 4, "batch_size": 1, "config": "small"}

WORDS = (
    "gg pog lol nice play wow clutch noob rip omg why what save goal ez hype sad love hate that was close "
    "no way he did it again chat is this real bro missed everything let's go what a comeback"
).split()


def make_config(name: str) -> LiveChatConfig:
    if name == "reference":
        return LiveChatConfig()
    # Half the width and depth of the reference model: the same shapes of input, a quicker run.
    return LiveChatConfig(d_model=128, encoder_layers=2, decoder_layers=2, encoder_ffn_dim=256, decoder_ffn_dim=256)


def make_data(config: LiveChatConfig, num_queries: int, num_candidates: int, seed: int = 0):
    rng = np.random.default_rng(seed)

    def sentence(low: int, high: int) -> str:
        return " ".join(rng.choice(WORDS, int(rng.integers(low, high))))

    rows = [
        {
            "video_features": rng.standard_normal((20, config.video_feature_dim)).astype(np.float32),
            "transcript": sentence(config.max_transcript_length, config.max_transcript_length + 1),
            "context_comments": [{"text": sentence(2, 9)} for _ in range(config.max_eval_context_comments)],
        }
        for _ in range(num_queries)
    ]
    sets = [
        CandidateSet(q, list(dict.fromkeys(sentence(1, 9) + f" {k}" for k in range(num_candidates))), [0], "bench")
        for q in range(num_queries)
    ]
    return rows, sets


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=2)
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=4, help="clips per batched forward")
    parser.add_argument("--config", choices=("reference", "small"), default="reference")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (CPU)")
    parser.add_argument("--smoke", action="store_true", help="toy sizes in seconds, to check that the script runs")
    args = parser.parse_args()
    if args.smoke:  # toy sizes; flags given on the command line still win
        parser.set_defaults(**SMOKE)
        args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    config = make_config(args.config)
    processor = LiveChatProcessor.from_config(default_tokenizer(), config)
    model = LiveChatForCommentGeneration(config).to(args.device).eval()
    rows, sets = make_data(config, args.queries, args.candidates)
    print(
        f"{args.config} LiveChat ({model.num_parameters() / 1e6:.1f}M parameters) on {args.device}, "
        f"{torch.get_num_threads()} threads: {args.queries} clips x {args.candidates} candidates"
    )

    rank_candidates(model, processor, rows, sets[:1], show_progress=False)  # warm-up
    start = time.perf_counter()
    batched = rank_candidates(model, processor, rows, sets, batch_size=args.batch_size, show_progress=False)
    batched_seconds = time.perf_counter() - start

    start = time.perf_counter()
    reference = score_candidates_one_by_one(model, processor, rows, sets, show_progress=True)
    one_by_one_seconds = time.perf_counter() - start

    # FLOPs per candidate do not depend on the machine's load: the speed-up the arithmetic alone allows.
    probe = [sets[0]]
    flops = {}
    for name, fn in (("batched", rank_candidates), ("one by one", score_candidates_one_by_one)):
        with FlopCounterMode(display=False) as counter:
            fn(model, processor, rows, probe, show_progress=False)
        flops[name] = counter.get_total_flops() / args.candidates
    target_tokens = processor.encode_candidates([probe[0].candidates])["candidate_attention_mask"].sum() / args.candidates
    head_flops = 2 * config.d_model * config.vocab_size * float(target_tokens)  # the LM head, per candidate

    same_ranks = np.array_equal(
        np.argsort(-batched, axis=1, kind="stable"), np.argsort(-reference, axis=1, kind="stable")
    )
    pairs = args.queries * args.candidates
    print(f"batched:     {batched_seconds:8.2f} s  ({1e3 * batched_seconds / pairs:7.2f} ms per candidate)")
    print(f"one by one:  {one_by_one_seconds:8.2f} s  ({1e3 * one_by_one_seconds / pairs:7.2f} ms per candidate)")
    print(f"speed-up:    {one_by_one_seconds / batched_seconds:8.1f}x")
    print(
        f"FLOPs per candidate: batched {flops['batched'] / 1e9:.3f} G, one by one {flops['one by one'] / 1e9:.3f} G "
        f"({flops['one by one'] / flops['batched']:.1f}x fewer)"
    )
    # Both paths project every target token onto the whole vocabulary: exact batching cannot go below that share.
    print(
        f"vocabulary projection: {head_flops / 1e9:.3f} G per candidate in both paths "
        f"({100 * head_flops / flops['batched']:.0f}% of the batched FLOPs): with everything else free, "
        f"batching could save at most {flops['one by one'] / head_flops:.1f}x the FLOPs"
    )
    print(f"max |score difference|: {np.abs(batched - reference).max():.2e}; identical ranks: {same_ranks}")


if __name__ == "__main__":
    main()
