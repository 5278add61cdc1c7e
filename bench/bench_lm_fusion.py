"""Cost of the two ways an LM decoder reads the clip (`decoder_fusion`): gated cross-attention against a prefix.

    python bench/bench_lm_fusion.py [--batch-size 8] [--candidates 10] [--layers 30]
    python bench/bench_lm_fusion.py --smoke    # 2 LM layers, 2 clips, 3 candidates: a quick check that it runs

The LM has SmolLM2-135M's shape (llama, width 576, 9 heads, 3 KV heads, MLP 1536, 49152 tokens) with random
weights: cost does not depend on the weights. The encoders are the `small` preset's; a clip has 20 frames, 100
transcript tokens and 15 context comments of 6 tokens (the paper's shapes), a comment 10 tokens and its EOS. Prints,
per fusion, the parameters LiveChat adds to the LM and the seconds of one training step (forward and backward), of
scoring `--candidates` candidates per clip, and of a 4-beam generation of 10 tokens.
"""

import argparse
import time

import torch
from transformers import LlamaConfig

from hf_livechat import LiveChatConfig, LiveChatForCommentGeneration


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=8, help="clips per step")
    parser.add_argument("--candidates", type=int, default=10, help="candidates scored per clip")
    parser.add_argument("--layers", type=int, default=30, help="LM layers (SmolLM2-135M has 30)")
    parser.add_argument("--smoke", action="store_true", help="2 LM layers, 2 clips, 3 candidates: checks the script, not the cost")
    args = parser.parse_args()
    if args.smoke:
        args.layers, args.batch_size, args.candidates = 2, 2, 3
    vocab, batch, num_candidates = 49152, args.batch_size, args.candidates
    lm = LlamaConfig(
        vocab_size=vocab, hidden_size=576, intermediate_size=1536, num_hidden_layers=args.layers, num_attention_heads=9,
        num_key_value_heads=3, max_position_embeddings=2048, tie_word_embeddings=True, bos_token_id=1, eos_token_id=2,
        pad_token_id=2,
    )
    torch.manual_seed(0)
    chat = torch.randint(3, vocab, (batch, 105))
    chat[:, 6::7] = 2  # 15 comments of 6 tokens, each closed by EOS
    inputs = dict(
        video_features=torch.randn(batch, 20, 512),
        transcript_input_ids=torch.randint(3, vocab, (batch, 100)),
        chat_input_ids=chat,
        chat_attention_mask=torch.ones_like(chat),
    )
    labels = torch.randint(3, vocab, (batch, 11))
    labels[:, -1] = 2
    candidates = torch.randint(3, vocab, (batch, num_candidates, 11))
    candidates[..., -1] = 2
    for fusion in ("cross_attention", "prefix"):
        config = LiveChatConfig.from_preset(
            "small", vocab_size=vocab, decoder=lm.to_dict(), decoder_fusion=fusion, video_feature_dim=512, pad_token_id=2,
            bos_token_id=1, decoder_start_token_id=1, eos_token_id=2, sep_token_id=2, mask_token_id=None,
        )
        model = LiveChatForCommentGeneration(config)
        added = sum(p.numel() for name, p in model.named_parameters() if ".decoder.lm." not in name)
        model.train()
        start = time.perf_counter()
        for _ in range(2):
            model(**inputs, labels=labels).loss.backward()
        train_s = (time.perf_counter() - start) / 2
        model.eval()
        start = time.perf_counter()
        model.score_candidates(candidates, torch.ones_like(candidates), **inputs)
        score_s = time.perf_counter() - start
        start = time.perf_counter()
        model.generate(**inputs, max_new_tokens=10, min_new_tokens=10, num_beams=4)
        generate_s = time.perf_counter() - start
        print(
            f"{fusion}: LiveChat adds {added / 1e6:.1f}M parameters; training step (batch {batch}) {train_s:.2f} s; "
            f"scoring {batch}x{num_candidates} candidates {score_s:.2f} s; 4-beam generation of 10 tokens {generate_s:.2f} s",
            flush=True,
        )


if __name__ == "__main__":
    main()
